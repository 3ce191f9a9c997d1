"""The pieces of scipy's and librosa's arithmetic that the numpy ports share: a window, a normalisation.

:mod:`mood.engine.melspec`, :mod:`~mood.engine.constant_q`, :mod:`~mood.engine.onsets` and
:mod:`~mood.engine.spectral` compute what librosa does without importing it (its import costs
about 2 s of numba and scipy in every new process); these two are what they all need, computed
in scipy's and librosa's order of float operations so that the ports stay bit for bit theirs.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

Normalisable = TypeVar("Normalisable", np.float32, np.float64, np.complex128)


def hann(n: int, periodic: bool = True) -> npt.NDArray[np.float64]:
    """scipy's ``get_window("hann", n, fftbins=periodic)`` bit for bit: ``0.5 + 0.5 cos`` on
    ``linspace(-π, π)`` over ``n + 1`` points, the last dropped (periodic), or over ``n`` (symmetric)."""
    angles = np.linspace(-np.pi, np.pi, n + 1 if periodic else n, dtype=np.float64)
    window: npt.NDArray[np.float64] = 0.5 + 0.5 * np.cos(angles)
    return window[:n]


def normalize(values: npt.NDArray[Normalisable], norm: float) -> npt.NDArray[Normalisable]:
    """``librosa.util.normalize`` along the first axis: each column divided by its ``norm``-norm
    (``np.inf``: its largest magnitude) computed in float64; columns whose norm is below the dtype's
    smallest normal number are left as they are."""
    magnitudes = np.abs(values)
    tiny = np.finfo(magnitudes.dtype).tiny  # of the values' precision
    magnitudes = magnitudes.astype(np.float64)
    if norm == np.inf:
        length = np.max(magnitudes, axis=0, keepdims=True)
    else:
        length = np.sum(magnitudes**norm, axis=0, keepdims=True) ** (1.0 / norm)
    length[length < tiny] = 1.0
    normalised = np.empty_like(values)
    normalised[:] = values / length
    return normalised
