"""Figures on another collection: each confidence level's clips and accuracy, ECE, and the manifest block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mood.constants import MOODS
from mood.engine.manifest import CONFIDENCE_LEVELS
from mood.engine.weights import SHIPPED_WEIGHTS_DIR
from mood.training.transfer import COLLECTION, RatedExcerpt, judge_excerpts, score_answers, with_estimated_priors
from tests.helpers import chord_progression, write_audio


def test_measure_counts_every_clip_in_one_confidence_level_and_scores_it(tmp_path: Path) -> None:
    excerpts = [
        RatedExcerpt(
            write_audio(chord_progression(seconds=6.0, seed=i), tmp_path / f"x{i}.wav"),
            genre="synthetic",
            valence=float(i - 3),
            arousal=float(3 - i),
            mood=MOODS[i % len(MOODS)],
        )
        for i in range(8)
    ]
    figures = score_answers("cldnn", judge_excerpts("cldnn", excerpts, SHIPPED_WEIGHTS_DIR), excerpts)
    assert list(figures.confidence) == list(CONFIDENCE_LEVELS)
    assert sum(r.clips for r in figures.confidence.values()) == len(excerpts)
    right = sum(r.clips * r.accuracy for r in figures.confidence.values() if r.accuracy is not None)
    assert right / len(excerpts) == pytest.approx(figures.accuracy, abs=1e-3)
    assert 0.0 <= figures.ece <= 1.0
    record = figures.record(len(excerpts))
    assert record.collection == COLLECTION and record.clips == 8 and record.confidence == figures.confidence


def test_the_prior_correction_finds_a_collections_mood_shares_from_its_answers_alone() -> None:
    rng = np.random.default_rng(0)
    shares = np.array([0.5, 0.1, 0.15, 0.25])
    moods = rng.choice(len(MOODS), size=4000, p=shares)
    # each clip is 2 * one-hot + unit Gaussian noise; exp(2 x) / sum is then the exact posterior for equal shares
    likelihoods = np.exp(2.0 * (2.0 * np.eye(len(MOODS))[moods] + rng.normal(size=(len(moods), len(MOODS)))))
    answers = (likelihoods / likelihoods.sum(axis=1, keepdims=True)).astype(np.float32)
    adjusted, estimated = with_estimated_priors(answers)
    assert np.abs(estimated - shares).max() < np.abs(answers.mean(axis=0) - shares).max()
    np.testing.assert_allclose(adjusted.sum(axis=1), 1.0, atol=1e-5)
    assert (adjusted.argmax(axis=1) == moods).mean() > (answers.argmax(axis=1) == moods).mean()
    balanced, kept = with_estimated_priors(np.full((10, 4), 0.25, dtype=np.float32))
    np.testing.assert_allclose(kept, 0.25)
    np.testing.assert_allclose(balanced, 0.25)
