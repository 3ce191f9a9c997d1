"""A playlist or album at once: link parsing, Deezer and Spotify collections, paging, errors."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from mood.errors import SourceError
from mood.sources import SpotifyCredentials, Track
from mood.sources import playlists as playlists_module
from mood.sources.constants import REQUEST_TIMEOUT_S
from mood.sources.playlists import (
    MAX_COLLECTION_TRACKS,
    Collection,
    CollectionLink,
    fetch_collection,
    parse_collection_link,
)
from mood.sources.previews import resolve_preview

FIXTURES = Path(__file__).parent / "fixtures"
DEEZER_API = "https://api.deezer.com"
SPOTIFY_API = "https://api.spotify.com/v1"
TOKEN_URL = "https://accounts.spotify.com/api/token"
CREDENTIALS = SpotifyCredentials("test-client-id", "test-client-secret")
ACCESS_TOKEN = "BQC4YqJg7tN0aJvVZ3h2m8fake-token-for-tests-only"

DEEZER_PLAYLIST = CollectionLink("deezer", "playlist", "11223344551")
DEEZER_LONG_PLAYLIST = CollectionLink("deezer", "playlist", "11223344552")
DEEZER_ALBUM = CollectionLink("deezer", "album", "302127")
SPOTIFY_PLAYLIST = CollectionLink("spotify", "playlist", "4Vt9mbR2yGv3sKZkjQpU1r")
SPOTIFY_ALBUM = CollectionLink("spotify", "album", "2noRn2Aes5aoNVsU6iWThc")


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(autouse=True)
def slept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[float]:
    """Every pause, recorded instead of taken; the working directory is empty so a token file would show."""
    pauses: list[float] = []
    monkeypatch.setattr(time, "sleep", pauses.append)
    monkeypatch.chdir(tmp_path)
    return pauses


# ---------------------------------------------------------------- link parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://www.deezer.com/fr/playlist/1479458365", ("deezer", "playlist", "1479458365")),
        ("https://www.deezer.com/en/album/302127?utm_source=deezer&utm_medium=web", ("deezer", "album", "302127")),
        ("https://www.deezer.com/playlist/908622995/", ("deezer", "playlist", "908622995")),
        ("deezer.com/album/302127", ("deezer", "album", "302127")),
        ("www.deezer.com/us/playlist/908622995#tracks", ("deezer", "playlist", "908622995")),
        ("  HTTPS://WWW.DEEZER.COM/playlist/908622995  \n", ("deezer", "playlist", "908622995")),
        (
            "https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M?si=1d3e9f7a2b4c4d5e",
            ("spotify", "playlist", "37i9dQZF1DXcBWIGoYBM5M"),
        ),
        ("open.spotify.com/album/2noRn2Aes5aoNVsU6iWThc", ("spotify", "album", "2noRn2Aes5aoNVsU6iWThc")),
        (
            "https://open.spotify.com/intl-fr/album/2noRn2Aes5aoNVsU6iWThc?si=x1&nd=1",
            ("spotify", "album", "2noRn2Aes5aoNVsU6iWThc"),
        ),
        (
            "https://open.spotify.com/user/nightbus/playlist/4Vt9mbR2yGv3sKZkjQpU1r",
            ("spotify", "playlist", "4Vt9mbR2yGv3sKZkjQpU1r"),
        ),
        (
            "https://open.spotify.com/embed/playlist/4Vt9mbR2yGv3sKZkjQpU1r",
            ("spotify", "playlist", "4Vt9mbR2yGv3sKZkjQpU1r"),
        ),
        ("spotify:playlist:4Vt9mbR2yGv3sKZkjQpU1r", ("spotify", "playlist", "4Vt9mbR2yGv3sKZkjQpU1r")),
        ("spotify:album:2noRn2Aes5aoNVsU6iWThc", ("spotify", "album", "2noRn2Aes5aoNVsU6iWThc")),
        ("spotify:user:nightbus:playlist:4Vt9mbR2yGv3sKZkjQpU1r", ("spotify", "playlist", "4Vt9mbR2yGv3sKZkjQpU1r")),
    ],
)
def test_playlist_and_album_links_are_recognised(text: str, expected: tuple[str, str, str]) -> None:
    assert parse_collection_link(text) == CollectionLink(*expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Daft Punk - Get Lucky",
        "https://www.youtube.com/playlist?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG",
        "https://music.apple.com/us/playlist/pl.f4d106fed2bd41149aaacabb233eb5eb",
        "http://www.deezer.com/playlist/908622995",  # https only
        "http://open.spotify.com/album/2noRn2Aes5aoNVsU6iWThc",
        "ftp://www.deezer.com/playlist/908622995",
        "https://www.deezer.com/track/3135556",  # a single song
        "https://www.deezer.com/fr/artist/27",
        "https://open.spotify.com/track/69kOkLUCkxIZYexIgSG8rq",
        "https://open.spotify.com/artist/4tZwfgrHOc3mvqYlEYSvVi",
        "spotify:track:69kOkLUCkxIZYexIgSG8rq",
        "https://www.deezer.com/playlist/abc",
        "https://www.deezer.com/fr/playlist/908622995/extra",
        "https://open.spotify.com/playlist/tooShort",
        "https://open.spotify.com/playlist/4Vt9mbR2yGv3sKZkjQpU1r/../track/x",
        "https://evil.example/open.spotify.com/playlist/4Vt9mbR2yGv3sKZkjQpU1r",
        "https://open.spotify.com.evil.example/playlist/4Vt9mbR2yGv3sKZkjQpU1r",
        "https://deezer.com.evil.example/playlist/908622995",
        "https://www.deezer.com:8443/playlist/908622995",
        "https://someone@www.deezer.com/playlist/908622995",
        "https://www.deezer.com/playlist/908622995 and more words",
        "https://[::1/playlist/1",
    ],
)
def test_anything_else_is_not_a_collection_link(text: str) -> None:
    assert parse_collection_link(text) is None


@pytest.mark.parametrize(
    ("text", "service"),
    [
        ("https://link.deezer.com/s/30ZBKLbuFyEbbYSU7JL0L", "Deezer"),
        ("https://deezer.page.link/q4kGhbNi3Zy8nQoR8", "Deezer"),
        ("link.deezer.com/s/30ZBKLbuFyEbbYSU7JL0L", "Deezer"),
        ("https://spotify.link/aBcD3fGh1Jb", "Spotify"),
    ],
)
def test_short_links_are_explained_not_followed(text: str, service: str) -> None:
    with pytest.raises(SourceError, match=f"This is a {service} short link") as caught:
        parse_collection_link(text)
    assert "paste the full address" in str(caught.value)


# ---------------------------------------------------------------- Deezer


def _answer(body: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``responses`` keywords for ``body``: raised if an exception, sent as is if text, else as JSON."""
    if isinstance(body, (Exception, str)):
        return {**kwargs, "body": body}
    return {**kwargs, "json": body} if body is not None else kwargs


