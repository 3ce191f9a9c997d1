"""The shared HTTP layer of mood.sources: error messages, the JSON GET and the guarded download."""

from __future__ import annotations

import io
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

from mood.errors import SourceError
from mood.sources import http
from mood.sources.constants import DOWNLOAD_CHUNK_BYTES, MAX_DOWNLOAD_BYTES, REQUEST_TIMEOUT_S

API_URL = "https://api.deezer.com/search"
PREVIEW_URL = "https://cdnt-preview.dzcdn.net/api/1/1/4/4/9/0/449d9ff8.mp3?hdnea=exp=1732262014~hmac=3c7e"


def _dns_failure() -> requests.ConnectionError:
    """What requests raises when a host name cannot be resolved (urllib3 2.x nesting)."""
    gaierror = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    reason = NameResolutionError("api.deezer.com", None, gaierror)  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/search", reason))  # type: ignore[arg-type]


def _no_route() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 101] Network is unreachable")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/search", reason))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (requests.exceptions.ConnectTimeout(), "did not answer within 10 seconds"),
        (requests.exceptions.ReadTimeout(), "did not answer within 10 seconds"),
        (_dns_failure(), "Could not look up the address of Deezer"),
        (_no_route(), "Could not connect to Deezer. Check your internet connection"),
        (requests.exceptions.TooManyRedirects(), "The connection to Deezer failed"),
    ],
)
@responses.activate(assert_all_requests_are_fired=True)
def test_get_json_explains_network_failures(failure: Exception, expected: str) -> None:
    responses.get(API_URL, body=failure)
    with pytest.raises(SourceError, match=expected) as caught:
        http.get_json(requests.Session(), API_URL, service="Deezer")
    assert caught.value.__cause__ is failure


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (429, {"Retry-After": "7"}, "Deezer is receiving too many requests. Try again in 7 seconds."),
        (429, {"Retry-After": "7200"}, "Try again in about 2 hours."),
        (429, {}, "Try again in a minute."),
        (403, {}, r"Deezer refused the request \(error 403\)"),
        (503, {}, r"Deezer is having problems right now \(error 503\). Try again in a few minutes."),
        (400, {}, r"Deezer could not handle the request \(error 400\)"),
    ],
)
@responses.activate(assert_all_requests_are_fired=True)
def test_get_json_explains_error_statuses(status: int, headers: dict[str, str], expected: str) -> None:
    responses.get(API_URL, status=status, headers=headers, json={"error": "whatever"})
    with pytest.raises(SourceError, match=expected):
        http.get_json(requests.Session(), API_URL, service="Deezer")


@pytest.mark.parametrize("body", ["<html><body>Bad gateway</body></html>", "", '{"data": ['])
@responses.activate(assert_all_requests_are_fired=True)
def test_get_json_rejects_a_body_that_is_not_json(body: str) -> None:
    responses.get(API_URL, body=body, content_type="application/json")
    with pytest.raises(SourceError, match="Deezer sent an answer this app could not read"):
        http.get_json(requests.Session(), API_URL, service="Deezer")


@responses.activate(assert_all_requests_are_fired=True)
def test_get_json_sends_params_with_a_timeout_and_returns_the_body() -> None:
    responses.get(API_URL, json={"data": []}, match=[responses.matchers.query_param_matcher({"q": "x", "limit": "3"})])
    assert http.get_json(requests.Session(), API_URL, service="Deezer", params={"q": "x", "limit": 3}) == {"data": []}
    assert responses.calls[0].request.req_kwargs["timeout"] == REQUEST_TIMEOUT_S  # type: ignore[attr-defined]


def test_retry_hint_reads_an_http_date() -> None:
    in_ten_minutes = format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)
    assert http.retry_hint(in_ten_minutes) == "Try again in about 10 minutes."
    assert http.retry_hint("0") == "Try again in a moment."
    assert http.retry_hint("soon") == "Try again in a minute."


@pytest.mark.parametrize(
    "url",
    [
        "https://cdnt-preview.dzcdn.net/api/1/1/a.mp3?hdnea=exp=1",
        "https://cdns-preview-d.dzcdn.net/stream/c-deadbeef-3.mp3",
        "https://audio-ssl.itunes.apple.com/itunes-assets/AudioPreview125/v4/mzaf_1.plus.aac.p.m4a",
        "https://is1-ssl.mzstatic.com/preview.m4a",
    ],
)
@responses.activate(assert_all_requests_are_fired=True)
def test_download_fetches_from_the_preview_cdns(url: str) -> None:
    responses.get(url, body=b"audio bytes", content_type="audio/mpeg")
    assert http.download(requests.Session(), url, service="Deezer") == http.Download(b"audio bytes", "audio/mpeg")
    assert responses.calls[0].request.req_kwargs["timeout"] == REQUEST_TIMEOUT_S  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://cdnt-preview.dzcdn.net/a.mp3", "not secure"),
        ("https://cdnt-preview.dzcdn.net:8443/a.mp3", "not secure"),
        ("https://evil.example/a.mp3", r"does not trust \(evil.example\)"),
        ("https://cdnt-preview.dzcdn.net.evil.example/a.mp3", "does not trust"),
        ("https://cdnt-preview.dzcdn.net@evil.example/a.mp3", "not valid"),
        ("https://[2a00:1450::1]/a.mp3", r"does not trust \(\[2a00:1450::1\]\)"),
        ("https://2130706433/a.mp3", r"does not trust \(2130706433\)"),
        ("https://0x7f.1/a.mp3", "does not trust"),
        ("https://cdnt-preview.dzcdn.net\\.evil.example/a.mp3", "not valid"),
        ("https://cdnt-preview.dzcdn.net/a b.mp3", "not valid"),
        ("https://*.mzstatic.com/a.mp3", "not valid|does not trust"),
        ("https://api.deezer.com/track/3135556", "does not trust"),
        ("file:///etc/passwd", "not secure"),
        ("https://cdnt-preview.dzcdn.net:port/a.mp3", "not valid"),
    ],
)
@responses.activate(assert_all_requests_are_fired=True)
def test_download_refuses_untrusted_urls_without_a_request(url: str, expected: str) -> None:
    with pytest.raises(SourceError, match=expected):
        http.download(requests.Session(), url, service="Deezer")
    assert len(responses.calls) == 0


