"""librosa's harmonic-percussive separation, step for step, in numpy alone: no scipy, no numba.

``librosa.decompose.hpss(S)`` with its defaults (librosa 0.11.0; Fitzgerald 2010): a spectrogram
median-filtered along time keeps what is sustained, along frequency what is struck, and each part
is the spectrogram under a soft mask (``librosa.util.softmask``, power 2) of how much its filtered
version dominates. scipy's ``ndimage.median_filter`` (``mode="reflect"``: the edge sample repeated,
``d c b a | a b c d | d c b a``) is numpy's ``pad(mode="symmetric")`` and the middle of each
sorted window; a median of an odd count is one of the values, so no rounding can differ.
``tests/test_separation.py`` checks it against librosa and scipy, bit for bit.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

KERNEL: Final = 31  # frames (harmonic) and bins (percussive) of the median filters
MASK_POWER: Final = 2.0  # softmask exponent (margins 1: the two masks split silent bins half and half)
_SILENT_SHARE: Final = 0.5


def median_filter(values: FloatArray, size: int, axis: int) -> FloatArray:
    """``scipy.ndimage.median_filter`` of a 2-D array over ``size`` (odd) neighbours along ``axis``,
    centred, the array reflected beyond its edges (``mode="reflect"``); laid out as ``values``."""
    half = size // 2
    widths = [(0, 0)] * values.ndim
    widths[axis] = (half, half)
    padded = np.pad(values, widths, mode="symmetric")
    windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=axis)
    filtered = np.empty_like(values)
    filtered[:] = np.partition(windows, half, axis=-1)[..., half]
    return filtered


def softmask(values: FloatArray, reference: FloatArray, power: float) -> FloatArray:
    """``librosa.util.softmask(values, reference, power=..., split_zeros=True)``: ``values^p`` over
    ``values^p + reference^p``, both scaled by their maximum first; 0.5 where both are below the
    dtype's smallest normal number. Shape of ``values``."""
    scale = np.maximum(values, reference)
    silent = scale < np.finfo(scale.dtype).tiny
    scale[silent] = 1
    mask = ((values / scale) ** power).astype(values.dtype, copy=False)  # no copy: float32 already
    reference_mask = (reference / scale) ** power
    sounding = ~silent
    mask[sounding] /= mask[sounding] + reference_mask[sounding]
    mask[silent] = _SILENT_SHARE
    return mask


def hpss(spectrogram: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``librosa.decompose.hpss(spectrogram)`` of a real, non-negative ``(n_bins, n_frames)`` spectrogram:
    its harmonic and percussive parts, each of its shape."""
    harmonic = median_filter(spectrogram, KERNEL, axis=-1)
    percussive = median_filter(spectrogram, KERNEL, axis=-2)
    harmonic_mask = softmask(harmonic, percussive, MASK_POWER)
    percussive_mask = softmask(percussive, harmonic, MASK_POWER)
    return spectrogram * harmonic_mask, spectrogram * percussive_mask
