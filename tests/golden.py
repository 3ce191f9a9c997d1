"""Golden outputs of the shipped weights on clips synthesised here.

After retraining, regenerate them (and commit the JSON) with:

    .venv/bin/python -m tests.golden
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mood.constants import ENSEMBLE, SAMPLE_RATE
from mood.engine.weights import SHIPPED_WEIGHTS_DIR, available_models, read_network_manifest

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


def compute_outputs() -> dict[str, object]:
    """Each shipped model's probabilities on each golden clip, with the weights' checksums."""
    from mood.engine.inference import Predictor

    outputs: dict[str, object] = {
        "sha256": {name: read_network_manifest(name).sha256 for name in MODELS if name != ENSEMBLE}
    }
    for name in MODELS:
        predictor = Predictor(name, SHIPPED_WEIGHTS_DIR)
        outputs[name] = {clip: predictor.predict(wav).probabilities for clip, wav in golden_clips().items()}
    return outputs


if __name__ == "__main__":
    GOLDEN_PATH.write_text(json.dumps(compute_outputs(), indent=2) + "\n")
    print(f"wrote {GOLDEN_PATH}")
