"""The window and normalisation every numpy port shares are scipy's and librosa's, bit for bit."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import scipy.signal

from mood.engine import dsp


@pytest.mark.parametrize("n", [2, 3, 43, 97, 384, 2048])
def test_the_hann_windows_are_scipys(n: int) -> None:
    np.testing.assert_array_equal(dsp.hann(n), scipy.signal.get_window("hann", n))
    np.testing.assert_array_equal(dsp.hann(n, periodic=False), scipy.signal.get_window("hann", n, fftbins=False))


@pytest.mark.parametrize("norm", [1.0, 2.0, np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_normalize_is_librosas(norm: float, dtype: type) -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(12, 40)).astype(dtype)
    values[:, 3] = 0.0  # a silent column is left as it is
    if np.iscomplexobj(values):
        values += 1j * rng.normal(size=values.shape)
    ours = dsp.normalize(values, norm)
    assert ours.dtype == values.dtype
    np.testing.assert_array_equal(ours, librosa.util.normalize(values, norm=norm, axis=0))
