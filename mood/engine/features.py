"""Decoded audio -> each model's front end (a log-mel spectrogram) -> fixed-length windows.

A :class:`FrontEnd` carries every value a model's input depends on; a model's manifest
holds the one it was trained with, so inference computes exactly the features the model
learnt from, and the training cache is keyed by all of it. A song is decoded once, at
``SAMPLE_RATE``; each distinct front end resamples from that one signal.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mood.constants import (
    HOP_LENGTH,
    MIN_DURATION_S,
    MUSICNN_HOP_LENGTH,
    MUSICNN_LOG_C,
    MUSICNN_N_FFT,
    MUSICNN_N_MELS,
    MUSICNN_PATCH_FRAMES,
    MUSICNN_SAMPLE_RATE,
    N_FFT,
    N_MELS,
    SAMPLE_RATE,
    SILENCE_RMS_DBFS,
    TARGET_RMS_DBFS,
    TOP_DB,
    WINDOW_HOP_S,
    WINDOW_S,
    n_frames,
)
from mood.engine import melspec
from mood.engine.audio import AudioSource, DecodedAudio, decode_audio, resample
from mood.errors import AudioError

FloatArray = npt.NDArray[np.float32]
Scaling = Literal["db", "log1p"]
SCALINGS: tuple[Scaling, ...] = ("db", "log1p")


@dataclass(frozen=True)
class FrontEnd:
    """How one model hears a song: every value its input depends on (recorded in its manifest).

    Attributes:
        sample_rate: Hz the spectrogram is computed at (resampled from ``SAMPLE_RATE``).
        n_fft: STFT length in samples.
        hop_length: samples between STFT frames.
        n_mels: mel bands.
        fmin: lowest mel frequency in Hz.
        fmax: highest mel frequency in Hz.
        scaling: ``"db"`` (power in dB, floored ``top_db`` below the loudest bin) or
            ``"log1p"`` (``log10(1 + log_c * power)``).
        top_db: the dB floor, for ``"db"``; None otherwise.
        log_c: the compression constant, for ``"log1p"``; None otherwise.
        float16_power: round the mel power to float16 before scaling, as musicnn's own code does.
        loudness_dbfs: the RMS level every clip is normalised to first; None keeps its level.
        window_frames: spectrogram frames a model sees at once.
        hop_frames: frames between the starts of consecutive windows.
        max_windows: for a long song, judge only this many windows, spread evenly from its
            first to its last (None: every window). A costly network stays fast on a whole
            song while a 30 s preview is judged on every window.
    """

    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    fmin: float
    fmax: float
    scaling: Scaling
    top_db: float | None
    log_c: float | None
    float16_power: bool
    loudness_dbfs: float | None
    window_frames: int
    hop_frames: int
    max_windows: int | None

    def __post_init__(self) -> None:
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}, not {self.scaling!r}")
        if (self.scaling == "db") != (self.top_db is not None) or (self.scaling == "log1p") != (self.log_c is not None):
            raise ValueError("top_db goes with scaling 'db' and log_c with 'log1p', each alone")
        if self.sample_rate > SAMPLE_RATE:
            raise ValueError(f"sample_rate above the decoding rate ({SAMPLE_RATE} Hz)")
        sizes = (self.n_fft, self.hop_length, self.n_mels, self.window_frames, self.hop_frames, self.max_windows or 1)
        if min(sizes) <= 0:
            raise ValueError("sizes must be positive")

    @property
    def frame_s(self) -> float:
        """Seconds between two spectrogram frames."""
        return self.hop_length / self.sample_rate

    @property
    def window_s(self) -> float:
        """Seconds one window spans."""
        return self.window_frames * self.frame_s

    @property
    def window_hop_s(self) -> float:
        """Seconds between the starts of two windows."""
        return self.hop_frames * self.frame_s

    def to_dict(self) -> dict[str, Any]:
        """The manifest's ``features`` block."""
        return asdict(self)

    def cache_key(self) -> str:
        """A short name for these exact settings: a cache never mixes two front ends."""
        return hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


