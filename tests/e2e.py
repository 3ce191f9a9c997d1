"""Run the real app and drive it in Debian's Chromium: shared by the browser test and
`bench/load.py`. Nothing is downloaded: Playwright is pointed at the system browser."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

REPO_DIR = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 90.0
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The system Chromium; a clear error when it is missing (`make test` installs it)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("Debian's chromium is needed for the browser tests: apt-get install chromium")
    return path


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_app(env: dict[str, str] | None = None) -> Iterator[str]:
    """Start `streamlit run streamlit_app.py` on a free localhost port; yield its URL once
    `/_stcore/health` answers; stop it afterwards."""
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(REPO_DIR / "streamlit_app.py"),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=REPO_DIR, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if server.poll() is not None:
                output = server.stdout.read().decode(errors="replace") if server.stdout else ""
                raise RuntimeError(f"streamlit exited with {server.returncode}:\n{output}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer on {url} within {STARTUP_TIMEOUT_S:.0f} s")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def open_tab(page: Page, name: str, timeout_s: float = 120.0) -> None:
    """Switch the open app to the tab called ``name`` (e.g. "✨ Examples")."""
    page.get_by_role("tab", name=name).click(timeout=timeout_s * 1000)


def open_upload_tab(page: Page, url: str, timeout_s: float = 120.0) -> None:
    """Open the app and switch to its Upload tab."""
    page.goto(url, wait_until="domcontentloaded")
    open_tab(page, "📁 Upload", timeout_s)


PROBLEM_SELECTOR = "[data-testid=stAlertContentError], [data-testid=stAlertContentWarning]"  # st.error, st.warning


def watch_for_text(page: Page, text: str) -> None:
    """Remember whether ``text`` ever shows on the open page, however briefly (see :func:`saw_text`)."""
    page.evaluate(
        """text => {
            window.__seen = window.__seen || {};
            const look = () => { if (document.body.innerText.includes(text)) window.__seen[text] = true; };
            new MutationObserver(look).observe(document.body, {subtree: true, childList: true, characterData: true});
            look();
        }""",
        text,
    )


def saw_text(page: Page, text: str) -> bool:
    """Whether ``text`` showed since :func:`watch_for_text` started watching for it."""
    return bool(page.evaluate("text => Boolean(window.__seen && window.__seen[text])", text))


def upload_and_answer(page: Page, audio: Path, timeout_s: float = 120.0) -> tuple[str | None, str | None]:
    """Upload ``audio`` in the open Upload tab and wait for the result headline or an error or
    warning message, whichever shows first: ``(headline, None)`` or ``(None, message)``."""
    page.locator("input[type=file]").first.set_input_files(str(audio))
    headline = page.locator("h2", has_text=" — ").first
    problem = page.locator(PROBLEM_SELECTOR).first
    headline.or_(problem).wait_for(timeout=timeout_s * 1000)
    if headline.is_visible():
        return headline.inner_text(), None
    return None, problem.inner_text().strip()


def upload_and_wait(page: Page, audio: Path, timeout_s: float = 120.0) -> str:
    """Upload ``audio`` in the open Upload tab and return the text of the result headline
    (an `h2` such as "😄 Happy / upbeat — 72 %") once it shows."""
    page.locator("input[type=file]").first.set_input_files(str(audio))
    headline = page.locator("h2", has_text=" — ").first
    headline.wait_for(timeout=timeout_s * 1000)
    return headline.inner_text()


def scroll_to_top(page: Page) -> None:
    """Scroll the app back to its top (Streamlit scrolls inside its own containers, not the window)."""
    page.evaluate("() => document.querySelectorAll('*').forEach(element => { element.scrollTop = 0; })")
