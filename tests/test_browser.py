"""The whole app in a real browser: `streamlit run` + Debian's Chromium driven by Playwright.

The screenshot of the result goes to the test's temporary folder; set MOOD_SCREENSHOT to a
path (e.g. docs/screenshot.png) to keep it for the README.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from mood.constants import MOOD_DISPLAY_NAMES, MOODS
from mood.presentation.demo import synthesise
from tests.e2e import (
    CHROMIUM_ARGS,
    chromium_path,
    open_tab,
    open_upload_tab,
    scroll_to_top,
    serve_app,
    upload_and_wait,
)
from tests.helpers import write_audio

pytestmark = pytest.mark.browser  # the conftest network guard still applies: all traffic is on 127.0.0.1
TIMEOUT_MS = 120_000
expect.set_options(timeout=TIMEOUT_MS)  # an analysis on a busy machine takes longer than expect's default 5 s


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with serve_app() as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    yield tab
    context.close()


TEMPO = re.compile(r"(Slow|Moderate tempo|Fast) \(\d+ BPM\)")
KEY = re.compile(r"In [A-G][#b]? (major|minor)|No clear key \(closest: [A-G][#b]? (major|minor)\)")


def test_upload_a_song_and_see_its_mood_tempo_and_key(page: Page, app_url: str, tmp_path: Path) -> None:
    song = write_audio(synthesise("sunny-arpeggio"), tmp_path / "bright song.mp3", sr=22_050)
    open_upload_tab(page, app_url)
    headline = upload_and_wait(page, song)
    assert any(MOOD_DISPLAY_NAMES[mood] in headline for mood in MOODS) and "%" in headline
    for mood in MOODS:  # the four probabilities, in the bars' legend and the numbers table
        expect(page.get_by_text(MOOD_DISPLAY_NAMES[mood]).first).to_be_attached()
    expect(page.get_by_role("heading", name="💡 Why this mood?")).to_be_visible()
    expect(page.locator("li").get_by_text(TEMPO)).to_be_visible()  # the descriptors, one bullet each
    expect(page.locator("li").get_by_text(KEY)).to_be_visible()
    expect(page.get_by_text("This session's songs")).to_be_visible()

    page.get_by_text("🔍 Show where in the sound the model heard it").click()  # on demand
    expect(
        page.get_by_text(re.compile(r"^(It relied most on the .+ into the clip\.|No single part .+)$"))
    ).to_be_visible()
    expect(page.get_by_text("Traceback")).to_have_count(0)
    screenshot = Path(os.environ.get("MOOD_SCREENSHOT") or tmp_path / "screenshot.png")
    page.set_viewport_size({"width": 1400, "height": 3100})  # Streamlit scrolls inside the page: show more
    expect(page.locator("img").last).to_be_attached()  # the spectrogram
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)  # the page has finished running
    scroll_to_top(page)
    page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 50_000


def test_two_songs_are_compared_side_by_side(page: Page, app_url: str, tmp_path: Path) -> None:
    song = write_audio(synthesise("rainy-pad"), tmp_path / "grey song.wav", sr=22_050)
    open_upload_tab(page, app_url)
    upload_and_wait(page, song)
    open_tab(page, "✨ Examples")
    page.get_by_role("button", name="Storm bursts").click()
    expect(page.locator("h3", has_text="Storm bursts").first).to_be_visible()
    open_tab(page, "⚖️ Compare two songs")
    compare = page.get_by_role("tabpanel", name="⚖️ Compare two songs")
    expect(compare.locator("h3", has_text="grey song.wav")).to_be_visible()
    expect(compare.locator("h3", has_text="Storm bursts")).to_be_visible()
    expect(compare.get_by_text(re.compile(r"“grey song\.wav” (sounds|and) .*“Storm bursts”"))).to_be_visible()
    expect(compare.locator("[data-testid=stVegaLiteChart]")).to_have_count(5)  # bars and timelines twice, one map
    expect(page.get_by_text("Traceback")).to_have_count(0)


def test_a_corrupt_file_shows_an_error_and_the_app_keeps_working(page: Page, app_url: str, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"ID3" + os.urandom(20_000))
    open_upload_tab(page, app_url)
    page.locator("input[type=file]").first.set_input_files(str(corrupt))
    expect(page.get_by_text("could not be read as audio")).to_be_visible()
    expect(page.get_by_text("Traceback")).to_have_count(0)
    # the app still works: a demo clip from the Examples tab is analysed
    page.get_by_role("tab", name="✨ Examples").click()
    page.get_by_role("button", name="Still water").click()
    expect(page.locator("h2", has_text=" — ").first).to_be_visible()
