"""mood — what mood does a song carry? The web app: widgets, caching and layout only.

Run with ``streamlit run streamlit_app.py``. Audio, models, words and charts live in ``mood/``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from mood.constants import ENSEMBLE, MAX_DURATION_S, MOODS, SAMPLE_RATE
from mood.engine.audio import AUDIO_EXTENSIONS
from mood.engine.inference import CLEAR_MARGIN, LEANING_MARGIN, Predictor
from mood.errors import MoodError, SourceError
from mood.presentation.analysis import Analysis, Song, analyse, song_from_preview
from mood.presentation.charts import (
    confusion_chart,
    figure_png,
    mood_bars,
    mood_map,
    spectrogram_figure,
    timeline_chart,
)
from mood.presentation.demo import DEMO_CLIPS, EXAMPLE_SONGS, demo_clip, demo_wav_bytes
from mood.presentation.model_card import (
    confidence_record,
    display_name,
    installed_models,
    model_cards,
    overview_frame,
    per_class_frame,
)
from mood.presentation.report import (
    MOOD_EMOJI,
    MOOD_MEANINGS,
    SongResult,
    confidence_explanation,
    confidence_sentence,
    mood_label,
    percent,
    probability_frame,
    reliability_markdown,
    songs_csv,
    songs_frame,
    songs_json,
)
from mood.sources import SearchResults, SpotifyCredentials, Track, credentials_from, fetch_preview, search_tracks
from mood.sources.constants import SERVICE_NAMES

log = logging.getLogger("mood.app")

SEARCH_TTL_S = 600  # seconds a search result is reused
CACHED_SONGS = 32  # previews and analyses kept in memory
ARTWORK_PX = 72
PERCENT_COLUMN = st.column_config.ProgressColumn(format="percent", min_value=0.0, max_value=1.0)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


# ---------------------------------------------------------------- cached heavy work


@st.cache_resource(show_spinner="Loading the model (first time only)…")
def load_predictor(model: str) -> Predictor:
    """The model, loaded once per server process."""
    return Predictor(model)


@st.cache_data(ttl=SEARCH_TTL_S, show_spinner=False)
def cached_search(query: str, service: str, _credentials: SpotifyCredentials | None) -> SearchResults:
    """A song search; ``service`` keys the cache instead of the secret."""
    return search_tracks(query, _credentials)


def search(query: str, credentials: SpotifyCredentials | None) -> SearchResults:
    """Search Spotify with keys, Deezer without (cached for ``SEARCH_TTL_S``)."""
    return cached_search(query, "spotify" if credentials else "deezer", credentials)


@st.cache_data(max_entries=CACHED_SONGS, show_spinner=False)
def preview_song(track: Track) -> Song:
    """A track's 30 s preview, downloaded once per track."""
    return song_from_preview(fetch_preview(track))


@st.cache_data(max_entries=CACHED_SONGS, show_spinner=False)
def analysis_of(data: bytes, model: str, _on_step: Callable[[str], None]) -> Analysis:
    """The analysis of identical bytes with one model, computed once."""
    return analyse(data, load_predictor(model), _on_step)


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


def choose_demo(key: str) -> None:
    """Analyse a synthesised demo clip (a callback)."""
    clip = demo_clip(key)
    choose(Song(data=demo_wav_bytes(key), title=clip.title, origin="Demo clip (synthesised)"))


# ---------------------------------------------------------------- input tabs


def search_tab(credentials: SpotifyCredentials | None) -> None:
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


def track_row(track: Track) -> None:
    """One search result: artwork, title, artist, a link, and a button to analyse it."""
    art, words, action = st.columns([1, 6, 2], vertical_alignment="center")
    if track.artwork_url:
        art.image(track.artwork_url, width=ARTWORK_PX)
    album = f" · *{md(track.album)}*" if track.album else ""
    link = f" · [Open in {SERVICE_NAMES[track.provider]}]({track.link})" if track.link else ""
    words.markdown(f"**{md(track.title)}**  \n{md(track.artist)}{album}{link}")
    action.button("Analyse", key=f"pick-{track.provider}-{track.id}", on_click=choose, args=(track,), width="stretch")


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
        "so they often judge these differently from what was intended: an honest look at their limits."
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


def current_result(model: str) -> str | None:
    """Analyse and show the chosen song; returns its name, or None when there is none."""
    selection: Track | Song | None = st.session_state.get("selection")
    if selection is None:
        st.info("Pick a song above: search for one, upload a file, record, or try an example.", icon="👆")
        return None
    with friendly_errors():
        with st.status("Getting ready…", expanded=False) as status:
            if isinstance(selection, Track):
                status.update(label=f"Fetching a 30 s preview of “{selection.label}”…")
                selection = preview_song(selection)
            clip = selection
            status.update(label="Loading the model…")
            load_predictor(model)
            analysis = analysis_of(clip.data, model, lambda step: status.update(label=f"{step}…"))
            status.update(label=f"Analysed “{clip.label}” with {display_name(model)}", state="complete")
        song = SongResult(song=clip.label, source=clip.origin, predictions=analysis.predictions)
        st.session_state.songs[clip.key] = song
        show_result(clip, analysis, model)
        return song.song
    st.session_state.selection = None  # it failed: do not try again on every click
    return None


