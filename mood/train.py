"""Train and cross-validate the mood models on the 4Q data set, and ship their weights.

    python -m mood.train --model resnet18 --data ../shared/data/4q
    python -m mood.train --model cldnn --data ../shared/data/4q
    python -m mood.train --model ensemble   # CV of the mean of both, from their saved runs

For each held-out fold a model is trained on the other folds and scored on the held-out
clips exactly as the app scores a song (mean over 5 s windows with a 2.5 s hop). The
shipped model is then trained on all clips with the same recipe: nothing (epochs,
checkpoint) is chosen by looking at a test fold. The weights are an exponential moving
average of the training weights, which steadies the figures from epoch to epoch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from mood.constants import MOODS, WINDOW_HOP_S
from mood.dataset import Clip, augment, load_spectrograms, random_crop, read_clips
from mood.evaluation import confidence_reliability, cv_markdown, cv_metrics, per_fold_macro_f1, plot_confusions
from mood.features import DEFAULT_CONFIG, FeatureConfig, make_windows
from mood.models import ARCHITECTURES, build_model
from mood.weights import (
    ENSEMBLE,
    SHIPPED_WEIGHTS_DIR,
    now_iso,
    read_manifest,
    save_model,
    window_probabilities,
    write_manifest,
)

REPO_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_DIR.parent / "shared" / "data" / "4q"
DEFAULT_CACHE_DIR = REPO_DIR / ".cache" / "mel"
DEFAULT_RUNS_DIR = REPO_DIR / "runs"
DEFAULT_DOCS_DIR = REPO_DIR / "docs"
FIGURE_NAME = "cv_confusion.png"
TABLES_NAME = "cv_results.md"
ALL_FOLDS = (0, 1, 2, 3, 4)
TRAINED_ON = "4Q audio emotion dataset (Panda et al. 2018), 900 clips, 30 s previews"


@dataclass(frozen=True)
class Recipe:
    """Every training choice, recorded in the manifest."""

    epochs: int = 35
    crops_per_clip: int = 1  # random 5 s windows drawn from each clip per epoch
    batch_size: int = 32
    max_lr: float = 1e-3  # one-cycle peak
    weight_decay: float = 1e-2  # AdamW
    label_smoothing: float = 0.1
    mixup_alpha: float = 0.2  # 0 turns mixup off
    augment: bool = True  # gain, EQ tilt and SpecAugment masks on every crop
    ema_decay: float = 0.99  # per step
    seed: int = 0


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
    labels: npt.NDArray[np.int_],
    recipe: Recipe,
    config: FeatureConfig,
    desc: str,
) -> nn.Module:
    """Train a fresh network on random augmented crops and return its EMA weights, in eval mode."""
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    network = build_model(architecture, config.n_mels, len(MOODS)).to(memory_format=torch.channels_last)
    ema_fn = get_ema_multi_avg_fn(recipe.ema_decay)  # type: ignore[no-untyped-call]
    ema = AveragedModel(network, multi_avg_fn=ema_fn, use_buffers=True)
    steps_per_epoch = max(1, len(mels) * recipe.crops_per_clip // recipe.batch_size)
    optimiser = torch.optim.AdamW(network.parameters(), lr=recipe.max_lr, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=recipe.max_lr, total_steps=recipe.epochs * steps_per_epoch
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    use_bf16 = bf16_autocast_supported()
    width = config.window_frames

    bar = tqdm(range(recipe.epochs), desc=desc, unit="epoch", file=sys.stderr)
    for _ in bar:
        network.train()
        order = rng.permutation(np.repeat(np.arange(len(mels)), recipe.crops_per_clip))
        losses = []
        for step in range(steps_per_epoch):
            idx = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
            crops = [random_crop(mels[i], width, rng) for i in idx]
            x = torch.from_numpy(np.stack([augment(c, rng) for c in crops] if recipe.augment else crops))
            y = torch.from_numpy(labels[idx])
            lam = float(rng.beta(recipe.mixup_alpha, recipe.mixup_alpha)) if recipe.mixup_alpha > 0 else 1.0
            perm = torch.from_numpy(rng.permutation(len(idx)))
            x = lam * x + (1.0 - lam) * x[perm]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                logits = network(x).float()
            loss = lam * loss_fn(logits, y) + (1.0 - lam) * loss_fn(logits, y[perm])
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss.item()}; lower --max-lr")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            ema.update_parameters(network)
            losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses):.3f}")
    averaged: nn.Module = ema.module
    return averaged.eval()


def clip_window_probabilities(
    network: nn.Module, mels: Sequence[npt.NDArray[np.float16]], config: FeatureConfig
) -> list[npt.NDArray[np.float32]]:
    """Each clip's per-window mood probabilities, over the windows the app cuts from a song."""
    return [
        window_probabilities(network, make_windows(mel.astype(np.float32), config, WINDOW_HOP_S)[0]) for mel in mels
    ]


