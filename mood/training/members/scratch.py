"""Members trained from scratch on log-mel spectrograms: ResNet18 and CLDNN.

Each epoch draws ``crops_per_clip`` random windows of every training clip (looped if short),
with gain, EQ tilt and SpecAugment masks, through :func:`mood.training.loop.fit`. With a
teacher, each crop also learns the teacher's probabilities for the window nearest it.
Held-out clips are scored on the very windows the app cuts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from mood.constants import MOODS
from mood.engine.features import SCRATCH_FRONT_END, FrontEnd, make_windows
from mood.engine.manifest import CrossValidation
from mood.engine.models import build_model
from mood.engine.torch_weights import network_logits, save_network
from mood.training.cv import Teacher, TeacherFactory
from mood.training.dataset import TrainingClip, augment, load_spectrograms, random_crop
from mood.training.loop import Batch, LoopSettings, Student, bf16_autocast_supported, fit
from mood.training.paths import MEL_CACHE, TRAINING_SET
from mood.training.runs import OutOfFold

SCRATCH_ARCHITECTURES = ("resnet18", "cldnn")  # the project's own architectures, each its own model name


@dataclass(frozen=True)
class ScratchRecipe:
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

    def loop_settings(self) -> LoopSettings:
        """What the training loop needs of this recipe (bfloat16 where the CPU has it)."""
        return LoopSettings(
            epochs=self.epochs,
            batch_size=self.batch_size,
            draws_per_item=self.crops_per_clip,
            weight_decay=self.weight_decay,
            label_smoothing=self.label_smoothing,
            mixup_alpha=self.mixup_alpha,
            ema_decay=self.ema_decay,
            seed=self.seed,
            distill_weight=self.distill_weight,
            distill_temperature=self.distill_temperature,
            bf16=bf16_autocast_supported(),
        )


@dataclass(frozen=True)
class Crops:
    """Random augmented crops of training spectrograms (a :class:`mood.training.loop.TrainingData`)."""

    mels: Sequence[npt.NDArray[np.float16]]
    moods: npt.NDArray[np.int_]
    front_end: FrontEnd
    augment: bool
    teacher: Teacher | None = None

    def __len__(self) -> int:
        return len(self.mels)

    def batch(self, idx: npt.NDArray[np.int_], rng: np.random.Generator) -> Batch:
        """One random crop of each clip ``idx`` (then augmented), and the teacher's probabilities
        for the window nearest each crop."""
        width = self.front_end.window_frames
        crops, starts = zip(*(random_crop(self.mels[i], width, rng) for i in idx), strict=True)
        x = torch.from_numpy(np.stack([augment(c, rng) for c in crops] if self.augment else crops))
        soft = None
        if self.teacher is not None:
            centres = [(start + width / 2) * self.front_end.frame_s for start in starts]
            targets = [self.teacher.target(i, c) for i, c in zip(idx, centres, strict=True)]
            soft = torch.from_numpy(np.stack(targets))
        return Batch(x, torch.from_numpy(self.moods[idx]), soft)


class ScratchMember:
    """A ResNet18 or CLDNN member (a :class:`mood.training.cv.Member` of ``nn.Module``)."""

    def __init__(
        self,
        architecture: str,
        clips: Sequence[TrainingClip],
        mels: Sequence[npt.NDArray[np.float16]],
        recipe: ScratchRecipe,
        teacher_for: TeacherFactory | None = None,
        front_end: FrontEnd = SCRATCH_FRONT_END,
    ) -> None:
        self.name = architecture
        self.clips = clips
        self.mels = mels
        self.recipe = recipe
        self.teacher_for = teacher_for
        self.front_end = front_end

    def fit(self, train_idx: Sequence[int], desc: str) -> nn.Module:
        """A fresh network trained on the clips ``train_idx`` (its teacher fitted on them alone)."""
        idx = list(train_idx)
        teacher = self.teacher_for(idx) if self.teacher_for else None
        moods = np.array([self.clips[i].mood for i in idx])
        data = Crops([self.mels[i] for i in idx], moods, self.front_end, self.recipe.augment, teacher)
        return fit(self._student, data, self.recipe.loop_settings(), desc)

    def score(self, fitted: nn.Module, idx: Sequence[int]) -> OutOfFold:
        """The network's logits for every window the app cuts from each clip ``idx``."""
        logits, starts_s = {}, {}
        for i in idx:
            windows, starts = make_windows(self.mels[i].astype(np.float32), self.front_end)
            logits[self.clips[i].song_id] = network_logits(fitted, windows)
            starts_s[self.clips[i].song_id] = np.asarray(starts, dtype=np.float64) * self.front_end.frame_s
        return OutOfFold(logits, starts_s, self.front_end.window_s)

    def ship(self, fitted: nn.Module, cv: CrossValidation, weights_dir: Path) -> None:
        """Write ``<name>.pt`` and ``<name>.json`` (shape, front end, recipe, figures)."""
        save_network(
            fitted, self.name, weights_dir, self.name, self.front_end,
            trained_on=TRAINING_SET, recipe=asdict(self.recipe), cv=cv,
        )  # fmt: skip

    def _student(self) -> Student[nn.Module]:
        network = build_model(self.name, self.front_end, len(MOODS)).to(memory_format=torch.channels_last)
        return Student(network, [(list(network.parameters()), self.recipe.max_lr)], network, network.train)


def scratch_member(
    architecture: str,
    clips: Sequence[TrainingClip],
    recipe: ScratchRecipe,
    cache_dir: Path,
    teacher_for: TeacherFactory | None = None,
) -> ScratchMember:
    """The member with every clip's spectrogram decoded (once, then from ``cache_dir/mel``)."""
    started = time.perf_counter()
    mels = load_spectrograms(list(clips), SCRATCH_FRONT_END, cache_dir / MEL_CACHE)
    print(f"spectrograms ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return ScratchMember(architecture, clips, mels, recipe, teacher_for)
