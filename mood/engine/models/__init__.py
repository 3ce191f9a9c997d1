"""Model architectures, each built by name from a registry."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from mood.engine.features import FrontEnd
from mood.engine.models.cldnn import CLDNN
from mood.engine.models.musicnn_mood import MusicnnMood
from mood.engine.models.resnet import ResNet18Mood
from mood.errors import ModelError

ARCHITECTURES: dict[str, Callable[[int, int], nn.Module]] = {
    "resnet18": ResNet18Mood,
    "cldnn": CLDNN,
    "musicnn_mood": MusicnnMood,
}


def build_model(architecture: str, front_end: FrontEnd, n_classes: int) -> nn.Module:
    """A freshly initialised model of the named architecture, for inputs of ``front_end``.

    The input is a batch of spectrogram windows, shape ``(batch, n_mels, window_frames)``;
    the output is logits, shape ``(batch, n_classes)``.

    Raises:
        ModelError: the architecture is unknown.
    """
    try:
        builder = ARCHITECTURES[architecture]
    except KeyError:
        raise ModelError(f"Unknown architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}.") from None
    return builder(front_end.n_mels, n_classes)
