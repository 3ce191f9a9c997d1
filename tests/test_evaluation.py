"""Cross-validated figures: how often each confidence level was right, and their Markdown."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from mood.engine.manifest import Reliability
from mood.training.evaluation import (
    confidence_reliability,
    cv_markdown,
    cv_metrics,
    plot_confusions,
    row_shares,
)
from tests.helpers import cv_block, typed_cv

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
    assert "confidence level was right" not in cv_markdown({"resnet18": typed_cv(cv)})

    with_record = typed_cv({**cv, "confidence": confidence_reliability(TRUE[:2], PROBABILITIES[:2])})
    assert with_record.confidence["leaning"] == Reliability(clips=0, accuracy=None)
    markdown = cv_markdown({"resnet18": with_record})
    assert "| resnet18 | 2 clips, 50% right | 0 clips | 0 clips |" in markdown
    # ... and only when every model has one
    assert "confidence level was right" not in cv_markdown({"resnet18": with_record, "cldnn": typed_cv(cv)})


# No "sad" clip in these folds: the third row of the confusion matrix is all zeros.
CONFUSION_WITH_AN_EMPTY_ROW = [[3, 1, 0, 0], [0, 2, 0, 2], [0, 0, 0, 0], [1, 0, 0, 3]]


def test_a_mood_without_clips_has_a_row_of_zero_shares() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shares = row_shares(CONFUSION_WITH_AN_EMPTY_ROW)
    assert not np.isnan(shares).any()
    np.testing.assert_array_equal(shares[2], [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(shares[0], [0.75, 0.25, 0.0, 0.0])
    np.testing.assert_allclose(shares[1], [0.0, 0.5, 0.0, 0.5])
    np.testing.assert_allclose(shares.sum(axis=1), [1.0, 1.0, 0.0, 1.0])


def test_the_confusion_figure_of_a_mood_without_clips(tmp_path: Path) -> None:
    true = np.array([0, 0, 0, 0, 1, 1, 1, 1, 3, 3, 3, 3])
    predicted = np.array([0, 0, 0, 1, 1, 1, 3, 3, 0, 3, 3, 3])
    cv = typed_cv(cv_metrics(true, predicted, [0]))
    assert cv.confusion == CONFUSION_WITH_AN_EMPTY_ROW
    path = tmp_path / "figures" / "confusion.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_confusions({"resnet18": cv, "cldnn": cv}, path)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_tables_give_the_short_songs_calibration_of_the_models_that_have_one() -> None:
    calibration = {"method": "temperature", "temperature": 0.57, "ece_before": 0.1, "ece_after": 0.026}
    short = {"length_s": 6.0, "clip_length_s": 30.0, "clips": 1800, "macro_f1": 0.704, "temperature": 0.9,
             "ece_clip_temperature": 0.099, "ece_after": 0.023}  # fmt: skip
    one_temperature = typed_cv(cv_block([[1] * 4] * 4, calibration=calibration))
    two = typed_cv(cv_block([[1] * 4] * 4, calibration=calibration | {"short_clips": short}))
    markdown = cv_markdown({"musicnn": two, "resnet18": one_temperature})
    assert "| musicnn | 1800 of 6 s | 0.704 | 0.90 | 0.099 | 0.023 |" in markdown
    assert "| resnet18 | 1800" not in markdown
    assert "Short songs" not in cv_markdown({"resnet18": one_temperature})


def test_the_tables_give_the_familiarity_softening_of_the_models_that_have_one() -> None:
    calibration = {"method": "temperature", "temperature": 0.96, "ece_before": 0.03, "ece_after": 0.012}
    familiarity = {"slope": 0.246, "clips": 2700, "ece_before": 0.012, "ece_after": 0.017,
                   "crops_ece_before": 0.0204, "crops_ece_after": 0.0191}  # fmt: skip
    softened = typed_cv(cv_block([[1] * 4] * 4, calibration=calibration | {"familiarity": familiarity}))
    plain = typed_cv(cv_block([[1] * 4] * 4, calibration=calibration))
    markdown = cv_markdown({"ensemble": softened, "cldnn": plain})
    assert "| ensemble | 0.246 | 2700 | 0.012 | 0.017 | 0.020 | 0.019 |" in markdown
    assert "| cldnn | 0." not in markdown.split("Songs unlike the training music")[1].split("**")[0]
    assert "Songs unlike" not in cv_markdown({"cldnn": plain})
