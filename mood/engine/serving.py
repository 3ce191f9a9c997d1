"""Serve an exported mood network with OpenVINO: windows in, the graph's output out, no torch.

A network exported by :mod:`mood.engine.onnx_export` takes one input, ``ONNX_INPUT``, of
shape ``(batch, n_mels, window_frames)`` (the batch axis is dynamic) and gives one output,
``ONNX_OUTPUT`` (a mood network's logits ``(batch, n_classes)``; the hybrid's backbones name
theirs). OpenVINO reads the verified ONNX bytes and compiles them for this CPU.

Precision (:func:`served_precision`, ``$MOOD_PRECISION``): ``auto`` (the default) runs in
bfloat16 where the CPU has it (AMX or AVX512-BF16; the answers' top mood is the fp32 one on
every 4Q and Grekow clip measured: README's speed section), else in float32; ``f32`` always
runs float32 (the reference the tests pin), ``bf16`` asks for bfloat16 (OpenVINO falls back to
float32 on a CPU without it).

OpenVINO fixes a compiled model's threads when it is compiled, so an :class:`OnnxNetwork`
compiles once per thread count it is asked to run on (each from the verified file) and keeps
them; :func:`set_session_threads` sets the count of the networks that follow the process. Only
OpenVINO's runtime is used (never its conversion tools, which are the part that could ask for
telemetry).

A process that serves a network keeps numpy's BLAS on one thread (:func:`share_cores_with_networks`):
OpenVINO already runs on every core, and OpenBLAS's threads, left spinning after each call of the
spectrograms and musical features, took those cores from it (the shared graph took 111 ms of a
30 s clip beside them, 58 ms without; README, Speed). One BLAS thread was faster for the musical
features and descriptors on their own too.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import openvino as ov
from threadpoolctl import threadpool_limits

from mood.constants import INFERENCE_BATCH_SIZE
from mood.engine.integrity import verified_bytes
from mood.engine.manifest import NetworkManifest
from mood.errors import ModelError

ONNX_INPUT: Final = "windows"  # (batch, n_mels, window_frames), float32
ONNX_OUTPUT: Final = "logits"  # (batch, n_classes), float32
DEVICE: Final = "CPU"
PRECISION_ENV: Final = "MOOD_PRECISION"
Precision = Literal["auto", "f32", "bf16"]
ServedPrecision = Literal["f32", "bf16"]
SERVED_PRECISIONS: Final[tuple[ServedPrecision, ...]] = get_args(ServedPrecision)  # what a network runs in
BF16_CAPABILITY: Final = "BF16"  # in OpenVINO's OPTIMIZATION_CAPABILITIES of a CPU that has bfloat16

_process_threads: int | None = None  # None: every core this process may use


def usable_cores() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0))


def session_threads() -> int:
    """The threads of the networks that follow the process setting (default :func:`usable_cores`)."""
    return _process_threads or usable_cores()


def set_session_threads(n_threads: int | None) -> int | None:
    """Run the process-following networks' next forward passes on ``n_threads`` (None: every usable core).

    Returns:
        The previous setting, to restore.
    """
    global _process_threads
    previous, _process_threads = _process_threads, n_threads
    return previous


@cache
def _core() -> ov.Core:
    return ov.Core()


@cache
def cpu_has_bf16() -> bool:
    """Whether this CPU computes in bfloat16 (OpenVINO's reading: AMX or AVX512-BF16)."""
    return BF16_CAPABILITY in _core().get_property(DEVICE, "OPTIMIZATION_CAPABILITIES")


def requested_precision() -> Precision:
    """``$MOOD_PRECISION`` (default ``auto``).

    Raises:
        ModelError: it names no precision.
    """
    value = os.environ.get(PRECISION_ENV, "auto").strip().lower() or "auto"
    if value not in get_args(Precision):
        raise ModelError(f"{PRECISION_ENV}={value!r} is not a precision; use one of {', '.join(get_args(Precision))}.")
    return value  # type: ignore[return-value]  # checked against the Literal's values just above


def served_precision() -> ServedPrecision:
    """The precision the networks run in here: see the module's docstring."""
    requested = requested_precision()
    if requested == "f32":
        return "f32"
    return "bf16" if cpu_has_bf16() else "f32"


@cache
def share_cores_with_networks() -> None:
    """Keep numpy's BLAS on one thread in this process from now on (see the module's docstring)."""
    threadpool_limits(limits=1, user_api="blas")


def compile_onnx(model: bytes, threads: int, name: str, precision: ServedPrecision) -> ov.CompiledModel:
    """ONNX bytes compiled for this CPU on ``threads`` threads in ``precision``, for low latency;
    from then on numpy's BLAS keeps to one thread (:func:`share_cores_with_networks`).

    Raises:
        ModelError: the bytes are not a model OpenVINO can run.
    """
    share_cores_with_networks()
    config: dict[str, Any] = {
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": precision,
    }
    try:
        return _core().compile_model(_core().read_model(model), DEVICE, config)
    except RuntimeError as e:
        raise ModelError(f"{name} is not a network this engine can run; export it again.") from e


def batches_of(
    windows: npt.NDArray[np.float32], batch_size: int = INFERENCE_BATCH_SIZE
) -> list[npt.NDArray[np.float32]]:
    """A stack of windows ``(n_windows, n_mels, window_frames)`` cut into contiguous float32 batches."""
    return [
        np.ascontiguousarray(windows[start : start + batch_size], np.float32)
        for start in range(0, len(windows), batch_size)
    ]


def in_batches(
    run: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]],
    windows: npt.NDArray[np.float32],
    batch_size: int = INFERENCE_BATCH_SIZE,
) -> npt.NDArray[np.float32]:
    """``run`` on a stack of windows in batches of ``batch_size`` (:func:`batches_of`), the
    outputs stacked along the first axis."""
    return np.concatenate([run(batch) for batch in batches_of(windows, batch_size)]).astype(np.float32, copy=False)


