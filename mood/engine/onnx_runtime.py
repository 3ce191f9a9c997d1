"""Run an exported mood network with ONNX Runtime: the exact float32 reference of checks and benchmarks.

Serving runs the exports with OpenVINO (:mod:`mood.engine.serving`); ONNX Runtime (the
``train`` extra) is what :mod:`mood.engine.onnx_check` compares each export with its torch
module on, what int8 quantisation (:mod:`mood.engine.onnx_quantise`) calibrates with, and a
benchmark's peer engine. The graphs' input and output names are :mod:`mood.engine.serving`'s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf

from mood.constants import INFERENCE_BATCH_SIZE
from mood.engine.serving import ONNX_INPUT, ONNX_OUTPUT, in_batches
from mood.errors import ModelError

ONNX_PROVIDERS = ("CPUExecutionProvider",)


def session_of(model: Path | bytes, intra_op_threads: int = 1, name: str = "") -> ort.InferenceSession:
    """An ONNX Runtime session for a model file or its bytes, run sequentially on ``intra_op_threads`` threads.

    Raises:
        ModelError: the file is missing or is not a model ONNX Runtime can run.
    """
    label = name or (model.name if isinstance(model, Path) else "the export")
    if isinstance(model, Path) and not model.is_file():
        raise ModelError(
            f"The exported network {model} is missing; export it again (python -m mood.engine.onnx_check)."
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = str(model) if isinstance(model, Path) else model
    try:
        return ort.InferenceSession(source, sess_options=options, providers=list(ONNX_PROVIDERS))
    except (Fail, InvalidGraph, InvalidProtobuf) as e:
        raise ModelError(f"{label} is not a network ONNX Runtime can run; export it again.") from e


def load_session(path: Path, intra_op_threads: int = 1) -> ort.InferenceSession:
    """:func:`session_of` a file (no checksum: for exports made here, e.g. benchmarks' variants)."""
    return session_of(path, intra_op_threads)


def session_outputs(
    session: ort.InferenceSession,
    windows: npt.NDArray[np.float32],
    output: str = ONNX_OUTPUT,
    batch_size: int = INFERENCE_BATCH_SIZE,
) -> npt.NDArray[np.float32]:
    """The graph's ``output`` for a stack of windows, in batches of ``batch_size``.

    Args:
        session: from :func:`session_of`.
        windows: float32, shape ``(n_windows, n_mels, window_frames)``.
        output: the output's name (a mood network's: ``ONNX_OUTPUT``, its logits).
        batch_size: windows per run.

    Returns:
        float32, shape ``(n_windows, ...)``: ``(n_windows, n_classes)`` for a network's logits.
    """
    return in_batches(lambda batch: np.asarray(session.run([output], {ONNX_INPUT: batch})[0]), windows, batch_size)


def session_logits(
    session: ort.InferenceSession, windows: npt.NDArray[np.float32], batch_size: int = INFERENCE_BATCH_SIZE
) -> npt.NDArray[np.float32]:
    """A mood network's logits ``(n_windows, n_classes)``: :func:`session_outputs` of ``ONNX_OUTPUT``."""
    return session_outputs(session, windows, ONNX_OUTPUT, batch_size)
