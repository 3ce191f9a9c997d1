"""PyTorch ports of the pretrained musicnn audio taggers.

musicnn, by Jordi Pons and Xavier Serra (ISC licence), "musicnn: pre-trained convolutional
neural networks for music audio tagging", ISMIR 2019 late-breaking demo,
https://github.com/jordipons/musicnn . This module ports ``musicnn/models.py`` of the PyPI
release ``musicnn==0.1.0``: :class:`Musicnn` is its ``build_musicnn`` (the ``MSD_musicnn`` and
``MTT_musicnn`` checkpoints), :class:`MusicnnVGG` its ``vgg`` (``MSD_vgg`` and ``MTT_vgg``).
``mood.training.convert_musicnn`` maps the original TensorFlow checkpoints onto these modules
and proves the port against the original. The original code and weights are Copyright (c)
Music Technology Group, Universitat Pompeu Fabra 2019, under the ISC licence (use, copy,
modify and distribute with the copyright and permission notice kept).

Layout: the original takes ``(batch, 187 frames, 96 mels)`` and works channels-last with time
as height and frequency as width. These ports take ``(batch, n_mels, n_frames)``, the project's
convention, and internally work on ``(batch, channels, time, frequency)``, so that every
kernel keeps the original's (time, frequency) axes. The input is musicnn's log-compressed
mel spectrogram, ``log10(1 + 10000 * mel_power)`` (16 kHz, n_fft 512, hop 256, 96 mels), in
patches of 187 frames (3 s); musicnn also accepts other lengths, the VGG does not. (musicnn's
``extractor.batch_data`` rounds the mel power to float16 before the log: the networks were
run, and are proved, on that rounding.)

The layer sizes are a :class:`~mood.engine.architectures.MusicnnConfig` (or
``MusicnnVGGConfig``), recorded in each converted network's manifest. All batch norms use
TensorFlow's epsilon; dropout, active only in training, is kept so that
fine-tuning behaves as the original's training did.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mood.constants import DEAD_FILTER_TOLERANCE, MUSICNN_MAX_INPUT
from mood.engine.architectures import MusicnnConfig, MusicnnVGGConfig


def tf_same_padding(kernel: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding at stride 1, (before, after): the odd frame goes after."""
    total = kernel - 1
    return total // 2, total - total // 2


def _to_time_frequency(mel: torch.Tensor) -> torch.Tensor:
    """``(batch, n_mels, n_frames)`` -> ``(batch, 1, n_frames, n_mels)``, the original's axes."""
    return mel.transpose(1, 2).unsqueeze(1)


