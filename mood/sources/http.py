"""The one way song sources talk HTTP: a JSON GET and a guarded download.

Every failure becomes a :class:`~mood.errors.SourceError` whose message says what went
wrong and what to do; nothing here retries or sleeps.
"""

from __future__ import annotations

import json
import math
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.client import HTTPException, IncompleteRead, RemoteDisconnected
from typing import Any, Final
from urllib.parse import urljoin

import requests
from urllib3.exceptions import NameResolutionError, ReadTimeoutError

from mood.errors import SourceError
from mood.sources.constants import (
    DOWNLOAD_CHUNK_BYTES,
    DOWNLOAD_DEADLINE_S,
    MAX_DOWNLOAD_BYTES,
    MAX_REDIRECTS,
    REQUEST_TIMEOUT_S,
)
from mood.sources.transport import Deadline, deadline, guard
from mood.sources.urls import check_download_url, check_redirect_url

# Limits of one API answer (beside the download limits in constants.py, where they belong once that file is free).
API_DEADLINE_S: Final = 20.0  # wall-clock limit of one whole JSON answer, redirects included
MAX_ANSWER_BYTES: Final = 8 * 1024 * 1024  # a page of search or playlist results is 10-200 KB


class ExpiredLinkError(SourceError):
    """A download was refused (HTTP 403 or 410): a signed preview URL has likely expired."""


@dataclass(frozen=True)
class Download:
    """A downloaded file: its bytes and the media type its server declared, if any."""

    data: bytes
    content_type: str | None


def get_json(session: requests.Session, url: str, *, service: str, params: dict[str, str | int] | None = None) -> Any:
    """GET ``url`` and decode its JSON body, within ``API_DEADLINE_S`` and ``MAX_ANSWER_BYTES``.

    Redirects are followed by hand, each hop checked like a download's (https, a host name,
    the default port), so an API cannot send the app to a private address.

    Args:
        session: the session to send the request with (see :func:`~mood.sources.transport.guard`).
        url: an https API endpoint.
        service: the service's display name, for messages (e.g. "Deezer").
        params: query-string parameters.

    Returns:
        The decoded JSON value, of whatever shape the service sent.

    Raises:
        SourceError: the request failed, took too long, was too big, the status was not 2xx, or the body is not JSON.
    """
    exchange = _Exchange(service, API_DEADLINE_S, MAX_ANSWER_BYTES, is_download=False)
    data, _ = _fetch(session, requests.Request("GET", url, params=params), exchange)
    try:
        return json.loads(data)  # bytes: UTF-8, -16 or -32, with or without a byte-order mark
    except ValueError as error:  # UnicodeDecodeError included
        raise malformed_answer(service) from error


def download(session: requests.Session, url: str, *, service: str) -> Download:
    """Download a preview: https only, from an allowed host, time- and size-limited.

    Redirects are followed by hand so that every hop is checked against the allow-list, on the
    URL as requests will send it (see :mod:`mood.sources.urls`); ``DOWNLOAD_DEADLINE_S`` bounds
    the whole transfer, hops included.

    Args:
        session: the session to send the requests with (see :func:`~mood.sources.transport.guard`).
        url: the preview's URL, as the service returned it.
        service: the service's display name, for messages (e.g. "Deezer").

    Returns:
        The file's bytes (at most ``MAX_DOWNLOAD_BYTES``) and its declared media type.

    Raises:
        ExpiredLinkError: the server refused the URL (403/410); it may need resolving again.
        SourceError: the URL is not trusted, the download failed, took too long or was too big.
    """
    exchange = _Exchange(service, DOWNLOAD_DEADLINE_S, MAX_DOWNLOAD_BYTES, is_download=True)
    return Download(*_fetch(session, requests.Request("GET", url), exchange))


@dataclass(frozen=True)
class _Exchange:
    """One kind of exchange: its limits, whether it downloads a preview, and its messages."""

    service: str
    seconds: float
    max_bytes: int
    is_download: bool

    def check_hop(self, url: str, hop: int) -> None:
        """Refuse a URL before any connection: every download hop, and an API's redirects."""
        if self.is_download:
            check_download_url(url, self.service)
        elif hop:
            check_redirect_url(url, self.service)

    def check_status(self, response: requests.Response) -> None:
        """Refuse an error status (a download's 403/410 as an expired link)."""
        if self.is_download and response.status_code in (403, 410):
            response.close()
            raise ExpiredLinkError(
                f"The preview link from {self.service} has expired or was refused. Try again in a minute."
            )
        _check_status(response, self.service)

    def too_slow(self) -> SourceError:
        """The error for an exchange that outlived its deadline."""
        advice = "Check your internet connection, or try again later."
        if self.is_download:
            return SourceError(
                f"Downloading the preview from {self.service} took longer than {self.seconds:.0f} seconds. {advice}"
            )
        return SourceError(f"{self.service} took longer than {self.seconds:.0f} seconds to answer. {advice}")

    def too_large(self) -> SourceError:
        """The error for a body over the size cap."""
        megabytes = self.max_bytes // 2**20
        if self.is_download:
            return SourceError(
                f"The preview from {self.service} is larger than {megabytes} MB, far more than a "
                "30 s preview should be. Upload the file instead."
            )
        return SourceError(f"{self.service} sent an answer larger than {megabytes} MB. Try again later.")

    def too_many_redirects(self) -> SourceError:
        """The error for a redirect chain longer than ``MAX_REDIRECTS``."""
        if self.is_download:
            return SourceError(
                f"The preview link from {self.service} redirected too many times. Upload the file instead."
            )
        return SourceError(f"{self.service} redirected too many times. Try again later.")


