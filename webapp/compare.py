"""The Compare tab: two analysed songs side by side."""

from __future__ import annotations

from functools import partial

import streamlit as st

from mood.engine.inference import Prediction
from mood.presentation.charts import FONT_SIZE, PRESENTER_FONT_SIZE, mood_bars, mood_map, timeline_chart
from mood.presentation.descriptor_words import describe_in_words
from mood.presentation.presenter import comparison_sentence, default_pair
from mood.presentation.report import SongResult, mood_label, percent, songs_frame
from webapp.state import md


def compare_tab(presenting: bool) -> None:
    """Two songs of the session side by side: their bars, timelines and places on the mood map."""
    songs: dict[str, SongResult] = st.session_state.songs
    if len(songs) < 2:
        st.info(
            "Analyse two songs or more (search, playlist, upload, record or an example): "
            "then pick any two here to see them side by side.",
            icon="⚖️",
        )
        return
    keys = list(songs)
    first, second = default_pair(keys)
    left_pick, right_pick = st.columns(2)
    name = partial(_song_name, songs)
    left = left_pick.selectbox("First song", keys, index=keys.index(first), format_func=name, key="compare-left")
    right = right_pick.selectbox("Second song", keys, index=keys.index(second), format_func=name, key="compare-right")
    if left == right:
        st.info("Pick two different songs.", icon="⚖️")
        return
    font_size = PRESENTER_FONT_SIZE if presenting else FONT_SIZE
    st.markdown(f"**{md(comparison_sentence(songs[left], songs[right]))}**")
    for column, key in zip(st.columns(2, gap="large"), (left, right), strict=True):
        with column:
            compared_song(songs[key], font_size)
    pair = songs_frame([songs[left], songs[right]])
    st.altair_chart(mood_map(pair, highlight=pair["song"].tolist(), font_size=font_size), width="stretch", theme=None)


def _song_name(songs: dict[str, SongResult], key: str) -> str:
    return f"{songs[key].song} ({songs[key].source})"


def compared_song(result: SongResult, font_size: int) -> None:
    """One side of the comparison: name, headline, what it sounds like, bars and timeline."""
    prediction: Prediction = result.prediction
    st.subheader(md(result.song))
    st.markdown(f"### {mood_label(prediction.mood)} — {percent(prediction.probabilities[prediction.mood])}")
    if result.descriptors:
        st.caption(" · ".join(describe_in_words(result.descriptors)))
    st.altair_chart(mood_bars(prediction, font_size), width="stretch", theme=None)
    timeline = timeline_chart(prediction, font_size, title="Mood over time", legend_columns=2)
    st.altair_chart(timeline, width="stretch", theme=None)
