"""What the models are and how well they did: the About page's figures, read from the manifests.

A manifest's ``cv`` block (docs/DESIGN.md) holds the cross-validated figures; a model trained
without it (or the random-weight models of the tests) counts as "not yet evaluated".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mood.constants import MODEL_DISPLAY_NAMES, MODEL_NAMES, MOOD_DISPLAY_NAMES, MOODS
from mood.engine.manifest import (
    CrossValidation,
    EnsembleManifest,
    Manifest,
    NetworkManifest,
    Reliability,
    Transfer,
    row_shares,
)
from mood.engine.weights import available_models, read_manifest

OVERVIEW_COLUMNS = ("model", "accuracy", "macro_f1", "ece", "folds", "params", "trained_on")


def display_name(model: str) -> str:
    """A model's name as people read it, e.g. "ResNet18" (its id when it has none)."""
    return MODEL_DISPLAY_NAMES.get(model, model)


@dataclass(frozen=True)
class ModelCard:
    """One model's manifest, with the parts the About page shows."""

    manifest: Manifest

    @property
    def name(self) -> str:
        """The model's id."""
        return self.manifest.name

    @property
    def display_name(self) -> str:
        """The model's name as people read it."""
        return display_name(self.name)

    @property
    def cv(self) -> CrossValidation | None:
        """The cross-validated figures, or None when the model is not yet evaluated."""
        return self.manifest.cv

    @property
    def members(self) -> list[str]:
        """The networks it combines: the ensemble's members, else just itself."""
        return list(self.manifest.members) if isinstance(self.manifest, EnsembleManifest) else [self.name]


def model_cards(weights_dir: Path | None = None) -> list[ModelCard]:
    """The cards of every available model, in ``MODEL_NAMES`` order (others after, by name).

    Raises:
        ModelError: a manifest is invalid.
    """
    order = list(MODEL_NAMES)
    names = sorted(available_models(weights_dir), key=lambda n: (order.index(n) if n in order else len(order), n))
    return [ModelCard(read_manifest(name, weights_dir)) for name in names]


def installed_models(weights_dir: Path | None = None) -> list[str]:
    """The models a listener can choose, in ``MODEL_NAMES`` order."""
    available = set(available_models(weights_dir))
    return [m for m in MODEL_NAMES if m in available]


def confidence_record(model: str, weights_dir: Path | None = None) -> dict[str, Reliability] | None:
    """How often each confidence level of ``model`` was right in cross-validation (its
    manifest's ``cv.confidence``), or None when the model is not installed or not evaluated that way.

    Raises:
        ModelError: the manifest is invalid.
    """
    if model not in available_models(weights_dir):
        return None
    cv = read_manifest(model, weights_dir).cv
    return cv.confidence if cv and cv.confidence else None


def transfer_record(model: str, weights_dir: Path | None = None) -> Transfer | None:
    """``model``'s figures on music from another collection (its manifest's ``transfer``), or None
    when the model is not installed or was not measured there.

    Raises:
        ModelError: the manifest is invalid.
    """
    if model not in available_models(weights_dir):
        return None
    return read_manifest(model, weights_dir).transfer


def overview_frame(cards: list[ModelCard]) -> pd.DataFrame:
    """One row per model: accuracy, macro-F1, calibration error, folds, parameters and training data.

    Figures of a model not yet evaluated are missing (NaN / None). The ensemble's
    parameters are the sum of its members', and its training data theirs.
    """
    networks = {card.name: card.manifest for card in cards if isinstance(card.manifest, NetworkManifest)}
    rows = []
    for card in cards:
        cv = card.cv
        members = [networks[m] for m in card.members if m in networks]
        complete = len(members) == len(card.members)
        rows.append(
            {
                "model": card.display_name,
                "accuracy": cv.accuracy if cv else np.nan,
                "macro_f1": cv.macro_f1 if cv else np.nan,
                "ece": cv.calibration.ece_after if cv and cv.calibration else np.nan,
                "folds": len(cv.folds) if cv else None,
                "params": sum(m.params for m in members) if complete else None,
                "trained_on": next((m.trained_on for m in members if m.trained_on), None),
            }
        )
    return pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))


def per_class_frame(cv: CrossValidation) -> pd.DataFrame:
    """Precision, recall and F1 of each mood (rows: display names in ``MOODS`` order)."""
    return pd.DataFrame(
        [vars(cv.per_class[m]) for m in MOODS],
        index=pd.Index([MOOD_DISPLAY_NAMES[m] for m in MOODS], name="mood"),
        columns=["precision", "recall", "f1"],
    )


def confusion_frame(cv: CrossValidation) -> pd.DataFrame:
    """The confusion matrix in long form, one row per (true, predicted) pair.

    Columns: ``true`` and ``predicted`` (mood keys), ``count`` (clips), and ``share``:
    the count as a fraction of the clips of that true mood (each row sums to 1).
    """
    counts = np.asarray(cv.confusion)
    shares = row_shares(cv.confusion)
    return pd.DataFrame(
        [
            {"true": true, "predicted": predicted, "count": int(counts[i, j]), "share": float(shares[i, j])}
            for i, true in enumerate(MOODS)
            for j, predicted in enumerate(MOODS)
        ]
    )
