"""The Library tab in AppTest: a results file from MOOD_LIBRARY or --library (or uploaded),
filters that change the counts, the playlist download, and songs played from the table."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from mood.constants import MOODS
from mood.presentation.report import mood_label
from tests.helpers import chord_progression, write_audio
from tests.library_rows import synthetic_records, write_results

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
TIMEOUT_S = 120
LIBRARY_TAB = "📚 Library"
N_ROWS = 80


@pytest.fixture
def records(tmp_path: Path) -> list[dict[str, Any]]:
    """A library of ``N_ROWS`` results under ``tmp_path/music``; the first song's file is on disk."""
    rows = synthetic_records(N_ROWS, tmp_path / "music", seed=3)
    first = Path(rows[0]["path"])
    first.parent.mkdir(parents=True)
    write_audio(chord_progression(), first)
    return rows


@pytest.fixture
def results(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    return write_results(tmp_path / "results.parquet", records)


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Callable[[], Any]]:
    """The data of each download button made on click, by file name, as the page registered it."""
    registered: dict[str, Callable[[], Any]] = {}
    real = MediaFileManager.add_deferred

    def add_deferred(self: MediaFileManager, data: Callable[[], Any], *args: Any, **kwargs: Any) -> str:
        registered[str(kwargs.get("file_name"))] = data
        return real(self, data, *args, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return registered


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    """The app with no library given on the command line and empty data caches."""
    monkeypatch.chdir(APP.parent)
    monkeypatch.delenv("MOOD_LIBRARY", raising=False)
    monkeypatch.setattr(sys, "argv", ["streamlit_app.py"])
    st.cache_data.clear()
    yield AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)


def _tab(at: AppTest) -> Block:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return next(tab for tab in at.tabs if tab.label == LIBRARY_TAB)


def _counts(tab: Block) -> dict[str, int]:
    labels = {mood_label(m): m for m in MOODS}
    return {labels[m.label]: int(m.value.replace(",", "")) for m in tab.metric if m.label in labels}


def _widget(tab: Block, kind: str, label: str) -> Any:
    return next(w for w in getattr(tab, kind) if w.label == label)


def _expected_counts(records: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool]) -> dict[str, int]:
    judged = [r for r in records if "error" not in r and keep(r)]
    return {m: sum(r["mood"] == m for r in judged) for m in MOODS}


def test_the_tab_opens_the_library_given_by_mood_library_with_its_map_counts_and_failures(
    app: AppTest, results: Path, records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOOD_LIBRARY", str(results))
    tab = _tab(app.run())
    failed = [r["path"] for r in records if "error" in r]
    assert _counts(tab) == _expected_counts(records, lambda r: True)
    assert any(f"{N_ROWS - len(failed)} songs" in c.value for c in tab.caption)
    assert len(tab.get("vega_lite_chart")) == 1  # the map
    table = next(d.value for d in tab.dataframe if "top_probability" in d.value.columns)
    assert len(table) == N_ROWS - len(failed)
    if failed:
        failures = next(d.value for d in tab.dataframe if "error" in d.value.columns)
        assert list(failures["path"]) == failed


def test_filters_change_the_counts_and_the_playlist_holds_the_filtered_paths(
    app: AppTest,
    results: Path,
    records: list[dict[str, Any]],
    downloads: dict[str, Callable[[], Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOOD_LIBRARY", str(results))
    at = app.run()
    _widget(_tab(at), "multiselect", "Mood").set_value(["calm", "sad"]).run()
    tab = _tab(at)
    calm_or_sad = _expected_counts(records, lambda r: r["mood"] in ("calm", "sad"))
    assert _counts(tab) == calm_or_sad and calm_or_sad["sad"] > 0
    _widget(tab, "slider", "Top mood's probability at least").set_value(0.6).run()
    tab = _tab(at)

    def kept(r: dict[str, Any]) -> bool:
        return r["mood"] in ("calm", "sad") and max(r["probabilities"].values()) >= 0.6

    assert _counts(tab) == _expected_counts(records, kept)
    chosen = [r for r in records if "error" not in r and kept(r)]
    button = next(b for b in tab.download_button if ".m3u8" in b.label)
    assert f"{len(chosen)} songs" in button.label
    playlist = downloads[f"results-{len(chosen)}-songs.m3u8"]().decode("utf-8").splitlines()
    assert playlist[0] == "#EXTM3U"
    assert playlist[2::2] == [r["path"] for r in chosen]  # absolute paths, in the results file's order
    assert all(line.startswith("#EXTINF:") for line in playlist[1::2])

    first_folder = str(Path(records[0]["path"]).parent)
    _widget(tab, "multiselect", "Folder").set_value([first_folder]).run()
    in_folder = _expected_counts(records, lambda r: kept(r) and str(Path(r["path"]).parent) == first_folder)
    assert _counts(_tab(at)) == in_folder


def test_a_picked_row_plays_its_file_and_a_song_not_on_disk_says_so(
    app: AppTest, results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOOD_LIBRARY", str(results))
    at = app.run()
    key = next(d.key for d in _tab(at).dataframe if "top_probability" in d.value.columns)
    assert key is not None
    at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    tab = _tab(at.run())
    assert len(tab.get("audio")) == 1
    assert any("▶️" in m.value and "01 Song 0" in m.value for m in tab.markdown)

    at.session_state[key] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    tab = _tab(at.run())
    assert len(tab.get("audio")) == 0
    assert any("cannot be played here" in c.value for c in tab.caption)


def test_the_library_flag_wins_over_the_environment_and_an_upload_over_both(
    app: AppTest, results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_records = synthetic_records(30, tmp_path / "elsewhere", seed=5)
    other = write_results(tmp_path / "other.jsonl", other_records)
    monkeypatch.setenv("MOOD_LIBRARY", str(tmp_path / "missing.parquet"))
    monkeypatch.setattr(sys, "argv", ["streamlit_app.py", "--library", str(results)])
    tab = _tab(app.run())
    assert any("results\\.parquet" in c.value for c in tab.caption)

    app.file_uploader(key="library-upload").set_value(("other.jsonl", other.read_bytes(), "application/json"))
    tab = _tab(app.run())
    assert any("other\\.jsonl" in c.value for c in tab.caption)
    table = next(d for d in tab.dataframe if "top_probability" in d.value.columns)
    assert len(table.value) == sum("error" not in r for r in other_records)


def test_a_missing_library_or_a_broken_file_is_a_message_not_a_traceback(
    app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOOD_LIBRARY", str(tmp_path / "missing.parquet"))
    at = app.run()
    tab = _tab(at)
    assert any("is not a file" in w.value for w in tab.warning)

    at.file_uploader(key="library-upload").set_value(
        ("broken.parquet", b"not parquet at all", "application/octet-stream")
    )
    at.run()
    assert not at.exception
    assert any("not a complete Parquet results file" in e.value for e in at.error)


def test_without_a_library_the_tab_says_how_to_open_one(app: AppTest) -> None:
    tab = _tab(app.run())
    assert any("--library" in i.value for i in tab.info)
    assert not tab.metric
