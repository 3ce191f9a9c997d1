"""The numpy constant-Q transform, chroma, CENS and tonnetz are librosa's, bit for bit, on every
clip the harmony features see (1 s to 60 s, silence, less than a hop), on other shapes of the
transform (early downsampling, odd hops, 36 bins an octave) and on the descriptors' tuned chroma;
and they need neither librosa nor scipy nor numba (importing librosa is what made a cold start slow)."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from mood.engine import constant_q
from tests.helpers import ENGINE_SR, chord_progression, click_track

HOP_LENGTH, N_BINS, BINS_PER_OCTAVE = 2048, 84, 12  # the harmony features' transform


def chords(seconds: float, seed: int = 1) -> np.ndarray:
    """Major triads, a beat and noise at the engine's rate, float32."""
    n = round(seconds * ENGINE_SR)
    wav = chord_progression(seconds=seconds, sr=ENGINE_SR)
    return (wav + 0.01 * np.random.default_rng(seed).normal(size=n)).astype(np.float32)


CLIPS = {
    "chords 1.1 s": lambda: chords(1.1),
    "chords 7 s": lambda: chords(7.0),
    "chords 30 s": lambda: chords(30.0),
    "chords 60 s": lambda: chords(60.0),
    "clicks 12 s": lambda: click_track(120.0),
    "silence 3 s": lambda: np.zeros(3 * ENGINE_SR, dtype=np.float32),
    "shorter than a hop": lambda: chords(1500 / ENGINE_SR),
}


def librosa_cqt(wav: np.ndarray, hop_length: int, n_bins: int, bins_per_octave: int) -> np.ndarray:
    """What the harmony features computed with librosa."""
    return np.abs(
        librosa.cqt(
            wav,
            sr=ENGINE_SR,
            hop_length=hop_length,
            fmin=librosa.note_to_hz("C1"),
            n_bins=n_bins,
            bins_per_octave=bins_per_octave,
        )
    )


