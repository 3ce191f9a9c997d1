"""The weights in mood/weights/ load, match their manifests, and still give their golden outputs.

A change to decoding or features that silently shifts predictions fails here. After a
deliberate retraining, regenerate the goldens: `.venv/bin/python -m tests.golden`.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mood.constants import ENSEMBLE, MODEL_NAMES, MOODS
from mood.engine.hybrid import HEAD_SUFFIX
from mood.engine.inference import Predictor
from mood.engine.integrity import sha256_of
from mood.engine.manifest import HybridManifest, NetworkManifest
from mood.engine.weights import SHIPPED_WEIGHTS_DIR, read_manifest
from tests.golden import GOLDEN_PATH, MODELS, golden_clips

GOLDEN = json.loads(GOLDEN_PATH.read_text())
NETWORKS = [name for name in MODELS if name != ENSEMBLE]


def test_every_shipped_model_is_a_known_model_with_golden_outputs() -> None:
    assert ENSEMBLE in MODELS and set(MODELS) <= set(MODEL_NAMES)
    assert set(GOLDEN) - {"sha256"} == set(MODELS)


@pytest.mark.parametrize("name", NETWORKS)
def test_manifest_describes_the_weights(name: str) -> None:
    manifest = read_manifest(name, SHIPPED_WEIGHTS_DIR)
    assert isinstance(manifest, NetworkManifest)
    assert manifest.name == name and manifest.labels == list(MOODS)
    weights_file = f"{name}{HEAD_SUFFIX if isinstance(manifest, HybridManifest) else '.pt'}"
    assert manifest.sha256 == sha256_of(SHIPPED_WEIGHTS_DIR / weights_file) == GOLDEN["sha256"][name]
    assert manifest.params > 1e5


@pytest.mark.parametrize("name", MODELS)
def test_cross_validated_figures_are_recorded(name: str) -> None:
    cv = read_manifest(name, SHIPPED_WEIGHTS_DIR).cv
    assert cv is not None and cv.folds == [0, 1, 2, 3, 4]
    confusion = np.array(cv.confusion)
    assert confusion.shape == (4, 4) and confusion.sum() == 900
    assert cv.accuracy == pytest.approx(np.trace(confusion) / 900, abs=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_golden_outputs(name: str) -> None:
    predictor = Predictor(name, SHIPPED_WEIGHTS_DIR)
    for clip, wav in golden_clips().items():
        got = predictor.predict(wav).probabilities
        np.testing.assert_allclose(
            [got[m] for m in MOODS], [GOLDEN[name][clip][m] for m in MOODS], atol=2e-4, err_msg=f"{name} on {clip}"
        )
