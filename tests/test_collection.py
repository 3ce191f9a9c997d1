"""The Library tab's logic without Streamlit: catalogue, filters, counts, map, table, playlist, playback."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mood.batch.results import COLUMNS, flat_row
from mood.batch.sinks import read_rows
from mood.constants import MOOD_DISPLAY_NAMES, MOODS
from mood.presentation.collection import (
    TABLE_COLUMNS,
    Filters,
    catalogue,
    collection_chart,
    density_cells,
    library_folders,
    map_sample,
    mood_counts,
    playable,
    playlist_bytes,
    playlist_text,
    table_frame,
)
from tests.library_rows import synthetic_records, write_results


def _row(
    path: str, mood: str = "happy", top: float = 0.7, tempo: float | None = 120.0, key: str = "A"
) -> dict[str, Any]:
    """A flat results row whose top mood has probability ``top``, the others sharing the rest."""
    rest = (1.0 - top) / 3
    p = {m: top if m == mood else rest for m in MOODS}
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(path=path, model="ensemble", mood=mood, **p, duration_s=200.0, tempo_bpm=tempo, key=key, mode="minor")
    row.update(
        valence=p["happy"] + p["calm"] - p["angry"] - p["sad"], arousal=p["happy"] + p["angry"] - p["sad"] - p["calm"]
    )
    return row


ROWS = [
    _row("/music/Jazz/slow.mp3", "calm", 0.9, tempo=70.0, key="C"),
    _row("/music/Jazz/Live/swing.flac", "happy", 0.5, tempo=140.0),
    {**_row("/music/Rock/riff.mp3", "angry", 0.8, tempo=150.0, key="E"), "unfamiliar": True},
    _row("/music/Rock/ballad.mp3", "sad", 0.4, tempo=None),
    _row("loose.mp3", "calm", 0.6, tempo=100.0),
    {**dict.fromkeys(COLUMNS), "path": "/music/Rock/broken.mp3", "error": "This file could not be read as audio."},
]


def _names(songs: pd.DataFrame) -> list[str]:
    return list(songs["song"])


def test_the_catalogue_keeps_judged_songs_and_lists_failures_apart() -> None:
    shelf = catalogue(ROWS)
    assert _names(shelf.songs) == ["slow.mp3", "swing.flac", "riff.mp3", "ballad.mp3", "loose.mp3"]
    assert list(shelf.songs["folder"]) == ["/music/Jazz", "/music/Jazz/Live", "/music/Rock", "/music/Rock", "."]
    assert list(shelf.songs["top_probability"]) == pytest.approx([0.9, 0.5, 0.8, 0.4, 0.6])  # the top probability
    assert shelf.songs["key_name"].iloc[0] == "C minor"
    assert shelf.failures.to_dict("records") == [
        {"path": "/music/Rock/broken.mp3", "folder": "/music/Rock", "error": "This file could not be read as audio."}
    ]
    assert shelf.folders == [".", "/music/Jazz", "/music/Jazz/Live", "/music/Rock"]
    assert shelf.keys == ["A minor", "C minor", "E minor"]
    assert shelf.tempo_range == (70.0, 150.0)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(), ["slow.mp3", "swing.flac", "riff.mp3", "ballad.mp3", "loose.mp3"]),
        (Filters(moods=("calm", "sad")), ["slow.mp3", "ballad.mp3", "loose.mp3"]),
        (Filters(min_top_probability=0.6), ["slow.mp3", "riff.mp3", "loose.mp3"]),  # 0.6 itself is kept
        (Filters(tempo_bpm=(70.0, 140.0)), ["slow.mp3", "swing.flac", "loose.mp3"]),  # inclusive; no tempo: out
        (Filters(keys=("A minor",)), ["swing.flac", "ballad.mp3", "loose.mp3"]),
        (Filters(moods=("calm",), min_top_probability=0.7, keys=("C minor",)), ["slow.mp3"]),
        (Filters(moods=("happy",), folders=("/music/Rock",)), []),
    ],
)
def test_filters_keep_what_they_say(filters: Filters, expected: list[str]) -> None:
    assert _names(filters.apply(catalogue(ROWS).songs)) == expected


def test_songs_unlike_the_training_music_can_be_left_out_and_unmeasured_ones_stay() -> None:
    songs = catalogue(ROWS).songs
    assert "riff.mp3" in _names(songs)  # the one row marked unlike the training music
    kept = Filters(familiar_only=True).apply(songs)
    assert "riff.mp3" not in _names(kept) and len(kept) == len(songs) - 1


def test_the_folder_filter_is_the_parent_folder_not_the_folders_above_it() -> None:
    songs = catalogue(ROWS).songs
    assert _names(Filters(folders=("/music/Jazz",)).apply(songs)) == ["slow.mp3"]  # not Jazz/Live/swing.flac
    assert _names(Filters(folders=("/music/Jazz/Live", ".")).apply(songs)) == ["swing.flac", "loose.mp3"]
    assert _names(Filters(folders=("/music",)).apply(songs)) == []


def test_mood_counts_cover_every_mood_in_order_with_zeros() -> None:
    songs = catalogue(ROWS).songs
    assert mood_counts(songs).to_dict() == {"happy": 1, "angry": 1, "sad": 1, "calm": 2}
    calm = Filters(moods=("calm",)).apply(songs)
    counts = mood_counts(calm)
    assert list(counts.index) == list(MOODS) and counts.to_dict() == {"happy": 0, "angry": 0, "sad": 0, "calm": 2}


def _chart_data(songs: pd.DataFrame, max_points: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The map's dots and density cells (empty without a density layer)."""
    spec = collection_chart(songs, max_points).to_dict()
    views = [view for layer in spec["layer"] for view in layer.get("layer", [layer])]
    by_mark = {view["mark"]["type"]: spec["datasets"][view["data"]["name"]] for view in views if "data" in view}
    rects = [spec["datasets"][v["data"]["name"]] for v in views if v["mark"]["type"] == "rect"]
    return by_mark["circle"], rects[1] if len(rects) > 1 else []  # the first rects are the quadrants


