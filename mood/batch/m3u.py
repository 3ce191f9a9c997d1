"""Playlists from a results file: songs chosen by mood, by a region of the valence/arousal map
and by confidence, sorted and cut (:func:`select`), or a mood journey from one mood to
another (:func:`journey`), written as an extended M3U8 that players open (:func:`write_playlist`).

Rows are the flat rows of :func:`mood.batch.sinks.read_rows`; failed analyses are never chosen.

Confidence (``Selection.confidence``): ``margin`` (the default) is the top probability minus
the second, how clearly the top mood won: 0 is a tie, 1 a certainty. The app's words use it:
"clear" from 0.30, "leaning" from 0.10, "mixed" below (``mood.engine.inference``). ``top`` is
the top probability itself (from 0.25 for four moods).

The journey: each mood's centre is where the library's songs of that mood lie on average on
the map (the quadrant's centre, e.g. calm at valence 0.5, arousal -0.5, when the library has
none); ``n_songs`` points are spaced evenly on the straight line from the first centre to the
second, and each takes the nearest song not taken yet (see :func:`journey`).

The file: UTF-8, ``#EXTM3U``, then per song ``#EXTINF:<seconds>,<artist> - <title>`` (duration,
title and artist from the file's tags; the file name when it has no title, -1 s when no
length is known) and its path, relative to the playlist's folder (players resolve it from
there; the playlist can move with the music) or absolute. Written atomically.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np

from mood.batch.atomic import replace_atomically
from mood.batch.results import FLOAT_COLUMNS, input_name
from mood.batch.tagfiles import open_tagged
from mood.constants import MOODS
from mood.errors import MoodError

ConfidenceKind = Literal["margin", "top"]
Range = tuple[float, float]  # inclusive, on the map's [-1, 1] axes
Row = Mapping[str, Any]

CONFIDENCE_KINDS: Final = ("margin", "top")
SORT_COLUMNS: Final = frozenset({*FLOAT_COLUMNS, "confidence"})
QUADRANT_CENTRES: Final = {"happy": (0.5, 0.5), "angry": (-0.5, 0.5), "sad": (-0.5, -0.5), "calm": (0.5, -0.5)}
PLAYLIST_SUFFIXES: Final = (".m3u8", ".m3u")
UNKNOWN_DURATION: Final = -1  # what #EXTINF says when the length is not known


@dataclass(frozen=True)
class Selection:
    """Which songs a playlist takes, and in what order.

    Attributes:
        moods: keep songs whose top mood is one of these (empty: any).
        valence: keep songs whose valence lies in this range (None: any).
        arousal: the same for arousal.
        min_confidence: keep songs at least this confident (see the module's docstring).
        confidence: ``margin`` or ``top``: how confidence is measured.
        familiar_only: leave out songs unlike the music the models learnt from (the results'
            ``unfamiliar``; a song whose model did not measure it is kept).
        sort_by: a numeric column (``energy``, ``tempo_bpm``, ``valence``, ``calm``, ...) or
            ``confidence``; songs without it come last. None: the results file's order.
        descending: sort from the highest value.
        limit: at most this many songs (after sorting).
    """

    moods: tuple[str, ...] = ()
    valence: Range | None = None
    arousal: Range | None = None
    min_confidence: float | None = None
    confidence: ConfidenceKind = "margin"
    familiar_only: bool = False
    sort_by: str | None = None
    descending: bool = False
    limit: int | None = None

    def __post_init__(self) -> None:
        check_moods(self.moods)
        if self.confidence not in CONFIDENCE_KINDS:
            raise MoodError(f"Unknown confidence {self.confidence!r}; use one of {', '.join(CONFIDENCE_KINDS)}.")
        if self.sort_by is not None and self.sort_by not in SORT_COLUMNS:
            raise MoodError(f"Cannot sort by {self.sort_by!r}; use one of {', '.join(sorted(SORT_COLUMNS))}.")
        if self.limit is not None and self.limit < 1:
            raise MoodError("The limit must be at least 1 song.")


@dataclass(frozen=True)
class PlaylistEntry:
    """One song of a playlist.

    Attributes:
        path: the song file, absolute.
        title: from its tags, else its file name without the suffix.
        artist: from its tags, or None.
        duration_s: its length in seconds, or None when unknown.
    """

    path: Path
    title: str
    artist: str | None
    duration_s: float | None

    def extinf(self) -> str:
        """The ``#EXTINF`` line."""
        seconds = UNKNOWN_DURATION if self.duration_s is None else round(self.duration_s)
        label = f"{self.artist} - {self.title}" if self.artist else self.title
        return f"#EXTINF:{seconds},{' '.join(label.split())}"


@dataclass(frozen=True)
class PlaylistReport:
    """What :func:`write_playlist` wrote.

    Attributes:
        path: the playlist file.
        n_songs: songs in it.
        missing: songs of the chosen rows that are no longer on disk (left out), as in the results.
    """

    path: Path
    n_songs: int
    missing: tuple[str, ...]


# ---------------------------------------------------------------- choosing songs


def check_moods(moods: Iterable[str]) -> None:
    """Raise unless every name is a mood id.

    Raises:
        MoodError: an unknown mood, with the known ones.
    """
    unknown = [m for m in moods if m not in MOODS]
    if unknown:
        raise MoodError(f"Unknown mood {unknown[0]!r}; use one of {', '.join(MOODS)}.")


def parse_range(text: str) -> Range:
    """A range from ``LOW:HIGH`` (either side may be left out: ``0.2:`` is 0.2 to 1).

    Raises:
        MoodError: not two numbers in [-1, 1] separated by a colon, low first.
    """
    low_text, colon, high_text = text.partition(":")
    try:
        low, high = float(low_text or -1.0), float(high_text or 1.0)
    except ValueError:
        low = high = math.nan
    if not colon or not -1.0 <= low <= high <= 1.0:
        raise MoodError(f"{text!r} is not a range on the map; write LOW:HIGH within -1 and 1, e.g. 0.2:1 or -1:0.")
    return low, high


def confidence(row: Row, kind: ConfidenceKind = "margin") -> float:
    """How confident the row's mood is: ``margin`` (top probability minus the second) or ``top``."""
    top, second = sorted((float(row[m]) for m in MOODS), reverse=True)[:2]
    return top if kind == "top" else top - second


def is_judged(row: Row) -> bool:
    """Whether the row is a song that was judged (not a failure)."""
    return not row.get("error") and row.get("mood") in MOODS and row.get("valence") is not None


def select(rows: Iterable[Row], selection: Selection) -> list[Row]:
    """The rows a playlist takes, in its order (see :class:`Selection`)."""

    def within(value: Any, bounds: Range | None) -> bool:
        return bounds is None or (value is not None and bounds[0] <= float(value) <= bounds[1])

    chosen = [
        row
        for row in rows
        if is_judged(row)
        and (not selection.moods or row["mood"] in selection.moods)
        and within(row.get("valence"), selection.valence)
        and within(row.get("arousal"), selection.arousal)
        and (selection.min_confidence is None or confidence(row, selection.confidence) >= selection.min_confidence)
        and not (selection.familiar_only and row.get("unfamiliar"))
    ]
    if selection.sort_by is not None:
        chosen = _sorted(chosen, selection)
    return chosen[: selection.limit]


def _sorted(rows: list[Row], selection: Selection) -> list[Row]:
    """Rows by ``selection.sort_by``, those without a value last, ties in their order."""

    def value(row: Row) -> float | None:
        if selection.sort_by == "confidence":
            return confidence(row, selection.confidence)
        number = row.get(str(selection.sort_by))
        return None if number is None or math.isnan(float(number)) else float(number)

    pairs = [(value(row), row) for row in rows]
    valued = sorted(
        ((v, row) for v, row in pairs if v is not None), key=lambda pair: pair[0], reverse=selection.descending
    )
    return [row for _, row in valued] + [row for v, row in pairs if v is None]


def mood_centre(rows: Sequence[Row], mood: str) -> tuple[float, float]:
    """Where the songs of ``mood`` lie on average on the map, (valence, arousal); the quadrant's
    centre when there are none."""
    points = [(float(r["valence"]), float(r["arousal"])) for r in rows if is_judged(r) and r["mood"] == mood]
    if not points:
        return QUADRANT_CENTRES[mood]
    valence, arousal = np.mean(points, axis=0)
    return float(valence), float(arousal)


def journey(rows: Iterable[Row], start: str, end: str, n_songs: int) -> list[Row]:
    """A mood journey: ``n_songs`` songs from ``start``'s centre to ``end``'s on the map.

    ``n_songs`` points lie evenly on the straight line between the two centres; each takes the
    nearest song not taken yet (the two ends first, so the journey starts with the song nearest
    the first mood and ends with the one nearest the second), and the songs between play in
    the order of where they lie along the line. No song comes twice; a library with fewer
    songs gives a shorter journey.

    Raises:
        MoodError: an unknown mood, or fewer than 2 songs asked for.
    """
    check_moods((start, end))
    if n_songs < 2:
        raise MoodError("A journey needs at least 2 songs.")
    judged = [row for row in rows if is_judged(row)]
    n_points = min(n_songs, len(judged))
    points = np.array([(float(r["valence"]), float(r["arousal"])) for r in judged]).reshape(-1, 2)
    begin, finish = np.array(mood_centre(judged, start)), np.array(mood_centre(judged, end))
    waypoints = begin + np.linspace(0.0, 1.0, n_points)[:, None] * (finish - begin)
    taken = np.zeros(len(judged), dtype=bool)
    picks = np.zeros(n_points, dtype=int)
    for i in [0, n_points - 1, *range(1, n_points - 1)][:n_points]:  # the ends first
        distances = np.where(taken, np.inf, np.linalg.norm(points - waypoints[i], axis=1))
        picks[i] = int(np.argmin(distances))
        taken[picks[i]] = True
    along = (points[picks] - begin) @ (finish - begin)  # position along the line (any scale)
    middle = sorted(range(1, n_points - 1), key=lambda i: (along[i], i))
    return [judged[picks[i]] for i in [0, *middle, n_points - 1][:n_points]]


# ---------------------------------------------------------------- the file


def playlist_entry(path: Path, row: Row | None = None) -> PlaylistEntry:
    """A song's playlist entry: title, artist and length from its tags where it has them, else
    its file name and the row's ``duration_s``."""
    title: tuple[str, ...] = ()
    artist: tuple[str, ...] = ()
    duration = None
    try:
        tagged = open_tagged(path)
        title, artist, duration = tagged.fields.get("TITLE"), tagged.fields.get("ARTIST"), tagged.duration_s
    except MoodError:
        pass  # untaggable or unreadable tags: the entry falls back on the name
    if duration is None and row is not None and row.get("duration_s") is not None:
        duration = float(row["duration_s"])
    return PlaylistEntry(path, title[0] if title else path.stem, artist[0] if artist else None, duration)


def render_m3u(entries: Iterable[PlaylistEntry], folder: Path | None) -> str:
    """The extended M3U text; paths relative to ``folder`` (the playlist's), or absolute if None."""
    lines = ["#EXTM3U"]
    for entry in entries:
        lines += [entry.extinf(), os.path.relpath(entry.path, folder) if folder is not None else str(entry.path)]
    return "\n".join(lines) + "\n"


def write_playlist(
    rows: Iterable[Row], out_path: Path, *, base: Path | None = None, absolute: bool = False
) -> PlaylistReport:
    """Write the rows' songs as an extended M3U8 playlist, atomically; songs no longer on disk
    are left out and listed in the report.

    Args:
        rows: the songs, in playlist order (from :func:`select` or :func:`journey`).
        out_path: the playlist, ``.m3u8`` (or ``.m3u``, also written as UTF-8).
        base: the folder relative paths in the results are relative to (default: the current one).
        absolute: write absolute paths instead of paths relative to the playlist's folder.

    Raises:
        MoodError: another suffix, or a folder that does not exist.
    """
    if out_path.suffix.lower() not in PLAYLIST_SUFFIXES:
        raise MoodError(f"Cannot write a playlist to {out_path}: the file name must end in .m3u8 or .m3u.")
    folder = Path(os.path.abspath(out_path.parent))
    if not folder.is_dir():
        raise MoodError(f"Cannot write a playlist to {out_path}: the folder {out_path.parent} does not exist.")
    entries: list[PlaylistEntry] = []
    missing: list[str] = []
    for row in rows:
        path = Path(os.path.abspath((base or Path.cwd()) / input_name(row)))  # links kept as links
        if path.is_file():
            entries.append(playlist_entry(path, row))
        else:
            missing.append(str(row["path"]))
    text = render_m3u(entries, None if absolute else folder)
    target = folder / out_path.name
    with replace_atomically(target) as temp:
        temp.write_text(text, encoding="utf-8")
    return PlaylistReport(target, len(entries), tuple(missing))