# librosa warns that its lowest octaves' 256-point frames are longer than a short clip.
@pytest.mark.filterwarnings("ignore:n_fft=256 is too large")
@pytest.mark.parametrize("clip", CLIPS)
def test_the_transform_and_its_chroma_cens_and_tonnetz_are_librosas_exactly(clip: str) -> None:
    wav = CLIPS[clip]()
    theirs = librosa_cqt(wav, HOP_LENGTH, N_BINS, BINS_PER_OCTAVE)
    ours = constant_q.cqt_magnitude(wav, ENGINE_SR, HOP_LENGTH, constant_q.C1_HZ, N_BINS, BINS_PER_OCTAVE)
    assert ours.shape == theirs.shape == (N_BINS, 1 + wav.size // HOP_LENGTH)
    assert ours.dtype == np.float32 and ours.flags.f_contiguous  # librosa's layout: products downstream match
    np.testing.assert_array_equal(ours, theirs)

    chroma = librosa.feature.chroma_cqt(C=theirs, sr=ENGINE_SR, bins_per_octave=BINS_PER_OCTAVE)
    np.testing.assert_array_equal(constant_q.chroma_from_cqt(ours, BINS_PER_OCTAVE), chroma)
    np.testing.assert_array_equal(
        constant_q.chroma_cens_from_cqt(ours, BINS_PER_OCTAVE),
        librosa.feature.chroma_cens(C=theirs, sr=ENGINE_SR, bins_per_octave=BINS_PER_OCTAVE),
    )
    np.testing.assert_array_equal(constant_q.tonnetz(chroma), librosa.feature.tonnetz(chroma=chroma, sr=ENGINE_SR))


@pytest.mark.parametrize(
    ("hop_length", "n_bins", "bins_per_octave"),
    [
        (512, 48, 12),  # three early halvings before the first octave
        (256, 36, 12),  # four
        (2000, 84, 12),  # the hop turns odd after four octaves: the last ones stay at one rate
        (1024, 80, 12),  # a partial bottom octave
        (2048, 252, 36),  # three bins a semitone
    ],
)
def test_other_transforms_are_librosas_exactly(hop_length: int, n_bins: int, bins_per_octave: int) -> None:
    wav = chords(3.3, seed=2)
    theirs = librosa_cqt(wav, hop_length, n_bins, bins_per_octave)
    ours = constant_q.cqt_magnitude(wav, ENGINE_SR, hop_length, constant_q.C1_HZ, n_bins, bins_per_octave)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(
        constant_q.chroma_from_cqt(ours, bins_per_octave),
        librosa.feature.chroma_cqt(C=theirs, sr=ENGINE_SR, bins_per_octave=bins_per_octave),
    )
    np.testing.assert_array_equal(
        constant_q.chroma_cens_from_cqt(ours, bins_per_octave),
        librosa.feature.chroma_cens(C=theirs, sr=ENGINE_SR, bins_per_octave=bins_per_octave),
    )


@pytest.mark.filterwarnings("ignore:n_fft=.* is too large")
@pytest.mark.parametrize("tuning", [0.0, 0.03, -0.35, 0.49, -0.5])  # fractions of a bin, as estimate_tuning gives
@pytest.mark.parametrize("seconds", [1.1, 20.0])
def test_the_tuned_chroma_of_samples_is_librosas_exactly(tuning: float, seconds: float) -> None:
    """The descriptors' key: 36 bins an octave, moved by the recording's tuning; librosa's chroma
    map is not told the tuning, so the pitch classes are folded as from C1 still."""
    wav = chords(seconds, seed=3)
    np.testing.assert_array_equal(
        constant_q.chroma_cqt(wav, ENGINE_SR, HOP_LENGTH, 36, tuning),
        librosa.feature.chroma_cqt(y=wav, sr=ENGINE_SR, hop_length=HOP_LENGTH, tuning=tuning, bins_per_octave=36),
    )


def test_a_tuned_transform_at_another_rate_is_librosas_exactly() -> None:
    wav = chords(3.3, seed=4)
    theirs = librosa.cqt(wav, sr=16_000, hop_length=512, fmin=55.0, n_bins=72, bins_per_octave=12, tuning=-0.2)
    ours = constant_q.cqt_magnitude(wav, 16_000, 512, 55.0, 72, 12, tuning=-0.2)
    np.testing.assert_array_equal(ours, np.abs(theirs))


def test_c1_is_librosas() -> None:
    assert librosa.note_to_hz("C1") == constant_q.C1_HZ


def test_a_filter_band_too_high_for_the_sample_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="Nyquist"):
        constant_q.cqt_magnitude(chords(1.0), ENGINE_SR, HOP_LENGTH, constant_q.C1_HZ, 120, BINS_PER_OCTAVE)


def test_an_octaves_filters_are_made_once_and_no_transform_changes_them() -> None:
    """The second transform with the same filters reuses them (a cache hit) and gives the same,
    librosa's, magnitudes; the kept filters cannot be written to."""
    constant_q._filter_spectra.cache_clear()
    first, second = chords(7.0, seed=3), chords(7.0, seed=4)
    constant_q.cqt_magnitude(first, ENGINE_SR, HOP_LENGTH, constant_q.C1_HZ, N_BINS, BINS_PER_OCTAVE)
    made = constant_q._filter_spectra.cache_info().misses
    ours = constant_q.cqt_magnitude(second, ENGINE_SR, HOP_LENGTH, constant_q.C1_HZ, N_BINS, BINS_PER_OCTAVE)
    assert constant_q._filter_spectra.cache_info().misses == made  # nothing made again
    np.testing.assert_array_equal(ours, librosa_cqt(second, HOP_LENGTH, N_BINS, BINS_PER_OCTAVE))
    freqs = constant_q.cqt_frequencies(BINS_PER_OCTAVE, constant_q.C1_HZ, BINS_PER_OCTAVE)
    values, columns, _ = constant_q.filter_spectra(freqs, constant_q.relative_bandwidths(freqs), float(ENGINE_SR))
    with pytest.raises(ValueError, match="read-only"):
        values *= 2.0
    assert not columns.flags.writeable
