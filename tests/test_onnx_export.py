"""The checked-in ONNX exports of the shipped networks against their torch modules and manifests, the
export made when a network is saved, and the Predictor's answers against the torch path (serving without
torch at all: tests/test_serving_without_torch.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from mood.constants import MOODS
from mood.engine.inference import Predictor
from mood.engine.integrity import sha256_of
from mood.engine.manifest import NetworkManifest
from mood.engine.onnx_check import FP32_LOGIT_TOLERANCE, check_export, random_windows, song_windows
from mood.engine.onnx_export import ONNX_OPSET
from mood.engine.onnx_quantise import quantise_int8
from mood.engine.onnx_runtime import load_session, session_logits
from mood.engine.torch_weights import load_network
from mood.engine.weights import SHIPPED_WEIGHTS_DIR, available_models, read_manifest, read_network_manifest
from mood.errors import ModelError
from tests.golden import golden_clips

SHIPPED = tuple(  # every shipped network (the hybrid's export: tests/test_hybrid.py; the ensemble's shared one too)
    m for m in available_models(SHIPPED_WEIGHTS_DIR)
    if type(read_manifest(m, SHIPPED_WEIGHTS_DIR)) is NetworkManifest
)  # fmt: skip
PREDICTOR_TOLERANCE = 1e-5  # largest |ONNX - torch| probability the Predictor may show
FREQUENCY_MAX_BLOCKS = 10  # musicnn's member: 2 backbones x (2 timbral + 3 temporal) front-end blocks


def shipped_export(name: str) -> Path:
    """The checked-in export of ``name``, as its manifest names it."""
    export = read_network_manifest(name, SHIPPED_WEIGHTS_DIR).onnx
    assert export is not None, f"{name}.json records no ONNX export"
    return SHIPPED_WEIGHTS_DIR / export.file


@pytest.fixture(scope="module")
def exports() -> dict[str, Path]:
    """Every shipped network's checked-in export."""
    return {name: shipped_export(name) for name in SHIPPED}


@pytest.mark.parametrize("name", SHIPPED)
def test_the_checked_in_export_is_the_one_its_manifest_names(exports: dict[str, Path], name: str) -> None:
    export = read_network_manifest(name, SHIPPED_WEIGHTS_DIR).onnx
    assert export is not None and export.file == f"{name}.onnx" and export.opset == ONNX_OPSET
    assert sha256_of(exports[name]) == export.sha256
    assert [o.version for o in onnx.load(str(exports[name])).opset_import if o.domain in ("", "ai.onnx")] == [
        ONNX_OPSET
    ]


@pytest.mark.parametrize("name", SHIPPED)
def test_export_gives_the_torch_logits(exports: dict[str, Path], name: str) -> None:
    loaded = load_network(name, SHIPPED_WEIGHTS_DIR)
    front_end = loaded.manifest.features
    session = load_session(exports[name])
    for windows in (random_windows(front_end, n_windows=5), song_windows(front_end)):  # not the traced batch of 2
        check = check_export(loaded.network, session, windows)
        assert check.n_windows == len(windows)
        assert check.max_abs_logit_difference <= FP32_LOGIT_TOLERANCE
        assert check.top_class_agreement == 1.0


@pytest.mark.parametrize("name", SHIPPED)
def test_the_predictor_gives_the_torch_answers(name: str) -> None:
    served = Predictor(name, SHIPPED_WEIGHTS_DIR)
    by_torch = Predictor(name, SHIPPED_WEIGHTS_DIR)
    by_torch.members = [load_network(name, SHIPPED_WEIGHTS_DIR)]
    for wav in golden_clips().values():
        answers = served.predict_song(wav).predictions
        torch_answers = by_torch.predict_song(wav).predictions
        assert [a.model for a in answers] == [a.model for a in torch_answers] == [name]
        for answer, torch_answer in zip(answers, torch_answers, strict=True):
            np.testing.assert_allclose(
                [[w.probabilities[m] for m in MOODS] for w in answer.timeline],
                [[w.probabilities[m] for m in MOODS] for w in torch_answer.timeline],
                atol=PREDICTOR_TOLERANCE,
                err_msg=answer.model,
            )


def test_saving_a_network_exports_it(random_weights_dir: Path) -> None:
    """The training spine ships a network with save_network: its export and the manifest's record come with it."""
    for name in ("resnet18", "cldnn"):
        manifest = read_network_manifest(name, random_weights_dir)
        assert manifest.onnx is not None and manifest.onnx.opset == ONNX_OPSET
        path = random_weights_dir / manifest.onnx.file
        assert sha256_of(path) == manifest.onnx.sha256
        loaded = load_network(name, random_weights_dir)
        check = check_export(loaded.network, load_session(path), random_windows(manifest.features, n_windows=3))
        assert check.max_abs_logit_difference <= FP32_LOGIT_TOLERANCE


def test_musicnn_export_traces_the_eval_shortcut(exports: dict[str, Path]) -> None:
    """In eval mode each front-end block takes its max over frequencies straight after the convolution,
    as a max pool over all the bands (which OpenVINO runs faster than a ReduceMax)."""
    graph = onnx.load(str(exports["musicnn"])).graph
    producers = {output: node.op_type for node in graph.node for output in node.output}
    pooled_convolutions = [n for n in graph.node if n.op_type == "MaxPool" and producers.get(n.input[0]) == "Conv"]
    assert len(pooled_convolutions) == FREQUENCY_MAX_BLOCKS


def test_runner_batches_windows(exports: dict[str, Path]) -> None:
    windows = random_windows(read_network_manifest("resnet18", SHIPPED_WEIGHTS_DIR).features, n_windows=5, seed=2)
    session = load_session(exports["resnet18"])
    np.testing.assert_allclose(
        session_logits(session, windows, batch_size=2), session_logits(session, windows), atol=1e-5
    )


@pytest.mark.parametrize("content", [None, b"not a network"])
def test_a_missing_or_broken_file_is_a_model_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "net.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError, match="export it again"):
        load_session(path)


def test_int8_quantisation_writes_a_qdq_model_that_runs(exports: dict[str, Path], tmp_path: Path) -> None:
    front_end = read_network_manifest("cldnn", SHIPPED_WEIGHTS_DIR).features
    calibration = [random_windows(front_end, n_windows=4, seed=seed) for seed in range(2)]
    quantised = quantise_int8(exports["cldnn"], tmp_path / "cldnn.int8.onnx", calibration)
    ops = {node.op_type for node in onnx.load(str(quantised)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    logits = session_logits(load_session(quantised), random_windows(front_end, n_windows=3, seed=3))
    assert logits.shape == (3, 4)
    assert np.all(np.isfinite(logits))
