"""A playlist at once: each track's 30 s preview fetched and analysed in turn, paced for Deezer.

A :class:`PlaylistRun` holds the tracks and what became of each. :func:`run_playlist` works
through the tracks still to do and reports its progress through a callback, so a run that
is interrupted (the page reran) keeps every song it finished and can simply go on. A track
without a preview, or whose preview does not play, is recorded with the reason and the run
continues. Plain Python: the app drives it, tests run it without Streamlit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Final

from mood.engine.inference import Predictor
from mood.errors import MoodError
from mood.presentation.report import SongResult, song_result
from mood.service.analysis import analyse, song_from_preview
from mood.sources import PreviewAudio, Track, fetch_preview
from mood.sources.pacing import Pacer
from mood.sources.playlists import MAX_COLLECTION_TRACKS

log = logging.getLogger(__name__)

MAX_PLAYLIST_TRACKS: Final = MAX_COLLECTION_TRACKS  # songs analysed from one playlist, album or pick
UNEXPECTED_PROBLEM: Final = "Something went wrong with this song on our side; the others were analysed."

Turn = Callable[[], AbstractContextManager[None]]


@dataclass(frozen=True)
class TrackOutcome:
    """What became of one track of a run.

    Attributes:
        track: the track.
        result: its analysis, or None when it could not be analysed.
        key: the sha256 of its preview's audio (the session's key for the song), or None.
        problem: why it was not analysed, in words for the listener, or None.
    """

    track: Track
    result: SongResult | None = None
    key: str | None = None
    problem: str | None = None


@dataclass
class PlaylistRun:
    """A playlist (or album, or a pick of search results) being analysed, one track after another.

    Attributes:
        title: what to call it, e.g. the playlist's name.
        tracks: its songs in order, at most ``MAX_PLAYLIST_TRACKS``.
        model: the model that judges every song of the run.
        notice: a message from the service to show beside it (songs left out, a cut), or None.
        outcomes: what became of each finished track, in order.
        stopped: the listener asked to stop; the remaining tracks are left undone.
    """

    title: str
    tracks: tuple[Track, ...]
    model: str
    notice: str | None = None
    outcomes: list[TrackOutcome] = field(default_factory=list)
    stopped: bool = False

    def __post_init__(self) -> None:
        if not 1 <= len(self.tracks) <= MAX_PLAYLIST_TRACKS:
            raise ValueError(f"a run needs 1 to {MAX_PLAYLIST_TRACKS} tracks, not {len(self.tracks)}")

    @property
    def done(self) -> int:
        """How many tracks are finished (analysed or not)."""
        return len(self.outcomes)

    @property
    def finished(self) -> bool:
        """Every track is done, or the listener stopped the run."""
        return self.stopped or self.done == len(self.tracks)

    @property
    def analysed(self) -> list[TrackOutcome]:
        """The outcomes with a result, in playlist order."""
        return [o for o in self.outcomes if o.result is not None]

    @property
    def failed(self) -> list[TrackOutcome]:
        """The outcomes without a result, in playlist order."""
        return [o for o in self.outcomes if o.result is None]


def run_playlist(
    run: PlaylistRun,
    outcome_of_track: Callable[[Track], TrackOutcome],
    on_progress: Callable[[int, int, Track], None] | None = None,
) -> PlaylistRun:
    """Analyse the run's remaining tracks in order, recording each outcome as soon as it is known.

    A :class:`~mood.errors.MoodError` (no preview, a download or decode failure) becomes the
    track's ``problem`` and the run goes on; so does an unexpected failure, which is logged.

    Args:
        run: the run; its ``outcomes`` grow as tracks finish (it is changed in place).
        outcome_of_track: fetches and judges one track (see :func:`outcome_of_track`).
        on_progress: called before each track with how many are done, how many there are,
            and the track about to start.

    Returns:
        ``run``, finished unless it was stopped.
    """
    for track in run.tracks[run.done :]:
        if run.stopped:
            break
        if on_progress is not None:
            on_progress(run.done, len(run.tracks), track)
        run.outcomes.append(_outcome(track, outcome_of_track))
    return run


def _outcome(track: Track, outcome_of_track: Callable[[Track], TrackOutcome]) -> TrackOutcome:
    try:
        return outcome_of_track(track)
    except MoodError as error:
        return TrackOutcome(track, problem=str(error))
    except Exception:
        log.exception("Unexpected error analysing a playlist track")
        return TrackOutcome(track, problem=UNEXPECTED_PROBLEM)


def outcome_of_track(
    track: Track,
    predictor: Predictor,
    pacer: Pacer,
    turn: Turn = nullcontext,
    fetch: Callable[[Track], PreviewAudio] = fetch_preview,
) -> TrackOutcome:
    """Fetch one track's preview (after ``pacer``'s wait) and judge it (inside ``turn()``).

    Args:
        track: the song.
        predictor: the loaded model.
        pacer: spaces out the preview fetches (share one per server).
        turn: a context manager factory holding a place in the analysis queue, e.g.
            :meth:`mood.service.queue.AnalysisQueue.turn`.
        fetch: downloads a preview (the real :func:`mood.sources.fetch_preview` by default).

    Raises:
        SourceError: no preview was found or it could not be downloaded or played.
        AudioError: the preview is too short or silent.
    """
    pacer.wait()
    song = song_from_preview(fetch(track))
    with turn():
        analysis = analyse(song.data, predictor)
    return TrackOutcome(track, result=song_result(song, analysis), key=song.key)
