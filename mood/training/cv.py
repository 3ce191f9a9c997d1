"""Cross-validation for every kind of member: folds, scoring as the app scores, calibration, teachers.

For each held-out fold a member is fitted on the other folds' clips and scored on the held-out
clips exactly as the app scores a song (the mean over its windows of the softmax of the logits
divided by the temperature). Each fold's temperature is fitted on the other folds' out-of-fold
clips only. The shipped member is then fitted on all clips with the same recipe: nothing
(epochs, checkpoint, head) is chosen by looking at a test fold.

**The member interface** (:class:`Member`). A kind of member is one class with:

* ``name``: the model's name (``mood/weights/<name>.json``, ``runs/<name>_oof.npz``);
* ``clips``: the labelled clips it was given, in data-set order (their ``fold`` makes the folds);
* ``fit(train_idx, desc) -> fitted``: a model fitted on ``clips[i] for i in train_idx`` alone
  (anything chosen inside, e.g. a head by inner artist-grouped CV, must use those clips only);
* ``score(fitted, idx) -> OutOfFold``: its logits for clips ``idx``, per window the app cuts.
  A clip-level model gives one "window" per clip: logits of shape ``(1, n_moods)`` (for
  probabilities ``p``, ``log p``), ``starts_s`` ``[0.0]`` and the run's ``window_s`` the clip
  length, and is then calibrated, scored and combined in the ensemble like any other member;
* ``ship(fitted, cv, weights_dir)``: writes its weights and manifest (with the ``cv`` block).

A member that can also be scored on short crops of the held-out clips (:class:`CroppedMember`:
``score_crops(fitted, idx) -> OutOfFold | None``, a run whose ids are
:func:`mood.training.crops.crop_id` and whose ``excerpt_s`` is the crops' length) gets a
temperature for short songs too, fitted on those answers (``calibration.short_clips``); its
crops run is saved beside the clips' (``runs/<name>_crops_oof.npz``).

The fitted model's type is the member's own (a torch module, a scikit-learn pipeline...):
this module never looks inside it. Members trained by gradient descent use
:func:`mood.training.loop.fit` inside ``fit``; others (the coming hybrid member: a clip-level
scikit-learn head on cached musicnn clip statistics and musical features) need not.
:func:`cross_validate_and_ship` runs the folds, saves the run, fits the temperature and ships;
:func:`teacher_from` turns any member into soft targets for distillation.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from mood.engine.familiarity import softening_factors
from mood.engine.inference import apply_temperature, clip_probabilities
from mood.engine.manifest import CrossValidation, FamiliarityCalibration, ShortClipCalibration, parse
from mood.engine.probabilities import softmax
from mood.engine.weights import SHIPPED_WEIGHTS_DIR, read_manifest, write_manifest
from mood.training.calibration import (
    cross_fitted_temperatures,
    expected_calibration_error,
    fit_familiarity_slope,
    fit_temperature,
)
from mood.training.crops import CLIP_LENGTH_S, parent_song_id
from mood.training.dataset import TrainingClip
from mood.training.evaluation import confidence_reliability, cv_metrics, per_fold_macro_f1
from mood.training.paths import ALL_FOLDS, DEFAULT_RUNS_DIR
from mood.training.runs import OutOfFold, load_run, save_run

Fitted = TypeVar("Fitted")
FittedIn = TypeVar("FittedIn", contravariant=True)

Scorer = Callable[[float, Sequence[int]], npt.NDArray[np.float32]]
"""(temperature, clip indices) -> those clips' probabilities, scored as the app scores a song."""


@dataclass(frozen=True)
class ScoredRows:
    """Out-of-fold answers as calibration scores them: the scorer, its clips (or crops) in its
    order, and the temperature each held-out fold's answers are divided by."""

    score: Scorer
    clips: Sequence[TrainingClip]
    fold_temperatures: dict[int, float]

    def answers(self) -> npt.NDArray[np.float32]:
        """Each clip's probabilities with its own fold's temperature, in order."""
        return scored_per_fold(self.score, self.clips, self.fold_temperatures)


