"""Fine-tune the pretrained member (``musicnn``) on 4Q, cross-validated like the others.

    python -m mood.training.train --model musicnn

The musicnn front and mid ends stay as pretrained: each window's pooled vector is computed
once per clip and cached (``.cache/musicnn``). Training then fits the back ends (initialised
from the pretrained ones) and the mood head on random windows, in seconds per epoch. Held-out
clips are scored from the very windows the app cuts, exactly as the app scores a song.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from mood.constants import MOODS, MUSICNN_MOOD_HOP_FRAMES, MUSICNN_MOOD_LOUDNESS_DBFS, MUSICNN_MOOD_MAX_WINDOWS
from mood.engine.features import MUSICNN_FRONT_END, FrontEnd, log_mel, make_windows
from mood.engine.inference import softmax
from mood.engine.manifest import NetworkManifest, Pretrained, read_manifest_file
from mood.engine.models.musicnn_mood import BACKBONES, MusicnnMood
from mood.engine.weights import BACKBONES as BACKBONES_DIR
from mood.engine.weights import SHIPPED_WEIGHTS_DIR, load_verified_state, save_network
from mood.training.dataset import TrainingClip, read_clips
from mood.training.runs import OutOfFold, save_run
from mood.training.train import (
    TRAINED_ON,
    Teacher,
    TeacherFactory,
    calibrated_cv,
    held_out_clips,
    network_scorer,
    optimisation_step,
)

MODEL_NAME = "musicnn"
ARCHITECTURE = "musicnn_mood"
FINETUNE_FRONT_END = dataclasses.replace(
    MUSICNN_FRONT_END,
    loudness_dbfs=MUSICNN_MOOD_LOUDNESS_DBFS,
    hop_frames=MUSICNN_MOOD_HOP_FRAMES,
    max_windows=MUSICNN_MOOD_MAX_WINDOWS,
)
"""musicnn's own front end, with every clip first brought to one loudness (so the model
cannot learn how loud 4Q's files are) and musicnn's own non-overlapping patches."""
FEATURE_BATCH = 64  # windows per frozen forward pass while caching


@dataclass(frozen=True)
class FinetuneRecipe:
    """Every fine-tuning choice, recorded in the manifest."""

    epochs: int = 30
    windows_per_clip: int = 4  # random windows drawn from each clip per epoch
    batch_size: int = 64
    back_end_lr: float = 3e-4  # AdamW, one-cycle peak, for the pretrained back ends
    head_lr: float = 3e-3  # ... and for the new head
    weight_decay: float = 1e-2
    label_smoothing: float = 0.1
    mixup_alpha: float = 0.2  # on the pooled vectors; 0 turns it off
    freeze_back_ends: bool = False  # True trains the head alone (the ablation)
    ema_decay: float = 0.99  # per step
    seed: int = 0


def pretrained_network(weights_dir: Path = SHIPPED_WEIGHTS_DIR) -> tuple[MusicnnMood, Pretrained]:
    """A :class:`MusicnnMood` whose backbones hold the converted musicnn weights (verified),
    and their provenance merged into one record."""
    model = MusicnnMood(FINETUNE_FRONT_END.n_mels, len(MOODS))
    records = []
    for backbone, name in zip(model.backbones, BACKBONES, strict=True):
        manifest = read_manifest_file(weights_dir / BACKBONES_DIR / f"{name}.json")
        assert isinstance(manifest, NetworkManifest) and manifest.pretrained is not None
        load_verified_state(backbone, manifest, weights_dir / BACKBONES_DIR / f"{name}.pt")
        records.append(manifest.pretrained)
    first = records[0]
    merged = dataclasses.replace(
        first,
        model=", ".join(r.model for r in records),
        trained_on="; ".join(r.trained_on for r in records),
        files={k: v for r in records for k, v in r.files.items()},
    )
    return model.eval(), merged


def backbone_key(model: MusicnnMood) -> str:
    """A short fingerprint of the frozen weights, for the feature cache's name."""
    digest = hashlib.sha1()
    for name, tensor in model.backbones.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()[:10]


def pooled_windows(model: MusicnnMood, mel: npt.NDArray[np.float32], front_end: FrontEnd) -> npt.NDArray[np.float16]:
    """The frozen part's output for every window the app cuts: ``(n_windows, n_backbones, pooled_dim)``."""
    windows, _ = make_windows(mel, front_end)
    with torch.inference_mode():
        out = [
            model.pooled(torch.from_numpy(windows[i : i + FEATURE_BATCH]))
            for i in range(0, len(windows), FEATURE_BATCH)
        ]
    return torch.cat(out).numpy().astype(np.float16)


