"""Export the shipped networks to ONNX and check each export against its torch module.

    .venv/bin/python -m mood.engine.onnx_export [NAME ...] [--out DIR]

Each network is exported in eval mode (so musicnn's front end traces its eval shortcut,
``_FrequencyMaxBlock._eval_forward``) at ``ONNX_OPSET`` with a dynamic batch axis, by the
TorchScript exporter (the dynamo exporter cannot lower musicnn's ``Pad`` to opset 17). The
check runs ONNX Runtime and torch on the same windows, random ones and ones cut from a
synthetic song by the network's own front end, and reports the largest logit difference
and how often the top class agrees.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from mood.constants import ENSEMBLE, SAMPLE_RATE
from mood.engine.features import FloatArray, FrontEnd, log_mel, make_windows
from mood.engine.inference import network_logits
from mood.engine.onnx_runtime import ONNX_INPUT, ONNX_OUTPUT, load_session, session_logits
from mood.engine.weights import load_network, member_names

ONNX_DIR = Path(__file__).resolve().parents[2] / ".cache" / "onnx"  # gitignored until manifests record exports
ONNX_OPSET = 17
EXPORT_BATCH = 2  # windows in the example input the graph is traced with
FP32_LOGIT_TOLERANCE = 1e-4  # largest |ONNX - torch| logit an fp32 export may show
CHECK_WINDOWS = 8  # random windows per check
CHECK_SONG_S = 30.0  # seconds of synthetic song the real-shaped windows are cut from
_CHORD_HZ = (220.0, 277.2, 329.6, 440.0)


@dataclass(frozen=True)
class ExportCheck:
    """How an export's logits compare with its torch module's on the same windows."""

    n_windows: int
    max_abs_logit_difference: float
    top_class_agreement: float  # share of windows whose arg-max logit is the same


def export_network(network: nn.Module, front_end: FrontEnd, path: Path) -> Path:
    """Write ``network`` (put in eval mode) as ONNX to ``path``: input ``(batch, n_mels, window_frames)``."""
    network.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(EXPORT_BATCH, front_end.n_mels, front_end.window_frames)
    with torch.no_grad():
        torch.onnx.export(
            network,
            (example,),
            str(path),
            input_names=[ONNX_INPUT],
            output_names=[ONNX_OUTPUT],
            dynamic_axes={ONNX_INPUT: {0: "batch"}, ONNX_OUTPUT: {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    return path


def export_shipped(name: str, out_dir: Path = ONNX_DIR, weights_dir: Path | None = None) -> Path:
    """Export the verified network ``name`` to ``out_dir/<name>.onnx``.

    Raises:
        ModelError: as :func:`mood.engine.weights.load_network`.
    """
    loaded = load_network(name, weights_dir)
    with loaded.lock:
        return export_network(loaded.network, loaded.manifest.features, out_dir / f"{name}.onnx")


def random_windows(front_end: FrontEnd, n_windows: int = CHECK_WINDOWS, seed: int = 0) -> FloatArray:
    """Standard-normal windows of the front end's shape."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_windows, front_end.n_mels, front_end.window_frames), dtype=np.float32)


def song_windows(front_end: FrontEnd, seconds: float = CHECK_SONG_S, seed: int = 0) -> FloatArray:
    """The windows ``front_end`` cuts from a synthetic song (rising chords over noise): values as real input has."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    chords = sum(np.sin(2 * np.pi * hz * (1 + t / seconds) * t) for hz in _CHORD_HZ)
    wav = (0.1 * chords + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
    windows, _ = make_windows(log_mel(wav, front_end), front_end)
    return windows


def check_export(network: nn.Module, session: ort.InferenceSession, windows: FloatArray) -> ExportCheck:
    """Compare the eval-mode ``network`` and its export ``session`` on ``windows``."""
    network.eval()
    expected = network_logits(network, windows)
    actual = session_logits(session, windows)
    return ExportCheck(
        n_windows=len(windows),
        max_abs_logit_difference=float(np.abs(actual - expected).max()),
        top_class_agreement=float(np.mean(actual.argmax(axis=1) == expected.argmax(axis=1))),
    )


def main() -> None:
    """Export the named networks (default: the ensemble's members) and print each check."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="networks to export (default: the ensemble's members)")
    parser.add_argument("--out", type=Path, default=ONNX_DIR, help=f"folder for the .onnx files (default {ONNX_DIR})")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="ONNX Runtime intra-op threads")
    args = parser.parse_args()
    for name in args.names or member_names(ENSEMBLE):
        path = export_shipped(name, args.out)
        loaded = load_network(name)
        session = load_session(path, args.threads)
        front_end = loaded.manifest.features
        for kind, windows in (("random", random_windows(front_end)), ("song", song_windows(front_end))):
            check = check_export(loaded.network, session, windows)
            verdict = "ok" if check.max_abs_logit_difference <= FP32_LOGIT_TOLERANCE else "TOO FAR"
            print(
                f"{name:9s} {kind:6s} {check.n_windows:3d} windows: max |logit diff| "
                f"{check.max_abs_logit_difference:.2e}, top class agrees on {check.top_class_agreement:.0%} ({verdict})"
            )
        print(f"{name:9s} -> {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
