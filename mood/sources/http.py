"""The one way song sources talk HTTP: a JSON GET and a guarded download.

Every failure becomes a :class:`~mood.errors.SourceError` whose message says what went
wrong and what to do; nothing here retries or sleeps.
"""

from __future__ import annotations

import math
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from fnmatch import fnmatchcase
from time import monotonic
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import NameResolutionError, ReadTimeoutError

from mood.errors import SourceError
from mood.sources.constants import (
    DOWNLOAD_CHUNK_BYTES,
    DOWNLOAD_DEADLINE_S,
    MAX_DOWNLOAD_BYTES,
    MAX_REDIRECTS,
    PREVIEW_HOSTS,
    REQUEST_TIMEOUT_S,
)


class ExpiredLinkError(SourceError):
    """A download was refused (HTTP 403 or 410): a signed preview URL has likely expired."""


@dataclass(frozen=True)
class Download:
    """A downloaded file: its bytes and the media type its server declared, if any."""

    data: bytes
    content_type: str | None


def get_json(session: requests.Session, url: str, *, service: str, params: dict[str, str | int] | None = None) -> Any:
    """GET ``url`` and decode its JSON body.

    Args:
        session: the session to send the request with.
        url: an https API endpoint.
        service: the service's display name, for messages (e.g. "Deezer").
        params: query-string parameters.

    Returns:
        The decoded JSON value, of whatever shape the service sent.

    Raises:
        SourceError: the request failed, the status was not 2xx, or the body is not JSON.
    """
    response = _send(session, url, service=service, params=params)
    _check_status(response, service)
    try:
        return response.json()
    except ValueError as error:
        raise malformed_answer(service) from error


def download(session: requests.Session, url: str, *, service: str) -> Download:
    """Download a preview: https only, from an allowed host, time- and size-limited.

    Redirects are followed by hand so that every hop is checked against the allow-list.

    Args:
        session: the session to send the requests with.
        url: the preview's URL, as the service returned it.
        service: the service's display name, for messages (e.g. "Deezer").

    Returns:
        The file's bytes (at most ``MAX_DOWNLOAD_BYTES``) and its declared media type.

    Raises:
        ExpiredLinkError: the server refused the URL (403/410); it may need resolving again.
        SourceError: the URL is not trusted, the download failed, took too long or was too big.
    """
    deadline = monotonic() + DOWNLOAD_DEADLINE_S
    for _ in range(MAX_REDIRECTS + 1):
        _check_download_url(url, service)
        response = _send(session, url, service=service, stream=True, allow_redirects=False)
        if not response.is_redirect:
            break
        response.close()
        url = urljoin(url, response.headers["Location"])
    else:
        raise SourceError(f"The preview link from {service} redirected too many times. Upload the file instead.")
    if response.status_code in (403, 410):
        response.close()
        raise ExpiredLinkError(f"The preview link from {service} has expired or was refused. Try again in a minute.")
    _check_status(response, service)
    return Download(_read_capped(response, service, deadline), response.headers.get("Content-Type"))


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


def _send(session: requests.Session, url: str, *, service: str, **kwargs: Any) -> requests.Response:
    try:
        return session.get(url, timeout=REQUEST_TIMEOUT_S, **kwargs)
    except requests.RequestException as error:
        raise request_error(service, error) from error


def _check_status(response: requests.Response, service: str) -> None:
    if response.status_code >= 400:
        response.close()
        raise status_error(service, response.status_code, response.headers.get("Retry-After"))


def _check_download_url(url: str, service: str) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise SourceError(f"{service} offered a preview link that is not valid. Upload the file instead.") from error
    host = parts.hostname or ""
    if parts.scheme != "https" or port not in (None, 443):
        raise SourceError(f"{service} offered a preview link that is not secure (https). Upload the file instead.")
    if not any(fnmatchcase(host, pattern) for pattern in PREVIEW_HOSTS):
        raise SourceError(
            f"{service} offered a preview from a server this app does not trust ({host or 'no host'}). "
            "Upload the file instead."
        )


def _read_capped(response: requests.Response, service: str, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_DOWNLOAD_BYTES:
        response.close()
        raise _too_large(service)
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):
            size += len(chunk)
            if size > MAX_DOWNLOAD_BYTES:
                raise _too_large(service)
            if monotonic() > deadline:
                raise SourceError(
                    f"Downloading the preview from {service} took longer than {DOWNLOAD_DEADLINE_S:.0f} seconds. "
                    "Check your internet connection, or try again later."
                )
            chunks.append(chunk)
    except requests.RequestException as error:
        raise request_error(service, error) from error
    finally:
        response.close()
    return b"".join(chunks)


def _too_large(service: str) -> SourceError:
    return SourceError(
        f"The preview from {service} is larger than {MAX_DOWNLOAD_BYTES // 2**20} MB, far more than a "
        "30 s preview should be. Upload the file instead."
    )


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