def load_pooled(
    clips: Sequence[TrainingClip], model: MusicnnMood, front_end: FrontEnd, cache_dir: Path
) -> tuple[list[npt.NDArray[np.float16]], list[npt.NDArray[np.float64]]]:
    """Each clip's pooled windows and their start times, computed once and cached."""
    folder = cache_dir / f"{front_end.cache_key()}-{backbone_key(model)}"
    folder.mkdir(parents=True, exist_ok=True)
    pooled, starts_s = [], []
    for clip in tqdm(clips, desc="musicnn features", unit="clip", file=sys.stderr):
        cached = folder / f"{clip.song_id}.npz"
        if not cached.exists():
            mel = log_mel(clip.path, front_end)
            _, starts = make_windows(mel, front_end)
            partial = cached.with_suffix(".partial.npz")  # renamed once complete: a stopped run leaves no torn file
            starts_of_clip = np.array(starts) * front_end.frame_s
            np.savez(partial, pooled=pooled_windows(model, mel, front_end), starts_s=starts_of_clip)
            partial.replace(cached)
        with np.load(cached) as data:
            pooled.append(data["pooled"])
            starts_s.append(data["starts_s"])
    return pooled, starts_s


def train_head(
    pretrained: MusicnnMood,
    pooled: Sequence[npt.NDArray[np.float16]],
    moods: npt.NDArray[np.int_],
    recipe: FinetuneRecipe,
    desc: str,
) -> MusicnnMood:
    """Fine-tune a copy of ``pretrained`` on random cached windows; its EMA weights, in eval mode."""
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    model = MusicnnMood(FINETUNE_FRONT_END.n_mels, len(MOODS))
    model.load_state_dict(pretrained.state_dict())
    head = list(model.head.parameters())
    back_ends = [p for p in model.trained_parameters() if all(p is not h for h in head)]
    groups = [{"params": head, "lr": recipe.head_lr}]
    if not recipe.freeze_back_ends:
        groups.append({"params": back_ends, "lr": recipe.back_end_lr})
    optimiser = torch.optim.AdamW(groups, weight_decay=recipe.weight_decay)
    steps_per_epoch = max(1, len(pooled) * recipe.windows_per_clip // recipe.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=[group["lr"] for group in optimiser.param_groups], total_steps=recipe.epochs * steps_per_epoch
    )
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(recipe.ema_decay), use_buffers=True)  # type: ignore[no-untyped-call]
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    bar = tqdm(range(recipe.epochs), desc=desc, unit="epoch", file=sys.stderr)
    for _ in bar:
        _set_training(model, recipe.freeze_back_ends)
        order = rng.permutation(np.repeat(np.arange(len(pooled)), recipe.windows_per_clip))
        losses = []
        for step in range(steps_per_epoch):
            idx = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
            x = torch.from_numpy(np.stack([pooled[i][rng.integers(len(pooled[i]))] for i in idx]).astype(np.float32))
            y = torch.from_numpy(moods[idx])
            lam = float(rng.beta(recipe.mixup_alpha, recipe.mixup_alpha)) if recipe.mixup_alpha > 0 else 1.0
            perm = torch.from_numpy(rng.permutation(len(idx)))
            logits = model.from_pooled(lam * x + (1.0 - lam) * x[perm])
            loss = lam * loss_fn(logits, y) + (1.0 - lam) * loss_fn(logits, y[perm])
            losses.append(optimisation_step(loss, optimiser, schedule, ema, model))
        bar.set_postfix(loss=f"{np.mean(losses):.3f}")
    averaged = cast(MusicnnMood, ema.module)
    return averaged.eval()


def _set_training(model: MusicnnMood, freeze_back_ends: bool) -> None:
    """Train mode for what is trained (dropout, batch-norm statistics), eval mode for the rest."""
    model.eval()
    model.head.train()
    if not freeze_back_ends:
        for backbone in model.musicnns():
            for module in backbone.back_end_modules():
                module.train()


