"""Decide which candidate from a preview service is the same song as a track."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import TypeVar

from mood.sources.constants import DURATION_TOLERANCE_S
from mood.sources.records import Track

T = TypeVar("T")

_BRACKETED = re.compile(r"\s*[(\[][^)\]]*[)\]]")  # "(feat. X)", "[Live]", "(2011 Remaster)"
_DASH_SUFFIX = re.compile(r"\s+[-–—]\s+.*$")  # " - Remastered 2011", " - Radio Edit"
_FEATURING = re.compile(r"\s+(?:feat\.?|ft\.?|featuring)\s+.*$", re.IGNORECASE)
_NOT_WORD = re.compile(r"[\W_]+")


def core_title(title: str) -> str:
    """The title without version decorations: "Get Lucky (feat. X) - Radio Edit" → "Get Lucky".

    Args:
        title: a song title as a service spells it.

    Returns:
        The title's core, or the whole title stripped if nothing would be left.
    """
    core = _FEATURING.sub("", _DASH_SUFFIX.sub("", _BRACKETED.sub("", title))).strip()
    return core or title.strip()


def best_match(wanted: Track, candidates: Iterable[tuple[Track, T]]) -> T | None:
    """The value of the candidate that is the same song as ``wanted``.

    A candidate matches when its core title equals the wanted one and an artist appears in
    both (after normalising case, accents and punctuation), and its duration lies within
    ``DURATION_TOLERANCE_S``. Of the matches, the closest in duration wins; ties (and
    unknown durations) keep the service's order.

    Args:
        wanted: the track to find.
        candidates: (track as the service describes it, value to return) pairs, best first.

    Returns:
        The best match's value, or None when no candidate matches.
    """
    matches = [
        (gap, value)
        for candidate, value in candidates
        if _same_title_and_artist(wanted, candidate)
        and (gap := _duration_gap(wanted, candidate)) <= DURATION_TOLERANCE_S
    ]
    return min(matches, key=lambda match: match[0])[1] if matches else None


def _same_title_and_artist(wanted: Track, candidate: Track) -> bool:
    if _normalise(core_title(wanted.title)) != _normalise(core_title(candidate.title)):
        return False
    return _artist_within(wanted.artists, candidate.artists) or _artist_within(candidate.artists, wanted.artists)


def _artist_within(names: tuple[str, ...], others: tuple[str, ...]) -> bool:
    """Whether one of ``names`` appears as whole words among ``others`` ("Daft Punk" in "Daft Punk & X")."""
    haystack = f" {_normalise(' '.join(others))} "
    return any(f" {name} " in haystack for name in map(_normalise, names) if name)


def _duration_gap(wanted: Track, candidate: Track) -> float:
    if wanted.duration_s is None or candidate.duration_s is None:
        return DURATION_TOLERANCE_S  # acceptable, but after any candidate known to be close
    return abs(wanted.duration_s - candidate.duration_s)


def _normalise(text: str) -> str:
    """Lower case, no accents, "&" as "and", punctuation as single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.replace("&", " and "))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_WORD.sub(" ", bare.casefold()).strip()
