"""The model's own reasons in plain words: a linear head's terms (:class:`mood.engine.hybrid.WhyTerm`).

Unlike the descriptors' hints (:mod:`mood.presentation.descriptor_words`), these are what the
hybrid model itself weighed: each musical feature's standardised value times how much more
its coefficient favours the answered mood than the others. :func:`feature_words` names a
feature as it stood in this song ("the minor key", "the slow tempo"); :func:`why_sentence`
says which pulled the answer towards its mood and which away ("the minor key and the quiet
peaks pulled it towards sad").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

from mood.engine.hybrid import MUSICNN_GROUP, WhyTerm

MUSICNN_WORDS: Final = "musicnn's tags and embedding (the sound as a whole)"
WHY_MODEL_CAVEAT: Final = (
    "These are the model's own reasons: the hybrid model is a linear head, so each feature's push is "
    "its value in this song times the weight the model learnt for this mood against the others."
)
DEGREES: Final = {
    "1": "tonic",
    "b2": "minor second",
    "2": "second",
    "b3": "minor third",
    "3": "major third",
    "4": "fourth",
    "#4": "tritone",
    "5": "fifth",
    "b6": "minor sixth",
    "6": "major sixth",
    "b7": "minor seventh",
    "7": "major seventh",
}
# Exact feature names -> (words when its value is above the training clips' middle, words when below).
FEATURE_WORDS: Final[dict[str, tuple[str, str]]] = {
    "mode_major_minor": ("the major key", "the minor key"),
    "mode_over_time_mean": ("the major harmony throughout", "the minor harmony throughout"),
    "major_share_over_time": ("the mostly major passages", "the mostly minor passages"),
    "mode_over_time_spread": ("the harmony turning between major and minor", "the steady major or minor colour"),
    "key_clarity": ("the clear sense of key", "the vague sense of key"),
    "key_clarity_over_time": ("the clear key in each passage", "the vague key in each passage"),
    "key_margin": ("the unambiguous key", "the ambiguous key"),
    "chroma_entropy": ("the harmony spread over many notes", "the harmony on few notes"),
    "harmonic_change": ("the quickly changing harmony", "the slowly changing harmony"),
    "tempo_bpm": ("the fast tempo", "the slow tempo"),
    "beat_strength": ("the strong beat", "the weak beat"),
    "onset_strength_mean": ("the strong attacks", "the soft attacks"),
    "onset_rate_per_s": ("the many notes per second", "the few notes per second"),
    "onset_interval_cv": ("the irregular note timing", "the regular note timing"),
    "pulse_clarity": ("the clear pulse", "the vague pulse"),
    "rms_p10": ("the loud soft passages", "the very quiet soft passages"),
    "rms_p50": ("the loud level", "the quiet level"),
    "rms_p90": ("the loud peaks", "the quiet peaks"),
    "dynamic_range_db": ("the wide dynamics", "the narrow dynamics"),
    "rms_spread_db": ("the uneven loudness", "the even loudness"),
    "crescendo_db_per_s": ("the growing loudness", "the fading loudness"),
    "level_change_db": ("the sudden changes of loudness", "the smooth loudness"),
    "mfcc_00_mean": ("the full spectrum", "the thin spectrum"),
    "spectral_flatness_mean": ("the noisy sound", "the tonal sound"),
    "spectral_flatness_spread": ("the changing noisiness", "the steady noisiness"),
    "spectral_rolloff_hz_mean": ("the bright sound", "the dark sound"),
    "spectral_rolloff_hz_spread": ("the changing brightness", "the steady brightness"),
    "spectral_centroid_hz_mean": ("the bright timbre", "the dark timbre"),
    "spectral_centroid_hz_spread": ("the changing timbre", "the steady timbre"),
}
TONNETZ_CIRCLES: Final = {"fifths": "fifths", "minor_thirds": "minor thirds", "major_thirds": "major thirds"}
# Families of names -> a function of the name's match giving (above, below).
PATTERNS: Final[tuple[tuple[str, Callable[[re.Match[str]], tuple[str, str]]], ...]] = (
    (r"(chroma|cens)_(.+)_mean", lambda m: (f"much of the {DEGREES[m[2]]}", f"little of the {DEGREES[m[2]]}")),
    (
        r"(chroma|cens)_(.+)_spread",
        lambda m: (f"the {DEGREES[m[2]]} coming and going", f"the steady {DEGREES[m[2]]}"),
    ),
    (
        r"tonnetz_(.+)_centre",
        lambda m: (f"the steady tonal centre (in {TONNETZ_CIRCLES[m[1]]})", "the wandering tonal centre"),
    ),
    (
        r"tonnetz_(.+)_spread",
        lambda m: (f"the restless harmony (in {TONNETZ_CIRCLES[m[1]]})", "the settled harmony"),
    ),
    (r"tempogram_(.+)", lambda m: (f"the strong {m[1].replace('_', ' ')}-note pulse", f"the weak {m[1]}-note pulse")),
    (r"mfcc_(\d+)_mean", lambda m: (f"a timbre high in MFCC {int(m[1])}", f"a timbre low in MFCC {int(m[1])}")),
    (r"mfcc_(\d+)_spread", lambda m: (f"the changing MFCC {int(m[1])}", f"the steady MFCC {int(m[1])}")),
    (
        r"contrast_band(\d)_mean",
        lambda m: (f"the sharp spectral peaks in band {m[1]}", f"the flat spectrum in band {m[1]}"),
    ),
    (
        r"contrast_band(\d)_spread",
        lambda m: (f"the changing spectral contrast in band {m[1]}", f"the steady spectral contrast in band {m[1]}"),
    ),
)


def feature_words(feature: str, standardised: float) -> str:
    """A musical feature as it stood in this song, e.g. ``("mode_major_minor", -1.2)`` -> "the minor key".

    ``standardised`` is the value as the model read it (above 0: above the training clips' middle).
    A name of no known family is said as it is, with "high" or "low".
    """
    above, below = _words(feature)
    return above if standardised >= 0 else below


def _words(feature: str) -> tuple[str, str]:
    if feature in FEATURE_WORDS:
        return FEATURE_WORDS[feature]
    for pattern, words in PATTERNS:
        if match := re.fullmatch(pattern, feature):
            return words(match)
    spoken = feature.replace("_", " ")
    return f"a high {spoken}", f"a low {spoken}"


def _joined(phrases: Sequence[str]) -> str:
    """``["a", "b", "c"]`` -> "a, b and c"."""
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def why_sentence(why: Sequence[WhyTerm], mood: str) -> str:
    """The musical features that pulled the answer towards ``mood`` and away from it, in one sentence.

    E.g. "The minor key and the quiet peaks pulled it towards sad; the fast tempo pulled it away."
    """
    musical = [r for r in why if r.feature != MUSICNN_GROUP and r.standardised is not None]
    towards = [feature_words(r.feature, r.standardised or 0.0) for r in musical if r.term > 0]
    away = [feature_words(r.feature, r.standardised or 0.0) for r in musical if r.term < 0]
    parts = []
    if towards:
        parts.append(f"{_joined(towards)} pulled it towards {mood}")
    if away:
        parts.append(f"{_joined(away)} pulled it away" if towards else f"{_joined(away)} pulled it away from {mood}")
    if not parts:
        return f"No musical feature stood out for or against {mood}."
    sentence = "; ".join(parts) + "."
    return sentence[0].upper() + sentence[1:]


def musicnn_sentence(why: Sequence[WhyTerm], mood: str) -> str | None:
    """What musicnn's statistics, taken together, did for ``mood`` (None when the list has no such term)."""
    term = next((r.term for r in why if r.feature == MUSICNN_GROUP), None)
    if term is None:
        return None
    return f"Taken together, {MUSICNN_WORDS} pulled it {'towards' if term >= 0 else 'away from'} {mood}."


def why_model_markdown(why: Sequence[WhyTerm], mood: str) -> str:
    """The model's own reasons as Markdown: the musical features' sentence, musicnn's, and the caveat."""
    lines = [f"**The model's own reasons:** {why_sentence(why, mood)}"]
    if musicnn := musicnn_sentence(why, mood):
        lines.append(musicnn)
    return " ".join(lines) + f"\n\n*{WHY_MODEL_CAVEAT}*"
