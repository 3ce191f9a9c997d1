"""Why this mood? A song's musical descriptors (:mod:`mood.engine.descriptors`) in plain words.

:func:`describe_in_words` says them in short phrases; :func:`mood_hints` says how such music
usually relates to the four moods.
The hints follow well-known music-psychology associations (Gabrielsson & Lindström 2010;
Juslin & Laukka 2004): a fast tempo, loudness, many attacks, percussion and a bright timbre
go with energetic moods (arousal), the major or minor mode with pleasant or unpleasant ones
(valence). They are tendencies across many songs, never verdicts on one, and the models do
not read them.

Calibration, on clips of the 4Q training set: the word thresholds sit between the middle
and the tails of 80 clips (20 per mood). On 200 others, which also guided the choice of
rules, the energy hints matched the clip's quadrant pair about 90% of the time and those
naming one mood about half the time (a quarter by chance): librosa's tempo and key
estimates of real recordings are rough, so the hints lead with energy, percussion and timbre.
"""

from __future__ import annotations

from typing import Final, Literal

from mood.engine.descriptors import Descriptors

Cue = Literal[
    "fast",
    "slow",
    "major",
    "minor",
    "loud",
    "quiet",
    "energetic",
    "gentle",
    "bright",
    "dark",
    "percussive",
    "sustained",
]  # what stands out in a song (see ``_cues``)

# Words: where a descriptor becomes worth saying.
FAST_BPM: Final = 130.0  # BPM and above: "Fast"
SLOW_BPM: Final = 90.0  # BPM and below: "Slow"
KEY_CLEAR_MARGIN: Final = 0.1  # key_confidence from which the key is stated and its mode used in hints
LOUD_DBFS: Final = -12.0  # RMS dBFS and above: "Loud" (a loud modern master is about -8)
QUIET_DBFS: Final = -20.0  # RMS dBFS and below: "Quiet"
ENERGETIC: Final = 0.6  # energy and above: "High energy"
GENTLE: Final = 0.35  # energy and below: "Low energy"
BRIGHT_HZ: Final = 2500.0  # spectral centroid in Hz and above: "Bright"
DARK_HZ: Final = 1500.0  # spectral centroid in Hz and below: "Dark"
PERCUSSIVE: Final = 0.35  # percussive share of the energy and above: "Strongly percussive"
SUSTAINED: Final = 0.15  # percussive share and below: "Mostly sustained"
CUE_WORDS: Final[dict[Cue, str]] = {
    "fast": "Fast",
    "slow": "Slow",
    "loud": "Loud",
    "quiet": "Quiet",
    "energetic": "High energy",
    "gentle": "Low energy",
    "bright": "Bright",
    "dark": "Dark",
    "percussive": "Strongly percussive",
    "sustained": "Mostly sustained",
}

# How descriptors usually relate to the moods: (cues a song must show, what they are, what
# they lean towards), surest first. Energy, percussiveness and brightness tell energetic from
# low-energy music far better than the estimated tempo and mode, which add the valence.
ENERGETIC_MOODS: Final = "typical of energetic moods (happy or angry)"
LOW_ENERGY_MOODS: Final = "typical of low-energy moods (sad or calm)"
SAD_SONGS: Final = "typical of sad songs"
HAPPY_SONGS: Final = "typical of happy songs"
TENSE_SONGS: Final = "often heard in tense or angry songs"
TENDER_SONGS: Final = "often heard in calm, tender songs"
MOOD_HINTS: Final[tuple[tuple[frozenset[Cue], str, str], ...]] = (
    (frozenset({"fast", "loud", "percussive"}), "Fast, loud and percussive", ENERGETIC_MOODS),
    (frozenset({"energetic", "percussive"}), "Busy and percussive", ENERGETIC_MOODS),
    (frozenset({"loud", "bright"}), "Loud and bright", ENERGETIC_MOODS),
    (frozenset({"gentle", "sustained"}), "Gentle and sustained", LOW_ENERGY_MOODS),
    (frozenset({"gentle", "dark"}), "Gentle and dark", LOW_ENERGY_MOODS),
    (frozenset({"slow", "quiet"}), "Slow and quiet", LOW_ENERGY_MOODS),
    (frozenset({"slow", "minor"}), "Slow and in a minor key", SAD_SONGS),
    (frozenset({"gentle", "minor"}), "Gentle and in a minor key", SAD_SONGS),
    (frozenset({"energetic", "major"}), "Lively and in a major key", HAPPY_SONGS),
    (frozenset({"major", "bright"}), "Major key and a bright sound", HAPPY_SONGS),
    (frozenset({"energetic", "minor"}), "Lively and in a minor key", TENSE_SONGS),
    (frozenset({"gentle", "major"}), "Gentle and in a major key", TENDER_SONGS),
)
MAX_MOOD_HINTS: Final = 3


def describe_in_words(d: Descriptors) -> list[str]:
    """Short phrases for the descriptors, e.g. ``["Fast (150 BPM)", "In A minor", "Loud", ...]``.

    One phrase per descriptor, in the order of :class:`Descriptors`; an unclear key is said to be one.
    """
    cues = _cues(d)
    key = f"In {d.key} {d.mode}" if d.mode in cues else f"No clear key (closest: {d.key} {d.mode})"
    return [
        f"{_word(cues, 'fast', 'slow', 'Moderate tempo')} ({d.tempo_bpm:.0f} BPM)",
        key,
        _word(cues, "loud", "quiet", "Moderately loud"),
        _word(cues, "energetic", "gentle", "Moderate energy"),
        _word(cues, "bright", "dark", "Neither bright nor dark"),
        _word(cues, "percussive", "sustained", "Some percussion"),
    ]


def _word(cues: frozenset[Cue], high: Cue, low: Cue, middle: str) -> str:
    """Where a descriptor stands, in a word: its high cue's, its low cue's, or ``middle``."""
    return CUE_WORDS[high] if high in cues else CUE_WORDS[low] if low in cues else middle


def mood_hints(d: Descriptors) -> list[str]:
    """How the song's descriptors usually relate to the moods: at most ``MAX_MOOD_HINTS`` tendencies.

    Returns:
        Sentences such as "Slow and in a minor key: typical of sad songs", surest first,
        each leaning towards a different mood (or pair of moods); empty when nothing stands out.
    """
    cues = _cues(d)
    hints: dict[str, str] = {}  # leaning -> the first hint that gives it
    for needed, what, leaning in MOOD_HINTS:
        if needed <= cues and leaning not in hints:
            hints[leaning] = f"{what}: {leaning}"
    return list(hints.values())[:MAX_MOOD_HINTS]


def _cues(d: Descriptors) -> frozenset[Cue]:
    """The descriptors that stand out, by the word thresholds (the mode only for a clear key)."""
    cues: set[Cue] = set()
    if d.key_confidence >= KEY_CLEAR_MARGIN:
        cues.add(d.mode)
    thresholds: tuple[tuple[float, float, float, Cue, Cue], ...] = (
        (d.tempo_bpm, FAST_BPM, SLOW_BPM, "fast", "slow"),
        (d.loudness_dbfs, LOUD_DBFS, QUIET_DBFS, "loud", "quiet"),
        (d.energy, ENERGETIC, GENTLE, "energetic", "gentle"),
        (d.brightness_hz, BRIGHT_HZ, DARK_HZ, "bright", "dark"),
        (d.percussiveness, PERCUSSIVE, SUSTAINED, "percussive", "sustained"),
    )
    for value, high, low, high_cue, low_cue in thresholds:
        if value >= high:
            cues.add(high_cue)
        elif value <= low:
            cues.add(low_cue)
    return frozenset(cues)
