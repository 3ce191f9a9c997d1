"""Song search: Spotify when the app has credentials, Deezer otherwise or when Spotify fails."""

from __future__ import annotations

import re

import requests

from mood.errors import SourceError
from mood.sources import deezer, spotify
from mood.sources.constants import MAX_RESULTS
from mood.sources.credentials import SpotifyCredentials
from mood.sources.records import SearchResults

_SEPARATOR = re.compile(r"\s+[-–—]\s+")  # the " - " of "artist - title"


def search_tracks(query: str, credentials: SpotifyCredentials | None, limit: int = MAX_RESULTS) -> SearchResults:
    """Search for songs by what the listener typed, e.g. "Daft Punk - Get Lucky".

    With credentials Spotify answers; if it fails, Deezer answers and the results carry a
    notice saying why. Without credentials Deezer answers directly.

    Args:
        query: free text, typically "artist - title".
        credentials: the app's Spotify credentials, or None to search Deezer.
        limit: the most tracks to return, 1 to ``MAX_RESULTS``.

    Returns:
        The tracks found (empty when nothing matched), who answered, and any notice.

    Raises:
        SourceError: the query is empty, or every service failed (the message names each failure).
        ValueError: ``limit`` is out of range.
    """
    terms = " ".join(_SEPARATOR.sub(" ", query).split())
    if not terms:
        raise SourceError("Type an artist and a song title to search, for example “Daft Punk - Get Lucky”.")
    if not 1 <= limit <= MAX_RESULTS:
        raise ValueError(f"limit must be between 1 and {MAX_RESULTS}, not {limit}")
    with requests.Session() as session:
        if credentials is None:
            return SearchResults(deezer.search(session, terms, limit), provider=deezer.PROVIDER)
        try:
            return SearchResults(spotify.search(session, credentials, terms, limit), provider=spotify.PROVIDER)
        except SourceError as spotify_error:
            try:
                tracks = deezer.search(session, terms, limit)
            except SourceError as deezer_error:
                raise SourceError(f"Search failed. Spotify: {spotify_error} Deezer: {deezer_error}") from deezer_error
            notice = f"{spotify_error} Showing results from Deezer instead."
            return SearchResults(tracks, provider=deezer.PROVIDER, notice=notice)
