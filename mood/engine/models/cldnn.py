"""CLDNN after the seed project's design: convolutions that pool along frequency, a
bidirectional LSTM over time, and a dropout + fully connected head."""

from __future__ import annotations

import torch
from torch import nn

from mood.engine.architectures import CLDNNConfig


def _conv_block(
    in_ch: int, out_ch: int, kernel: tuple[int, int], pool: tuple[int, int], leaky_slope: float
) -> nn.Sequential:
    padding = (kernel[0] // 2, kernel[1] // 2)
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, padding=padding, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.LeakyReLU(leaky_slope),
        nn.MaxPool2d(pool),
    )


class CLDNN(nn.Module):
    """Conv blocks -> BiLSTM -> mean+max over time -> dropout -> linear, shaped by a :class:`CLDNNConfig`."""

    def __init__(self, n_mels: int, n_classes: int, config: CLDNNConfig | None = None) -> None:
        super().__init__()
        config = CLDNNConfig() if config is None else config
        self.config = config
        self.input_norm = nn.BatchNorm2d(1)
        channels = (1, *config.conv_channels)
        pools = tuple(zip(config.freq_pools, config.time_pools, strict=True))
        self.convs = nn.Sequential(
            *(
                _conv_block(channels[i], channels[i + 1], config.conv_kernels[i], pools[i], config.leaky_slope)
                for i in range(len(config.conv_channels))
            )
        )
        freq_left = n_mels
        for pool in config.freq_pools:
            freq_left //= pool
        self.lstm = nn.LSTM(
            input_size=config.conv_channels[-1] * freq_left,
            hidden_size=config.lstm_hidden,
            num_layers=config.lstm_layers,
            dropout=config.lstm_dropout,
            bidirectional=True,
            batch_first=True,
        )
        self.head = nn.Sequential(nn.Dropout(config.head_dropout), nn.Linear(4 * config.lstm_hidden, n_classes))

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
