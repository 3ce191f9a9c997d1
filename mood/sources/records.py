"""The values song sources hand to the app: tracks, search results and preview audio."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Track:
    """One song as a search service describes it (hashable, so the app can cache on it).

    Attributes:
        title: the song's title.
        artists: the performing artists, main artist first.
        album: the album's title, if known.
        artwork_url: an image of the album cover (~300 px), if any.
        isrc: the recording's International Standard Recording Code, if known.
        duration_s: the full song's length in seconds, if known.
        link: the song's page on the service that found it, if any.
        provider: the service that found it: "spotify", "deezer" or "itunes".
        id: the song's id on that service.
    """

    title: str
    artists: tuple[str, ...]
    album: str | None
    artwork_url: str | None
    isrc: str | None
    duration_s: float | None
    link: str | None
    provider: str
    id: str

    @property
    def artist(self) -> str:
        """The artists, joined by ", "."""
        return ", ".join(self.artists)

    @property
    def label(self) -> str:
        """ "Artist – Title", for lists and headings."""
        return f"{self.artist} – {self.title}"


@dataclass(frozen=True)
class SearchResults:
    """The answer to a search.

    Attributes:
        tracks: the songs found, best first; empty when nothing matched.
        provider: the service that answered: "spotify" or "deezer".
        notice: a message to show beside the results (e.g. Spotify failed and Deezer
            answered instead), or None.
    """

    tracks: tuple[Track, ...]
    provider: str
    notice: str | None = None


@dataclass(frozen=True)
class Preview:
    """Where a track's 30 s preview can be downloaded (the URL may be signed and expire).

    Attributes:
        url: the audio file's https URL.
        provider: the service that gave it: "deezer" or "itunes".
        page_url: the song's page on that service, to credit it, if any.
    """

    url: str
    provider: str
    page_url: str | None


@dataclass(frozen=True)
class PreviewAudio:
    """A downloaded preview that decodes as audio.

    Attributes:
        data: the audio file's bytes.
        provider: the service it came from: "deezer" or "itunes".
        page_url: the song's page on that service, to credit it, if any.
        mime: the audio's media type, e.g. "audio/mpeg".
        track: the track it is a preview of.
    """

    data: bytes = field(repr=False)
    provider: str
    page_url: str | None
    mime: str
    track: Track
