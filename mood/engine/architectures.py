"""Every architecture's shape as a typed, frozen config: what a manifest records beside the weights.

As whisper's ``ModelDimensions`` travel with its checkpoints, each network's manifest holds an
``architecture_config`` block, read into the dataclass that :data:`ARCHITECTURE_CONFIGS` names
for its ``architecture`` and handed to the builder (:func:`mood.engine.models.build_model`).
A layer changed in the code is then a new config (and a new model to train), never a state dict
that no longer fits at load. The defaults are the shapes of the shipped networks.

The sizes a network takes from elsewhere are not repeated here: the number of mel bands comes
from its front end (the manifest's ``features``), the number of outputs from its ``labels``.

This module imports neither torch nor the models, so manifests can be read without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResNet18Config:
    """torchvision's ResNet (basic blocks) on one input channel, randomly initialised."""

    blocks_per_stage: tuple[int, ...] = (2, 2, 2, 2)  # ResNet18
    stem_kernel: int = 7  # the first convolution, square, on the one-channel spectrogram
    stem_stride: int = 2


@dataclass(frozen=True)
class CLDNNConfig:
    """Convolutions pooling along frequency, a bidirectional LSTM over time, a dropout + linear head."""

    conv_channels: tuple[int, ...] = (32, 64, 128, 128)
    conv_kernels: tuple[tuple[int, int], ...] = ((7, 3), (5, 3), (3, 3), (3, 3))  # (frequency, time)
    freq_pools: tuple[int, ...] = (4, 4, 2, 2)  # 128 mel bands -> 2
    time_pools: tuple[int, ...] = (1, 2, 1, 1)  # 216 frames -> 108 LSTM steps
    lstm_hidden: int = 128
    lstm_layers: int = 2
    lstm_dropout: float = 0.25
    head_dropout: float = 0.5
    leaky_slope: float = 0.01

    def __post_init__(self) -> None:
        lengths = {len(self.conv_channels), len(self.conv_kernels), len(self.freq_pools), len(self.time_pools)}
        if len(lengths) != 1:
            raise ValueError("conv_channels, conv_kernels, freq_pools and time_pools must have one entry per block")


@dataclass(frozen=True)
class MusicnnConfig:
    """The musicnn tagger (Pons & Serra): musically motivated front end, residual mid end, dense back end.

    ``MSD_musicnn`` and ``MTT_musicnn`` have these values; the unreleased ``MSD_musicnn_big``
    has 512 mid-end filters and 500 back-end units.
    """

    timbral_filters: int = 204  # per timbral branch: int(1.6 * 128), musicnn's num_filt 1.6
    temporal_filters: int = 51  # per temporal branch: int(1.6 * 32)
    timbral_kernel_frames: int = 7
    timbral_kernel_mel_fractions: tuple[float, ...] = (0.4, 0.7)  # kernel height = int(fraction * n_mels)
    temporal_kernel_frames: tuple[int, ...] = (128, 64, 32)  # frequency extent 1, 'same' padding in time
    midend_layers: int = 3  # 1-D convolutions over time, all but the first residual
    midend_kernel_frames: int = 7
    midend_filters: int = 64
    backend_units: int = 200
    backend_dropout: float = 0.5
    bn_eps: float = 1e-3  # TensorFlow's batch-norm epsilon (PyTorch's default is 1e-5)


@dataclass(frozen=True)
class MusicnnVGGConfig:
    """musicnn's VGG baseline: 'same' convolutions, each with ReLU, batch norm and a max pool."""

    filters: int = 128
    kernel: int = 3
    pools: tuple[tuple[int, int], ...] = ((4, 1), (2, 2), (2, 2), (2, 2), (4, 4))  # (time, frequency)
    pool_strides: tuple[tuple[int, int], ...] = ((2, 2), (2, 2), (2, 2), (2, 2), (4, 4))
    conv_dropout: float = 0.25  # before the 2nd to last convolutions
    dense_dropout: float = 0.5
    patch_frames: int = 187  # the only input length the dense layer fits
    bn_eps: float = 1e-3

    def __post_init__(self) -> None:
        if len(self.pools) != len(self.pool_strides):
            raise ValueError("pools and pool_strides must have one entry per convolution")


@dataclass(frozen=True)
class MusicnnMoodConfig:
    """The fine-tuned member: musicnn backbones, each one's embedding and tag logits into a mood head."""

    backbones: tuple[str, ...] = ("msd_musicnn", "mtt_musicnn")  # converted networks in mood/weights/backbones/
    backbone: MusicnnConfig = field(default_factory=MusicnnConfig)  # the shape of each
    n_tags: int = 50  # each backbone's tag logits
    head_dropout: float = 0.3

    def __post_init__(self) -> None:
        if not self.backbones:
            raise ValueError("the member needs at least one backbone")


@dataclass(frozen=True)
class HybridLogisticConfig:
    """The hybrid member: a multinomial logistic head on clip-level features (not a network).

    Its columns, in order: each group's features (``group_sizes``, the musicnn statistics first,
    then the musical feature groups); each column is scaled by median and IQR, clipped at
    ``robust_clip``, then standardised, before the linear head.
    """

    n_features: int
    group_sizes: dict[str, int]  # feature group -> its number of columns, in column order
    backbones: tuple[str, ...] = ("msd_musicnn", "mtt_musicnn")  # converted networks in mood/weights/backbones/
    robust_clip: float = 5.0

    def __post_init__(self) -> None:
        if sum(self.group_sizes.values()) != self.n_features:
            raise ValueError(f"group_sizes must add up to n_features ({self.n_features})")


HEAD_CONFIGS: dict[str, type[HybridLogisticConfig]] = {"hybrid_logistic": HybridLogisticConfig}
"""Architecture name -> the config of a clip-level head (built by :mod:`mood.engine.hybrid`, not a network)."""

ArchitectureConfig = ResNet18Config | CLDNNConfig | MusicnnConfig | MusicnnVGGConfig | MusicnnMoodConfig

ARCHITECTURE_CONFIGS: dict[str, type[ArchitectureConfig]] = {
    "resnet18": ResNet18Config,
    "cldnn": CLDNNConfig,
    "musicnn": MusicnnConfig,  # a converted tagger (mood/weights/backbones/), not a mood model
    "musicnn_vgg": MusicnnVGGConfig,  # likewise
    "musicnn_mood": MusicnnMoodConfig,
}
"""Architecture name (a manifest's ``architecture``) -> the config class of its ``architecture_config``."""