def _deezer(path: str, body: Any = None, params: dict[str, str] | None = None, **kwargs: Any) -> None:
    match = [matchers.query_param_matcher(params or {})]
    responses.get(f"{DEEZER_API}/{path}", match=match, **_answer(body, kwargs))


@responses.activate(assert_all_requests_are_fired=True)
def test_a_deezer_playlist_lists_its_songs_in_order() -> None:
    _deezer("playlist/11223344551", _load("deezer_playlist.json"))
    collection = fetch_collection(DEEZER_PLAYLIST, None)
    assert (collection.title, collection.service, collection.truncated, collection.notice) == (
        "Daft Punk Essentials",
        "deezer",
        False,
        None,
    )
    assert [track.id for track in collection.tracks] == ["3135553", "3129775", "67238735", "3135556"]
    assert collection.tracks[2] == Track(
        title="Get Lucky (feat. Pharrell Williams and Nile Rodgers)",
        artists=("Daft Punk",),
        album="Random Access Memories",
        artwork_url="https://e-cdns-images.dzcdn.net/images/cover/311bba0fc112d15f72c8b5a65f0456c1/250x250-000000-80-0-0.jpg",
        isrc=None,
        duration_s=367.0,
        link="https://www.deezer.com/track/67238735",
        provider="deezer",
        id="67238735",
    )
    assert [call.request.req_kwargs["timeout"] for call in responses.calls] == [REQUEST_TIMEOUT_S]  # type: ignore[attr-defined]


