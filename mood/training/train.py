"""Train and cross-validate the mood models on the 4Q data set, and ship their weights.

    python -m mood.training.train --model resnet18
    python -m mood.training.train --model cldnn
    python -m mood.training.train --model ensemble   # CV of the combination, from the saved runs

For each held-out fold a model is trained on the other folds and scored on the held-out
clips exactly as the app scores a song (the mean over its windows). Its temperature is
fitted on the other folds' out-of-fold clips only. The shipped model is then trained on
all clips with the same recipe: nothing (epochs, checkpoint) is chosen by looking at a
test fold. The weights are an exponential moving average of the training weights.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from mood.constants import ENSEMBLE, MOODS
from mood.engine.features import SCRATCH_FRONT_END, FrontEnd, make_windows
from mood.engine.inference import clip_probabilities, combine, network_logits
from mood.engine.manifest import CrossValidation, EnsembleManifest, NetworkManifest, parse
from mood.engine.models import build_model
from mood.engine.weights import (
    SHIPPED_WEIGHTS_DIR,
    available_models,
    now_iso,
    read_network_manifest,
    save_network,
    write_manifest,
)
from mood.training.calibration import (
    cross_fitted_temperatures,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
)
from mood.training.dataset import TrainingClip, augment, load_spectrograms, random_crop, read_clips
from mood.training.evaluation import (
    confidence_reliability,
    cv_markdown,
    cv_metrics,
    per_fold_macro_f1,
    plot_confusions,
)
from mood.training.runs import OutOfFold, load_run, save_run

REPO_DIR = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_DIR.parent / "shared" / "data" / "4q"
DEFAULT_CACHE_DIR = REPO_DIR / ".cache" / "mel"
DEFAULT_RUNS_DIR = REPO_DIR / "runs"
DEFAULT_DOCS_DIR = REPO_DIR / "docs"
FIGURE_NAME = "cv_confusion.png"
TABLES_NAME = "cv_results.md"
ALL_FOLDS = (0, 1, 2, 3, 4)
TRAINED_ON = "4Q audio emotion dataset (Panda et al. 2018), 900 clips, 30 s previews"
TRAINED_FROM_SCRATCH = ("resnet18", "cldnn")  # the project's own architectures
FINETUNED = "musicnn"  # the pretrained member (mood.training.finetune)

WEIGHT_GRID_STEP = 0.1  # ensemble member weights are searched in steps of this

# (temperature, clip indices) -> those clips' probabilities, scored as the app scores a song.
Scorer = Callable[[float, Sequence[int]], npt.NDArray[np.float32]]


@dataclass(frozen=True)
class Recipe:
    """Every training choice, recorded in the manifest."""

    epochs: int = 35
    crops_per_clip: int = 1  # random windows drawn from each clip per epoch
    batch_size: int = 32
    max_lr: float = 1e-3  # one-cycle peak
    weight_decay: float = 1e-2  # AdamW
    label_smoothing: float = 0.1
    mixup_alpha: float = 0.2  # 0 turns mixup off
    augment: bool = True  # gain, EQ tilt and SpecAugment masks on every crop
    ema_decay: float = 0.99  # per step
    seed: int = 0
    teacher: str | None = None  # a model whose soft window probabilities the network also learns
    distill_weight: float = 0.5  # share of the loss that matches the teacher (with a teacher)
    distill_temperature: float = 2.0  # both distributions softened by it, as in Hinton et al. 2015


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


TeacherFactory = Callable[[Sequence[int]], Teacher]  # training clip indices -> their teacher


def distillation_loss(logits: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) with both softened by ``temperature``, scaled by its square."""
    soft_teacher = torch.softmax(torch.log(teacher.clamp_min(1e-8)) / temperature, dim=1)
    log_student = torch.log_softmax(logits / temperature, dim=1)
    return nn.functional.kl_div(log_student, soft_teacher, reduction="batchmean") * temperature**2


def bf16_autocast_supported() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX or AVX512-BF16); else train in fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("amx_bf16", "avx512_bf16"))


