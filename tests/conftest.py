"""Shared test fixtures: a network guard and synthesised audio."""

from __future__ import annotations

import ipaddress
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mood.sources import Track


def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like never leave the machine
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any test that opens a connection beyond this machine (HTTP is faked with `responses`)."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> None:
        if not _is_loopback(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", _guard_getaddrinfo(socket.getaddrinfo))
    yield


def _guard_getaddrinfo(real):  # type: ignore[no-untyped-def]
    def guarded(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host not in (None, "localhost") and not _is_loopback((host,)):
            raise AssertionError(f"test tried to resolve a network host: {host!r}")
        return real(host, *args, **kwargs)

    return guarded


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


@pytest.fixture(scope="session")
def song_wav_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An 8 s synthesised song as WAV bytes (what an upload looks like)."""
    path = write_audio(chord_progression(), tmp_path_factory.mktemp("audio") / "song.wav")
    return path.read_bytes()


# ---------------------------------------------------------------- random-weight models


@pytest.fixture(scope="session")
def random_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights folder with random-weight resnet18 and cldnn and an ensemble manifest,
    written by the same registry code that ships the trained ones."""
    import torch

    from mood.features import DEFAULT_CONFIG
    from mood.models import build_model
    from mood.weights import save_model, write_manifest

    folder = tmp_path_factory.mktemp("weights")
    for seed, name in enumerate(("resnet18", "cldnn")):
        torch.manual_seed(seed)
        network = build_model(name, DEFAULT_CONFIG.n_mels, 4).eval()
        save_model(network, name, name, DEFAULT_CONFIG, folder, trained_on="random init (tests)")
    write_manifest({"name": "ensemble", "members": ["resnet18", "cldnn"]}, "ensemble", folder)
    return folder