@responses.activate(assert_all_requests_are_fired=True)
def test_download_checks_every_redirect_hop() -> None:
    responses.get(PREVIEW_URL, status=302, headers={"Location": "https://evil.example/a.mp3"})
    with pytest.raises(SourceError, match="does not trust"):
        http.download(requests.Session(), PREVIEW_URL, service="Deezer")


@responses.activate(assert_all_requests_are_fired=True)
def test_download_follows_a_redirect_to_another_allowed_host() -> None:
    target = "https://cdns-preview-a.dzcdn.net/stream/c-1.mp3"
    responses.get(PREVIEW_URL, status=302, headers={"Location": target})
    responses.get(target, body=b"audio")
    assert http.download(requests.Session(), PREVIEW_URL, service="Deezer").data == b"audio"


@responses.activate(assert_all_requests_are_fired=True)
def test_download_gives_up_on_a_redirect_loop() -> None:
    responses.get(PREVIEW_URL, status=302, headers={"Location": PREVIEW_URL})
    with pytest.raises(SourceError, match="redirected too many times"):
        http.download(requests.Session(), PREVIEW_URL, service="Deezer")
    assert len(responses.calls) == 4


@pytest.mark.parametrize("status", [403, 410])
@responses.activate(assert_all_requests_are_fired=True)
def test_download_reports_a_refused_link_as_expired(status: int) -> None:
    responses.get(PREVIEW_URL, status=status)
    with pytest.raises(http.ExpiredLinkError, match="has expired or was refused"):
        http.download(requests.Session(), PREVIEW_URL, service="Deezer")


@responses.activate(assert_all_requests_are_fired=True)
def test_download_reports_other_statuses_plainly() -> None:
    responses.get(PREVIEW_URL, status=502)
    with pytest.raises(SourceError, match=r"error 502") as caught:
        http.download(requests.Session(), PREVIEW_URL, service="Deezer")
    assert not isinstance(caught.value, http.ExpiredLinkError)


@responses.activate(assert_all_requests_are_fired=True)
def test_download_refuses_a_declared_size_over_the_cap_before_reading() -> None:
    responses.get(PREVIEW_URL, body=b"x", headers={"Content-Length": str(MAX_DOWNLOAD_BYTES + 1)})
    with pytest.raises(SourceError, match="larger than 15 MB"):
        http.download(requests.Session(), PREVIEW_URL, service="Deezer")


class _CountingStream(io.RawIOBase):
    """An endless body of zeros that counts how much was read; ``fail_after`` raises a socket timeout."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.n_read = 0
        self.fail_after = fail_after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.fail_after is not None and self.n_read >= self.fail_after:
            raise TimeoutError("The read operation timed out")
        size = len(buffer)
        buffer[:size] = bytes(size)
        self.n_read += size
        return size


@responses.activate(assert_all_requests_are_fired=True)
def test_download_stops_reading_an_undeclared_body_past_the_cap() -> None:
    stream = _CountingStream()
    responses.get(PREVIEW_URL, body=io.BufferedReader(stream))
    with pytest.raises(SourceError, match="larger than 15 MB"):
        http.download(requests.Session(), PREVIEW_URL, service="Deezer")
    assert MAX_DOWNLOAD_BYTES < stream.n_read < MAX_DOWNLOAD_BYTES + 4 * DOWNLOAD_CHUNK_BYTES


@responses.activate(assert_all_requests_are_fired=True)
def test_download_explains_a_timeout_in_the_middle_of_the_body() -> None:
    responses.get(PREVIEW_URL, body=io.BufferedReader(_CountingStream(fail_after=DOWNLOAD_CHUNK_BYTES)))
    with pytest.raises(SourceError, match="Deezer did not answer within 10 seconds"):
        http.download(requests.Session(), PREVIEW_URL, service="Deezer")


@responses.activate(assert_all_requests_are_fired=True)
def test_download_stops_at_the_overall_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "DOWNLOAD_DEADLINE_S", 0.0)  # tests/faults/test_http_deadline.py uses real servers
    responses.get(PREVIEW_URL, body=bytes(3 * DOWNLOAD_CHUNK_BYTES))
    with pytest.raises(SourceError, match="took longer than 0 seconds"):
        http.download(requests.Session(), PREVIEW_URL, service="Deezer")