SCRATCH_FRONT_END = FrontEnd(
    sample_rate=SAMPLE_RATE,
    n_fft=N_FFT,
    hop_length=HOP_LENGTH,
    n_mels=N_MELS,
    fmin=0.0,
    fmax=SAMPLE_RATE / 2,
    scaling="db",
    top_db=TOP_DB,
    log_c=None,
    float16_power=False,
    loudness_dbfs=TARGET_RMS_DBFS,
    window_frames=n_frames(WINDOW_S),
    hop_frames=round(WINDOW_HOP_S * SAMPLE_RATE / HOP_LENGTH),
    max_windows=None,
)
"""The front end of the project's own networks (ResNet18, CLDNN): docs/DESIGN.md's values."""
assert SCRATCH_FRONT_END.window_frames == 216, "docs/DESIGN.md: a 5 s window is 216 frames"

MUSICNN_FRONT_END = FrontEnd(
    sample_rate=MUSICNN_SAMPLE_RATE,
    n_fft=MUSICNN_N_FFT,
    hop_length=MUSICNN_HOP_LENGTH,
    n_mels=MUSICNN_N_MELS,
    fmin=0.0,
    fmax=MUSICNN_SAMPLE_RATE / 2,
    scaling="log1p",
    top_db=None,
    log_c=MUSICNN_LOG_C,
    float16_power=True,
    loudness_dbfs=None,
    window_frames=MUSICNN_PATCH_FRAMES,
    hop_frames=MUSICNN_PATCH_FRAMES,
    max_windows=None,
)
"""musicnn's own front end, exactly as the `musicnn` package computes it (no loudness
normalisation, non-overlapping 3 s patches)."""


@dataclass(frozen=True)
class Spectrogram:
    """A log-mel spectrogram with the axes a plot needs."""

    mel: FloatArray  # shape (n_mels, n_frames), in the front end's scaling
    times_s: FloatArray  # shape (n_frames,), centre of each frame in seconds
    freqs_hz: FloatArray  # shape (n_mels,), centre frequency of each mel band in Hz


def decode(source: AudioSource | FloatArray | DecodedAudio) -> DecodedAudio:
    """Decode ``source`` at ``SAMPLE_RATE``; an array is taken to be at that rate already (and whole)."""
    if isinstance(source, DecodedAudio):
        return source
    if isinstance(source, np.ndarray):
        return DecodedAudio(np.asarray(source, dtype=np.float32), truncated=False)
    return decode_audio(source, sr=SAMPLE_RATE)


def to_samples(source: AudioSource | FloatArray | DecodedAudio) -> FloatArray:
    """:func:`decode`'s samples."""
    return decode(source).samples


def check_analysable(wav: FloatArray, sample_rate: int = SAMPLE_RATE) -> None:
    """Raise a clear error for audio no model should judge.

    Raises:
        AudioError: the clip is shorter than MIN_DURATION_S, or silent.
    """
    duration_s = wav.size / sample_rate
    if duration_s < MIN_DURATION_S:
        raise AudioError(
            f"This clip is only {duration_s:.2f} s long; at least {MIN_DURATION_S:.0f} s of music is needed."
        )
    if rms_dbfs(wav) < SILENCE_RMS_DBFS:
        raise AudioError("This clip is silent (or nearly so): there is no music to judge.")