def clip_probabilities(per_window: Sequence[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
    """Each clip's probabilities as the app computes them: the mean over its windows."""
    return np.stack([p.mean(axis=0) for p in per_window])


def centre_window_probabilities(per_window: Sequence[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
    """Each clip's probabilities from its middle window alone (the ablation of window averaging)."""
    return np.stack([p[len(p) // 2] for p in per_window])


def cross_validate(
    architecture: str,
    clips: list[Clip],
    mels: list[npt.NDArray[np.float16]],
    folds: Sequence[int],
    recipe: Recipe,
    config: FeatureConfig,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Out-of-fold probabilities, shape ``(n_clips, n_moods)``, NaN for clips of folds not held
    out: first the mean over each clip's windows (as the app scores a song), then its middle
    window alone (to measure what averaging over windows is worth)."""
    labels = np.array([c.label for c in clips])
    clip_folds = np.array([c.fold for c in clips])
    oof = np.full((len(clips), len(MOODS)), np.nan, dtype=np.float32)
    oof_centre = oof.copy()
    for fold in folds:
        train_idx = np.flatnonzero(clip_folds != fold)
        test_idx = np.flatnonzero(clip_folds == fold)
        network = train_network(
            architecture, [mels[i] for i in train_idx], labels[train_idx], recipe, config, f"{architecture} fold {fold}"
        )
        per_window = clip_window_probabilities(network, [mels[i] for i in test_idx], config)
        oof[test_idx] = clip_probabilities(per_window)
        oof_centre[test_idx] = centre_window_probabilities(per_window)
        fold_f1 = per_fold_macro_f1(labels[test_idx], oof[test_idx].argmax(1), clip_folds[test_idx])
        print(f"{architecture} fold {fold}: macro-F1 {fold_f1[str(fold)]:.3f}", file=sys.stderr)
    return oof, oof_centre


def summarise(oof: npt.NDArray[np.float32], clips: list[Clip], folds: Sequence[int]) -> dict[str, Any]:
    """The manifest's ``cv`` block for out-of-fold probabilities, plus per-fold macro-F1 and
    how often each confidence level was right."""
    held_out = ~np.isnan(oof[:, 0])
    true = np.array([c.label for c in clips])[held_out]
    predicted = oof[held_out].argmax(axis=1)
    clip_folds = np.array([c.fold for c in clips])[held_out]
    return {
        **cv_metrics(true, predicted, list(folds)),
        "per_fold_macro_f1": per_fold_macro_f1(true, predicted, clip_folds),
        "confidence": confidence_reliability(true, oof[held_out]),
    }


def save_run(oof: npt.NDArray[np.float32], clips: list[Clip], path: Path) -> None:
    """Keep out-of-fold probabilities so the ensemble can be scored without retraining."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = {
        c.song_id: None if np.isnan(p[0]) else [round(float(v), 6) for v in p] for c, p in zip(clips, oof, strict=True)
    }
    path.write_text(json.dumps(rows))


def load_run(path: Path, clips: list[Clip]) -> npt.NDArray[np.float32]:
    """The out-of-fold probabilities saved by :func:`save_run`, in the order of ``clips``."""
    rows = json.loads(path.read_text())
    return np.array([rows[c.song_id] or [np.nan] * len(MOODS) for c in clips], dtype=np.float32)


def train_and_ship(args: argparse.Namespace) -> None:
    """Cross-validate one architecture, then train it on all clips and write its weights."""
    clips = read_clips(args.data)
    config = DEFAULT_CONFIG
    recipe = Recipe(
        epochs=args.epochs,
        crops_per_clip=args.crops_per_clip,
        mixup_alpha=args.mixup,
        augment=not args.no_augment,
        ema_decay=args.ema_decay,
        seed=args.seed,
    )
    started = time.perf_counter()
    mels = load_spectrograms(clips, config, args.cache_dir)
    print(f"spectrograms ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    oof, oof_centre = cross_validate(args.model, clips, mels, args.folds, recipe, config)
    save_run(oof, clips, args.runs_dir / f"{args.model}_oof.json")
    save_run(oof_centre, clips, args.runs_dir / f"{args.model}_oof_centre_window.json")
    cv = summarise(oof, clips, args.folds)
    centre_f1 = summarise(oof_centre, clips, args.folds)["macro_f1"]
    print(
        f"{args.model}: CV macro-F1 {cv['macro_f1']:.3f}, accuracy {cv['accuracy']:.3f} "
        f"(middle window alone: macro-F1 {centre_f1:.3f})",
        file=sys.stderr,
    )
    if args.no_final:
        return
    labels = np.array([c.label for c in clips])
    network = train_network(args.model, mels, labels, recipe, config, f"{args.model} all clips")
    save_model(
        network, args.model, args.model, config, args.weights_dir,
        trained_on=TRAINED_ON, recipe=asdict(recipe), cv=cv,
    )  # fmt: skip
    print(f"wrote {args.weights_dir / args.model}.pt in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def score_ensemble(args: argparse.Namespace) -> None:
    """CV figures of the mean of both models, from their saved out-of-fold runs; also redraws
    the confusion-matrix figure and the Markdown tables of all three."""
    clips = read_clips(args.data)
    members = list(ARCHITECTURES)
    oof = np.mean([load_run(args.runs_dir / f"{m}_oof.json", clips) for m in members], axis=0)
    folds = sorted({c.fold for c, p in zip(clips, oof, strict=True) if not np.isnan(p[0])})
    cv = summarise(oof, clips, folds)
    write_manifest({"name": ENSEMBLE, "members": members, "cv": cv, "created": now_iso()}, ENSEMBLE, args.weights_dir)
    print(f"ensemble: CV macro-F1 {cv['macro_f1']:.3f}, accuracy {cv['accuracy']:.3f}", file=sys.stderr)
    cvs = {**{m: read_manifest(m, args.weights_dir)["cv"] for m in members}, ENSEMBLE: cv}
    plot_confusions(cvs, args.docs_dir / FIGURE_NAME)
    (args.docs_dir / TABLES_NAME).write_text(cv_markdown(cvs))


def get_parser() -> argparse.ArgumentParser:
    """The command-line options of ``python -m mood.train``."""
    parser = argparse.ArgumentParser(prog="python -m mood.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, choices=[*ARCHITECTURES, ENSEMBLE])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="the 4Q folder (with metadata.csv)")
    parser.add_argument("--epochs", type=int, default=Recipe.epochs)
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
        "--folds", type=lambda s: [int(f) for f in s.split(",")], default=list(ALL_FOLDS),
        help="held-out folds to cross-validate, comma-separated (default: 0,1,2,3,4)",
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
    """Entry point of ``python -m mood.train``."""
    args = get_parser().parse_args(argv)
    if args.model == ENSEMBLE:
        score_ensemble(args)
    else:
        train_and_ship(args)


if __name__ == "__main__":
    main()
