"""The occlusion map: which frequency band of which window the answer depended on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mood.constants import SAMPLE_RATE
from mood.engine.features import SCRATCH_FRONT_END, log_mel
from mood.engine.torch_weights import LoadedNetwork, load_network
from mood.presentation.report import heard_sentence
from mood.service.explain import occlusion_map
from tests.helpers import chord_progression

LOW_BANDS = 16  # of 128 mel bands: the lowest of 8 occlusion regions


class LowBandListener(nn.Module):
    """Happy grows with the level of the lowest mel bands of the second half of a window; nothing else matters."""

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        happy = mel[:, :LOW_BANDS, mel.shape[2] // 2 :].mean(dim=(1, 2)) / 10.0
        zeros = torch.zeros_like(happy)
        return torch.stack([happy, zeros, zeros, zeros], dim=1)


def test_the_map_finds_the_only_band_that_matters(random_weights_dir: Path) -> None:
    real = load_network("resnet18", random_weights_dir)
    listener = LoadedNetwork(manifest=real.manifest, network=LowBandListener())
    mel = log_mel(chord_progression(seconds=12.0, sr=SAMPLE_RATE), SCRATCH_FRONT_END)
    mel[:LOW_BANDS] += 30.0  # loud low end: hiding it lowers "happy"
    heard = occlusion_map(listener, mel, "happy")
    assert heard.importance.shape == (8, len(heard.starts_s))
    assert (heard.importance[0] > 0.01).all()
    np.testing.assert_allclose(heard.importance[1:], 0.0, atol=1e-6)
    assert heard.band_edges_hz[0] == pytest.approx(0.0) and heard.band_edges_hz[-1] == pytest.approx(SAMPLE_RATE / 2)
    start_s, low_hz, high_hz = heard.strongest()
    assert low_hz == 0.0 and high_hz < 500 and start_s in heard.starts_s
    assert "Hz" in heard_sentence(heard)


def test_a_real_network_map_is_bounded_and_names_a_region(random_weights_dir: Path) -> None:
    loaded = load_network("cldnn", random_weights_dir)
    mel = log_mel(chord_progression(seconds=8.0, sr=SAMPLE_RATE), SCRATCH_FRONT_END)
    heard = occlusion_map(loaded, mel, "calm", n_bands=4)
    assert heard.importance.shape == (4, 3) and heard.importance.min() >= 0.0 and heard.importance.max() <= 1.0
    assert heard.model == "cldnn" and heard.mood == "calm"


def test_nothing_to_find_is_said_plainly(random_weights_dir: Path) -> None:
    real = load_network("resnet18", random_weights_dir)
    deaf = LoadedNetwork(
        manifest=dataclasses.replace(real.manifest), network=nn.Sequential(nn.Flatten(), nn.LazyLinear(4))
    )
    with torch.no_grad():
        deaf.network(torch.zeros(1, 128, 216))
        deaf.network[1].weight.zero_()
    heard = occlusion_map(deaf, log_mel(chord_progression(seconds=6.0, sr=SAMPLE_RATE), SCRATCH_FRONT_END), "sad")
    assert heard.importance.max() == 0.0
    assert heard_sentence(heard).startswith("No single part")
