"""The numpy harmonic-percussive separation is librosa's, bit for bit: its median filters are scipy's
(reflected edges, windows longer than the array), its soft masks librosa's (silent bins too), and
the two parts of the descriptors' mel spectrogram on chords, clicks, noise, silence and a short clip."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import scipy.ndimage
from numpy.lib.stride_tricks import sliding_window_view

from mood.constants import SAMPLE_RATE
from mood.engine import melspec, separation
from tests.helpers import chord_progression, click_track

N_FFT, HOP_LENGTH, N_MELS = 2048, 512, 128  # the descriptors' mel spectrogram


def chords(seconds: float) -> np.ndarray:
    noise = 0.01 * np.random.default_rng(2).normal(size=round(seconds * SAMPLE_RATE))
    return (chord_progression(seconds=seconds, sr=SAMPLE_RATE) + noise).astype(np.float32)


SIGNALS = {
    "chords 1.1 s": chords(1.1),
    "chords 60 s": chords(60.0),
    "clicks 7 s": click_track(140.0, seconds=7.0),
    "noise 5 s": (0.1 * np.random.default_rng(3).normal(size=5 * SAMPLE_RATE)).astype(np.float32),
    "silence 3 s": np.zeros(3 * SAMPLE_RATE, dtype=np.float32),
    "0.2 s (fewer frames than the kernel)": chords(0.2),
}


@pytest.mark.parametrize("signal", SIGNALS)
def test_the_separation_is_librosas_exactly(signal: str) -> None:
    magnitude = np.abs(librosa.stft(SIGNALS[signal], n_fft=N_FFT, hop_length=HOP_LENGTH))
    mel = librosa.feature.melspectrogram(S=magnitude**2, sr=SAMPLE_RATE, n_mels=N_MELS, norm=None)
    for ours, theirs in zip(separation.hpss(mel), librosa.decompose.hpss(mel), strict=True):
        assert ours.dtype == theirs.dtype == np.float32
        assert ours.flags.c_contiguous == theirs.flags.c_contiguous  # a sum over it adds in the same order
        np.testing.assert_array_equal(ours, theirs)


# Against scipy only where the filter's half-width fits inside the array: shorter along the
# filter, scipy's reflection reads past the array's end (values like 1e-322 or nan in its windows,
# seen at lengths 2 and 3), which no reflection reproduces. Every length is also checked against
# the plain definition: the median of each window of the array mirrored at its edges (numpy's
# "symmetric" padding, scipy's "reflect"), mirrored again where one mirror is not enough.
@pytest.mark.parametrize("length", [1, *range(2, 40), 64])
@pytest.mark.parametrize("axis", [0, 1])
def test_the_median_filter_is_scipys_with_reflected_edges(length: int, axis: int) -> None:
    shape = [9, 9]
    shape[axis] = length
    values = np.random.default_rng(length).random(shape).astype(np.float32)
    values[values < 0.3] = 0.5  # ties
    filtered = separation.median_filter(values, separation.KERNEL, axis)
    half = separation.KERNEL // 2
    padding = [(0, 0), (0, 0)]
    padding[axis] = (half, half)
    windows = sliding_window_view(np.pad(values, padding, mode="symmetric"), separation.KERNEL, axis=axis)
    np.testing.assert_array_equal(filtered, np.median(windows, axis=-1).astype(np.float32))
    if length > half:
        size = [1, 1]
        size[axis] = separation.KERNEL
        np.testing.assert_array_equal(filtered, scipy.ndimage.median_filter(values, size=size, mode="reflect"))


def test_the_soft_mask_is_librosas_with_silent_bins_split() -> None:
    rng = np.random.default_rng(9)
    values, reference = (rng.random((40, 50)).astype(np.float32) for _ in range(2))
    values[:5], reference[:5] = 0.0, 0.0  # both silent: half and half
    values[5:10] = 0.0  # one silent
    reference[10:12] = np.finfo(np.float32).tiny / 4  # subnormal, below the tiny floor
    values[10:12] = 0.0
    np.testing.assert_array_equal(
        separation.softmask(values, reference, separation.MASK_POWER),
        librosa.util.softmask(values, reference, power=separation.MASK_POWER, split_zeros=True),
    )


def test_the_parts_of_a_mel_spectrogram_add_up_to_it() -> None:
    power = melspec.power_spectrogram(SIGNALS["clicks 7 s"], N_FFT, HOP_LENGTH)
    mel = melspec.mel_power_of(power, SAMPLE_RATE, N_FFT, N_MELS, 0.0, SAMPLE_RATE / 2, slaney_norm=False)
    harmonic, percussive = separation.hpss(mel)
    np.testing.assert_allclose(harmonic + percussive, mel, rtol=1e-6)