def rms_dbfs(wav: FloatArray) -> float:
    """Root-mean-square level of ``wav`` in dB relative to full scale."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64))))
    return 20.0 * math.log10(max(rms, 1e-12))


def normalise_loudness(wav: FloatArray, target_dbfs: float) -> FloatArray:
    """Scale ``wav`` so its RMS level is ``target_dbfs``: models must not learn how loud a file is."""
    gain = np.float32(10.0 ** ((target_dbfs - rms_dbfs(wav)) / 20.0))
    scaled: FloatArray = wav * gain
    return scaled


def log_mel(source: AudioSource | FloatArray, front_end: FrontEnd) -> FloatArray:
    """A clip's spectrogram as ``front_end`` computes it.

    Args:
        source: a path, file bytes, or mono float32 samples at ``SAMPLE_RATE``.
        front_end: the model's front end.

    Returns:
        float32 array, shape ``(front_end.n_mels, n_frames)``.

    Raises:
        AudioError: undecodable, too short or silent audio.
    """
    wav = to_samples(source)
    check_analysable(wav)
    if front_end.sample_rate != SAMPLE_RATE:
        wav = resample(wav, SAMPLE_RATE, front_end.sample_rate)
    if front_end.loudness_dbfs is not None:
        wav = normalise_loudness(wav, front_end.loudness_dbfs)
    return scale_power(mel_power(wav, front_end), front_end)


def mel_power(wav: FloatArray, front_end: FrontEnd) -> FloatArray:
    """Mel power spectrogram of samples already at ``front_end.sample_rate``, shape ``(n_mels, n_frames)``."""
    return melspec.mel_power(
        wav,
        front_end.sample_rate,
        front_end.n_fft,
        front_end.hop_length,
        front_end.n_mels,
        front_end.fmin,
        front_end.fmax,
    )


def scale_power(power: FloatArray, front_end: FrontEnd) -> FloatArray:
    """Mel power in the front end's scaling, float32."""
    if front_end.float16_power:
        power = power.astype(np.float16).astype(np.float32)
    if front_end.scaling == "db":
        scaled = melspec.power_to_db(power, front_end.top_db)
    else:
        scaled = np.log10(1.0 + float(front_end.log_c or 0.0) * power)
    return np.asarray(scaled, dtype=np.float32)


def log_mel_per_front_end(
    source: AudioSource | FloatArray, front_ends: Iterable[FrontEnd]
) -> dict[FrontEnd, FloatArray]:
    """Decode once and compute each distinct front end once (what an ensemble needs)."""
    wav = to_samples(source)
    return {front_end: log_mel(wav, front_end) for front_end in dict.fromkeys(front_ends)}


def spectrogram(mel: FloatArray, front_end: FrontEnd) -> Spectrogram:
    """A computed spectrogram with its time and frequency axes, for drawing."""
    times = melspec.frames_to_time(mel.shape[1], front_end.sample_rate, front_end.hop_length)
    freqs = melspec.mel_frequencies(front_end.n_mels, front_end.fmin, front_end.fmax)
    return Spectrogram(mel=mel, times_s=times.astype(np.float32), freqs_hz=freqs.astype(np.float32))


def window_starts(n_frames_total: int, window_frames: int, hop_frames: int) -> list[int]:
    """First frame of each analysis window: every ``hop_frames``, plus one ending at the last
    frame so the tail of the clip is always analysed. A clip shorter than one window has one."""
    last_start = max(n_frames_total - window_frames, 0)
    starts = list(range(0, last_start + 1, hop_frames))
    if starts[-1] != last_start:
        starts.append(last_start)
    return starts


def make_windows(mel: FloatArray, front_end: FrontEnd) -> tuple[FloatArray, list[int]]:
    """Cut a spectrogram into the front end's fixed-length windows.

    A clip shorter than one window is looped to fill it (the model never sees padding).

    Returns:
        ``(windows, starts)``: float32 array of shape ``(n_windows, n_mels, window_frames)``
        and the first frame of each window.
    """
    width = front_end.window_frames
    if mel.shape[1] < width:
        mel = np.pad(mel, ((0, 0), (0, width - mel.shape[1])), mode="wrap")
    starts = window_starts(mel.shape[1], width, front_end.hop_frames)
    if front_end.max_windows is not None and len(starts) > front_end.max_windows:
        kept = np.linspace(0, len(starts) - 1, front_end.max_windows).round().astype(int)
        starts = [starts[i] for i in kept]
    windows = np.stack([mel[:, s : s + width] for s in starts]).astype(np.float32, copy=False)
    return windows, starts
