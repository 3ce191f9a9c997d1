"""librosa's tuning estimate, step for step, in numpy alone: how far a recording sits from A440.

What the descriptors' key needs before its chroma (:mod:`mood.engine.descriptors`):
``librosa.estimate_tuning(S=magnitude, sr=..., n_fft=..., bins_per_octave=...)`` with its defaults
(librosa 0.11.0). Its pitch tracker (``librosa.piptrack``) keeps, in each frame, the local maxima of
the magnitude spectrum between ``FMIN_HZ`` and ``FMAX_HZ`` that reach ``THRESHOLD`` of the frame's
largest, each placed between bins by a parabola through it and its neighbours; the tuning is the
peak of the histogram of the louder half of those pitches' distances from the nearest bin of an
equal-tempered scale on A440 (``librosa.pitch_tuning``). Where librosa computes with numba, the
same arithmetic is spelled out in numpy: the parabola's vertex in float64 (numba promotes
``2 * x`` and ``/ 2`` of float32 to float64), the local-maximum test with the first bin never a
maximum (the stencil's border). ``tests/test_tuning.py`` checks every step against librosa, bit for bit.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from mood.engine.spectral import fft_frequencies

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

FMIN_HZ: Final = 150.0  # piptrack's range of pitches, Hz (its upper end capped at the Nyquist frequency)
FMAX_HZ: Final = 4000.0
THRESHOLD: Final = 0.1  # of each frame's largest magnitude: quieter peaks are no pitch
RESOLUTION: Final = 0.01  # of a bin: the histogram's step (a cent at 12 bins an octave)
A440_HZ: Final = 440.0
OCTAVE_ORIGIN_HZ: Final = A440_HZ / 16  # hz_to_octs' octave 0 (A0, four octaves below A440)


def parabolic_shifts(x: FloatArray) -> FloatArray:
    """Where a parabola through each bin and its two neighbours along axis 0 peaks, in bins from the
    bin (librosa's ``_parabolic_interpolation``): 0 at both ends and wherever the vertex lies more than
    a bin away. Shape of ``x``, ``(n_bins, n_frames)``; computed in float64 as numba does, then rounded."""
    above, here, below = x[2:], x[1:-1], x[:-2]
    curvature = (above + below).astype(np.float64) - 2 * here.astype(np.float64)
    slope = (above - below).astype(np.float64) / 2
    within = np.abs(slope) < np.abs(curvature)
    inner = np.zeros_like(curvature)
    np.divide(-slope, curvature, out=inner, where=within)
    shifts = np.zeros_like(x)
    shifts[1:-1] = inner
    return shifts


def local_maxima(x: FloatArray) -> BoolArray:
    """``librosa.util.localmax`` along axis 0: above the bin before and at least the bin after; the last
    bin above the one before it; the first never. Shape of ``x``."""
    maxima = np.zeros(x.shape, dtype=bool)
    maxima[1:-1] = (x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])
    maxima[-1] = x[-1] > x[-2]
    return maxima


def piptrack(magnitude: FloatArray, sample_rate: float) -> tuple[FloatArray, FloatArray]:
    """``librosa.piptrack(S=magnitude, sr=...)``: each frame's pitches (Hz) and their interpolated
    magnitudes at the peaks found, zeros elsewhere; both the shape of ``magnitude``, ``(1 + n_fft // 2, n_frames)``."""
    n_fft = 2 * (magnitude.shape[0] - 1)
    freqs = fft_frequencies(sample_rate, n_fft)
    in_range = (freqs >= FMIN_HZ) & (freqs < min(FMAX_HZ, float(sample_rate) / 2))
    shifts = parabolic_shifts(magnitude)
    skew = 0.5 * np.gradient(magnitude, axis=0) * shifts
    floor = THRESHOLD * np.max(magnitude, axis=0, keepdims=True)
    peaks = np.nonzero(in_range[:, np.newaxis] & local_maxima(magnitude * (magnitude > floor)))
    pitches, magnitudes = np.zeros_like(magnitude), np.zeros_like(magnitude)
    pitches[peaks] = (peaks[0] + shifts[peaks]) * float(sample_rate) / n_fft
    magnitudes[peaks] = magnitude[peaks] + skew[peaks]
    return pitches, magnitudes


def pitch_tuning(frequencies: FloatArray, bins_per_octave: int) -> float:
    """``librosa.pitch_tuning``: the most common distance (fractions of a bin, in [-0.5, 0.5), a
    ``RESOLUTION`` step) of ``frequencies`` (Hz, shape ``(n,)``; zeros ignored) from the nearest bin of
    ``bins_per_octave`` to the octave on A440; 0 if there are none."""
    frequencies = frequencies[frequencies > 0]
    if frequencies.size == 0:
        return 0.0
    residual = np.mod(bins_per_octave * np.log2(frequencies / OCTAVE_ORIGIN_HZ), 1.0)
    residual[residual >= 0.5] -= 1.0  # 0.95 of a bin above is 0.05 below the next
    edges = np.linspace(-0.5, 0.5, int(np.ceil(1.0 / RESOLUTION)) + 1)
    counts, _ = np.histogram(residual, edges)
    return float(edges[np.argmax(counts)])


def estimate_tuning(magnitude: FloatArray, sample_rate: float, bins_per_octave: int) -> float:
    """``librosa.estimate_tuning(S=magnitude, sr=..., bins_per_octave=...)`` of a magnitude spectrogram
    ``(1 + n_fft // 2, n_frames)``: the tuning (fractions of a bin) of its pitches at least as loud as
    their median."""
    pitches, magnitudes = piptrack(magnitude, sample_rate)
    pitched = pitches > 0
    median = np.median(magnitudes[pitched]) if pitched.any() else 0.0
    return pitch_tuning(pitches[(magnitudes >= median) & pitched], bins_per_octave)
