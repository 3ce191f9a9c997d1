"""One preview, one budget: lookups and downloads together stop at ``FETCH_DEADLINE_S``.

Each exchange has its own deadline too; here the download's (30 s) is far longer than the
budget (1 s), so only the budget can stop the drip. The preview is "found" on a loopback
server (the finders are replaced), and the preview-URL check is switched off for it
(``http.check_download_url``, the one seam), which test_http_allow_list.py covers.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from mood.errors import SourceError
from mood.sources import fetch_preview, http, previews
from mood.sources.records import Preview, Track
from tests.faults.hostile_server import HostileServer, slow_drip
from tests.helpers import SPOTIFY_GET_LUCKY


def _found_at(url: str) -> Callable[[requests.Session, Track], Preview]:
    def find(session: requests.Session, track: Track) -> Preview:
        return Preview(url=url, provider="deezer", page_url=None)

    return find


def test_a_slow_preview_stops_at_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(previews, "FETCH_DEADLINE_S", 1.0)
    monkeypatch.setattr(http, "REQUEST_TIMEOUT_S", 0.5)
    monkeypatch.setattr(http, "check_download_url", lambda url, service: None)
    with HostileServer(slow_drip(0.2), lifetime_s=20.0) as server:
        monkeypatch.setattr(previews, "_FINDERS", (("deezer", _found_at(server.url("/preview.mp3"))),))
        with pytest.raises(SourceError) as caught:
            fetch_preview(SPOTIFY_GET_LUCKY)
        assert not server.stopped  # the budget cut the drip; the server did not give up first
    assert str(caught.value) == (
        "Finding and downloading the preview took longer than 1 seconds. Try again later, or upload the file instead."
    )
