"""Decode any common audio file, from a path or from bytes, to mono float32 samples.

`soundfile` (libsndfile) is tried first: it reads wav, flac, ogg/vorbis/opus and mp3 in
process. Whatever it cannot read (m4a/aac, webm, a WAV whose size headers say 0, ...) goes to
an ffmpeg binary (the one `imageio-ffmpeg` ships, else one on PATH) run with a wall-clock limit.
libsndfile's MP3 decoder prints its notes straight to the process's stderr; they are logged
at debug level instead, so they never land in the middle of a progress bar.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

from mood.constants import DECODE_TIMEOUT_S, MAX_DURATION_S, SAMPLE_RATE, TRUNCATION_PROBE_S
from mood.errors import AudioError

RESAMPLE_QUALITY = "soxr_hq"  # librosa.resample's default
SEQUENTIAL_MEAN_CHANNELS = 7  # numpy's mean along an axis this short adds its values in order (pairwise from 8)

AudioSource = str | Path | bytes

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".mp3", ".ogg", ".opus", ".oga", ".flac", ".m4a", ".aac", ".mp4", ".webm", ".aif", ".aiff")

_NOT_AUDIO = "This file could not be read as audio. Try a wav, mp3, ogg, flac, m4a or webm file."
_MPG123_NOTE = re.compile(rb"^(Note|Warning|Error): |^\[src/libmpg123/", re.MULTILINE)
_NATIVE_STDERR = threading.Lock()  # one decode at a time may borrow file descriptor 2


@dataclass(frozen=True)
class DecodedAudio:
    """A decoded source.

    Attributes:
        samples: mono float32 samples, shape ``(n_samples,)``.
        truncated: the source is longer than the ``max_duration_s`` that was read.
    """

    samples: npt.NDArray[np.float32]
    truncated: bool


def load_audio(
    source: AudioSource, sr: int = SAMPLE_RATE, max_duration_s: float = MAX_DURATION_S
) -> npt.NDArray[np.float32]:
    """Decode audio to mono float32 at ``sr`` Hz: :func:`decode_audio`'s samples."""
    return decode_audio(source, sr, max_duration_s).samples


def decode_audio(source: AudioSource, sr: int = SAMPLE_RATE, max_duration_s: float = MAX_DURATION_S) -> DecodedAudio:
    """Decode audio to mono float32 at ``sr`` Hz, and say whether it was cut.

    Channels are averaged; only the first ``max_duration_s`` seconds are read.

    Args:
        source: a file path, or the file's bytes (an upload or a download).
        sr: the sample rate to return, in Hz.
        max_duration_s: how much of the start of the file to read, in seconds.

    Returns:
        The samples (in [-1, 1] for PCM input) and whether the source went on past the limit.

    Raises:
        AudioError: the source is missing, not a regular file, empty, not audio, or holds
            NaN/inf samples.
    """
    if isinstance(source, (str, Path)):
        _check_is_a_file(Path(source))
    elif not source:
        raise AudioError("This file is empty.")

    try:
        with _native_notes_logged():
            wav, native_sr, truncated = _decode_with_soundfile(source, max_duration_s)
        wav = resample(wav, native_sr, sr)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, EOFError) as soundfile_error:
        try:
            wav, truncated = _decode_with_ffmpeg(source, sr, max_duration_s)
        except AudioError as ffmpeg_error:
            log.info("undecodable audio: soundfile: %s; ffmpeg: %s", soundfile_error, ffmpeg_error)
            raise AudioError(_NOT_AUDIO) from ffmpeg_error

    if wav.size == 0:
        raise AudioError("This file holds no audio samples.")
    if not np.all(np.isfinite(wav)):
        raise AudioError("This file holds invalid samples (NaN or infinity); re-export it and try again.")
    return DecodedAudio(wav, truncated)


def _check_is_a_file(path: Path) -> None:
    """Refuse what cannot be an audio file before opening it (opening a pipe would block)."""
    if not path.exists():
        raise AudioError(f"No file at {path}.")
    if path.is_dir():
        raise AudioError(f"{path} is a folder, not an audio file.")
    if not path.is_file():
        raise AudioError(f"{path} is not a regular file (a pipe, socket or device); give an audio file instead.")
    if path.stat().st_size == 0:
        raise AudioError("This file is empty.")


