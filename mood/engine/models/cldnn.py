"""CLDNN after the seed project's design: convolutions that pool along frequency, a
bidirectional LSTM over time, and a dropout + fully connected head."""

from __future__ import annotations

import torch
from torch import nn

CONV_CHANNELS = (32, 64, 128, 128)
CONV_KERNELS = ((7, 3), (5, 3), (3, 3), (3, 3))  # (frequency, time): rectangular
FREQ_POOLS = (4, 4, 2, 2)  # 128 mel bands -> 2
TIME_POOLS = (1, 2, 1, 1)  # 216 frames -> 108 LSTM steps
LSTM_HIDDEN = 128
LSTM_LAYERS = 2
LSTM_DROPOUT = 0.25
HEAD_DROPOUT = 0.5
LEAKY_SLOPE = 0.01


def _conv_block(in_ch: int, out_ch: int, kernel: tuple[int, int], pool: tuple[int, int]) -> nn.Sequential:
    padding = (kernel[0] // 2, kernel[1] // 2)
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, padding=padding, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.LeakyReLU(LEAKY_SLOPE),
        nn.MaxPool2d(pool),
    )


class CLDNN(nn.Module):
    """Conv blocks -> 2-layer BiLSTM (128) -> mean+max over time -> dropout -> linear."""

    def __init__(self, n_mels: int, n_classes: int) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm2d(1)
        channels = (1, *CONV_CHANNELS)
        self.convs = nn.Sequential(
            *(
                _conv_block(channels[i], channels[i + 1], CONV_KERNELS[i], (FREQ_POOLS[i], TIME_POOLS[i]))
                for i in range(len(CONV_CHANNELS))
            )
        )
        freq_left = n_mels
        for pool in FREQ_POOLS:
            freq_left //= pool
        self.lstm = nn.LSTM(
            input_size=CONV_CHANNELS[-1] * freq_left,
            hidden_size=LSTM_HIDDEN,
            num_layers=LSTM_LAYERS,
            dropout=LSTM_DROPOUT,
            bidirectional=True,
            batch_first=True,
        )
        self.head = nn.Sequential(nn.Dropout(HEAD_DROPOUT), nn.Linear(4 * LSTM_HIDDEN, n_classes))

    def forward(self, mel_db: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(batch, n_classes)`` for input ``(batch, n_mels, n_frames)``."""
        x = self.convs(self.input_norm(mel_db.unsqueeze(1)))  # (batch, channels, freq, time)
        x = x.flatten(1, 2).transpose(1, 2).contiguous()  # (batch, time, channels * freq)
        # CPU autocast would silently run the LSTM in bf16; keep it in fp32.
        with torch.autocast(device_type=x.device.type, enabled=False):
            steps, _ = self.lstm(x.float())
        pooled = torch.cat([steps.mean(dim=1), steps.amax(dim=1)], dim=1)
        logits: torch.Tensor = self.head(pooled)
        return logits