def score_pooled(
    model: MusicnnMood,
    clips: Sequence[TrainingClip],
    pooled: Sequence[npt.NDArray[np.float16]],
    starts_s: Sequence[npt.NDArray[np.float64]],
) -> OutOfFold:
    """The model's logits for every cached window of each clip (the windows the app cuts)."""
    with torch.inference_mode():
        logits = {
            c.song_id: model.from_pooled(torch.from_numpy(p.astype(np.float32))).numpy()
            for c, p in zip(clips, pooled, strict=True)
        }
    return OutOfFold(logits, {c.song_id: s for c, s in zip(clips, starts_s, strict=True)}, FINETUNE_FRONT_END.window_s)


def features_cache_dir(args: argparse.Namespace) -> Path:
    """Where the frozen musicnn features are cached: beside the spectrogram cache."""
    return Path(args.cache_dir).parent / "musicnn"


def recipe_from(args: argparse.Namespace) -> FinetuneRecipe:
    """The fine-tuning recipe the command-line flags ask for."""
    return FinetuneRecipe(
        epochs=args.epochs or FinetuneRecipe.epochs,
        mixup_alpha=args.mixup,
        freeze_back_ends=args.freeze_back_ends,
        ema_decay=args.ema_decay,
        seed=args.seed,
    )


def musicnn_teacher(clips: Sequence[TrainingClip], args: argparse.Namespace) -> TeacherFactory:
    """Soft targets from the fine-tuned member, for distilling it into another network: given
    training clips, a musicnn fine-tuned on those clips alone, and its probabilities on them."""
    pretrained, _ = pretrained_network()
    pooled, starts_s = load_pooled(clips, pretrained, FINETUNE_FRONT_END, features_cache_dir(args))
    moods = np.array([c.mood for c in clips])
    recipe = recipe_from(argparse.Namespace(**{**vars(args), "epochs": None, "freeze_back_ends": False}))

    def teacher_for(train_idx: Sequence[int]) -> Teacher:
        idx = list(train_idx)
        model = train_head(pretrained, [pooled[i] for i in idx], moods[idx], recipe, "musicnn teacher")
        run = score_pooled(model, [clips[i] for i in idx], [pooled[i] for i in idx], [starts_s[i] for i in idx])
        return Teacher(
            probabilities=[softmax(run.logits[clips[i].song_id]) for i in idx],
            centres_s=[starts_s[i] + FINETUNE_FRONT_END.window_s / 2 for i in idx],
        )

    return teacher_for


def finetune_and_ship(args: argparse.Namespace) -> None:
    """Cross-validate the fine-tuned musicnn member, then train it on all clips and write its weights."""
    torch.set_num_threads(max(1, torch.get_num_threads()))
    started = time.perf_counter()
    clips = read_clips(args.data)
    recipe = recipe_from(args)
    pretrained, provenance = pretrained_network()
    pooled, starts_s = load_pooled(clips, pretrained, FINETUNE_FRONT_END, features_cache_dir(args))
    print(f"musicnn features ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    moods = np.array([c.mood for c in clips])
    run = OutOfFold({}, {}, FINETUNE_FRONT_END.window_s)
    for fold in args.folds:
        train_idx = [i for i, c in enumerate(clips) if c.fold != fold]
        test_idx = [i for i, c in enumerate(clips) if c.fold == fold]
        model = train_head(pretrained, [pooled[i] for i in train_idx], moods[train_idx], recipe, f"musicnn fold {fold}")
        fold_run = score_pooled(
            model, [clips[i] for i in test_idx], [pooled[i] for i in test_idx], [starts_s[i] for i in test_idx]
        )
        run = run.merged(fold_run)
    save_run(run, args.runs_dir / f"{MODEL_NAME}_oof.npz")
    held = held_out_clips(clips, run)
    cv, _ = calibrated_cv(network_scorer(run, held), held)
    print(f"{MODEL_NAME}: CV macro-F1 {cv.macro_f1:.3f}, accuracy {cv.accuracy:.3f}", file=sys.stderr)
    if args.no_final:
        return
    model = train_head(pretrained, pooled, moods, recipe, "musicnn all clips")
    save_network(
        model, MODEL_NAME, args.weights_dir, ARCHITECTURE, FINETUNE_FRONT_END,
        trained_on=TRAINED_ON, recipe=asdict(recipe), cv=cv, pretrained=provenance,
    )  # fmt: skip
    print(f"wrote {args.weights_dir / MODEL_NAME}.pt in {time.perf_counter() - started:.0f} s", file=sys.stderr)
