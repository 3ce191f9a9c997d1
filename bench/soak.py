"""Listeners who come and go against one app server for minutes; some leave while they wait.

    .venv/bin/python -m bench.soak [--listeners 8] [--minutes 3] [--leave-share 0.35]

Starts `streamlit run` on a free localhost port. Each listener has its own headless Chromium
(Debian's) and, until the time is up, opens the app, uploads a song no one uploaded before
(the app analyses identical bytes once) and either waits for the answer or, as a share of them
do, closes the tab while the song waits for its turn or is being analysed. At the end one
more listener uploads a song to the then idle server: it must be answered without hearing
"Waiting for your turn", which shows that no listener who left still holds a place or a slot
in the analysis queue. Prints answered / failed / abandoned and the latency percentiles.
Nothing leaves the machine; every wait is bounded.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

from bench.load import WAITING, distinct_song, percentile
from mood.constants import SAMPLE_RATE
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

RESULT_TIMEOUT_S = 300.0  # per upload, on a busy 2-core machine
LEAVE_AFTER_S = (1.0, 40.0)  # a leaver closes the tab this long after uploading, or on hearing it must wait


@dataclass
class Tally:
    """What the listeners saw, summed over the run (guarded by ``lock``)."""

    answered: list[float] = field(default_factory=list)  # seconds from upload to answer
    shown_errors: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    abandoned: int = 0
    abandoned_waiting: int = 0  # of those, listeners who left after hearing they had to wait
    answered_waiting: int = 0  # answered listeners who had heard they had to wait
    lock: threading.Lock = field(default_factory=threading.Lock)


class Songs:
    """A fresh song file for every upload, made on demand."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._numbers = count()
        self._lock = threading.Lock()

    def next(self) -> Path:
        """A song whose bytes no earlier upload had."""
        with self._lock:
            i = next(self._numbers)
        gain = 1.0 - 0.002 * (i % 400)
        return write_audio(distinct_song(i) * gain, self.folder / f"song{i}.wav", sr=SAMPLE_RATE)


def one_visit(browser: object, url: str, song: Path, leave: bool, tally: Tally, rng: random.Random) -> None:
    """One page: upload ``song``; wait for the answer, or (``leave``) close the tab before it."""
    from playwright.sync_api import Browser, Error

    assert isinstance(browser, Browser)
    page = browser.new_page()
    try:
        open_upload_tab(page, url, timeout_s=RESULT_TIMEOUT_S)
        watch_for_text(page, WAITING)
        started = time.perf_counter()
        if leave:
            page.locator("input[type=file]").first.set_input_files(str(song))
            deadline = started + rng.uniform(*LEAVE_AFTER_S)
            while time.perf_counter() < deadline and not saw_text(page, WAITING):
                page.wait_for_timeout(100)
            with tally.lock:
                tally.abandoned += 1
                tally.abandoned_waiting += saw_text(page, WAITING)
            return
        headline, problem = upload_and_answer(page, song, timeout_s=RESULT_TIMEOUT_S)
        with tally.lock:
            if headline is None:
                tally.shown_errors.append(problem or "")
            else:
                tally.answered.append(time.perf_counter() - started)
                tally.answered_waiting += saw_text(page, WAITING)
    except Error as e:
        with tally.lock:
            tally.failures.append((str(e).splitlines() or [type(e).__name__])[0])
    finally:
        page.close()  # for a leaver: the tab closes while its song waits or is analysed


def listener(url: str, songs: Songs, until: float, leave_share: float, tally: Tally, seed: int) -> None:
    """Visit the app again and again until ``until`` (a ``time.monotonic`` instant)."""
    from playwright.sync_api import sync_playwright

    rng = random.Random(seed)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            while time.monotonic() < until:
                one_visit(browser, url, songs.next(), rng.random() < leave_share, tally, rng)
        finally:
            browser.close()


def idle_server_check(url: str, song: Path) -> str:
    """Upload once to the idle server: it must answer and never say "wait"."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            open_upload_tab(page, url, timeout_s=RESULT_TIMEOUT_S)
            watch_for_text(page, WAITING)
            headline, problem = upload_and_answer(page, song, timeout_s=RESULT_TIMEOUT_S)
            if headline is None:
                return f"FAILED: the idle server showed {problem!r}"
            if saw_text(page, WAITING):
                return "FAILED: the idle server made a new listener wait (a place or slot is still held)"
            return "ok: the idle server answered at once (queue empty, no slot held)"
        finally:
            browser.close()


def report(tally: Tally, listeners: int, minutes: float, final: str) -> str:
    """The bench's result in a few lines."""
    lines = [
        f"{listeners} listeners for {minutes:g} min: {len(tally.answered)} answered, "
        f"{len(tally.shown_errors)} errors shown, {len(tally.failures)} failed, "
        f"{tally.abandoned} abandoned ({tally.abandoned_waiting} while waiting for their turn); "
        f"{tally.answered_waiting} of the answered had waited for their turn",
    ]
    if tally.answered:
        lines.append(
            f"upload -> result: p50 {percentile(tally.answered, 50):.1f} s, "
            f"p95 {percentile(tally.answered, 95):.1f} s, max {max(tally.answered):.1f} s"
        )
    lines += [f"error shown: {e}" for e in tally.shown_errors] + [f"failed: {f}" for f in tally.failures]
    lines.append(f"after the run: {final}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--listeners", type=int, default=8, help="listeners at once, each with its own browser")
    parser.add_argument("--minutes", type=float, default=3.0, help="how long they keep coming")
    parser.add_argument("--leave-share", type=float, default=0.35, help="share of visits that close the tab early")
    args = parser.parse_args()

    songs = Songs(Path(tempfile.mkdtemp(prefix="mood-soak-")))
    tally = Tally()
    with serve_app() as url:
        idle_server_check(url, songs.next())  # warm the server: model load and imports are not measured
        until = time.monotonic() + args.minutes * 60
        with ThreadPoolExecutor(max_workers=args.listeners) as pool:
            runs = [pool.submit(listener, url, songs, until, args.leave_share, tally, i) for i in range(args.listeners)]
            for run in runs:
                run.result()
        final = idle_server_check(url, songs.next())
    print(report(tally, args.listeners, args.minutes, final))


if __name__ == "__main__":
    main()
