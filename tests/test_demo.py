"""The demo material: synthesised clips that decode, are deterministic and sound like their mood."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from mood.constants import MOODS, SAMPLE_RATE
from mood.engine.audio import load_audio
from mood.presentation.demo import DEMO_CLIPS, DEMO_DURATION_S, EXAMPLE_SONGS, demo_clip, demo_wav_bytes, synthesise

KEYS = [clip.key for clip in DEMO_CLIPS]


@pytest.fixture(scope="module")
def decoded() -> dict[str, np.ndarray]:
    """Each demo clip as the engine decodes it."""
    return {key: load_audio(demo_wav_bytes(key)) for key in KEYS}


def test_every_mood_has_a_demo_clip_and_a_famous_example() -> None:
    assert sorted(clip.mood for clip in DEMO_CLIPS) == sorted(MOODS)
    assert sorted(song.mood for song in EXAMPLE_SONGS) == sorted(MOODS)
    assert EXAMPLE_SONGS[0].query == "Pharrell Williams Happy"


@pytest.mark.parametrize("key", KEYS)
def test_a_clip_decodes_to_its_advertised_length_without_clipping(key: str, decoded: dict[str, np.ndarray]) -> None:
    wav = decoded[key]
    assert wav.dtype == np.float32
    assert wav.size == round(DEMO_DURATION_S * SAMPLE_RATE)
    assert 0.7 < np.max(np.abs(wav)) <= 0.8 + 1e-4  # normalised, with headroom
    assert np.sqrt(np.mean(wav**2)) > 0.05  # not near-silent anywhere the engine would reject it


def test_clips_are_deterministic_and_differ_from_each_other() -> None:
    first = [demo_wav_bytes(key) for key in KEYS]
    demo_wav_bytes.cache_clear()
    assert [demo_wav_bytes(key) for key in KEYS] == first
    assert len(set(first)) == len(KEYS)
    np.testing.assert_array_equal(synthesise("storm-bursts"), synthesise("storm-bursts"))


def test_the_fast_clips_have_more_onsets_than_the_slow_ones(decoded: dict[str, np.ndarray]) -> None:
    def onsets_per_second(key: str) -> float:
        return len(librosa.onset.onset_detect(y=decoded[key], sr=SAMPLE_RATE)) / DEMO_DURATION_S

    fast = min(onsets_per_second(demo_clip(k).key) for k in KEYS if demo_clip(k).mood in ("happy", "angry"))
    slow = max(onsets_per_second(demo_clip(k).key) for k in KEYS if demo_clip(k).mood in ("sad", "calm"))
    assert fast > 2 * slow


def test_the_angry_clip_is_the_noisiest(decoded: dict[str, np.ndarray]) -> None:
    flatness = {key: float(np.mean(librosa.feature.spectral_flatness(y=wav))) for key, wav in decoded.items()}
    assert max(flatness, key=flatness.__getitem__) == "storm-bursts"


def test_an_unknown_clip_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="sunny-arpeggio"):
        demo_wav_bytes("no-such-clip")
