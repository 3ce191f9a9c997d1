"""Presenter mode and the two-song comparison, decided without Streamlit."""

from __future__ import annotations

import pytest

from mood.constants import MOODS
from mood.engine.inference import Prediction
from mood.presentation.presenter import (
    PRESENTER_CSS,
    PRESENTER_HEADLINE_PX,
    comparison_sentence,
    default_pair,
    presenting_from_query,
)
from mood.presentation.report import SongResult


def _song(name: str, happy: float, angry: float, sad: float, calm: float) -> SongResult:
    probabilities = dict(zip(MOODS, (happy, angry, sad, calm), strict=True))
    return SongResult(name, "Upload", (Prediction("ensemble", probabilities, 30.0, ()),))


@pytest.mark.parametrize(
    ("value", "on"), [("1", True), ("true", True), (" Yes ", True), ("0", False), ("", False), (None, False)]
)
def test_the_address_turns_presenter_mode_on(value: str | None, on: bool) -> None:
    assert presenting_from_query(value) is on


def test_presenter_css_enlarges_the_headline_and_text_in_the_page_only() -> None:
    assert PRESENTER_CSS.strip().startswith("<style>") and PRESENTER_CSS.strip().endswith("</style>")
    assert f"h2 {{ font-size: {PRESENTER_HEADLINE_PX}px" in PRESENTER_CSS
    assert "stSidebar" not in PRESENTER_CSS  # the sidebar's switch stays its usual size


def test_the_two_songs_analysed_last_are_compared_first() -> None:
    assert default_pair(["a", "b", "c"]) == ("b", "c")
    with pytest.raises(ValueError, match="two songs"):
        default_pair(["a"])


def test_the_comparison_says_which_song_is_more_pleasant_and_more_energetic() -> None:
    party = _song("Party", 0.8, 0.1, 0.05, 0.05)  # valence +0.7, arousal +0.8
    lament = _song("Lament", 0.05, 0.05, 0.8, 0.1)  # valence -0.7, arousal -0.8
    rage = _song("Rage", 0.05, 0.8, 0.1, 0.05)  # valence -0.8, arousal +0.7
    assert comparison_sentence(party, lament) == "“Party” sounds more pleasant and more energetic than “Lament”."
    assert comparison_sentence(lament, rage) == "“Lament” sounds calmer than “Rage”."
    assert comparison_sentence(rage, party) == "“Rage” sounds less pleasant than “Party”."
    near = _song("Party (live)", 0.75, 0.1, 0.1, 0.05)
    assert comparison_sentence(party, near) == "“Party” and “Party (live)” sit close together on the mood map."
