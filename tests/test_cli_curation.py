"""A curator's path through the command: judge a folder, tag it from the results, make
playlists, untag: real files, the real CLI and the real (cheap) CLDNN model."""

from __future__ import annotations

import json
from pathlib import Path

import mutagen
import pytest

from mood.batch.sinks import read_rows
from mood.cli import main
from tests.helpers import chord_progression, tone, write_audio


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of four songs in three formats, judged once into results.jsonl beside it."""
    root = tmp_path_factory.mktemp("curator")
    music = root / "Music"
    (music / "album").mkdir(parents=True)
    write_audio(chord_progression(seconds=6.0), music / "album" / "01 chords.flac")
    write_audio(tone(220.0, seconds=6.0), music / "album" / "02 low.mp3")
    write_audio(tone(660.0, seconds=6.0), music / "03 high.ogg")
    write_audio(chord_progression(seconds=6.0, seed=1), music / "04 minor.wav")
    status = main(["analyze", "--model", "cldnn", "--out", str(root / "results.jsonl"), str(music)])
    assert status == 0
    return root


def moods_in_files(music: Path) -> dict[str, list[str]]:
    found = {}
    for path in sorted(p for p in music.rglob("*") if p.is_file()):
        tagged = mutagen.File(path, easy=False)
        assert tagged is not None
        keys = tagged.keys() if tagged.tags is not None else []  # ID3 frames, Vorbis fields, MP4 atoms
        found[path.name] = [str(k) for k in keys if "MOO" in str(k).upper()]
    return found


def test_tag_from_results_then_untag(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = library / "results.jsonl"
    music = library / "Music"
    assert main(["tag", "--from", str(results), "--dry-run"]) == 0
    assert "would change" in capsys.readouterr().out
    assert all(not keys for keys in moods_in_files(music).values())  # a dry run wrote nothing
    assert main(["tag", "--from", str(results), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["status"] for row in rows] == ["written"] * 4
    assert all(keys for keys in moods_in_files(music).values())
    assert main(["tag", "--from", str(results)]) == 0
    assert capsys.readouterr().out.count("unchanged") == 4  # a second run is a no-op
    assert main(["untag", str(music)]) == 0
    assert all(not keys for keys in moods_in_files(music).values())


def test_tag_judges_files_when_given_no_results(
    library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    song = write_audio(tone(440.0, seconds=6.0), tmp_path / "new.flac")
    assert main(["tag", "--model", "cldnn", str(song)]) == 0
    assert "written" in capsys.readouterr().out
    assert moods_in_files(tmp_path)["new.flac"]


def test_tag_needs_files_or_results_not_both(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["tag"])
    assert usage.value.code == 2 and "--from RESULTS" in capsys.readouterr().err


def test_a_read_only_file_is_reported_and_the_others_are_tagged(
    library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked, free = (
        write_audio(tone(300.0, 6.0), tmp_path / "locked.flac"),
        write_audio(tone(500.0, 6.0), tmp_path / "free.flac"),
    )
    locked.chmod(0o444)
    assert main(["tag", "--model", "cldnn", str(locked), str(free)]) == 1
    out = capsys.readouterr().out
    assert "locked.flac: error:" in out and "read-only" in out and "free.flac: written" in out


def test_playlists_by_mood_and_a_journey_list_the_songs(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = library / "results.jsonl"
    rows = list(read_rows(results))
    first_mood = rows[0]["mood"]
    out = library / "lists" / "one.m3u8"
    out.parent.mkdir()
    assert main(["playlist", str(results), "--mood", first_mood, "--out", str(out), "--base", str(library)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    entries = [line for line in lines if not line.startswith("#")]
    assert len(entries) == sum(row["mood"] == first_mood for row in rows)
    assert all((out.parent / entry).resolve().is_file() for entry in entries)  # relative to the playlist
    journey = library / "lists" / "journey.m3u8"
    assert main(["playlist", str(results), "--journey", "calm:happy", "--songs", "3", "--out", str(journey)]) == 0
    assert len([line for line in journey.read_text().splitlines() if not line.startswith("#")]) == 3
    capsys.readouterr()
    assert main(["playlist", str(results), "--valence", "0.99:1", "--min-confidence", "0.99", "--out", str(out)]) == 2
    assert "No song" in capsys.readouterr().err
    assert len(out.read_text().splitlines()) == len(lines)  # the earlier playlist is kept


def test_a_reader_that_stops_reading_ends_the_run_quietly(tmp_path: Path) -> None:
    import subprocess
    import sys

    rows = [{"path": str(tmp_path / f"gone{i}.flac"), "error": "This file is empty."} for i in range(3000)]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(row) + "\n" for row in rows))  # ~300 KB of report: more than a pipe holds
    command = [sys.executable, "-m", "mood", "tag", "--from", str(results), "--dry-run"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as run:
        assert run.stdout is not None and run.stderr is not None
        run.stdout.readline()
        run.stdout.close()  # as `| head -1` does
        error = run.stderr.read().decode()
        assert run.wait(timeout=120) == 141
    assert "error" not in error and "Traceback" not in error
