"""librosa's frame statistics of a spectrogram, step for step, in numpy alone: no numba, no scipy.

What the hybrid member's dynamics and timbre features read (:mod:`mood.engine.musical`): the
frame level (``librosa.feature.rms`` of a magnitude spectrogram), MFCCs (``librosa.feature.mfcc``
of a dB mel spectrogram: an orthonormal DCT-II), and ``librosa.feature``'s spectral contrast,
flatness, roll-off and centroid, each with librosa's defaults. Every function takes and returns
librosa's layout, ``(bins, n_frames)``; ``tests/test_spectral.py`` checks them against librosa.
Why not librosa itself: importing it costs about 2 s of numba and scipy in every new process
(:mod:`mood.engine.melspec` says more).
"""

from __future__ import annotations

import itertools
from typing import Final

import numpy as np
import numpy.typing as npt

from mood.engine.dsp import normalize
from mood.engine.melspec import power_to_db

FloatArray = npt.NDArray[np.float32]

CONTRAST_FMIN_HZ: Final = 200.0  # lower edge of spectral contrast's first octave band
CONTRAST_QUANTILE: Final = 0.02  # share of a band's bins averaged as its peak and as its valley
CONTRAST_TOP_DB: Final = 80.0  # power_to_db's default floor, below the loudest band
FLATNESS_FLOOR: Final = 1e-10  # power floor of the flatness's geometric mean


def fft_frequencies(sample_rate: float, n_fft: int) -> npt.NDArray[np.float64]:
    """Centre frequency (Hz) of each of the ``1 + n_fft // 2`` STFT bins."""
    return np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate).astype(np.float64, copy=False)


def frame_rms(magnitude: FloatArray) -> FloatArray:
    """Each frame's RMS level from its magnitude spectrum ``(1 + n_fft // 2, n_frames)``
    (Parseval, as ``librosa.feature.rms(S=...)``): shape ``(n_frames,)``."""
    frame_length = 2 * (magnitude.shape[0] - 1)
    power = np.square(magnitude, dtype=np.float32)
    power[0] *= 0.5  # the DC and Nyquist bins count once, the others twice (their mirror)
    power[-1] *= 0.5
    rms: FloatArray = np.sqrt(2 * np.sum(power, axis=0) / frame_length**2)
    return rms


def mfcc(log_mel: FloatArray, n_mfcc: int) -> FloatArray:
    """The first ``n_mfcc`` coefficients of the orthonormal DCT-II of each frame of a dB mel
    spectrogram ``(n_mels, n_frames)``: shape ``(n_mfcc, n_frames)``."""
    n_mels = log_mel.shape[0]
    k, n = np.arange(n_mfcc)[:, np.newaxis], np.arange(n_mels)[np.newaxis, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_mels)) * np.sqrt(2.0 / n_mels)
    basis[0] /= np.sqrt(2.0)
    coefficients: FloatArray = (basis @ log_mel).astype(np.float32)
    return coefficients


def spectral_contrast(magnitude: FloatArray, sample_rate: float, n_bands: int) -> npt.NDArray[np.float64]:
    """Peak-to-valley level (dB) in each of ``n_bands`` octave bands from 200 Hz and the band
    above them: shape ``(n_bands + 1, n_frames)`` (Jiang et al. 2002, as librosa computes it)."""
    freq = fft_frequencies(sample_rate, 2 * (magnitude.shape[0] - 1))
    edges = np.zeros(n_bands + 2)
    edges[1:] = CONTRAST_FMIN_HZ * (2.0 ** np.arange(0, n_bands + 1))
    if np.any(edges[:-1] >= 0.5 * sample_rate):
        raise ValueError("spectral contrast: a band starts above the Nyquist frequency")
    valley = np.zeros((n_bands + 1, magnitude.shape[1]))
    peak = np.zeros_like(valley)
    for k, (f_low, f_high) in enumerate(itertools.pairwise(edges)):
        in_band = np.logical_and(freq >= f_low, freq <= f_high)
        idx = np.flatnonzero(in_band)
        if k > 0:
            in_band[idx[0] - 1] = True  # each band shares its lowest bin with the one below
        if k == n_bands:
            in_band[idx[-1] + 1 :] = True  # the last band reaches the Nyquist frequency
        sub_band = magnitude[in_band]
        if k < n_bands:
            sub_band = sub_band[:-1]
        n_extreme = int(np.maximum(np.rint(CONTRAST_QUANTILE * np.sum(in_band)), 1))
        ranked = np.sort(sub_band, axis=0)
        valley[k] = np.mean(ranked[:n_extreme], axis=0)
        peak[k] = np.mean(ranked[-n_extreme:], axis=0)
    contrast: npt.NDArray[np.float64] = power_to_db(peak, CONTRAST_TOP_DB) - power_to_db(valley, CONTRAST_TOP_DB)
    return contrast


def spectral_flatness(magnitude: FloatArray) -> FloatArray:
    """Geometric over arithmetic mean of each frame's power: 1 for white noise, near 0 for a tone.
    Shape ``(n_frames,)``."""
    power = np.maximum(FLATNESS_FLOOR, magnitude**2.0)
    flatness: FloatArray = np.exp(np.mean(np.log(power), axis=0)) / np.mean(power, axis=0)
    return flatness


def spectral_rolloff(magnitude: FloatArray, sample_rate: float, roll_percent: float) -> npt.NDArray[np.float64]:
    """The lowest bin frequency (Hz) below which ``roll_percent`` of each frame's magnitude lies:
    shape ``(n_frames,)``."""
    freq = fft_frequencies(sample_rate, 2 * (magnitude.shape[0] - 1))
    total = np.cumsum(magnitude, axis=0)
    # librosa takes the smallest frequency of the bins that reach the share; the frequencies
    # rise with the bin, so that is the first such bin's (the last bin always reaches it)
    rolloff: npt.NDArray[np.float64] = freq[np.argmax(total >= roll_percent * total[-1], axis=0)]
    return rolloff


def spectral_centroid(magnitude: FloatArray, sample_rate: float) -> npt.NDArray[np.float64]:
    """Each frame's magnitude-weighted mean frequency (Hz): shape ``(n_frames,)``."""
    freq = fft_frequencies(sample_rate, 2 * (magnitude.shape[0] - 1))[:, np.newaxis]
    centroid: npt.NDArray[np.float64] = np.sum(freq * normalize(magnitude, 1), axis=0)
    return centroid
