"""How the shipped models do on music from another collection: the Grekow set (321 six-second
GTZAN excerpts with valence/arousal ratings and quadrants), never used in training.

    python -m mood.training transfer                 # every shipped model; writes docs/transfer_results.md
    python -m mood.training transfer --model musicnn

Each excerpt is judged exactly as the app judges a song; the figures are the quadrant
macro-F1 and the Spearman correlation of the predicted valence and arousal with the ratings,
the calibration error and how often each confidence level was right. A run over every shipped
model also records its figures in each model's manifest (``transfer``), which the app quotes
beside the cross-validated ones.
"""

from __future__ import annotations

import csv
import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import f1_score
from tqdm import tqdm

from mood.constants import MODEL_NAMES, MOODS
from mood.engine.inference import Predictor
from mood.engine.manifest import Reliability, Transfer
from mood.engine.weights import available_models, read_manifest, resolve_weights_dir, write_manifest
from mood.presentation.model_card import display_name
from mood.training.calibration import expected_calibration_error
from mood.training.evaluation import confidence_reliability
from mood.training.paths import REPO_DIR

DEFAULT_GREKOW_DIR = REPO_DIR.parent / "shared" / "data" / "grekow"
COLLECTION = "Grekow: six-second excerpts of ten other genres (GTZAN), rated by listeners"
TABLE_NAME = "transfer_results.md"


@dataclass(frozen=True)
class RatedExcerpt:
    """One excerpt of the Grekow set with its ratings (-10..10) and quadrant mood."""

    path: Path
    genre: str
    valence: float
    arousal: float
    mood: str


@dataclass(frozen=True)
class TransferFigures:
    """A model's figures on the Grekow set."""

    model: str
    macro_f1: float
    accuracy: float
    valence_rho: float
    arousal_rho: float
    per_genre_accuracy: dict[str, float]
    ece: float
    confidence: dict[str, Reliability]

    def record(self, n_clips: int) -> Transfer:
        """The manifest's ``transfer`` block of these figures."""
        return Transfer(
            COLLECTION,
            n_clips,
            self.macro_f1,
            self.accuracy,
            self.valence_rho,
            self.arousal_rho,
            self.ece,
            self.confidence,
        )


def read_excerpts(data_dir: Path) -> list[RatedExcerpt]:
    """The excerpts listed in ``data_dir/metadata.csv``."""
    with (data_dir / "metadata.csv").open(newline="") as f:
        return [
            RatedExcerpt(data_dir / r["path"], r["genre"], float(r["valence"]), float(r["arousal"]), r["mood"])
            for r in csv.DictReader(f)
        ]


def measure(model: str, excerpts: Sequence[RatedExcerpt], weights_dir: Path | None = None) -> TransferFigures:
    """Judge every excerpt with ``model`` and score the answers against the ratings."""
    predictor = Predictor(model, weights_dir)
    predictions = [predictor.predict(e.path) for e in tqdm(excerpts, desc=model, unit="clip", file=sys.stderr)]
    true = np.array([MOODS.index(e.mood) for e in excerpts])
    predicted = np.array([MOODS.index(p.mood) for p in predictions])
    genres = np.array([e.genre for e in excerpts])
    probabilities = np.array([[p.probabilities[m] for m in MOODS] for p in predictions], dtype=np.float32)
    return TransferFigures(
        model=model,
        macro_f1=round(float(f1_score(true, predicted, average="macro")), 4),
        accuracy=round(float((true == predicted).mean()), 4),
        valence_rho=round(float(spearmanr([p.valence for p in predictions], [e.valence for e in excerpts])[0]), 4),
        arousal_rho=round(float(spearmanr([p.arousal for p in predictions], [e.arousal for e in excerpts])[0]), 4),
        per_genre_accuracy={
            g: round(float((true[genres == g] == predicted[genres == g]).mean()), 3) for g in sorted(set(genres))
        },
        ece=round(expected_calibration_error(probabilities, true), 4),
        confidence={
            level: Reliability(**entry) for level, entry in confidence_reliability(true, probabilities).items()
        },
    )


def transfer_markdown(figures: Sequence[TransferFigures]) -> str:
    """The figures as a Markdown table, then accuracy per genre."""
    lines = [
        "| model | quadrant macro-F1 | accuracy | valence Spearman rho | arousal Spearman rho | ECE "
        "| clear: share, right | leaning: share, right | mixed: share, right |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        rhos = f"{f.valence_rho:.2f} | {f.arousal_rho:.2f}"
        total = sum(r.clips for r in f.confidence.values()) or 1
        levels = " | ".join(
            f"{r.clips / total:.0%}, {'-' if r.accuracy is None else f'{r.accuracy:.0%}'}"
            for r in f.confidence.values()
        )
        lines.append(
            f"| {display_name(f.model)} | **{f.macro_f1:.3f}** | {f.accuracy:.3f} | {rhos} | {f.ece:.3f} | {levels} |"
        )
    genres = list(figures[0].per_genre_accuracy) if figures else []
    lines += ["", "Accuracy per genre", "", "| model | " + " | ".join(genres) + " |", "|---|" + "---|" * len(genres)]
    lines += [
        f"| {display_name(f.model)} | " + " | ".join(f"{f.per_genre_accuracy[g]:.2f}" for g in genres) + " |"
        for f in figures
    ]
    return "\n".join(lines) + "\n"


def transfer(models: Sequence[str], data_dir: Path, docs_dir: Path | None) -> str:
    """Measure ``models`` (default: every shipped one) on the excerpts in ``data_dir``; the table.
    With ``docs_dir`` (a run over every shipped model) the table is written there and each
    model's figures into its manifest."""
    excerpts = read_excerpts(data_dir)
    chosen = list(models) or [m for m in MODEL_NAMES if m in available_models()]
    figures = [measure(m, excerpts) for m in chosen]
    table = transfer_markdown(figures)
    if docs_dir is not None:
        (docs_dir / TABLE_NAME).write_text(table)
        record_transfer(figures, len(excerpts))
    return table


def record_transfer(figures: Sequence[TransferFigures], n_clips: int, weights_dir: Path | None = None) -> None:
    """Write each model's figures into its manifest's ``transfer`` block (nothing else changes)."""
    for f in figures:
        manifest = read_manifest(f.model, weights_dir)
        write_manifest(dataclasses.replace(manifest, transfer=f.record(n_clips)), resolve_weights_dir(weights_dir))