class _FrequencyMaxBlock(nn.Module):
    """Conv2d -> ReLU -> batch norm -> max over all frequencies: ``(B, 1, T, F)`` -> ``(B, C, T)``.

    musicnn's ``timbral_block`` and ``tempo_block``; ``time_padding`` (before, after) zero-pads
    the time axis first, which is how both blocks keep the original number of frames. ``n_mels``:
    the input's bands, ``F``.
    """

    def __init__(
        self, filters: int, kernel: tuple[int, int], time_padding: tuple[int, int], n_mels: int, bn_eps: float
    ) -> None:
        super().__init__()
        self.time_padding = time_padding
        self.frequencies = n_mels - kernel[1] + 1  # the convolution's output bands (no frequency padding)
        self.conv = nn.Conv2d(1, filters, kernel)
        self.bn = nn.BatchNorm2d(filters, eps=bn_eps)

    def forward(self, x: torch.Tensor, input_bound: float) -> torch.Tensor:
        """``(batch, 1, n_frames, n_mels)`` -> ``(batch, filters, n_frames)``; ``input_bound``: the
        largest ``|x|`` the block can be given (:meth:`live_filters`)."""
        padded = F.pad(x, (0, 0, *self.time_padding))
        if self.bn.training:
            normed: torch.Tensor = self.bn(F.relu(self.conv(padded)))
            return normed.amax(dim=3)
        return self._eval_forward(padded, input_bound)

    def live_filters(self, input_bound: float) -> list[int]:
        """The filters whose output can change by ``DEAD_FILTER_TOLERANCE`` or more for inputs
        with ``|x| <= input_bound``.

        A filter's output lies within ``|bn scale| * sum |weights| * input_bound`` of what it
        would be with all its weights zero (its bias through ReLU and batch norm): ReLU and the
        max move nothing further. Most of musicnn's filters were trained down to next to nothing (MSD_musicnn:
        181 and 190 of the 204 timbral ones, MTT_musicnn 139 and 137): below the tolerance they
        are constants, not convolutions. The tolerance is a hundredth of a batch-normalised
        feature's spread, about bfloat16's rounding step for such values: on real patches the pooled
        features move by 0.0054 at most, the shipped member's logits by 0.0015, and no served top
        mood of 4Q or Grekow changes (README, Speed).
        """
        bn = self.bn
        assert bn.running_var is not None
        with torch.no_grad():
            gain = bn.weight.abs() / torch.sqrt(bn.running_var + bn.eps)
            reach = gain * self.conv.weight.abs().flatten(1).sum(dim=1) * input_bound
        return [int(i) for i in torch.nonzero(reach >= DEAD_FILTER_TOLERANCE).flatten()]

    def _eval_forward(self, padded: torch.Tensor, input_bound: float) -> torch.Tensor:
        """The same result in eval mode, and musicnn several times faster as a whole.

        There batch norm is a per-channel affine map and ReLU is monotone, so the max over
        frequencies can be taken straight after the convolution, and ReLU and batch norm run
        on the small ``(batch, filters, n_frames)`` map instead of on every frequency. Where a
        channel's batch-norm scale is negative the max becomes the min: the convolution of such
        a channel is run negated, its max taken and negated back. Only the live filters
        (:meth:`live_filters`) are convolved; the others give their bias at every frame. Their
        indices are plain numbers, so an ONNX export holds the live filters' weights alone.
        """
        bn = self.bn
        assert bn.running_mean is not None and bn.running_var is not None
        bias = self.conv.bias
        assert bias is not None
        live = self.live_filters(input_bound)
        sign = torch.where(bn.weight[live] >= 0, 1.0, -1.0)  # the sign of weight / sqrt(var + eps)
        convolved = F.conv2d(padded, self.conv.weight[live] * sign[:, None, None, None], bias[live] * sign)
        # A max pool over all the bands, not amax: the same maxima, and OpenVINO runs musicnn
        # 13 % faster in bf16, 7 % in f32.
        extreme = F.max_pool2d(convolved, (1, self.frequencies)).squeeze(3) * sign[:, None]
        if len(live) < len(bias):
            kept = set(live)
            dead = [i for i in range(len(bias)) if i not in kept]
            silent = bias[dead][None, :, None].expand(extreme.shape[0], -1, extreme.shape[2])
            order = torch.argsort(torch.tensor(live + dead))
            extreme = torch.cat([extreme, silent], dim=1)[:, order]
        return F.batch_norm(F.relu(extreme), bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


class _MidendLayer(nn.Module):
    """Conv1d over time ('same', zero padded) -> ReLU -> batch norm: ``(B, C_in, T)`` -> ``(B, C, T)``."""

    def __init__(self, in_channels: int, filters: int, kernel: int, bn_eps: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, filters, kernel, padding=kernel // 2)
        self.bn = nn.BatchNorm1d(filters, eps=bn_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, in_channels, n_frames)`` -> ``(batch, filters, n_frames)``."""
        normed: torch.Tensor = self.bn(F.relu(self.conv(x)))
        return normed


class Musicnn(nn.Module):
    """musicnn: musically motivated front end, residual 1-D mid end, pooled dense back end.

    Front end: on the batch-normalised input, two timbral branches (kernels 7 frames x 38 and
    x 67 mel bands, 204 filters each) and three temporal branches (kernels 128, 64 and 32
    frames x 1 band, 51 filters each), each max-pooled over all frequencies: 561 channels per
    frame. Mid end: three 1-D convolutions of ``midend_filters`` (kernel 7), the 2nd and 3rd
    residual; the front end and the three mid-end outputs are concatenated (753 channels for
    64 filters). Back end: max and mean over time (1506, interleaved), batch norm, dense ``backend_units``
    with ReLU, batch norm (the "penultimate" features), dense ``n_tags`` logits.

    The state dict's tensors are registered in the order the original creates its variables.
    """

    def __init__(self, n_mels: int = 96, n_tags: int = 50, config: MusicnnConfig | None = None) -> None:
        super().__init__()
        config = MusicnnConfig() if config is None else config
        self.config = config
        eps = config.bn_eps
        self.input_bn = nn.BatchNorm2d(1, eps=eps)
        timbral_padding = tf_same_padding(config.timbral_kernel_frames)
        self.timbral = nn.ModuleList(
            _FrequencyMaxBlock(
                config.timbral_filters,
                (config.timbral_kernel_frames, int(fraction * n_mels)),
                timbral_padding,
                n_mels,
                eps,
            )
            for fraction in config.timbral_kernel_mel_fractions
        )
        self.temporal = nn.ModuleList(
            _FrequencyMaxBlock(config.temporal_filters, (frames, 1), tf_same_padding(frames), n_mels, eps)
            for frames in config.temporal_kernel_frames
        )
        front_end_channels = len(self.timbral) * config.timbral_filters + len(self.temporal) * config.temporal_filters
        filters = config.midend_filters
        self.midend = nn.ModuleList(
            _MidendLayer(front_end_channels if i == 0 else filters, filters, config.midend_kernel_frames, eps)
            for i in range(config.midend_layers)
        )
        self.pooled_dim = 2 * (front_end_channels + config.midend_layers * filters)
        self.embedding_dim = config.backend_units
        self.pool_bn = nn.BatchNorm1d(self.pooled_dim, eps=eps)
        self.dense = nn.Linear(self.pooled_dim, config.backend_units)
        self.dense_bn = nn.BatchNorm1d(config.backend_units, eps=eps)
        self.output = nn.Linear(config.backend_units, n_tags)
        self.dropout = nn.Dropout(config.backend_dropout)

    def front_end(self, mel: torch.Tensor) -> torch.Tensor:
        """The original's "timbral" then "temporal" features: ``(batch, 561, n_frames)``."""
        x = self.input_bn(_to_time_frequency(mel))
        bound = self.input_bound()
        return torch.cat([block(x, bound) for block in (*self.timbral, *self.temporal)], dim=1)

    def input_bound(self) -> float:
        """The largest ``|x|`` after the input batch norm, for mels in ``[0, MUSICNN_MAX_INPUT]``."""
        bn = self.input_bn
        assert bn.running_mean is not None and bn.running_var is not None
        with torch.no_grad():
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            shift = bn.bias - bn.running_mean * scale
            return float(torch.maximum(shift.abs(), (MUSICNN_MAX_INPUT * scale + shift).abs()).max())

    def pooled(self, mel: torch.Tensor) -> torch.Tensor:
        """Max and mean over time of the front- and mid-end features: ``(batch, pooled_dim)``.

        Interleaved per channel as the original flattens them, (max, mean) of channel 0, then of
        channel 1, ...: its ``max_pool`` is ``pooled[:, 0::2]``, its ``mean_pool`` ``pooled[:, 1::2]``.
        """
        features = [self.front_end(mel)]
        for i, layer in enumerate(self.midend):
            out = layer(features[-1])
            features.append(out if i == 0 else out + features[-1])  # "cnn1", "cnn2", "cnn3"
        stacked = torch.cat(features, dim=1)
        return torch.stack([stacked.amax(dim=2), stacked.mean(dim=2)], dim=2).flatten(1)

    def back_end(self, pooled: torch.Tensor) -> torch.Tensor:
        """The "penultimate" embedding ``(batch, backend_units)`` of :meth:`pooled`'s ``(batch, pooled_dim)``.

        Batch norm, dropout, dense, ReLU, batch norm: the original's "penultimate" is taken
        after its ReLU and its batch norm (and before the dropout that precedes ``output``).
        """
        hidden = self.dense(self.dropout(self.pool_bn(pooled)))
        embedding: torch.Tensor = self.dense_bn(F.relu(hidden))
        return embedding

    def back_end_modules(self) -> tuple[nn.Module, ...]:
        """The layers from the pooled features to the tag logits: what fine-tuning may train
        while the front and mid ends stay frozen."""
        return self.pool_bn, self.dense, self.dense_bn, self.output

    def embed(self, mel: torch.Tensor) -> torch.Tensor:
        """The original's "penultimate" features, ``(batch, backend_units)``, of ``(batch, n_mels, n_frames)``."""
        return self.back_end(self.pooled(mel))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Tag logits ``(batch, n_tags)`` for ``mel`` of shape ``(batch, n_mels, n_frames)``."""
        logits: torch.Tensor = self.output(self.dropout(self.embed(mel)))
        return logits


class MusicnnVGG(nn.Module):
    """musicnn's VGG baseline: five 3x3 convolutions of 128 filters, each with ReLU, batch norm
    and max pooling; the last pool's 2 x 1 x 128 map feeds one dense layer of ``n_tags`` logits.

    The dense layer's width follows from 187-frame patches of ``n_mels`` bands (256 for 96):
    the pretrained weights fit 96 bands by 187 frames only. Its "pool5" is both the embedding
    and the pooled features before the dense layer.
    """

    def __init__(self, n_mels: int = 96, n_tags: int = 50, config: MusicnnVGGConfig | None = None) -> None:
        super().__init__()
        config = MusicnnVGGConfig() if config is None else config
        self.config = config
        self.input_bn = nn.BatchNorm2d(1, eps=config.bn_eps)
        layers: list[nn.Module] = []
        frames, bands = config.patch_frames, n_mels
        for i, (pool, stride) in enumerate(zip(config.pools, config.pool_strides, strict=True)):
            layers += [
                nn.Conv2d(1 if i == 0 else config.filters, config.filters, config.kernel, padding=config.kernel // 2),
                nn.ReLU(),
                nn.BatchNorm2d(config.filters, eps=config.bn_eps),
                nn.MaxPool2d(pool, stride),
            ]
            if i < len(config.pools) - 1:
                layers.append(nn.Dropout(config.conv_dropout))
            frames, bands = (frames - pool[0]) // stride[0] + 1, (bands - pool[1]) // stride[1] + 1
        if bands < 1:
            raise ValueError(f"MusicnnVGG's pools leave nothing of {n_mels} mel bands")
        self.features = nn.Sequential(*layers)
        self.embedding_dim = config.filters * frames * bands
        self.dropout = nn.Dropout(config.dense_dropout)
        self.output = nn.Linear(self.embedding_dim, n_tags)

    def embed(self, mel: torch.Tensor) -> torch.Tensor:
        """The original's "pool5", flattened channels-last as it does: ``(batch, 256)``.

        ``mel`` must be ``(batch, 96, 187)``.
        """
        pooled: torch.Tensor = self.features(self.input_bn(_to_time_frequency(mel)))  # (batch, 128, 2, 1)
        return pooled.permute(0, 2, 3, 1).flatten(1)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Tag logits ``(batch, n_tags)`` for ``mel`` of shape ``(batch, 96, 187)``."""
        logits: torch.Tensor = self.output(self.dropout(self.embed(mel)))
        return logits
