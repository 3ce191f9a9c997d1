"""iTunes Search API: preview lookup by artist and title (no key needed; previews are AAC)."""

from __future__ import annotations

import requests

from mood.sources.constants import ITUNES_SEARCH_URL, MAX_RESULTS, SERVICE_NAMES
from mood.sources.http import get_json, malformed_answer
from mood.sources.matching import best_match, core_title
from mood.sources.parsing import as_list, as_object, as_seconds, as_text
from mood.sources.records import Preview, Track

PROVIDER = "itunes"
_SERVICE = SERVICE_NAMES[PROVIDER]


def find_preview(session: requests.Session, track: Track) -> Preview | None:
    """Find ``track``'s preview on iTunes, keeping the result with the same title, artist and duration.

    Args:
        session: the session to send the request with.
        track: the song to find, from any service.

    Returns:
        Where to download the preview, or None when iTunes has none for this song.

    Raises:
        SourceError: iTunes could not be reached or answered with an error.
    """
    params: dict[str, str | int] = {
        "term": f"{track.artists[0]} {core_title(track.title)}",
        "media": "music",
        "entity": "song",
        "limit": MAX_RESULTS,
    }
    body = as_object(get_json(session, ITUNES_SEARCH_URL, service=_SERVICE, params=params))
    if not isinstance(body.get("results"), list):
        raise malformed_answer(_SERVICE)
    candidates = (candidate for item in as_list(body["results"]) if (candidate := _parse(item)) is not None)
    return best_match(track, candidates)


def _parse(item: object) -> tuple[Track, Preview] | None:
    fields = as_object(item)
    track_id = as_text(fields.get("trackId"))
    title = as_text(fields.get("trackName"))
    artist = as_text(fields.get("artistName"))
    url = as_text(fields.get("previewUrl"))
    if track_id is None or title is None or artist is None or url is None:
        return None
    page_url = as_text(fields.get("trackViewUrl"))
    track = Track(
        title=title,
        artists=(artist,),
        album=as_text(fields.get("collectionName")),
        artwork_url=as_text(fields.get("artworkUrl100")),
        isrc=None,
        duration_s=as_seconds(fields.get("trackTimeMillis"), per_second=1000),
        link=page_url,
        provider=PROVIDER,
        id=track_id,
    )
    return track, Preview(url=url, provider=PROVIDER, page_url=page_url)