@responses.activate(assert_all_requests_are_fired=True)
def test_a_deezer_isrc_is_kept_when_the_api_gives_it() -> None:
    body = _load("deezer_playlist.json")
    body["tracks"]["data"][0]["isrc"] = "GBDUW0000053"
    _deezer("playlist/11223344551", body)
    assert fetch_collection(DEEZER_PLAYLIST, None).tracks[0].isrc == "GBDUW0000053"


@responses.activate(assert_all_requests_are_fired=True)
def test_a_deezer_album_gives_its_tracks_the_album_title_and_cover() -> None:
    body = _load("deezer_album.json")
    del body["tracks"]["data"][1]["album"]  # a track without its album takes the album's
    _deezer("album/302127", body)
    collection = fetch_collection(DEEZER_ALBUM, None)
    assert (collection.title, collection.truncated, collection.notice) == ("Discovery", False, None)
    assert [track.title for track in collection.tracks] == [
        "One More Time",
        "Aerodynamic",
        "Digital Love",
        "Harder, Better, Faster, Stronger",
    ]
    cover = "https://e-cdns-images.dzcdn.net/images/cover/2e018122cb56986277102d2041a592c8/250x250-000000-80-0-0.jpg"
    assert {(track.album, track.artwork_url, track.provider) for track in collection.tracks} == {
        ("Discovery", cover, "deezer")
    }


@responses.activate(assert_all_requests_are_fired=True)
def test_a_deezer_track_from_a_playlist_resolves_its_preview_by_its_deezer_id() -> None:
    _deezer("playlist/11223344551", _load("deezer_playlist.json"))
    track = fetch_collection(DEEZER_PLAYLIST, None).tracks[2]
    _deezer("track/67238735", _load("deezer_track.json"))  # what fetch_preview looks up first
    with requests.Session() as session:
        preview = resolve_preview(session, track)
    assert (preview.provider, preview.page_url) == ("deezer", "https://www.deezer.com/track/67238735")
    assert preview.url.startswith("https://cdnt-preview.dzcdn.net/")


def _long_playlist_pages(second_page: dict[str, str], body: Any = None) -> None:
    _deezer("playlist/11223344552", _load("deezer_playlist_long.json"))
    page = _load("deezer_playlist_tracks_index3.json") if body is None else body
    _deezer("playlist/11223344552/tracks", page, second_page)


@responses.activate(assert_all_requests_are_fired=True)
def test_deezer_pages_are_followed_on_deezers_own_api_host() -> None:
    long_list = _load("deezer_playlist_long.json")
    long_list["tracks"]["next"] = "http://elsewhere.example/playlist/11223344552/tracks?index=3"
    _deezer("playlist/11223344552", long_list)
    _deezer("playlist/11223344552/tracks", _load("deezer_playlist_tracks_index3.json"), {"index": "3", "limit": "97"})
    collection = fetch_collection(DEEZER_LONG_PLAYLIST, None)
    assert (collection.title, collection.truncated, collection.notice) == ("Robot Rock Radio", False, None)
    assert [track.id for track in collection.tracks] == ["3135553", "3129775", "67238735", "3135556", "3129772"]
    assert all(str(call.request.url).startswith(f"{DEEZER_API}/") for call in responses.calls)


