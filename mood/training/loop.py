"""The one seeded training loop every torch member goes through.

:func:`fit` seeds torch and numpy from the settings, builds the network under that seed,
then runs AdamW over the member's parameter groups with a one-cycle schedule (each group its
own peak learning rate), mixup of inputs (and of soft targets, when distilling), label-smoothed
cross-entropy, a stop on a non-finite loss, an exponential moving average of the weights, and a
progress bar per epoch. It returns the averaged weights in eval mode.

What differs between members is what they hand in:

* a :class:`Student`: the network, its parameter groups with their peak learning rates, its
  forward pass (a spectrogram network's ``network(x)``, or a head on cached features) and what
  "training mode" means for it (all layers, or only those being trained);
* a :class:`TrainingData`: how many items (clips) it has, and a :class:`Batch` for a set of
  item indices, drawn with the loop's generator (random crops, augmentation, a random cached
  window...). The loop draws in this order each step: the batch, then mixup's weight, then its
  pairing; each epoch starts with one permutation of ``draws_per_item`` copies of every item.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar, cast

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

N = TypeVar("N", bound=nn.Module)


@dataclass(frozen=True)
class LoopSettings:
    """Every choice the loop makes, taken from a member's recipe."""

    epochs: int
    batch_size: int
    draws_per_item: int  # items drawn from each clip per epoch (crops, windows)
    weight_decay: float  # AdamW
    label_smoothing: float
    mixup_alpha: float  # 0 turns mixup off
    ema_decay: float  # per step; 0 returns the last weights
    seed: int
    distill_weight: float = 0.0  # share of the loss matching the soft targets, when a batch has them
    distill_temperature: float = 1.0  # both distributions softened by it, as in Hinton et al. 2015
    bf16: bool = False  # forward passes under CPU autocast to bfloat16


@dataclass(frozen=True)
class Batch:
    """One step's inputs, true mood indices and (when distilling) soft target probabilities."""

    inputs: torch.Tensor  # float32, (batch, ...)
    moods: torch.Tensor  # int64, (batch,)
    soft_targets: torch.Tensor | None = None  # float32, (batch, n_moods)


class TrainingData(Protocol):
    """A member's training items, as the loop draws them."""

    def __len__(self) -> int:
        """How many items (clips) there are."""
        ...

    def batch(self, idx: npt.NDArray[np.int_], rng: np.random.Generator) -> Batch:
        """The batch of items ``idx``; any randomness drawn from ``rng``."""
        ...


@dataclass(frozen=True)
class Student(Generic[N]):
    """A freshly built network and how the loop trains it.

    Attributes:
        network: the network whose weights are trained (and averaged).
        groups: (parameters, peak learning rate) per optimiser group.
        forward: inputs of a :class:`Batch` -> logits ``(batch, n_moods)``.
        train_mode: puts the trained layers in training mode (the rest may stay in eval mode).
    """

    network: N
    groups: Sequence[tuple[Sequence[nn.Parameter], float]]
    forward: Callable[[torch.Tensor], torch.Tensor]
    train_mode: Callable[[], object]


def fit(build: Callable[[], Student[N]], data: TrainingData, settings: LoopSettings, desc: str) -> N:
    """Build a student under ``settings.seed``, train it on ``data``; its averaged weights, in eval mode.

    Raises:
        FloatingPointError: the loss became infinite or NaN.
    """
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    student = build()
    ema = AveragedModel(
        student.network,
        multi_avg_fn=get_ema_multi_avg_fn(settings.ema_decay),  # type: ignore[no-untyped-call]
        use_buffers=True,
    )
    steps_per_epoch = max(1, len(data) * settings.draws_per_item // settings.batch_size)
    optimiser = torch.optim.AdamW(
        [{"params": list(params), "lr": lr} for params, lr in student.groups], weight_decay=settings.weight_decay
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=[lr for _, lr in student.groups], total_steps=settings.epochs * steps_per_epoch
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)
    bar = tqdm(range(settings.epochs), desc=desc, unit="epoch", file=sys.stderr)
    for _ in bar:
        student.train_mode()
        order = rng.permutation(np.repeat(np.arange(len(data)), settings.draws_per_item))
        losses = []
        for step in range(steps_per_epoch):
            idx = order[step * settings.batch_size : (step + 1) * settings.batch_size]
            loss = mixup_loss(student.forward, data.batch(idx, rng), loss_fn, settings, rng)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"training loss became {loss.item()}; try a smaller --epochs or another --seed"
                )
            losses.append(optimisation_step(loss, optimiser, schedule, ema, student.network))
        bar.set_postfix(loss=f"{np.mean(losses):.3f}")
    return cast(N, ema.module).eval()


def mixup_loss(
    forward: Callable[[torch.Tensor], torch.Tensor],
    batch: Batch,
    loss_fn: nn.Module,
    settings: LoopSettings,
    rng: np.random.Generator,
) -> torch.Tensor:
    """The loss of one batch mixed with a shuffled copy of itself (Zhang et al. 2018).

    The mixing weight is drawn from Beta(alpha, alpha) (1, no mixing, for alpha 0), then the
    pairing; with soft targets, ``settings.distill_weight`` of the loss matches them.
    """
    alpha = settings.mixup_alpha
    lam = float(rng.beta(alpha, alpha)) if alpha > 0 else 1.0
    perm = torch.from_numpy(rng.permutation(len(batch.moods)))
    x, y = batch.inputs, batch.moods
    mixed = lam * x + (1.0 - lam) * x[perm]
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
        logits = forward(mixed).float()
    loss: torch.Tensor = lam * loss_fn(logits, y) + (1.0 - lam) * loss_fn(logits, y[perm])
    if batch.soft_targets is not None:
        soft = lam * batch.soft_targets + (1.0 - lam) * batch.soft_targets[perm]
        distilled = distillation_loss(logits, soft, settings.distill_temperature)
        loss = (1.0 - settings.distill_weight) * loss + settings.distill_weight * distilled
    return loss


def distillation_loss(logits: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) with both softened by ``temperature``, scaled by its square."""
    soft_teacher = torch.softmax(torch.log(teacher.clamp_min(1e-8)) / temperature, dim=1)
    log_student = torch.log_softmax(logits / temperature, dim=1)
    return nn.functional.kl_div(log_student, soft_teacher, reduction="batchmean") * temperature**2


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


def bf16_autocast_supported() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX or AVX512-BF16); else train in fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("amx_bf16", "avx512_bf16"))
