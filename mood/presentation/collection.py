"""A whole collection from a results file of ``mood analyze --out`` (the app's Library tab),
without Streamlit: the songs as one frame, filters, mood counts, the mood map, the table, a
playlist of the filtered songs and which songs the server may play.

Confidence here is the top probability (the share of the song's most probable mood, 0.25 to
1 for four moods), as the table shows it. Folder is the parent folder of a song's path, as
written in the results file. Relative paths in a results file are relative to the folder
``mood analyze`` ran in; the app takes that to be the results file's own folder (``base``).

Everything is vectorised pandas, so 100,000 songs stay quick; the map draws at most
``MAX_MAP_POINTS`` dots (a random sample) over a density of all songs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import altair as alt
import numpy as np
import pandas as pd

from mood.batch.m3u import PlaylistEntry, render_m3u
from mood.batch.results import COLUMNS, FLOAT_COLUMNS
from mood.constants import MOOD_DISPLAY_NAMES, MOODS
from mood.engine.audio import AUDIO_EXTENSIONS
from mood.presentation.charts import FONT_SIZE, collection_map

MAX_MAP_POINTS: Final = 2000  # dots on the map at most; beyond, a random sample over a density of all songs
DENSITY_BINS: Final = 25  # density cells per axis (each 0.08 wide on the [-1, 1] axes)
SAMPLE_SEED: Final = 0  # the map's sample is the same for the same songs on every rerun
TABLE_COLUMNS: Final = (
    "song", "folder", "mood", "top_probability", "unfamiliar", *MOODS, "tempo_bpm", "key_name", "energy",
    "duration_s",
)  # fmt: skip
_AUDIO_SUFFIXES: Final = frozenset(AUDIO_EXTENSIONS)


@dataclass(frozen=True)
class Catalogue:
    """The rows of a results file, split into songs that were judged and files that failed.

    Attributes:
        songs: one row per judged song: the results file's columns (:data:`mood.batch.results.COLUMNS`)
            plus ``song`` (the file name), ``folder`` (the parent folder of ``path``),
            ``top_probability`` (the top mood's probability; "confidence" elsewhere is the margin
            over the second) and ``key_name`` (e.g. "A minor").
        failures: one row per failed file: ``path`` (as it can be shown, see :func:`readable`),
            ``folder`` and ``error``.
    """

    songs: pd.DataFrame
    failures: pd.DataFrame

    @property
    def folders(self) -> list[str]:
        """The songs' folders, sorted."""
        return sorted(self.songs["folder"].unique())

    @property
    def keys(self) -> list[str]:
        """The songs' keys ("A minor", ...), sorted."""
        return sorted(self.songs["key_name"].dropna().unique())

    @property
    def tempo_range(self) -> tuple[float, float] | None:
        """The slowest and fastest tempo in BPM, or None when no song has one."""
        tempo = self.songs["tempo_bpm"].dropna()
        return (float(tempo.min()), float(tempo.max())) if len(tempo) else None


def catalogue(rows: Iterable[Mapping[str, Any]]) -> Catalogue:
    """The catalogue of a results file's flat rows (what :func:`mood.batch.sinks.read_rows` yields)."""
    # Text stays in object columns: a file name may hold bytes that are not UTF-8 (Python's
    # surrogateescape), which pandas' string columns refuse; only readable copies are shown.
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS), dtype=object)
    frame = frame.astype(dict.fromkeys(sorted(FLOAT_COLUMNS), float))
    frame["path"] = pd.Series([p if isinstance(p, str) else "" for p in frame["path"]], index=frame.index, dtype=object)
    frame["folder"] = _objects([readable(os.path.dirname(path) or ".") for path in frame["path"]], frame.index)
    frame["song"] = _objects([readable(os.path.basename(path)) for path in frame["path"]], frame.index)
    judged = frame["error"].isna() & frame["mood"].isin(MOODS) & frame["valence"].notna() & frame["arousal"].notna()
    songs = frame[judged].reset_index(drop=True)
    songs["top_probability"] = songs[list(MOODS)].max(axis=1)
    songs["key_name"] = songs["key"].astype("string") + " " + songs["mode"].astype("string")  # missing stays missing
    for column in ("mood", "folder", "key_name"):
        songs[column] = songs[column].astype("category")
    failures = frame.loc[~judged, ["path", "folder", "error"]].reset_index(drop=True)
    failures["path"] = failures["path"].map(readable)  # failures are only shown
    failures["error"] = failures["error"].fillna("No mood in this row (an incomplete result).").map(readable)
    return Catalogue(songs, failures)