@responses.activate(assert_all_requests_are_fired=True)
def test_the_cap_stops_reading_and_says_so() -> None:
    _deezer("playlist/11223344552", _load("deezer_playlist_long.json"))
    collection = fetch_collection(DEEZER_LONG_PLAYLIST, None, max_tracks=2)
    assert [track.id for track in collection.tracks] == ["3135553", "3129775"]
    assert collection.truncated
    assert collection.notice == "This playlist has 5 items: only the first 2 songs are listed."
    assert len(responses.calls) == 1


@responses.activate(assert_all_requests_are_fired=True)
def test_the_cap_asks_a_page_for_no_more_than_it_needs() -> None:
    page = _load("deezer_playlist_tracks_index3.json")
    page["data"] = page["data"][:1]
    page["next"] = "https://api.deezer.com/playlist/11223344552/tracks?limit=1&index=4"
    _long_playlist_pages({"index": "3", "limit": "1"}, page)
    collection = fetch_collection(DEEZER_LONG_PLAYLIST, None, max_tracks=4)
    assert [track.id for track in collection.tracks] == ["3135553", "3129775", "67238735", "3135556"]
    assert collection.truncated


@responses.activate(assert_all_requests_are_fired=True)
def test_a_cap_equal_to_the_size_is_not_a_cut() -> None:
    _long_playlist_pages({"index": "3", "limit": "2"})
    collection = fetch_collection(DEEZER_LONG_PLAYLIST, None, max_tracks=5)
    assert (len(collection.tracks), collection.truncated, collection.notice) == (5, False, None)


@responses.activate(assert_all_requests_are_fired=True)
def test_an_empty_page_ends_the_reading_even_if_the_count_said_more() -> None:
    _long_playlist_pages({"index": "3", "limit": "97"}, {"data": [], "total": 5})
    collection = fetch_collection(DEEZER_LONG_PLAYLIST, None)
    assert (len(collection.tracks), collection.truncated) == (3, False)


@responses.activate(assert_all_requests_are_fired=True)
def test_an_empty_playlist_is_a_notice_not_an_error() -> None:
    body = _load("deezer_playlist.json")
    body["nb_tracks"], body["tracks"]["data"] = 0, []
    _deezer("playlist/11223344551", body)
    collection = fetch_collection(DEEZER_PLAYLIST, None)
    assert (collection.tracks, collection.truncated) == ((), False)
    assert collection.notice == "“Daft Punk Essentials” has no songs this app can analyse."


