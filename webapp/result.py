"""The current song's result and the session's songs."""

from __future__ import annotations

import streamlit as st

from mood.constants import ENSEMBLE
from mood.presentation.charts import FONT_SIZE, PRESENTER_FONT_SIZE, heard_chart, mood_bars, mood_map, timeline_chart
from mood.presentation.model_card import confidence_record, display_name, transfer_record
from mood.presentation.report import (
    HEARD_HOW,
    SongResult,
    analysed_sentence,
    confidence_explanation,
    confidence_sentence,
    familiarity_note,
    heard_sentence,
    mood_label,
    percent,
    probability_frame,
    song_result,
    songs_csv,
    songs_frame,
    songs_json,
    truncation_note,
    waiting_sentence,
    why_markdown,
)
from mood.presentation.why_words import why_model_markdown
from mood.service.analysis import Analysis, Song
from mood.sources import Track
from webapp.cache import analysis_of, heard_of, load_predictor, preview_song, spectrogram_png
from webapp.state import (
    ARTWORK_PX,
    PERCENT_COLUMN,
    SONG_COLUMN_CONFIG,
    SONG_TABLE_COLUMNS,
    clear_songs,
    friendly_errors,
    md,
)


def current_result(model: str, presenting: bool) -> str | None:
    """Analyse and show the chosen song; returns its name, or None when there is none."""
    selection: Track | Song | None = st.session_state.get("selection")
    if selection is None:
        st.info("Pick a song above: search for one, upload a file, record, or try an example.", icon="👆")
        return None
    with friendly_errors():
        clip, analysis = analysed(selection, model)
        song = song_result(clip, analysis)
        st.session_state.songs[clip.key] = song
        show_result(clip, analysis, model, presenting)
        return song.song
    st.session_state.selection = None  # it failed: do not try again on every click
    return None


def analysed(selection: Track | Song, model: str) -> tuple[Song, Analysis]:
    """The song and its analysis, each step (and any wait for a turn) in a status line."""
    ahead: list[int] = []  # how many songs were ahead, each time that changed while waiting
    with st.status("Getting ready…", expanded=False) as status:

        def on_wait(songs_ahead: int) -> None:
            ahead.append(songs_ahead)
            status.update(label=f"{waiting_sentence(songs_ahead)}…")

        if isinstance(selection, Track):
            status.update(label=f"Fetching a 30 s preview of “{selection.label}”…")
            selection = preview_song(selection)
        status.update(label="Loading the model…")
        load_predictor(model)
        analysis = analysis_of(selection.data, model, lambda step: status.update(label=f"{step}…"), on_wait)
        status.update(label=analysed_sentence(selection.label, model, max(ahead, default=0)), state="complete")
    return selection, analysis


def show_result(clip: Song, analysis: Analysis, model: str, presenting: bool) -> None:
    """The song, its headline mood with confidence and why; bars, timeline, where it was heard, spectrogram.

    Presenter mode keeps the essentials, in large type: no per-network bars, spectrogram or table.
    """
    font_size = PRESENTER_FONT_SIZE if presenting else FONT_SIZE
    song_heading(clip)
    headline = analysis.headline
    st.markdown(f"## {mood_label(headline.mood)} — {percent(headline.probabilities[headline.mood])}")
    explanation = confidence_explanation(
        headline.confidence, confidence_record(headline.model), transfer_record(headline.model)
    )
    st.markdown(f"**{confidence_sentence(headline)}.** {explanation}")
    for note in (truncation_note(headline), familiarity_note(headline)):
        if note:
            st.caption(note)
    bars, why = (st.container(), st.container()) if presenting else st.columns([3, 2], gap="large")
    bars.altair_chart(mood_bars(headline, font_size), width="stretch", theme=None)
    with why.container(border=True):
        st.markdown("#### 💡 Why this mood?")
        if headline.why:  # a linear model's own reasons (the hybrid), before the descriptors it does not weigh
            st.markdown(why_model_markdown(headline.why, headline.mood))
        st.markdown(why_markdown(analysis.descriptors))
    if len(analysis.predictions) > 1 and not presenting:
        st.markdown("**How each of its models heard it** (the ensemble combines them):")
        members = analysis.predictions[1:]
        for column, prediction in zip(st.columns(len(members)), members, strict=True):
            column.altair_chart(mood_bars(prediction), width="stretch", theme=None)
    st.altair_chart(timeline_chart(headline, font_size), width="stretch", theme=None)
    if load_predictor(model).networks:  # a clip-level head alone has no windows to hide: its reasons are above
        where_heard(clip, analysis, model, font_size)
    if presenting:
        return
    st.image(
        spectrogram_png(clip.key, model, analysis),
        width="stretch",
        caption=f"The sound as the model sees it: the mel spectrogram, cut into {analysis.front_end.window_s:.0f} s "
        f"windows every {analysis.front_end.window_hop_s:.1f} s; the song's mood is the average of its windows.",
    )
    with st.expander("The exact numbers"):
        st.dataframe(
            probability_frame(analysis.predictions),
            column_config=dict.fromkeys([display_name(p.model) for p in analysis.predictions], PERCENT_COLUMN),
        )


def song_heading(clip: Song) -> None:
    """The song's artwork and title, its player, and who provided it."""
    if clip.artwork_url:
        art, title = st.columns([1, 11], vertical_alignment="center")
        art.image(clip.artwork_url, width=ARTWORK_PX)
    else:
        title = st.container()
    title.subheader(md(clip.label))
    st.audio(clip.data, format=clip.mime)
    notes = [
        f"[{clip.credit}]({clip.credit_url})" if clip.credit_url else clip.credit,
        clip.link_label and f"[{clip.link_label}]({clip.link})",
    ]
    st.caption(" · ".join(note for note in notes if note) or clip.origin)


def where_heard(clip: Song, analysis: Analysis, model: str, font_size: int) -> None:
    """On demand: which part of the sound (pitch range x moment) the answer rested on."""
    shown = st.toggle(
        "🔍 Show where in the sound the model heard it",
        key=f"heard-{clip.key[:16]}-{model}",
        help="Takes a few seconds: the model listens again with one part of the sound hidden at a time.",
    )
    if not shown:
        return
    with friendly_errors():
        with st.spinner("Listening again with parts of the sound hidden…"):
            heard = heard_of(clip.key, model, analysis)
        st.altair_chart(heard_chart(heard, font_size), width="stretch", theme=None)
        st.markdown(f"**{heard_sentence(heard)}**")
        probed = (
            f" For the ensemble, its first network ({display_name(heard.model)}) was asked."
            if model == ENSEMBLE
            else ""
        )
        st.caption(HEARD_HOW + probed)


def session_songs(current: str | None) -> None:
    """Every song analysed in this session: on the valence/arousal map, in a table, as downloads."""
    songs: dict[str, SongResult] = st.session_state.songs
    if not songs:
        return
    st.header("This session's songs")
    frame = songs_frame(songs.values())
    st.altair_chart(mood_map(frame, highlight=current), width="stretch", theme=None)
    st.dataframe(frame[SONG_TABLE_COLUMNS], hide_index=True, column_config=SONG_COLUMN_CONFIG)
    csv_button, json_button, clear_button = st.columns(3)
    csv_button.download_button("Download CSV", songs_csv(songs.values()), "mood-songs.csv", "text/csv", width="stretch")
    json_button.download_button(
        "Download JSON", songs_json(songs.values()), "mood-songs.json", "application/json", width="stretch"
    )
    clear_button.button("Clear the list", on_click=clear_songs, width="stretch")
