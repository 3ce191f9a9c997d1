"""Results in words and tables: the confidence sentence, probability tables, session exports.

Everything here is plain text and pandas, for the app's widgets and for download files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import pandas as pd

from mood.constants import MOOD_DISPLAY_NAMES, MOODS
from mood.engine.inference import Prediction
from mood.engine.manifest import Reliability
from mood.presentation.model_card import display_name

MOOD_EMOJI: Final = {"happy": "😄", "angry": "😠", "sad": "😢", "calm": "😌"}
MOOD_MEANINGS: Final = {
    "happy": "pleasant and energetic: cheerful, upbeat, exciting (high valence, high arousal).",
    "angry": "unpleasant and energetic: tense, aggressive, anxious (low valence, high arousal).",
    "sad": "unpleasant and low in energy: melancholic, gloomy, longing (low valence, low arousal).",
    "calm": "pleasant and low in energy: relaxed, peaceful, tender (high valence, low arousal).",
}
CONFIDENCE_EXPLANATIONS: Final = {
    "clear": "The top mood is well ahead of the others.",
    "leaning": "The top mood is ahead, but another one is not far behind.",
    "mixed": "Two moods are nearly tied: the song carries both, or the model cannot tell them apart.",
}
CONFIDENCE_WORDS: Final = {"clear": "Clearly", "leaning": "Leaning", "mixed": "Mixed"}
SONG_COLUMNS: Final = (
    "song",
    "source",
    "model",
    "mood",
    "confidence",
    *MOODS,
    "valence",
    "arousal",
    "duration_s",
)


@dataclass(frozen=True)
class SongResult:
    """One analysed song of a listening session.

    Attributes:
        song: how to name it, e.g. "Adele – Someone Like You".
        source: where its audio came from, e.g. "Deezer preview", "Upload".
        predictions: the chosen model's prediction first, then any ensemble member's.
    """

    song: str
    source: str
    predictions: tuple[Prediction, ...]

    @property
    def prediction(self) -> Prediction:
        """The chosen model's prediction (for the ensemble, the average)."""
        return self.predictions[0]


def percent(probability: float) -> str:
    """A probability as a whole percentage: 0.724 -> "72 %"."""
    return f"{probability * 100:.0f} %"


def mood_label(mood: str) -> str:
    """A mood for headings: "😄 Happy / upbeat"."""
    return f"{MOOD_EMOJI[mood]} {MOOD_DISPLAY_NAMES[mood]}"


def confidence_sentence(prediction: Prediction) -> str:
    """How sure the model is, in plain words, from :attr:`Prediction.confidence`.

    Examples: "Clearly happy (72 %)", "Leaning sad (48 %, calm 35 %)",
    "Mixed: sad 38 % / calm 35 %".
    """
    (top, p_top), (second, p_second) = sorted(prediction.probabilities.items(), key=lambda kv: -kv[1])[:2]
    word = CONFIDENCE_WORDS[prediction.confidence]
    if prediction.confidence == "clear":
        return f"{word} {top} ({percent(p_top)})"
    if prediction.confidence == "leaning":
        return f"{word} {top} ({percent(p_top)}, {second} {percent(p_second)})"
    return f"{word}: {top} {percent(p_top)} / {second} {percent(p_second)}"


def confidence_explanation(level: str, record: Mapping[str, Reliability] | None = None) -> str:
    """What a confidence level means and, when the model's cross-validation measured it, how
    often answers this sure were right.

    Args:
        level: ``"clear"``, ``"leaning"`` or ``"mixed"``.
        record: the manifest's ``cv.confidence`` block (see :func:`mood.presentation.model_card.confidence_record`).
    """
    entry = (record or {}).get(level)
    accuracy = entry.accuracy if entry else None
    if accuracy is None:
        return CONFIDENCE_EXPLANATIONS[level]
    return (
        f"{CONFIDENCE_EXPLANATIONS[level]} On songs it had not heard in training, "
        f"answers this sure were right {percent(accuracy)} of the time."
    )


def reliability_markdown(record: Mapping[str, Reliability]) -> str:
    """A bullet per confidence level: the share of test songs that got it and how often it was right."""
    total = sum(entry.clips for entry in record.values()) or 1
    return "\n".join(
        f"- *{CONFIDENCE_WORDS[level]}*: {percent(entry.clips / total)} of the songs, "
        f"right {percent(entry.accuracy)} of the time"
        for level, entry in record.items()
        if entry.accuracy is not None
    )


def probability_frame(predictions: Sequence[Prediction]) -> pd.DataFrame:
    """The four probabilities of each prediction side by side.

    Returns:
        One row per mood (display names, in ``MOODS`` order), one column per model
        (display names), probabilities in [0, 1].
    """
    return pd.DataFrame(
        {display_name(p.model): [p.probabilities[m] for m in MOODS] for p in predictions},
        index=pd.Index([MOOD_DISPLAY_NAMES[m] for m in MOODS], name="mood"),
    )


def songs_frame(results: Iterable[SongResult]) -> pd.DataFrame:
    """One row per song with its mood, confidence, four probabilities, valence and arousal.

    Columns are ``SONG_COLUMNS``; probabilities are in [0, 1], valence and arousal in
    [-1, 1], the duration in seconds; ``model`` is the model's key (e.g. "ensemble").
    """
    rows = [
        {
            "song": r.song,
            "source": r.source,
            "model": r.prediction.model,
            "mood": r.prediction.mood,
            "confidence": r.prediction.confidence,
            **r.prediction.probabilities,
            "valence": round(r.prediction.valence, 4),
            "arousal": round(r.prediction.arousal, 4),
            "duration_s": round(r.prediction.duration_s, 2),
        }
        for r in results
    ]
    return pd.DataFrame(rows, columns=list(SONG_COLUMNS))


def songs_csv(results: Iterable[SongResult]) -> str:
    """The session's songs as CSV text (the columns of :func:`songs_frame`)."""
    return str(songs_frame(results).to_csv(index=False))


def songs_json(results: Iterable[SongResult]) -> str:
    """The session's songs as a JSON array.

    Each song is the CLI's JSON object (DESIGN.md) for the chosen model, with ``song`` and
    ``source`` first, the confidence word, and ``members``: each ensemble member's own
    object (empty for a single model).
    """
    return json.dumps([_song_object(r) for r in results], indent=2, ensure_ascii=False)


def _song_object(result: SongResult) -> Mapping[str, object]:
    return {
        "song": result.song,
        "source": result.source,
        **result.prediction.to_dict(),
        "confidence": result.prediction.confidence,
        "members": [p.to_dict() for p in result.predictions[1:]],
    }