class Member(Protocol[Fitted]):
    """A kind of ensemble member, as cross-validation drives it (see the module docstring)."""

    @property
    def name(self) -> str:
        """The model's name."""
        ...

    @property
    def clips(self) -> Sequence[TrainingClip]:
        """The labelled clips, in data-set order."""
        ...

    def fit(self, train_idx: Sequence[int], desc: str) -> Fitted:
        """A model fitted on the clips ``train_idx`` alone (``desc`` labels its progress)."""
        ...

    def score(self, fitted: Fitted, idx: Sequence[int]) -> OutOfFold:
        """The fitted model's window logits for the clips ``idx``."""
        ...

    def ship(self, fitted: Fitted, cv: CrossValidation, weights_dir: Path) -> None:
        """Write the fitted model's weights and manifest, with its cross-validated figures."""
        ...


class RunsMismatch(Exception):
    """Saved runs that cannot be scored together (e.g. members' crops runs of different crops)."""


@runtime_checkable
class CroppedMember(Protocol[FittedIn]):
    """A member that can also be scored on short crops of the clips (see the module docstring)."""

    def score_crops(self, fitted: FittedIn, idx: Sequence[int]) -> OutOfFold | None:
        """The fitted model's window logits for the crops of the clips ``idx`` (None: it has none)."""
        ...


@dataclass(frozen=True)
class Runs:
    """A member's out-of-fold runs: on the held-out clips, and on their crops (None: no crops)."""

    clips: OutOfFold
    crops: OutOfFold | None = None


@dataclass(frozen=True)
class CVPlan:
    """Which folds to hold out, where the run and the weights go, and whether to ship."""

    folds: tuple[int, ...] = ALL_FOLDS
    runs_dir: Path = DEFAULT_RUNS_DIR
    weights_dir: Path = SHIPPED_WEIGHTS_DIR
    final: bool = True  # False: cross-validate only, write no weights
    nested: bool = False  # also the inner out-of-fold runs a stacked ensemble is fitted on


@dataclass(frozen=True)
class Teacher:
    """A stronger model's window probabilities on each training clip: soft targets for distillation."""

    probabilities: list[npt.NDArray[np.float32]]  # per clip, shape (n_windows, n_moods)
    centres_s: list[npt.NDArray[np.float64]]  # per clip, the middle of each window in seconds

    def target(self, clip: int, centre_s: float) -> npt.NDArray[np.float32]:
        """The teacher's probabilities for the window of ``clip`` nearest ``centre_s``."""
        nearest = int(np.abs(self.centres_s[clip] - centre_s).argmin())
        target: npt.NDArray[np.float32] = self.probabilities[clip][nearest]
        return target


TeacherFactory = Callable[[Sequence[int]], Teacher]
"""Training clip indices -> a teacher fitted on those clips alone, and its outputs on them."""


def fold_split(clips: Sequence[TrainingClip], fold: int) -> tuple[list[int], list[int]]:
    """The indices of the clips outside ``fold`` (training) and inside it (held out)."""
    return [i for i, c in enumerate(clips) if c.fold != fold], [i for i, c in enumerate(clips) if c.fold == fold]


def cross_validate(member: Member[Any], folds: Sequence[int]) -> Runs:
    """Out-of-fold window logits of every clip of the held-out ``folds`` (and of their crops,
    for a :class:`CroppedMember` that has them)."""
    runs, crop_runs = [], []
    for fold in folds:
        train_idx, test_idx = fold_split(member.clips, fold)
        fitted = member.fit(train_idx, f"{member.name} fold {fold}")
        runs.append(member.score(fitted, test_idx))
        crops = member.score_crops(fitted, test_idx) if isinstance(member, CroppedMember) else None
        if crops is not None:
            crop_runs.append(crops)
        print(f"{member.name} fold {fold} done", file=sys.stderr)
    return Runs(
        functools.reduce(OutOfFold.merged, runs), functools.reduce(OutOfFold.merged, crop_runs) if crop_runs else None
    )


def run_path(runs_dir: Path, name: str) -> Path:
    """Where a member's out-of-fold run on the clips is saved."""
    return runs_dir / f"{name}_oof.npz"


def crops_run_path(runs_dir: Path, name: str) -> Path:
    """Where a member's out-of-fold run on the clips' crops is saved."""
    return runs_dir / f"{name}_crops_oof.npz"


def nested_run_path(runs_dir: Path, name: str, outer: int) -> Path:
    """Where a member's inner out-of-fold run for held-out fold ``outer`` is saved."""
    return runs_dir / f"{name}_nested_oof_{outer}.npz"


