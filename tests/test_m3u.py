"""Playlists from a results file (mood.batch.m3u): choosing songs, the mood journey, and
extended M3U8 files that open back with every entry on disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mood.batch.atomic import temp_beside
from mood.batch.m3u import (
    QUADRANT_CENTRES,
    Selection,
    confidence,
    journey,
    mood_centre,
    parse_range,
    select,
    write_playlist,
)
from mood.batch.sinks import read_rows
from mood.constants import MOODS
from mood.errors import MoodError
from tests.helpers import tone, write_with_ffmpeg

SR = 22_050


def row(path: str, probabilities: dict[str, float], energy: float = 0.5, **extra: Any) -> dict[str, Any]:
    """A flat result row whose valence, arousal and mood follow from its probabilities."""
    p = {m: probabilities.get(m, 0.0) for m in MOODS}
    return {
        "path": path,
        "model": "ensemble",
        "mood": max(MOODS, key=lambda m: p[m]),
        **p,
        "valence": p["happy"] + p["calm"] - p["angry"] - p["sad"],
        "arousal": p["happy"] + p["angry"] - p["sad"] - p["calm"],
        "duration_s": 2.0,
        "energy": energy,
        "error": None,
        **extra,
    }


ROWS = [
    row("calm_clear.wav", {"calm": 0.9, "happy": 0.1}, energy=0.1),
    row("calm_mixed.wav", {"calm": 0.4, "sad": 0.35, "happy": 0.25}, energy=0.3),
    row("happy.wav", {"happy": 0.8, "calm": 0.2}, energy=0.9),
    row("angry.wav", {"angry": 0.7, "happy": 0.3}, energy=0.8),
    row("sad.wav", {"sad": 0.6, "calm": 0.4}, energy=0.2),
    {"path": "broken.wav", "error": "This file could not be read as audio."},
]


def paths(rows: list[Any]) -> list[str]:
    return [r["path"] for r in rows]


def test_select_by_mood_region_and_confidence() -> None:
    assert paths(select(ROWS, Selection(moods=("calm",)))) == ["calm_clear.wav", "calm_mixed.wav"]
    assert paths(select(ROWS, Selection(moods=("calm",), min_confidence=0.3))) == ["calm_clear.wav"]
    assert paths(select(ROWS, Selection(valence=(0.5, 1.0), arousal=(-1.0, 0.0)))) == ["calm_clear.wav"]
    assert paths(select(ROWS, Selection(arousal=(0.0, 1.0)))) == ["happy.wav", "angry.wav"]
    assert paths(select(ROWS, Selection(min_confidence=0.7, confidence="top"))) == [
        "calm_clear.wav",
        "happy.wav",
        "angry.wav",
    ]
    assert confidence(ROWS[1]) == pytest.approx(0.05) and confidence(ROWS[1], "top") == pytest.approx(0.4)


def test_songs_unlike_the_training_music_can_be_left_out() -> None:
    rows = [*ROWS, row("odd.wav", {"calm": 0.9, "sad": 0.1}, unfamiliar=True, distance_from_training=2.0)]
    assert paths(select(rows, Selection(moods=("calm",)))) == ["calm_clear.wav", "calm_mixed.wav", "odd.wav"]
    familiar = select(rows, Selection(moods=("calm",), familiar_only=True))
    assert paths(familiar) == ["calm_clear.wav", "calm_mixed.wav"]  # not measured: kept
    assert paths(select(rows, Selection(sort_by="distance_from_training", limit=1))) == ["odd.wav"]


def test_sort_and_limit() -> None:
    by_energy = select(ROWS, Selection(sort_by="energy"))
    assert paths(by_energy) == ["calm_clear.wav", "sad.wav", "calm_mixed.wav", "angry.wav", "happy.wav"]
    assert paths(select(ROWS, Selection(sort_by="energy", descending=True, limit=2))) == ["happy.wav", "angry.wav"]
    unknown_energy = [*ROWS, row("no_energy.wav", {"calm": 1.0}, energy=None)]  # type: ignore[arg-type]
    assert paths(select(unknown_energy, Selection(sort_by="energy", descending=True)))[-1] == "no_energy.wav"
    assert paths(select(ROWS, Selection(sort_by="confidence", descending=True, limit=1))) == ["calm_clear.wav"]


def test_bad_choices_are_refused_with_the_right_ones() -> None:
    with pytest.raises(MoodError, match="happy, angry, sad, calm"):
        Selection(moods=("cheerful",))
    with pytest.raises(MoodError, match="Cannot sort by"):
        Selection(sort_by="colour")
    with pytest.raises(MoodError, match="LOW:HIGH"):
        parse_range("0.5")
    with pytest.raises(MoodError, match="LOW:HIGH"):
        parse_range("1:-1")
    assert parse_range("0.2:") == (0.2, 1.0) and parse_range(":0") == (-1.0, 0.0)


def grid_rows() -> list[dict[str, Any]]:
    """Songs spread over the whole map (valence and arousal set directly), mood by quadrant."""
    rows = []
    for valence in np.linspace(-0.9, 0.9, 7):
        for arousal in np.linspace(-0.9, 0.9, 7):
            mood = {(True, True): "happy", (False, True): "angry", (False, False): "sad", (True, False): "calm"}[
                (valence > 0, arousal > 0)
            ]
            rows.append(row(f"{valence:.1f}_{arousal:.1f}.wav", {mood: 1.0}) | {"valence": valence, "arousal": arousal})
    return rows


def test_the_journey_goes_from_the_first_mood_to_the_second_without_repeats() -> None:
    rows = grid_rows()
    start, end = np.array(mood_centre(rows, "calm")), np.array(mood_centre(rows, "happy"))

    songs = journey(rows, "calm", "happy", 6)

    points = np.array([(r["valence"], r["arousal"]) for r in songs])
    everything = np.array([(r["valence"], r["arousal"]) for r in rows])
    assert len(songs) == 6 and len(set(paths(songs))) == 6
    assert songs[0]["mood"] == "calm" and songs[-1]["mood"] == "happy"
    assert np.linalg.norm(points[0] - start) == pytest.approx(np.linalg.norm(everything - start, axis=1).min())
    assert np.linalg.norm(points[-1] - end) == pytest.approx(np.linalg.norm(everything - end, axis=1).min())
    assert np.all(np.diff(points[:, 1]) >= 0)  # arousal climbs from calm to happy
    assert len(journey(rows[:3], "calm", "happy", 10)) == 3  # never more songs than there are
    assert journey([], "calm", "happy", 5) == []


def test_a_mood_the_library_lacks_is_found_at_its_quadrant_centre() -> None:
    assert mood_centre([r for r in ROWS if r.get("mood") != "angry"], "angry") == QUADRANT_CENTRES["angry"]
    with pytest.raises(MoodError):
        journey(ROWS, "calm", "happy", 1)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A music folder: a tagged FLAC and MP3 and an untagged WAV, made with ffmpeg."""
    music = tmp_path / "music" / "Album"
    music.mkdir(parents=True)
    wav = tone(seconds=2.0, sr=SR)
    write_with_ffmpeg(wav, SR, music / "morning.flac", "-metadata", "title=Morning", "-metadata", "artist=Band")
    write_with_ffmpeg(wav, SR, music / "é night.mp3", "-metadata", "title=Nuit étoilée", "-metadata", "artist=Brel")
    write_with_ffmpeg(wav, SR, music / "plain.wav")
    return tmp_path


