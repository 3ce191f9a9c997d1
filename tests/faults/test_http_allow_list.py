"""Hostile preview URLs: whatever the form, the download must not open a connection to them.

A loopback listener stands in for the private address each URL really points at; it counts
connections, so a URL that slips past the allow-list shows up as a connection, not as a guess.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import responses

from mood.errors import SourceError
from mood.sources import http
from tests.faults.hostile_server import HostileServer, listener

PREVIEW_URL = "https://cdnt-preview.dzcdn.net/api/1/1/4/4/9/0/449d9ff8.mp3?hdnea=exp=1"

# Each form points at 127.0.0.1:{port} for requests, while some parsers read an allowed host in it.
HOSTILE_FORMS = [
    "https://127.0.0.1:{port}\\@a.mzstatic.com/x",
    "https://127.0.0.1:{port}\\\\@cdnt-preview.dzcdn.net/x",
    "https://localhost:{port}\\@a.mzstatic.com/x",
    "https://[::ffff:127.0.0.1]:{port}\\@a.mzstatic.com/x",
    "https://a.mzstatic.com@127.0.0.1:{port}/x",
    "https://a.mzstatic.com:x@127.0.0.1:{port}/x",
    "https://127.0.0.1:{port}/a.mzstatic.com/x",
    "https://127.0.0.1:{port}#@a.mzstatic.com/x",
    "http://127.0.0.1:{port}\\@a.mzstatic.com/x",
]


@pytest.fixture
def trap() -> Iterator[HostileServer]:
    with listener() as server:
        yield server


@pytest.fixture(autouse=True)
def _quick_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL that does get through fails fast instead of waiting out the real timeouts."""
    monkeypatch.setattr(http, "REQUEST_TIMEOUT_S", 1.0)
    monkeypatch.setattr(http, "DOWNLOAD_DEADLINE_S", 2.0)


@pytest.mark.parametrize("form", HOSTILE_FORMS)
def test_a_hostile_preview_url_opens_no_connection(trap: HostileServer, form: str) -> None:
    with pytest.raises(SourceError, match="Upload the file instead"):
        http.download(requests.Session(), form.format(port=trap.port), service="Deezer")
    assert trap.connections == 0


@pytest.mark.parametrize("form", HOSTILE_FORMS)
@responses.activate(assert_all_requests_are_fired=True)
def test_a_redirect_to_a_hostile_url_opens_no_connection(trap: HostileServer, form: str) -> None:
    responses.add_passthru("https://127.0.0.1")
    responses.add_passthru("https://localhost")
    responses.add_passthru("https://[")
    responses.add_passthru("http://127.0.0.1")
    responses.get(PREVIEW_URL, status=302, headers={"Location": form.format(port=trap.port)})
    with pytest.raises(SourceError, match="Upload the file instead"):
        http.download(requests.Session(), PREVIEW_URL, service="Deezer")
    assert trap.connections == 0
