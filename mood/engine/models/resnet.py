"""torchvision's ResNet18 adapted to one-channel log-mel windows."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

from mood.engine.architectures import ResNet18Config

STEM_CHANNELS = 64  # what torchvision's ResNet's first stage expects


class ResNet18Mood(nn.Module):
    """ResNet18 (random init, no ImageNet weights) on a ``(batch, n_mels, n_frames)`` spectrogram,
    its stages and stem from a :class:`ResNet18Config`.

    A BatchNorm on the single input channel learns the dB scale, so the features need no
    hand-set normalisation constants.
    """

    def __init__(self, n_mels: int, n_classes: int, config: ResNet18Config | None = None) -> None:
        super().__init__()
        config = ResNet18Config() if config is None else config
        del n_mels  # the network is size-agnostic (global average pooling)
        self.config = config
        self.input_norm = nn.BatchNorm2d(1)
        self.net = ResNet(BasicBlock, list(config.blocks_per_stage), num_classes=n_classes)
        self.net.conv1 = nn.Conv2d(
            1, STEM_CHANNELS, config.stem_kernel, stride=config.stem_stride, padding=config.stem_kernel // 2, bias=False
        )

    def forward(self, mel_db: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(batch, n_classes)``."""
        logits: torch.Tensor = self.net(self.input_norm(mel_db.unsqueeze(1)))
        return logits