@pytest.mark.parametrize("max_tracks", [0, -1, MAX_COLLECTION_TRACKS + 1])
def test_max_tracks_is_checked(max_tracks: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 100"):
        fetch_collection(DEEZER_PLAYLIST, None, max_tracks=max_tracks)


@pytest.mark.parametrize(
    ("link", "body", "expected"),
    [
        (
            DEEZER_PLAYLIST,
            _load("deezer_error_no_data.json"),
            "Deezer has no playlist at this link, or it is private. Check the link, or make the playlist public",
        ),
        (DEEZER_ALBUM, _load("deezer_error_no_data.json"), "Deezer has no album at this link. Check the link"),
        (
            DEEZER_PLAYLIST,
            {"error": {"type": "OAuthException", "message": "An active access token must be used", "code": 200}},
            "This Deezer playlist is private. Make it public in Deezer",
        ),
        (
            DEEZER_PLAYLIST,
            {"error": {"type": "Exception", "message": "Service busy", "code": 700}},
            "Deezer is busy right now. Try again in a minute.",
        ),
        (
            DEEZER_ALBUM,
            {"error": {"type": "ParameterException", "message": "Wrong parameter", "code": 500}},
            r"Deezer reported an error \(Wrong parameter\). Try again later.",
        ),
        (DEEZER_PLAYLIST, [1, 2, 3], "Deezer sent an answer this app could not read. Try again later."),
        (DEEZER_PLAYLIST, {"title": "x", "tracks": {"data": "no"}}, "Deezer sent an answer this app could not read"),
    ],
    ids=["no-data-playlist", "no-data-album", "private", "busy", "other", "not-an-object", "no-track-list"],
)
@responses.activate(assert_all_requests_are_fired=True)
def test_deezer_errors_inside_http_200_bodies_are_explained(link: CollectionLink, body: Any, expected: str) -> None:
    _deezer(f"{link.kind}/{link.id}", body)
    with pytest.raises(SourceError, match=expected):
        fetch_collection(link, None)


@responses.activate(assert_all_requests_are_fired=True)
def test_an_error_on_a_later_page_is_explained_too() -> None:
    _long_playlist_pages(
        {"index": "3", "limit": "97"}, {"error": {"type": "Exception", "message": "busy", "code": 700}}
    )
    with pytest.raises(SourceError, match="Deezer is busy right now"):
        fetch_collection(DEEZER_LONG_PLAYLIST, None)


@responses.activate(assert_all_requests_are_fired=True)
def test_deezers_quota_error_is_waited_out_briefly(slept: list[float]) -> None:
    _deezer("playlist/11223344551", _load("deezer_error_quota.json"))
    _deezer("playlist/11223344551", _load("deezer_playlist.json"))
    assert len(fetch_collection(DEEZER_PLAYLIST, None).tracks) == 4
    assert slept == [5.0]


@responses.activate(assert_all_requests_are_fired=True)
def test_a_lasting_deezer_quota_error_is_reported(slept: list[float]) -> None:
    for _ in range(3):
        _deezer("playlist/11223344551", _load("deezer_error_quota.json"))
    with pytest.raises(
        SourceError, match=re.escape("Deezer is receiving too many requests from this app. Try again in a few")
    ):
        fetch_collection(DEEZER_PLAYLIST, None)
    assert slept == [5.0, 5.0]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (requests.exceptions.ConnectTimeout(), "Deezer did not answer within 10 seconds"),
        (requests.exceptions.ReadTimeout(), "Deezer did not answer within 10 seconds"),
        (requests.exceptions.ConnectionError(), "Could not connect to Deezer. Check your internet connection"),
    ],
)
@responses.activate(assert_all_requests_are_fired=True)
def test_network_failures_are_explained(error: Exception, expected: str) -> None:
    _deezer("playlist/11223344551", body=error)
    with pytest.raises(SourceError, match=expected):
        fetch_collection(DEEZER_PLAYLIST, None)


@responses.activate(assert_all_requests_are_fired=True)
def test_a_short_429_is_waited_out(slept: list[float]) -> None:
    _deezer("playlist/11223344551", status=429, headers={"Retry-After": "2"})
    _deezer("playlist/11223344551", _load("deezer_playlist.json"))
    assert len(fetch_collection(DEEZER_PLAYLIST, None).tracks) == 4
    assert slept == [2.0]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "30"}, "Deezer is receiving too many requests. Try again in 30 seconds."),
        ({"Retry-After": "7200"}, "Deezer is receiving too many requests. Try again in about 2 hours."),
        ({}, "Deezer is receiving too many requests. Try again in a minute."),
    ],
)
@responses.activate(assert_all_requests_are_fired=True)
def test_a_long_429_is_reported_with_its_wait(slept: list[float], headers: dict[str, str], expected: str) -> None:
    _deezer("playlist/11223344551", status=429, headers=headers)
    with pytest.raises(SourceError, match=expected):
        fetch_collection(DEEZER_PLAYLIST, None)
    assert slept == []


@responses.activate(assert_all_requests_are_fired=True)
def test_short_429s_are_waited_out_only_a_few_times(slept: list[float]) -> None:
    for _ in range(3):
        _deezer("playlist/11223344551", status=429, headers={"Retry-After": "1"})
    with pytest.raises(SourceError, match="Try again in a moment"):
        fetch_collection(DEEZER_PLAYLIST, None)
    assert slept == [1.0, 1.0]


