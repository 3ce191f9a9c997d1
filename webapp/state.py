"""Session state of the app: what is chosen, what runs, and the small helpers every part uses."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from mood.constants import MOODS
from mood.errors import MoodError, SourceError
from mood.presentation.demo import demo_clip, demo_wav_bytes
from mood.presentation.presenter import PRESENT_PARAM
from mood.service.analysis import Song
from mood.service.playlist_run import PlaylistRun
from mood.sources import Track

log = logging.getLogger("mood.app")
ARTWORK_PX = 72
PERCENT_COLUMN = st.column_config.ProgressColumn(format="percent", min_value=0.0, max_value=1.0)
SONG_TABLE_COLUMNS = ["song", "source", "model", "mood", "confidence", *MOODS, "tempo_bpm", "key"]
SONG_COLUMN_CONFIG = {
    **dict.fromkeys(MOODS, PERCENT_COLUMN),
    "tempo_bpm": st.column_config.NumberColumn("BPM", format="%.0f"),
}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Show failures as messages the listener understands; the rest of the page keeps working."""
    try:
        yield
    except SourceError as error:
        st.warning(str(error), icon="📡")
    except MoodError as error:
        st.error(str(error), icon="⚠️")
    except Exception:
        log.exception("Unexpected error in the mood app")
        st.error("Sorry, something went wrong on our side. Please try again, or try another song.", icon="😵")


def md(text: str) -> str:
    """Text from outside (song titles, file names) made safe for Markdown."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def choose(selection: Track | Song) -> None:
    """Make ``selection`` the song to analyse (a callback)."""
    st.session_state.selection = selection


def choose_upload(key: str, title: str | None, origin: str) -> None:
    """Analyse a new upload or recording from widget ``key`` (a callback; a cleared widget changes nothing)."""
    uploaded = st.session_state[key]
    if uploaded is not None:
        mime = uploaded.type or "audio/wav"
        choose(Song(data=uploaded.getvalue(), title=title or uploaded.name, origin=origin, mime=mime))


def clear_songs() -> None:
    """Forget this session's songs and the current one (a callback)."""
    st.session_state.songs.clear()
    st.session_state.selection = None


def start_run(run: PlaylistRun) -> None:
    """Analyse the songs of ``run`` from now on (the page shows its progress under the inputs)."""
    st.session_state.playlist = run
    st.session_state.playlist_shared = 0  # outcomes already added to the session's songs


def start_picks(tracks: tuple[Track, ...], query: str, model: str) -> None:
    """Analyse the ticked search results together, then untick them (a callback)."""
    start_run(PlaylistRun(title=f"Your picks for “{query}”", tracks=tracks, model=model))
    for track in tracks:
        st.session_state[tick_key(track)] = False


def stop_run() -> None:
    """Stop the playlist being analysed after the current song (a callback)."""
    if run := st.session_state.get("playlist"):
        run.stopped = True


def close_run() -> None:
    """Put the finished playlist away; its songs stay in the session (a callback)."""
    st.session_state.playlist = None


def sync_present_param() -> None:
    """Keep ``?present=1`` in the address while presenter mode is on, so the link shares it (a callback)."""
    if st.session_state.present:
        st.query_params[PRESENT_PARAM] = "1"
    else:
        st.query_params.pop(PRESENT_PARAM, None)


def tick_key(track: Track) -> str:
    """The key of a search result's "pick" checkbox."""
    return f"tick-{track.provider}-{track.id}"


def choose_demo(key: str) -> None:
    """Analyse a synthesised demo clip (a callback)."""
    clip = demo_clip(key)
    choose(Song(data=demo_wav_bytes(key), title=clip.title, origin="Demo clip (synthesised)"))
