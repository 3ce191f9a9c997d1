"""The ensemble's combination, cross-validated from its members' saved out-of-fold runs.

Each member is calibrated with its held-out fold's temperature, the members' probabilities are
combined as the app combines them (:func:`mood.engine.inference.combiner_of`), and the
ensemble's own temperature is fitted like a member's. No member is retrained. When every member
has a crops run (``runs/<name>_crops_oof.npz``), the ensemble's temperature for short songs is
fitted the same way on the crops, each member calibrated with its own crop temperature.

* ``weighted``: member weights on a grid, fitted on the other folds' out-of-fold clips; the
  shipped weights on every held-out clip.
* ``stacked``: a logistic-regression meta-learner on the members' window log-probabilities
  (:func:`mood.engine.inference.stack`), fully nested: the one scoring fold ``k`` learns from
  the members' inner runs (``--nested``: fitted without ``k`` and without the clip's own inner
  fold, each member calibrated inside them), so no clip's figure ever saw its own label. The
  shipped meta-learner learns from every clip's out-of-fold answers.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from mood.constants import ENSEMBLE, MODEL_NAMES
from mood.engine.hybrid import PATCH_OUTPUTS
from mood.engine.inference import Combiner, WindowOutputs, clip_probabilities, stacked, stacking_inputs, weighted
from mood.engine.integrity import sha256_of
from mood.engine.manifest import (
    Combination,
    CrossValidation,
    EnsembleManifest,
    HybridManifest,
    SharedExport,
    ShortClipCalibration,
    Stacking,
)
from mood.engine.models.musicnn_mood import MusicnnMood, SharedPatchAnswers
from mood.engine.onnx_export import ONNX_OPSET, export_network
from mood.engine.serving import ONNX_OUTPUT
from mood.engine.torch_weights import load_network
from mood.engine.weights import (
    SHIPPED_WEIGHTS_DIR,
    available_models,
    member_names,
    now_iso,
    read_ensemble_manifest,
    read_manifest,
    read_network_manifest,
    write_manifest,
)
from mood.training.calibration import negative_log_likelihood
from mood.training.cv import (
    RunsMismatch,
    ScoredRows,
    Scorer,
    calibrated_cv,
    crop_clips,
    crops_run_path,
    held_out_clips,
    nested_run_path,
    run_path,
    run_scorer,
    scored_per_fold,
    short_clip_calibration,
    with_familiarity,
    with_short_clips,
)
from mood.training.dataset import TrainingClip
from mood.training.evaluation import cv_markdown, plot_confusions
from mood.training.members.musicnn import ARCHITECTURE as MUSICNN_ARCHITECTURE
from mood.training.members.musicnn import pretrained_network
from mood.training.paths import DEFAULT_DOCS_DIR, DEFAULT_RUNS_DIR
from mood.training.runs import OutOfFold, load_run

SHARED_EXPORT_FILE = "ensemble.onnx"  # the graph two members share, when they can
WEIGHT_GRID_STEP = 0.1  # member weights are searched in steps of this
STACKING_C = 1.0  # the meta-learner's inverse regularisation (few inputs: barely regularised)
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
    combiner_for_fold: Callable[[int], Combiner],
    held_out: Sequence[TrainingClip],
) -> Scorer:
    """Clip probabilities of the ensemble for its own temperature: each member calibrated
    with its held-out fold's temperature, combined as the app combines them, by a combination
    fitted without that fold."""

    def score(temperature: float, idx: Sequence[int]) -> npt.NDArray[np.float32]:
        rows = []
        for i in idx:
            clip = held_out[i]
            outputs = member_outputs(runs, member_temperatures, clip)
            rows.append(clip_probabilities(combiner_for_fold(clip.fold)(outputs, temperature)))
        return np.stack(rows)

    return score


def member_outputs(
    runs: Sequence[OutOfFold], member_temperatures: Sequence[dict[int, float]], clip: TrainingClip
) -> list[WindowOutputs]:
    """Each member's calibrated window probabilities of ``clip`` (with its fold's temperature)."""
    return [run.outputs(clip.song_id, t[clip.fold]) for run, t in zip(runs, member_temperatures, strict=True)]


def fit_stacking(
    runs: Sequence[OutOfFold],
    member_temperatures: Sequence[dict[int, float]],
    held_out: Sequence[TrainingClip],
) -> Stacking:
    """The meta-learner fitted on every window of ``held_out``'s clips (each clip weighing one
    in all) from the members' calibrated out-of-fold answers."""
    inputs, moods, weights = [], [], []
    for clip in held_out:
        x = stacking_inputs(member_outputs(runs, member_temperatures, clip))
        inputs.append(x)
        moods += [clip.mood] * len(x)
        weights += [1.0 / len(x)] * len(x)
    meta = LogisticRegression(C=STACKING_C, max_iter=5000)
    meta.fit(np.vstack(inputs), np.array(moods), sample_weight=np.array(weights))
    return Stacking(meta.coef_.round(6).tolist(), meta.intercept_.round(6).tolist(), STACKING_C)


