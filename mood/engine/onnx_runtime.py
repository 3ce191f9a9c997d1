"""Run an exported mood network with ONNX Runtime: windows in, logits out, no torch.

A network exported by :mod:`mood.engine.onnx_export` takes one input, ``ONNX_INPUT``, of
shape ``(batch, n_mels, window_frames)`` (the batch axis is dynamic) and gives one output,
``ONNX_OUTPUT``, of shape ``(batch, n_classes)``. This module imports neither torch nor
anything that does, so a server that only runs exported networks need not install it.

ONNX Runtime fixes a session's threads when the session is built, so an :class:`OnnxNetwork`
builds one session per thread count it is asked to run on (each from the verified file) and
keeps them; :func:`set_session_threads` sets the count of the networks that follow the process.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf

from mood.constants import INFERENCE_BATCH_SIZE
from mood.engine.integrity import verified_bytes
from mood.engine.manifest import NetworkManifest
from mood.errors import ModelError

ONNX_INPUT = "windows"  # (batch, n_mels, window_frames), float32
ONNX_OUTPUT = "logits"  # (batch, n_classes), float32
ONNX_PROVIDERS = ("CPUExecutionProvider",)

_process_threads: int | None = None  # None: every core this process may use


def usable_cores() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0))


def session_threads() -> int:
    """The intra-op threads of the sessions that follow the process setting (default :func:`usable_cores`)."""
    return _process_threads or usable_cores()


def set_session_threads(n_threads: int | None) -> int | None:
    """Run the process-following networks' next forward passes on ``n_threads`` (None: every usable core).

    Returns:
        The previous setting, to restore.
    """
    global _process_threads
    previous, _process_threads = _process_threads, n_threads
    return previous


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
    batches = [
        session.run([output], {ONNX_INPUT: np.ascontiguousarray(windows[start : start + batch_size], np.float32)})[0]
        for start in range(0, len(windows), batch_size)
    ]
    return np.concatenate(batches).astype(np.float32, copy=False)


def session_logits(
    session: ort.InferenceSession, windows: npt.NDArray[np.float32], batch_size: int = INFERENCE_BATCH_SIZE
) -> npt.NDArray[np.float32]:
    """A mood network's logits ``(n_windows, n_classes)``: :func:`session_outputs` of ``ONNX_OUTPUT``."""
    return session_outputs(session, windows, ONNX_OUTPUT, batch_size)


@dataclass(frozen=True, eq=False)
class OnnxNetwork:
    """A shipped network served by ONNX Runtime: its manifest and its export ``path``, whose
    contents must have the manifest's ``sha256`` (``manifest.onnx.sha256``).

    ``threads``: the intra-op threads of its forward passes (None: :func:`session_threads`, the
    process setting). ``output``: the graph's output that :meth:`outputs` reads (a mood
    network's logits; the hybrid's backbones export their patch outputs). Sessions are built on
    first use per thread count, each from the file checked again against the manifest's sha256,
    and kept; :meth:`outputs` is safe from several threads.
    """

    manifest: NetworkManifest
    path: Path
    sha256: str
    threads: int | None = None
    output: str = ONNX_OUTPUT
    _sessions: dict[int, ort.InferenceSession] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        """The model's id, e.g. ``"resnet18"``."""
        return self.manifest.name

    def session(self, threads: int | None = None) -> ort.InferenceSession:
        """The session on ``threads`` intra-op threads (default: ``self.threads``, else the process setting).

        Raises:
            ModelError: the export went missing or changed since the manifest was written.
        """
        n_threads = threads or self.threads or session_threads()
        with self._lock:
            if n_threads not in self._sessions:
                data = verified_bytes(self.path, self.sha256, "exported network")
                self._sessions[n_threads] = session_of(data, n_threads, self.path.name)
            return self._sessions[n_threads]

    def outputs(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The graph's ``output`` for a stack of windows ``(n_windows, n_mels, window_frames)``."""
        return session_outputs(self.session(), windows, self.output)

    def logits(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Logits for a stack of windows ``(n_windows, n_mels, window_frames)``: ``(n_windows, n_moods)``."""
        return self.outputs(windows)
