"""The About page's figures, read from the manifests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mood.constants import MOODS
from mood.model_card import confidence_record, confusion_frame, model_cards, overview_frame, per_class_frame
from mood.weights import read_manifest, write_manifest

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
    overview = overview_frame(cards)
    assert overview["model"].tolist() == ["Average of both", "ResNet18", "CLDNN"]
    assert overview["accuracy"].isna().all() and overview["folds"].isna().all()
    resnet, cldnn = (read_manifest(n, random_weights_dir)["params"] for n in ("resnet18", "cldnn"))
    assert overview["params"].tolist() == [resnet + cldnn, resnet, cldnn]
    assert overview["trained_on"].tolist() == ["random init (tests)"] * 3  # the ensemble: its members' data


def test_cross_validated_figures(random_weights_dir: Path, tmp_path: Path) -> None:
    folder = shutil.copytree(random_weights_dir, tmp_path / "weights")
    write_manifest({**read_manifest("cldnn", folder), "cv": CV}, "cldnn", folder)
    cards = {card.name: card for card in model_cards(folder)}
    assert cards["cldnn"].cv == CV and cards["resnet18"].cv is None
    overview = overview_frame(list(cards.values())).set_index("model")
    assert overview.loc["CLDNN", "macro_f1"] == 0.59 and overview.loc["CLDNN", "folds"] == 5

    per_class = per_class_frame(CV)
    assert per_class.loc["Angry / tense", "precision"] == pytest.approx(0.6)
    assert list(per_class.columns) == ["precision", "recall", "f1"]

    confusion = confusion_frame(CV)
    assert len(confusion) == len(MOODS) ** 2
    assert confusion.groupby("true")["share"].sum().tolist() == pytest.approx([1.0] * 4)
    assert confusion.set_index(["true", "predicted"]).loc[("sad", "calm"), "count"] == 15


def test_confidence_record_comes_from_the_manifest(random_weights_dir: Path, tmp_path: Path) -> None:
    folder = shutil.copytree(random_weights_dir, tmp_path / "weights")
    record = {"clear": {"clips": 30, "accuracy": 0.9}, "leaning": {"clips": 10, "accuracy": 0.6}}
    write_manifest({**read_manifest("ensemble", folder), "cv": {**CV, "confidence": record}}, "ensemble", folder)
    assert confidence_record("ensemble", folder) == record
    assert confidence_record("cldnn", folder) is None  # not evaluated
    assert confidence_record("bigger", folder) is None  # not installed