def nested_stacking(
    members: Sequence[str], clips: Sequence[TrainingClip], runs_dir: Path, fold: int
) -> tuple[Stacking, list[float]]:
    """The meta-learner for held-out ``fold``, from the members' inner runs without it, and each
    member's temperature fitted on those runs' clips (what fold ``fold``'s answers are divided by)."""
    inner = [load_run(nested_run_path(runs_dir, m, fold)) for m in members]
    held = held_out_clips(clips, inner[0])
    calibrations = [calibrated_cv(run_scorer(run, held), held) for run in inner]
    stacking = fit_stacking(inner, [t for _, t in calibrations], held)
    return stacking, [cv.calibration.temperature if cv.calibration else 1.0 for cv, _ in calibrations]


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
        scorer = ensemble_scorer(runs, member_temperatures, lambda _fold: weighted(weights), held_out)
        return negative_log_likelihood(scorer(1.0, idx), true)

    return min(weight_grid(len(runs)), key=loss)


def default_members(weights_dir: Path) -> list[str]:
    """The members to combine when none are named: the ensemble's own (a new member joins only
    when asked for), or every model of ``weights_dir`` when it has no ensemble yet."""
    if (weights_dir / f"{ENSEMBLE}.json").is_file():
        return member_names(ENSEMBLE, weights_dir)
    return [m for m in available_models(weights_dir) if m != ENSEMBLE]


def default_combination(weights_dir: Path) -> Combination:
    """How to combine when not told: as the ensemble in ``weights_dir`` does (so refitting it keeps
    its kind), or ``weighted`` when there is none yet."""
    if (weights_dir / f"{ENSEMBLE}.json").is_file():
        return read_ensemble_manifest(weights_dir).combination
    return "weighted"


def ensemble_cv(
    clips: Sequence[TrainingClip], members: Sequence[str], combination: Combination, runs_dir: Path
) -> EnsembleManifest:
    """The manifest of ``members`` combined by ``combination``, with its cross-validated figures,
    from the members' saved runs (and, for ``stacked``, their inner runs)."""
    runs = [load_run(run_path(runs_dir, m)) for m in members]
    held = held_out_clips(clips, runs[0])
    folds = sorted({c.fold for c in held})
    member_t = [calibrated_cv(run_scorer(run, held), held)[1] for run in runs]
    shipped_weights: tuple[float, ...] = tuple([1.0 / len(members)] * len(members))
    shipped_stacking = None
    combiners = dict.fromkeys(folds, weighted(shipped_weights))
    scored_t = member_t  # the temperatures each fold's answers are divided by
    if combination == "stacked":
        nested = {fold: nested_stacking(members, clips, runs_dir, fold) for fold in folds}
        scored_t = [{fold: nested[fold][1][m] for fold in folds} for m in range(len(members))]
        combiners = {fold: stacked(nested[fold][0]) for fold in folds}
        shipped_stacking = fit_stacking(runs, member_t, held)
    elif combination == "weighted":
        for fold in folds:
            others = [i for i, c in enumerate(held) if c.fold != fold]
            combiners[fold] = weighted(fit_member_weights(runs, member_t, held, others))
        shipped_weights = fit_member_weights(runs, member_t, held, range(len(held)))
    clip_score = ensemble_scorer(runs, scored_t, combiners.__getitem__, held)
    cv, ensemble_t = calibrated_cv(clip_score, held)
    scored = [ScoredRows(clip_score, held, ensemble_t)]
    short = short_clips_of(clips, members, runs_dir, combiners.__getitem__, (scored_t, ensemble_t))
    if short is not None:
        cv = with_short_clips(cv, short[0])
        scored.append(short[1])
    cv = with_familiarity(cv, scored, measured_distances(members, runs, runs_dir), ENSEMBLE)
    return EnsembleManifest(
        name=ENSEMBLE, members=list(members), created=now_iso(), combination=combination,
        weights=[round(w, 3) for w in shipped_weights] if combination == "weighted" else [],
        stacking=shipped_stacking, cv=cv,
    )  # fmt: skip