def show_result(clip: Song, analysis: Analysis, model: str) -> None:
    """The player, the headline mood with its confidence, bars, timeline and spectrogram."""
    headline = analysis.headline
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

    st.markdown(f"## {mood_label(headline.mood)} — {percent(headline.probabilities[headline.mood])}")
    explanation = confidence_explanation(headline.confidence, confidence_record(headline.model))
    st.markdown(f"**{confidence_sentence(headline)}.** {explanation}")
    for column, prediction in zip(st.columns(len(analysis.predictions)), analysis.predictions, strict=True):
        column.altair_chart(mood_bars(prediction), width="stretch", theme=None)
    st.altair_chart(timeline_chart(headline), width="stretch", theme=None)
    st.image(
        spectrogram_png(clip.key, model, analysis),
        width="stretch",
        caption=f"What the model heard: the mel spectrogram, cut into {analysis.front_end.window_s:.0f} s windows "
        f"every {analysis.front_end.window_hop_s:.1f} s; the song's mood is the average of its windows.",
    )
    with st.expander("The exact numbers"):
        st.dataframe(
            probability_frame(analysis.predictions),
            column_config=dict.fromkeys([display_name(p.model) for p in analysis.predictions], PERCENT_COLUMN),
        )


def session_songs(current: str | None) -> None:
    """Every song analysed in this session: on the valence/arousal map, in a table, as downloads."""
    songs: dict[str, SongResult] = st.session_state.songs
    if not songs:
        return
    st.header("This session's songs")
    frame = songs_frame(songs.values())
    st.altair_chart(mood_map(frame, highlight=current), width="stretch", theme=None)
    st.dataframe(
        frame[["song", "source", "model", "mood", "confidence", *MOODS]],
        hide_index=True,
        column_config=dict.fromkeys(MOODS, PERCENT_COLUMN),
    )
    csv_button, json_button, clear_button = st.columns(3)
    csv_button.download_button("Download CSV", songs_csv(songs.values()), "mood-songs.csv", "text/csv", width="stretch")
    json_button.download_button(
        "Download JSON", songs_json(songs.values()), "mood-songs.json", "application/json", width="stretch"
    )
    clear_button.button("Clear the list", on_click=clear_songs, width="stretch")


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
                "How often each answer was right in cross-validation (the two networks together, "
                "on songs by artists they had not heard in training):\n" + reliability_markdown(record)
            )
    st.header("How well the models do")
    with friendly_errors():
        cards = model_cards()
        st.dataframe(
            overview_frame(cards),
            hide_index=True,
            column_config={
                "accuracy": st.column_config.NumberColumn("accuracy", format="percent"),
                "macro_f1": st.column_config.NumberColumn("macro-F1", format="%.3f"),
                "params": st.column_config.NumberColumn("parameters", format="localized"),
                "trained_on": "trained on",
            },
        )
        st.caption("Cross-validated: each clip is judged by a model that never heard its artist in training.")
        for card in cards:
            st.subheader(card.display_name)
            if card.cv is None:
                st.info(f"{card.display_name} is not yet evaluated: its cross-validated figures will appear here.")
                continue
            scores, matrix = st.columns(2)
            scores.dataframe(
                per_class_frame(card.cv),
                column_config=dict.fromkeys(
                    ["precision", "recall", "f1"], st.column_config.NumberColumn(format="%.2f")
                ),
            )
            matrix.altair_chart(
                confusion_chart(card.cv, f"{card.display_name}: what it answers"), width="stretch", theme=None
            )
    st.header("Limits")
    st.markdown(
        "- **Moods are subjective.** Listeners disagree about many songs; treat the answer as one opinion.\n"
        "- **30 seconds.** Searched songs are judged from a 30 s preview, which may not be typical of the song.\n"
        "- **Trained on 900 clips** of Western commercial music (the 4Q dataset); other traditions, "
        "classical or spoken audio are outside what the models have heard.\n"
        "- **Sad vs calm is the hard pair:** both are quiet and slow, so the models mix them up most often.\n"
        "- The models hear the sound only: lyrics and their meaning play no part."
    )


# ---------------------------------------------------------------- page


def main() -> None:
    """The page: model choice, input tabs, the current result, the session's songs; About in its own tab."""
    st.set_page_config(page_title="mood — what mood does a song carry?", page_icon="🎵", layout="wide")
    st.session_state.setdefault("songs", {})
    st.title("🎵 mood")
    st.markdown("**What mood does a song carry?** Happy, angry / tense, sad or calm, judged by neural networks.")
    analyse_page, about_page = st.tabs(["🎧 Analyse a song", "📖 About the models"])
    with about_page:
        about_tab()
    with analyse_page:
        installed = installed_models()
        if not installed:
            st.error("No trained models are installed yet, so songs cannot be analysed. Try again later.")
            return
        model = st.radio(
            "Which model listens?",
            installed,
            format_func=display_name,
            horizontal=True,
            key="model",
            help="Networks trained on the same songs; the ensemble combines them and shows each one beside it.",
        )
        credentials = spotify_credentials()
        search_panel, upload_panel, record_panel, examples_panel = st.tabs(
            ["🔎 Search", "📁 Upload", "🎙️ Record", "✨ Examples"]
        )
        with search_panel:
            search_tab(credentials)
        with upload_panel:
            upload_tab()
        with record_panel:
            record_tab()
        with examples_panel:
            examples_tab(credentials)
        st.divider()
        session_songs(current_result(model))


main()
