"""Song sources: find a song by name and fetch a 30 s preview of it to analyse.

Spotify (with credentials) or Deezer (without) answers searches; the audio comes from a
Deezer or iTunes preview, never from Spotify.
"""

from mood.sources.credentials import SpotifyCredentials, credentials_from
from mood.sources.playlists import Collection, CollectionLink, fetch_collection, parse_collection_link
from mood.sources.previews import fetch_preview
from mood.sources.records import PreviewAudio, SearchResults, Track
from mood.sources.search import search_tracks

__all__ = [
    "Collection",
    "CollectionLink",
    "PreviewAudio",
    "SearchResults",
    "SpotifyCredentials",
    "Track",
    "credentials_from",
    "fetch_collection",
    "fetch_preview",
    "parse_collection_link",
    "search_tracks",
]
