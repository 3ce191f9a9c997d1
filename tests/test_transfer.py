"""Figures on another collection: each confidence level's clips and accuracy, ECE, and the manifest block."""

from __future__ import annotations

from pathlib import Path

import pytest

from mood.constants import MOODS
from mood.engine.manifest import CONFIDENCE_LEVELS
from mood.engine.weights import SHIPPED_WEIGHTS_DIR
from mood.training.transfer import COLLECTION, RatedExcerpt, measure
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
    figures = measure("cldnn", excerpts, SHIPPED_WEIGHTS_DIR)
    assert list(figures.confidence) == list(CONFIDENCE_LEVELS)
    assert sum(r.clips for r in figures.confidence.values()) == len(excerpts)
    right = sum(r.clips * r.accuracy for r in figures.confidence.values() if r.accuracy is not None)
    assert right / len(excerpts) == pytest.approx(figures.accuracy, abs=1e-3)
    assert 0.0 <= figures.ece <= 1.0
    record = figures.record(len(excerpts))
    assert record.collection == COLLECTION and record.clips == 8 and record.confidence == figures.confidence
