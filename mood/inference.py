"""One call from audio to moods: :func:`predict` and the reusable :class:`Predictor`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mood.audio import AudioSource
from mood.constants import MOODS, WINDOW_HOP_S
from mood.errors import ModelError
from mood.features import FeatureConfig, FloatArray, log_mel, make_windows, to_samples
from mood.weights import LoadedModel, load_models

Probabilities = dict[str, float]

# Plain-words confidence: the top mood's lead over the runner-up.
CLEAR_MARGIN = 0.30
LEANING_MARGIN = 0.10
CONFIDENCE_LEVELS = ("clear", "leaning", "mixed")


def confidence_level(probabilities: Iterable[float]) -> str:
    """``"clear"``, ``"leaning"`` or ``"mixed"``, from the lead of the top probability over the next."""
    top, second = sorted(probabilities, reverse=True)[:2]
    if top - second >= CLEAR_MARGIN:
        return "clear"
    return "leaning" if top - second >= LEANING_MARGIN else "mixed"


@dataclass(frozen=True)
class WindowPrediction:
    """The moods of one analysis window."""

    start_s: float
    end_s: float
    probabilities: Probabilities


@dataclass(frozen=True)
class Prediction:
    """The mood of a clip: mean of its windows' probabilities, and the windows as a timeline."""

    model: str
    probabilities: Probabilities
    duration_s: float
    timeline: tuple[WindowPrediction, ...]

    @property
    def mood(self) -> str:
        """The most probable mood."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @property
    def valence(self) -> float:
        """Pleasantness in [-1, 1]: happy + calm - angry - sad."""
        p = self.probabilities
        return p["happy"] + p["calm"] - p["angry"] - p["sad"]

    @property
    def arousal(self) -> float:
        """Energy in [-1, 1]: happy + angry - sad - calm."""
        p = self.probabilities
        return p["happy"] + p["angry"] - p["sad"] - p["calm"]

    @property
    def confidence(self) -> str:
        """``"clear"``, ``"leaning"`` or ``"mixed"``: see :func:`confidence_level`."""
        return confidence_level(self.probabilities.values())

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of DESIGN.md's CLI output (without ``path``)."""
        return {
            "model": self.model,
            "mood": self.mood,
            "probabilities": self.probabilities,
            "valence": round(self.valence, 6),
            "arousal": round(self.arousal, 6),
            "duration_s": round(self.duration_s, 3),
            "timeline": [
                {"start_s": round(w.start_s, 3), "end_s": round(w.end_s, 3), "probabilities": w.probabilities}
                for w in self.timeline
            ],
        }


def _as_probabilities(row: npt.NDArray[np.float32]) -> Probabilities:
    return {mood: round(float(p), 6) for mood, p in zip(MOODS, row, strict=True)}


class Predictor:
    """Loads a model once and judges many clips with it.

    Args:
        model: ``"resnet18"``, ``"cldnn"`` or ``"ensemble"`` (the mean of both).
        weights_dir: where the weights and manifests are (default: ``$MOOD_WEIGHTS_DIR``,
            else the shipped ones).

    Raises:
        ModelError: unknown model, or weights that fail verification.
    """

    def __init__(self, model: str = "ensemble", weights_dir: Path | None = None) -> None:
        self.name = model
        self.members: list[LoadedModel] = load_models(model, weights_dir)
        configs = {m.feature_config for m in self.members}
        if len(configs) != 1:
            raise ModelError(f"The members of {model!r} were trained on different features and cannot be averaged.")
        self.config: FeatureConfig = configs.pop()

    def predict(self, source: AudioSource | FloatArray) -> Prediction:
        """Judge a clip: a path, file bytes, or mono float32 samples at ``self.config.sample_rate``.

        Raises:
            AudioError: undecodable, too short or silent audio.
        """
        wav = to_samples(source, self.config)
        return self.predict_mel(log_mel(wav, self.config), wav.size / self.config.sample_rate)

    def predict_mel(self, mel_db: FloatArray, duration_s: float) -> Prediction:
        """Judge a clip from its log-mel spectrogram (computed once, shared by every model)."""
        return self.predict_members(mel_db, duration_s)[0]

    def predict_members(self, mel_db: FloatArray, duration_s: float) -> list[Prediction]:
        """The prediction of ``self.name`` first, then (for an ensemble) each member's own."""
        windows, starts = make_windows(mel_db, self.config, WINDOW_HOP_S)
        member_probs = [m.window_probabilities(windows) for m in self.members]
        hop_s = self.config.hop_length / self.config.sample_rate
        spans = [(s * hop_s, min(s * hop_s + self.config.window_s, duration_s)) for s in starts]
        named = [(self.name, np.mean(member_probs, axis=0))]
        if len(self.members) > 1:
            named += [(m.name, p) for m, p in zip(self.members, member_probs, strict=True)]
        return [_prediction(name, probs, spans, duration_s) for name, probs in named]


def _prediction(
    name: str, window_probs: npt.NDArray[np.float32], spans: list[tuple[float, float]], duration_s: float
) -> Prediction:
    timeline = tuple(
        WindowPrediction(start_s=start, end_s=end, probabilities=_as_probabilities(row))
        for (start, end), row in zip(spans, window_probs, strict=True)
    )
    return Prediction(
        model=name,
        probabilities=_as_probabilities(window_probs.mean(axis=0)),
        duration_s=duration_s,
        timeline=timeline,
    )


def predict(source: AudioSource | FloatArray, model: str | Predictor = "ensemble") -> Prediction:
    """Judge one clip with a model name or an already loaded :class:`Predictor`."""
    predictor = model if isinstance(model, Predictor) else Predictor(model)
    return predictor.predict(source)
