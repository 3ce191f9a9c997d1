"""The PyTorch ports of musicnn reproduce the original TensorFlow networks, without TensorFlow.

``tests/fixtures/musicnn_reference.npz`` holds what the original computed (musicnn 0.1.0's
own spectrogram code and TF graph, the wheel's checkpoints) on the converter's synthesised
clips, per 3 s patch: tag probabilities and embeddings. ``python -m
mood.training.convert_musicnn`` wrote it together with ``mood/weights/backbones/``; here the
shipped weights, loaded into the ports, must give the same numbers through the project's
own front end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

import mood.engine.models.musicnn as musicnn_module
from mood.constants import DEAD_FILTER_TOLERANCE, MUSICNN_MAX_INPUT
from mood.engine.features import MUSICNN_FRONT_END, log_mel, make_windows
from mood.engine.integrity import sha256_of
from mood.engine.manifest import NetworkManifest, read_manifest_file
from mood.engine.models.musicnn import Musicnn, tf_same_padding
from mood.training.convert_musicnn import (
    CLIP_NAMES,
    DEFAULT_FIXTURE,
    DEFAULT_OUT_DIR,
    TAG_TOLERANCE,
    ConversionError,
    ModelSpec,
    build_port,
    clip_fingerprint,
    map_variables,
    reference_clips,
    run_port,
    torch_layout,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
BACKBONES_DIR = REPO_ROOT / DEFAULT_OUT_DIR
REFERENCE = dict(np.load(REPO_ROOT / DEFAULT_FIXTURE))
MODELS = sorted({key.split("|")[0] for key in REFERENCE if key.endswith("|probs")})

# The embeddings (musicnn's "penultimate", the VGG's "pool5") reach |x| of about 7 on these
# clips. With the front end rounding the mel power to float16 as musicnn does, the port is
# within 1.4e-5 of TensorFlow end to end (float32 sums in another order). A real port error
# moves them by far more: PyTorch's batch-norm epsilon (1e-5) instead of TensorFlow's (1e-3)
# by 2.4, the temporal convolutions' 'same' padding put on the wrong side by 0.23.
EMBEDDING_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def windows() -> dict[str, tuple[np.ndarray[Any, Any], list[int]]]:
    """Each reference clip's windows and their start frames, by the project's musicnn front end."""
    return {
        name: make_windows(log_mel(clip, MUSICNN_FRONT_END), MUSICNN_FRONT_END)
        for name, clip in reference_clips().items()
    }


def test_reference_clips_are_the_ones_the_fixture_was_made_from() -> None:
    clips = reference_clips()
    assert tuple(clips) == CLIP_NAMES
    for name, clip in clips.items():
        np.testing.assert_allclose(clip_fingerprint(clip), REFERENCE[f"{name}|fingerprint"], rtol=1e-9)


def test_every_shipped_backbone_has_reference_outputs() -> None:
    shipped = sorted(path.stem for path in BACKBONES_DIR.glob("*.pt"))
    assert shipped, f"no converted backbone in {BACKBONES_DIR}"
    assert shipped == [ModelSpec(name).file_stem for name in MODELS]


@pytest.mark.parametrize("name", MODELS)
def test_backbone_matches_its_manifest(name: str) -> None:
    stem = ModelSpec(name).file_stem
    manifest = read_manifest_file(BACKBONES_DIR / f"{stem}.json")  # the typed manifest every network has
    assert isinstance(manifest, NetworkManifest)
    assert manifest.sha256 == sha256_of(BACKBONES_DIR / f"{stem}.pt")
    assert manifest.features == MUSICNN_FRONT_END
    assert len(manifest.labels) == len(set(manifest.labels)) == REFERENCE[f"{name}|chords|probs"].shape[1]
    port = build_port(manifest.architecture, len(manifest.labels), manifest.architecture_config)
    assert manifest.params == sum(p.numel() for p in port.parameters())
    assert manifest.pretrained is not None and manifest.pretrained.licence == "ISC"
    assert manifest.pretrained.model == name and manifest.pretrained.package == "musicnn"


@pytest.mark.parametrize("name", MODELS)
def test_port_reproduces_the_original(
    name: str, windows: dict[str, tuple[np.ndarray[Any, Any], list[int]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port itself, every filter convolved (leaving the near-dead ones out is bounded below)."""
    monkeypatch.setattr(musicnn_module, "DEAD_FILTER_TOLERANCE", 0.0)
    stem = ModelSpec(name).file_stem
    manifest = read_manifest_file(BACKBONES_DIR / f"{stem}.json")
    assert isinstance(manifest, NetworkManifest)
    port = build_port(manifest.architecture, len(manifest.labels), manifest.architecture_config)
    port.load_state_dict(torch.load(BACKBONES_DIR / f"{stem}.pt", weights_only=True), strict=True)
    for clip in CLIP_NAMES:
        expected_probs = REFERENCE[f"{name}|{clip}|probs"]
        n = len(expected_probs)
        clip_windows, starts = windows[clip]
        assert starts[:n] == [i * MUSICNN_FRONT_END.hop_frames for i in range(n)]  # musicnn's patches
        probs, embedding = run_port(port, clip_windows[:n])
        np.testing.assert_allclose(probs, expected_probs, rtol=0, atol=TAG_TOLERANCE, err_msg=f"{name} {clip}")
        np.testing.assert_allclose(
            embedding, REFERENCE[f"{name}|{clip}|embedding"], rtol=0, atol=EMBEDDING_TOLERANCE, err_msg=f"{name} {clip}"
        )


