"""Matching a track to the same song on another service."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mood.sources.constants import DURATION_TOLERANCE_S
from mood.sources.matching import best_match, core_title
from mood.sources.records import Track

WANTED = Track(
    title="Get Lucky (feat. Pharrell Williams & Nile Rodgers) - Radio Edit",
    artists=("Daft Punk", "Pharrell Williams", "Nile Rodgers"),
    album="Get Lucky",
    artwork_url=None,
    isrc="USQX91300108",
    duration_s=248.4,
    link=None,
    provider="spotify",
    id="69kOkLUCkxIZYexIgSG8rq",
)


def _candidate(title: str, artist: str, duration_s: float | None) -> Track:
    return dataclasses.replace(
        WANTED, title=title, artists=(artist,), duration_s=duration_s, provider="deezer", id=title
    )


@pytest.mark.parametrize(
    ("title", "core"),
    [
        ("Get Lucky (feat. Pharrell Williams & Nile Rodgers) - Radio Edit", "Get Lucky"),
        ("Get Lucky [Radio Edit]", "Get Lucky"),
        ("Hey Jude - Remastered 2015", "Hey Jude"),
        ("Stay With Me feat. Mary J. Blige", "Stay With Me"),
        ("Love Story (Taylor’s Version)", "Love Story"),
        ("(Untitled)", "(Untitled)"),
        ("Anti-Hero", "Anti-Hero"),
    ],
)
def test_core_title_drops_version_decorations(title: str, core: str) -> None:
    assert core_title(title) == core


def test_the_closest_duration_wins_among_same_title_and_artist() -> None:
    candidates = [
        (_candidate("Get Lucky", "Cover Nation", 248.0), "cover"),
        (_candidate("Get Lucky (Radio Edit)", "Daft Punk", 255.0), "seven seconds off"),
        (_candidate("Get Lucky", "Daft Punk", 369.0), "album version"),
        (_candidate("GET LUCKY!", "Daft Punk", 248.0), "radio edit"),
    ]
    assert best_match(WANTED, candidates) == "radio edit"


def test_no_match_when_only_other_songs_or_other_lengths() -> None:
    candidates = [
        (_candidate("Get Lucky", "Cover Nation", 248.4), "cover"),
        (_candidate("Lose Yourself to Dance", "Daft Punk", 248.4), "other song"),
        (_candidate("Get Lucky", "Daft Punk", 248.4 + DURATION_TOLERANCE_S + 1), "other edit"),
    ]
    assert best_match(WANTED, candidates) is None
    assert best_match(WANTED, []) is None


def test_unknown_durations_are_accepted_after_known_close_ones() -> None:
    unknown = (_candidate("Get Lucky", "Daft Punk", None), "unknown")
    close = (_candidate("Get Lucky", "Daft Punk", 250.0), "close")
    assert best_match(WANTED, [unknown, close]) == "close"
    assert best_match(WANTED, [unknown]) == "unknown"


@pytest.mark.parametrize(
    ("wanted_artist", "listed_artist"),
    [
        ("Beyoncé", "Beyonce"),
        ("Simon & Garfunkel", "Simon and Garfunkel"),
        ("Daft Punk", "Daft Punk, Pharrell Williams & Nile Rodgers"),  # iTunes joins the artists
        ("AC/DC", "AC-DC"),
    ],
)
def test_artist_names_match_across_spellings(wanted_artist: str, listed_artist: str) -> None:
    wanted = dataclasses.replace(WANTED, title="Song", artists=(wanted_artist,))
    assert best_match(wanted, [(_candidate("Song", listed_artist, 248.4), "it")]) == "it"


def test_a_different_artist_sharing_a_word_does_not_match() -> None:
    wanted = dataclasses.replace(WANTED, title="Song", artists=("Punk",))
    assert best_match(wanted, [(_candidate("Song", "Punkadelic", 248.4), "it")]) is None


_NAME = st.text(
    alphabet=st.characters(categories=("L", "N")) | st.sampled_from(" '.!&"), min_size=1, max_size=30
).filter(lambda text: any(char.isalnum() for char in text))


@given(title=_NAME, artist=_NAME, offset_s=st.floats(-DURATION_TOLERANCE_S, DURATION_TOLERANCE_S))
def test_a_song_matches_its_own_listing_with_decorations(title: str, artist: str, offset_s: float) -> None:
    wanted = dataclasses.replace(WANTED, title=title, artists=(artist,), duration_s=200.0)
    listing = _candidate(f"{title} (feat. Someone) - Remastered 2011", f"{artist} & Friends", 200.0 + offset_s)
    assert best_match(wanted, [(listing, "it")]) == "it"
