"""The Library tab: a results file of ``mood analyze --out`` on the map, filtered, counted, in a
sortable table (a song of the server's library plays when its row is picked) and as a playlist.

The file is uploaded in the tab, or is the one the server was started with (``--library`` or
``MOOD_LIBRARY``, see ``streamlit_app.py``). Its frame is read once and cached, keyed by the
file's path, modification time and size (or the upload's SHA-256); the tab is a fragment, so
its widgets rerun only the tab.
"""

from __future__ import annotations

import hashlib
import mimetypes
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from mood.batch.sinks import SUFFIXES, read_rows
from mood.constants import MOODS
from mood.presentation.collection import (
    Catalogue,
    Filters,
    catalogue,
    collection_chart,
    library_folders,
    mood_counts,
    playable,
    playlist_bytes,
    table_frame,
)
from mood.presentation.report import mood_label
from webapp.state import PERCENT_COLUMN, friendly_errors, md

CACHED_LIBRARIES = 2  # results files kept in memory (each of 100,000 songs is about 25 MB)
PLAYLIST_MIME = "audio/x-mpegurl"
TABLE_COLUMN_CONFIG = {
    **dict.fromkeys(MOODS, PERCENT_COLUMN),
    "top_probability": st.column_config.ProgressColumn(
        "top mood %", format="percent", min_value=0.0, max_value=1.0, help="The top mood's probability."
    ),
    "unfamiliar": st.column_config.CheckboxColumn(
        "unlike training", help="Unlike the music the models learnt from: its mood is less sure."
    ),
    "tempo_bpm": st.column_config.NumberColumn("BPM", format="%.0f"),
    "key_name": st.column_config.TextColumn("key"),
    "energy": st.column_config.NumberColumn("energy", format="%.2f"),
    "duration_s": st.column_config.NumberColumn("length (s)", format="%.0f"),
}


@dataclass(frozen=True)
class OpenLibrary:
    """A results file opened in the tab.

    Attributes:
        name: the file's name, for the page.
        shelf: its songs and failures.
        base: the folder its relative paths are under (its own folder), None for an upload.
        widgets: a key suffix that gives each opened file fresh filters.
    """

    name: str
    shelf: Catalogue
    base: Path | None
    widgets: str


@st.cache_data(max_entries=CACHED_LIBRARIES, show_spinner="Reading the results file…")
def catalogue_of_file(path: str, mtime_ns: int, size: int) -> Catalogue:
    """The catalogue of a results file on the server, read once per version of the file."""
    return catalogue(read_rows(Path(path)))


@st.cache_data(max_entries=CACHED_LIBRARIES, show_spinner=False)
def folders_of_file(path: str, mtime_ns: int, size: int) -> frozenset[str]:
    """The real folders of the server library's songs: the only folders the tab plays from."""
    return library_folders(catalogue_of_file(path, mtime_ns, size).songs, Path(path).parent)


@st.cache_data(max_entries=CACHED_LIBRARIES, show_spinner="Reading the results file…")
def catalogue_of_upload(digest: str, suffix: str, _data: bytes) -> Catalogue:
    """The catalogue of uploaded results (``digest``: their SHA-256), read once."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"results{suffix}"
        path.write_bytes(_data)
        return catalogue(read_rows(path))


def _stat_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


def open_library(server_library: Path | None) -> OpenLibrary | None:
    """The uploaded results file, else the server's; None (having said why) when there is neither."""
    upload = st.session_state.get("library-upload")
    if upload is not None:
        data = upload.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        shelf = catalogue_of_upload(digest, Path(upload.name).suffix.lower(), data)
        return OpenLibrary(upload.name, shelf, None, digest[:16])
    if server_library is None:
        st.info(
            "Open a results file of `mood analyze --out` (.jsonl, .csv or .parquet) above, or start the app "
            "with one: `streamlit run streamlit_app.py -- --library results.parquet`.",
            icon="📚",
        )
        return None
    if not server_library.is_file():
        st.warning(
            f"The library {md(str(server_library))} given to the server (--library or MOOD_LIBRARY) is not a file. "
            "Check the path and restart the app, or upload a results file above.",
            icon="📚",
        )
        return None
    key = _stat_key(server_library.absolute())
    shelf = catalogue_of_file(*key)
    widgets = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
    return OpenLibrary(server_library.name, shelf, server_library.absolute().parent, widgets)


def playable_folders(server_library: Path | None) -> frozenset[str]:
    """Where the tab may play songs from: the folders of the server's library (none without one)."""
    if server_library is None or not server_library.is_file():
        return frozenset()
    return folders_of_file(*_stat_key(server_library.absolute()))


@st.fragment
def library_tab(server_library: Path | None) -> None:
    """The Library tab: open a results file, filter it, see it on the map, in counts and a table,
    play a song from the server's library and download the filtered songs as a playlist."""
    st.file_uploader(
        "Open a results file of `mood analyze --out`",
        type=[suffix.lstrip(".") for suffix in SUFFIXES],
        key="library-upload",
        help="The .jsonl, .csv or .parquet file written by `mood analyze --out results.parquet ~/Music`. "
        "Without one, the tab shows the library the server was started with (--library), if any.",
    )
    with friendly_errors():
        opened = open_library(server_library)
        if opened is not None:
            show_library(opened, playable_folders(server_library))


