"""Several listeners at once against one app server; prints latency percentiles.

    .venv/bin/python bench/load.py [--sessions 4] [--rounds 2]

Starts `streamlit run` on a free localhost port, opens N pages in one headless Chromium
(Debian's), and has every page upload a different synthesised song at the same moment,
`--rounds` times. Latency is from the upload to the result headline on the page (the page
itself is already open). Nothing
leaves the machine; the run is bounded by the sessions x rounds uploads and a timeout each.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mood.constants import SAMPLE_RATE
from mood.presentation.demo import DEMO_CLIPS, synthesise
from tests.e2e import CHROMIUM_ARGS, chromium_path, open_upload_tab, serve_app, upload_and_wait
from tests.helpers import write_audio


def one_session(url: str, song: Path) -> tuple[float, str]:
    """Open a page in its own browser and analyse ``song``; (seconds, error or "")."""
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            open_upload_tab(page, url)
            started = time.perf_counter()
            upload_and_wait(page, song)
            return time.perf_counter() - started, ""
        except Error as e:
            return float("nan"), str(e).splitlines()[0]
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4, help="simultaneous listeners")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="mood-load-"))
    songs = [
        write_audio(synthesise(DEMO_CLIPS[i % len(DEMO_CLIPS)].key), folder / f"song{i}.wav", sr=SAMPLE_RATE)
        for i in range(args.sessions)
    ]
    latencies: list[float] = []
    errors: list[str] = []
    with serve_app() as url:
        one_session(url, songs[0])  # warm the server: model load and imports are not what we measure
        with ThreadPoolExecutor(max_workers=args.sessions) as pool:
            for _ in range(args.rounds):
                for seconds, error in pool.map(lambda s: one_session(url, s), songs):
                    if error:
                        errors.append(error)
                    else:
                        latencies.append(seconds)
    print(f"{args.sessions} simultaneous sessions x {args.rounds} rounds: {len(latencies)} ok, {len(errors)} failed")
    if latencies:
        p95 = statistics.quantiles(latencies, n=20, method="inclusive")[18] if len(latencies) > 1 else latencies[0]
        print(
            f"upload -> result: p50 {statistics.median(latencies):.1f} s, p95 {p95:.1f} s, max {max(latencies):.1f} s"
        )
    for error in errors:
        print("failed:", error)


if __name__ == "__main__":
    main()
