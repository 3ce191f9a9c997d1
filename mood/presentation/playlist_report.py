"""A playlist run in words and tables: progress lines, the closing sentence, what could not be analysed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pandas as pd

from mood.constants import MOOD_DISPLAY_NAMES, MOODS
from mood.presentation.report import SongResult
from mood.service.playlist_run import PlaylistRun, TrackOutcome
from mood.sources import Track


def progress_text(done: int, total: int, track: Track) -> str:
    """The progress line before a track starts: "Song 3 of 20: Daft Punk – One More Time"."""
    return f"Song {done + 1} of {total}: {track.label}"


def summary(run: PlaylistRun) -> str:
    """The run in one or two sentences: how many songs were analysed and their moods, what is missing.

    Example: "3 of 4 songs of “Essentials” analysed: 2 happy / upbeat, 1 calm / relaxed.
    1 could not be analysed (listed below)."
    """
    analysed = run.analysed
    counts = Counter(o.result.prediction.mood for o in analysed if o.result is not None)
    moods = ", ".join(f"{counts[m]} {MOOD_DISPLAY_NAMES[m].lower()}" for m in MOODS if counts[m])
    sentence = f"{len(analysed)} of {len(run.tracks)} songs of “{run.title}” analysed" + (
        f": {moods}." if moods else "."
    )
    if failed := len(run.failed):
        sentence += f" {failed} could not be analysed (listed below)."
    if run.stopped and run.done < len(run.tracks):
        sentence += f" Stopped before the last {len(run.tracks) - run.done}."
    return sentence


def failures_frame(outcomes: Iterable[TrackOutcome]) -> pd.DataFrame:
    """The tracks that were not analysed: columns ``song`` ("Artist – Title") and ``why``."""
    rows = [{"song": o.track.label, "why": o.problem} for o in outcomes if o.result is None]
    return pd.DataFrame(rows, columns=["song", "why"])


def results_of(outcomes: Iterable[TrackOutcome]) -> list[SongResult]:
    """The analysed songs' results, in order."""
    return [o.result for o in outcomes if o.result is not None]
