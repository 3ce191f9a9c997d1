"""The numpy frame statistics are librosa's: bit for bit where the float operations are the same,
within float32 rounding where librosa's DCT (scipy's) sums in another order."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from mood.constants import SAMPLE_RATE
from mood.engine import melspec, spectral
from tests.helpers import chord_progression, click_track

N_FFT, HOP_LENGTH = 2048, 512


def music(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    wav = chord_progression(seconds=seconds, sr=SAMPLE_RATE) + 0.02 * rng.normal(size=round(seconds * SAMPLE_RATE))
    return wav.astype(np.float32)


SIGNALS = {
    "chords 1.1 s": music(1.1),
    "chords 30 s": music(30.0),
    "clicks 7 s": click_track(140, seconds=7.0).astype(np.float32),
    "silence 3 s": np.zeros(3 * SAMPLE_RATE, dtype=np.float32),
}


def magnitude_of(wav: np.ndarray) -> np.ndarray:
    """librosa's layout, ``(bins, frames)``, as the musical features compute it."""
    return np.abs(melspec.spectrogram(wav, N_FFT, HOP_LENGTH)).T


@pytest.fixture(params=list(SIGNALS), scope="module")
def magnitude(request: pytest.FixtureRequest) -> np.ndarray:
    return magnitude_of(SIGNALS[request.param])


def test_the_spectrogram_is_librosas_exactly() -> None:
    wav = SIGNALS["chords 30 s"]
    np.testing.assert_array_equal(
        magnitude_of(wav), np.abs(librosa.stft(wav, n_fft=N_FFT, hop_length=HOP_LENGTH)).astype(np.float32)
    )


def test_frame_rms_is_librosas_exactly(magnitude: np.ndarray) -> None:
    theirs = librosa.feature.rms(S=magnitude, frame_length=N_FFT)[0]
    np.testing.assert_array_equal(spectral.frame_rms(magnitude), theirs)


def test_spectral_shape_statistics_are_librosas_exactly(magnitude: np.ndarray) -> None:
    sr = SAMPLE_RATE
    pairs = [
        (spectral.spectral_flatness(magnitude), librosa.feature.spectral_flatness(S=magnitude)),
        (spectral.spectral_rolloff(magnitude, sr, 0.85), librosa.feature.spectral_rolloff(S=magnitude, sr=sr)),
        (spectral.spectral_centroid(magnitude, sr), librosa.feature.spectral_centroid(S=magnitude, sr=sr)),
        (
            spectral.spectral_contrast(magnitude, sr, 6),
            librosa.feature.spectral_contrast(S=magnitude, sr=sr, n_fft=N_FFT, n_bands=6),
        ),
    ]
    for ours, theirs in pairs:
        np.testing.assert_array_equal(ours, np.squeeze(theirs, axis=0) if theirs.shape[0] == 1 else theirs)


def test_mfcc_is_librosas_within_float32_rounding(magnitude: np.ndarray) -> None:
    power = magnitude**2
    log_mel = melspec.power_to_db(melspec.mel_power_of(power.T, SAMPLE_RATE, N_FFT, 128, 0.0, SAMPLE_RATE / 2), None)
    ours, theirs = spectral.mfcc(log_mel, 20), librosa.feature.mfcc(S=log_mel, n_mfcc=20)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    # scipy's DCT and a float64 matrix product round differently: within a few float32 steps of the
    # largest coefficient (dB mel spectra: coefficients up to ~1000).
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-5 * max(1.0, float(np.abs(theirs).max())))


def test_the_mel_power_of_a_spectrogram_is_librosas_exactly() -> None:
    magnitude = magnitude_of(SIGNALS["chords 30 s"])
    np.testing.assert_array_equal(
        melspec.mel_power_of(magnitude.T**2, SAMPLE_RATE, N_FFT, 128, 0.0, SAMPLE_RATE / 2),
        librosa.feature.melspectrogram(S=magnitude**2, sr=SAMPLE_RATE, n_mels=128),
    )


def test_contrast_refuses_bands_above_nyquist() -> None:
    with pytest.raises(ValueError, match="Nyquist"):
        spectral.spectral_contrast(magnitude_of(SIGNALS["chords 1.1 s"]), 8000, 6)