@responses.activate(assert_all_requests_are_fired=True)
def test_a_deezer_server_error_is_explained() -> None:
    _deezer("album/302127", status=503)
    with pytest.raises(SourceError, match=r"Deezer is having problems right now \(error 503\)"):
        fetch_collection(DEEZER_ALBUM, None)


# ---------------------------------------------------------------- Spotify


def _token_ok() -> None:
    basic = base64.b64encode(b"test-client-id:test-client-secret").decode()
    responses.post(
        TOKEN_URL,
        json=_load("spotify_token.json"),
        match=[
            matchers.header_matcher({"Authorization": f"Basic {basic}"}),
            matchers.urlencoded_params_matcher({"grant_type": "client_credentials"}),
        ],
    )


def _spotify(path: str, body: Any = None, params: dict[str, str] | None = None, **kwargs: Any) -> None:
    match = [matchers.header_matcher({"Authorization": f"Bearer {ACCESS_TOKEN}"})]
    if params is not None:
        match.append(matchers.query_param_matcher(params))
    responses.get(f"{SPOTIFY_API}/{path}", match=match, **_answer(body, kwargs))


PLAYLIST_PATH = "playlists/4Vt9mbR2yGv3sKZkjQpU1r"
PLAYLIST_FIELDS = {"fields": "name", "additional_types": "track"}


def _items_params(offset: int, limit: int) -> dict[str, str]:
    return {"limit": str(limit), "offset": str(offset), "additional_types": "track"}


