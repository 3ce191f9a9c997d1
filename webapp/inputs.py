"""The ways to choose songs: search, playlist, upload, record and examples, one tab each."""

from __future__ import annotations

import streamlit as st

from mood.constants import MAX_DURATION_S, SAMPLE_RATE
from mood.engine.audio import AUDIO_EXTENSIONS
from mood.presentation.demo import DEMO_CLIPS, EXAMPLE_SONGS
from mood.presentation.report import MOOD_EMOJI
from mood.service.playlist_run import MAX_PLAYLIST_TRACKS, PlaylistRun
from mood.sources import SearchResults, SpotifyCredentials, Track, parse_collection_link
from mood.sources.constants import SERVICE_NAMES
from webapp.cache import cached_collection, search
from webapp.state import (
    ARTWORK_PX,
    choose,
    choose_demo,
    choose_upload,
    friendly_errors,
    md,
    start_picks,
    start_run,
    tick_key,
)

NOT_A_LINK = (
    "This is not a Deezer or Spotify playlist or album link. In the app, use Share → Copy link: it looks like "
    "https://www.deezer.com/playlist/… or https://open.spotify.com/album/…"
)


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
