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
from mood.engine.features import FloatArray
from mood.engine.inference import Predictor
from mood.engine.manifest import Reliability, Transfer
from mood.engine.weights import available_models, read_manifest, resolve_weights_dir, write_manifest
from mood.presentation.model_card import display_name
from mood.training.calibration import expected_calibration_error
from mood.training.evaluation import confidence_reliability, valence_arousal
from mood.training.paths import REPO_DIR

DEFAULT_GREKOW_DIR = REPO_DIR.parent / "shared" / "data" / "grekow"
COLLECTION = "Grekow: six-second excerpts of ten other genres (GTZAN), rated by listeners"
TABLE_NAME = "transfer_results.md"
EM_ITERATIONS = 200  # the prior correction's EM steps at most


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


def judge_excerpts(model: str, excerpts: Sequence[RatedExcerpt], weights_dir: Path | None = None) -> FloatArray:
    """Each excerpt's probabilities ``(n_excerpts, n_moods)``, judged as the app judges a song."""
    predictor = Predictor(model, weights_dir)
    predictions = [predictor.predict(e.path) for e in tqdm(excerpts, desc=model, unit="clip", file=sys.stderr)]
    return np.array([[p.probabilities[m] for m in MOODS] for p in predictions], dtype=np.float32)


def score_answers(model: str, probabilities: FloatArray, excerpts: Sequence[RatedExcerpt]) -> TransferFigures:
    """The figures of ``model``'s answers (``(n_excerpts, n_moods)``) against the ratings."""
    true = np.array([MOODS.index(e.mood) for e in excerpts])
    predicted = probabilities.argmax(axis=1)
    genres = np.array([e.genre for e in excerpts])
    valence, arousal = valence_arousal(probabilities)
    return TransferFigures(
        model=model,
        macro_f1=round(float(f1_score(true, predicted, average="macro")), 4),
        accuracy=round(float((true == predicted).mean()), 4),
        valence_rho=round(float(spearmanr(valence, [e.valence for e in excerpts])[0]), 4),
        arousal_rho=round(float(spearmanr(arousal, [e.arousal for e in excerpts])[0]), 4),
        per_genre_accuracy={
            g: round(float((true[genres == g] == predicted[genres == g]).mean()), 3) for g in sorted(set(genres))
        },
        ece=round(expected_calibration_error(probabilities, true), 4),
        confidence={
            level: Reliability(**entry) for level, entry in confidence_reliability(true, probabilities).items()
        },
    )


def with_estimated_priors(
    probabilities: FloatArray, training_priors: FloatArray | None = None, iterations: int = EM_ITERATIONS
) -> tuple[FloatArray, FloatArray]:
    """A collection's answers adjusted to the mood shares it seems to have, estimated from those
    answers alone (no labels): the EM of Saerens, Latinne & Decaestecker (2002).

    Args:
        probabilities: the model's answers ``(n_clips, n_moods)``, calibrated on the training set.
        training_priors: the moods' shares in training (default: equal, as in 4Q).
        iterations: EM steps at most (it stops when the shares move less than 1e-6).

    Returns:
        The adjusted answers, and the estimated shares ``(n_moods,)``.
    """
    train = np.full(probabilities.shape[1], 1 / probabilities.shape[1]) if training_priors is None else training_priors
    priors = train.copy()
    adjusted = probabilities.astype(np.float64)
    for _ in range(iterations):
        weighted = probabilities * (priors / train)
        adjusted = weighted / weighted.sum(axis=1, keepdims=True)
        new = adjusted.mean(axis=0)
        converged = np.abs(new - priors).max() < 1e-6
        priors = new
        if converged:
            break
    return adjusted.astype(np.float32), priors.astype(np.float32)


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
    """Measure ``models`` (default: every shipped one) on the excerpts in ``data_dir``; the table,
    then the same answers after the prior correction (:func:`with_estimated_priors`). With
    ``docs_dir`` (a run over every shipped model) the tables are written there and each model's
    figures (without the correction) into its manifest."""
    excerpts = read_excerpts(data_dir)
    chosen = list(models) or [m for m in MODEL_NAMES if m in available_models()]
    answers = {m: judge_excerpts(m, excerpts) for m in chosen}
    figures = [score_answers(m, p, excerpts) for m, p in answers.items()]
    corrected = {m: with_estimated_priors(p) for m, p in answers.items()}
    table = transfer_markdown(figures) + "\n" + prior_correction_markdown(corrected, excerpts)
    if docs_dir is not None:
        (docs_dir / TABLE_NAME).write_text(table)
        record_transfer(figures, len(excerpts))
    return table


def prior_correction_markdown(
    corrected: dict[str, tuple[FloatArray, FloatArray]], excerpts: Sequence[RatedExcerpt]
) -> str:
    """The figures after the prior correction, with the mood shares it estimated and the true ones."""
    true = np.bincount([MOODS.index(e.mood) for e in excerpts], minlength=len(MOODS)) / len(excerpts)
    shares = " / ".join(f"{t:.0%}" for t in true)
    lines = [
        "With the prior correction (EM on the collection's own answers, Saerens et al. 2002; no labels used). "
        f"True shares (happy / angry / sad / calm): {shares}.",
        "",
        "| model | quadrant macro-F1 | accuracy | valence Spearman rho | arousal Spearman rho | ECE "
        "| estimated shares |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, (adjusted, priors) in corrected.items():
        f = score_answers(model, adjusted, excerpts)
        estimated = " / ".join(f"{p:.0%}" for p in priors)
        lines.append(
            f"| {display_name(model)} | **{f.macro_f1:.3f}** | {f.accuracy:.3f} | {f.valence_rho:.2f} | "
            f"{f.arousal_rho:.2f} | {f.ece:.3f} | {estimated} |"
        )
    return "\n".join(lines) + "\n"


def record_transfer(figures: Sequence[TransferFigures], n_clips: int, weights_dir: Path | None = None) -> None:
    """Write each model's figures into its manifest's ``transfer`` block (nothing else changes)."""
    for f in figures:
        manifest = read_manifest(f.model, weights_dir)
        write_manifest(dataclasses.replace(manifest, transfer=f.record(n_clips)), resolve_weights_dir(weights_dir))
