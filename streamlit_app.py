"""mood — what mood does a song carry? The web app: widgets, caching and layout only.

Run with ``streamlit run streamlit_app.py``. Audio, models, words and charts live in ``mood/``;
the app's parts in ``webapp/``. The Library tab opens a results file of ``mood analyze --out``
on the server when given one: ``streamlit run streamlit_app.py -- --library results.parquet``,
or the environment variable ``MOOD_LIBRARY`` (the flag wins).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import streamlit as st

from mood.presentation.model_card import display_name, installed_models
from mood.presentation.presenter import PRESENT_PARAM, PRESENTER_CSS, presenting_from_query
from webapp.about import about_tab
from webapp.cache import spotify_credentials
from webapp.compare import compare_tab
from webapp.inputs import input_tabs
from webapp.library_tab import library_tab
from webapp.playlist_run import playlist_header, playlist_section
from webapp.result import current_result, session_songs
from webapp.state import sync_present_param

LIBRARY_ENV = "MOOD_LIBRARY"


def server_library() -> Path | None:
    """The results file the Library tab opens: ``-- --library PATH``, else ``$MOOD_LIBRARY``, else None."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--library", type=Path)
    given: Path | None = parser.parse_known_args(sys.argv[1:])[0].library
    return given or (Path(os.environ[LIBRARY_ENV]) if os.environ.get(LIBRARY_ENV) else None)


def presenter_toggle() -> bool:
    """The sidebar's presenter-mode switch, on from the start for a ``?present=1`` link."""
    if "present" not in st.session_state:
        st.session_state.present = presenting_from_query(st.query_params.get(PRESENT_PARAM))
    st.sidebar.toggle(
        "🖥️ Presenter mode",
        key="present",
        on_change=sync_present_param,
        help="Large type and bars that read from the back of a room, one song at a time. "
        "Share it with ?present=1 in the address.",
    )
    return bool(st.session_state.present)


def main() -> None:
    """The page: model choice, input tabs, a playlist's progress, the current result and the session's
    songs; comparing two songs, a library's results and About in their own tabs. A playlist is worked through last, so
    everything else is on the page while it runs."""
    st.set_page_config(page_title="mood — what mood does a song carry?", page_icon="🎵", layout="wide")
    st.session_state.setdefault("songs", {})
    presenting = presenter_toggle()
    if presenting:
        st.html(PRESENTER_CSS)
    st.title("🎵 mood")
    st.markdown("**What mood does a song carry?** Happy, angry / tense, sad or calm, judged by neural networks.")
    analyse_page, compare_page, library_page, about_page = st.tabs(
        ["🎧 Analyse a song", "⚖️ Compare two songs", "📚 Library", "📖 About the models"]
    )
    with about_page:
        about_tab()
    with library_page:
        library_tab(server_library())
    with analyse_page:
        installed = installed_models()
        if not installed:
            st.error("No trained models are installed yet, so songs cannot be analysed. Try again later.")
            return
        model = st.sidebar.radio(
            "Which model listens?",
            installed,
            format_func=display_name,
            key="model",
            help="Networks trained on the same songs; the ensemble combines them and shows each one beside it.",
        )
        input_tabs(spotify_credentials(), model)
        playlist_slot = st.container()
        st.divider()
        current = current_result(model, presenting)
        if not presenting:  # one song at a time
            session_songs(current)
    with compare_page:
        compare_tab(presenting)
    with playlist_slot:
        playlist_header()
        playlist_section(presenting)


main()
