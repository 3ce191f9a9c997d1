"""Test helpers: synthesised audio in every format, typed manifest blocks, and the song
sources' shared test track."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from mood.constants import MOODS
from mood.engine.manifest import CrossValidation, parse
from mood.sources import Track

# ---------------------------------------------------------------- manifests


def typed_cv(block: dict[str, Any]) -> CrossValidation:
    """A manifest's ``cv`` block (JSON-shaped) as the manifest parser reads it."""
    return parse(CrossValidation, block, "test", "cv")


def cv_block(confusion: list[list[int]], **fields: Any) -> dict[str, Any]:
    """A complete ``cv`` block around ``confusion`` (placeholder scores), with ``fields`` on top."""
    return {
        "folds": [0, 1, 2, 3, 4],
        "accuracy": 0.5,
        "macro_f1": 0.5,
        "per_class": {m: {"precision": 0.5, "recall": 0.5, "f1": 0.5} for m in MOODS},
        "confusion": confusion,
        **fields,
    }


# ---------------------------------------------------------------- song sources

# The first track of tests/fixtures/spotify_search.json, as the sources module should parse it.
SPOTIFY_GET_LUCKY = Track(
    title="Get Lucky (feat. Pharrell Williams & Nile Rodgers) - Radio Edit",
    artists=("Daft Punk", "Pharrell Williams", "Nile Rodgers"),
    album="Get Lucky (feat. Pharrell Williams & Nile Rodgers)",
    artwork_url="https://i.scdn.co/image/ab67616d00001e021d5cf960a92bb8b03fc2be7f",
    isrc="USQX91300108",
    duration_s=248.413,
    link="https://open.spotify.com/track/69kOkLUCkxIZYexIgSG8rq",
    provider="spotify",
    id="69kOkLUCkxIZYexIgSG8rq",
)


# ---------------------------------------------------------------- synthesised audio

SR = 44_100  # files are written at a rate other than the engine's, so resampling is exercised


def tone(freq_hz: float = 440.0, seconds: float = 3.0, sr: int = SR, amplitude: float = 0.3) -> np.ndarray:
    """A sine tone, float32 mono."""
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def chord_progression(seconds: float = 8.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Major triads with a little noise and a beat: music-like enough to exercise the models."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    roots = [261.63, 392.0, 440.0, 349.23]
    out = np.zeros_like(t)
    for i, root in enumerate(roots):
        segment = (t >= i * seconds / 4) & (t < (i + 1) * seconds / 4)
        for ratio in (1.0, 1.26, 1.5):
            out[segment] += np.sin(2 * np.pi * root * ratio * t[segment])
    beat = (np.sin(2 * np.pi * 2.0 * t) > 0.95).astype(float) * rng.normal(0, 1, t.size)
    return (0.15 * out + 0.1 * beat + 0.01 * rng.normal(0, 1, t.size)).astype(np.float32)


def write_with_ffmpeg(wav: np.ndarray, sr: int, path: Path, *codec_args: str) -> Path:
    """Encode float mono samples to ``path`` with the ffmpeg that imageio-ffmpeg ships."""
    import imageio_ffmpeg

    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "f32le", "-ar", str(sr), "-ac", "1",
        "-i", "pipe:0", *codec_args, str(path),
    ]  # fmt: skip
    subprocess.run(command, input=wav.astype("<f4").tobytes(), check=True, timeout=60)
    return path


def write_audio(wav: np.ndarray, path: Path, sr: int = SR) -> Path:
    """Write ``wav`` in the format its suffix names (soundfile where it can, else ffmpeg)."""
    suffix = path.suffix.lower()
    if suffix in (".wav", ".flac"):
        sf.write(path, wav, sr)
    elif suffix == ".ogg":
        sf.write(path, wav, sr, format="OGG", subtype="VORBIS")
    elif suffix in (".opus", ".webm"):
        write_with_ffmpeg(wav, sr, path, "-c:a", "libopus")
    elif suffix == ".mp3":
        sf.write(path, wav, sr, format="MP3")
    elif suffix in (".m4a", ".aac"):
        write_with_ffmpeg(wav, sr, path, "-c:a", "aac", "-b:a", "96k")
    else:
        raise ValueError(suffix)
    return path


ENGINE_SR = 22_050  # mood.constants.SAMPLE_RATE: clips made at the engine's own rate


def click_track(bpm: float, seconds: float = 12.0, seed: int = 0) -> np.ndarray:
    """Short noise clicks on every beat, the first of each bar of four accented."""
    rng = np.random.default_rng(seed)
    wav = np.zeros(round(seconds * ENGINE_SR))
    length = round(0.03 * ENGINE_SR)
    decay = np.exp(-np.arange(length) / (0.005 * ENGINE_SR))
    for beat, start_s in enumerate(np.arange(0.0, seconds - 0.05, 60.0 / bpm)):
        start = round(start_s * ENGINE_SR)
        wav[start : start + length] += (0.5 if beat % 4 == 0 else 0.2) * rng.normal(0, 1, length) * decay
    return wav.astype(np.float32)
