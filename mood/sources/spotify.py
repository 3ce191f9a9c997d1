"""Spotify: song search for metadata, artwork and links only.

Spotify's terms forbid feeding its audio to a model, so nothing here downloads audio.
Its token lives in memory (never a ``.cache`` file) and spotipy never retries: a 429 is
reported with its Retry-After instead of sleeping for as long as the server asks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import requests
import spotipy
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.exceptions import SpotifyException, SpotifyOauthError
from spotipy.oauth2 import SpotifyClientCredentials

from mood.errors import SourceError
from mood.sources.constants import (
    ARTWORK_PX,
    MAX_RESULTS,
    REQUEST_TIMEOUT_S,
    SERVICE_NAMES,
)
from mood.sources.credentials import SpotifyCredentials
from mood.sources.http import malformed_answer, request_error, status_error
from mood.sources.parsing import as_list, as_object, as_seconds, as_text
from mood.sources.records import Track

# spotipy's DEBUG messages include the token request's Basic-auth header (the client secret):
# keep them off even when an app turns DEBUG logging on.
logging.getLogger("spotipy.oauth2").setLevel(logging.INFO)
# Its client's DEBUG messages include each request's Bearer token.
logging.getLogger("spotipy.client").setLevel(logging.INFO)

PROVIDER = "spotify"
_SERVICE = SERVICE_NAMES[PROVIDER]


def search(
    session: requests.Session, credentials: SpotifyCredentials, query: str, limit: int = MAX_RESULTS
) -> tuple[Track, ...]:
    """Search Spotify's catalogue with the client-credentials flow.

    Args:
        session: the session to send the requests with (a plain one: no automatic retries).
        credentials: the app's Spotify client id and secret.
        query: what the listener typed, e.g. "daft punk get lucky".
        limit: the most tracks to return (Spotify allows at most 10).

    Returns:
        The tracks found, best first; empty when nothing matched.

    Raises:
        SourceError: the credentials were refused, Spotify could not be reached, limited
            the rate, failed, or sent an answer that could not be read.
    """
    client = make_client(session, credentials)
    try:
        body = client.search(q=query, limit=limit, type="track")
    except SpotifyOauthError as error:
        raise token_error(error) from error
    except SpotifyException as error:
        raise error_for_status(error.http_status, error.headers) from error
    except (ValueError, KeyError, TypeError) as error:  # a token answer that is not the documented JSON
        raise malformed_answer(_SERVICE) from error
    except requests.RequestException as error:
        raise request_error(_SERVICE, error) from error
    items = as_object(as_object(body).get("tracks")).get("items")
    if not isinstance(items, list):
        raise malformed_answer(_SERVICE)
    return tuple(track for track in map(parse_track, items) if track is not None)[:limit]


def make_client(session: requests.Session, credentials: SpotifyCredentials) -> spotipy.Spotify:
    """A spotipy client with the client-credentials flow: token in memory, no retries, timeouts.

    Raises:
        SourceError: a credential is blank (spotipy would read the environment instead).
    """
    if not (credentials.client_id and credentials.client_secret):
        raise credentials_error()
    auth = SpotifyClientCredentials(
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        requests_session=session,
        requests_timeout=REQUEST_TIMEOUT_S,
        cache_handler=MemoryCacheHandler(),
    )
    return spotipy.Spotify(
        auth_manager=auth, requests_session=session, requests_timeout=REQUEST_TIMEOUT_S, retries=0, status_retries=0
    )


def credentials_error() -> SourceError:
    return SourceError(
        "Spotify did not accept this app's credentials. Check the SPOTIPY_CLIENT_ID and "
        "SPOTIPY_CLIENT_SECRET settings (environment variables or Streamlit secrets)."
    )


def token_error(error: SpotifyOauthError) -> SourceError:
    """Map a failed token request (spotipy raises it while handling the HTTPError)."""
    http_error = error.__context__
    response = http_error.response if isinstance(http_error, requests.HTTPError) else None
    if response is None or response.status_code in (400, 401, 403):  # 400: "invalid_client"
        return credentials_error()
    return error_for_status(response.status_code, response.headers)


def error_for_status(status: int, headers: Mapping[str, str] | None) -> SourceError:
    if status in (401, 403):
        return credentials_error()
    return status_error(_SERVICE, status, (headers or {}).get("Retry-After"))


def parse_track(item: object) -> Track | None:
    fields = as_object(item)
    album = as_object(fields.get("album"))
    track_id = as_text(fields.get("id"))
    title = as_text(fields.get("name"))
    artists = tuple(
        name for artist in as_list(fields.get("artists")) if (name := as_text(as_object(artist).get("name")))
    )
    if track_id is None or title is None or not artists:
        return None
    return Track(
        title=title,
        artists=artists,
        album=as_text(album.get("name")),
        artwork_url=_artwork_url(as_list(album.get("images"))),
        isrc=as_text(as_object(fields.get("external_ids")).get("isrc")),
        duration_s=as_seconds(fields.get("duration_ms"), per_second=1000),
        link=as_text(as_object(fields.get("external_urls")).get("spotify")),
        provider=PROVIDER,
        id=track_id,
    )


def _artwork_url(images: list[Any]) -> str | None:
    """The smallest image at least ``ARTWORK_PX`` wide, else the widest (Spotify sends 640, 300, 64)."""
    sized = [
        (width if isinstance(width := image.get("width"), int) else 0, url)
        for image in map(as_object, images)
        if (url := as_text(image.get("url")))
    ]
    big_enough = [size for size in sized if size[0] >= ARTWORK_PX]
    if big_enough:
        return min(big_enough)[1]
    return max(sized)[1] if sized else None