def _tf_conv2d_valid(x: np.ndarray[Any, Any], kernel: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """TensorFlow's conv2d, 'valid', NHWC: x (batch, h, w, in), kernel (kh, kw, in, out)."""
    patches = sliding_window_view(x, kernel.shape[:2], axis=(1, 2))  # (batch, h', w', in, kh, kw)
    result: np.ndarray[Any, Any] = np.einsum("bhwikl,klio->bhwo", patches, kernel)
    return result


def test_conv2d_kernels_are_laid_out_as_torch_expects() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 20, 12, 3)).astype(np.float32)  # (batch, time, freq, in)
    kernel = rng.standard_normal((7, 5, 3, 4)).astype(np.float32)
    conv = torch.nn.Conv2d(3, 4, (7, 5), bias=False)
    conv.weight.data = torch.from_numpy(torch_layout(kernel, tuple(conv.weight.shape)))
    with torch.no_grad():
        ours = conv(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(ours, _tf_conv2d_valid(x, kernel), atol=1e-4)


def test_a_conv2d_over_a_one_channel_sequence_becomes_a_conv1d() -> None:
    """musicnn's mid end: a (7, channels) kernel over a (time, channels, 1) image, zero padded 3 + 3."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 30, 16)).astype(np.float32)  # (batch, time, channels)
    kernel = rng.standard_normal((7, 16, 1, 8)).astype(np.float32)
    padded = np.pad(x, ((0, 0), (3, 3), (0, 0)))[..., None]
    expected = _tf_conv2d_valid(padded, kernel)[:, :, 0, :]  # (batch, time, out)
    conv = torch.nn.Conv1d(16, 8, 7, padding=3, bias=False)
    conv.weight.data = torch.from_numpy(torch_layout(kernel, tuple(conv.weight.shape)))
    with torch.no_grad():
        ours = conv(torch.from_numpy(x.transpose(0, 2, 1).copy())).numpy().transpose(0, 2, 1)
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_tf_same_padding_puts_the_odd_frame_after() -> None:
    assert tf_same_padding(128) == (63, 64)
    assert tf_same_padding(7) == (3, 3)


def test_front_end_blocks_pool_before_normalising_in_eval_mode_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The eval-mode shortcut (max over frequencies first, negated where the batch-norm scale
    is negative) gives what the layers compute in order: conv, ReLU, batch norm, max (every
    filter convolved: a random network's small ones are not dead)."""
    monkeypatch.setattr(musicnn_module, "DEAD_FILTER_TOLERANCE", 0.0)
    torch.manual_seed(0)
    network = Musicnn().eval()
    mel = torch.randn(3, 96, 187)
    with torch.no_grad():
        for block in (*network.timbral, *network.temporal):
            block.bn.weight.uniform_(-1.0, 1.0)  # both signs of scale
            block.bn.bias.normal_()
            block.bn.running_mean.normal_()
            block.bn.running_var.uniform_(0.5, 2.0)
        x = network.input_bn(mel.transpose(1, 2).unsqueeze(1))
        for block in (*network.timbral, *network.temporal):
            in_order = block.bn(torch.relu(block.conv(torch.nn.functional.pad(x, (0, 0, *block.time_padding)))))
            assert torch.allclose(block(x, network.input_bound()), in_order.amax(dim=3), atol=1e-5)


def test_dead_filters_are_left_out_of_the_convolution_with_the_same_result() -> None:
    """A filter whose weights cannot move its output (zero, or tiny against the input's bound)
    is not convolved; the block's output is what every filter convolved gives."""
    torch.manual_seed(1)
    network = Musicnn().eval()
    block = network.timbral[0]
    mel = torch.rand(2, 96, 187) * MUSICNN_MAX_INPUT  # inputs inside the bound
    with torch.no_grad():
        block.bn.weight.uniform_(-1.0, 1.0)
        block.conv.weight[5:200] = 0.0
        block.conv.weight[3] *= 1e-12
        x = network.input_bn(mel.transpose(1, 2).unsqueeze(1))
        assert block.live_filters(network.input_bound()) == [0, 1, 2, 4, 200, 201, 202, 203]
        in_order = block.bn(torch.relu(block.conv(torch.nn.functional.pad(x, (0, 0, *block.time_padding)))))
        torch.testing.assert_close(block(x, network.input_bound()), in_order.amax(dim=3), atol=1e-6, rtol=0.0)


@pytest.mark.parametrize("backbone", ["MSD_musicnn", "MTT_musicnn"])
def test_most_timbral_filters_are_dead_and_leaving_them_out_moves_the_pooled_features_within_the_tolerance(
    windows: dict[str, tuple[np.ndarray[Any, Any], list[int]]], monkeypatch: pytest.MonkeyPatch, backbone: str
) -> None:
    """The shipped backbones on real clips' patches: most timbral filters are left out, and the
    pooled features move by less than ``DEAD_FILTER_TOLERANCE`` from those of every filter
    convolved (tolerance 0: only exactly-zero filters out)."""
    spec = ModelSpec(backbone)
    manifest = read_manifest_file(BACKBONES_DIR / f"{spec.file_stem}.json")
    assert isinstance(manifest, NetworkManifest)
    port = build_port(manifest.architecture, len(manifest.labels), manifest.architecture_config)
    port.load_state_dict(torch.load(BACKBONES_DIR / f"{spec.file_stem}.pt", weights_only=True), strict=True)
    assert isinstance(port, Musicnn)
    port.eval()
    live = [len(block.live_filters(port.input_bound())) for block in port.timbral]
    assert all(n < filters // 2 for n, filters in zip(live, [b.conv.out_channels for b in port.timbral], strict=True))
    mel = torch.from_numpy(np.concatenate([w for w, _ in windows.values()]))
    with torch.no_grad():
        pruned = port.pooled(mel)
        monkeypatch.setattr(musicnn_module, "DEAD_FILTER_TOLERANCE", 0.0)
        assert sum(len(block.live_filters(port.input_bound())) for block in port.timbral) > sum(live)
        every_filter = port.pooled(mel)
    torch.testing.assert_close(pruned, every_filter, atol=DEAD_FILTER_TOLERANCE, rtol=0.0)


def _tf_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The TF variable's shape for a torch tensor's: conv2d, conv1d-as-conv2d, dense, vector."""
    if len(shape) == 4:
        return (*shape[2:], shape[1], shape[0])
    if len(shape) == 3:
        return (shape[2], shape[1], 1, shape[0])
    return shape[::-1]


def _tf_variables_for(module: torch.nn.Module) -> list[tuple[str, np.ndarray[Any, Any]]]:
    """Zero TF variables named and shaped as the original graph creates them (batch norms: ``*bn``)."""
    conv_leaf = {"weight": "kernel", "bias": "bias"}
    bn_leaf = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
    variables = []
    for key, tensor in module.state_dict().items():
        layer, leaf = key.rsplit(".", 1)
        if leaf != "num_batches_tracked":
            name = (bn_leaf if layer.endswith("bn") else conv_leaf)[leaf]
            variables.append((f"{layer}/{name}", np.zeros(_tf_shape(tuple(tensor.shape)), np.float32)))
    return variables


def test_mapping_fails_loudly_on_a_left_over_or_mismatched_variable() -> None:
    port = Musicnn()
    variables = _tf_variables_for(port)
    port.load_state_dict(map_variables(variables, port), strict=True)  # the well-formed list maps
    with pytest.raises(ConversionError, match="unused TF variables"):
        map_variables([*variables, ("extra/kernel", np.zeros(3, np.float32))], port)
    with pytest.raises(ConversionError, match="unmapped torch tensors"):
        map_variables(variables[:-1], port)
    swapped = [variables[1], variables[0], *variables[2:]]  # beta before gamma
    with pytest.raises(ConversionError, match="would fill"):
        map_variables(swapped, port)
    with pytest.raises(ConversionError, match="cannot fill"):
        map_variables([(variables[0][0], np.zeros(2, np.float32)), *variables[1:]], port)


def test_the_convert_command_refuses_an_unknown_checkpoint(capsys: pytest.CaptureFixture[str]) -> None:
    from mood.training.cli import main

    assert main(["convert", "musicnn.whl", "--models", "MSD_musicnn,MSD_musicnn_big"]) == 2
    assert "unknown models ['MSD_musicnn_big']; known: MSD_musicnn, MTT_musicnn" in capsys.readouterr().err
