"""Cross-validated figures: how often each confidence level was right, and their Markdown."""

from __future__ import annotations

import numpy as np

from mood.evaluation import confidence_reliability, cv_markdown, cv_metrics

# Rows: clear and right, clear and wrong, leaning and right, mixed and wrong, mixed and right.
PROBABILITIES = np.array(
    [
        [0.80, 0.10, 0.05, 0.05],
        [0.05, 0.70, 0.15, 0.10],
        [0.10, 0.15, 0.45, 0.30],
        [0.30, 0.28, 0.22, 0.20],
        [0.20, 0.18, 0.27, 0.35],
    ],
    dtype=np.float32,
)
TRUE = np.array([0, 2, 2, 1, 3])


def test_confidence_reliability_counts_each_level_and_its_accuracy() -> None:
    record = confidence_reliability(TRUE, PROBABILITIES)
    assert record == {
        "clear": {"clips": 2, "accuracy": 0.5},
        "leaning": {"clips": 1, "accuracy": 1.0},
        "mixed": {"clips": 2, "accuracy": 0.5},
    }


def test_a_level_no_clip_got_has_no_accuracy() -> None:
    record = confidence_reliability(TRUE[:2], PROBABILITIES[:2])
    assert record["leaning"] == {"clips": 0, "accuracy": None}
    assert record["mixed"] == {"clips": 0, "accuracy": None}


def test_markdown_has_the_reliability_table_when_every_model_has_one() -> None:
    cv = cv_metrics(TRUE, PROBABILITIES.argmax(axis=1), [0])
    assert "confidence level was right" not in cv_markdown({"resnet18": cv})

    with_record = {**cv, "confidence": confidence_reliability(TRUE[:2], PROBABILITIES[:2])}
    markdown = cv_markdown({"resnet18": with_record})
    assert "| resnet18 | 2 clips, 50% right | 0 clips | 0 clips |" in markdown
