"""Check each network's ONNX export against its torch module; export the networks already shipped.

    .venv/bin/python -m mood.engine.onnx_check [NAME ...] [--ship] [--weights-dir DIR]

The check runs ONNX Runtime and torch on the same windows, random ones and ones cut from a
synthetic song by the network's own front end, and reports the largest logit difference and
how often the top class agrees. ``--ship`` first (re-)exports each network into its weights
folder and records the file in its manifest's ``onnx`` block (nothing else changes).
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from torch import nn

from mood.constants import ENSEMBLE, SAMPLE_RATE
from mood.engine.features import FloatArray, FrontEnd, log_mel, make_windows
from mood.engine.manifest import NetworkManifest
from mood.engine.onnx_runtime import load_session, session_logits
from mood.engine.serving import usable_cores
from mood.engine.torch_weights import clear_cache, export_of, load_network, network_logits
from mood.engine.weights import member_names, resolve_weights_dir, write_manifest

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


def ship_export(name: str, weights_dir: Path | None = None) -> NetworkManifest:
    """Export the verified network ``name`` to ``weights_dir/<name>.onnx`` and record it in its manifest.

    Raises:
        ModelError: as :func:`mood.engine.torch_weights.load_network`.
    """
    folder = resolve_weights_dir(weights_dir)
    loaded = load_network(name, folder)
    with loaded.lock:
        export = export_of(loaded.network, loaded.manifest.features, folder / f"{name}.onnx")
    manifest = dataclasses.replace(loaded.manifest, onnx=export)
    write_manifest(manifest, folder)
    clear_cache()
    return manifest


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
    """Check (after ``--ship``: export first) the named networks (default: the ensemble's members)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="networks (default: the ensemble's members)")
    parser.add_argument("--ship", action="store_true", help="export each into its weights folder and record it")
    parser.add_argument("--weights-dir", type=Path, default=None, help="default: $MOOD_WEIGHTS_DIR, else the shipped")
    parser.add_argument("--threads", type=int, default=usable_cores(), help="ONNX Runtime intra-op threads")
    args = parser.parse_args()
    folder = resolve_weights_dir(args.weights_dir)
    for name in args.names or member_names(ENSEMBLE, folder):
        manifest = ship_export(name, folder) if args.ship else load_network(name, folder).manifest
        if manifest.onnx is None:
            print(f"{name:9s} has no ONNX export recorded; run again with --ship")
            continue
        path = folder / manifest.onnx.file
        network = load_network(name, folder).network
        session = load_session(path, args.threads)
        for kind, windows in (("random", random_windows(manifest.features)), ("song", song_windows(manifest.features))):
            check = check_export(network, session, windows)
            verdict = "ok" if check.max_abs_logit_difference <= FP32_LOGIT_TOLERANCE else "TOO FAR"
            print(
                f"{name:9s} {kind:6s} {check.n_windows:3d} windows: max |logit diff| "
                f"{check.max_abs_logit_difference:.2e}, top class agrees on {check.top_class_agreement:.0%} ({verdict})"
            )
        print(f"{name:9s} -> {path} ({path.stat().st_size / 1e6:.1f} MB, sha256 {manifest.onnx.sha256[:12]}…)")


if __name__ == "__main__":
    main()
