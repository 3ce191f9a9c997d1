"""The one training loop on tiny synthetic data: seeded, averaged, grouped, guarded."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pytest
import torch
from torch import nn

from mood.training.loop import Batch, LoopSettings, Student, distillation_loss, fit

N_ITEMS, N_FEATURES, N_CLASSES = 40, 8, 4
SETTINGS = LoopSettings(
    epochs=3, batch_size=8, draws_per_item=1, weight_decay=1e-2, label_smoothing=0.1,
    mixup_alpha=0.2, ema_decay=0.9, seed=0,
)  # fmt: skip


@dataclass(frozen=True)
class Blobs:
    """Items around one centre per class; each draw adds noise from the loop's generator."""

    centres: npt.NDArray[np.float32]
    moods: npt.NDArray[np.int_]
    soft: npt.NDArray[np.float32] | None = None

    def __len__(self) -> int:
        return len(self.moods)

    def batch(self, idx: npt.NDArray[np.int_], rng: np.random.Generator) -> Batch:
        x = self.centres[self.moods[idx]] + rng.normal(scale=0.3, size=(len(idx), N_FEATURES)).astype(np.float32)
        soft = None if self.soft is None else torch.from_numpy(self.soft[idx])
        return Batch(torch.from_numpy(x), torch.from_numpy(self.moods[idx]), soft)


def blobs(scale: float = 1.0) -> Blobs:
    rng = np.random.default_rng(7)
    centres = (rng.normal(size=(N_CLASSES, N_FEATURES)) * 3 * scale).astype(np.float32)
    return Blobs(centres, np.arange(N_ITEMS) % N_CLASSES)


class TwoLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(N_FEATURES, 16)
        self.head = nn.Linear(16, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(torch.relu(self.body(x)))
        return out


def student(body_lr: float = 1e-2, built: list[TwoLayers] | None = None) -> Student[TwoLayers]:
    network = TwoLayers()
    if built is not None:
        built.append(network)
    groups = [(list(network.head.parameters()), 1e-2), (list(network.body.parameters()), body_lr)]
    return Student(network, groups, network, network.train)


def weights(network: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in network.parameters()]


def test_the_seed_decides_everything() -> None:
    first, again = fit(student, blobs(), SETTINGS, "a"), fit(student, blobs(), SETTINGS, "b")
    other = fit(student, blobs(), replace(SETTINGS, seed=1), "c")
    assert all(torch.equal(a, b) for a, b in zip(weights(first), weights(again), strict=True))
    assert not torch.equal(weights(first)[0], weights(other)[0])
    assert not first.training  # returned in eval mode


def test_it_learns_separable_classes() -> None:
    network = fit(student, blobs(), replace(SETTINGS, epochs=30), "learn")
    data = blobs()
    batch = data.batch(np.arange(N_ITEMS), np.random.default_rng(99))
    with torch.inference_mode():
        accuracy = (network(batch.inputs).argmax(dim=1) == batch.moods).float().mean().item()
    assert accuracy >= 0.9


def test_each_group_gets_its_own_peak_learning_rate() -> None:
    built: list[TwoLayers] = []
    initial: dict[str, list[torch.Tensor]] = {}

    def frozen_body() -> Student[TwoLayers]:
        made = student(body_lr=0.0, built=built)
        initial.update(body=weights(made.network.body), head=weights(made.network.head))
        return made

    fit(frozen_body, blobs(), replace(SETTINGS, ema_decay=0.0), "groups")
    trained = built[0]
    assert all(torch.equal(a, b) for a, b in zip(weights(trained.body), initial["body"], strict=True))
    assert not torch.equal(weights(trained.head)[0], initial["head"][0])


def test_the_returned_weights_are_the_moving_average() -> None:
    built: list[TwoLayers] = []
    last = fit(lambda: student(built=built), blobs(), replace(SETTINGS, ema_decay=0.0), "last")
    assert all(torch.equal(a, b) for a, b in zip(weights(last), weights(built[0]), strict=True))
    averaged = fit(lambda: student(built=built), blobs(), SETTINGS, "averaged")
    assert not torch.equal(weights(averaged)[0], weights(built[1])[0])


def test_train_mode_is_set_every_epoch() -> None:
    calls: list[int] = []

    def counted() -> Student[TwoLayers]:
        made = student()
        return replace(made, train_mode=lambda: calls.append(1))

    fit(counted, blobs(), SETTINGS, "modes")
    assert len(calls) == SETTINGS.epochs


def test_a_non_finite_loss_stops_training_with_what_to_try() -> None:
    exploding = Blobs(np.full((N_CLASSES, N_FEATURES), np.inf, dtype=np.float32), np.arange(N_ITEMS) % N_CLASSES)
    with pytest.raises(FloatingPointError, match="try a smaller --epochs or another --seed"):
        fit(student, exploding, SETTINGS, "boom")


def test_soft_targets_pull_towards_the_teacher() -> None:
    data = blobs()
    uniform = np.full((N_ITEMS, N_CLASSES), 1.0 / N_CLASSES, dtype=np.float32)
    distilled = replace(SETTINGS, epochs=30, distill_weight=1.0, distill_temperature=2.0)
    plain = fit(student, data, replace(SETTINGS, epochs=30), "plain")
    taught = fit(student, replace(data, soft=uniform), distilled, "taught")
    batch = data.batch(np.arange(N_ITEMS), np.random.default_rng(3))
    with torch.inference_mode():
        confidence = {n: torch.softmax(m(batch.inputs), dim=1).amax(dim=1).mean().item() for n, m in
                      (("plain", plain), ("taught", taught))}  # fmt: skip
    assert confidence["taught"] < confidence["plain"]  # a uniform teacher makes the student unsure


def test_distillation_loss_is_zero_when_student_and_teacher_agree() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5]])
    assert distillation_loss(logits, torch.softmax(logits, dim=1), 2.0).item() == pytest.approx(0.0, abs=1e-6)
    assert distillation_loss(logits, torch.tensor([[0.0, 0.0, 1.0, 0.0]]), 2.0).item() > 0.1