def train_network(
    architecture: str,
    mels: Sequence[npt.NDArray[np.float16]],
    moods: npt.NDArray[np.int_],
    recipe: Recipe,
    front_end: FrontEnd,
    desc: str,
    teacher: Teacher | None = None,
) -> nn.Module:
    """Train a fresh network on random augmented crops and return its EMA weights, in eval mode.

    With a ``teacher``, each crop also learns the teacher's probabilities for the window
    nearest it (``recipe.distill_weight`` of the loss).
    """
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    network = build_model(architecture, front_end, len(MOODS)).to(memory_format=torch.channels_last)
    ema_fn = get_ema_multi_avg_fn(recipe.ema_decay)  # type: ignore[no-untyped-call]
    ema = AveragedModel(network, multi_avg_fn=ema_fn, use_buffers=True)
    steps_per_epoch = max(1, len(mels) * recipe.crops_per_clip // recipe.batch_size)
    optimiser = torch.optim.AdamW(network.parameters(), lr=recipe.max_lr, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=recipe.max_lr, total_steps=recipe.epochs * steps_per_epoch
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    use_bf16 = bf16_autocast_supported()
    width = front_end.window_frames

    bar = tqdm(range(recipe.epochs), desc=desc, unit="epoch", file=sys.stderr)
    for _ in bar:
        network.train()
        order = rng.permutation(np.repeat(np.arange(len(mels)), recipe.crops_per_clip))
        losses = []
        for step in range(steps_per_epoch):
            idx = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
            crops, starts = zip(*(random_crop(mels[i], width, rng) for i in idx), strict=True)
            x = torch.from_numpy(np.stack([augment(c, rng) for c in crops] if recipe.augment else crops))
            y = torch.from_numpy(moods[idx])
            lam = float(rng.beta(recipe.mixup_alpha, recipe.mixup_alpha)) if recipe.mixup_alpha > 0 else 1.0
            perm = torch.from_numpy(rng.permutation(len(idx)))
            x = lam * x + (1.0 - lam) * x[perm]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                logits = network(x).float()
            loss = lam * loss_fn(logits, y) + (1.0 - lam) * loss_fn(logits, y[perm])
            if teacher is not None:
                centres = [(start + width / 2) * front_end.frame_s for start in starts]
                soft = torch.from_numpy(np.stack([teacher.target(i, c) for i, c in zip(idx, centres, strict=True)]))
                soft = lam * soft + (1.0 - lam) * soft[perm]
                distilled = distillation_loss(logits, soft, recipe.distill_temperature)
                loss = (1.0 - recipe.distill_weight) * loss + recipe.distill_weight * distilled
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"training loss became {loss.item()}; try a smaller --epochs or another --seed"
                )
            losses.append(optimisation_step(loss, optimiser, schedule, ema, network))
        bar.set_postfix(loss=f"{np.mean(losses):.3f}")
    averaged: nn.Module = ema.module
    return averaged.eval()


def optimisation_step(
    loss: torch.Tensor,
    optimiser: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    ema: AveragedModel,
    network: nn.Module,
) -> float:
    """Back-propagate ``loss``, step the optimiser and its schedule, update the weight average;
    returns the loss."""
    optimiser.zero_grad(set_to_none=True)
    loss.backward()  # type: ignore[no-untyped-call]
    optimiser.step()
    schedule.step()
    ema.update_parameters(network)
    return float(loss.item())


def score_clips(
    network: nn.Module, clips: Sequence[TrainingClip], mels: Sequence[npt.NDArray[np.float16]], front_end: FrontEnd
) -> OutOfFold:
    """The network's logits for every window the app cuts from each clip."""
    logits, starts_s = {}, {}
    for clip, mel in zip(clips, mels, strict=True):
        windows, starts = make_windows(mel.astype(np.float32), front_end)
        logits[clip.song_id] = network_logits(network, windows)
        starts_s[clip.song_id] = np.asarray(starts, dtype=np.float64) * front_end.frame_s
    return OutOfFold(logits, starts_s, front_end.window_s)


def cross_validate(
    architecture: str,
    clips: list[TrainingClip],
    mels: list[npt.NDArray[np.float16]],
    folds: Sequence[int],
    recipe: Recipe,
    front_end: FrontEnd,
    teacher_for: TeacherFactory | None = None,
) -> OutOfFold:
    """Out-of-fold window logits of every clip of the held-out ``folds`` (each fold's teacher,
    if any, trained on that fold's training clips only)."""
    run = OutOfFold({}, {}, front_end.window_s)
    for fold in folds:
        train_idx = [i for i, c in enumerate(clips) if c.fold != fold]
        test_idx = [i for i, c in enumerate(clips) if c.fold == fold]
        network = train_network(
            architecture,
            [mels[i] for i in train_idx],
            np.array([clips[i].mood for i in train_idx]),
            recipe,
            front_end,
            f"{architecture} fold {fold}",
            teacher_for(train_idx) if teacher_for else None,
        )
        run = run.merged(score_clips(network, [clips[i] for i in test_idx], [mels[i] for i in test_idx], front_end))
        print(f"{architecture} fold {fold} done", file=sys.stderr)
    return run


def network_scorer(run: OutOfFold, held_out: Sequence[TrainingClip]) -> Scorer:
    """Clip probabilities of one network's run for a temperature, as the app computes them."""

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
    calibrated = np.empty_like(raw)
    for fold, temperature in per_fold_t.items():
        idx = [int(i) for i in np.flatnonzero(clip_folds == fold)]
        calibrated[idx] = score(temperature, idx)
    predicted = calibrated.argmax(axis=1)
    folds = sorted(per_fold_t)
    block: dict[str, Any] = {
        **cv_metrics(true, predicted, folds),
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


def held_out_clips(clips: Sequence[TrainingClip], run: OutOfFold) -> list[TrainingClip]:
    """The clips a run scored, in data-set order."""
    return [c for c in clips if c.song_id in run.logits]


def recipe_from(args: argparse.Namespace) -> Recipe:
    """The recipe the command-line flags ask for."""
    return Recipe(
        epochs=args.epochs or Recipe.epochs,
        crops_per_clip=args.crops_per_clip,
        mixup_alpha=args.mixup,
        augment=not args.no_augment,
        ema_decay=args.ema_decay,
        seed=args.seed,
        teacher=args.teacher,
    )


def train_and_ship(args: argparse.Namespace) -> None:
    """Cross-validate one architecture, then train it on all clips and write its weights."""
    clips = read_clips(args.data)
    front_end = SCRATCH_FRONT_END
    recipe = recipe_from(args)
    started = time.perf_counter()
    mels = load_spectrograms(clips, front_end, args.cache_dir)
    print(f"spectrograms ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    teacher_for: TeacherFactory | None = None
    if recipe.teacher:
        from mood.training.finetune import musicnn_teacher

        teacher_for = musicnn_teacher(clips, args)

    run = cross_validate(args.model, clips, mels, args.folds, recipe, front_end, teacher_for)
    save_run(run, args.runs_dir / f"{args.model}_oof.npz")
    cv, _ = calibrated_cv(network_scorer(run, held := held_out_clips(clips, run)), held)
    print(f"{args.model}: CV macro-F1 {cv.macro_f1:.3f}, accuracy {cv.accuracy:.3f}", file=sys.stderr)
    if args.no_final:
        return
    everything = list(range(len(clips)))
    network = train_network(
        args.model, mels, np.array([c.mood for c in clips]), recipe, front_end, f"{args.model} all clips",
        teacher_for(everything) if teacher_for else None,
    )  # fmt: skip
    save_network(
        network, args.model, args.weights_dir, args.model, front_end,
        trained_on=TRAINED_ON, recipe=asdict(recipe), cv=cv,
    )  # fmt: skip
    print(f"wrote {args.weights_dir / args.model}.pt in {time.perf_counter() - started:.0f} s", file=sys.stderr)


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


def score_ensemble(args: argparse.Namespace) -> None:
    """CV figures of the ensemble of ``--members`` from their saved out-of-fold runs; also
    redraws the confusion-matrix figure and the Markdown tables of every model."""
    clips = read_clips(args.data)
    members = args.members or [m for m in available_models(args.weights_dir) if m != ENSEMBLE]
    runs = [load_run(args.runs_dir / f"{m}_oof.npz") for m in members]
    held = held_out_clips(clips, runs[0])
    member_t = [calibrated_cv(network_scorer(run, held), held)[1] for run in runs]
    equal = tuple([1.0 / len(members)] * len(members))
    folds = sorted({c.fold for c in held})
    if args.combination == "weighted":
        per_fold = {
            fold: fit_member_weights(runs, member_t, held, [i for i, c in enumerate(held) if c.fold != fold])
            for fold in folds
        }
        shipped = fit_member_weights(runs, member_t, held, range(len(held)))
    else:
        per_fold, shipped = dict.fromkeys(folds, equal), equal
    cv, _ = calibrated_cv(ensemble_scorer(runs, member_t, per_fold.__getitem__, held), held)
    manifest = EnsembleManifest(
        name=ENSEMBLE, members=members, created=now_iso(), combination=args.combination,
        weights=[round(w, 3) for w in shipped] if args.combination == "weighted" else [], cv=cv,
    )  # fmt: skip
    write_manifest(manifest, args.weights_dir)
    print(
        f"ensemble of {', '.join(members)} ({args.combination}, weights {shipped}): "
        f"CV macro-F1 {cv.macro_f1:.3f}, accuracy {cv.accuracy:.3f}",
        file=sys.stderr,
    )
    network_manifests: list[NetworkManifest] = [read_network_manifest(m, args.weights_dir) for m in members]
    cvs = {m.name: m.cv for m in network_manifests if m.cv is not None}
    cvs[ENSEMBLE] = cv
    plot_confusions(cvs, args.docs_dir / FIGURE_NAME)
    (args.docs_dir / TABLES_NAME).write_text(cv_markdown(cvs))


def get_parser() -> argparse.ArgumentParser:
    """The command-line options of ``python -m mood.training.train``."""
    parser = argparse.ArgumentParser(prog="python -m mood.training.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, choices=[*TRAINED_FROM_SCRATCH, FINETUNED, ENSEMBLE])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="the 4Q folder (with metadata.csv)")
    parser.add_argument("--epochs", type=int, default=None, help="default: 35 (from scratch), 30 (musicnn)")
    parser.add_argument("--seed", type=int, default=Recipe.seed)
    parser.add_argument(
        "--crops-per-clip", type=int, default=Recipe.crops_per_clip, help="random windows per clip per epoch"
    )
    parser.add_argument("--mixup", type=float, default=Recipe.mixup_alpha, help="mixup alpha; 0 turns it off")
    parser.add_argument(
        "--ema-decay", type=float, default=Recipe.ema_decay, help="weight averaging per step; 0 ships the last weights"
    )
    parser.add_argument("--no-augment", action="store_true", help="no gain, EQ or SpecAugment (for ablations)")
    parser.add_argument(
        "--teacher", choices=[FINETUNED], default=None,
        help="also learn this model's window probabilities (distillation; its folds' versions are retrained here)",
    )  # fmt: skip
    parser.add_argument(
        "--freeze-back-ends", action="store_true", help="musicnn: train the mood head alone (for ablations)"
    )
    parser.add_argument(
        "--folds", type=lambda s: [int(f) for f in s.split(",")], default=list(ALL_FOLDS),
        help="held-out folds to cross-validate, comma-separated (default: 0,1,2,3,4)",
    )  # fmt: skip
    parser.add_argument(
        "--members", type=lambda s: s.split(","), default=None,
        help="with --model ensemble: the members, comma-separated (default: every network in --weights-dir)",
    )  # fmt: skip
    parser.add_argument(
        "--combination", choices=["weighted", "mean"], default="weighted",
        help="with --model ensemble: member weights fitted inside the training folds, or the plain mean",
    )  # fmt: skip
    parser.add_argument("--no-final", action="store_true", help="cross-validate only; do not write weights")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where decoded spectrograms are kept")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where out-of-fold predictions go")
    parser.add_argument("--weights-dir", type=Path, default=SHIPPED_WEIGHTS_DIR)
    parser.add_argument(
        "--docs-dir", type=Path, default=DEFAULT_DOCS_DIR, help="where --model ensemble draws the CV figure and tables"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m mood.training.train``."""
    args = get_parser().parse_args(argv)
    if args.model == ENSEMBLE:
        score_ensemble(args)
    elif args.model == FINETUNED:
        from mood.training.finetune import finetune_and_ship

        finetune_and_ship(args)
    else:
        train_and_ship(args)


if __name__ == "__main__":
    main()
