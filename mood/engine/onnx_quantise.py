"""int8 static quantisation of an exported network (ONNX Runtime QDQ), calibrated on windows.

The calibration windows come from training clips; only the quantised model leaves the
machine, never those clips. No torch.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from mood.constants import INFERENCE_BATCH_SIZE
from mood.engine.serving import ONNX_INPUT


class WindowsReader(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime ships no type hints
    """Feeds stacks of windows, ``(n, n_mels, window_frames)`` each, in batches to the calibrator."""

    def __init__(self, stacks: Iterable[npt.NDArray[np.float32]], batch_size: int = INFERENCE_BATCH_SIZE) -> None:
        self._batches = self._batch(stacks, batch_size)

    @staticmethod
    def _batch(
        stacks: Iterable[npt.NDArray[np.float32]], batch_size: int
    ) -> Iterator[dict[str, npt.NDArray[np.float32]]]:
        for stack in stacks:
            for start in range(0, len(stack), batch_size):
                yield {ONNX_INPUT: np.ascontiguousarray(stack[start : start + batch_size], np.float32)}

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        """The next batch, or None when the windows are used up."""
        return next(self._batches, None)


def quantise_int8(fp32_path: Path, out_path: Path, calibration: Iterable[npt.NDArray[np.float32]]) -> Path:
    """Write ``fp32_path`` quantised to int8 (QDQ: per-channel int8 weights, uint8 activations) to ``out_path``.

    Args:
        fp32_path: an export of :mod:`mood.engine.onnx_export`.
        out_path: where the quantised model goes.
        calibration: stacks of windows the activation ranges are measured on (min-max).
    """
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared))
        quantize_static(
            str(prepared),
            str(out_path),
            WindowsReader(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    return out_path