def _objects(values: list[str], index: pd.Index) -> pd.Series:
    return pd.Series(values, index=index, dtype=object)


@dataclass(frozen=True)
class Filters:
    """Which songs of a catalogue to show; every field left at its default keeps all songs.

    Attributes:
        moods: keep songs whose mood is one of these ids (empty: any).
        min_top_probability: keep songs whose top probability is at least this.
        tempo_bpm: keep songs whose tempo lies in this inclusive range (None: any, songs
            without a tempo included).
        keys: keep songs in one of these keys, e.g. ``("A minor",)`` (empty: any).
        folders: keep songs whose parent folder is one of these (empty: any).
        familiar_only: leave out songs unlike the music the models learnt from (a song whose
            model did not measure it is kept).
    """

    moods: tuple[str, ...] = ()
    min_top_probability: float = 0.0
    tempo_bpm: tuple[float, float] | None = None
    keys: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    familiar_only: bool = False

    def apply(self, songs: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``songs`` (a :attr:`Catalogue.songs` frame) these filters keep, in order."""
        keep = np.ones(len(songs), dtype=bool)
        if self.moods:
            keep &= songs["mood"].isin(self.moods).to_numpy()
        if self.min_top_probability > 0:
            keep &= (songs["top_probability"] >= self.min_top_probability).to_numpy()
        if self.tempo_bpm is not None:
            keep &= songs["tempo_bpm"].between(*self.tempo_bpm).to_numpy()
        if self.keys:
            keep &= songs["key_name"].isin(self.keys).to_numpy()
        if self.folders:
            keep &= songs["folder"].isin(self.folders).to_numpy()
        if self.familiar_only:
            keep &= ~songs["unfamiliar"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        return songs[keep]


def mood_counts(songs: pd.DataFrame) -> pd.Series:
    """How many songs have each mood, indexed by the mood ids in ``MOODS`` order (zeros included)."""
    counts = songs["mood"].astype(object).value_counts()
    return counts.reindex(list(MOODS), fill_value=0).astype(int)


def map_sample(songs: pd.DataFrame, max_points: int = MAX_MAP_POINTS) -> pd.DataFrame:
    """The songs the map draws as dots: all of them, or a random ``max_points`` (the same each time)."""
    return songs if len(songs) <= max_points else songs.sample(n=max_points, random_state=SAMPLE_SEED)


def density_cells(songs: pd.DataFrame, bins: int = DENSITY_BINS) -> pd.DataFrame:
    """Where the songs lie on the map: the non-empty cells of a ``bins`` x ``bins`` grid over
    valence and arousal in [-1, 1], with their edges (``x``, ``x2``, ``y``, ``y2``) and ``songs``."""
    edges = np.linspace(-1.0, 1.0, bins + 1)
    valence = songs["valence"].to_numpy(dtype=float).clip(-1.0, 1.0)
    arousal = songs["arousal"].to_numpy(dtype=float).clip(-1.0, 1.0)
    counts, _, _ = np.histogram2d(valence, arousal, bins=(edges, edges))
    ix, iy = np.nonzero(counts)
    return pd.DataFrame(
        {"x": edges[ix], "x2": edges[ix + 1], "y": edges[iy], "y2": edges[iy + 1], "songs": counts[ix, iy].astype(int)}
    )


def collection_chart(
    songs: pd.DataFrame, max_points: int = MAX_MAP_POINTS, font_size: int = FONT_SIZE
) -> alt.LayerChart:
    """The filtered songs on the valence/arousal map: every song as a dot up to ``max_points``;
    past that a random sample of ``max_points`` dots over a density of all of them."""
    dots = map_sample(songs, max_points)
    drawn = dots[["song", "mood", "valence", "arousal"]].assign(mood=dots["mood"].astype(object))
    if len(dots) == len(songs):
        title = alt.Title(f"Where the {len(songs):,} songs sit")
        return collection_map(drawn, None, title, font_size)
    title = alt.Title(
        f"Where the {len(songs):,} songs sit",
        subtitle=f"Dots: a random {len(dots):,} of them; grey: where all of them lie (darker, more songs)",
    )
    return collection_map(drawn, density_cells(songs), title, font_size)


def table_frame(songs: pd.DataFrame) -> pd.DataFrame:
    """The table of songs: name, folder, mood (display name), top probability, whether the song is
    unlike the training music (missing when its model does not measure it), the four probabilities,
    tempo, key, energy and length (:data:`TABLE_COLUMNS`)."""
    table = songs[list(TABLE_COLUMNS)].reset_index(drop=True)
    table["mood"] = table["mood"].cat.rename_categories(MOOD_DISPLAY_NAMES)
    table["unfamiliar"] = table["unfamiliar"].astype("boolean")
    return table


def song_path(path: str, base: Path | None) -> Path:
    """Where a results file's ``path`` is: as written when absolute or ``base`` is None, else under ``base``."""
    written = Path(path)
    return written if base is None or written.is_absolute() else base / written


def playlist_text(songs: pd.DataFrame, base: Path | None) -> str:
    """The songs as an extended M3U8 playlist (:func:`mood.batch.m3u.render_m3u`): one
    ``#EXTINF`` with the length and the file name per song, paths absolute when ``base`` (the
    results file's folder on the server) is known, else as the results file wrote them.

    Nothing is read from the songs' files, so 100,000 songs take well under a second;
    players show the files' own tags once they open them.
    """
    entries = (
        PlaylistEntry(
            path=song_path(path, base).absolute() if base is not None else Path(path),
            title=Path(path).stem,
            artist=None,
            duration_s=None if pd.isna(duration) else float(duration),
        )
        for path, duration in zip(songs["path"], songs["duration_s"], strict=True)
    )
    return render_m3u(entries, None)


def playlist_bytes(songs: pd.DataFrame, base: Path | None) -> bytes:
    """:func:`playlist_text` as UTF-8; a file name that is not UTF-8 (read with Python's
    ``surrogateescape``) keeps its own bytes, so the player on this machine still finds the file."""
    return _utf8(playlist_text(songs, base))


def readable(text: str) -> str:
    """``text`` as it can be shown: a file name's bytes that are not UTF-8 become "\N{REPLACEMENT CHARACTER}"."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _utf8(text).decode("utf-8", errors="replace")
    return text


def _utf8(text: str) -> bytes:
    """UTF-8, with the bytes that ``surrogateescape`` stands for put back (other surrogates: "?")."""
    try:
        return text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="replace")


def library_folders(songs: pd.DataFrame, base: Path | None) -> frozenset[str]:
    """The real (symbolic links resolved) folders of a library's songs: the only folders whose
    files the app may play."""
    folders = {os.path.dirname(path) for path in songs["path"]}
    return frozenset(os.path.realpath(song_path(folder or ".", base)) for folder in folders)


def playable(path: str, base: Path | None, folders: frozenset[str]) -> Path | None:
    """The song's file if the server may play it: an audio file that exists and whose real
    location is directly inside one of ``folders`` (see :func:`library_folders`); else None."""
    real = Path(os.path.realpath(song_path(path, base)))
    if real.suffix.lower() not in _AUDIO_SUFFIXES or str(real.parent) not in folders or not real.is_file():
        return None
    return real