def _fetch(session: requests.Session, request: requests.Request, exchange: _Exchange) -> tuple[bytes, str | None]:
    """Send ``request`` (following checked redirects) and read its body, all within the exchange's deadline."""
    guard(session)
    with deadline(exchange.seconds) as limit:
        try:
            response = _follow(session, request, exchange, limit)
            exchange.check_status(response)
            data = _read_capped(response, exchange, limit)
        except requests.RequestException as error:
            raise (exchange.too_slow() if limit.passed else request_error(exchange.service, error)) from error
        if limit.passed:  # a cut connection can look like a body that simply ended
            raise exchange.too_slow()
    return data, response.headers.get("Content-Type")


def _follow(
    session: requests.Session, request: requests.Request, exchange: _Exchange, limit: Deadline
) -> requests.Response:
    for hop in range(MAX_REDIRECTS + 1):
        exchange.check_hop(request.url, hop)
        prepared = session.prepare_request(request)
        response = _send(session, prepared, limit)
        target = session.get_redirect_target(response)
        if target is None:
            return response
        response.close()
        request = requests.Request("GET", urljoin(prepared.url or "", target))
    raise exchange.too_many_redirects()


def malformed_answer(service: str) -> SourceError:
    """The error for an answer that is not the JSON the service documents."""
    return SourceError(f"{service} sent an answer this app could not read. Try again later.")


def request_error(service: str, error: requests.RequestException) -> SourceError:
    """The error for a request that got no answer: timeout, DNS failure, no network, ..."""
    if isinstance(error, requests.Timeout) or _caused_by(error, ReadTimeoutError):
        return SourceError(
            f"{service} did not answer within {REQUEST_TIMEOUT_S:.0f} seconds. "
            "Check your internet connection, or try again later."
        )
    if _caused_by(error, (NameResolutionError, socket.gaierror)):
        return SourceError(f"Could not look up the address of {service}. Check your internet connection.")
    if _caused_by(error, (RemoteDisconnected, IncompleteRead)):  # hung up before the answer or in its middle
        return SourceError(f"The connection to {service} failed. Try again later.")
    if isinstance(error, requests.exceptions.ContentDecodingError) or _caused_by(error, HTTPException):
        return malformed_answer(service)  # not HTTP, too many or too long headers, a body that does not inflate
    if isinstance(error, requests.ConnectionError):
        return SourceError(f"Could not connect to {service}. Check your internet connection, or try again later.")
    return SourceError(f"The connection to {service} failed. Try again later.")


def status_error(service: str, status: int, retry_after: str | None = None) -> SourceError:
    """The error for an HTTP error status (``retry_after``: the Retry-After header, for 429)."""
    if status == 429:
        return SourceError(f"{service} is receiving too many requests. {retry_hint(retry_after)}")
    if status in (401, 403):
        return SourceError(f"{service} refused the request (error {status}). Try again later.")
    if status >= 500:
        return SourceError(f"{service} is having problems right now (error {status}). Try again in a few minutes.")
    return SourceError(f"{service} could not handle the request (error {status}). Try again later.")


def retry_hint(retry_after: str | None) -> str:
    """Tell the listener when to retry, from a Retry-After header (seconds or an HTTP date)."""
    seconds = _seconds_until(retry_after)
    if seconds is None:
        return "Try again in a minute."
    if seconds <= 1:
        return "Try again in a moment."
    if seconds < 90:
        return f"Try again in {seconds} seconds."
    if seconds < 90 * 60:
        return f"Try again in about {round(seconds / 60)} minutes."
    return f"Try again in about {round(seconds / 3600)} hours."


def _seconds_until(retry_after: str | None) -> int | None:
    if retry_after is None:
        return None
    value = retry_after.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, math.ceil((when - datetime.now(UTC)).total_seconds()))


def _send(session: requests.Session, prepared: requests.PreparedRequest, limit: Deadline) -> requests.Response:
    """Send one request as ``session.get`` would (proxies and CA settings from the environment), no redirects."""
    settings = session.merge_environment_settings(prepared.url, {}, True, None, None)
    left = limit.left()  # the TCP connect is the one wait no cut reaches: it gets no more than the time left
    timeout = REQUEST_TIMEOUT_S if left >= REQUEST_TIMEOUT_S else (left, REQUEST_TIMEOUT_S)
    return session.send(prepared, timeout=timeout, allow_redirects=False, **settings)


def _check_status(response: requests.Response, service: str) -> None:
    if response.status_code >= 400:
        response.close()
        raise status_error(service, response.status_code, response.headers.get("Retry-After"))


def _read_capped(response: requests.Response, exchange: _Exchange, limit: Deadline) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > exchange.max_bytes:
        response.close()
        raise exchange.too_large()
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):  # decoded: a gzip bomb counts at full size
            size += len(chunk)
            if size > exchange.max_bytes:
                raise exchange.too_large()
            if limit.passed:
                raise exchange.too_slow()
            chunks.append(chunk)
    finally:
        response.close()
    return b"".join(chunks)


def _caused_by(error: BaseException, kinds: type[BaseException] | tuple[type[BaseException], ...]) -> bool:
    """Whether ``error`` wraps one of ``kinds`` (requests nests urllib3 errors in args and reasons)."""
    pending: list[object] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        if isinstance(current, kinds):
            return True
        seen.add(id(current))
        pending.extend((*current.args, getattr(current, "reason", None), current.__cause__, current.__context__))
    return False
