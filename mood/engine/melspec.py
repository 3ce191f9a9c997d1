"""librosa's mel spectrogram, step for step, in numpy alone: the networks' front end without numba.

Importing librosa compiles numba kernels in every new process (about 2 s here before the first
spectrogram), which is most of a cold start when a network is all a song needs. These functions
do what ``librosa.feature.melspectrogram`` (centred frames, zero padding, a periodic Hann window,
Slaney's mel scale and filter normalisation, or ``norm=None``), ``librosa.power_to_db`` (``ref``
1 or ``np.max``), ``librosa.mel_frequencies`` and ``librosa.frames_to_time`` do with their defaults,
in the same order of float operations; ``tests/test_melspec.py`` checks them against librosa itself.
"""

from __future__ import annotations

from functools import cache
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from mood.engine.dsp import hann

FloatArray = npt.NDArray[np.float32]
Real = TypeVar("Real", np.float32, np.float64)

# Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
_LINEAR_HZ_PER_MEL = 200.0 / 3
_LOG_START_HZ = 1000.0
_LOG_START_MEL = _LOG_START_HZ / _LINEAR_HZ_PER_MEL
_LOG_STEP = np.log(6.4) / 27.0
_POWER_FLOOR = 1e-10  # power_to_db's amin
_FFT_BLOCK = 32  # frames transformed at once


def hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Frequencies in Hz on Slaney's mel scale."""
    mels = hz / _LINEAR_HZ_PER_MEL
    high = hz >= _LOG_START_HZ
    mels[high] = _LOG_START_MEL + np.log(hz[high] / _LOG_START_HZ) / _LOG_STEP
    return mels


def mel_to_hz(mels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Slaney mels back to Hz."""
    hz = _LINEAR_HZ_PER_MEL * mels
    high = mels >= _LOG_START_MEL
    hz[high] = _LOG_START_HZ * np.exp(_LOG_STEP * (mels[high] - _LOG_START_MEL))
    return hz


def mel_frequencies(n_mels: int, fmin: float, fmax: float) -> npt.NDArray[np.float64]:
    """``n_mels`` centre frequencies (Hz) evenly spaced in mels from ``fmin`` to ``fmax``."""
    edges = hz_to_mel(np.array([fmin, fmax], dtype=np.float64))
    return mel_to_hz(np.linspace(edges[0], edges[1], n_mels))


@cache
def mel_filters(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float, *, slaney_norm: bool = True
) -> FloatArray:
    """Triangular mel filters ``(n_mels, 1 + n_fft // 2)``, Slaney-normalised (constant energy per band)
    or, without ``slaney_norm``, peaking at 1 (librosa's ``norm=None``: band powers add up to the spectrum's).
    Made once per set of arguments and read-only (about 1 ms a clip saved)."""
    fft_hz = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    band_hz = mel_frequencies(n_mels + 2, fmin, fmax)
    widths = np.diff(band_hz)
    ramps = np.subtract.outer(band_hz, fft_hz)
    weights = np.zeros((n_mels, fft_hz.size), dtype=np.float32)
    for i in range(n_mels):
        rising, falling = -ramps[i] / widths[i], ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0, np.minimum(rising, falling))
    if slaney_norm:
        weights *= (2.0 / (band_hz[2 : n_mels + 2] - band_hz[:n_mels]))[:, np.newaxis]
    weights.setflags(write=False)
    return weights


def spectrogram(wav: FloatArray, n_fft: int, hop_length: int) -> npt.NDArray[np.complex64]:
    """STFT of centred, zero-padded frames under a periodic Hann window: ``(n_frames, 1 + n_fft // 2)``
    (frames first: the transpose of librosa's layout)."""
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(wav, n_fft // 2), n_fft)[::hop_length]
    window = hann(n_fft)
    spectrum = np.empty((frames.shape[0], 1 + n_fft // 2), dtype=np.complex64)
    for start in range(0, frames.shape[0], _FFT_BLOCK):  # in blocks, as librosa does: they stay in cache
        spectrum[start : start + _FFT_BLOCK] = np.fft.rfft(frames[start : start + _FFT_BLOCK] * window, axis=-1)
    return spectrum


def power_spectrogram(wav: FloatArray, n_fft: int, hop_length: int) -> FloatArray:
    """|STFT|² (:func:`spectrogram`): ``(n_frames, 1 + n_fft // 2)``."""
    power: FloatArray = np.abs(spectrogram(wav, n_fft, hop_length)) ** 2
    return power


def mel_power_of(
    power: FloatArray,
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    fmin: float,
    fmax: float,
    *,
    slaney_norm: bool = True,
) -> FloatArray:
    """Mel power ``(n_mels, n_frames)`` of a power spectrogram ``(n_frames, 1 + n_fft // 2)``
    (``slaney_norm``: see :func:`mel_filters`)."""
    filters = mel_filters(sample_rate, n_fft, n_mels, fmin, fmax, slaney_norm=slaney_norm)
    mel: FloatArray = np.einsum("tf,mf->mt", power, filters, optimize=True)
    return mel


def mel_power(
    wav: FloatArray, sample_rate: int, n_fft: int, hop_length: int, n_mels: int, fmin: float, fmax: float
) -> FloatArray:
    """Mel power spectrogram ``(n_mels, n_frames)`` of mono float32 samples at ``sample_rate``."""
    return mel_power_of(power_spectrogram(wav, n_fft, hop_length), sample_rate, n_fft, n_mels, fmin, fmax)


def power_to_db(power: npt.NDArray[Real], top_db: float | None, reference: float | None = None) -> npt.NDArray[Real]:
    """Power in dB re ``reference`` (1 if None; ``power.max()`` is librosa's ``ref=np.max``), floored at
    1e-10 and, with ``top_db``, at ``top_db`` below the loudest bin (in ``power``'s own float type, as
    librosa computes it: the reference too, as ``np.max`` of ``power`` gives it)."""
    db = (10.0 * np.log10(np.maximum(_POWER_FLOOR, power))).astype(power.dtype, copy=False)  # no copy: same type
    if reference is not None:
        db -= 10.0 * np.log10(np.maximum(_POWER_FLOOR, power.dtype.type(reference)))
    if top_db is not None:
        np.maximum(db, db.max() - top_db, out=db)
    return db


def frames_to_time(n_frames: int, sample_rate: int, hop_length: int) -> npt.NDArray[np.float64]:
    """Seconds at which each of ``n_frames`` centred frames starts (``frames * hop / sr``)."""
    return np.arange(n_frames) * hop_length / float(sample_rate)
