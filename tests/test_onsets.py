"""The numpy rhythm features are librosa's, bit for bit (envelope, tempogram, tempo, onsets, tempogram
ratios), on chords, click tracks and silence from 0.1 s to 60 s; and they import neither librosa,
scipy nor numba. No tolerance is needed: every step runs the same float operations in the same order
(numpy's pocketfft gives the same autocorrelations as scipy.fft's here), so equality is asserted
throughout."""

from __future__ import annotations

from functools import cache
from typing import Any

import librosa
import numpy as np
import pytest
import scipy.fft

from mood.constants import SAMPLE_RATE
from mood.engine import onsets
from mood.engine.musical import DEFAULT_MUSICAL_CONFIG, TEMPOGRAM_FACTORS, _analyse
from tests.helpers import chord_progression, click_track

HOP = DEFAULT_MUSICAL_CONFIG.hop_length
FACTORS = np.array(list(TEMPOGRAM_FACTORS.values()))


def chords(seconds: float) -> np.ndarray:
    """Triads, a beat and noise at the engine's rate (``seconds`` long)."""
    noise = 0.01 * np.random.default_rng(1).normal(size=round(seconds * SAMPLE_RATE))
    return (chord_progression(seconds=seconds, sr=SAMPLE_RATE) + noise).astype(np.float32)


# 1.1 s and 0.1 s are shorter than the tempogram's window (384 frames, 8.9 s); 0.1 s (5 frames) than
# the peak picker's mean (9 frames) too.
CLIPS = {
    "chords 1.1 s": lambda: chords(1.1),
    "chords 7 s": lambda: chords(7.0),
    "chords 30 s": lambda: chords(30.0),
    "chords 60 s": lambda: chords(60.0),
    "clicks 60 bpm 7 s": lambda: click_track(60.0, seconds=7.0),
    "clicks 97 bpm 30 s": lambda: click_track(97.0, seconds=30.0),
    "clicks 128 bpm 60 s": lambda: click_track(128.0, seconds=60.0),
    "clicks 174 bpm 30 s": lambda: click_track(174.0, seconds=30.0),
    "clicks 0.1 s": lambda: click_track(120.0, seconds=0.1),
    "silence 3 s": lambda: np.zeros(3 * SAMPLE_RATE, dtype=np.float32),
}


@cache
def log_mel(clip: str) -> np.ndarray:
    """The clip's dB mel spectrum ``(128, n_frames)``, as the musical features compute it."""
    return _analyse(CLIPS[clip](), DEFAULT_MUSICAL_CONFIG).log_mel


@cache
def librosas(clip: str) -> dict[str, Any]:
    """What ``mood.engine.musical._rhythm`` computes with librosa for the clip."""
    sr = DEFAULT_MUSICAL_CONFIG.sample_rate
    envelope = librosa.onset.onset_strength(S=log_mel(clip), sr=sr, hop_length=HOP)
    tempogram = librosa.feature.tempogram(onset_envelope=envelope, sr=sr, hop_length=HOP)
    tempo = float(librosa.feature.tempo(tg=tempogram, sr=sr, hop_length=HOP)[0])
    mean_tempogram = tempogram.mean(axis=1, keepdims=True)
    ratios = librosa.feature.tempogram_ratio(
        tg=mean_tempogram, sr=sr, bpm=np.array([tempo]), hop_length=HOP, factors=FACTORS
    )[:, 0]
    return {
        "envelope": envelope,
        "tempogram": tempogram,
        "tempo": tempo,
        "onsets": librosa.onset.onset_detect(onset_envelope=envelope, sr=sr, hop_length=HOP),
        "mean_tempogram": mean_tempogram,
        "ratios": ratios,
    }


@pytest.mark.parametrize("clip", CLIPS)
def test_the_onset_envelope_is_librosas_exactly(clip: str) -> None:
    ours, theirs = onsets.onset_strength(log_mel(clip), HOP), librosas(clip)["envelope"]
    assert ours.shape == theirs.shape == (log_mel(clip).shape[1],) and ours.dtype == theirs.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("clip", CLIPS)
def test_the_tempogram_is_librosas_exactly(clip: str) -> None:
    ours, theirs = onsets.tempogram(librosas(clip)["envelope"]), librosas(clip)["tempogram"]
    assert ours.shape == theirs.shape == (onsets.WIN_LENGTH, log_mel(clip).shape[1]) and ours.dtype == np.float64
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("clip", CLIPS)
def test_the_tempo_is_librosas_exactly(clip: str) -> None:
    theirs = librosas(clip)
    assert onsets.tempo(theirs["tempogram"], SAMPLE_RATE, HOP) == theirs["tempo"]


@pytest.mark.parametrize("clip", CLIPS)
def test_the_onsets_are_librosas_exactly(clip: str) -> None:
    ours, theirs = onsets.onset_frames(librosas(clip)["envelope"], SAMPLE_RATE, HOP), librosas(clip)["onsets"]
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("clip", CLIPS)
def test_the_tempogram_ratios_are_librosas_exactly(clip: str) -> None:
    theirs = librosas(clip)
    for mean_tempogram in (theirs["mean_tempogram"], theirs["mean_tempogram"][:, 0]):  # a column or a vector
        ours = onsets.tempogram_ratio(mean_tempogram, SAMPLE_RATE, theirs["tempo"], HOP, FACTORS)
        np.testing.assert_array_equal(ours, theirs["ratios"])


def test_the_silent_clip_has_no_onsets_and_the_prior_s_tempo() -> None:
    theirs = librosas("silence 3 s")
    assert not theirs["envelope"].any() and not theirs["tempogram"].any()
    assert onsets.onset_frames(theirs["envelope"], SAMPLE_RATE, HOP).size == 0
    assert abs(onsets.tempo(theirs["tempogram"], SAMPLE_RATE, HOP) - onsets.START_BPM) < 3.0


@pytest.mark.parametrize(("sr", "hop"), [(22_050, 512), (16_000, 256), (44_100, 441)])
def test_peak_picking_is_librosas_on_ties_and_short_envelopes(sr: int, hop: int) -> None:
    """Envelopes of few distinct values tie maxima and means at the threshold; lengths from one frame."""
    rng = np.random.default_rng(7)
    for i in range(300):
        n = int(rng.integers(1, 400))
        envelope = [
            rng.random(n),
            rng.integers(0, 4, n),
            rng.exponential(size=n) * (rng.random(n) < 0.2),
        ][i % 3].astype(np.float32)
        np.testing.assert_array_equal(
            onsets.onset_frames(envelope, sr, hop),
            librosa.onset.onset_detect(onset_envelope=envelope, sr=sr, hop_length=hop),
        )


def test_the_fft_length_is_scipys() -> None:
    assert [onsets.next_fast_len(n) for n in range(1, 2000)] == [
        scipy.fft.next_fast_len(n, real=True) for n in range(1, 2000)
    ]


def test_the_tempo_grid_is_librosas() -> None:
    np.testing.assert_array_equal(
        onsets.tempo_frequencies(384, SAMPLE_RATE, HOP),
        librosa.tempo_frequencies(384, sr=SAMPLE_RATE, hop_length=HOP),
    )
