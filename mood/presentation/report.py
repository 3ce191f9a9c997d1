"""Results in words and tables: the confidence sentence, why this mood, probability tables,
session exports, the queue's waiting line, calibration and credits for the About page.

Everything here is plain text and pandas, for the app's widgets and for download files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import pandas as pd

from mood.constants import MAX_DURATION_S, MOOD_DISPLAY_NAMES, MOODS
from mood.engine.descriptors import Descriptors
from mood.engine.inference import Prediction
from mood.engine.manifest import (
    CrossValidation,
    FamiliarityCalibration,
    Pretrained,
    Reliability,
    ShortClipCalibration,
    Transfer,
)
from mood.presentation.descriptor_words import describe_in_words, mood_hints
from mood.presentation.model_card import display_name
from mood.service.analysis import Analysis, Song
from mood.service.explain import HeardMap

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
    "unfamiliar",
    *MOODS,
    "valence",
    "arousal",
    "duration_s",
    "tempo_bpm",
    "key",
)
WHY_CAVEAT: Final = (
    "These are tendencies across many songs, not rules. The models do not read these numbers: "
    "they learnt the moods from the sound itself."
)
HEARD_HOW: Final = (
    "How we know: the model listened again with one part of the sound hidden at a time (one range of "
    "pitches, from deep bass to treble, during one stretch of the clip). The darker a box, the more "
    "the answer dropped without it: that is where the model was listening hardest."
)
# Citations of the pretrained packages a model may start from, by package name.
CITATIONS: Final = {
    "musicnn": "“musicnn: pre-trained convolutional neural networks for music audio tagging”, "
    "Late-Breaking/Demo session of ISMIR 2019",
}
DATASET_CREDIT: Final = (
    "**The 4Q audio emotion dataset** by Renato Panda, Ricardo Malheiro and Rui Pedro Paiva "
    "(“Novel audio features for music emotion recognition”, IEEE Transactions on Affective Computing, 2018): "
    "900 clips of about 30 s, 225 per quarter of Russell's map, from which every model here learnt the moods."
)


@dataclass(frozen=True)
class SongResult:
    """One analysed song of a listening session.

    Attributes:
        song: how to name it, e.g. "Adele – Someone Like You".
        source: where its audio came from, e.g. "Deezer preview", "Upload".
        predictions: the chosen model's prediction first, then any ensemble member's.
        descriptors: its tempo, key, loudness and timbre, if measured.
    """

    song: str
    source: str
    predictions: tuple[Prediction, ...]
    descriptors: Descriptors | None = None

    @property
    def prediction(self) -> Prediction:
        """The chosen model's prediction (for the ensemble, the average)."""
        return self.predictions[0]


def song_result(song: Song, analysis: Analysis) -> SongResult:
    """The session's record of an analysed song."""
    return SongResult(
        song=song.label, source=song.origin, predictions=analysis.predictions, descriptors=analysis.descriptors
    )


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


def truncation_note(prediction: Prediction) -> str | None:
    """What a listener should know when only the start of a long song was judged, else None."""
    if not prediction.truncated:
        return None
    minutes = f"{MAX_DURATION_S / 60:.0f}"
    return f"This song is longer than {minutes} minutes: only its first {minutes} were judged."


def familiarity_note(prediction: Prediction) -> str | None:
    """What a listener should know when the song is unlike the music the models learnt from, else None."""
    if not prediction.unfamiliar:
        return None
    return (
        "This song sounds unlike the music the models learnt from, so the answer is held less sure than "
        "usual: read it as a hint."
    )


def confidence_explanation(
    level: str, record: Mapping[str, Reliability] | None = None, transfer: Transfer | None = None
) -> str:
    """What a confidence level means and, where the model was measured, how often answers this
    sure were right: in cross-validation, and on music from another collection (honestly lower).

    Args:
        level: ``"clear"``, ``"leaning"`` or ``"mixed"``.
        record: the manifest's ``cv.confidence`` block (see :func:`mood.presentation.model_card.confidence_record`).
        transfer: the manifest's ``transfer`` block (see :func:`mood.presentation.model_card.transfer_record`).
    """
    entry = (record or {}).get(level)
    accuracy = entry.accuracy if entry else None
    if accuracy is None:
        return CONFIDENCE_EXPLANATIONS[level]
    said = (
        f"{CONFIDENCE_EXPLANATIONS[level]} On songs it had not heard in training, "
        f"answers this sure were right {percent(accuracy)} of the time"
    )
    elsewhere = transfer.confidence.get(level) if transfer else None
    if elsewhere is None or elsewhere.accuracy is None:
        return said + "."
    return f"{said}; on music unlike what it learnt from (other genres, short excerpts), {percent(elsewhere.accuracy)}."


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
    [-1, 1], the duration in seconds; ``model`` is the model's key (e.g. "ensemble");
    ``unfamiliar`` is whether the song is unlike the training music (missing when the model
    does not measure it); ``tempo_bpm`` and ``key`` (e.g. "A minor") are missing for a song
    without descriptors.
    """
    rows = [
        {
            "song": r.song,
            "source": r.source,
            "model": r.prediction.model,
            "mood": r.prediction.mood,
            "confidence": r.prediction.confidence,
            "unfamiliar": None if r.prediction.distance_from_training is None else r.prediction.unfamiliar,
            **r.prediction.probabilities,
            "valence": round(r.prediction.valence, 4),
            "arousal": round(r.prediction.arousal, 4),
            "duration_s": round(r.prediction.duration_s, 2),
            "tempo_bpm": round(r.descriptors.tempo_bpm, 1) if r.descriptors else None,
            "key": key_name(r.descriptors) if r.descriptors else None,
        }
        for r in results
    ]
    return pd.DataFrame(rows, columns=list(SONG_COLUMNS))


def songs_csv(results: Iterable[SongResult]) -> str:
    """The session's songs as CSV text (the columns of :func:`songs_frame`)."""
    return str(songs_frame(results).to_csv(index=False))