def read_playlist(path: Path) -> list[tuple[str, Path]]:
    """A playlist opened back as a player reads it: (#EXTINF line, resolved path) per entry."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    pairs = list(zip(lines[1::2], lines[2::2], strict=True))
    assert all(info.startswith("#EXTINF:") for info, _ in pairs)
    return [(info, (path.parent / location).resolve()) for info, location in pairs]


def test_a_playlist_opens_back_with_every_entry_on_disk(library: Path) -> None:
    rows = [
        row("music/Album/morning.flac", {"calm": 0.9, "happy": 0.1}),
        row("music/Album/é night.mp3", {"calm": 0.8, "sad": 0.2}),
        row("music/Album/plain.wav", {"calm": 0.7, "sad": 0.3}),
        row("music/Album/deleted.wav", {"calm": 0.7, "sad": 0.3}),
    ]
    out = library / "playlists" / "calm.m3u8"
    out.parent.mkdir()

    report = write_playlist(select(rows, Selection(moods=("calm",))), out, base=library)

    entries = read_playlist(out)
    assert report.n_songs == 3 and report.missing == ("music/Album/deleted.wav",)
    assert [p for _, p in entries] == [(library / r["path"]).resolve() for r in rows[:3]]
    assert all(p.is_file() for _, p in entries)
    assert [info for info, _ in entries] == [
        "#EXTINF:2,Band - Morning",
        "#EXTINF:2,Brel - Nuit étoilée",
        "#EXTINF:2,plain",
    ]
    assert "../music/Album/morning.flac" in out.read_text(encoding="utf-8")  # relative to the playlist's folder
    assert not temp_beside(out).exists()


def test_absolute_paths_and_a_results_file(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = [
        {"path": "music/Album/plain.wav", "model": "ensemble", "mood": "sad"}
        | {"probabilities": {"happy": 0.0, "angry": 0.1, "sad": 0.6, "calm": 0.3}, "valence": -0.4, "arousal": -0.8}
        | {"duration_s": 2.0, "descriptors": {"energy": 0.2}},
        {"path": "music/Album/gone.wav", "error": "No file at music/Album/gone.wav."},
    ]
    results = library / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in records))
    monkeypatch.chdir(library)  # relative paths in results are relative to where the run was started
    out = library / "sad.m3u8"
    out.write_text("#EXTM3U\nold\n")

    report = write_playlist(select(read_rows(results), Selection(moods=("sad",))), out, absolute=True)

    [(info, path)] = read_playlist(out)
    assert report.n_songs == 1 and info == "#EXTINF:2,plain"
    assert Path(out.read_text().splitlines()[2]).is_absolute() and path == (library / "music/Album/plain.wav")


def test_a_playlist_needs_a_playlist_name_and_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(MoodError, match=r"\.m3u8"):
        write_playlist([], tmp_path / "calm.txt")
    with pytest.raises(MoodError, match="does not exist"):
        write_playlist([], tmp_path / "nowhere" / "calm.m3u8")


def test_a_moved_playlist_still_finds_its_songs(library: Path) -> None:
    out = library / "music" / "calm.m3u8"
    write_playlist([row("music/Album/plain.wav", {"calm": 1.0})], out, base=library)
    moved = library / "copy"
    shutil.copytree(library / "music", moved)
    assert all(p.is_file() and moved in p.parents for _, p in read_playlist(moved / "calm.m3u8"))
