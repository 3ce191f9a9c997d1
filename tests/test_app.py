"""The Streamlit app end to end with AppTest: random-weight models, HTTP faked with `responses`."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import responses
import streamlit as st
from responses import matchers
from streamlit.testing.v1 import AppTest

from mood.constants import MODEL_DISPLAY_NAMES, MOOD_DISPLAY_NAMES, MOODS
from mood.engine.weights import read_manifest, write_manifest
from tests.helpers import typed_cv

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
FIXTURES = Path(__file__).parent / "fixtures"
TIMEOUT_S = 120  # the first analysis loads torch and both models on a busy machine
DEEZER_SEARCH_URL = "https://api.deezer.com/search"
DEEZER_TRACK_URL = "https://api.deezer.com/track/67238735"
TOKEN_URL = "https://accounts.spotify.com/api/token"
SPOTIFY_SEARCH_URL = "https://api.spotify.com/v1/search"
ENSEMBLE_NAME = MODEL_DISPLAY_NAMES["ensemble"]
HEADLINE = re.compile(r"^## \S+ (?P<mood>.+) — (?P<percent>\d+) %$")


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def app(random_weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    """The app on random-weight models, with no Spotify keys and empty data caches."""
    monkeypatch.chdir(APP.parent)  # Streamlit reads .streamlit/config.toml from the working directory
    monkeypatch.setenv("MOOD_WEIGHTS_DIR", str(random_weights_dir))
    monkeypatch.delenv("SPOTIPY_CLIENT_ID", raising=False)
    monkeypatch.delenv("SPOTIPY_CLIENT_SECRET", raising=False)
    st.cache_data.clear()  # searches, previews and analyses must not leak between tests
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.secrets["SPOTIPY_CLIENT_ID"] = ""  # hide any developer's .streamlit/secrets.toml: no Spotify keys
    yield at


def _headline(at: AppTest) -> re.Match[str]:
    headlines = [match for m in at.markdown if (match := HEADLINE.match(m.value))]
    assert len(headlines) == 1, [m.value for m in at.markdown]
    return headlines[0]


def _frame(at: AppTest, column: str) -> pd.DataFrame:
    """The one dataframe on the page that has ``column``."""
    frames = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(frames) == 1, [list(d.value.columns) for d in at.dataframe]
    return frames[0]


def _page_text(node: Any) -> str:
    """Everything the page sends to the browser under ``node`` (every element's message), as text."""
    if hasattr(node, "children"):
        return "\n".join(_page_text(child) for child in node.children.values())
    return str(getattr(node, "proto", ""))


def _assert_no_failure(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_the_page_opens_with_every_input_and_nothing_to_analyse(app: AppTest) -> None:
    at = app.run()
    _assert_no_failure(at)
    assert [t.label for t in at.tabs] == [
        "🎧 Analyse a song", "🔎 Search", "📁 Upload", "🎙️ Record", "✨ Examples", "📖 About the models",
    ]  # fmt: skip
    assert at.radio(key="model").options == ["Ensemble (all models)", "ResNet18", "CLDNN"]
    assert any("Pick a song above" in i.value for i in at.info)
    uploader = at.file_uploader(key="upload")
    assert {".wav", ".mp3", ".ogg", ".flac", ".m4a", ".webm"} <= set(uploader.allowed_type)
    assert "up to 50 MB" in uploader.help


def test_an_uploaded_wav_shows_the_headline_the_four_probabilities_and_the_session(
    app: AppTest, song_wav_bytes: bytes
) -> None:
    at = app.run()
    at.file_uploader(key="upload").set_value(("song.wav", song_wav_bytes, "audio/wav"))
    at.run()
    _assert_no_failure(at)

    numbers = _frame(at, ENSEMBLE_NAME)
    assert list(numbers.index) == [MOOD_DISPLAY_NAMES[m] for m in MOODS]
    assert list(numbers.columns) == [ENSEMBLE_NAME, "ResNet18", "CLDNN"]
    assert numbers.sum().to_numpy() == pytest.approx([1.0, 1.0, 1.0], abs=1e-3)
    headline = _headline(at)
    top = numbers[ENSEMBLE_NAME].idxmax()
    assert headline["mood"] == top
    assert int(headline["percent"]) == round(100 * numbers[ENSEMBLE_NAME].max())
    assert any(re.match(r"\*\*(Clearly|Leaning|Mixed)", m.value) for m in at.markdown)

    songs = _frame(at, "source")
    assert songs[["song", "source", "model"]].values.tolist() == [["song.wav", "Upload", "ensemble"]]
    assert [b.label for b in at.get("download_button")] == ["Download CSV", "Download JSON"]


def test_garbage_is_a_friendly_error_and_the_app_keeps_working(app: AppTest) -> None:
    at = app.run()
    at.file_uploader(key="upload").set_value(("song.mp3", b"definitely not audio " * 64, "audio/mpeg"))
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "could not be read as audio" in at.error[0].value

    at.button(key="demo-still-water").click().run()
    _assert_no_failure(at)
    _headline(at)
    assert at.subheader[0].value == "Still water"


def test_switching_models_reanalyses_the_same_song(app: AppTest) -> None:
    at = app.run()
    at.button(key="demo-storm-bursts").click().run()
    assert list(_frame(at, ENSEMBLE_NAME).columns) == [ENSEMBLE_NAME, "ResNet18", "CLDNN"]
    for model in ("resnet18", "cldnn"):
        at.radio(key="model").set_value(model).run()
        _assert_no_failure(at)
        assert list(_frame(at, MODEL_DISPLAY_NAMES[model]).columns) == [MODEL_DISPLAY_NAMES[model]]
        _headline(at)
    songs = _frame(at, "source")
    assert songs[["song", "model"]].values.tolist() == [["Storm bursts", "cldnn"]]  # one song, latest model


def test_a_recording_is_analysed(app: AppTest, song_wav_bytes: bytes) -> None:
    at = app.run()
    at.audio_input(key="recording").set_value(("recording.wav", song_wav_bytes, "audio/wav"))
    at.run()
    _assert_no_failure(at)
    _headline(at)
    assert at.subheader[0].value == "Your recording"


@responses.activate(assert_all_requests_are_fired=True)
def test_search_lists_results_and_analyses_the_chosen_preview(app: AppTest, song_wav_bytes: bytes) -> None:
    responses.get(
        DEEZER_SEARCH_URL,
        json=_load("deezer_search.json"),
        match=[matchers.query_param_matcher({"q": "Daft Punk Get Lucky", "limit": "10"})],
    )
    responses.get(DEEZER_TRACK_URL, json=_load("deezer_track.json"))
    responses.get(_load("deezer_track.json")["preview"], body=song_wav_bytes, content_type="audio/mpeg")
    at = app.run()
    at.text_input(key="query").input("Daft Punk - Get Lucky")
    next(b for b in at.button if b.label == "Search").click().run()
    _assert_no_failure(at)
    assert at.query_params["q"] in ("Daft Punk - Get Lucky", ["Daft Punk - Get Lucky"])
    assert any(c.value == "Results from Deezer (no Spotify keys are set up)." for c in at.caption)
    listed = " ".join(m.value for m in at.markdown)
    assert "Cover Nation" in listed and "Lose Yourself to Dance" in listed

    at.button(key="pick-deezer-67238735").click().run()
    _assert_no_failure(at)
    _headline(at)
    assert "Radio Edit" in at.subheader[0].value
    credit = " ".join(c.value for c in at.caption)
    assert "[Preview courtesy of Deezer](https://www.deezer.com/track/67238735)" in credit
    assert _frame(at, "source")["source"].tolist() == ["Deezer preview"]

    at.radio(key="model").set_value("cldnn").run()  # other clicks reuse the search and the preview
    _headline(at)
    hosts = [call.request.url.split("?")[0] for call in responses.calls]  # type: ignore[union-attr]
    assert hosts == [DEEZER_SEARCH_URL, DEEZER_TRACK_URL, _load("deezer_track.json")["preview"].split("?")[0]]


@responses.activate(assert_all_requests_are_fired=True)
def test_a_shared_link_opens_with_its_search_done(app: AppTest) -> None:
    responses.get(
        DEEZER_SEARCH_URL,
        json=_load("deezer_search.json"),
        match=[matchers.query_param_matcher({"q": "Daft Punk Get Lucky", "limit": "10"})],
    )
    app.query_params["q"] = "Daft Punk Get Lucky"
    at = app.run()
    _assert_no_failure(at)
    assert at.text_input(key="query").value == "Daft Punk Get Lucky"
    assert {b.key for b in at.button} >= {"pick-deezer-744341922", "pick-deezer-67238735"}


@responses.activate(assert_all_requests_are_fired=True)
def test_a_failing_search_is_a_warning_and_the_rest_works(app: AppTest) -> None:
    responses.get(DEEZER_SEARCH_URL, json=_load("deezer_error_quota.json"))
    app.query_params["q"] = "anything"
    at = app.run()
    assert not at.exception
    assert any("too many requests" in w.value for w in at.warning)
    at.button(key="demo-rainy-pad").click().run()
    _headline(at)


@responses.activate(assert_all_requests_are_fired=True)
def test_a_famous_example_that_cannot_be_found_suggests_the_demo_clips(app: AppTest) -> None:
    responses.get(DEEZER_SEARCH_URL, json=_load("deezer_search_empty.json"))
    at = app.run()
    at.button(key="example-sad").click().run()
    assert not at.exception
    assert any("try a demo clip" in w.value for w in at.warning)


@responses.activate(assert_all_requests_are_fired=True)
def test_spotify_keys_from_secrets_search_spotify_and_are_never_shown(app: AppTest) -> None:
    responses.post(TOKEN_URL, json=_load("spotify_token.json"))
    responses.get(SPOTIFY_SEARCH_URL, json=_load("spotify_search.json"))
    app.secrets["spotify"] = {"client_id": "visible-id-1234", "client_secret": "top-secret-5678"}
    app.query_params["q"] = "Daft Punk Get Lucky"
    at = app.run()
    _assert_no_failure(at)
    page = _page_text(at.main)
    assert "Open in Spotify" in page
    assert "top-secret-5678" not in page and "visible-id-1234" not in page
    assert not any("Deezer" in c.value for c in at.caption)


def test_an_unexpected_failure_is_an_apology_and_is_logged(
    app: AppTest, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("internal detail 0xdeadbeef")

    monkeypatch.setattr("mood.presentation.analysis.spectrogram", broken)
    at = app.run()
    with caplog.at_level(logging.ERROR, logger="mood.app"):
        at.button(key="demo-sunny-arpeggio").click().run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("Sorry, something went wrong")
    assert "0xdeadbeef" not in _page_text(at.main)
    assert any(r.exc_info and "0xdeadbeef" in str(r.exc_info[1]) for r in caplog.records)
    assert at.tabs  # the rest of the page is there


def test_about_says_models_are_not_yet_evaluated(app: AppTest) -> None:
    at = app.run()
    _assert_no_failure(at)
    waiting = [i.value for i in at.info if "not yet evaluated" in i.value]
    assert len(waiting) == 3
    overview = _frame(at, "macro_f1")
    assert overview["model"].tolist() == ["Ensemble (all models)", "ResNet18", "CLDNN"]
    assert overview["macro_f1"].isna().all()
    assert any("Sad vs calm is the hard pair" in m.value for m in at.markdown)


CV = {
    "folds": [0, 1, 2, 3, 4],
    "accuracy": 0.6,
    "macro_f1": 0.59,
    "per_class": {m: {"precision": 0.6, "recall": 0.6, "f1": 0.6} for m in MOODS},
    "confusion": [[40, 5, 3, 2], [6, 38, 4, 2], [2, 3, 30, 15], [3, 1, 14, 32]],
    "confidence": {
        m: {"clips": n, "accuracy": a} for m, n, a in [("clear", 100, 0.9), ("leaning", 60, 0.5), ("mixed", 40, 0.3)]
    },
}


def _evaluated_weights(random_weights_dir: Path, tmp_path: Path) -> Path:
    """The random-weight models with cross-validated figures in their manifests."""
    evaluated = shutil.copytree(random_weights_dir, tmp_path / "weights")
    for name in ("ensemble", "resnet18", "cldnn"):
        write_manifest(dataclasses.replace(read_manifest(name, evaluated), cv=typed_cv(CV)), evaluated)
    return evaluated


def test_the_confidence_says_how_often_such_answers_were_right(
    app: AppTest, random_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, song_wav_bytes: bytes
) -> None:
    monkeypatch.setenv("MOOD_WEIGHTS_DIR", str(_evaluated_weights(random_weights_dir, tmp_path)))
    at = app.run()
    at.file_uploader(key="upload").set_value(("song.wav", song_wav_bytes, "audio/wav"))
    at.run()
    _assert_no_failure(at)
    explained = [m.value for m in at.markdown if re.match(r"\*\*(Clearly|Leaning|Mixed)", m.value)]
    assert len(explained) == 1
    assert re.search(r"answers this sure were right (90|50|30) % of the time\.$", explained[0]), explained[0]


def test_about_shows_the_cross_validated_figures(
    app: AppTest, random_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOOD_WEIGHTS_DIR", str(_evaluated_weights(random_weights_dir, tmp_path)))
    at = app.run()
    _assert_no_failure(at)
    assert any("- *Clearly*: 50 % of the songs, right 90 % of the time" in m.value for m in at.markdown)
    assert not [i.value for i in at.info if "not yet evaluated" in i.value]
    assert _frame(at, "macro_f1")["macro_f1"].tolist() == [0.59, 0.59, 0.59]
    per_class = [d.value for d in at.dataframe if "recall" in d.value.columns]
    assert len(per_class) == 3