def songs_json(results: Iterable[SongResult]) -> str:
    """The session's songs as a JSON array.

    Each song is the CLI's JSON object (docs/DESIGN.md) for the chosen model, with ``song`` and
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


# ---------------------------------------------------------------- why this mood


def key_name(d: Descriptors) -> str:
    """The key and mode as musicians write them: "A minor"."""
    return f"{d.key} {d.mode}"


def why_markdown(d: Descriptors) -> str:
    """Why this mood, in plain words: what the song sounds like, and what such sounds usually go with.

    Markdown: a bullet per descriptor (:func:`~mood.presentation.descriptor_words.describe_in_words`),
    then the mood hints (:func:`~mood.presentation.descriptor_words.mood_hints`) or a line saying
    nothing stands out, then the caveat that these are tendencies the models do not read.
    """
    sounds = "\n".join(f"- {phrase}" for phrase in describe_in_words(d))
    hints = mood_hints(d)
    tendencies = (
        "**Such music is often heard as:**\n" + "\n".join(f"- {hint}" for hint in hints)
        if hints
        else "Nothing in how it sounds stands out as typical of one mood: the models weigh finer detail."
    )
    return f"**What it sounds like:**\n{sounds}\n\n{tendencies}\n\n*{WHY_CAVEAT}*"


def waiting_sentence(ahead: int) -> str:
    """The status line of a listener waiting in the analysis queue."""
    return f"Waiting for your turn: {_songs(ahead)} ahead"


def analysed_sentence(song: str, model: str, waited_for: int = 0) -> str:
    """The status line once a song is analysed, saying if the listener had to wait (the most songs ahead)."""
    done = f"Analysed “{song}” with {display_name(model)}"
    return f"{done}, after waiting for {_songs(waited_for)} ahead" if waited_for else done


def _songs(count: int) -> str:
    return f"{count} {'song' if count == 1 else 'songs'}"


# ---------------------------------------------------------------- about the models


def calibration_sentence(cv: CrossValidation | None) -> str:
    """Whether a model's probabilities are calibrated, and how closely they match how often it is right."""
    if cv is None or cv.calibration is None:
        return (
            "Its probabilities are not calibrated: read them as which mood it favours and by how much, "
            "not as exact chances."
        )
    c = cv.calibration
    return (
        f"Its probabilities are calibrated (temperature scaling, T = {c.temperature:.2f}, fitted on training "
        f"songs only). In cross-validation the calibration error (ECE) went from {c.ece_before:.3f} to "
        f"{c.ece_after:.3f}: on average a stated probability is within {c.ece_after * 100:.0f} percentage "
        "points of how often such answers were right."
        + short_songs_sentence(c.short_clips)
        + familiarity_sentence(c.familiarity)
    )


def familiarity_sentence(familiarity: FamiliarityCalibration | None) -> str:
    """How a song unlike the training music gets less sure probabilities ("" when it does not)."""
    if familiarity is None:
        return ""
    return (
        " A song unlike the training music gets a softer answer still (a second temperature), the further it is "
        "from the training songs the softer; in cross-validation this moved the calibration error from "
        f"{familiarity.ece_before:.3f} to {familiarity.ece_after:.3f} on the songs themselves (most of them are "
        "like the training music: the change matters on music from elsewhere)."
    )


def short_songs_sentence(short: ShortClipCalibration | None) -> str:
    """How a short song's probabilities are calibrated ("" when they are not apart from long ones')."""
    if short is None:
        return ""
    return (
        f" A song shorter than {short.clip_length_s:.0f} s is judged from fewer moments, so its probabilities are "
        f"calibrated on {short.length_s:.0f} s excerpts of the training songs (T = {short.temperature:.2f} at "
        f"{short.length_s:.0f} s or less, moving towards the full songs' T as the song gets longer); on those "
        f"excerpts the calibration error went from {short.ece_clip_temperature:.3f} to {short.ece_after:.3f}."
    )


def pretrained_credit(model: str, pretrained: Pretrained) -> str:
    """The credit of a network built on pretrained weights: authors, work, licence and copyright."""
    citation = CITATIONS.get(pretrained.package)
    work = (
        f"{citation} (the `{pretrained.package}` package {pretrained.version})"
        if citation
        else (f"the `{pretrained.package}` package {pretrained.version}")
    )
    copyright_note = f" {pretrained.copyright}" if pretrained.copyright else ""
    return (
        f"**{display_name(model)}** starts from {pretrained.model}, pretrained on {pretrained.trained_on} by "
        f"{pretrained.authors}: {work}. {pretrained.licence} licence.{copyright_note}"
    )


def heard_sentence(heard: HeardMap) -> str:
    """Where the model heard it, in plain words, e.g. "mostly 60–250 Hz around 12 s"."""
    start_s, low_hz, high_hz = heard.strongest()
    if heard.importance.max() <= 0.0:
        return "No single part of the sound changed the answer much: the mood is spread over the whole clip."
    return (
        f"It relied most on the {_hz(low_hz)}–{_hz(high_hz)} range "
        f"around {start_s + heard.window_s / 2:.0f} s into the clip."
    )


def _hz(value: float) -> str:
    return f"{value / 1000:.1f} kHz" if value >= 1000 else f"{value:.0f} Hz"