def short_clips_of(
    clips: Sequence[TrainingClip],
    members: Sequence[str],
    runs_dir: Path,
    combiner_for_fold: Callable[[int], Combiner],
    clip_temperatures: tuple[Sequence[dict[int, float]], dict[int, float]],
) -> tuple[ShortClipCalibration, ScoredRows] | None:
    """The ensemble's ``short_clips`` block from its members' crops runs (None: a member has none),
    each member calibrated with its crops' temperature for the held-out fold and combined as on
    whole clips, and the crops' answers as calibration scores them; ``clip_temperatures``: each
    member's and the ensemble's for whole clips, per fold (what the crops are compared with).

    Raises:
        RunsMismatch: the members' crops runs are not of the same crops.
    """
    paths = [crops_run_path(runs_dir, m) for m in members]
    if not all(p.is_file() for p in paths):
        return None
    runs = [load_run(p) for p in paths]
    if any(set(r.logits) != set(runs[0].logits) or r.excerpt_s != runs[0].excerpt_s for r in runs):
        raise RunsMismatch(f"the crops runs of {', '.join(members)} are of different crops; rerun the members")
    crops = crop_clips(clips, runs[0])
    member_t = [calibrated_cv(run_scorer(run, crops), crops)[1] for run in runs]
    score = ensemble_scorer(runs, member_t, combiner_for_fold, crops)
    members_clip_t, ensemble_clip_t = clip_temperatures
    before = scored_per_fold(ensemble_scorer(runs, members_clip_t, combiner_for_fold, crops), crops, ensemble_clip_t)
    short, crop_t = short_clip_calibration(score, crops, before, runs[0])
    return short, ScoredRows(score, crops, crop_t)


def measured_distances(members: Sequence[str], runs: Sequence[OutOfFold], runs_dir: Path) -> dict[str, float]:
    """Each clip's and crop's distance from the training music, from the first member whose run
    (of ``runs``, the members' runs on the clips) measured them, with its crops run's (the hybrid:
    what the app reads a song's distance from); empty when none did."""
    for member, run in zip(members, runs, strict=True):
        if run.distances:
            crops = crops_run_path(runs_dir, member)
            return run.distances | (load_run(crops).distances if crops.is_file() else {})
    return {}


def write_shared_export(members: Sequence[str], weights_dir: Path) -> SharedExport | None:
    """``ensemble.onnx``: one graph for the fine-tuned musicnn member and the hybrid after it
    when both hear the same pretrained front and mid ends (each patch pooled once); None, and no
    file, for other members."""
    path = weights_dir / SHARED_EXPORT_FILE
    manifests = [read_network_manifest(m, weights_dir) for m in members]
    hybrids = [i for i, m in enumerate(manifests) if isinstance(m, HybridManifest)]
    first_hybrid = hybrids[0] if hybrids else 0
    networks = [i for i, m in enumerate(manifests[:first_hybrid]) if m.architecture == MUSICNN_ARCHITECTURE]
    if networks and manifests[networks[0]].features == manifests[first_hybrid].features:
        network, hybrid = members[networks[0]], members[first_hybrid]
        tuned = load_network(network, weights_dir).network
        frozen, _ = pretrained_network(weights_dir)
        try:
            graph = SharedPatchAnswers(cast(MusicnnMood, tuned), frozen)
        except ValueError:  # retrained on other backbones: each member keeps its own export
            graph = None
        if graph is not None:
            export_network(graph, manifests[networks[0]].features, path, (ONNX_OUTPUT, PATCH_OUTPUTS))
            return SharedExport(path.name, sha256_of(path), ONNX_OPSET, network, hybrid)
    path.unlink(missing_ok=True)
    return None


