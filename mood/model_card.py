"""What the models are and how well they did: the About page's figures, read from the manifests.

A manifest's ``cv`` block (DESIGN.md) holds the cross-validated figures; a model trained
without it (or the random-weight models of the tests) counts as "not yet evaluated".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mood.constants import MODEL_DISPLAY_NAMES, MOOD_DISPLAY_NAMES, MOODS
from mood.weights import ENSEMBLE, available_models, read_manifest

OVERVIEW_COLUMNS = ("model", "accuracy", "macro_f1", "folds", "params", "trained_on")


@dataclass(frozen=True)
class ModelCard:
    """One model's manifest, with the parts the About page shows."""

    name: str
    manifest: dict[str, Any]

    @property
    def display_name(self) -> str:
        """The model's name as people read it, e.g. "ResNet18"."""
        return MODEL_DISPLAY_NAMES.get(self.name, self.name)

    @property
    def cv(self) -> dict[str, Any] | None:
        """The cross-validated figures, or None when the model is not yet evaluated."""
        cv = self.manifest.get("cv")
        return cv if isinstance(cv, dict) and cv.get("confusion") else None

    @property
    def members(self) -> list[str]:
        """The networks it averages: the ensemble's members, else just itself."""
        return list(self.manifest.get("members", [])) if self.name == ENSEMBLE else [self.name]


def model_cards(weights_dir: Path | None = None) -> list[ModelCard]:
    """The cards of every available model: the ensemble first, then the networks.

    Raises:
        ModelError: a manifest is not valid JSON.
    """
    order = list(MODEL_DISPLAY_NAMES)
    names = sorted(available_models(weights_dir), key=lambda n: (order.index(n) if n in order else len(order), n))
    return [ModelCard(name, read_manifest(name, weights_dir)) for name in names]


def confidence_record(model: str, weights_dir: Path | None = None) -> dict[str, Any] | None:
    """How often each confidence level of ``model`` was right in cross-validation (its
    manifest's ``cv.confidence``), or None when the model is not installed or not evaluated that way.

    Raises:
        ModelError: the manifest is not valid JSON.
    """
    if model not in available_models(weights_dir):
        return None
    cv = ModelCard(model, read_manifest(model, weights_dir)).cv
    record = cv.get("confidence") if cv else None
    return record if isinstance(record, dict) else None


def overview_frame(cards: list[ModelCard]) -> pd.DataFrame:
    """One row per model: accuracy, macro-F1, folds, parameters and training data.

    Figures of a model not yet evaluated are missing (NaN / None). The ensemble's
    parameters are the sum of its members', and its training data theirs.
    """
    by_name = {card.name: card.manifest for card in cards}
    rows = []
    for card in cards:
        cv = card.cv or {}
        members = [by_name.get(member, {}) for member in card.members]
        counts = [count for m in members if isinstance(count := m.get("params"), int)]
        rows.append(
            {
                "model": card.display_name,
                "accuracy": cv.get("accuracy", np.nan),
                "macro_f1": cv.get("macro_f1", np.nan),
                "folds": len(cv["folds"]) if "folds" in cv else None,
                "params": sum(counts) if counts and len(counts) == len(members) else None,
                "trained_on": next((m["trained_on"] for m in (card.manifest, *members) if m.get("trained_on")), None),
            }
        )
    return pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))


def per_class_frame(cv: dict[str, Any]) -> pd.DataFrame:
    """Precision, recall and F1 of each mood (rows: display names in ``MOODS`` order)."""
    return pd.DataFrame(
        [cv["per_class"][m] for m in MOODS],
        index=pd.Index([MOOD_DISPLAY_NAMES[m] for m in MOODS], name="mood"),
        columns=["precision", "recall", "f1"],
    )


def confusion_frame(cv: dict[str, Any]) -> pd.DataFrame:
    """The confusion matrix in long form, one row per (true, predicted) pair.

    Columns: ``true`` and ``predicted`` (mood keys), ``count`` (clips), and ``share``:
    the count as a fraction of the clips of that true mood (each row sums to 1).
    """
    counts = np.asarray(cv["confusion"], dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    return pd.DataFrame(
        [
            {"true": true, "predicted": predicted, "count": int(counts[i, j]), "share": float(shares[i, j])}
            for i, true in enumerate(MOODS)
            for j, predicted in enumerate(MOODS)
        ]
    )
