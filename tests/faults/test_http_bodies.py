"""Answers too big, inflating, cut short or sent elsewhere: each refused in words, nothing held in memory.

The caps are shrunk to 1 MB so that the servers (loopback, bounded) stay small and fast.
Downloads go over plain http to loopback, so these tests switch off the preview-URL check
(``http.check_download_url``, the one seam), which test_http_allow_list.py covers.
"""

from __future__ import annotations

import gzip

import pytest
import requests

from mood.errors import SourceError
from mood.sources import http
from mood.sources.constants import MAX_REDIRECTS
from tests.faults.hostile_server import (
    HostileServer,
    answer,
    gzip_bomb,
    huge_body,
    listener,
    lying_length,
    raw,
    redirect,
)

CAP = 2**20
BIG_JSON = b"[" + b"0," * CAP + b"0]"  # valid JSON, twice the cap
UNREADABLE = "Deezer sent an answer this app could not read. Try again later."
CUT_SHORT = "The connection to Deezer failed. Try again later."  # urllib3 reads a bad chunk size as a short read


@pytest.fixture(autouse=True)
def _small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "MAX_ANSWER_BYTES", CAP)
    monkeypatch.setattr(http, "MAX_DOWNLOAD_BYTES", CAP)
    monkeypatch.setattr(http, "REQUEST_TIMEOUT_S", 1.0)
    monkeypatch.setattr(http, "check_download_url", lambda url, service: None)


def _get_json(server: HostileServer) -> object:
    return http.get_json(requests.Session(), server.url("/search"), service="Deezer")


def _download(server: HostileServer) -> http.Download:
    return http.download(requests.Session(), server.url("/preview.mp3"), service="Deezer")


@pytest.mark.parametrize("declare", [True, False], ids=["declared", "undeclared"])
def test_an_api_answer_over_the_cap_is_refused(declare: bool) -> None:
    with HostileServer(answer(BIG_JSON, declare=declare)) as server, pytest.raises(SourceError) as caught:
        _get_json(server)
    assert str(caught.value) == "Deezer sent an answer larger than 1 MB. Try again later."


def test_an_api_answer_that_inflates_past_the_cap_is_refused() -> None:
    bomb = answer(gzip.compress(b"[" + b" " * 8 * CAP + b"]"), headers={"Content-Encoding": "gzip"})
    with HostileServer(bomb) as server, pytest.raises(SourceError, match="larger than 1 MB"):
        _get_json(server)


def test_a_gzip_preview_is_capped_at_its_inflated_size() -> None:
    with HostileServer(gzip_bomb(8 * CAP)) as server, pytest.raises(SourceError, match="larger than 1 MB"):
        _download(server)


@pytest.mark.parametrize("declare", [True, False], ids=["declared", "undeclared"])
def test_a_preview_over_the_cap_is_refused(declare: bool) -> None:
    with (
        HostileServer(huge_body(8 * CAP, declare=declare)) as server,
        pytest.raises(SourceError, match="larger than 1 MB"),
    ):
        _download(server)


@pytest.mark.parametrize("fetch", [_get_json, _download], ids=["api", "download"])
def test_a_body_shorter_than_its_length_is_an_error_not_a_result(fetch: object) -> None:
    with HostileServer(lying_length(1000, b'{"data": []}')) as server, pytest.raises(SourceError) as caught:
        fetch(server)  # type: ignore[operator]
    assert str(caught.value) == CUT_SHORT


def test_an_api_redirect_loop_stops_after_a_few_hops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "check_redirect_url", lambda url, service: None)  # hops to loopback http
    with HostileServer(redirect("/search"), max_connections=8) as server:
        with pytest.raises(SourceError) as caught:
            _get_json(server)
        assert str(caught.value) == "Deezer redirected too many times. Try again later."
        assert server.connections == MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://127.0.0.1:{port}/", "not secure"),
        ("https://127.0.0.1:{port}/", "not secure"),
        ("https://127.0.0.1/", r"does not trust \(127.0.0.1\)"),
        ("https://[::1]/", "does not trust"),
        ("https://10.0.0.1/", "does not trust"),
        ("https://api.deezer.com@127.0.0.1:{port}/", "not secure"),
        ("https://127.0.0.1:{port}\\@api.deezer.com/", "not secure|not valid"),
    ],
)
def test_an_api_redirect_to_a_private_address_is_not_followed(location: str, expected: str) -> None:
    with listener() as trap:
        with HostileServer(redirect(location.format(port=trap.port))) as server, pytest.raises(SourceError) as caught:
            _get_json(server)
        assert trap.connections == 0
    assert "Deezer redirected to an address that" in str(caught.value)
    assert caught.match(expected)


BROKEN_ANSWERS = {
    "not http": (b"SSH-2.0-OpenSSH_9.6\r\n", UNREADABLE),
    "too many headers": (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", UNREADABLE),
    "endless header line": (b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 70_000 + b"\r\n\r\n", UNREADABLE),
    "bad gzip": (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 8\r\n\r\nnot gzip", UNREADABLE),
    "bad chunking": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n", CUT_SHORT),
    "hung up": (b"", CUT_SHORT),
}


@pytest.mark.parametrize(("answer_bytes", "expected"), BROKEN_ANSWERS.values(), ids=BROKEN_ANSWERS.keys())
@pytest.mark.parametrize("fetch", [_get_json, _download], ids=["api", "download"])
def test_a_broken_answer_is_reported_for_what_it_is(fetch: object, answer_bytes: bytes, expected: str) -> None:
    with HostileServer(raw(answer_bytes)) as server, pytest.raises(SourceError) as caught:
        fetch(server)  # type: ignore[operator]
    assert str(caught.value) == expected