def run_compiled(
    compiled: ov.CompiledModel, windows: npt.NDArray[np.float32], outputs: Sequence[str] = (ONNX_OUTPUT,)
) -> dict[str, npt.NDArray[np.float32]]:
    """The graph's ``outputs`` for a stack of windows ``(n_windows, n_mels, window_frames)``, from
    one pass per batch; each call has its own infer request, so threads may share ``compiled``."""
    request = compiled.create_infer_request()
    results = [request.infer({ONNX_INPUT: batch}) for batch in batches_of(windows)]
    return {
        name: np.concatenate([np.asarray(r[name]) for r in results]).astype(np.float32, copy=False) for name in outputs
    }


@dataclass(frozen=True, eq=False)
class OnnxNetwork:
    """A shipped network's ONNX export served by OpenVINO: its manifest and its export ``path``,
    whose contents must have ``sha256`` (the manifest's ``onnx.sha256``).

    ``threads``: the threads of its forward passes (None: :func:`session_threads`, the process
    setting). ``output``: the graph's output that :meth:`outputs` reads (a mood network's logits;
    the hybrid's backbones export their patch outputs). A compiled model is built on first use
    per thread count and precision, each from the file checked again against the sha256, and
    kept; :meth:`outputs` is safe from several threads.
    """

    manifest: NetworkManifest
    path: Path
    sha256: str
    threads: int | None = None
    output: str = ONNX_OUTPUT
    _compiled: dict[tuple[int, str], ov.CompiledModel] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        """The model's id, e.g. ``"resnet18"``."""
        return self.manifest.name

    def compiled(self, threads: int | None = None) -> ov.CompiledModel:
        """The model compiled for ``threads`` (default: ``self.threads``, else the process setting)
        in :func:`served_precision`.

        Raises:
            ModelError: the export went missing or changed since the manifest was written.
        """
        key = (threads or self.threads or session_threads(), served_precision())
        with self._lock:
            if key not in self._compiled:
                data = verified_bytes(self.path, self.sha256, "exported network")
                self._compiled[key] = compile_onnx(data, key[0], self.path.name, key[1])
            return self._compiled[key]

    def outputs(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The graph's ``output`` for a stack of windows ``(n_windows, n_mels, window_frames)``."""
        return run_compiled(self.compiled(), windows, (self.output,))[self.output]

    def outputs_named(
        self, windows: npt.NDArray[np.float32], names: Sequence[str]
    ) -> dict[str, npt.NDArray[np.float32]]:
        """Several of the graph's outputs for a stack of windows, from one pass (a shared export)."""
        return run_compiled(self.compiled(), windows, names)

    def logits(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Logits for a stack of windows ``(n_windows, n_mels, window_frames)``: ``(n_windows, n_moods)``."""
        return self.outputs(windows)
