"""mood — what mood does a song carry? The web app: widgets, caching and layout only.

Run with ``streamlit run streamlit_app.py``. Audio, models, words and charts live in ``mood/``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import streamlit as st

from mood.constants import ENSEMBLE, MAX_DURATION_S, MOODS, SAMPLE_RATE
from mood.engine.audio import AUDIO_EXTENSIONS
from mood.engine.inference import CLEAR_MARGIN, LEANING_MARGIN, Prediction, Predictor
from mood.engine.manifest import NetworkManifest
from mood.engine.queue import AnalysisQueue
from mood.errors import MoodError, SourceError
from mood.presentation.analysis import Analysis, Song, analyse, heard_map, song_from_preview
from mood.presentation.charts import (
    FONT_SIZE,
    PRESENTER_FONT_SIZE,
    confusion_chart,
    figure_png,
    heard_chart,
    mood_bars,
    mood_map,
    spectrogram_figure,
    timeline_chart,
)
from mood.presentation.demo import DEMO_CLIPS, EXAMPLE_SONGS, demo_clip, demo_wav_bytes
from mood.presentation.descriptors import describe_in_words
from mood.presentation.explain import HeardMap, heard_sentence
from mood.presentation.model_card import (
    ModelCard,
    confidence_record,
    display_name,
    installed_models,
    model_cards,
    overview_frame,
    per_class_frame,
)
from mood.presentation.playlist import (
    MAX_PLAYLIST_TRACKS,
    Pacer,
    PlaylistRun,
    analyse_track,
    failures_frame,
    progress_text,
    results_of,
    run_playlist,
    summary,
)
from mood.presentation.presenter import (
    PRESENT_PARAM,
    PRESENTER_CSS,
    comparison_sentence,
    default_pair,
    presenting_from_query,
)
from mood.presentation.report import (
    DATASET_CREDIT,
    HEARD_HOW,
    MOOD_EMOJI,
    MOOD_MEANINGS,
    SongResult,
    analysed_sentence,
    calibration_sentence,
    confidence_explanation,
    confidence_sentence,
    mood_label,
    percent,
    pretrained_credit,
    probability_frame,
    reliability_markdown,
    song_result,
    songs_csv,
    songs_frame,
    songs_json,
    waiting_sentence,
    why_markdown,
)
from mood.sources import (
    Collection,
    CollectionLink,
    SearchResults,
    SpotifyCredentials,
    Track,
    credentials_from,
    fetch_collection,
    fetch_preview,
    parse_collection_link,
    search_tracks,
)
from mood.sources.constants import SERVICE_NAMES

log = logging.getLogger("mood.app")

SEARCH_TTL_S = 600  # seconds a search result is reused
CACHED_SONGS = 32  # previews and analyses kept in memory
ARTWORK_PX = 72
PERCENT_COLUMN = st.column_config.ProgressColumn(format="percent", min_value=0.0, max_value=1.0)
SONG_TABLE_COLUMNS = ["song", "source", "model", "mood", "confidence", *MOODS, "tempo_bpm", "key"]
SONG_COLUMN_CONFIG = {
    **dict.fromkeys(MOODS, PERCENT_COLUMN),
    "tempo_bpm": st.column_config.NumberColumn("BPM", format="%.0f"),
}
NOT_A_LINK = (
    "This is not a Deezer or Spotify playlist or album link. In the app, use Share → Copy link: it looks like "
    "https://www.deezer.com/playlist/… or https://open.spotify.com/album/…"
)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


# ---------------------------------------------------------------- cached heavy work


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


# ---------------------------------------------------------------- helpers


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


# ---------------------------------------------------------------- input tabs


def search_tab(credentials: SpotifyCredentials | None, model: str) -> None:
    """Search box and results. A search runs when asked (or for a new ``?q=artist+title`` link);
    its results stay until the next one, so other clicks never wait on the network."""
    shared = st.query_params.get("q", "")
    if shared and shared != st.session_state.get("searched"):
        st.session_state.query = shared  # opened from a shared link: do its search
    with st.form("search", border=False):
        box, button = st.columns([5, 1], vertical_alignment="bottom")
        box.text_input("Artist and song title", key="query", placeholder="e.g. Adele Someone Like You")
        submitted = button.form_submit_button("Search", type="primary", width="stretch")
    query = st.session_state.get("query", "").strip()
    if not query:
        st.caption("Type an artist and a title, then press Enter. The app analyses a 30 s preview of the song.")
        return
    if submitted or query != st.session_state.get("searched"):
        st.session_state.searched = query
        st.query_params["q"] = query  # the address now shares this search
        st.session_state.results = None
        with friendly_errors(), st.spinner("Searching…"):
            st.session_state.results = search(query, credentials)
    results: SearchResults | None = st.session_state.results
    if results is None:
        return  # the search failed and said why
    if results.notice:
        st.warning(results.notice, icon="📡")
    if not results.tracks:
        st.info(f"Nothing found for “{md(query)}”. Check the spelling, or try just the artist and the title.")
        return
    if credentials is None:
        st.caption("Results from Deezer (no Spotify keys are set up).")
    for track in results.tracks:
        track_row(track)
    picked = tuple(track for track in results.tracks if st.session_state.get(tick_key(track)))
    st.button(
        f"Analyse these ({len(picked)})" if picked else "Analyse these",
        key="analyse-picked",
        disabled=not picked,
        on_click=start_picks,
        args=(picked, query, model),
        help="Tick several songs above, then analyse them together and see them on one mood map.",
    )


def track_row(track: Track) -> None:
    """One search result: artwork, title, artist, a link, a box to pick it and a button to analyse it."""
    art, words, tick, action = st.columns([1, 6, 1, 2], vertical_alignment="center")
    if track.artwork_url:
        art.image(track.artwork_url, width=ARTWORK_PX)
    album = f" · *{md(track.album)}*" if track.album else ""
    link = f" · [Open in {SERVICE_NAMES[track.provider]}]({track.link})" if track.link else ""
    words.markdown(f"**{md(track.title)}**  \n{md(track.artist)}{album}{link}")
    tick.checkbox("Pick", key=tick_key(track), help="Pick several, then “Analyse these” below the list.")
    action.button("Analyse", key=f"pick-{track.provider}-{track.id}", on_click=choose, args=(track,), width="stretch")


def playlist_tab(credentials: SpotifyCredentials | None, model: str) -> None:
    """A pasted playlist or album link: every song's preview analysed, shown together."""
    with st.form("playlist-form", border=False):
        box, button = st.columns([5, 1], vertical_alignment="bottom")
        box.text_input(
            "A Deezer or Spotify playlist or album link",
            key="playlist_link",
            placeholder="https://www.deezer.com/playlist/… or https://open.spotify.com/album/…",
        )
        submitted = button.form_submit_button("Analyse", type="primary", width="stretch")
    st.caption(
        f"Up to {MAX_PLAYLIST_TRACKS} songs, each judged from its 30 s preview, one after another; "
        "the page stays usable meanwhile. Deezer links work without any set-up."
    )
    if submitted:
        with friendly_errors():
            start_from_link(st.session_state.playlist_link, credentials, model)


