"""A playlist at once, without Streamlit: pacing, progress, songs without previews, stopping and
resuming; previews faked with `responses`, songs judged by the random-weight models."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from mood.constants import MOODS
from mood.engine.inference import Prediction, Predictor
from mood.errors import SourceError
from mood.presentation.playlist_report import failures_frame, progress_text, results_of, summary
from mood.presentation.report import SongResult
from mood.service.playlist_run import (
    MAX_PLAYLIST_TRACKS,
    UNEXPECTED_PROBLEM,
    PlaylistRun,
    TrackOutcome,
    outcome_of_track,
    run_playlist,
)
from mood.sources import Track
from mood.sources.deezer import parse_track
from mood.sources.pacing import PREVIEW_INTERVAL_S, Pacer
from tests.helpers import chord_progression, write_audio

FIXTURES = Path(__file__).parent / "fixtures"
PLAYLIST = json.loads((FIXTURES / "deezer_playlist.json").read_text())
ITEMS: list[dict[str, Any]] = PLAYLIST["tracks"]["data"]
TRACKS = tuple(track for track in map(parse_track, ITEMS) if track is not None)
NO_PREVIEW = "No preview found for “Daft Punk – Around the World”: upload the file instead."


class FakeClock:
    """A monotonic clock that moves only when the test says so (or, with ``advance``, when someone sleeps)."""

    def __init__(self, advance: bool = False) -> None:
        self.now = 100.0
        self.advance = advance
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(round(seconds, 6))
            if self.advance:
                self.now += seconds


def _pacer(clock: FakeClock) -> Pacer:
    return Pacer(PREVIEW_INTERVAL_S, clock=clock, sleep=clock.sleep)


def _result(track: Track, mood: str) -> SongResult:
    probabilities = {m: 0.7 if m == mood else 0.1 for m in MOODS}
    return SongResult(track.label, "Deezer preview", (Prediction("ensemble", probabilities, 30.0, ()),))


# ---------------------------------------------------------------- pacing


def test_the_pacer_spaces_events_by_its_interval_and_not_more() -> None:
    clock = FakeClock()
    pacer = _pacer(clock)
    assert [pacer.wait() for _ in range(3)] == pytest.approx([0.0, PREVIEW_INTERVAL_S, 2 * PREVIEW_INTERVAL_S])
    clock.now += 10.0  # a long pause: the next one goes at once
    assert pacer.wait() == 0.0
    clock.now += 0.1
    assert pacer.wait() == pytest.approx(PREVIEW_INTERVAL_S - 0.1)


def test_the_pacer_gives_each_of_many_threads_its_own_slot() -> None:
    clock = FakeClock()
    pacer = _pacer(clock)
    threads = [threading.Thread(target=pacer.wait) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [round(i * PREVIEW_INTERVAL_S, 6) for i in range(1, 6)]  # the first needs no sleep
    assert sorted(clock.sleeps) == pytest.approx(expected)


def test_the_interval_keeps_within_deezers_50_requests_per_5_seconds() -> None:
    requests_per_fetch = 4  # lookup, search fallback, and a second lookup + download of an expired link
    assert requests_per_fetch * 5.0 / PREVIEW_INTERVAL_S <= 50


# ---------------------------------------------------------------- a real run


def _serve(items: list[dict[str, Any]], audio: list[bytes], without_preview: str) -> None:
    served = iter(audio)
    for item in items:
        url = f"https://api.deezer.com/track/{item['id']}"
        if item["title"] == without_preview:
            responses.get(url, json={**item, "readable": False, "preview": ""})
            query = {"q": f'artist:"Daft Punk" track:"{item["title"]}"', "limit": "10"}
            empty = json.loads((FIXTURES / "deezer_search_empty.json").read_text())
            responses.get("https://api.deezer.com/search", json=empty, match=[matchers.query_param_matcher(query)])
            itunes_empty = json.loads((FIXTURES / "itunes_search_empty.json").read_text())
            responses.get("https://itunes.apple.com/search", json=itunes_empty)
        else:
            responses.get(url, json=item)
            responses.get(item["preview"], body=next(served), content_type="audio/mpeg")


@pytest.fixture(scope="module")
def predictor(random_weights_dir: Path) -> Predictor:
    return Predictor("ensemble", random_weights_dir)


@responses.activate(assert_all_requests_are_fired=True)
def test_a_playlist_is_fetched_paced_and_judged_and_a_song_without_preview_is_recorded(
    predictor: Predictor, tmp_path: Path
) -> None:
    audio = [write_audio(chord_progression(6.0, seed=i), tmp_path / f"{i}.wav").read_bytes() for i in range(3)]
    _serve(ITEMS, audio, without_preview="Around the World")
    clock = FakeClock(advance=True)  # only the pacer's sleeps move it: fetches and analyses take no time
    turns: list[str] = []

    @contextmanager
    def turn() -> Iterator[None]:
        turns.append("in")
        yield
        turns.append("out")

    progress: list[tuple[int, int, str]] = []
    run = PlaylistRun(PLAYLIST["title"], TRACKS, "ensemble")
    pacer = _pacer(clock)  # one for the whole run (the app shares one per server)
    run_playlist(
        run,
        lambda track: outcome_of_track(track, predictor, pacer, turn),
        lambda done, total, track: progress.append((done, total, track.title)),
    )

    assert run.finished and run.done == 4
    assert progress == [(i, 4, t.title) for i, t in enumerate(TRACKS)]
    assert clock.sleeps == pytest.approx([PREVIEW_INTERVAL_S] * 3)  # each fetch after the first waited its turn
    assert turns == ["in", "out"] * 3  # each analysis held a place in the queue; the failure did not
    assert [o.track.title for o in run.failed] == ["Around the World"]
    assert run.failed[0].problem == NO_PREVIEW
    results = results_of(run.outcomes)
    assert [r.song for r in results] == [t.label for t in TRACKS if t.title != "Around the World"]
    assert all(r.source == "Deezer preview" and r.descriptors is not None for r in results)
    assert all(sum(r.prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-3) for r in results)
    assert len({o.key for o in run.analysed}) == 3  # each song keyed by its own audio


# ---------------------------------------------------------------- stopping, resuming, failures


class Interrupted(BaseException):
    """What Streamlit raises in the script thread when the page reruns (not an Exception)."""


def test_an_interrupted_run_keeps_its_songs_and_goes_on_from_the_next() -> None:
    run = PlaylistRun("Mix", TRACKS, "ensemble")
    judged: list[str] = []

    def outcome(track: Track) -> TrackOutcome:
        judged.append(track.title)
        return TrackOutcome(track, _result(track, "happy"), key=track.id)

    def interrupt_before_the_third(done: int, total: int, track: Track) -> None:
        if done == 2 and len(judged) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        run_playlist(run, outcome, interrupt_before_the_third)
    assert run.done == 2 and not run.finished
    run_playlist(run, outcome)
    assert judged == [t.title for t in TRACKS]  # nothing judged twice
    assert [o.track for o in run.outcomes] == list(TRACKS)


def test_stopping_leaves_the_rest_undone_and_says_so() -> None:
    run = PlaylistRun("Mix", TRACKS, "ensemble")

    def stop_after_the_first(done: int, total: int, track: Track) -> None:
        if done == 1:
            run.stopped = True

    run_playlist(run, lambda track: TrackOutcome(track, _result(track, "sad"), key=track.id), stop_after_the_first)
    assert run.done == 2 and run.finished  # the song under way when Stop came is finished
    assert summary(run) == "2 of 4 songs of “Mix” analysed: 2 sad / melancholic. Stopped before the last 2."


def test_a_failure_of_any_kind_is_one_songs_problem_and_the_run_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    timeout = "Deezer did not answer within 10 seconds. Check your internet connection."

    def outcome(track: Track) -> TrackOutcome:
        if track.title == "One More Time":
            raise SourceError(timeout)
        if track.title == "Around the World":
            raise RuntimeError("internal detail 0xdeadbeef")
        return TrackOutcome(track, _result(track, "calm" if "Lucky" in track.title else "angry"), key=track.id)

    with caplog.at_level(logging.ERROR, logger="mood.service.playlist_run"):
        run = run_playlist(PlaylistRun("Mix", TRACKS, "ensemble"), outcome)
    assert run.finished and len(run.analysed) == 2
    failures = failures_frame(run.outcomes)
    assert failures.to_dict("records") == [
        {"song": "Daft Punk – One More Time", "why": timeout},
        {"song": "Daft Punk – Around the World", "why": UNEXPECTED_PROBLEM},
    ]
    assert "0xdeadbeef" not in UNEXPECTED_PROBLEM
    assert any(r.exc_info and "0xdeadbeef" in str(r.exc_info[1]) for r in caplog.records)
    assert summary(run) == (
        "2 of 4 songs of “Mix” analysed: 1 angry / tense, 1 calm / relaxed. 2 could not be analysed (listed below)."
    )


def test_words_for_progress_and_an_empty_result() -> None:
    assert progress_text(2, 20, TRACKS[0]) == "Song 3 of 20: Daft Punk – One More Time"
    run = run_playlist(PlaylistRun("Mix", TRACKS[:1], "ensemble"), lambda t: TrackOutcome(t, problem="No preview."))
    assert summary(run) == "0 of 1 songs of “Mix” analysed. 1 could not be analysed (listed below)."
    assert results_of(run.outcomes) == []
    assert failures_frame([]).columns.tolist() == ["song", "why"]


def test_a_run_holds_one_to_a_hundred_songs() -> None:
    many = tuple(Track(f"Song {i}", ("Band",), None, None, None, None, None, "deezer", str(i)) for i in range(101))
    assert len(PlaylistRun("Big", many[:MAX_PLAYLIST_TRACKS], "ensemble").tracks) == 100
    for tracks in ((), many):
        with pytest.raises(ValueError, match="1 to 100 tracks"):
            PlaylistRun("Bad", tracks, "ensemble")