def score_ensemble(clips: Sequence[TrainingClip], plan: EnsemblePlan) -> CrossValidation:
    """CV figures of the ensemble from its members' saved runs, written into its manifest (with
    the members' shared export, when they can share one); also redraws the confusion-matrix
    figure and the Markdown tables of every model in the weights folder."""
    members = list(plan.members or default_members(plan.weights_dir))
    manifest = ensemble_cv(clips, members, plan.combination, plan.runs_dir)
    cv = manifest.cv
    assert cv is not None  # ensemble_cv always measures it
    manifest = dataclasses.replace(manifest, shared_export=write_shared_export(members, plan.weights_dir))
    write_manifest(manifest, plan.weights_dir)
    print(
        f"ensemble of {', '.join(members)} ({plan.combination}"
        f"{f', weights {manifest.weights}' if plan.combination == 'weighted' else ''}): "
        f"CV macro-F1 {cv.macro_f1:.3f}, accuracy {cv.accuracy:.3f}",
        file=sys.stderr,
    )
    in_folder = available_models(plan.weights_dir)
    shipped = [read_manifest(m, plan.weights_dir) for m in MODEL_NAMES if m in in_folder and m != ENSEMBLE]
    cvs = {m.name: m.cv for m in shipped if m.cv is not None}
    cvs[ENSEMBLE] = cv
    plot_confusions(cvs, plan.docs_dir / FIGURE_NAME)
    (plan.docs_dir / TABLES_NAME).write_text(cv_markdown(cvs))
    return cv


ABLATIONS_NAME = "ensemble_ablations.md"
ABLATION_COLUMNS = ("macro-F1", "accuracy", "sad recall", "calm recall", "ECE")


def ablation_rows(clips: Sequence[TrainingClip], members: Sequence[str], runs_dir: Path) -> list[str]:
    """Markdown rows of every way to combine ``members``: each member alone, then each subset of
    two or more by every combination (``stacked`` where every member has nested runs)."""
    nested = all(nested_run_path(runs_dir, m, 0).is_file() for m in members)
    combinations: tuple[Combination, ...] = ("mean", "weighted", "stacked") if nested else ("mean", "weighted")
    rows = ["| members | combination | " + " | ".join(ABLATION_COLUMNS) + " |", "|---|---|" + "---|" * 5]
    for size in range(1, len(members) + 1):
        for subset in itertools.combinations(members, size):
            for combination in combinations if size > 1 else ("mean",):
                cv = ensemble_cv(clips, subset, combination, runs_dir).cv
                assert cv is not None  # ensemble_cv always measures it
                ece = cv.calibration.ece_after if cv.calibration else float("nan")
                figures = (cv.macro_f1, cv.accuracy, cv.per_class["sad"].recall, cv.per_class["calm"].recall, ece)
                label = combination if size > 1 else "alone"
                rows.append(f"| {' + '.join(subset)} | {label} | " + " | ".join(f"{v:.3f}" for v in figures) + " |")
                print(rows[-1], file=sys.stderr)
    return rows


def write_ablations(clips: Sequence[TrainingClip], plan: EnsemblePlan) -> Path:
    """``docs/ensemble_ablations.md``: :func:`ablation_rows` of the plan's members (nothing shipped)."""
    members = list(plan.members or default_members(plan.weights_dir))
    lines = [
        "# Ensemble ablations (5 artist-disjoint folds, scored as the app scores a song)",
        "",
        "Rerun: each member's runs with its inner runs (`python -m mood.training <member> --nested "
        f"--no-final`), then `python -m mood.training ensemble --members {','.join(members)} --ablations`.",
        "",
        *ablation_rows(clips, members, plan.runs_dir),
        "",
    ]
    path = plan.docs_dir / ABLATIONS_NAME
    path.write_text("\n".join(lines))
    return path
