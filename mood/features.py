"""Decoded audio -> loudness-normalised log-mel spectrogram -> fixed-length model windows.

One :class:`FeatureConfig` carries every value; a model's manifest holds the one it was
trained with, so inference always computes exactly the features the model learnt from.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import librosa
import numpy as np
import numpy.typing as npt

from mood.audio import AudioSource, load_audio
from mood.constants import (
    HOP_LENGTH,
    MIN_DURATION_S,
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
from mood.errors import AudioError

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class FeatureConfig:
    """The audio and spectrogram settings a model was trained with (recorded in its manifest)."""

    sample_rate: int = SAMPLE_RATE  # Hz
    n_fft: int = N_FFT  # samples
    hop_length: int = HOP_LENGTH  # samples
    n_mels: int = N_MELS
    window_s: float = WINDOW_S  # seconds a model sees at once

    @property
    def window_frames(self) -> int:
        """Spectrogram frames in one model window."""
        return n_frames(self.window_s, self.sample_rate, self.hop_length)

    def seconds_to_frames(self, seconds: float) -> int:
        """The number of hops that span ``seconds``."""
        return round(seconds * self.sample_rate / self.hop_length)

    def to_dict(self) -> dict[str, Any]:
        """The manifest fields of this config."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FeatureConfig:
        """Read the config's fields out of a manifest (other keys are ignored)."""
        return cls(**{f.name: values[f.name] for f in fields(cls)})


DEFAULT_CONFIG = FeatureConfig()


@dataclass(frozen=True)
class Spectrogram:
    """A log-mel spectrogram with the axes a plot needs."""

    mel_db: FloatArray  # shape (n_mels, n_frames), dB
    times_s: FloatArray  # shape (n_frames,), centre of each frame in seconds
    freqs_hz: FloatArray  # shape (n_mels,), centre frequency of each mel band in Hz


def to_samples(source: AudioSource | FloatArray, config: FeatureConfig = DEFAULT_CONFIG) -> FloatArray:
    """Decode ``source`` at the config's rate; an array is taken to be at that rate already."""
    if isinstance(source, np.ndarray):
        return np.asarray(source, dtype=np.float32)
    return load_audio(source, sr=config.sample_rate)


def check_analysable(wav: FloatArray, sample_rate: int) -> None:
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


def normalise_loudness(wav: FloatArray, target_dbfs: float = TARGET_RMS_DBFS) -> FloatArray:
    """Scale ``wav`` so its RMS level is ``target_dbfs``: models must not learn how loud a file is."""
    gain = np.float32(10.0 ** ((target_dbfs - rms_dbfs(wav)) / 20.0))
    scaled: FloatArray = wav * gain
    return scaled


def log_mel(source: AudioSource | FloatArray, config: FeatureConfig = DEFAULT_CONFIG) -> FloatArray:
    """Log-mel spectrogram of a clip after loudness normalisation.

    Args:
        source: a path, file bytes, or mono float32 samples at ``config.sample_rate``.
        config: the feature settings.

    Returns:
        float32 array, shape ``(n_mels, n_frames)``, power in dB.

    Raises:
        AudioError: undecodable, too short or silent audio.
    """
    wav = to_samples(source, config)
    check_analysable(wav, config.sample_rate)
    power = librosa.feature.melspectrogram(
        y=normalise_loudness(wav),
        sr=config.sample_rate,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        n_mels=config.n_mels,
    )
    mel_db: FloatArray = librosa.power_to_db(power, ref=1.0, top_db=TOP_DB).astype(np.float32)
    return mel_db


def spectrogram(source: AudioSource | FloatArray, config: FeatureConfig = DEFAULT_CONFIG) -> Spectrogram:
    """:func:`log_mel` with its time and frequency axes, for drawing."""
    mel_db = log_mel(source, config)
    times = librosa.frames_to_time(np.arange(mel_db.shape[1]), sr=config.sample_rate, hop_length=config.hop_length)
    freqs = librosa.mel_frequencies(n_mels=config.n_mels, fmax=config.sample_rate / 2)
    return Spectrogram(mel_db=mel_db, times_s=times.astype(np.float32), freqs_hz=freqs.astype(np.float32))


def window_starts(n_frames_total: int, window_frames: int, hop_frames: int) -> list[int]:
    """First frame of each analysis window: every ``hop_frames``, plus one ending at the last
    frame so the tail of the clip is always analysed. A clip shorter than one window has one."""
    last_start = max(n_frames_total - window_frames, 0)
    starts = list(range(0, last_start + 1, hop_frames))
    if starts[-1] != last_start:
        starts.append(last_start)
    return starts


def make_windows(
    mel_db: FloatArray, config: FeatureConfig = DEFAULT_CONFIG, hop_s: float = WINDOW_HOP_S
) -> tuple[FloatArray, list[int]]:
    """Cut a spectrogram into overlapping fixed-length windows.

    A clip shorter than one window is looped to fill it (the model never sees padding).

    Returns:
        ``(windows, starts)``: float32 array of shape ``(n_windows, n_mels, window_frames)``
        and the first frame of each window.
    """
    width = config.window_frames
    if mel_db.shape[1] < width:
        mel_db = np.pad(mel_db, ((0, 0), (0, width - mel_db.shape[1])), mode="wrap")
    starts = window_starts(mel_db.shape[1], width, config.seconds_to_frames(hop_s))
    windows = np.stack([mel_db[:, s : s + width] for s in starts])
    return windows, starts
