"""Several listeners at once against one app server; prints failures, errors shown and latency percentiles.

    .venv/bin/python -m bench.load [--sessions 8] [--rounds 2]

Starts `streamlit run` on a free localhost port and gives each listener its own headless
Chromium (Debian's). In each round every listener opens the app, all wait until every page
is open, then all upload a different synthesised song at the same moment. Latency is from
the upload to the result headline on the page. The app runs analyses through one queue for
the whole server, so listeners beyond its places wait: the bench counts how many saw
"Waiting for your turn". Nothing leaves the machine; the run is bounded by sessions x rounds
uploads and a timeout each.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mood.constants import SAMPLE_RATE
from mood.presentation.demo import DEMO_CLIPS, synthesise
from tests.e2e import (
    CHROMIUM_ARGS,
    chromium_path,
    open_upload_tab,
    saw_text,
    serve_app,
    upload_and_answer,
    watch_for_text,
)
from tests.helpers import write_audio

RESULT_TIMEOUT_S = 300.0  # per upload: eight analyses queue behind two places on a busy machine
START_TIMEOUT_S = 300.0  # for every page of a round to open
WAITING = "Waiting for your turn"


@dataclass(frozen=True)
class Outcome:
    """One listener's upload: seconds to the result, the error the page showed, a failure of the run."""

    seconds: float | None = None
    shown_error: str | None = None  # an st.error / st.warning the page showed instead of a result
    failure: str | None = None  # the page never answered (a timeout, a crash)
    waited: bool = False  # saw "Waiting for your turn"


def one_session(url: str, song: Path, everyone_ready: threading.Barrier) -> Outcome:
    """Open the app in its own browser, wait for every listener, upload ``song`` and time the answer."""
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            open_upload_tab(page, url, timeout_s=START_TIMEOUT_S)
            watch_for_text(page, WAITING)
            everyone_ready.wait(timeout=START_TIMEOUT_S)
            started = time.perf_counter()
            headline, problem = upload_and_answer(page, song, timeout_s=RESULT_TIMEOUT_S)
            seconds = time.perf_counter() - started
            waited = saw_text(page, WAITING)
            if headline is None:
                return Outcome(shown_error=problem, waited=waited)
            return Outcome(seconds=seconds, waited=waited)
        except (Error, threading.BrokenBarrierError) as e:
            everyone_ready.abort()  # the others must not wait for this one
            return Outcome(failure=(str(e).splitlines() or [type(e).__name__])[0])
        finally:
            browser.close()


def distinct_song(i: int) -> npt.NDArray[np.float32]:
    """A demo clip, a little quieter for each listener: no two uploads are the same bytes (the app
    analyses identical bytes once)."""
    wav: npt.NDArray[np.float32] = synthesise(DEMO_CLIPS[i % len(DEMO_CLIPS)].key) * np.float32(1.0 - 0.02 * i)
    return wav


def percentile(values: list[float], q: int) -> float:
    """The ``q``-th percentile (inclusive method; the value itself for a single one)."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(outcomes: list[Outcome], sessions: int, rounds: int) -> str:
    """The bench's result in a few lines."""
    latencies = [o.seconds for o in outcomes if o.seconds is not None]
    errors = [o.shown_error for o in outcomes if o.shown_error is not None]
    failures = [o.failure for o in outcomes if o.failure is not None]
    lines = [
        f"{sessions} simultaneous sessions x {rounds} rounds: {len(latencies)} results, "
        f"{len(errors)} errors shown, {len(failures)} failures",
        f"saw “{WAITING}”: {sum(o.waited for o in outcomes)} of {len(outcomes)} uploads",
    ]
    if latencies:
        lines.append(
            f"upload -> result: p50 {percentile(latencies, 50):.1f} s, p95 {percentile(latencies, 95):.1f} s, "
            f"max {max(latencies):.1f} s"
        )
    lines += [f"error shown: {error}" for error in errors] + [f"failed: {failure}" for failure in failures]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8, help="simultaneous listeners, each with its own browser")
    parser.add_argument("--rounds", type=int, default=2, help="how many times they all upload at once")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="mood-load-"))
    songs = [write_audio(distinct_song(i), folder / f"song{i}.wav", sr=SAMPLE_RATE) for i in range(args.sessions)]
    outcomes: list[Outcome] = []
    with serve_app() as url:
        one_session(url, songs[0], threading.Barrier(1))  # warm the server: model load and imports are not measured
        with ThreadPoolExecutor(max_workers=args.sessions) as pool:
            for _ in range(args.rounds):
                barrier = threading.Barrier(args.sessions)
                outcomes += pool.map(one_session, [url] * len(songs), songs, [barrier] * len(songs))
    print(report(outcomes, args.sessions, args.rounds))


if __name__ == "__main__":
    main()
