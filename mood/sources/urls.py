"""Which URLs the app may connect to, judged on the host the HTTP client will really connect to.

Parsers disagree on odd URLs: ``https://127.0.0.1:18443\\@a.mzstatic.com/x`` reads as a host of
a.mzstatic.com to :func:`urllib.parse.urlsplit` while requests connects to 127.0.0.1. So a URL
is judged as requests prepares it, read by both urllib3 and the standard library (which
requests uses for its connection pools), and refused unless they agree on a plain host name.
"""

from __future__ import annotations

import ipaddress
import re
from fnmatch import fnmatchcase
from typing import Final
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from mood.errors import SourceError
from mood.sources.constants import PREVIEW_HOSTS

_HOST_NAME: Final = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")
_NUMERIC_LABEL: Final = re.compile(r"0x[0-9a-f]*|[0-9]+")
_ODD_CHARACTERS: Final = re.compile(r"[\\\s\x00-\x1f\x7f]")  # backslashes, spaces, control characters


def check_download_url(url: str, service: str) -> None:
    """Refuse a preview URL that is not https on port 443 to a host name in ``PREVIEW_HOSTS``.

    Raises:
        SourceError: the URL is not valid, not secure or not from a trusted host; the message says which.
    """
    host = _safe_host(url, service, "offered a preview link", "Upload the file instead.")
    if not any(fnmatchcase(host, pattern) for pattern in PREVIEW_HOSTS):
        raise SourceError(
            f"{service} offered a preview from a server this app does not trust ({host}). Upload the file instead."
        )


def check_redirect_url(url: str, service: str) -> None:
    """Refuse an API redirect that is not https on port 443 to a host name (no allow-list: APIs move).

    Raises:
        SourceError: the URL is not valid, not secure or names an IP address; the message says which.
    """
    _safe_host(url, service, "redirected to an address", "Try again later.")


def _safe_host(url: str, service: str, what: str, advice: str) -> str:
    """The host requests will connect to for ``url``, refused unless plainly https on 443 to a host name.

    The URL is parsed as requests prepares it and as urllib3 and requests then read it; the two
    must agree. User-info, backslashes, spaces and control characters, IP addresses (v4 or v6,
    however spelt) and any port but 443 are refused: none has a place in a preview link.
    """
    try:
        sent = requests.Request("GET", url).prepare().url or ""
        parts = parse_url(sent)
        split = urlsplit(sent)
        agreed = split.hostname == (parts.host or "").strip("[]").lower() and split.port == parts.port
    except (requests.RequestException, LocationParseError, ValueError) as error:
        raise SourceError(f"{service} {what} that is not valid. {advice}") from error
    host = (parts.host or "").lower()
    if parts.scheme != "https" or parts.port not in (None, 443):
        raise SourceError(f"{service} {what} that is not secure (https). {advice}")
    if not agreed or parts.auth is not None or "@" in (parts.netloc or "") or _ODD_CHARACTERS.search(url):
        raise SourceError(f"{service} {what} that is not valid. {advice}")
    if _is_ip_address(host) or not _HOST_NAME.fullmatch(host):
        raise SourceError(f"{service} {what} that this app does not trust ({host or 'no host'}). {advice}")
    return host


def _is_ip_address(host: str) -> bool:
    """Whether ``host`` is an IP address in any spelling the resolver accepts (2130706433, 0x7f.1, 0177.1, ::1)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]) is not None  # no top-level domain is a number
    return True