def show_library(opened: OpenLibrary, folders: frozenset[str]) -> None:
    """An opened results file: filters, counts, map, table with a player, playlist, failures."""
    shelf = opened.shelf
    failed = f", {len(shelf.failures):,} not analysed" if len(shelf.failures) else ""
    st.caption(f"**{md(opened.name)}**: {len(shelf.songs):,} songs{failed}")
    songs = filter_widgets(shelf, opened.widgets).apply(shelf.songs)
    counts = mood_counts(songs)
    st.markdown(f"**{len(songs):,} of {len(shelf.songs):,} songs** match the filters.")
    for column, mood in zip(st.columns(len(MOODS)), MOODS, strict=True):
        column.metric(mood_label(mood), f"{counts[mood]:,}")
    st.altair_chart(collection_chart(songs), width="stretch", theme=None)
    picked = songs_table(songs, opened.widgets)
    if picked is not None:
        player(picked, opened.base, folders)
    st.download_button(
        f"Download these {len(songs):,} songs as a playlist (.m3u8)",
        data=lambda: playlist_bytes(songs, opened.base),
        file_name=f"{Path(opened.name).stem}-{len(songs)}-songs.m3u8",
        mime=PLAYLIST_MIME,
        key=f"library-playlist-{opened.widgets}",
        on_click="ignore",
        disabled=songs.empty,
        help="An extended M3U8 of the songs the filters keep, in the results file's order: "
        "open it in a music player on the machine that holds the songs.",
    )
    if len(shelf.failures):
        st.markdown(f"**Not analysed ({len(shelf.failures):,} files):**")
        st.dataframe(shelf.failures[["path", "error"]], hide_index=True, key=f"library-failures-{opened.widgets}")


def filter_widgets(shelf: Catalogue, widgets: str) -> Filters:
    """The filter widgets, in a bordered row; returns what they keep."""
    with st.container(border=True):
        mood_box, probability_box, tempo_box = st.columns(3)
        moods = mood_box.multiselect(
            "Mood", MOODS, format_func=mood_label, key=f"library-moods-{widgets}", placeholder="Any mood"
        )
        top_probability = probability_box.slider(
            "Top mood's probability at least",
            min_value=1 / len(MOODS),
            max_value=1.0,
            value=1 / len(MOODS),
            step=0.05,
            format="percent",
            key=f"library-top-probability-{widgets}",
            help="The top mood's probability: 25 % keeps every song, 60 % keeps songs whose mood has at least 60 %.",
        )
        tempo = tempo_filter(tempo_box, shelf, widgets)
        key_box, folder_box = st.columns([1, 2])
        keys = key_box.multiselect("Key", shelf.keys, key=f"library-keys-{widgets}", placeholder="Any key")
        folders = folder_box.multiselect(
            "Folder",
            shelf.folders,
            key=f"library-folders-{widgets}",
            placeholder="Any folder",
            help="The folder each song's file is in (its parent folder, not the folders above it).",
        )
        familiar_only = st.checkbox(
            "Only songs like the music the models learnt from",
            key=f"library-familiar-{widgets}",
            help="Leaves out songs unlike the training music: their moods are less sure.",
        )
    return Filters(tuple(moods), top_probability, tempo, tuple(keys), tuple(folders), familiar_only)


def tempo_filter(box: st.delta_generator.DeltaGenerator, shelf: Catalogue, widgets: str) -> tuple[float, float] | None:
    """The tempo range slider; None (any tempo, songs without one included) while it spans every song."""
    if shelf.tempo_range is None:
        return None
    slowest, fastest = int(shelf.tempo_range[0]), int(shelf.tempo_range[1]) + 1
    if slowest == fastest - 1:
        return None
    low, high = box.slider(
        "Tempo (BPM)", min_value=slowest, max_value=fastest, value=(slowest, fastest), key=f"library-tempo-{widgets}"
    )
    return None if (low, high) == (slowest, fastest) else (float(low), float(high))


def songs_table(songs: pd.DataFrame, widgets: str) -> pd.Series | None:
    """The sortable table of the filtered songs; returns the row picked in it, if any."""
    event = st.dataframe(
        table_frame(songs),
        hide_index=True,
        column_config=TABLE_COLUMN_CONFIG,
        key=f"library-table-{widgets}",
        on_select="rerun",
        selection_mode="single-row",
    )
    rows = [row for row in event.selection.rows if row < len(songs)]
    st.caption("Click a column's name to sort by it; pick a row to play the song (songs on the server's disk).")
    return songs.iloc[rows[0]] if rows else None


def player(song: pd.Series, base: Path | None, folders: frozenset[str]) -> None:
    """The picked song's player, when it is a file of the server's library; else why not."""
    file = playable(str(song["path"]), base, folders)
    if file is None:
        st.caption(
            f"“{md(str(song['song']))}” cannot be played here: only songs of the library the server was started "
            "with (--library), on the server's disk, play in the app."
        )
        return
    st.markdown(f"▶️ **{md(str(song['song']))}** — {mood_label(str(song['mood']))}")
    st.audio(file, format=mimetypes.guess_type(file.name)[0] or "audio/mpeg")
