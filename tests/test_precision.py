"""The precision the networks are served in: float32 when asked (what the other tests pin), and by
default bfloat16 exactly where this CPU has it, with answers that keep the float32 ones."""

from __future__ import annotations

import numpy as np
import pytest

from mood.constants import MODEL_NAMES, MOODS
from mood.engine.inference import Predictor
from mood.engine.serving import PRECISION_ENV, cpu_has_bf16, served_precision
from mood.engine.weights import SHIPPED_WEIGHTS_DIR
from mood.errors import ModelError
from tests.golden import golden_clips

BF16_PROBABILITY_TOLERANCE = 0.05  # largest |bf16 - f32| probability of a clip
CLEAR_LEAD = 0.10  # a float32 answer leading the runner-up by this much keeps its top mood


def test_float32_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PRECISION_ENV, "f32")
    assert served_precision() == "f32"


def test_the_default_is_bfloat16_exactly_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRECISION_ENV, raising=False)
    assert served_precision() == ("bf16" if cpu_has_bf16() else "f32")
    (member,) = Predictor("cldnn", SHIPPED_WEIGHTS_DIR).members
    hint = str(member.compiled().get_property("INFERENCE_PRECISION_HINT"))  # type: ignore[attr-defined]
    assert ("bfloat16" in hint) == cpu_has_bf16()


def test_an_unknown_precision_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PRECISION_ENV, "fp8")
    with pytest.raises(ModelError, match="MOOD_PRECISION='fp8' is not a precision; use one of auto, f32, bf16"):
        served_precision()


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_the_default_precision_keeps_the_float32_answers(monkeypatch: pytest.MonkeyPatch, model: str) -> None:
    monkeypatch.setenv(PRECISION_ENV, "f32")
    clips = golden_clips()
    reference = {clip: Predictor(model, SHIPPED_WEIGHTS_DIR).predict(wav) for clip, wav in clips.items()}
    monkeypatch.setenv(PRECISION_ENV, "auto")
    for clip, wav in clips.items():
        served = Predictor(model, SHIPPED_WEIGHTS_DIR).predict(wav)
        f32 = np.array([reference[clip].probabilities[m] for m in MOODS])
        here = np.array([served.probabilities[m] for m in MOODS])
        np.testing.assert_allclose(here, f32, atol=BF16_PROBABILITY_TOLERANCE)
        top, second = np.sort(f32)[::-1][:2]
        if top - second >= CLEAR_LEAD:
            assert served.mood == reference[clip].mood
