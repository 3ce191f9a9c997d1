"""Model architectures, each built by name from a registry."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from mood.errors import ModelError
from mood.models.cldnn import CLDNN
from mood.models.resnet import ResNet18Mood

ARCHITECTURES: dict[str, Callable[[int, int], nn.Module]] = {
    "resnet18": ResNet18Mood,
    "cldnn": CLDNN,
}


def build_model(architecture: str, n_mels: int, n_classes: int) -> nn.Module:
    """A freshly initialised model of the named architecture.

    The input is a batch of log-mel windows, shape ``(batch, n_mels, n_frames)`` in dB;
    the output is logits, shape ``(batch, n_classes)``.

    Raises:
        ModelError: the architecture is unknown.
    """
    try:
        builder = ARCHITECTURES[architecture]
    except KeyError:
        raise ModelError(f"Unknown architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}.") from None
    return builder(n_mels, n_classes)
