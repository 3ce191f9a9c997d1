"""mood: what mood does a song carry? Happy, angry/tense, sad or calm.

The public few::

    from mood import predict
    result = predict("song.mp3", model="ensemble")
    result.mood, result.probabilities, result.timeline

Heavy modules (torch, librosa) load on first use, so `python -m mood --help` is instant.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from mood.constants import MOODS
from mood.errors import AudioError, ModelError, MoodError, SourceError

if TYPE_CHECKING:
    from mood.engine.audio import load_audio as load_audio
    from mood.engine.inference import Prediction as Prediction
    from mood.engine.inference import Predictor as Predictor
    from mood.engine.inference import predict as predict

_LAZY = {
    "load_audio": "mood.engine.audio",
    "predict": "mood.engine.inference",
    "Predictor": "mood.engine.inference",
    "Prediction": "mood.engine.inference",
}

__all__ = ["MOODS", "AudioError", "ModelError", "MoodError", "SourceError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mood' has no attribute {name!r}")
