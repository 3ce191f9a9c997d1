"""The About page's figures, read from the manifests."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mood.constants import MOODS
from mood.engine.manifest import Reliability, Transfer
from mood.engine.weights import read_manifest, write_manifest
from mood.presentation.model_card import (
    confidence_record,
    confusion_frame,
    display_name,
    model_cards,
    overview_frame,
    per_class_frame,
    transfer_record,
)
from tests.helpers import typed_cv

CV = {
    "folds": [0, 1, 2, 3, 4],
    "accuracy": 0.6,
    "macro_f1": 0.59,
    "per_class": {m: {"precision": 0.5 + i / 10, "recall": 0.6, "f1": 0.55} for i, m in enumerate(MOODS)},
    "confusion": [[40, 5, 3, 2], [6, 38, 4, 2], [2, 3, 30, 15], [3, 1, 14, 32]],
}


def test_models_without_cv_are_not_yet_evaluated(random_weights_dir: Path) -> None:
    cards = model_cards(random_weights_dir)
    assert [c.name for c in cards] == ["ensemble", "resnet18", "cldnn"]
    assert all(card.cv is None for card in cards)
    assert [c.members for c in cards] == [["resnet18", "cldnn"], ["resnet18"], ["cldnn"]]
    overview = overview_frame(cards)
    assert overview["model"].tolist() == ["Ensemble", "ResNet18", "CLDNN"]
    assert [c.display_name for c in cards] == overview["model"].tolist()
    assert overview["accuracy"].isna().all() and overview["folds"].isna().all()
    resnet, cldnn = (read_manifest(n, random_weights_dir).params for n in ("resnet18", "cldnn"))
    assert overview["params"].tolist() == [resnet + cldnn, resnet, cldnn]
    assert overview["trained_on"].tolist() == ["random init (tests)"] * 3  # the ensemble: its members' data


def test_cross_validated_figures(random_weights_dir: Path, tmp_path: Path) -> None:
    folder = shutil.copytree(random_weights_dir, tmp_path / "weights")
    write_manifest(dataclasses.replace(read_manifest("cldnn", folder), cv=typed_cv(CV)), folder)
    cards = {card.name: card for card in model_cards(folder)}
    cv = cards["cldnn"].cv
    assert cv == typed_cv(CV) and cards["resnet18"].cv is None
    assert cv is not None and cv.per_class["sad"].precision == pytest.approx(0.7) and cv.calibration is None
    overview = overview_frame(list(cards.values())).set_index("model")
    assert overview.loc["CLDNN", "macro_f1"] == 0.59 and overview.loc["CLDNN", "folds"] == 5
    assert overview.loc["CLDNN", "accuracy"] == 0.6 and pd.isna(overview.loc["ResNet18", "accuracy"])

    per_class = per_class_frame(cv)
    assert per_class.loc["Angry / tense", "precision"] == pytest.approx(0.6)
    assert list(per_class.columns) == ["precision", "recall", "f1"]

    confusion = confusion_frame(cv)
    assert len(confusion) == len(MOODS) ** 2
    assert confusion.groupby("true")["share"].sum().tolist() == pytest.approx([1.0] * 4)
    assert confusion.set_index(["true", "predicted"]).loc[("sad", "calm"), "count"] == 15


def test_confidence_record_comes_from_the_manifest(random_weights_dir: Path, tmp_path: Path) -> None:
    folder = shutil.copytree(random_weights_dir, tmp_path / "weights")
    record = {"clear": {"clips": 30, "accuracy": 0.9}, "leaning": {"clips": 10, "accuracy": 0.6}}
    cv = typed_cv({**CV, "confidence": record})
    write_manifest(dataclasses.replace(read_manifest("ensemble", folder), cv=cv), folder)
    assert confidence_record("ensemble", folder) == {
        "clear": Reliability(clips=30, accuracy=0.9),
        "leaning": Reliability(clips=10, accuracy=0.6),
    }
    assert confidence_record("cldnn", folder) is None  # not evaluated
    assert confidence_record("bigger", folder) is None  # not installed


def test_transfer_record_comes_from_the_manifest(random_weights_dir: Path, tmp_path: Path) -> None:
    folder = shutil.copytree(random_weights_dir, tmp_path / "weights")
    measured = Transfer("Grekow", 321, 0.5, 0.5, 0.4, 0.8, 0.2, {"clear": Reliability(clips=100, accuracy=0.6)})
    write_manifest(dataclasses.replace(read_manifest("ensemble", folder), transfer=measured), folder)
    assert transfer_record("ensemble", folder) == measured  # written and read back through the typed manifest
    assert transfer_record("cldnn", folder) is None  # not measured
    assert transfer_record("bigger", folder) is None  # not installed


def test_display_names() -> None:
    assert [display_name(m) for m in ("ensemble", "resnet18", "cldnn")] == [
        "Ensemble",
        "ResNet18",
        "CLDNN",
    ]
    assert display_name("bigger") == "bigger"  # a model without a display name keeps its id