def start_from_link(text: str, credentials: SpotifyCredentials | None, model: str) -> None:
    """Read a pasted link's playlist or album and start analysing its songs."""
    link = parse_collection_link(text)
    if link is None:
        st.warning(NOT_A_LINK, icon="🔗")
        return
    with st.spinner("Reading the list of songs…"):
        collection = cached_collection(link, credentials)
    if not collection.tracks:
        st.warning(collection.notice or "This list has no songs to analyse. Try another link.", icon="📭")
        return
    start_run(PlaylistRun(collection.title, collection.tracks, model, notice=collection.notice))


def upload_tab() -> None:
    """A file uploader for every format the engine decodes, up to the configured size."""
    formats = ", ".join(ext.lstrip(".") for ext in AUDIO_EXTENSIONS)
    st.file_uploader(
        "Choose an audio file",
        type=[ext.lstrip(".") for ext in AUDIO_EXTENSIONS],
        key="upload",
        on_change=choose_upload,
        args=("upload", None, "Upload"),
        help=f"{formats}; up to {st.get_option('server.maxUploadSize')} MB. "
        f"The first {MAX_DURATION_S / 60:.0f} minutes are analysed.",
    )


def record_tab() -> None:
    """Record with the microphone (the browser asks for permission)."""
    st.audio_input(
        "Record a few seconds of music playing near you",
        key="recording",
        sample_rate=SAMPLE_RATE,
        on_change=choose_upload,
        args=("recording", "Your recording", "Recording"),
        help="At least a few seconds; 10 s or more gives the models several windows to judge.",
    )


