"""Song search: Spotify with credentials, Deezer without, Deezer again when Spotify fails."""

from __future__ import annotations

import base64
import json
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
from mood.sources import SpotifyCredentials, Track, search_tracks
from mood.sources.constants import REQUEST_TIMEOUT_S
from tests.helpers import SPOTIFY_GET_LUCKY

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN_URL = "https://accounts.spotify.com/api/token"
SPOTIFY_SEARCH_URL = "https://api.spotify.com/v1/search"
DEEZER_SEARCH_URL = "https://api.deezer.com/search"
CREDENTIALS = SpotifyCredentials("test-client-id", "test-client-secret")
SPOTIFY_PARAMS = {"q": "Daft Punk Get Lucky", "limit": "10", "offset": "0", "type": "track"}
DEEZER_PARAMS = {"q": "Daft Punk Get Lucky", "limit": "10"}


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


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


def _deezer_answers() -> None:
    responses.get(
        DEEZER_SEARCH_URL, json=_load("deezer_search.json"), match=[matchers.query_param_matcher(DEEZER_PARAMS)]
    )


@pytest.fixture(autouse=True)
def _never_sleep(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No retry may sleep, and the working directory is empty so a token file would show."""

    def refuse(seconds: float) -> None:
        raise AssertionError(f"slept for {seconds} s")

    monkeypatch.setattr(time, "sleep", refuse)
    monkeypatch.chdir(tmp_path)


@responses.activate(assert_all_requests_are_fired=True)
def test_spotify_search_returns_metadata_and_keeps_the_token_in_memory(tmp_path: Path) -> None:
    _token_ok()
    search = responses.get(
        SPOTIFY_SEARCH_URL, json=_load("spotify_search.json"), match=[matchers.query_param_matcher(SPOTIFY_PARAMS)]
    )
    results = search_tracks("  Daft Punk - Get Lucky ", CREDENTIALS)
    assert (results.provider, results.notice, len(results.tracks)) == ("spotify", None, 2)
    assert results.tracks[0] == SPOTIFY_GET_LUCKY
    assert results.tracks[0].label == "Daft Punk, Pharrell Williams, Nile Rodgers – " + results.tracks[0].title
    assert all(call.request.req_kwargs["timeout"] == REQUEST_TIMEOUT_S for call in responses.calls)  # type: ignore[attr-defined]
    assert search.calls[0].request.headers["Authorization"] == "Bearer BQC4YqJg7tN0aJvVZ3h2m8fake-token-for-tests-only"
    assert list(tmp_path.iterdir()) == []  # no spotipy .cache file


@responses.activate(assert_all_requests_are_fired=True)
def test_spotify_with_no_hits_is_an_empty_result_not_an_error() -> None:
    _token_ok()
    responses.get(SPOTIFY_SEARCH_URL, json={"tracks": {"items": [], "total": 0, "limit": 10, "offset": 0}})
    assert search_tracks("zzzzqqqq", CREDENTIALS).tracks == ()


@responses.activate(assert_all_requests_are_fired=True)
def test_without_credentials_deezer_answers_directly() -> None:
    _deezer_answers()
    results = search_tracks("Daft Punk - Get Lucky", None)
    assert (results.provider, results.notice, len(results.tracks)) == ("deezer", None, 4)
    assert results.tracks[2] == Track(
        title="Get Lucky (Radio Edit - feat. Pharrell Williams and Nile Rodgers)",
        artists=("Daft Punk",),
        album="Get Lucky (Radio Edit - feat. Pharrell Williams and Nile Rodgers)",
        artwork_url="https://e-cdns-images.dzcdn.net/images/cover/5718f7c81c27e0b2417e2a4c45224f8a/250x250-000000-80-0-0.jpg",
        isrc=None,
        duration_s=248.0,
        link="https://www.deezer.com/track/67238735",
        provider="deezer",
        id="67238735",
    )


@responses.activate(assert_all_requests_are_fired=True)
def test_the_limit_is_passed_on_and_checked() -> None:
    responses.get(
        DEEZER_SEARCH_URL,
        json=_load("deezer_search_empty.json"),
        match=[matchers.query_param_matcher({"q": "x", "limit": "3"})],
    )
    assert search_tracks("x", None, limit=3).tracks == ()
    with pytest.raises(ValueError, match="between 1 and 10"):
        search_tracks("x", None, limit=11)


@pytest.mark.parametrize("query", ["", "   ", " - "])
@responses.activate(assert_all_requests_are_fired=True)
def test_an_empty_query_asks_for_artist_and_title(query: str) -> None:
    with pytest.raises(SourceError, match="Type an artist and a song title"):
        search_tracks(query, CREDENTIALS)


CREDENTIALS_HINT = "Check the SPOTIPY_CLIENT_ID and SPOTIPY_CLIENT_SECRET settings"


def _token_refused() -> None:
    responses.post(TOKEN_URL, status=400, json=_load("spotify_token_invalid_client.json"))


def _token_unreachable() -> None:
    responses.post(TOKEN_URL, body=requests.exceptions.ConnectTimeout())


def _search_fails(status: int, headers: dict[str, str] | None = None, body: Any = None) -> Callable[[], None]:
    def register() -> None:
        _token_ok()
        responses.get(SPOTIFY_SEARCH_URL, status=status, headers=headers or {}, json=body)

    return register


def _search_unreadable() -> None:
    _token_ok()
    responses.get(SPOTIFY_SEARCH_URL, body="<html>upstream error</html>", content_type="text/html")


def _token_unreadable() -> None:
    responses.post(TOKEN_URL, body="<html>maintenance</html>", content_type="text/html")


@pytest.mark.parametrize(
    ("spotify_fails", "notice"),
    [
        (_token_refused, CREDENTIALS_HINT),
        (_search_fails(401, body=_load("spotify_error_401.json")), CREDENTIALS_HINT),
        (_search_fails(403, body={"error": {"status": 403, "message": "Forbidden"}}), CREDENTIALS_HINT),
        (_search_fails(429, {"Retry-After": "37"}), "Spotify is receiving too many requests. Try again in 37 seconds."),
        (_search_fails(429, {"Retry-After": "86400"}), "Try again in about 24 hours."),
        (_search_fails(502), r"Spotify is having problems right now \(error 502\)"),
        (_search_unreadable, "Spotify sent an answer this app could not read"),
        (_token_unreadable, "Spotify sent an answer this app could not read"),
        (_token_unreachable, "Spotify did not answer within 10 seconds"),
    ],
    ids=[
        "token-400",
        "search-401",
        "search-403",
        "429-seconds",
        "429-hours",
        "502",
        "bad-json",
        "bad-token",
        "timeout",
    ],
)
@responses.activate(assert_all_requests_are_fired=True)
def test_a_spotify_failure_falls_back_to_deezer_with_a_notice(spotify_fails: Callable[[], None], notice: str) -> None:
    spotify_fails()
    _deezer_answers()
    results = search_tracks("Daft Punk - Get Lucky", CREDENTIALS)
    assert results.provider == "deezer"
    assert len(results.tracks) == 4
    assert results.notice is not None
    assert results.notice.endswith("Showing results from Deezer instead.")
    assert re.search(notice, results.notice), results.notice
    assert "test-client-secret" not in results.notice
    assert sum(str(call.request.url).startswith(SPOTIFY_SEARCH_URL) for call in responses.calls) <= 1  # never retried


@responses.activate(assert_all_requests_are_fired=True)
def test_when_spotify_and_deezer_both_fail_one_message_names_both() -> None:
    _token_refused()
    responses.get(DEEZER_SEARCH_URL, body=requests.exceptions.ConnectionError())
    with pytest.raises(SourceError) as caught:
        search_tracks("Daft Punk - Get Lucky", CREDENTIALS)
    message = str(caught.value)
    assert message.startswith("Search failed. Spotify: Spotify did not accept this app's credentials.")
    assert "Deezer: Could not connect to Deezer." in message
    assert "test-client-secret" not in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            _load("deezer_error_quota.json"),
            "Deezer is receiving too many requests from this app. Try again in a few seconds.",
        ),
        ({"error": {"type": "Exception", "message": "Service busy", "code": 700}}, "Deezer is busy right now"),
        (
            {"error": {"type": "InvalidQueryException", "message": "Invalid query", "code": 600}},
            r"Deezer reported an error \(Invalid query\)",
        ),
        ({"data": "not a list"}, "Deezer sent an answer this app could not read"),
        ([1, 2, 3], "Deezer sent an answer this app could not read"),
    ],
)
@responses.activate(assert_all_requests_are_fired=True)
def test_deezer_errors_inside_http_200_bodies_are_explained(body: Any, expected: str) -> None:
    responses.get(DEEZER_SEARCH_URL, json=body, status=200)
    with pytest.raises(SourceError, match=expected):
        search_tracks("Daft Punk - Get Lucky", None)


@responses.activate(assert_all_requests_are_fired=True)
def test_deezer_no_data_and_incomplete_items_give_fewer_tracks_not_errors() -> None:
    body = _load("deezer_search.json")
    del body["data"][0]["artist"]  # an item without an artist is skipped
    body["data"][1]["title"] = ""  # and one without a title
    responses.get(DEEZER_SEARCH_URL, json=body)
    responses.get(DEEZER_SEARCH_URL, json=_load("deezer_error_no_data.json"))
    assert [track.id for track in search_tracks("Daft Punk - Get Lucky", None).tracks] == ["67238735", "67238741"]
    assert search_tracks("Daft Punk - Get Lucky", None).tracks == ()


@responses.activate(assert_all_requests_are_fired=True)
def test_blank_credentials_are_refused_without_reading_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOTIPY_CLIENT_ID", "env-id")  # spotipy would fall back to these for blank values
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "env-secret")
    _deezer_answers()
    results = search_tracks("Daft Punk - Get Lucky", SpotifyCredentials("", ""))
    assert results.provider == "deezer"
    assert results.notice is not None
    assert CREDENTIALS_HINT in results.notice
