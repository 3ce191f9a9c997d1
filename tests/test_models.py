"""Architectures and the weights registry (random weights written by the real registry code)."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from mood.constants import MOODS
from mood.engine.architectures import ARCHITECTURE_CONFIGS, CLDNNConfig, MusicnnMoodConfig, ResNet18Config
from mood.engine.features import MUSICNN_FRONT_END, SCRATCH_FRONT_END
from mood.engine.inference import window_outputs
from mood.engine.models import BUILDERS, build_model
from mood.engine.torch_weights import clear_cache, load_network, network_logits, save_network
from mood.engine.weights import available_models, member_names
from mood.errors import ModelError

N_MELS = SCRATCH_FRONT_END.n_mels
WINDOW_FRAMES = SCRATCH_FRONT_END.window_frames


@pytest.mark.parametrize("architecture", ["resnet18", "cldnn"])
def test_architectures_map_windows_to_four_logits(architecture: str) -> None:
    network = build_model(architecture, SCRATCH_FRONT_END, len(MOODS)).eval()
    with torch.inference_mode():
        assert network(torch.randn(3, N_MELS, WINDOW_FRAMES)).shape == (3, 4)
        assert network(torch.randn(1, N_MELS, 2 * WINDOW_FRAMES)).shape == (1, 4)


def test_cldnn_lstm_stays_fp32_under_autocast() -> None:
    network = build_model("cldnn", SCRATCH_FRONT_END, 4).eval()
    x = torch.randn(2, N_MELS, WINDOW_FRAMES)
    seen: list[torch.dtype] = []
    network.lstm.register_forward_hook(lambda _m, _i, out: seen.append(out[0].dtype))
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        network(x)
    assert seen == [torch.float32]


def test_unknown_architecture() -> None:
    with pytest.raises(ModelError, match="known: resnet18, cldnn"):
        build_model("vgg", SCRATCH_FRONT_END, 4)


def test_every_architecture_has_a_config_and_a_builder() -> None:
    assert set(BUILDERS) == set(ARCHITECTURE_CONFIGS)
    assert {"musicnn", "musicnn_vgg", "musicnn_mood"} <= set(BUILDERS)  # the converter's ports too


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURE_CONFIGS))
def test_a_network_records_the_config_it_was_built_with(architecture: str) -> None:
    front_end = SCRATCH_FRONT_END if architecture in ("resnet18", "cldnn") else MUSICNN_FRONT_END
    network = build_model(architecture, front_end, 4)
    assert network.config == ARCHITECTURE_CONFIGS[architecture]()  # the code's own shape


def test_the_config_shapes_the_network() -> None:
    narrow = build_model("cldnn", SCRATCH_FRONT_END, 4, CLDNNConfig(conv_channels=(8, 8, 16, 16), lstm_hidden=16))
    assert narrow.lstm.hidden_size == 16 and narrow.head[1].in_features == 64
    shallow = build_model("resnet18", SCRATCH_FRONT_END, 4, ResNet18Config(blocks_per_stage=(1, 1, 1, 1)))
    assert len(shallow.net.layer1) == 1
    one = build_model("musicnn_mood", MUSICNN_FRONT_END, 4, MusicnnMoodConfig(backbones=("msd_musicnn",)))
    assert len(one.backbones) == 1


def test_a_config_of_another_architecture_is_refused() -> None:
    with pytest.raises(ModelError, match="A ResNet18Config does not shape a 'cldnn' network; it needs a CLDNNConfig"):
        build_model("cldnn", SCRATCH_FRONT_END, 4, ResNet18Config())


def test_a_changed_layer_is_a_new_model_not_a_surprise_at_load(tmp_path: Path) -> None:
    """The manifest's config, not the code's defaults, decides the shape the weights are loaded into."""
    torch.manual_seed(0)
    small = build_model("cldnn", SCRATCH_FRONT_END, 4, CLDNNConfig(lstm_hidden=16, lstm_layers=1, lstm_dropout=0.0))
    manifest = save_network(small.eval(), "small", tmp_path, "cldnn", SCRATCH_FRONT_END)
    assert manifest.architecture_config == CLDNNConfig(lstm_hidden=16, lstm_layers=1, lstm_dropout=0.0)
    saved = json.loads((tmp_path / "small.json").read_text())["architecture_config"]
    assert saved["lstm_hidden"] == 16 and saved["conv_kernels"][0] == [7, 3]
    loaded = load_network("small", tmp_path)
    assert loaded.manifest == manifest
    x = np.random.default_rng(0).normal(size=(2, N_MELS, WINDOW_FRAMES)).astype(np.float32)
    np.testing.assert_allclose(network_logits(loaded.network, x), network_logits(small, x), rtol=1e-4, atol=1e-6)


def test_registry_loads_verifies_and_caches(random_weights_dir: Path) -> None:
    assert available_models(random_weights_dir) == ["cldnn", "ensemble", "resnet18"]
    model = load_network("resnet18", random_weights_dir)
    assert model is load_network("resnet18", random_weights_dir)
    assert not model.network.training
    assert model.manifest.features == SCRATCH_FRONT_END
    assert member_names("ensemble", random_weights_dir) == ["resnet18", "cldnn"]
    assert member_names("cldnn", random_weights_dir) == ["cldnn"]
    mel = np.zeros((N_MELS, 40 * 108 + 108), dtype=np.float32)
    outputs = window_outputs(model, mel, 41 * 108 * SCRATCH_FRONT_END.frame_s)
    assert outputs.probabilities.shape == (40, 4)
    np.testing.assert_allclose(outputs.probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_the_ensemble_has_no_weights_of_its_own(random_weights_dir: Path) -> None:
    with pytest.raises(ModelError, match="'ensemble' combines other models \\(resnet18, cldnn\\)"):
        load_network("ensemble", random_weights_dir)


def test_unknown_model_lists_the_available_ones(random_weights_dir: Path) -> None:
    with pytest.raises(ModelError, match="Available: cldnn, ensemble, resnet18"):
        load_network("vggish", random_weights_dir)


@pytest.fixture
def weights_copy(random_weights_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "weights"
    shutil.copytree(random_weights_dir, folder)
    clear_cache()
    return folder


def _edit_manifest(folder: Path, name: str, edit: object) -> None:
    path = folder / f"{name}.json"
    manifest = json.loads(path.read_text())
    edit(manifest)  # type: ignore[operator]
    path.write_text(json.dumps(manifest))


def test_sha256_mismatch_is_refused(weights_copy: Path) -> None:
    with (weights_copy / "cldnn.pt").open("ab") as f:
        f.write(b"tampered")
    with pytest.raises(ModelError, match="does not match its manifest"):
        load_network("cldnn", weights_copy)


def test_label_mismatch_is_refused(weights_copy: Path) -> None:
    _edit_manifest(weights_copy, "cldnn", lambda m: m.update(labels=["happy", "sad", "angry", "calm"]))
    with pytest.raises(ModelError, match="expects"):
        load_network("cldnn", weights_copy)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m["features"].pop("n_fft"), "In cldnn.json, the field 'features.n_fft' is missing"),
        (lambda m: m["features"].pop("loudness_dbfs"), "'features.loudness_dbfs' is missing"),
        (lambda m: m.pop("sha256"), "the field 'sha256' is missing"),
        (lambda m: m["features"].update(n_mels="128"), "'features.n_mels' must be int"),
        (lambda m: m["features"].update(scaling="linear"), "'features.scaling' must be one of"),
        (lambda m: m.update(params=True), "'params' must be int"),
        (lambda m: m.update(labels="happy"), "'labels' must be a list"),
        (lambda m: m.pop("architecture_config"), "the field 'architecture_config' is missing"),
        (lambda m: m["architecture_config"].update(lstm_hidden="128"), "'architecture_config.lstm_hidden' must be int"),
        (
            lambda m: m["architecture_config"].update(conv_kernels=[[7, 3, 1]]),
            "'architecture_config.conv_kernels\\[0\\]' must be a list of 2",
        ),
        (lambda m: m["architecture_config"].update(freq_pools=[4, 4]), "one entry per block"),
        (lambda m: m.update(architecture="transformer"), "the architecture 'transformer', which this version"),
    ],
)
def test_a_missing_or_wrong_manifest_field_is_named(weights_copy: Path, edit: object, message: str) -> None:
    _edit_manifest(weights_copy, "cldnn", edit)
    with pytest.raises(ModelError, match=message.replace("(", "\\(")):
        load_network("cldnn", weights_copy)


def test_missing_weights_and_corrupt_manifest(weights_copy: Path) -> None:
    (weights_copy / "resnet18.pt").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_network("resnet18", weights_copy)
    (weights_copy / "cldnn.json").write_text("{not json")
    with pytest.raises(ModelError, match="corrupt"):
        load_network("cldnn", weights_copy)


def test_concurrent_inference_matches_serial(random_weights_dir: Path) -> None:
    model = load_network("cldnn", random_weights_dir)
    batches = [np.random.default_rng(i).normal(size=(3, N_MELS, WINDOW_FRAMES)).astype(np.float32) for i in range(6)]
    expected = [network_logits(model.network, b) for b in batches]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        with model.lock:
            results[i] = network_logits(model.network, batches[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, logits in enumerate(expected):
        np.testing.assert_allclose(results[i], logits, rtol=1e-5)
