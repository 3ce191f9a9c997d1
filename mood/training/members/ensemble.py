"""The ensemble's combination, cross-validated from its members' saved out-of-fold runs.

Each member is calibrated with its held-out fold's temperature, the members' probabilities are
combined as the app combines them (:func:`mood.engine.inference.combine`), with member weights
fitted without that fold, and the ensemble's own temperature is fitted like a member's. The
shipped weights are fitted on every held-out clip. No member is retrained.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mood.constants import ENSEMBLE
from mood.engine.inference import clip_probabilities, combine
from mood.engine.manifest import Combination, CrossValidation, EnsembleManifest
from mood.engine.weights import (
    SHIPPED_WEIGHTS_DIR,
    available_models,
    member_names,
    now_iso,
    read_manifest,
    write_manifest,
)
from mood.training.calibration import negative_log_likelihood
from mood.training.cv import Scorer, calibrated_cv, held_out_clips, run_scorer
from mood.training.dataset import TrainingClip
from mood.training.evaluation import cv_markdown, plot_confusions
from mood.training.paths import DEFAULT_DOCS_DIR, DEFAULT_RUNS_DIR
from mood.training.runs import OutOfFold, load_run

WEIGHT_GRID_STEP = 0.1  # member weights are searched in steps of this
FIGURE_NAME = "cv_confusion.png"
TABLES_NAME = "cv_results.md"


@dataclass(frozen=True)
class EnsemblePlan:
    """Which members to combine, how, and where their runs are and the results go."""

    members: tuple[str, ...] | None = None  # None: see default_members
    combination: Combination = "weighted"
    runs_dir: Path = DEFAULT_RUNS_DIR
    weights_dir: Path = SHIPPED_WEIGHTS_DIR
    docs_dir: Path = DEFAULT_DOCS_DIR


def ensemble_scorer(
    runs: Sequence[OutOfFold],
    member_temperatures: Sequence[dict[int, float]],
    weights_for_fold: Callable[[int], Sequence[float]],
    held_out: Sequence[TrainingClip],
) -> Scorer:
    """Clip probabilities of the ensemble for its own temperature: each member calibrated
    with its held-out fold's temperature, combined as the app combines them, with the member
    weights fitted without that fold."""

    def score(temperature: float, idx: Sequence[int]) -> npt.NDArray[np.float32]:
        rows = []
        for i in idx:
            clip = held_out[i]
            outputs = [
                run.outputs(clip.song_id, t[clip.fold]) for run, t in zip(runs, member_temperatures, strict=True)
            ]
            rows.append(clip_probabilities(combine(outputs, weights_for_fold(clip.fold), temperature)))
        return np.stack(rows)

    return score


def weight_grid(n_members: int, step: float = WEIGHT_GRID_STEP) -> list[tuple[float, ...]]:
    """Every way to share 1 between ``n_members`` in multiples of ``step`` (each member > 0)."""
    units = round(1 / step)
    shares = itertools.product(range(1, units + 1), repeat=n_members)
    return [tuple(u * step for u in combo) for combo in shares if sum(combo) == units]


def fit_member_weights(
    runs: Sequence[OutOfFold],
    member_temperatures: Sequence[dict[int, float]],
    held_out: Sequence[TrainingClip],
    idx: Sequence[int],
) -> tuple[float, ...]:
    """The member weights (on :func:`weight_grid`) with the lowest log-loss on clips ``idx``."""
    true = np.array([held_out[i].mood for i in idx])

    def loss(weights: tuple[float, ...]) -> float:
        scorer = ensemble_scorer(runs, member_temperatures, lambda _fold: weights, held_out)
        return negative_log_likelihood(scorer(1.0, idx), true)

    return min(weight_grid(len(runs)), key=loss)


def default_members(weights_dir: Path) -> list[str]:
    """The members to combine when none are named: the ensemble's own (a new member joins only
    when asked for), or every model of ``weights_dir`` when it has no ensemble yet."""
    if (weights_dir / f"{ENSEMBLE}.json").is_file():
        return member_names(ENSEMBLE, weights_dir)
    return [m for m in available_models(weights_dir) if m != ENSEMBLE]


def score_ensemble(clips: Sequence[TrainingClip], plan: EnsemblePlan) -> CrossValidation:
    """CV figures of the ensemble from its members' saved runs, written into its manifest; also
    redraws the confusion-matrix figure and the Markdown tables of every model."""
    members = list(plan.members or default_members(plan.weights_dir))
    runs = [load_run(plan.runs_dir / f"{m}_oof.npz") for m in members]
    held = held_out_clips(clips, runs[0])
    member_t = [calibrated_cv(run_scorer(run, held), held)[1] for run in runs]
    equal = tuple([1.0 / len(members)] * len(members))
    folds = sorted({c.fold for c in held})
    if plan.combination == "weighted":
        per_fold = {
            fold: fit_member_weights(runs, member_t, held, [i for i, c in enumerate(held) if c.fold != fold])
            for fold in folds
        }
        shipped = fit_member_weights(runs, member_t, held, range(len(held)))
    else:
        per_fold, shipped = dict.fromkeys(folds, equal), equal
    cv, _ = calibrated_cv(ensemble_scorer(runs, member_t, per_fold.__getitem__, held), held)
    manifest = EnsembleManifest(
        name=ENSEMBLE, members=members, created=now_iso(), combination=plan.combination,
        weights=[round(w, 3) for w in shipped] if plan.combination == "weighted" else [], cv=cv,
    )  # fmt: skip
    write_manifest(manifest, plan.weights_dir)
    print(
        f"ensemble of {', '.join(members)} ({plan.combination}, weights {shipped}): "
        f"CV macro-F1 {cv.macro_f1:.3f}, accuracy {cv.accuracy:.3f}",
        file=sys.stderr,
    )
    member_manifests = [read_manifest(m, plan.weights_dir) for m in members]
    cvs = {m.name: m.cv for m in member_manifests if m.cv is not None}
    cvs[ENSEMBLE] = cv
    plot_confusions(cvs, plan.docs_dir / FIGURE_NAME)
    (plan.docs_dir / TABLES_NAME).write_text(cv_markdown(cvs))
    return cv
