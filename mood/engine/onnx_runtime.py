"""Run an exported mood network with ONNX Runtime: windows in, logits out, no torch.

A network exported by :mod:`mood.engine.onnx_export` takes one input, ``ONNX_INPUT``, of
shape ``(batch, n_mels, window_frames)`` (the batch axis is dynamic) and gives one output,
``ONNX_OUTPUT``, of shape ``(batch, n_classes)``. This module imports neither torch nor
anything that does, so a server that only runs exported networks need not install it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf

from mood.constants import INFERENCE_BATCH_SIZE
from mood.errors import ModelError

ONNX_INPUT = "windows"  # (batch, n_mels, window_frames), float32
ONNX_OUTPUT = "logits"  # (batch, n_classes), float32
ONNX_PROVIDERS = ("CPUExecutionProvider",)


def load_session(path: Path, intra_op_threads: int = 1) -> ort.InferenceSession:
    """An ONNX Runtime session for ``path``, run sequentially on ``intra_op_threads`` threads.

    Raises:
        ModelError: the file is missing or is not a model ONNX Runtime can run.
    """
    if not path.is_file():
        raise ModelError(
            f"The exported network {path} is missing; export it again (python -m mood.engine.onnx_export)."
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=list(ONNX_PROVIDERS))
    except (Fail, InvalidGraph, InvalidProtobuf) as e:
        raise ModelError(f"{path.name} is not a network ONNX Runtime can run; export it again.") from e


def session_logits(
    session: ort.InferenceSession, windows: npt.NDArray[np.float32], batch_size: int = INFERENCE_BATCH_SIZE
) -> npt.NDArray[np.float32]:
    """Logits for a stack of windows, in batches of ``batch_size``.

    Args:
        session: from :func:`load_session`.
        windows: float32, shape ``(n_windows, n_mels, window_frames)``.
        batch_size: windows per run.

    Returns:
        float32, shape ``(n_windows, n_classes)``.
    """
    batches = [
        session.run([ONNX_OUTPUT], {ONNX_INPUT: np.ascontiguousarray(windows[start : start + batch_size], np.float32)})[
            0
        ]
        for start in range(0, len(windows), batch_size)
    ]
    return np.concatenate(batches).astype(np.float32, copy=False)
