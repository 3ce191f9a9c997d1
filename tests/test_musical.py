"""The musical features on synthesised clips: each moves the way the music does."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mood.constants import SAMPLE_RATE
from mood.engine.musical import GROUPS, MusicalConfig, feature_names, musical_features
from tests.helpers import click_track
from tests.test_descriptors import A_MINOR, AB_MINOR, BB_MINOR, D_MINOR, E_MINOR, EB_MINOR, C, F, G, chords

MAJOR_PROGRESSIONS = [chords([C, F, G, C]), chords([C, F, G, C], transpose=2)]  # I-IV-V-I in C and D
MINOR_PROGRESSIONS = [chords([A_MINOR, D_MINOR, E_MINOR, A_MINOR]), chords([EB_MINOR, AB_MINOR, BB_MINOR, EB_MINOR])]


def features(wav: np.ndarray, config: MusicalConfig | None = None) -> dict[str, float]:
    return musical_features(wav.astype(np.float32), config or MusicalConfig()).as_dict()


def noise_with_level(start_db: float, end_db: float, seconds: float = 10.0, seed: int = 0) -> np.ndarray:
    """White noise whose level moves linearly in dB from ``start_db`` to ``end_db``."""
    rng = np.random.default_rng(seed)
    level_db = np.linspace(start_db, end_db, round(seconds * SAMPLE_RATE))
    return (0.1 * 10 ** (level_db / 20) * rng.normal(0, 1, level_db.size)).astype(np.float32)


@pytest.mark.parametrize("name", ["mode_major_minor", "mode_over_time_mean", "major_share_over_time"])
def test_major_progressions_score_more_major_than_minor_ones(name: str) -> None:
    major = [features(wav)[name] for wav in MAJOR_PROGRESSIONS]
    minor = [features(wav)[name] for wav in MINOR_PROGRESSIONS]
    assert min(major) > max(minor)


def test_the_mode_feature_has_the_sign_of_the_mode() -> None:
    assert all(features(wav)["mode_major_minor"] > 0 for wav in MAJOR_PROGRESSIONS)
    assert all(features(wav)["mode_major_minor"] < 0 for wav in MINOR_PROGRESSIONS)


def test_the_chroma_is_named_by_scale_degree_whatever_the_key() -> None:
    in_c, in_d = (features(wav) for wav in MAJOR_PROGRESSIONS)
    assert in_c["chroma_3_mean"] > in_c["chroma_b3_mean"]  # a major third, not a minor one
    assert in_c["chroma_1_mean"] == pytest.approx(in_d["chroma_1_mean"], abs=0.05)


def test_triads_concentrate_the_chroma_that_noise_spreads() -> None:
    triads, noise = features(MAJOR_PROGRESSIONS[0]), features(noise_with_level(-20.0, -20.0))
    assert triads["chroma_entropy"] < noise["chroma_entropy"] - 0.2  # bits (of at most log2(12) = 3.58)
    assert triads["key_clarity"] > 0.6


def test_a_crescendo_has_a_positive_slope_and_a_diminuendo_a_negative_one() -> None:
    crescendo, diminuendo = features(noise_with_level(-40, -10)), features(noise_with_level(-10, -40))
    assert crescendo["crescendo_db_per_s"] == pytest.approx(3.0, abs=0.5)  # 30 dB over 10 s
    assert diminuendo["crescendo_db_per_s"] == pytest.approx(-3.0, abs=0.5)
    assert crescendo["dynamic_range_db"] > 20.0 > features(noise_with_level(-20, -20))["dynamic_range_db"]


def test_the_level_of_the_file_changes_nothing() -> None:
    wav = MAJOR_PROGRESSIONS[0] + noise_with_level(-40, -40, seconds=8.0)  # a noise floor, as recordings have
    quiet, loud = musical_features(wav * 0.1), musical_features(np.clip(wav * 3.0, -1, 1))
    np.testing.assert_allclose(quiet.values, loud.values, rtol=1e-3, atol=1e-3)


def test_a_faster_click_track_has_more_onsets_and_a_faster_tempo() -> None:
    slow, fast = features(click_track(90.0)), features(click_track(140.0))
    assert fast["onset_rate_per_s"] > slow["onset_rate_per_s"] * 1.3
    assert slow["tempo_bpm"] == pytest.approx(90.0, abs=5.0)
    assert fast["tempo_bpm"] > slow["tempo_bpm"]
    assert slow["beat_strength"] > 2.0  # the clicks stand out of the envelope
    assert slow["beat_strength"] > 1.5 * features(noise_with_level(-20, -20))["beat_strength"]  # noise has no beat


@pytest.mark.parametrize("seconds", [0.5, 5.0])
def test_silence_gives_finite_values_under_the_usual_names(seconds: float) -> None:
    measured = musical_features(np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32))
    assert np.all(np.isfinite(measured.values))
    assert measured.values.dtype == np.float32
    assert (measured.names, measured.groups) == feature_names()


def test_names_are_unique_readable_and_grouped() -> None:
    names, groups = feature_names()
    assert len(set(names)) == len(names) == len(groups)
    assert {"mode_major_minor", "key_clarity", "tempo_bpm", "rms_p90", "crescendo_db_per_s", "mfcc_01_mean"} <= set(
        names
    )
    assert tuple(dict.fromkeys(groups)) == GROUPS


def test_a_config_with_fewer_groups_computes_only_those() -> None:
    config = MusicalConfig(groups=("dynamics", "rhythm"))
    names, groups = feature_names(config)
    assert set(groups) == {"dynamics", "rhythm"}
    full = dict(zip(*feature_names()[:1], musical_features(MAJOR_PROGRESSIONS[0]).values, strict=True))
    np.testing.assert_allclose(musical_features(MAJOR_PROGRESSIONS[0], config).values, [full[n] for n in names])


def test_the_cache_key_follows_every_field() -> None:
    base = MusicalConfig()
    changed = [dataclasses.replace(base, hop_length=256), dataclasses.replace(base, groups=("timbre",))]
    keys = {base.cache_key(), *(c.cache_key() for c in changed)}
    assert len(keys) == 3
    assert MusicalConfig().cache_key() == base.cache_key()


@pytest.mark.parametrize("fields", [{"groups": ("melody",)}, {"groups": ()}, {"sample_rate": 44_100}])
def test_invalid_configs_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        MusicalConfig(**fields)  # type: ignore[arg-type]