def nested_cross_validate(member: Member[Any], folds: Sequence[int]) -> dict[int, OutOfFold]:
    """For each held-out fold ``outer``, out-of-fold window logits of the clips of the other
    ``folds``, each inner fold scored by the member fitted without it and without ``outer``:
    what a meta-learner for ``outer`` may learn from without any answer having seen ``outer``."""
    nested = {}
    for outer in folds:
        runs = []
        for inner in (f for f in folds if f != outer):
            train_idx = [i for i, c in enumerate(member.clips) if c.fold not in (outer, inner)]
            test_idx = [i for i, c in enumerate(member.clips) if c.fold == inner]
            runs.append(member.score(member.fit(train_idx, f"{member.name} fold {outer}/{inner}"), test_idx))
        nested[outer] = functools.reduce(OutOfFold.merged, runs)
        print(f"{member.name} nested fold {outer} done", file=sys.stderr)
    return nested


def cross_validate_and_ship(member: Member[Any], plan: CVPlan) -> CrossValidation:
    """Cross-validate a member, save its run (and, with ``plan.nested``, its inner runs), and
    (unless ``plan.final`` is off) fit it on all clips and ship it with the calibrated figures;
    returns those figures."""
    started = time.perf_counter()
    runs = cross_validate(member, plan.folds)
    save_run(runs.clips, run_path(plan.runs_dir, member.name))
    if runs.crops is None:  # a crops run of an earlier recipe would not be this member's
        crops_run_path(plan.runs_dir, member.name).unlink(missing_ok=True)
    else:
        save_run(runs.crops, crops_run_path(plan.runs_dir, member.name))
    if plan.nested:
        for outer, inner_run in nested_cross_validate(member, plan.folds).items():
            save_run(inner_run, nested_run_path(plan.runs_dir, member.name, outer))
    cv = calibrated_figures(member.name, member.clips, runs)
    if plan.final:
        member.ship(member.fit(range(len(member.clips)), f"{member.name} all clips"), cv, plan.weights_dir)
        print(f"wrote {plan.weights_dir / member.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return cv


def calibrated_figures(name: str, clips: Sequence[TrainingClip], runs: Runs) -> CrossValidation:
    """The ``cv`` block of a model's runs (:func:`calibrated_cv`, with a crops run its
    ``short_clips``, and when the runs measured each clip's distance from the training music its
    ``familiarity``), its main figures printed."""
    held = held_out_clips(clips, runs.clips)
    clip_score = run_scorer(runs.clips, held)
    cv, clip_t = calibrated_cv(clip_score, held)
    scored = [ScoredRows(clip_score, held, clip_t)]
    if runs.crops is not None:
        crops = crop_clips(clips, runs.crops)
        score = run_scorer(runs.crops, crops)
        short, crop_t = short_clip_calibration(score, crops, scored_per_fold(score, crops, clip_t), runs.crops)
        cv = with_short_clips(cv, short)
        scored.append(ScoredRows(score, crops, crop_t))
        print(f"{name} on {short.length_s:g} s crops: {short_clip_summary(short)}", file=sys.stderr)
    distances = {**runs.clips.distances, **(runs.crops.distances if runs.crops else {})}
    cv = with_familiarity(cv, scored, distances, name)
    print(f"{name}: CV macro-F1 {cv.macro_f1:.3f}, accuracy {cv.accuracy:.3f}", file=sys.stderr)
    return cv


def with_familiarity(
    cv: CrossValidation, scored: Sequence[ScoredRows], distances: dict[str, float], name: str
) -> CrossValidation:
    """``cv`` with :func:`familiarity_calibration` added to its calibration block (printed), or
    as it is when ``distances`` lacks a scored clip (a model that does not measure them)."""
    if not all(c.song_id in distances for rows in scored for c in rows.clips):
        return cv
    familiarity = familiarity_calibration(scored, distances)
    assert cv.calibration is not None  # calibrated_cv always fits one
    print(
        f"{name} familiarity: slope {familiarity.slope:.3f}, ECE {familiarity.ece_before:.3f} -> "
        f"{familiarity.ece_after:.3f} on clips, "
        f"{familiarity.crops_ece_before} -> {familiarity.crops_ece_after} on crops",
        file=sys.stderr,
    )
    return dataclasses.replace(cv, calibration=dataclasses.replace(cv.calibration, familiarity=familiarity))


def familiarity_calibration(scored: Sequence[ScoredRows], distances: dict[str, float]) -> FamiliarityCalibration:
    """The ``familiarity`` block: the slope by which the answer to a song is softened with its
    distance from the training music, fitted on every answer of ``scored`` (the clips, then their
    crops), each calibrated with its fold's temperature, then softened; the figures with each
    fold's slope fitted on the other folds' answers (:class:`mood.engine.manifest.FamiliarityCalibration`)."""
    clips = [c for part in scored for c in part.clips]
    true = np.array([c.mood for c in clips])
    folds = np.array([c.fold for c in clips])
    distance = np.array([distances[c.song_id] for c in clips])
    calibrated = np.vstack([part.answers() for part in scored])

    def softened(slope: float, idx: npt.NDArray[np.int_]) -> npt.NDArray[np.float32]:
        return apply_temperature(calibrated[idx], softening_factors(slope, distance[idx])[:, None])

    def slope_on(idx: npt.NDArray[np.int_]) -> float:
        return fit_familiarity_slope(lambda slope: softened(slope, idx), true[idx])

    after = np.zeros_like(calibrated)
    for fold in sorted(set(folds.tolist())):
        held = np.flatnonzero(folds == fold)
        after[held] = softened(slope_on(np.flatnonzero(folds != fold)), held)
    n_clips = len(scored[0].clips)
    on_clips, on_crops = slice(0, n_clips), slice(n_clips, None)
    crops_ece = [round(expected_calibration_error(p[on_crops], true[on_crops]), 4) for p in (calibrated, after)]
    return FamiliarityCalibration(
        slope=round(slope_on(np.arange(len(clips))), 4),
        clips=len(clips),
        ece_before=round(expected_calibration_error(calibrated[on_clips], true[on_clips]), 4),
        ece_after=round(expected_calibration_error(after[on_clips], true[on_clips]), 4),
        crops_ece_before=crops_ece[0] if len(scored) > 1 else None,
        crops_ece_after=crops_ece[1] if len(scored) > 1 else None,
    )


def recalibrate(name: str, clips: Sequence[TrainingClip], runs_dir: Path, weights_dir: Path) -> CrossValidation:
    """Refit a shipped model's temperatures and figures from its saved runs (``run_path``, and
    ``crops_run_path`` when there is one) into its manifest, without training it again: the
    weights stay as they are, and the ``cv`` block is the runs' (e.g. after calibration learnt
    about short songs).

    Raises:
        FileNotFoundError: the model has no saved run.
        ModelError: the model's manifest is missing or invalid.
    """
    crops = crops_run_path(runs_dir, name)
    runs = Runs(load_run(run_path(runs_dir, name)), load_run(crops) if crops.is_file() else None)
    cv = calibrated_figures(name, clips, runs)
    write_manifest(dataclasses.replace(read_manifest(name, weights_dir), cv=cv), weights_dir)
    return cv


def teacher_from(member: Member[Any]) -> TeacherFactory:
    """Soft targets from a member: given training clips, the member fitted on those clips alone
    and its probabilities for every window of them (the student's clips must be the member's)."""

    def teacher_for(train_idx: Sequence[int]) -> Teacher:
        idx = list(train_idx)
        run = member.score(member.fit(idx, f"{member.name} teacher"), idx)
        clips = [member.clips[i] for i in idx]
        return Teacher(
            probabilities=[softmax(run.logits[c.song_id]) for c in clips],
            centres_s=[run.starts_s[c.song_id] + run.window_s / 2 for c in clips],
        )

    return teacher_for


def held_out_clips(clips: Sequence[TrainingClip], run: OutOfFold) -> list[TrainingClip]:
    """The clips a run scored, in data-set order."""
    return [c for c in clips if c.song_id in run.logits]


def crop_clips(clips: Sequence[TrainingClip], run: OutOfFold) -> list[TrainingClip]:
    """The crops a crops run scored, in its order, as clips: each with its crop id and its clip's mood and fold."""
    by_id = {c.song_id: c for c in clips}
    return [dataclasses.replace(by_id[parent_song_id(i)], song_id=i) for i in run.logits]


def run_scorer(run: OutOfFold, held_out: Sequence[TrainingClip]) -> Scorer:
    """Clip probabilities of one member's run for a temperature, as the app computes them."""

    def score(temperature: float, idx: Sequence[int]) -> npt.NDArray[np.float32]:
        return np.stack([clip_probabilities(run.outputs(held_out[i].song_id, temperature)) for i in idx])

    return score


def calibrated_cv(score: Scorer, held_out: Sequence[TrainingClip]) -> tuple[CrossValidation, dict[int, float]]:
    """The ``cv`` block of a scored model, with its temperature.

    Each fold's clips are scored with a temperature fitted on the other folds' clips only
    (those are the figures); the shipped temperature is fitted on all of them.

    Returns:
        The cross-validated figures and the temperature used for each held-out fold.
    """
    true = np.array([c.mood for c in held_out])
    clip_folds = np.array([c.fold for c in held_out])
    everything = range(len(held_out))
    raw = score(1.0, everything)
    per_fold_t = cross_fitted_temperatures(score, true, clip_folds)
    calibrated = scored_per_fold(score, held_out, per_fold_t)
    predicted = calibrated.argmax(axis=1)
    block: dict[str, Any] = {
        **cv_metrics(true, predicted, sorted(per_fold_t)),
        "per_fold_macro_f1": per_fold_macro_f1(true, predicted, clip_folds),
        "confidence": confidence_reliability(true, calibrated),
        "calibration": {
            "method": "temperature, fitted on the other folds' clips",
            "temperature": round(fit_temperature(lambda t: score(t, everything), true), 4),
            "ece_before": round(expected_calibration_error(raw, true), 4),
            "ece_after": round(expected_calibration_error(calibrated, true), 4),
        },
    }
    return parse(CrossValidation, block, "cross-validation", "cv"), per_fold_t


def short_clip_calibration(
    score: Scorer, crops: Sequence[TrainingClip], before: npt.NDArray[np.float32], run: OutOfFold
) -> tuple[ShortClipCalibration, dict[int, float]]:
    """The ``short_clips`` block of a model's crops run, and the crops' temperature for each held-out fold.

    Args:
        score: the crops' probabilities for a temperature (the model's own; anything inside it,
            e.g. an ensemble's members, already calibrated for short songs).
        crops: the crops, in ``score``'s order.
        before: their probabilities as whole clips' temperatures calibrate them (``ece_clip_temperature``).
        run: the crops run (how long its crops are).
    """
    assert run.excerpt_s is not None  # a crops run says how long its crops are
    crops_cv, per_fold_t = calibrated_cv(score, crops)
    assert crops_cv.calibration is not None  # calibrated_cv always fits one
    block = ShortClipCalibration(
        length_s=run.excerpt_s,
        clip_length_s=CLIP_LENGTH_S,
        clips=len(crops),
        macro_f1=crops_cv.macro_f1,
        temperature=crops_cv.calibration.temperature,
        ece_clip_temperature=round(expected_calibration_error(before, np.array([c.mood for c in crops])), 4),
        ece_after=crops_cv.calibration.ece_after,
    )
    return block, per_fold_t


def scored_per_fold(
    score: Scorer, clips: Sequence[TrainingClip], temperatures: dict[int, float]
) -> npt.NDArray[np.float32]:
    """Each clip's probabilities with its own fold's temperature."""
    folds = np.array([c.fold for c in clips])
    out = score(1.0, range(len(clips)))
    for fold, temperature in temperatures.items():
        idx = [int(i) for i in np.flatnonzero(folds == fold)]
        out[idx] = score(temperature, idx)
    return out


def with_short_clips(cv: CrossValidation, short: ShortClipCalibration) -> CrossValidation:
    """``cv`` with the short songs' calibration added to its calibration block."""
    assert cv.calibration is not None  # calibrated_cv always fits one
    return dataclasses.replace(cv, calibration=dataclasses.replace(cv.calibration, short_clips=short))


def short_clip_summary(short: ShortClipCalibration) -> str:
    """One line of the short songs' calibration figures."""
    return (
        f"macro-F1 {short.macro_f1:.3f}, temperature {short.temperature:.2f}, ECE {short.ece_clip_temperature:.3f} "
        f"with the clips' temperature, {short.ece_after:.3f} with the crops'"
    )
