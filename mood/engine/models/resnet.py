"""torchvision's ResNet18 adapted to one-channel log-mel windows."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet18


class ResNet18Mood(nn.Module):
    """ResNet18 (random init, no ImageNet weights) on a ``(batch, n_mels, n_frames)`` spectrogram.

    A BatchNorm on the single input channel learns the dB scale, so the features need no
    hand-set normalisation constants.
    """

    def __init__(self, n_mels: int, n_classes: int) -> None:
        super().__init__()
        del n_mels  # the network is size-agnostic (global average pooling)
        self.input_norm = nn.BatchNorm2d(1)
        self.net = resnet18(weights=None, num_classes=n_classes)
        self.net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)

    def forward(self, mel_db: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(batch, n_classes)``."""
        logits: torch.Tensor = self.net(self.input_norm(mel_db.unsqueeze(1)))
        return logits
