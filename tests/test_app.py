"""The Streamlit app end to end with AppTest: random-weight models, HTTP faked with `responses`."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import responses
import streamlit as st
from responses import matchers
from streamlit.testing.v1 import AppTest

from mood.constants import MODEL_DISPLAY_NAMES, MOOD_DISPLAY_NAMES, MOODS, SAMPLE_RATE
from mood.engine.manifest import EnsembleManifest, Pretrained
from mood.engine.weights import SHIPPED_WEIGHTS_DIR, read_manifest, write_manifest
from mood.presentation.charts import PRESENTER_FONT_SIZE
from tests.helpers import chord_progression, click_track, typed_cv, write_audio

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
FIXTURES = Path(__file__).parent / "fixtures"
TIMEOUT_S = 120  # the first analysis loads torch and both models on a busy machine
DEEZER_SEARCH_URL = "https://api.deezer.com/search"
DEEZER_TRACK_URL = "https://api.deezer.com/track/67238735"
DEEZER_PLAYLIST_URL = "https://api.deezer.com/playlist/11223344551"
ITUNES_SEARCH_URL = "https://itunes.apple.com/search"
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
    st.cache_resource.clear()  # nor models loaded from another test's weights, nor the queue
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
        "🎧 Analyse a song", "🔎 Search", "🎶 Playlist", "📁 Upload", "🎙️ Record", "✨ Examples",
        "⚖️ Compare two songs", "📚 Library", "📖 About the models",
    ]  # fmt: skip
    assert at.radio(key="model").options == ["Ensemble", "ResNet18", "CLDNN"]
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
    assert not any(c.value.startswith("Results from Deezer") for c in at.caption)


def test_an_unexpected_failure_is_an_apology_and_is_logged(
    app: AppTest, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("internal detail 0xdeadbeef")

    monkeypatch.setattr("mood.service.analysis.spectrogram", broken)
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
    assert overview["model"].tolist() == ["Ensemble", "ResNet18", "CLDNN"]
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


# ---------------------------------------------------------------- why this mood


def test_why_this_mood_names_the_tempo_of_a_120_bpm_click_track_and_where_it_was_heard(
    app: AppTest, tmp_path: Path
) -> None:
    clicks = write_audio(click_track(120.0), tmp_path / "clicks.wav", sr=SAMPLE_RATE).read_bytes()
    at = app.run()
    at.file_uploader(key="upload").set_value(("clicks.wav", clicks, "audio/wav"))
    at.run()
    _assert_no_failure(at)
    assert any(m.value == "#### 💡 Why this mood?" for m in at.markdown)
    why = next(m.value for m in at.markdown if m.value.startswith("**What it sounds like:**"))
    tempo = re.search(r"- (Slow|Moderate tempo|Fast) \((\d+) BPM\)", why)
    assert tempo is not None, why
    assert 117 <= int(tempo[2]) <= 123
    assert re.search(r"- (In [A-G][#b]? (major|minor)|No clear key \(closest: [A-G][#b]? (major|minor)\))", why)
    assert "Strongly percussive" in why  # clicks and nothing else
    assert "they learnt the moods from the sound itself" in why
    assert _frame(at, "source")["tempo_bpm"].between(117, 123).all()

    toggle = next(t for t in at.toggle if t.label.startswith("🔍 Show where"))
    assert not any(
        m.value.startswith("**It relied most") or m.value.startswith("**No single part") for m in at.markdown
    )
    toggle.set_value(True).run()
    _assert_no_failure(at)
    heard = [m.value for m in at.markdown if m.value.startswith(("**It relied most", "**No single part"))]
    assert len(heard) == 1, [m.value for m in at.markdown]
    assert any("the model listened again with one part of the sound hidden" in c.value for c in at.caption)


# ---------------------------------------------------------------- compare two songs


def _tab(at: AppTest, label: str) -> Any:
    return next(t for t in at.tabs if t.label == label)


def test_two_songs_are_compared_side_by_side(app: AppTest) -> None:
    at = app.run()
    compare = _tab(at, "⚖️ Compare two songs")
    assert any("Analyse two songs or more" in i.value for i in compare.info)

    at.button(key="demo-storm-bursts").click().run()
    at.button(key="demo-still-water").click().run()
    _assert_no_failure(at)
    compare = _tab(at, "⚖️ Compare two songs")
    assert [s.value for s in compare.subheader] == ["Storm bursts", "Still water"]  # the earlier song on the left
    headlines = [m.value for m in compare.markdown if m.value.startswith("### ")]
    assert len(headlines) == 2 and all(" — " in h and h.endswith(" %") for h in headlines)
    sentence = compare.markdown[0].value
    assert "Storm bursts" in sentence and "Still water" in sentence
    assert all("BPM" in c.value for c in compare.caption)  # what each sounds like
    assert len(compare.get("vega_lite_chart")) == 5  # two bars, two timelines, one map

    at.selectbox(key="compare-left").set_value(at.selectbox(key="compare-right").value).run()
    assert any(i.value == "Pick two different songs." for i in _tab(at, "⚖️ Compare two songs").info)


# ---------------------------------------------------------------- presenter mode


def test_presenter_mode_from_the_address_shows_one_song_in_large_type(app: AppTest) -> None:
    app.query_params["present"] = "1"
    at = app.run()
    _assert_no_failure(at)
    assert at.toggle(key="present").value is True
    assert any("font-size: 76px" in h.proto.body for h in at.get("html"))
    at.button(key="demo-sunny-arpeggio").click().run()
    _assert_no_failure(at)
    _headline(at)
    assert any(m.value == "#### 💡 Why this mood?" for m in at.markdown)
    assert not [h.value for h in at.header if h.value == "This session's songs"]  # one song at a time
    assert not any(m.value.startswith("**How each of its models heard it") for m in at.markdown)
    assert not at.get("image")  # no spectrogram
    bars = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert bars["config"]["axis"]["labelFontSize"] == PRESENTER_FONT_SIZE

    at.toggle(key="present").set_value(False).run()
    assert "present" not in at.query_params
    assert not at.get("html")
    assert [h.value for h in at.header if h.value == "This session's songs"]
    assert any(m.value.startswith("**How each of its models heard it") for m in at.markdown)
    at.toggle(key="present").set_value(True).run()
    assert at.query_params["present"] in ("1", ["1"])  # the address shares it again


# ---------------------------------------------------------------- a playlist at once


def _previews(tmp_path: Path, n: int) -> list[bytes]:
    """``n`` different synthesised songs as WAV bytes (identical bytes would be one song)."""
    return [
        write_audio(chord_progression(seconds=6.0, seed=i), tmp_path / f"preview{i}.wav").read_bytes() for i in range(n)
    ]


def _serve_deezer_tracks(items: list[dict[str, Any]], audio: list[bytes], without_preview: str) -> None:
    """Deezer's track lookups and preview downloads; the track titled ``without_preview`` has none
    on Deezer (nor on iTunes)."""
    served = iter(audio)
    for item in items:
        if item["title"] == without_preview:
            responses.get(f"https://api.deezer.com/track/{item['id']}", json={**item, "readable": False, "preview": ""})
            query = {"q": f'artist:"{item["artist"]["name"]}" track:"{item["title"]}"', "limit": "10"}
            responses.get(
                DEEZER_SEARCH_URL, json=_load("deezer_search_empty.json"), match=[matchers.query_param_matcher(query)]
            )
            responses.get(ITUNES_SEARCH_URL, json=_load("itunes_search_empty.json"))
            continue
        responses.get(f"https://api.deezer.com/track/{item['id']}", json=item)
        responses.get(item["preview"], body=next(served), content_type="audio/mpeg")


@responses.activate(assert_all_requests_are_fired=True)
def test_a_deezer_playlist_is_analysed_together_and_a_song_without_preview_is_listed(
    app: AppTest, tmp_path: Path
) -> None:
    playlist = _load("deezer_playlist.json")
    responses.get(DEEZER_PLAYLIST_URL, json=playlist)
    items = playlist["tracks"]["data"]
    _serve_deezer_tracks(items, _previews(tmp_path, 3), without_preview="Around the World")
    at = app.run()
    at.text_input(key="playlist_link").input("https://www.deezer.com/fr/playlist/11223344551?utm_source=share")
    next(b for b in at.button if b.label == "Analyse").click().run()
    _assert_no_failure(at)

    assert any(s.value == "🎶 Daft Punk Essentials" for s in at.subheader)
    assert any(
        m.value.startswith("3 of 4 songs of “Daft Punk Essentials” analysed: ")
        and m.value.endswith(" 1 could not be analysed (listed below).")
        for m in at.markdown
    ), [m.value for m in at.markdown]
    analysed = next(d.value for d in at.dataframe if "valence" in d.value.columns)
    expected = [f"Daft Punk – {item['title']}" for item in items if item["title"] != "Around the World"]
    assert analysed["song"].tolist() == expected
    assert analysed[list(MOODS)].sum(axis=1).to_numpy() == pytest.approx([1.0] * 3, abs=1e-3)
    missing = _frame(at, "why")
    assert missing["song"].tolist() == ["Daft Punk – Around the World"]
    assert missing["why"].iloc[0] == "No preview found for “Daft Punk – Around the World”: upload the file instead."
    assert "Download this list as CSV" in [b.label for b in at.get("download_button")]
    assert not at.get("progress")  # finished: the bar is gone
    session = _frame(at, "source")  # the songs joined this session's list (and can be compared)
    assert session["song"].tolist() == expected and set(session["source"]) == {"Deezer preview"}
    assert len(at.selectbox(key="compare-left").options) == 3

    calls = len(responses.calls)
    at.button(key="close-playlist").click().run()
    assert not any(s.value == "🎶 Daft Punk Essentials" for s in at.subheader)
    assert len(responses.calls) == calls  # closing fetches nothing again


@responses.activate(assert_all_requests_are_fired=True)
def test_search_results_picked_with_checkboxes_are_analysed_together(app: AppTest, tmp_path: Path) -> None:
    results = _load("deezer_search.json")
    responses.get(
        DEEZER_SEARCH_URL,
        json=results,
        match=[matchers.query_param_matcher({"q": "Daft Punk Get Lucky", "limit": "10"})],
    )
    picked = [item for item in results["data"] if item["id"] in (67238735, 67238741)]
    _serve_deezer_tracks(picked, _previews(tmp_path, 2), without_preview="")
    app.query_params["q"] = "Daft Punk Get Lucky"
    at = app.run()
    assert at.button(key="analyse-picked").disabled
    at.checkbox(key="tick-deezer-67238735").check().run()
    at.checkbox(key="tick-deezer-67238741").check().run()
    assert at.button(key="analyse-picked").label == "Analyse these (2)"
    at.button(key="analyse-picked").click().run()
    _assert_no_failure(at)
    assert any(s.value == "🎶 Your picks for “Daft Punk Get Lucky”" for s in at.subheader)
    analysed = next(d.value for d in at.dataframe if "valence" in d.value.columns)
    assert [song.split(" – ")[1] for song in analysed["song"]] == [item["title"] for item in picked]
    assert not at.checkbox(key="tick-deezer-67238735").value  # unticked for the next pick


def test_a_link_that_is_not_a_playlist_says_what_to_paste(app: AppTest) -> None:
    at = app.run()
    at.text_input(key="playlist_link").input("https://www.deezer.com/track/3135553")
    next(b for b in at.button if b.label == "Analyse").click().run()
    assert not at.exception
    assert any("This is not a Deezer or Spotify playlist or album link" in w.value for w in at.warning)


# ---------------------------------------------------------------- a pretrained member


def _weights_with_musicnn(random_weights_dir: Path, tmp_path: Path) -> Path:
    """The random-weight models plus a random-weight fine-tuned musicnn with its provenance and a
    calibrated cross-validation, all three in the ensemble."""
    import torch

    from mood.engine.models import build_model
    from mood.engine.torch_weights import save_network
    from mood.training.members.musicnn import FINETUNE_FRONT_END

    folder = shutil.copytree(random_weights_dir, tmp_path / "weights")
    torch.manual_seed(2)
    network = build_model("musicnn_mood", FINETUNE_FRONT_END, len(MOODS)).eval()
    provenance = Pretrained(
        package="musicnn",
        version="0.1.0",
        model="MSD_musicnn,MTT_musicnn",
        licence="ISC",
        authors="Jordi Pons, Xavier Serra",
        trained_on="the Million Song Dataset and MagnaTagATune",
        files={},
        copyright="Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019.",
    )
    calibration = {"method": "temperature", "temperature": 1.5, "ece_before": 0.112, "ece_after": 0.031}
    save_network(
        network, "musicnn", folder, "musicnn_mood", FINETUNE_FRONT_END,
        pretrained=provenance, cv=typed_cv({**CV, "macro_f1": 0.71, "calibration": calibration}),
    )  # fmt: skip
    write_manifest(EnsembleManifest(name="ensemble", members=["resnet18", "cldnn", "musicnn"]), folder)
    return folder


def test_about_credits_musicnn_and_says_its_probabilities_are_calibrated(
    app: AppTest, random_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, song_wav_bytes: bytes
) -> None:
    monkeypatch.setenv("MOOD_WEIGHTS_DIR", str(_weights_with_musicnn(random_weights_dir, tmp_path)))
    at = app.run()
    _assert_no_failure(at)
    names = ["Ensemble", "musicnn, fine-tuned", "ResNet18", "CLDNN"]
    assert at.radio(key="model").options == names
    overview = _frame(at, "macro_f1")
    assert overview["model"].tolist() == names
    assert overview.set_index("model").loc["musicnn, fine-tuned", ["macro_f1", "accuracy", "ece"]].tolist() == [
        0.71, 0.6, 0.031,
    ]  # fmt: skip
    about = _tab(at, "📖 About the models")
    figures = [m.value for m in about.markdown if m.value.startswith("Cross-validated macro-F1 **0.710**")]
    assert len(figures) == 1 and "accuracy **60 %**" in figures[0]
    assert "Its probabilities are calibrated (temperature scaling, T = 1.50" in figures[0]
    assert "from 0.112 to 0.031" in figures[0]
    credits = next(m.value for m in about.markdown if "4Q audio emotion dataset" in m.value)
    assert "Jordi Pons, Xavier Serra" in credits and "musicnn: pre-trained convolutional neural networks" in credits
    assert "ISMIR 2019" in credits and "ISC licence" in credits and "Universitat Pompeu Fabra 2019" in credits
    assert "Panda, Ricardo Malheiro and Rui Pedro Paiva" in credits
    assert any(c.value == "Combines ResNet18, CLDNN, musicnn, fine-tuned." for c in about.caption)

    at.file_uploader(key="upload").set_value(("song.wav", song_wav_bytes, "audio/wav"))
    at.run()
    _assert_no_failure(at)
    assert list(_frame(at, ENSEMBLE_NAME).columns) == [ENSEMBLE_NAME, "ResNet18", "CLDNN", "musicnn, fine-tuned"]


# ---------------------------------------------------------------- the queue


def test_a_listener_who_waits_for_a_turn_is_told_how_many_songs_were_ahead(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mood.service.queue import AnalysisQueue

    queues: list[AnalysisQueue] = []
    make_queue = AnalysisQueue.__init__

    def remembered(self: AnalysisQueue, *args: Any, **kwargs: Any) -> None:
        make_queue(self, *args, **kwargs)
        queues.append(self)

    monkeypatch.setattr(AnalysisQueue, "__init__", remembered)
    at = app.run()
    at.button(key="demo-rainy-pad").click().run()
    assert at.status[0].label == "Analysed “Rainy pad” with Ensemble"
    (queue,) = queues  # one queue for every session of the server

    release = threading.Event()
    started = threading.Barrier(queue.slots + 1)

    def other_listener() -> None:
        with queue.turn():
            started.wait()
            release.wait(timeout=60)

    others = [threading.Thread(target=other_listener) for _ in range(queue.slots)]
    for thread in others:
        thread.start()
    started.wait()  # every place is taken
    threading.Timer(2.0, release.set).start()
    at.button(key="demo-storm-bursts").click().run()
    for thread in others:
        thread.join()
    _assert_no_failure(at)
    _headline(at)
    assert at.status[0].label == "Analysed “Storm bursts” with Ensemble, after waiting for 1 song ahead"


def test_a_song_unlike_the_training_music_says_so_beside_its_answer(
    app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOOD_WEIGHTS_DIR", str(SHIPPED_WEIGHTS_DIR))  # the hybrid measures the distance
    synthetic = write_audio(chord_progression(seconds=8.0), tmp_path / "chords.wav", sr=SAMPLE_RATE).read_bytes()
    at = app.run()
    at.file_uploader(key="upload").set_value(("chords.wav", synthetic, "audio/wav"))
    at.run()
    _assert_no_failure(at)
    notes = [c.value for c in at.caption if "unlike the music the models learnt from" in c.value]
    assert len(notes) == 1 and "less sure" in notes[0]
