"""Architectures and the weights registry (random weights written by the real registry code)."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from mood.constants import MOODS, N_MELS, WINDOW_FRAMES
from mood.errors import ModelError
from mood.models import build_model
from mood.weights import available_models, clear_cache, load_model, load_models


@pytest.mark.parametrize("architecture", ["resnet18", "cldnn"])
def test_architectures_map_windows_to_four_logits(architecture: str) -> None:
    network = build_model(architecture, N_MELS, len(MOODS)).eval()
    with torch.inference_mode():
        assert network(torch.randn(3, N_MELS, WINDOW_FRAMES)).shape == (3, 4)
        assert network(torch.randn(1, N_MELS, 2 * WINDOW_FRAMES)).shape == (1, 4)


def test_cldnn_lstm_stays_fp32_under_autocast() -> None:
    network = build_model("cldnn", N_MELS, 4).eval()
    x = torch.randn(2, N_MELS, WINDOW_FRAMES)
    seen: list[torch.dtype] = []
    network.lstm.register_forward_hook(lambda _m, _i, out: seen.append(out[0].dtype))
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        network(x)
    assert seen == [torch.float32]


def test_unknown_architecture() -> None:
    with pytest.raises(ModelError, match="known: resnet18, cldnn"):
        build_model("vgg", N_MELS, 4)


def test_registry_loads_verifies_and_caches(random_weights_dir: Path) -> None:
    assert available_models(random_weights_dir) == ["cldnn", "ensemble", "resnet18"]
    model = load_model("resnet18", random_weights_dir)
    assert model is load_model("resnet18", random_weights_dir)
    assert not model.network.training
    assert [m.name for m in load_models("ensemble", random_weights_dir)] == ["resnet18", "cldnn"]
    probs = model.window_probabilities(np.zeros((40, N_MELS, WINDOW_FRAMES), dtype=np.float32))
    assert probs.shape == (40, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_unknown_model_lists_the_available_ones(random_weights_dir: Path) -> None:
    with pytest.raises(ModelError, match="Available: cldnn, ensemble, resnet18"):
        load_model("vggish", random_weights_dir)


@pytest.fixture
def weights_copy(random_weights_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "weights"
    shutil.copytree(random_weights_dir, folder)
    clear_cache()
    return folder


def test_sha256_mismatch_is_refused(weights_copy: Path) -> None:
    with (weights_copy / "cldnn.pt").open("ab") as f:
        f.write(b"tampered")
    with pytest.raises(ModelError, match="does not match its manifest"):
        load_model("cldnn", weights_copy)


def test_label_mismatch_is_refused(weights_copy: Path) -> None:
    manifest_path = weights_copy / "cldnn.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["labels"] = ["happy", "sad", "angry", "calm"]
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="expects"):
        load_model("cldnn", weights_copy)


def test_missing_weights_and_corrupt_manifest(weights_copy: Path) -> None:
    (weights_copy / "resnet18.pt").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model("resnet18", weights_copy)
    (weights_copy / "cldnn.json").write_text("{not json")
    with pytest.raises(ModelError, match="corrupt"):
        load_model("cldnn", weights_copy)


def test_concurrent_inference_matches_serial(random_weights_dir: Path) -> None:
    model = load_model("cldnn", random_weights_dir)
    batches = [np.random.default_rng(i).normal(size=(3, N_MELS, WINDOW_FRAMES)).astype(np.float32) for i in range(6)]
    expected = [model.window_probabilities(b) for b in batches]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        results[i] = model.window_probabilities(batches[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, probs in enumerate(expected):
        np.testing.assert_allclose(results[i], probs, rtol=1e-5)
