"""A playlist or a set of picks, analysed song by song while the page stays live."""

from __future__ import annotations

from functools import partial

import streamlit as st

from mood.constants import MOODS
from mood.presentation.charts import FONT_SIZE, PRESENTER_FONT_SIZE, mood_map
from mood.presentation.playlist_report import failures_frame, progress_text, results_of, summary
from mood.presentation.report import songs_csv, songs_frame, waiting_sentence
from mood.service.playlist_run import PlaylistRun, outcome_of_track, run_playlist
from mood.sources import Track
from webapp.cache import analysis_queue, load_predictor, preview_pacer
from webapp.state import SONG_COLUMN_CONFIG, close_run, friendly_errors, md, stop_run


def playlist_header() -> None:
    """The playlist's title, notice and its Stop (or Close) button. Outside the fragment on purpose:
    their clicks rerun the whole page, which interrupts the loop at once (a click inside a fragment
    would wait for the loop to end)."""
    run: PlaylistRun | None = st.session_state.get("playlist")
    if run is None:
        return
    title, action = st.columns([5, 1], vertical_alignment="center")
    title.subheader(f"🎶 {md(run.title)}")
    if run.finished:
        action.button("Close this list", key="close-playlist", on_click=close_run, width="stretch")
    else:
        action.button(
            "⏹ Stop",
            key="stop-playlist",
            on_click=stop_run,
            width="stretch",
            help="Stop after the song under way; the songs done so far stay.",
        )
    if run.notice:
        st.caption(run.notice)


@st.fragment
def playlist_section(presenting: bool) -> None:
    """The playlist being analysed (a progress bar: k of n and the song's name) or analysed
    (its summary, mood map, sortable table, CSV, and what could not be analysed).

    Worked through last in the script, so the rest of the page is already there. The loop
    records each song as it finishes; a click elsewhere reruns the page, which stops the loop
    there, and the next run carries on from the next song.
    """
    run: PlaylistRun | None = st.session_state.get("playlist")
    if run is None:
        return
    if not run.finished:
        before = run.done
        continue_run(run)
        if run.done > before:
            share_run_songs(run)
            st.rerun()  # the header, the session's songs and the comparison now include them
    share_run_songs(run)
    show_run(run, PRESENTER_FONT_SIZE if presenting else FONT_SIZE)


def continue_run(run: PlaylistRun) -> None:
    """Work through the run's remaining songs, with a progress bar naming each."""
    total = len(run.tracks)
    bar = st.progress(run.done / total, text=f"{run.done} of {total} songs analysed")
    queue = analysis_queue()

    def on_progress(done: int, total: int, track: Track) -> None:
        share_run_songs(run)
        bar.progress(done / total, text=progress_text(done, total, track))

    def on_wait(ahead: int) -> None:
        bar.progress(run.done / total, text=waiting_sentence(ahead))

    run.stopped = True  # unless the loop gets going: a failure must not be retried on every rerun
    with friendly_errors():
        predictor = load_predictor(run.model)
        run.stopped = False
        turn = partial(queue.turn, on_wait=on_wait)
        run_playlist(run, partial(outcome_of_track, predictor=predictor, pacer=preview_pacer(), turn=turn), on_progress)
    bar.empty()


def share_run_songs(run: PlaylistRun) -> None:
    """Add the run's newly analysed songs to the session's songs (once each, so "Clear the list" holds)."""
    shared = st.session_state.get("playlist_shared", 0)
    for outcome in run.outcomes[shared:]:
        if outcome.result is not None and outcome.key is not None:
            st.session_state.songs[outcome.key] = outcome.result
    st.session_state.playlist_shared = run.done


def show_run(run: PlaylistRun, font_size: int) -> None:
    """A finished run: its summary, mood map, sortable table, CSV, and the songs that could not be analysed."""
    st.markdown(summary(run))
    results = results_of(run.outcomes)
    if results:
        frame = songs_frame(results)
        st.altair_chart(mood_map(frame, font_size=font_size), width="stretch", theme=None)
        st.dataframe(
            frame[["song", "mood", "confidence", *MOODS, "tempo_bpm", "key", "valence", "arousal"]],
            hide_index=True,
            column_config=SONG_COLUMN_CONFIG,
            key="playlist-table",
        )
        st.download_button("Download this list as CSV", songs_csv(results), "mood-playlist.csv", "text/csv")
    failed = failures_frame(run.outcomes)
    if not failed.empty:
        st.markdown("**Not analysed:**")
        st.dataframe(failed, hide_index=True, key="playlist-failures")