@contextmanager
def _native_notes_logged() -> Iterator[None]:
    """Point file descriptor 2 at a temporary file while libsndfile decodes, then log its MP3
    decoder's notes at debug level and pass anything else written meanwhile on to stderr."""
    with _NATIVE_STDERR, tempfile.TemporaryFile() as said:
        sys.stderr.flush()
        real_stderr = os.dup(2)
        os.dup2(said.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(real_stderr, 2)
            os.close(real_stderr)
            said.seek(0)
            _pass_on(said.read())


def _pass_on(written: bytes) -> None:
    """Log the MP3 decoder's lines of ``written``; write the other lines back to stderr."""
    others = []
    for line in written.splitlines(keepends=True):
        if _MPG123_NOTE.match(line):
            log.debug("libsndfile: %s", line.decode(errors="replace").rstrip())
        else:
            others.append(line)
    if others:
        os.write(2, b"".join(others))


def _decode_with_soundfile(source: AudioSource, max_duration_s: float) -> tuple[npt.NDArray[np.float32], int, bool]:
    """Read at most ``max_duration_s`` seconds with libsndfile; channels averaged.

    Raises:
        ValueError: the header gives no frame count (a WAV cut off while recording): ffmpeg
            reads such files to their end.
    """
    handle = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    with sf.SoundFile(handle) as f:
        if f.frames <= 0:
            raise ValueError("the header gives no frame count")
        n_read = min(f.frames, int(max_duration_s * f.samplerate))
        frames = f.read(frames=n_read, dtype="float32", always_2d=True)
        return downmix(frames), int(f.samplerate), f.frames > n_read


def downmix(frames: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The mean of the channels of ``frames`` ``(n_frames, n_channels)``: bit for bit
    ``frames.mean(axis=1)``, a channel at a time (numpy's mean across a frames-first array's short
    rows took 15 ms of a 30 s stereo clip, this 0.5 ms). Up to ``SEQUENTIAL_MEAN_CHANNELS`` numpy adds
    the channels in order, as this does; beyond, it sums pairwise, so its mean is taken."""
    n_channels = frames.shape[1]
    if n_channels > SEQUENTIAL_MEAN_CHANNELS:
        mean: npt.NDArray[np.float32] = frames.mean(axis=1, dtype=np.float32)
        return mean
    mono = frames[:, 0].copy()
    for channel in range(1, n_channels):
        mono += frames[:, channel]
    if n_channels > 1:
        mono /= np.float32(n_channels)
    return mono


def resample(wav: npt.NDArray[np.float32], native_sr: int, sr: int) -> npt.NDArray[np.float32]:
    """``wav`` (mono) from ``native_sr`` to ``sr``: exactly ``librosa.resample``'s default (soxr's
    high quality, the length fixed to ``ceil(n * sr / native_sr)``), without importing
    ``librosa.core.audio`` (scipy.signal and numba: 2 s of the first answer's cold start)."""
    if native_sr == sr or wav.size == 0:
        return wav
    n_samples = int(np.ceil(wav.size * float(sr) / native_sr))
    resampled = soxr.resample(wav, native_sr, sr, quality=RESAMPLE_QUALITY)
    fixed = np.zeros(n_samples, dtype=np.float32)
    fixed[: min(n_samples, resampled.size)] = resampled[:n_samples]
    return fixed


@cache
def ffmpeg_executable() -> str:
    """Path of the ffmpeg binary: imageio-ffmpeg's own, else one on PATH.

    Raises:
        AudioError: neither is available.
    """
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as e:
        on_path = shutil.which("ffmpeg")
        if on_path:
            return on_path
        raise AudioError("This format needs ffmpeg, which is not installed; use a wav, flac, ogg or mp3 file.") from e


def _decode_with_ffmpeg(source: AudioSource, sr: int, max_duration_s: float) -> tuple[npt.NDArray[np.float32], bool]:
    """Decode with ffmpeg to mono float32 at ``sr``, and whether the source went on past the
    limit; bytes go through a temporary file because some containers (m4a with its index at
    the end) cannot be read from a pipe."""
    if isinstance(source, bytes):
        with tempfile.NamedTemporaryFile(suffix=".audio") as tmp:
            tmp.write(source)
            tmp.flush()
            return _run_ffmpeg(tmp.name, sr, max_duration_s)
    return _run_ffmpeg(str(source), sr, max_duration_s)


def _run_ffmpeg(path: str, sr: int, max_duration_s: float) -> tuple[npt.NDArray[np.float32], bool]:
    """ffmpeg reads a little past the limit, so that a source longer than it shows as cut."""
    command = [
        ffmpeg_executable(), "-nostdin", "-hide_banner", "-loglevel", "error",
        "-t", str(max_duration_s + TRUNCATION_PROBE_S), "-i", path, "-vn", "-map", "0:a:0",
        "-ac", "1", "-ar", str(sr), "-f", "f32le", "pipe:1",
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, timeout=DECODE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as e:
        raise AudioError(f"decoding took longer than {DECODE_TIMEOUT_S:.0f} s") from e
    if done.returncode != 0:
        last_line = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["unknown error"]
        raise AudioError(last_line[0][:200])
    wav = np.frombuffer(done.stdout, dtype="<f4").astype(np.float32)
    n_kept = int(max_duration_s * sr)
    return wav[:n_kept], wav.size > n_kept