@pytest.fixture
def small_spotify_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spotify pages of 3, as the fixtures were written (Spotify's own pages hold 50)."""
    monkeypatch.setattr(playlists_module, "SPOTIFY_PAGE_LIMIT", 3)


@pytest.mark.usefixtures("small_spotify_pages")
@responses.activate(assert_all_requests_are_fired=True)
def test_a_spotify_playlist_is_read_page_by_page(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _token_ok()
    _spotify(PLAYLIST_PATH, _load("spotify_playlist.json"), PLAYLIST_FIELDS)
    _spotify(f"{PLAYLIST_PATH}/items", _load("spotify_playlist_items.json"), _items_params(0, 3))
    _spotify(f"{PLAYLIST_PATH}/items", _load("spotify_playlist_items_offset3.json"), _items_params(3, 3))
    collection = fetch_collection(SPOTIFY_PLAYLIST, CREDENTIALS)
    assert (collection.title, collection.service, collection.truncated) == ("Friday Night Funk", "spotify", False)
    assert collection.notice == (
        "Left out 1 item that is not a song this app can look up (a local file, an episode or a removed song)."
    )
    assert [track.title for track in collection.tracks] == [
        "One More Time",
        "Around the World",
        "Harder, Better, Faster, Stronger",  # an entry in the older "track" shape
        "Digital Love",
    ]
    assert collection.tracks[0] == Track(
        title="One More Time",
        artists=("Daft Punk",),
        album="Discovery",
        artwork_url="https://i.scdn.co/image/ab67616d00001e02b33d46dfa2635a47eebf63b2",
        isrc="GBDUW0000053",
        duration_s=320.357,
        link="https://open.spotify.com/track/0DiWol3AO6WpXZgp0goxAV",
        provider="spotify",
        id="0DiWol3AO6WpXZgp0goxAV",
    )
    assert all(call.request.req_kwargs["timeout"] == REQUEST_TIMEOUT_S for call in responses.calls)  # type: ignore[attr-defined]
    assert "test-client-secret" not in caplog.text
    assert ACCESS_TOKEN not in caplog.text
    assert list(Path.cwd().iterdir()) == []  # no spotipy .cache file


@responses.activate(assert_all_requests_are_fired=True)
def test_a_spotify_playlist_asks_for_no_more_than_the_cap() -> None:
    _token_ok()
    _spotify(PLAYLIST_PATH, _load("spotify_playlist.json"), PLAYLIST_FIELDS)
    page = _load("spotify_playlist_items.json")  # a song, a local file, a song
    first, second = page["items"][:2], page["items"][2:]
    _spotify(f"{PLAYLIST_PATH}/items", {**page, "items": first, "limit": 2}, _items_params(0, 2))
    _spotify(f"{PLAYLIST_PATH}/items", {**page, "items": second, "limit": 1, "offset": 2}, _items_params(2, 1))
    collection = fetch_collection(SPOTIFY_PLAYLIST, CREDENTIALS, max_tracks=2)
    assert [track.title for track in collection.tracks] == ["One More Time", "Around the World"]
    assert collection.truncated
    assert collection.notice is not None
    assert collection.notice.startswith("This playlist has 5 items: only the first 2 songs are listed.")


@pytest.mark.usefixtures("small_spotify_pages")
@responses.activate(assert_all_requests_are_fired=True)
def test_a_spotify_album_gives_its_tracks_the_album_name_and_art() -> None:
    _token_ok()
    _spotify("albums/2noRn2Aes5aoNVsU6iWThc", _load("spotify_album.json"))
    _spotify(
        "albums/2noRn2Aes5aoNVsU6iWThc/tracks/",
        _load("spotify_album_tracks_offset3.json"),
        {"limit": "3", "offset": "3"},
    )
    collection = fetch_collection(SPOTIFY_ALBUM, CREDENTIALS)
    assert (collection.title, collection.service, collection.truncated, collection.notice) == (
        "Discovery",
        "spotify",
        False,
        None,
    )
    assert [track.title for track in collection.tracks] == [
        "One More Time",
        "Aerodynamic",
        "Digital Love",
        "Harder, Better, Faster, Stronger",
    ]
    art = "https://i.scdn.co/image/ab67616d00001e02b33d46dfa2635a47eebf63b2"
    assert {(track.album, track.artwork_url, track.isrc) for track in collection.tracks} == {("Discovery", art, None)}
    assert collection.tracks[1].link == "https://open.spotify.com/track/2KUJ2mVbdCWQUQl8S0sn7X"


@responses.activate(assert_all_requests_are_fired=True)
def test_a_spotify_link_without_keys_says_deezer_links_need_none() -> None:
    with pytest.raises(SourceError) as caught:
        fetch_collection(SPOTIFY_PLAYLIST, None)
    message = str(caught.value)
    assert message.startswith("Spotify links need this app's Spotify keys")
    assert "Deezer links work without any set-up" in message
    assert len(responses.calls) == 0


@responses.activate(assert_all_requests_are_fired=True)
def test_blank_credentials_are_refused_without_reading_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOTIPY_CLIENT_ID", "env-id")
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "env-secret")
    with pytest.raises(SourceError, match="Spotify did not accept this app's credentials"):
        fetch_collection(SPOTIFY_ALBUM, SpotifyCredentials("", ""))


CLOSED = "Spotify does not let this app read the songs of “Friday Night Funk”"
UNOPENED = "Spotify could not open this playlist: it does not exist, is private, or is one of Spotify's own"
CREDENTIALS_HINT = "Check the SPOTIPY_CLIENT_ID and SPOTIPY_CLIENT_SECRET settings"


def _playlist_metadata_fails(status: int) -> Callable[[], None]:
    def register() -> None:
        _token_ok()
        _spotify(PLAYLIST_PATH, {"error": {"status": status, "message": "Resource not found"}}, status=status)

    return register


def _playlist_items_fail(status: int, headers: dict[str, str] | None = None) -> Callable[[], None]:
    def register() -> None:
        _token_ok()
        _spotify(PLAYLIST_PATH, _load("spotify_playlist.json"))
        body = {"error": {"status": status, "message": "Forbidden"}}
        _spotify(f"{PLAYLIST_PATH}/items", body, status=status, headers=headers or {})

    return register


def _token_refused() -> None:
    responses.post(TOKEN_URL, status=400, json=_load("spotify_token_invalid_client.json"))


@pytest.mark.parametrize(
    ("register", "expected"),
    [
        (_playlist_metadata_fails(404), UNOPENED),
        (_playlist_metadata_fails(403), UNOPENED),
        (_playlist_items_fail(403), CLOSED),
        (_playlist_items_fail(404), CLOSED),
        (_playlist_metadata_fails(401), CREDENTIALS_HINT),
        (_token_refused, CREDENTIALS_HINT),
        (_playlist_items_fail(429, {"Retry-After": "600"}), "Spotify is receiving too many requests. Try again in"),
        (_playlist_items_fail(502), r"Spotify is having problems right now \(error 502\)"),
    ],
    ids=["404", "403-metadata", "403-items", "404-items", "401", "token-400", "429-long", "502"],
)
@responses.activate(assert_all_requests_are_fired=True)
def test_spotify_refusals_are_explained(
    register: Callable[[], None], expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    register()
    with pytest.raises(SourceError, match=expected) as caught:
        fetch_collection(SPOTIFY_PLAYLIST, CREDENTIALS)
    message = str(caught.value)
    if expected in (CLOSED, UNOPENED):
        assert "Deezer link" in message
    assert "test-client-secret" not in message + caplog.text
    assert ACCESS_TOKEN not in message + caplog.text


@responses.activate(assert_all_requests_are_fired=True)
def test_a_missing_spotify_album_is_explained() -> None:
    _token_ok()
    _spotify("albums/2noRn2Aes5aoNVsU6iWThc", {"error": {"status": 404, "message": "Non existing id"}}, status=404)
    with pytest.raises(SourceError, match=re.escape("Spotify has no album at this link. Check the link")):
        fetch_collection(SPOTIFY_ALBUM, CREDENTIALS)


@responses.activate(assert_all_requests_are_fired=True)
def test_a_short_spotify_429_is_waited_out(slept: list[float]) -> None:
    _token_ok()
    _spotify("albums/2noRn2Aes5aoNVsU6iWThc", status=429, headers={"Retry-After": "3"})
    album = _load("spotify_album.json")
    album["tracks"]["items"].append(_load("spotify_album_tracks_offset3.json")["items"][0])
    album["tracks"].update(limit=50, next=None)
    _spotify("albums/2noRn2Aes5aoNVsU6iWThc", album)
    assert len(fetch_collection(SPOTIFY_ALBUM, CREDENTIALS).tracks) == 4
    assert slept == [3.0]


@responses.activate(assert_all_requests_are_fired=True)
def test_spotify_network_failures_are_explained() -> None:
    _token_ok()
    _spotify("albums/2noRn2Aes5aoNVsU6iWThc", body=requests.exceptions.ReadTimeout())
    with pytest.raises(SourceError, match="Spotify did not answer within 10 seconds"):
        fetch_collection(SPOTIFY_ALBUM, CREDENTIALS)


@responses.activate(assert_all_requests_are_fired=True)
def test_an_unreadable_spotify_answer_is_explained() -> None:
    _token_ok()
    _spotify("albums/2noRn2Aes5aoNVsU6iWThc", body="<html>upstream error</html>", content_type="text/html")
    with pytest.raises(SourceError, match="Spotify sent an answer this app could not read"):
        fetch_collection(SPOTIFY_ALBUM, CREDENTIALS)


def test_collections_are_frozen_and_hashable() -> None:
    collection = Collection("x", "deezer", (), truncated=False)
    assert hash(collection) == hash(Collection("x", "deezer", (), truncated=False))
    with pytest.raises(AttributeError):
        collection.title = "y"  # type: ignore[misc]
