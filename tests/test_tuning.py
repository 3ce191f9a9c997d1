"""The numpy tuning estimate is librosa's, bit for bit, step by step (the pitch tracker's parabolas
and peaks, the pitches, the tuning histogram) on what the descriptors see: chords in tune and off it,
noise, clicks, silence, a clip of a second, another sample rate."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from mood.constants import SAMPLE_RATE
from mood.engine import melspec, tuning
from tests.helpers import chord_progression, click_track

N_FFT, HOP_LENGTH, BINS_PER_OCTAVE = 2048, 512, 36  # the descriptors' spectrogram and key transform


def chords(seconds: float, cents: float = 0.0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Triads, a beat and noise, every frequency ``cents`` sharp (synthesised at a rate that much lower)."""
    wav = chord_progression(seconds=seconds, sr=round(sr / 2 ** (cents / 1200)))[: round(seconds * sr)]
    noise = 0.01 * np.random.default_rng(4).normal(size=wav.size)
    return (wav + noise).astype(np.float32)


SIGNALS = {
    "chords 1.1 s": (chords(1.1), SAMPLE_RATE),
    "chords 30 s": (chords(30.0), SAMPLE_RATE),
    "chords 20 cents sharp": (chords(10.0, cents=20.0), SAMPLE_RATE),
    "chords 40 cents flat": (chords(10.0, cents=-40.0), SAMPLE_RATE),
    "chords at 16 kHz": (chords(5.0, sr=16_000), 16_000),
    "noise": ((0.1 * np.random.default_rng(5).normal(size=5 * SAMPLE_RATE)).astype(np.float32), SAMPLE_RATE),
    "clicks": (click_track(128.0, seconds=7.0), SAMPLE_RATE),
    "silence": (np.zeros(3 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE),
}


@pytest.fixture(params=list(SIGNALS), scope="module")
def spectrum(request: pytest.FixtureRequest) -> tuple[np.ndarray, int]:
    """The clip's magnitude spectrogram in librosa's layout ``(bins, frames)``, and its sample rate."""
    wav, sr = SIGNALS[request.param]
    return np.abs(librosa.stft(wav, n_fft=N_FFT, hop_length=HOP_LENGTH)), sr


def test_the_pitch_tracker_is_librosas_exactly(spectrum: tuple[np.ndarray, int]) -> None:
    magnitude, sr = spectrum
    theirs = librosa.piptrack(S=magnitude, sr=sr, n_fft=N_FFT)
    for ours, their in zip(tuning.piptrack(magnitude, sr), theirs, strict=True):
        assert ours.dtype == their.dtype == np.float32
        np.testing.assert_array_equal(ours, their)


def test_the_peaks_are_librosas_local_maxima(spectrum: tuple[np.ndarray, int]) -> None:
    magnitude, _ = spectrum
    quantised = np.round(magnitude * 4) / 4  # plateaus: equal neighbours on either side
    for x in (magnitude, quantised):
        np.testing.assert_array_equal(tuning.local_maxima(x), librosa.util.localmax(x, axis=0))


# librosa warns when no pitch is left (silence); pitch_tuning then answers 0, as does the port.
@pytest.mark.filterwarnings("ignore:Trying to estimate tuning from empty frequency set")
def test_the_tuning_is_librosas_exactly(spectrum: tuple[np.ndarray, int]) -> None:
    magnitude, sr = spectrum
    theirs = librosa.estimate_tuning(S=magnitude, sr=sr, n_fft=N_FFT, bins_per_octave=BINS_PER_OCTAVE)
    assert tuning.estimate_tuning(magnitude, sr, BINS_PER_OCTAVE) == theirs


@pytest.mark.filterwarnings("ignore:Trying to estimate tuning from empty frequency set")
@pytest.mark.parametrize("bins_per_octave", [12, 36])
def test_the_tuning_histogram_is_librosas_exactly(bins_per_octave: int) -> None:
    rng = np.random.default_rng(6)
    for cents in (-49.0, -20.0, 0.0, 13.0, 33.0, 49.9):
        freqs = librosa.cqt_frequencies(n_bins=60, fmin=55.0, tuning=cents / 100).astype(np.float32)
        jittered = np.concatenate([freqs * (1 + 1e-3 * rng.normal(size=freqs.size)).astype(np.float32), [0.0, 0.0]])
        for frequencies in (freqs, jittered.astype(np.float32), np.zeros(3, dtype=np.float32)):
            theirs = librosa.pitch_tuning(frequencies, bins_per_octave=bins_per_octave)
            assert tuning.pitch_tuning(frequencies, bins_per_octave) == theirs


def test_a_sharp_recording_is_measured_sharp() -> None:
    """20 cents is 0.2 of a semitone (a 12-to-the-octave bin)."""
    magnitude = np.abs(melspec.spectrogram(chords(10.0, cents=20.0), N_FFT, HOP_LENGTH)).T
    in_tune = np.abs(melspec.spectrogram(chords(10.0), N_FFT, HOP_LENGTH)).T
    assert tuning.estimate_tuning(magnitude, SAMPLE_RATE, 12) == pytest.approx(0.2, abs=0.05)
    assert tuning.estimate_tuning(in_tune, SAMPLE_RATE, 12) == pytest.approx(0.0, abs=0.05)