def examples_tab(credentials: SpotifyCredentials | None) -> None:
    """One click per mood: famous songs (through the search) and offline synthesised clips."""
    st.markdown("**Famous songs**, one per mood (needs the internet):")
    for column, song in zip(st.columns(len(EXAMPLE_SONGS)), EXAMPLE_SONGS, strict=True):
        label = f"{MOOD_EMOJI[song.mood]} {song.title} — {song.artist}"
        if column.button(label, key=f"example-{song.mood}", width="stretch"):
            with friendly_errors(), st.spinner(f"Searching for “{song.query}”…"):
                tracks = search(song.query, credentials).tracks
                if tracks:
                    choose(tracks[0])
                else:
                    st.warning(f"“{song.query}” was not found right now; try a demo clip below.", icon="📡")
    st.markdown("**Demo clips** synthesised by this app (work offline):")
    st.caption(
        "Each is a synthetic sketch of one mood, not a recording. The models learnt from real songs, "
        "so they often judge these differently from what was intended: the ensemble hears the storm bursts "
        "as angry and the still water as calm, but the sunny arpeggio and the rainy pad as calm too "
        "(these sketches lack the drums, voices and production of real songs). An honest look at their limits."
    )
    for column, clip in zip(st.columns(len(DEMO_CLIPS)), DEMO_CLIPS, strict=True):
        column.button(
            clip.title,
            key=f"demo-{clip.key}",
            help=f"{clip.description}; built to sound {clip.mood}.",
            on_click=choose_demo,
            args=(clip.key,),
            width="stretch",
        )


# ---------------------------------------------------------------- results


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
    explanation = confidence_explanation(headline.confidence, confidence_record(headline.model))
    st.markdown(f"**{confidence_sentence(headline)}.** {explanation}")
    bars, why = (st.container(), st.container()) if presenting else st.columns([3, 2], gap="large")
    bars.altair_chart(mood_bars(headline, font_size), width="stretch", theme=None)
    with why.container(border=True):
        st.markdown("#### 💡 Why this mood?")
        st.markdown(why_markdown(analysis.descriptors))
    if len(analysis.predictions) > 1 and not presenting:
        st.markdown("**How each network heard it** (the ensemble averages them):")
        members = analysis.predictions[1:]
        for column, prediction in zip(st.columns(len(members)), members, strict=True):
            column.altair_chart(mood_bars(prediction), width="stretch", theme=None)
    st.altair_chart(timeline_chart(headline, font_size), width="stretch", theme=None)
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


# ---------------------------------------------------------------- compare two songs


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


# ---------------------------------------------------------------- a playlist at once


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
        analyse_run(run)
        if run.done > before:
            share_run_songs(run)
            st.rerun()  # the header, the session's songs and the comparison now include them
    share_run_songs(run)
    show_run(run, PRESENTER_FONT_SIZE if presenting else FONT_SIZE)


def analyse_run(run: PlaylistRun) -> None:
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
        run_playlist(run, partial(analyse_track, predictor=predictor, pacer=preview_pacer(), turn=turn), on_progress)
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


# ---------------------------------------------------------------- about


