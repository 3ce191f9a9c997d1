"""Model architectures, each built by name from a registry, shaped by its typed config.

Every architecture a manifest can name has a builder here and a config class in
:mod:`mood.engine.architectures` (the converted musicnn taggers too); a test checks both
lists are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from mood.engine.architectures import ARCHITECTURE_CONFIGS, ArchitectureConfig
from mood.engine.features import FrontEnd
from mood.engine.models.cldnn import CLDNN
from mood.engine.models.musicnn import Musicnn, MusicnnVGG
from mood.engine.models.musicnn_mood import MusicnnMood
from mood.engine.models.resnet import ResNet18Mood
from mood.errors import ModelError

Builder = Callable[[int, int, Any], nn.Module]  # (n_mels, n_outputs, config) -> a fresh network

BUILDERS: dict[str, Builder] = {
    "resnet18": ResNet18Mood,
    "cldnn": CLDNN,
    "musicnn": Musicnn,
    "musicnn_vgg": MusicnnVGG,
    "musicnn_mood": MusicnnMood,
}
"""Architecture name -> the class that builds it from ``(n_mels, n_outputs, config)``."""


def build_model(
    architecture: str, front_end: FrontEnd, n_classes: int, config: ArchitectureConfig | None = None
) -> nn.Module:
    """A freshly initialised model of the named architecture, for inputs of ``front_end``.

    The input is a batch of spectrogram windows, shape ``(batch, n_mels, window_frames)``;
    the output is logits, shape ``(batch, n_classes)``.

    Args:
        architecture: a name of :data:`BUILDERS`.
        front_end: what the network hears (its ``n_mels`` sizes the input).
        n_classes: how many outputs (moods, or tags for a converted tagger).
        config: the network's shape, as its manifest records it; None builds the default shape.

    Raises:
        ModelError: the architecture is unknown, or ``config`` belongs to another architecture.
    """
    expected = _config_class(architecture)
    shape = expected() if config is None else config
    if not isinstance(shape, expected):
        raise ModelError(
            f"A {type(shape).__name__} does not shape a {architecture!r} network; it needs a {expected.__name__}."
        )
    return BUILDERS[architecture](front_end.n_mels, n_classes, shape)


def config_of(network: nn.Module, architecture: str) -> ArchitectureConfig:
    """The config a network was built with, checked against its architecture (what its manifest records).

    Raises:
        ModelError: the network records no config, or one of another architecture.
    """
    config = getattr(network, "config", None)
    expected = _config_class(architecture)
    if not isinstance(config, expected):
        raise ModelError(
            f"The network does not record a {expected.__name__}, so it cannot be saved as {architecture!r}."
        )
    return config


def _config_class(architecture: str) -> type[ArchitectureConfig]:
    try:
        return ARCHITECTURE_CONFIGS[architecture]
    except KeyError:
        known = ", ".join(ARCHITECTURE_CONFIGS)
        raise ModelError(f"Unknown architecture {architecture!r}; known: {known}.") from None
