"""The app's cached heavy work: models, searches, previews and analyses, kept across reruns."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import streamlit as st

from mood.engine.inference import Predictor
from mood.presentation.charts import figure_png, spectrogram_figure
from mood.service.analysis import Analysis, Song, analyse, heard_map, song_from_preview
from mood.service.explain import HeardMap
from mood.service.queue import AnalysisQueue
from mood.sources import (
    Collection,
    CollectionLink,
    SearchResults,
    SpotifyCredentials,
    Track,
    credentials_from,
    fetch_collection,
    fetch_preview,
    search_tracks,
)
from mood.sources.pacing import Pacer

SEARCH_TTL_S = 600  # seconds a search result is reused
CACHED_SONGS = 32  # previews and analyses kept in memory


@st.cache_resource(show_spinner="Loading the model (first time only)…")
def load_predictor(model: str) -> Predictor:
    """The model, loaded once per server process."""
    return Predictor(model)


@st.cache_resource
def analysis_queue() -> AnalysisQueue:
    """One queue for the whole server: a few analyses run at once, the others wait in arrival order."""
    return AnalysisQueue()


@st.cache_resource
def preview_pacer() -> Pacer:
    """One pacer for the whole server: preview fetches are spaced out to respect Deezer's rate limit."""
    return Pacer()


@st.cache_data(ttl=SEARCH_TTL_S, show_spinner=False)
def cached_search(query: str, service: str, _credentials: SpotifyCredentials | None) -> SearchResults:
    """A song search; ``service`` keys the cache instead of the secret."""
    return search_tracks(query, _credentials)


def search(query: str, credentials: SpotifyCredentials | None) -> SearchResults:
    """Search Spotify with keys, Deezer without (cached for ``SEARCH_TTL_S``)."""
    return cached_search(query, "spotify" if credentials else "deezer", credentials)


@st.cache_data(ttl=SEARCH_TTL_S, show_spinner=False)
def cached_collection(link: CollectionLink, _credentials: SpotifyCredentials | None) -> Collection:
    """The songs of a playlist or album (cached for ``SEARCH_TTL_S``)."""
    return fetch_collection(link, _credentials)


@st.cache_data(max_entries=CACHED_SONGS, show_spinner=False)
def preview_song(track: Track) -> Song:
    """A track's 30 s preview, downloaded once per track (paced like a playlist's)."""
    preview_pacer().wait()
    return song_from_preview(fetch_preview(track))


@st.cache_data(max_entries=CACHED_SONGS, show_spinner=False)
def analysis_of(data: bytes, model: str, _on_step: Callable[[str], None], _on_wait: Callable[[int], None]) -> Analysis:
    """The analysis of identical bytes with one model, computed once, in its turn in the queue."""
    with analysis_queue().turn(on_wait=_on_wait):
        return analyse(data, load_predictor(model), _on_step)


@st.cache_data(max_entries=CACHED_SONGS, show_spinner=False)
def heard_of(clip_key: str, model: str, _analysis: Analysis) -> HeardMap:
    """Where the model heard the answer (the occlusion map, ~1 s), computed once per song and model."""
    with analysis_queue().turn():
        return heard_map(_analysis, load_predictor(model))


@st.cache_data(max_entries=CACHED_SONGS, show_spinner=False)
def spectrogram_png(clip_key: str, model: str, _analysis: Analysis) -> bytes:
    """The spectrogram figure of an analysis, rendered once."""
    return figure_png(spectrogram_figure(_analysis.spectrogram, _analysis.headline.timeline))


def spotify_credentials() -> SpotifyCredentials | None:
    """Spotify keys from Streamlit secrets or the environment; None without any (search Deezer)."""
    try:
        secrets: dict[str, Any] | None = st.secrets.to_dict()
    except FileNotFoundError:  # no secrets.toml (or an unreadable one): the environment may still have keys
        secrets = None
    return credentials_from(os.environ, secrets)