def about_tab() -> None:
    """What the moods mean, how well the models did, and what they cannot do."""
    st.header("What the moods mean")
    st.markdown(
        "The models place a song in one of the four quarters of Russell's map of emotions: "
        "**valence** (unpleasant → pleasant) across, **arousal** (calm → energetic) up.\n\n"
        + "\n".join(f"- **{mood_label(m)}**: {MOOD_MEANINGS[m]}" for m in MOODS)
        + f"\n\n**How sure?** *Clearly* means the top mood leads the next by at least "
        f"{CLEAR_MARGIN * 100:.0f} percentage points, *leaning* by at least {LEANING_MARGIN * 100:.0f}, "
        "and *mixed* means closer than that."
    )
    with friendly_errors():
        if record := confidence_record(ENSEMBLE):
            st.markdown(
                "How often each answer was right in cross-validation (the ensemble's networks together, "
                "on songs by artists they had not heard in training):\n" + reliability_markdown(record)
            )
    st.header("How well the models do")
    cards: list[ModelCard] = []
    with friendly_errors():
        cards = model_cards()
        st.dataframe(
            overview_frame(cards),
            hide_index=True,
            column_config={
                "accuracy": st.column_config.NumberColumn("accuracy", format="percent"),
                "macro_f1": st.column_config.NumberColumn("macro-F1", format="%.3f"),
                "ece": st.column_config.NumberColumn(
                    "calibration error (ECE)",
                    format="%.3f",
                    help="After temperature scaling: the average gap between a stated probability and how "
                    "often such answers were right (0 is perfect).",
                ),
                "params": st.column_config.NumberColumn("parameters", format="localized"),
                "trained_on": "trained on",
            },
        )
        st.caption("Cross-validated: each clip is judged by a model that never heard its artist in training.")
        for card in cards:
            model_section(card)
    credits_section(cards)
    st.header("Limits")
    st.markdown(
        "- **Moods are subjective.** Listeners disagree about many songs; treat the answer as one opinion.\n"
        "- **30 seconds.** Searched songs are judged from a 30 s preview, which may not be typical of the song.\n"
        "- **Trained on 900 clips** of Western commercial music (the 4Q dataset); other traditions, "
        "classical or spoken audio are outside what the models have heard.\n"
        "- **Sad vs calm is the hard pair:** both are quiet and slow, so the models mix them up most often.\n"
        "- The models hear the sound only: lyrics and their meaning play no part."
    )


def model_section(card: ModelCard) -> None:
    """One model: what it combines or starts from, its cross-validated scores and calibration."""
    st.subheader(card.display_name)
    if card.name == ENSEMBLE:
        st.caption("Combines " + ", ".join(display_name(m) for m in card.members) + ".")
    if isinstance(card.manifest, NetworkManifest) and card.manifest.pretrained:
        st.caption(pretrained_credit(card.name, card.manifest.pretrained))
    if card.cv is None:
        st.info(f"{card.display_name} is not yet evaluated: its cross-validated figures will appear here.")
        return
    st.markdown(
        f"Cross-validated macro-F1 **{card.cv.macro_f1:.3f}**, accuracy **{percent(card.cv.accuracy)}**. "
        + calibration_sentence(card.cv)
    )
    scores, matrix = st.columns(2)
    scores.dataframe(
        per_class_frame(card.cv),
        column_config=dict.fromkeys(["precision", "recall", "f1"], st.column_config.NumberColumn(format="%.2f")),
    )
    matrix.altair_chart(confusion_chart(card.cv, f"{card.display_name}: what it answers"), width="stretch", theme=None)


def credits_section(cards: list[ModelCard]) -> None:
    """Who made the pretrained networks and the data the models learnt from."""
    st.header("Credits")
    credits = [
        pretrained_credit(card.name, card.manifest.pretrained)
        for card in cards
        if isinstance(card.manifest, NetworkManifest) and card.manifest.pretrained
    ]
    st.markdown("\n".join(f"- {credit}" for credit in [*credits, DATASET_CREDIT]))


# ---------------------------------------------------------------- page


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


def input_tabs(credentials: SpotifyCredentials | None, model: str) -> None:
    """Every way to choose songs, one tab each."""
    search_panel, playlist_panel, upload_panel, record_panel, examples_panel = st.tabs(
        ["🔎 Search", "🎶 Playlist", "📁 Upload", "🎙️ Record", "✨ Examples"]
    )
    with search_panel:
        search_tab(credentials, model)
    with playlist_panel:
        playlist_tab(credentials, model)
    with upload_panel:
        upload_tab()
    with record_panel:
        record_tab()
    with examples_panel:
        examples_tab(credentials)


def main() -> None:
    """The page: model choice, input tabs, a playlist's progress, the current result and the session's
    songs; comparing two songs and About in their own tabs. A playlist is worked through last, so
    everything else is on the page while it runs."""
    st.set_page_config(page_title="mood — what mood does a song carry?", page_icon="🎵", layout="wide")
    st.session_state.setdefault("songs", {})
    presenting = presenter_toggle()
    if presenting:
        st.html(PRESENTER_CSS)
    st.title("🎵 mood")
    st.markdown("**What mood does a song carry?** Happy, angry / tense, sad or calm, judged by neural networks.")
    analyse_page, compare_page, about_page = st.tabs(
        ["🎧 Analyse a song", "⚖️ Compare two songs", "📖 About the models"]
    )
    with about_page:
        about_tab()
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
