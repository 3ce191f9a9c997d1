"""Golden outputs of the shipped weights on clips synthesised here.

After retraining, regenerate them (and commit the JSON) with:

    .venv/bin/python -m tests.golden               # every model
    .venv/bin/python -m tests.golden --only hybrid # one model's entry; the others stay as they are
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mood.constants import ENSEMBLE, SAMPLE_RATE
from mood.engine.manifest import NetworkManifest
from mood.engine.serving import PRECISION_ENV
from mood.engine.weights import SHIPPED_WEIGHTS_DIR, available_models, read_manifest

GOLDEN_PATH = Path(__file__).resolve().parent / "golden_outputs.json"
MODELS = tuple(available_models(SHIPPED_WEIGHTS_DIR))  # every shipped model, the ensemble included


def golden_clips() -> dict[str, np.ndarray]:
    """Deterministic 8 s clips at the engine's rate: a bright major arpeggio, a noisy
    distorted pulse, a slow low minor pad."""
    t = np.arange(8 * SAMPLE_RATE) / SAMPLE_RATE
    rng = np.random.default_rng(7)
    arpeggio_notes = 440.0 * 2 ** (np.array([0, 4, 7, 12]) / 12)
    arpeggio = np.sin(2 * np.pi * arpeggio_notes[(t * 8).astype(int) % 4] * t)
    pulse = np.tanh(6 * np.sin(2 * np.pi * 110 * t)) * (np.sin(2 * np.pi * 4 * t) > 0) + 0.3 * rng.normal(size=t.size)
    pad = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 130.8, 164.8)) * np.minimum(t / 2, 1)
    return {name: (0.2 * x / np.abs(x).max()).astype(np.float32) for name, x in
            (("arpeggio", arpeggio), ("pulse", pulse), ("pad", pad))}  # fmt: skip


def weights_sha256(name: str) -> str:
    """The sha256 a model's manifest records for its `.pt` (a network's or the hybrid head's)."""
    manifest = read_manifest(name, SHIPPED_WEIGHTS_DIR)
    assert isinstance(manifest, NetworkManifest), f"{name} has no weights of its own"
    return manifest.sha256


def compute_outputs(models: Sequence[str] = MODELS) -> dict[str, dict[str, Any]]:
    """Each of ``models``' probabilities on each golden clip, with the weights' checksums, in
    float32 as the tests run them (``tests/conftest.py``), whatever the CPU would choose."""
    os.environ[PRECISION_ENV] = "f32"
    from mood.engine.inference import Predictor

    outputs: dict[str, dict[str, Any]] = {"sha256": {name: weights_sha256(name) for name in models if name != ENSEMBLE}}
    for name in models:
        predictor = Predictor(name, SHIPPED_WEIGHTS_DIR)
        outputs[name] = {clip: predictor.predict(wav).probabilities for clip, wav in golden_clips().items()}
    return outputs


def main(argv: Sequence[str] | None = None) -> None:
    """Regenerate every model's goldens, or (``--only NAME...``) only those models' entries."""
    parser = argparse.ArgumentParser(prog="python -m tests.golden", description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=MODELS, help="rewrite only these models' entries")
    args = parser.parse_args(argv)
    fresh = compute_outputs(args.only or MODELS)
    golden = json.loads(GOLDEN_PATH.read_text()) if args.only else {}
    checksums = dict(sorted({**golden.get("sha256", {}), **fresh["sha256"]}.items()))
    entries = {k: v for k, v in {**golden, **fresh}.items() if k != "sha256"}
    GOLDEN_PATH.write_text(json.dumps({"sha256": checksums, **dict(sorted(entries.items()))}, indent=2) + "\n")
    print(f"wrote {GOLDEN_PATH}")


if __name__ == "__main__":
    main()
