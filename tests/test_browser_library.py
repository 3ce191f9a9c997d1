"""The Library tab in a real browser: `streamlit run` with MOOD_LIBRARY set, Debian's Chromium
driven by Playwright. The results file is made here (2,500 synthetic songs, so the map draws its
sample over a density); set MOOD_LIBRARY_SCREENSHOT to a path (e.g. docs/library.png) to keep
the tab's screenshot."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from mood.constants import MOODS
from mood.presentation.report import mood_label
from tests.e2e import CHROMIUM_ARGS, chromium_path, open_tab, scroll_to_top, serve_app
from tests.library_rows import synthetic_records, write_results

pytestmark = pytest.mark.browser
TIMEOUT_MS = 120_000
N_ROWS = 2500
LIBRARY_TAB = "📚 Library"
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return synthetic_records(N_ROWS, Path("/srv/music"), seed=7)


@pytest.fixture(scope="module")
def page(records: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """The app serving a results file of ``records`` from MOOD_LIBRARY, open in Chromium."""
    results = write_results(tmp_path_factory.mktemp("library") / "my-library.parquet", records)
    with serve_app({"MOOD_LIBRARY": str(results)}) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        tab.goto(url, wait_until="domcontentloaded")
        yield tab
        browser.close()


def test_the_library_tab_shows_the_collection_on_the_map_and_its_mood_counts(
    page: Page, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    open_tab(page, LIBRARY_TAB)
    library = page.get_by_role("tabpanel", name=LIBRARY_TAB)
    n_songs = sum("error" not in r for r in records)
    expect(library.get_by_text(f"{n_songs:,} of {n_songs:,} songs")).to_be_visible()
    for mood in MOODS:
        metric = library.get_by_test_id("stMetric").filter(has_text=mood_label(mood))
        expected = sum(r.get("mood") == mood for r in records if "error" not in r)
        expect(metric.get_by_test_id("stMetricValue")).to_have_text(f"{expected:,}")
    chart = library.locator("[data-testid=stVegaLiteChart]")
    expect(chart).to_have_count(1)
    expect(chart.locator("canvas, svg").first).to_be_visible()  # vega drew it
    expect(
        library.get_by_role("button", name=f"Download these {n_songs:,} songs as a playlist (.m3u8)")
    ).to_be_visible()
    expect(library.get_by_text(f"Not analysed ({N_ROWS - n_songs} files):")).to_be_visible()
    expect(page.get_by_text("Traceback")).to_have_count(0)

    screenshot = Path(os.environ.get("MOOD_LIBRARY_SCREENSHOT") or tmp_path / "library.png")
    page.set_viewport_size({"width": 1400, "height": 1900})
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)  # the page has finished running
    scroll_to_top(page)
    page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 50_000
