"""Every constant of the song sources, in one place: endpoints, limits and trusted hosts."""

from __future__ import annotations

from typing import Final

# Search.
MAX_RESULTS: Final = 10  # tracks per search and candidates per preview lookup (Spotify's cap)
ARTWORK_PX: Final = 300  # preferred album-art width; Deezer's cover_medium is 250 px

# Endpoints (no key needed for Deezer and iTunes; spotipy knows Spotify's).
DEEZER_API_URL: Final = "https://api.deezer.com"
ITUNES_SEARCH_URL: Final = "https://itunes.apple.com/search"

# Requests and downloads.
REQUEST_TIMEOUT_S: Final = 10.0  # connect and per-read limit of every request
DOWNLOAD_DEADLINE_S: Final = 30.0  # wall-clock limit of one whole preview download
MAX_DOWNLOAD_BYTES: Final = 15 * 1024 * 1024  # a 30 s preview is ~0.5-1.5 MB
DOWNLOAD_CHUNK_BYTES: Final = 64 * 1024
MAX_REDIRECTS: Final = 3  # each hop is checked against the allow-list

# Hosts previews may be downloaded from (https only), as shell-style patterns.
PREVIEW_HOSTS: Final = (
    "cdns-preview-*.dzcdn.net",
    "e-cdns-preview-*.dzcdn.net",
    "cdnt-preview.dzcdn.net",
    "*.itunes.apple.com",
    "*.mzstatic.com",
)

# Matching a track to a preview candidate.
DURATION_TOLERANCE_S: Final = 10.0  # the same recording differs by a second or two between stores

# Deezer's error codes inside HTTP 200 bodies (https://developers.deezer.com/api/errors).
DEEZER_QUOTA_CODE: Final = 4
DEEZER_BUSY_CODE: Final = 700
DEEZER_NO_DATA_CODE: Final = 800

# Display names of the services, by provider key, for messages.
SERVICE_NAMES: Final = {"spotify": "Spotify", "deezer": "Deezer", "itunes": "iTunes"}

# What a preview holds when its server does not say (Deezer: MP3, iTunes: AAC in MP4).
PREVIEW_MIME_TYPES: Final = {"deezer": "audio/mpeg", "itunes": "audio/mp4"}
