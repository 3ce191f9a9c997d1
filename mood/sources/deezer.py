"""Deezer: song search, and preview lookup by ISRC, Deezer id, or artist and title.

Deezer needs no key. It reports errors inside HTTP 200 bodies
(``{"error": {"type": ..., "message": ..., "code": ...}}``) and signs its preview URLs
with an expiry, so look a preview up right before downloading it.
"""

from __future__ import annotations

from typing import Any

import requests

from mood.errors import SourceError
from mood.sources.constants import (
    DEEZER_API_URL,
    DEEZER_BUSY_CODE,
    DEEZER_NO_DATA_CODE,
    DEEZER_QUOTA_CODE,
    MAX_RESULTS,
    SERVICE_NAMES,
)
from mood.sources.http import get_json, malformed_answer
from mood.sources.matching import best_match, core_title
from mood.sources.parsing import as_object, as_seconds, as_text
from mood.sources.records import Preview, Track

PROVIDER = "deezer"
_SERVICE = SERVICE_NAMES[PROVIDER]


def search(session: requests.Session, query: str, limit: int = MAX_RESULTS) -> tuple[Track, ...]:
    """Search Deezer's catalogue.

    Args:
        session: the session to send the request with.
        query: what the listener typed, e.g. "daft punk get lucky".
        limit: the most tracks to return.

    Returns:
        The tracks found, best first; empty when nothing matched.

    Raises:
        SourceError: Deezer could not be reached or answered with an error.
    """
    items = _search_items(session, query, limit)
    return tuple(track for track in map(parse_track, items) if track is not None)[:limit]


def find_preview(session: requests.Session, track: Track) -> Preview | None:
    """Find a fresh preview URL for ``track`` on Deezer.

    Tries the track's ISRC, then its Deezer id (for tracks Deezer found), then a search by
    artist and title, keeping the result with the same title, artist and duration.

    Args:
        session: the session to send the requests with.
        track: the song to find, from any service.

    Returns:
        Where to download the preview, or None when Deezer has none for this song.

    Raises:
        SourceError: Deezer could not be reached or answered with an error.
    """
    keys = ([f"isrc:{track.isrc}"] if track.isrc else []) + ([track.id] if track.provider == PROVIDER else [])
    for key in keys:
        body = _call(session, f"track/{key}")
        if body is not None and (preview := _parse_preview(body)) is not None:
            return preview
    query = f'artist:"{_unquoted(track.artists[0])}" track:"{_unquoted(core_title(track.title))}"'
    candidates = (
        (candidate, preview)
        for item in _search_items(session, query, MAX_RESULTS)
        if (candidate := parse_track(item)) is not None and (preview := _parse_preview(item)) is not None
    )
    return best_match(track, candidates)


def _search_items(session: requests.Session, query: str, limit: int) -> list[Any]:
    body = _call(session, "search", {"q": query, "limit": limit})
    if body is None:
        return []
    data = body.get("data")
    if not isinstance(data, list):
        raise malformed_answer(_SERVICE)
    return data


def get_body(
    session: requests.Session, path: str, params: dict[str, str | int] | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """GET a Deezer API path: the answer, and the error Deezer put inside it (HTTP 200) or None."""
    body = get_json(session, f"{DEEZER_API_URL}/{path}", service=_SERVICE, params=params)
    if not isinstance(body, dict):
        raise malformed_answer(_SERVICE)
    return body, (as_object(body["error"]) if "error" in body else None)


def error_for(error: dict[str, Any]) -> SourceError:
    """The listener's message for an error Deezer reported (rate limit, busy, anything else)."""
    code = error.get("code")
    if code == DEEZER_QUOTA_CODE:
        return SourceError("Deezer is receiving too many requests from this app. Try again in a few seconds.")
    if code == DEEZER_BUSY_CODE:
        return SourceError("Deezer is busy right now. Try again in a minute.")
    detail = as_text(error.get("message")) or "unknown error"
    return SourceError(f"Deezer reported an error ({detail}). Try again later.")


def _call(session: requests.Session, path: str, params: dict[str, str | int] | None = None) -> dict[str, Any] | None:
    """GET an API path; None when Deezer says it has no such data."""
    body, error = get_body(session, path, params)
    if error is None:
        return body
    if error.get("code") == DEEZER_NO_DATA_CODE:
        return None
    raise error_for(error)


def parse_track(item: object) -> Track | None:
    """A Deezer track object (search, playlist or album item) as a Track; None without an id, title or artist."""
    fields = as_object(item)
    album = as_object(fields.get("album"))
    track_id = as_text(fields.get("id"))
    title = as_text(fields.get("title"))
    artist = as_text(as_object(fields.get("artist")).get("name"))
    if track_id is None or title is None or artist is None:
        return None
    return Track(
        title=title,
        artists=(artist,),
        album=as_text(album.get("title")),
        artwork_url=as_text(album.get("cover_medium")),
        isrc=as_text(fields.get("isrc")),
        duration_s=as_seconds(fields.get("duration")),
        link=as_text(fields.get("link")),
        provider=PROVIDER,
        id=track_id,
    )


def _parse_preview(item: object) -> Preview | None:
    fields = as_object(item)
    url = as_text(fields.get("preview"))
    return Preview(url=url, provider=PROVIDER, page_url=as_text(fields.get("link"))) if url else None


def _unquoted(text: str) -> str:
    return text.replace('"', " ")
