"""Servers that answer too slowly: the whole exchange is bounded, not each wait for a byte.

The limits are shrunk (a 1 s deadline, 0.5 s per read) and the servers drip a byte every
0.2 s, so the per-read timeout never fires: only a real wall-clock deadline stops them. Each
server would drip for 20 s, so a client that gives up while the server still runs was cut by
its deadline, not let go by the server.
Downloads go over plain http to loopback, so these tests switch off the preview-URL check
(``http.check_download_url``, the one seam), which test_http_allow_list.py covers.
"""

from __future__ import annotations

import pytest
import requests

from mood.errors import SourceError
from mood.sources import http
from tests.faults.hostile_server import (
    Behaviour,
    HostileServer,
    answer,
    never_answers,
    self_signed_certificate,
    slow_drip,
    slow_headers,
    tls_drip,
)

LIFETIME_S = 20.0
TOO_SLOW = r"(took longer than 1 seconds|did not answer within 0 seconds)"
SLOW_BEHAVIOURS = {"body drip": slow_drip(0.2), "header drip": slow_headers(0.2), "silence": never_answers()}


@pytest.fixture(autouse=True)
def _short_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "DOWNLOAD_DEADLINE_S", 1.0)
    monkeypatch.setattr(http, "API_DEADLINE_S", 1.0)
    monkeypatch.setattr(http, "REQUEST_TIMEOUT_S", 0.5)
    monkeypatch.setattr(http, "check_download_url", lambda url, service: None)


@pytest.mark.parametrize("behaviour", SLOW_BEHAVIOURS.values(), ids=SLOW_BEHAVIOURS.keys())
def test_a_slow_download_stops_at_the_deadline(behaviour: Behaviour) -> None:
    with HostileServer(behaviour, lifetime_s=LIFETIME_S) as server:
        with pytest.raises(SourceError, match=TOO_SLOW):
            http.download(requests.Session(), server.url("/preview.mp3"), service="Deezer")
        assert not server.stopped


@pytest.mark.parametrize("behaviour", SLOW_BEHAVIOURS.values(), ids=SLOW_BEHAVIOURS.keys())
def test_a_slow_api_answer_stops_at_the_deadline(behaviour: Behaviour) -> None:
    with HostileServer(behaviour, lifetime_s=LIFETIME_S) as server:
        with pytest.raises(SourceError, match=TOO_SLOW):
            http.get_json(requests.Session(), server.url("/search"), service="Deezer")
        assert not server.stopped


def test_a_drip_is_reported_as_too_slow_not_as_a_broken_connection() -> None:
    with HostileServer(slow_drip(0.2), lifetime_s=LIFETIME_S) as server:
        with pytest.raises(SourceError) as caught:
            http.download(requests.Session(), server.url("/preview.mp3"), service="Deezer")
        assert not server.stopped
    assert str(caught.value) == (
        "Downloading the preview from Deezer took longer than 1 seconds. "
        "Check your internet connection, or try again later."
    )


def test_a_session_still_works_after_a_deadline_cut_its_connection() -> None:
    with HostileServer(slow_drip(0.2), lifetime_s=LIFETIME_S) as slow, HostileServer(answer(b'{"data": []}')) as fine:
        session = requests.Session()
        with pytest.raises(SourceError, match="took longer"):
            http.get_json(session, slow.url("/search"), service="Deezer")
        assert http.get_json(session, fine.url("/search"), service="Deezer") == {"data": []}


def test_the_deadline_holds_through_a_proxy() -> None:
    with HostileServer(slow_drip(0.2), lifetime_s=LIFETIME_S) as proxy:
        session = requests.Session()
        session.proxies = {"http": proxy.url()}  # the drip server answers as the proxy; nothing leaves loopback
        with pytest.raises(SourceError, match="took longer than 1 seconds"):
            http.get_json(session, "http://api.example/search", service="Deezer")
        assert not proxy.stopped


def test_a_dripping_tls_handshake_stops_in_time() -> None:
    with HostileServer(tls_drip(0.2), lifetime_s=LIFETIME_S, read_request=False) as server:
        with pytest.raises(SourceError, match=TOO_SLOW):  # Python bounds a whole handshake by the socket timeout
            http.get_json(requests.Session(), server.url("/search", scheme="https"), service="Deezer")
        assert not server.stopped


@pytest.fixture
def _trust_the_test_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests takes its CA bundle from the environment (over ``session.verify``), as in production."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(self_signed_certificate()))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.mark.usefixtures("_trust_the_test_certificate")
@pytest.mark.parametrize("behaviour", [slow_drip(0.2), slow_headers(0.2)], ids=["body drip", "header drip"])
def test_the_deadline_cuts_a_drip_over_tls(behaviour: Behaviour) -> None:
    with HostileServer(behaviour, lifetime_s=LIFETIME_S, tls=True) as server:
        with pytest.raises(SourceError, match="took longer than 1 seconds"):
            http.get_json(requests.Session(), server.url("/search"), service="Deezer")
        assert not server.stopped


@pytest.mark.usefixtures("_trust_the_test_certificate")
def test_a_tls_server_answers_through_the_guarded_transport() -> None:
    with HostileServer(answer(b'{"data": []}'), tls=True) as server:
        assert http.get_json(requests.Session(), server.url("/search"), service="Deezer") == {"data": []}
