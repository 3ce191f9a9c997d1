"""Preview audio for a track: look it up on Deezer, then iTunes, download it, check it plays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import requests

from mood.errors import AudioError, SourceError
from mood.sources import deezer, itunes
from mood.sources.constants import PREVIEW_MIME_TYPES, SERVICE_NAMES
from mood.sources.http import Download, ExpiredLinkError, download
from mood.sources.records import Preview, PreviewAudio, Track
from mood.sources.transport import deadline

# Every lookup and download for one preview together (each also has its own limit, in http.py);
# beside the other limits in constants.py, where it belongs once that file is free.
FETCH_DEADLINE_S: Final = 60.0

_Finder = Callable[[requests.Session, Track], Preview | None]
_FINDERS: tuple[tuple[str, _Finder], ...] = (
    (deezer.PROVIDER, deezer.find_preview),
    (itunes.PROVIDER, itunes.find_preview),
)


def resolve_preview(session: requests.Session, track: Track) -> Preview:
    """Find where ``track``'s 30 s preview can be downloaded: Deezer first, then iTunes.

    Args:
        session: the session to send the requests with.
        track: the song, from any service.

    Returns:
        The preview's URL, who gave it and the page to credit.

    Raises:
        SourceError: neither service has a preview; the message reports what each said.
    """
    outcomes: list[str] = []
    failed = False
    for provider, find in _FINDERS:
        try:
            preview = find(session, track)
        except SourceError as error:
            outcomes.append(f"{SERVICE_NAMES[provider]}: {error}")
            failed = True
            continue
        if preview is not None:
            return preview
        outcomes.append(f"{SERVICE_NAMES[provider]}: no preview of this song.")
    message = f"No preview found for “{track.label}”: upload the file instead."
    raise SourceError(f"{message} ({' '.join(outcomes)})" if failed else message)


def fetch_preview(track: Track) -> PreviewAudio:
    """Download ``track``'s 30 s preview, checked to decode as audio, within ``FETCH_DEADLINE_S`` in all.

    The preview is looked up right before the download because Deezer's links expire; a
    Deezer link refused as expired is looked up once more.

    Args:
        track: the song, from any service (Spotify audio itself is never used).

    Returns:
        The preview's bytes and media type, who provided it and the page to credit.

    Raises:
        SourceError: no preview was found, the download failed or took too long, or it does not play.
    """
    with requests.Session() as session, deadline(FETCH_DEADLINE_S) as budget:
        try:
            preview, downloaded = _find_and_download(session, track)
        except SourceError as error:
            if not budget.passed:
                raise
            raise SourceError(
                f"Finding and downloading the preview took longer than {FETCH_DEADLINE_S:.0f} seconds. "
                "Try again later, or upload the file instead."
            ) from error
    _check_plays(downloaded.data, preview)
    declared = (downloaded.content_type or "").split(";")[0].strip().lower()
    mime = declared if declared.startswith("audio/") else PREVIEW_MIME_TYPES[preview.provider]
    return PreviewAudio(
        data=downloaded.data, provider=preview.provider, page_url=preview.page_url, mime=mime, track=track
    )


def _find_and_download(session: requests.Session, track: Track) -> tuple[Preview, Download]:
    preview = resolve_preview(session, track)
    try:
        return preview, _download(session, preview)
    except ExpiredLinkError:
        if preview.provider != deezer.PROVIDER:
            raise
    preview = resolve_preview(session, track)
    return preview, _download(session, preview)


def _download(session: requests.Session, preview: Preview) -> Download:
    return download(session, preview.url, service=SERVICE_NAMES[preview.provider])


def _check_plays(data: bytes, preview: Preview) -> None:
    # Imported here: decoding pulls in librosa, which only fetching a preview needs.
    from mood.engine.audio import load_audio

    try:
        load_audio(data)
    except AudioError as error:
        raise SourceError(
            f"The preview from {SERVICE_NAMES[preview.provider]} could not be played. Upload the file instead."
        ) from error
