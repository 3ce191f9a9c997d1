"""Preview lookup (Deezer by ISRC, id or search, then iTunes) and download of a playable preview."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from mood.errors import SourceError
from mood.sources import PreviewAudio, Track, fetch_preview
from mood.sources.previews import resolve_preview
from mood.sources.records import Preview
from tests.helpers import SPOTIFY_GET_LUCKY

FIXTURES = Path(__file__).parent / "fixtures"
ISRC_URL = "https://api.deezer.com/track/isrc:USQX91300108"
DEEZER_SEARCH_URL = "https://api.deezer.com/search"
ITUNES_URL = "https://itunes.apple.com/search"
DEEZER_PAGE = "https://www.deezer.com/track/67238735"
ITUNES_PAGE = "https://music.apple.com/us/album/get-lucky-feat-pharrell-williams-nile-rodgers-radio-edit/636967993?i=636967996&uo=4"


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _deezer_preview_url(item: int) -> str:
    return str(_load("deezer_search.json")["data"][item]["preview"])


def _itunes_preview_url(item: int) -> str:
    return str(_load("itunes_search.json")["results"][item]["previewUrl"])


def _isrc_answers(body: Any) -> None:
    responses.get(ISRC_URL, json=body)


def _deezer_search_answers(body: Any) -> None:
    query = {"q": 'artist:"Daft Punk" track:"Get Lucky"', "limit": "10"}
    responses.get(DEEZER_SEARCH_URL, json=body, match=[matchers.query_param_matcher(query)])


def _itunes_answers(body: Any) -> None:
    query = {"term": "Daft Punk Get Lucky", "media": "music", "entity": "song", "limit": "10"}
    responses.get(ITUNES_URL, json=body, match=[matchers.query_param_matcher(query)])


def _resolve(track: Track = SPOTIFY_GET_LUCKY) -> Preview:
    return resolve_preview(requests.Session(), track)


@responses.activate(assert_all_requests_are_fired=True)
def test_deezer_by_isrc_comes_first() -> None:
    _isrc_answers(_load("deezer_track.json"))
    assert _resolve() == Preview(url=_load("deezer_track.json")["preview"], provider="deezer", page_url=DEEZER_PAGE)


@pytest.mark.parametrize("isrc_answer", ["deezer_error_no_data.json", "no preview"])
@responses.activate(assert_all_requests_are_fired=True)
def test_deezer_search_picks_the_same_recording_not_the_first_hit(isrc_answer: str) -> None:
    if isrc_answer == "no preview":
        _isrc_answers({**_load("deezer_track.json"), "readable": False, "preview": ""})
    else:
        _isrc_answers(_load(isrc_answer))
    _deezer_search_answers(_load("deezer_search.json"))  # a cover, the album version, then the radio edit
    assert _resolve() == Preview(url=_deezer_preview_url(2), provider="deezer", page_url=DEEZER_PAGE)


@responses.activate(assert_all_requests_are_fired=True)
def test_a_deezer_track_is_looked_up_again_by_its_id() -> None:
    deezer_track = dataclasses.replace(SPOTIFY_GET_LUCKY, isrc=None, provider="deezer", id="67238735")
    responses.get("https://api.deezer.com/track/67238735", json=_load("deezer_track.json"))
    assert _resolve(deezer_track).url == _load("deezer_track.json")["preview"]


@responses.activate(assert_all_requests_are_fired=True)
def test_itunes_is_tried_when_deezer_has_no_match() -> None:
    _isrc_answers(_load("deezer_error_no_data.json"))
    _deezer_search_answers(_load("deezer_search_empty.json"))
    _itunes_answers(_load("itunes_search.json"))  # the album version, then the radio edit
    assert _resolve() == Preview(url=_itunes_preview_url(1), provider="itunes", page_url=ITUNES_PAGE)


@responses.activate(assert_all_requests_are_fired=True)
def test_itunes_is_tried_when_deezer_fails() -> None:
    _isrc_answers(_load("deezer_error_quota.json"))
    _itunes_answers(_load("itunes_search.json"))
    assert _resolve().provider == "itunes"


@responses.activate(assert_all_requests_are_fired=True)
def test_no_preview_anywhere_says_to_upload_the_file() -> None:
    _isrc_answers(_load("deezer_error_no_data.json"))
    _deezer_search_answers(_load("deezer_search_empty.json"))
    _itunes_answers(_load("itunes_search_empty.json"))
    with pytest.raises(SourceError) as caught:
        _resolve()
    assert str(caught.value) == f"No preview found for “{SPOTIFY_GET_LUCKY.label}”: upload the file instead."


@responses.activate(assert_all_requests_are_fired=True)
def test_deezer_and_itunes_failures_are_reported_together() -> None:
    _isrc_answers(_load("deezer_error_quota.json"))
    responses.get(ITUNES_URL, body=requests.exceptions.ReadTimeout())
    with pytest.raises(SourceError) as caught:
        _resolve()
    assert str(caught.value) == (
        f"No preview found for “{SPOTIFY_GET_LUCKY.label}”: upload the file instead. "
        "(Deezer: Deezer is receiving too many requests from this app. Try again in a few seconds. "
        "iTunes: iTunes did not answer within 10 seconds. Check your internet connection, or try again later.)"
    )


@responses.activate(assert_all_requests_are_fired=True)
def test_a_malformed_itunes_answer_is_reported() -> None:
    _isrc_answers(_load("deezer_error_no_data.json"))
    _deezer_search_answers(_load("deezer_search_empty.json"))
    responses.get(ITUNES_URL, json={"errorMessage": "Invalid value(s) for key(s): [mediaType]"})
    with pytest.raises(SourceError, match="iTunes: iTunes sent an answer this app could not read"):
        _resolve()


@responses.activate(assert_all_requests_are_fired=True)
def test_fetch_preview_downloads_and_checks_a_deezer_preview(song_wav_bytes: bytes) -> None:
    _isrc_answers(_load("deezer_track.json"))
    responses.get(_load("deezer_track.json")["preview"], body=song_wav_bytes, content_type="audio/mpeg")
    assert fetch_preview(SPOTIFY_GET_LUCKY) == PreviewAudio(
        data=song_wav_bytes, provider="deezer", page_url=DEEZER_PAGE, mime="audio/mpeg", track=SPOTIFY_GET_LUCKY
    )


@responses.activate(assert_all_requests_are_fired=True)
def test_an_expired_deezer_link_is_resolved_once_more(song_wav_bytes: bytes) -> None:
    expired = _load("deezer_track.json")
    fresh = {**expired, "preview": expired["preview"].replace("exp=1732262014", "exp=1732265614")}
    _isrc_answers(expired)
    _isrc_answers(fresh)
    responses.get(
        expired["preview"], status=403, match=[matchers.query_string_matcher(expired["preview"].split("?")[1])]
    )
    responses.get(
        fresh["preview"], body=song_wav_bytes, match=[matchers.query_string_matcher(fresh["preview"].split("?")[1])]
    )
    assert fetch_preview(SPOTIFY_GET_LUCKY).data == song_wav_bytes
    assert [str(call.request.url).split("?")[0] for call in responses.calls][::2] == [ISRC_URL, ISRC_URL]


@responses.activate(assert_all_requests_are_fired=True)
def test_a_link_refused_twice_is_reported_as_expired() -> None:
    _isrc_answers(_load("deezer_track.json"))
    responses.get(_load("deezer_track.json")["preview"], status=403)
    with pytest.raises(SourceError, match="The preview link from Deezer has expired or was refused"):
        fetch_preview(SPOTIFY_GET_LUCKY)
    assert len(responses.calls) == 4  # lookup, download, lookup, download: no third try


@responses.activate(assert_all_requests_are_fired=True)
def test_a_refused_itunes_link_is_not_retried() -> None:
    _isrc_answers(_load("deezer_error_no_data.json"))
    _deezer_search_answers(_load("deezer_search_empty.json"))
    _itunes_answers(_load("itunes_search.json"))
    responses.get(_itunes_preview_url(1), status=403)
    with pytest.raises(SourceError, match="The preview link from iTunes has expired or was refused"):
        fetch_preview(SPOTIFY_GET_LUCKY)
    assert len(responses.calls) == 4


@responses.activate(assert_all_requests_are_fired=True)
def test_an_itunes_preview_without_an_audio_type_is_labelled_aac(song_wav_bytes: bytes) -> None:
    _isrc_answers(_load("deezer_error_no_data.json"))
    _deezer_search_answers(_load("deezer_search_empty.json"))
    _itunes_answers(_load("itunes_search.json"))
    responses.get(_itunes_preview_url(1), body=song_wav_bytes, content_type="application/octet-stream")
    preview = fetch_preview(SPOTIFY_GET_LUCKY)
    assert (preview.provider, preview.page_url, preview.mime) == ("itunes", ITUNES_PAGE, "audio/mp4")


@responses.activate(assert_all_requests_are_fired=True)
def test_a_preview_that_does_not_decode_is_refused() -> None:
    _isrc_answers(_load("deezer_track.json"))
    responses.get(_load("deezer_track.json")["preview"], body=b"<html>Access denied</html>", content_type="text/html")
    with pytest.raises(
        SourceError, match=re.escape("The preview from Deezer could not be played. Upload the file instead.")
    ):
        fetch_preview(SPOTIFY_GET_LUCKY)


def test_preview_audio_repr_leaves_out_the_bytes() -> None:
    audio = PreviewAudio(
        data=b"\x00" * 1000, provider="deezer", page_url=None, mime="audio/mpeg", track=SPOTIFY_GET_LUCKY
    )
    assert "\\x00" not in repr(audio)
