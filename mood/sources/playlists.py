"""A playlist or album at once: read a pasted Deezer or Spotify link and list its songs.

Deezer needs no key; Spotify needs the app's client credentials and gives metadata only
(the audio of each song comes later from :func:`mood.sources.fetch_preview`). A short
rate limit (HTTP 429 with a Retry-After of a few seconds, or Deezer's quota error) is
waited out a couple of times per collection; a longer one is reported with its wait.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlsplit

import requests
from spotipy.exceptions import SpotifyException, SpotifyOauthError

from mood.errors import SourceError
from mood.sources import deezer, spotify
from mood.sources.constants import (
    DEEZER_NO_DATA_CODE,
    DEEZER_QUOTA_CODE,
    SERVICE_NAMES,
)
from mood.sources.credentials import SpotifyCredentials
from mood.sources.http import malformed_answer, request_error
from mood.sources.parsing import as_object, as_text
from mood.sources.records import Track

MAX_COLLECTION_TRACKS: Final = 100  # songs read from one playlist or album
DEEZER_PAGE_LIMIT: Final = 100  # tracks asked for per Deezer page
SPOTIFY_PAGE_LIMIT: Final = 50  # Spotify's most items per page
MAX_PAGES: Final = 10  # pages read per collection, whatever the services say
RATE_LIMIT_MAX_WAIT_S: Final = 5  # a longer Retry-After is reported, not waited out
RATE_LIMIT_MAX_WAITS: Final = 2  # pauses per collection before giving up
DEEZER_QUOTA_WAIT_S: Final = 5.0  # Deezer allows 50 requests per 5 s
DEEZER_PERMISSION_CODES: Final = (200, 300)  # OAuthException / invalid token: a private playlist

Service = Literal["deezer", "spotify"]
Kind = Literal["playlist", "album"]
_T = TypeVar("_T")
_DEEZER: Final = SERVICE_NAMES[deezer.PROVIDER]
_SPOTIFY: Final = SERVICE_NAMES[spotify.PROVIDER]

_DEEZER_HOSTS: Final = frozenset({"deezer.com", "www.deezer.com"})
_SPOTIFY_HOSTS: Final = frozenset({"open.spotify.com"})
_SHORT_LINK_HOSTS: Final = {
    "link.deezer.com": ("Deezer", "https://www.deezer.com/playlist/…"),
    "deezer.page.link": ("Deezer", "https://www.deezer.com/playlist/…"),
    "spotify.link": ("Spotify", "https://open.spotify.com/playlist/…"),
}
_DEEZER_PATH: Final = re.compile(r"/(?:[a-z]{2}(?:-[a-z]{2})?/)?(?P<kind>playlist|album)/(?P<id>[0-9]{1,20})/?")
_SPOTIFY_ID: Final = r"(?P<id>[0-9A-Za-z]{22})"
_SPOTIFY_PATH: Final = re.compile(
    rf"/(?:intl-[a-z]{{2}}(?:-[a-z]{{2}})?/)?(?:embed/)?(?:user/[^/]+/)?(?P<kind>playlist|album)/{_SPOTIFY_ID}/?"
)
_SPOTIFY_URI: Final = re.compile(rf"spotify:(?:user:[^:\s]+:)?(?P<kind>playlist|album):{_SPOTIFY_ID}")

_NO_SPOTIFY_KEYS: Final = (
    "Spotify links need this app's Spotify keys (SPOTIPY_CLIENT_ID and SPOTIPY_CLIENT_SECRET, as environment "
    "variables or Streamlit secrets), and none are set up. Deezer links work without any set-up: paste the "
    "playlist's or album's Deezer link instead."
)


@dataclass(frozen=True)
class CollectionLink:
    """A playlist or album on a streaming service, as a pasted link names it.

    Attributes:
        service: "deezer" or "spotify".
        kind: "playlist" or "album".
        id: the collection's id on that service (digits on Deezer, 22 base-62 characters on Spotify).
    """

    service: Service
    kind: Kind
    id: str


@dataclass(frozen=True)
class Collection:
    """The songs of a playlist or album, in its order.

    Attributes:
        title: the playlist's or album's name.
        service: the service it is on: "deezer" or "spotify".
        tracks: its songs, at most the ``max_tracks`` asked for; each can go to ``fetch_preview``.
        truncated: whether it has more songs than were read.
        notice: a message to show beside the songs (the cut, items left out, an empty
            collection), or None.
    """

    title: str
    service: Service
    tracks: tuple[Track, ...]
    truncated: bool
    notice: str | None = None


def parse_collection_link(text: str) -> CollectionLink | None:
    """Recognise a pasted Deezer or Spotify playlist or album link.

    Accepted: ``https://www.deezer.com/<lang>/playlist/<id>`` and ``/album/<id>`` (the
    language segment and the ``https://www.`` are optional), ``https://open.spotify.com/
    playlist/<id>`` and ``/album/<id>`` (optionally with an ``intl-<lang>`` segment, an
    ``embed/`` or a legacy ``user/<name>/`` prefix, and without ``https://``), and the
    ``spotify:playlist:<id>`` / ``spotify:album:<id>`` URIs. Query strings (``?si=…``) and
    fragments are ignored.

    Args:
        text: what the listener pasted; surrounding whitespace is ignored.

    Returns:
        The service, kind and id; None when the text is not such a link (plain words,
        another site, an ``http://`` link, a link to a single track or an artist, ...).

    Raises:
        SourceError: the text is a Deezer or Spotify short link (``link.deezer.com``,
            ``deezer.page.link``, ``spotify.link``), which only the browser can follow.
    """
    text = text.strip()
    if not text or any(char.isspace() for char in text):
        return None
    if uri := _SPOTIFY_URI.fullmatch(text):
        return CollectionLink("spotify", _kind(uri["kind"]), uri["id"])
    try:
        parts = urlsplit(text if "://" in text else f"https://{text}")
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").removesuffix(".")
    if host in _SHORT_LINK_HOSTS:
        service, example = _SHORT_LINK_HOSTS[host]
        raise SourceError(
            f"This is a {service} short link, which this app cannot open. Open it in your browser and paste "
            f"the full address it leads to (it looks like {example})."
        )
    if parts.scheme != "https" or port not in (None, 443) or parts.username is not None:
        return None
    if host in _DEEZER_HOSTS and (path := _DEEZER_PATH.fullmatch(parts.path)):
        return CollectionLink("deezer", _kind(path["kind"]), path["id"])
    if host in _SPOTIFY_HOSTS and (path := _SPOTIFY_PATH.fullmatch(parts.path)):
        return CollectionLink("spotify", _kind(path["kind"]), path["id"])
    return None


def fetch_collection(
    link: CollectionLink, credentials: SpotifyCredentials | None, max_tracks: int = MAX_COLLECTION_TRACKS
) -> Collection:
    """List the songs of a Deezer or Spotify playlist or album.

    Pages are followed until ``max_tracks`` songs are read. Items that are not songs this
    app can look up (Spotify local files and podcast episodes, removed tracks) are left out
    and counted in the notice.

    Args:
        link: the collection, from :func:`parse_collection_link`.
        credentials: the app's Spotify credentials (needed for Spotify links only), or None.
        max_tracks: the most songs to read, 1 to ``MAX_COLLECTION_TRACKS``.

    Returns:
        Its title, its songs in order, whether there were more, and any notice.

    Raises:
        SourceError: a Spotify link without credentials; the collection does not exist, is
            private or closed to this app; the service could not be reached, limited the
            rate for longer than this app waits, failed, or sent an unreadable answer.
        ValueError: ``max_tracks`` is out of range.
    """
    if not 1 <= max_tracks <= MAX_COLLECTION_TRACKS:
        raise ValueError(f"max_tracks must be between 1 and {MAX_COLLECTION_TRACKS}, not {max_tracks}")
    with requests.Session() as session:
        title, first, next_page = _pages(session, link, credentials, max_tracks)
        tracks, truncated, skipped = _gather(first, next_page, max_tracks)
    return Collection(
        title=title,
        service=link.service,
        tracks=tuple(tracks),
        truncated=truncated,
        notice=_notice(title, link.kind, len(tracks), truncated, skipped, first.total),
    )


# ---------------------------------------------------------------- pages


@dataclass(frozen=True)
class _Page:
    """One page of a collection: a track per item (None for an item that is not a song)."""

    tracks: tuple[Track | None, ...]
    more: bool  # the service has items after this page
    total: int | None  # the collection's item count, if the service said


_NextPage = Callable[[int, int], _Page]  # (offset, count wanted) -> the page starting there


def _pages(
    session: requests.Session, link: CollectionLink, credentials: SpotifyCredentials | None, max_tracks: int
) -> tuple[str, _Page, _NextPage]:
    """The collection's title, its first page and how to get the next ones."""
    patience = _Patience(session)
    if link.service == "deezer":
        return _deezer_pages(session, patience, link)
    if credentials is None:
        raise SourceError(_NO_SPOTIFY_KEYS)
    return _spotify_pages(session, patience, credentials, link, max_tracks)


def _page(
    items: list[Any], parse: Callable[[Any], Track | None], offset: int, total: object, next_url: object
) -> _Page:
    count = total if isinstance(total, int) and not isinstance(total, bool) else None
    more = as_text(next_url) is not None or (count is not None and offset + len(items) < count)
    return _Page(tuple(map(parse, items)), more, count)


def _gather(page: _Page, next_page: _NextPage, max_tracks: int) -> tuple[list[Track], bool, int]:
    """Read pages until ``max_tracks`` songs; return them, whether more exist, and how many items were left out."""
    tracks: list[Track] = []
    seen = skipped = 0
    for _ in range(MAX_PAGES):
        for track in page.tracks:
            if len(tracks) == max_tracks:
                return tracks, True, skipped
            seen += 1
            if track is None:
                skipped += 1
            else:
                tracks.append(track)
        if not page.more or not page.tracks:
            return tracks, False, skipped
        if len(tracks) == max_tracks:
            return tracks, True, skipped
        page = next_page(seen, max_tracks - len(tracks))
    return tracks, True, skipped  # a service that pages on and on: stop at MAX_PAGES


def _notice(title: str, kind: Kind, n_tracks: int, truncated: bool, skipped: int, total: int | None) -> str | None:
    parts: list[str] = []
    if n_tracks == 0 and not truncated:
        parts.append(f"“{title}” has no songs this app can analyse.")
    if truncated:
        size = f"{total} items" if total is not None and total > n_tracks else f"more than {n_tracks} songs"
        parts.append(f"This {kind} has {size}: only the first {n_tracks} songs are listed.")
    if skipped == 1 and n_tracks:
        parts.append(
            "Left out 1 item that is not a song this app can look up (a local file, an episode or a removed song)."
        )
    elif skipped and n_tracks:
        parts.append(
            f"Left out {skipped} items that are not songs this app can look up (local files, episodes, removed songs)."
        )
    return " ".join(parts) or None


# ---------------------------------------------------------------- Deezer


def _deezer_pages(session: requests.Session, patience: _Patience, link: CollectionLink) -> tuple[str, _Page, _NextPage]:
    body = patience.call(lambda: _deezer_object(session, patience, link, f"{link.kind}/{link.id}"))
    title = as_text(body.get("title")) or f"Deezer {link.kind} {link.id}"
    album = body if link.kind == "album" else None  # album tracks may lack their album's title and cover

    def parse(item: object) -> Track | None:
        fields = as_object(item)
        if album is not None and not as_object(fields.get("album")):
            fields = {**fields, "album": album}
        return deezer.parse_track(fields)

    def read(block: dict[str, Any], offset: int) -> _Page:
        items = block.get("data")
        if not isinstance(items, list):
            raise malformed_answer(_DEEZER)
        return _page(items, parse, offset, block.get("total", body.get("nb_tracks")), block.get("next"))

    def next_page(offset: int, wanted: int) -> _Page:
        params: dict[str, str | int] = {"index": offset, "limit": min(wanted, DEEZER_PAGE_LIMIT)}
        path = f"{link.kind}/{link.id}/tracks"
        return read(patience.call(lambda: _deezer_object(session, patience, link, path, params)), offset)

    return title, read(as_object(body.get("tracks")), 0), next_page


def _deezer_object(
    session: requests.Session,
    patience: _Patience,
    link: CollectionLink,
    path: str,
    params: dict[str, str | int] | None = None,
) -> dict[str, Any]:
    """GET a Deezer API path (always on Deezer's API host: its ``next`` links are not followed)."""
    body, error = deezer.get_body(session, path, params)
    if error is None:
        return body
    if error.get("code") == DEEZER_QUOTA_CODE and patience.can_wait():
        raise _ShortWait(DEEZER_QUOTA_WAIT_S)
    raise _deezer_error(error, link)


def _deezer_error(error: dict[str, Any], link: CollectionLink) -> SourceError:
    code = error.get("code")
    if code == DEEZER_NO_DATA_CODE and link.kind == "album":
        return SourceError("Deezer has no album at this link. Check the link, or search for the album's songs instead.")
    if code == DEEZER_NO_DATA_CODE:
        return SourceError(
            "Deezer has no playlist at this link, or it is private. Check the link, or make the playlist "
            "public in Deezer and paste its link again."
        )
    if code in DEEZER_PERMISSION_CODES and link.kind == "playlist":
        return SourceError("This Deezer playlist is private. Make it public in Deezer and paste its link again.")
    return deezer.error_for(error)


# ---------------------------------------------------------------- Spotify


def _spotify_pages(
    session: requests.Session,
    patience: _Patience,
    credentials: SpotifyCredentials,
    link: CollectionLink,
    max_tracks: int,
) -> tuple[str, _Page, _NextPage]:
    client = spotify.make_client(session, credentials)
    title: str | None = None  # known once the metadata is in, for the messages

    def call(request: Callable[[], Any]) -> dict[str, Any]:
        return as_object(patience.call(lambda: _spotify_call(request, link, title)))

    def read(block: dict[str, Any], offset: int, parse: Callable[[Any], Track | None]) -> _Page:
        items = block.get("items")
        if not isinstance(items, list):
            raise malformed_answer(_SPOTIFY)
        return _page(items, parse, offset, block.get("total"), block.get("next"))

    if link.kind == "album":
        album = call(lambda: client.album(link.id))
        cover = {"name": album.get("name"), "images": album.get("images")}  # album tracks come without it

        def album_track(item: object) -> Track | None:
            return spotify.parse_track({**as_object(item), "album": cover})

        def next_album_page(offset: int, wanted: int) -> _Page:
            limit = min(wanted, SPOTIFY_PAGE_LIMIT)
            return read(call(lambda: client.album_tracks(link.id, limit=limit, offset=offset)), offset, album_track)

        title = as_text(album.get("name")) or f"Spotify album {link.id}"
        return title, read(as_object(album.get("tracks")), 0, album_track), next_album_page

    title = as_text(call(lambda: client.playlist(link.id, fields="name")).get("name")) or f"Spotify playlist {link.id}"

    def next_playlist_page(offset: int, wanted: int) -> _Page:
        limit = min(wanted, SPOTIFY_PAGE_LIMIT)
        block = call(lambda: client.playlist_items(link.id, limit=limit, offset=offset, additional_types=("track",)))
        return read(block, offset, _playlist_track)

    return title, next_playlist_page(0, max_tracks), next_playlist_page


def _spotify_call(request: Callable[[], _T], link: CollectionLink, title: str | None) -> _T:
    try:
        return request()
    except SpotifyOauthError as error:
        raise spotify.token_error(error) from error
    except SpotifyException as error:
        raise _spotify_error(error, link, title) from error
    except (ValueError, KeyError, TypeError) as error:  # a token answer that is not the documented JSON
        raise malformed_answer(_SPOTIFY) from error
    except requests.RequestException as error:
        raise request_error(_SPOTIFY, error) from error


def _spotify_error(error: SpotifyException, link: CollectionLink, title: str | None) -> SourceError:
    """Map a Spotify API error; ``title`` is the playlist's name once known (its items were refused)."""
    status = error.http_status
    if status == 401:
        return spotify.credentials_error()
    if link.kind == "album" and status in (400, 404):
        return SourceError(
            "Spotify has no album at this link. Check the link, or search for the album's songs instead."
        )
    if link.kind == "playlist" and title is not None and status in (403, 404):
        return SourceError(
            f"Spotify does not let this app read the songs of “{title}”: Spotify only opens a playlist's songs "
            "to the app that owns it. Paste a Deezer link to the same playlist instead, or search for its "
            "songs one by one."
        )
    if link.kind == "playlist" and status in (400, 403, 404):
        return SourceError(
            "Spotify could not open this playlist: it does not exist, is private, or is one of Spotify's own "
            "editorial or personalised playlists, which Spotify no longer opens to apps like this one. "
            "Paste the playlist's Deezer link instead, or search for its songs one by one."
        )
    return spotify.error_for_status(status, error.headers)


def _playlist_track(entry: object) -> Track | None:
    """A playlist entry's track: ``item`` since Spotify's February 2026 API, ``track`` before."""
    fields = as_object(entry)
    track = as_object(fields.get("item") or fields.get("track"))
    if fields.get("is_local") or track.get("is_local") or track.get("type", "track") != "track":
        return None
    return spotify.parse_track(track)


# ---------------------------------------------------------------- rate limits


class _ShortWait(Exception):
    """A service asked for a pause short enough to wait out (raised from a response hook)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


class _Patience:
    """Waits out short rate limits on one session, at most ``RATE_LIMIT_MAX_WAITS`` times.

    A response hook turns a 429 whose Retry-After is at most ``RATE_LIMIT_MAX_WAIT_S`` into
    a :class:`_ShortWait` before the caller sees it; :meth:`call` sleeps and repeats the
    request. Any other 429 passes through and becomes the caller's "try again in N s" error.
    """

    def __init__(self, session: requests.Session) -> None:
        self._waits_left = RATE_LIMIT_MAX_WAITS
        session.hooks["response"].append(self._on_response)

    def can_wait(self) -> bool:
        return self._waits_left > 0

    def call(self, request: Callable[[], _T]) -> _T:
        while True:
            try:
                return request()
            except _ShortWait as wait:
                self._waits_left -= 1
                time.sleep(wait.seconds)

    def _on_response(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        if response.status_code != 429 or not self.can_wait():
            return
        seconds = _retry_after_seconds(response.headers.get("Retry-After"))
        if seconds is not None and seconds <= RATE_LIMIT_MAX_WAIT_S:
            response.close()
            raise _ShortWait(float(seconds))


def _retry_after_seconds(retry_after: str | None) -> int | None:
    """A Retry-After header in seconds (the HTTP-date form is left to ``http.retry_hint``)."""
    value = (retry_after or "").strip()
    return int(value) if value.isdigit() else None


def _kind(text: str) -> Kind:
    return "album" if text == "album" else "playlist"