def test_a_large_collection_is_a_sample_of_dots_over_a_density_of_every_song(tmp_path: Path) -> None:
    songs = catalogue(map(flat_row, synthetic_records(3000, tmp_path))).songs
    dots, cells = _chart_data(songs, max_points=500)
    assert len(dots) == 500
    assert {dot["song"] for dot in dots} <= set(songs["song"])
    assert sum(cell["songs"] for cell in cells) == len(songs)  # the density counts them all
    assert all(-1.0 <= cell["x"] < cell["x2"] <= 1.0 and -1.0 <= cell["y"] < cell["y2"] <= 1.0 for cell in cells)
    assert map_sample(songs, 500).equals(map_sample(songs, 500))  # the same dots on every rerun

    dots, cells = _chart_data(songs.head(400), max_points=500)
    assert len(dots) == 400 and cells == []  # under the cap: every song, no density
    assert {dot["mood"] for dot in dots} <= set(MOOD_DISPLAY_NAMES.values())


def test_density_cells_count_each_song_once_even_on_the_edges() -> None:
    songs = pd.DataFrame({"valence": [-1.0, 1.0, 1.0, 0.01], "arousal": [-1.0, 1.0, 1.0, 0.01]})
    cells = density_cells(songs, bins=4)
    assert cells[["x", "y", "songs"]].values.tolist() == [[-1.0, -1.0, 1], [0.0, 0.0, 1], [0.5, 0.5, 2]]


def test_the_table_shows_display_names_and_the_columns_a_curator_sorts_by() -> None:
    table = table_frame(catalogue(ROWS).songs)
    assert tuple(table.columns) == TABLE_COLUMNS
    assert table["mood"].iloc[0] == "Calm / relaxed"
    assert table["tempo_bpm"].isna().tolist() == [False, False, False, True, False]
    assert table["unfamiliar"].tolist()[2] is True and table["unfamiliar"].isna().sum() == 4  # not measured: missing


def test_the_playlist_lists_the_filtered_songs_absolute_under_the_results_folder(tmp_path: Path) -> None:
    songs = Filters(moods=("calm",)).apply(catalogue(ROWS).songs)
    text = playlist_text(songs, tmp_path)
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXTINF:200,slow",
        "/music/Jazz/slow.mp3",
        "#EXTINF:200,loose",
        str(tmp_path / "loose.mp3"),  # a relative path is under the results file's folder
    ]
    assert playlist_text(songs, None).splitlines()[-1] == "loose.mp3"  # an upload: as written


def test_a_file_name_that_is_not_utf8_keeps_its_bytes_in_the_playlist_and_shows_readably() -> None:
    name = os.fsdecode(b"/music/caf\xe9.mp3")  # Latin-1 bytes, as a Linux file name can hold
    shelf = catalogue([_row(name)])
    assert playlist_bytes(shelf.songs, None).splitlines()[-1] == b"/music/caf\xe9.mp3"
    assert shelf.songs["song"].iloc[0] == "caf\N{REPLACEMENT CHARACTER}.mp3"


def test_only_audio_files_inside_the_librarys_folders_can_be_played(tmp_path: Path) -> None:
    music, outside = tmp_path / "music", tmp_path / "private"
    music.mkdir()
    outside.mkdir()
    for file in (music / "song.mp3", music / "notes.txt", outside / "secret.mp3"):
        file.write_bytes(b"ID3")
    (music / "link.mp3").symlink_to(outside / "secret.mp3")
    library = catalogue([_row("music/song.mp3"), _row("music/link.mp3")])
    folders = library_folders(library.songs, tmp_path)
    assert folders == {os.path.realpath(music)}
    assert playable("music/song.mp3", tmp_path, folders) == Path(os.path.realpath(music / "song.mp3"))
    assert playable(str(music / "song.mp3"), None, folders) is not None
    assert playable("music/link.mp3", tmp_path, folders) is None  # it leads out of the library
    assert playable("music/../private/secret.mp3", tmp_path, folders) is None
    assert playable(str(outside / "secret.mp3"), None, folders) is None  # an uploaded list's path elsewhere
    assert playable("music/notes.txt", tmp_path, folders) is None  # not audio
    assert playable("music/gone.mp3", tmp_path, folders) is None  # not on disk


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_every_results_format_gives_the_same_catalogue(tmp_path: Path, suffix: str) -> None:
    records = synthetic_records(120, Path("/music"))
    shelf = catalogue(read_rows(write_results(tmp_path / f"results{suffix}", records)))
    assert len(shelf.songs) + len(shelf.failures) == 120
    assert len(shelf.failures) == sum("error" in record for record in records)
    expected = [record["mood"] for record in records if "error" not in record]
    assert list(shelf.songs["mood"]) == expected
