"""Moods written into song files (mood.batch.tags): on real files of every format made here
with ffmpeg, the audio untouched, failures as rows, a second run a no-op, untag exact."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import mutagen
import pytest
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TIT2, TMOO

from mood.batch import tagfiles, tags
from mood.batch.atomic import temp_beside
from mood.batch.tags import plan_tags, remove_tags, results_to_tag, tag_files, untag_files, write_tags
from mood.constants import MOODS
from mood.engine.audio import ffmpeg_executable
from mood.errors import MoodError
from tests.helpers import tone, write_with_ffmpeg

CODECS = {
    "mp3": ("-c:a", "libmp3lame", "-b:a", "64k"),
    "flac": ("-c:a", "flac"),
    "ogg": ("-c:a", "libvorbis"),
    "opus": ("-c:a", "libopus"),
    "m4a": ("-c:a", "aac", "-b:a", "64k"),
    "wav": ("-c:a", "pcm_s16le"),
}
FORMATS = tuple(CODECS)
SR = 44_100
# Where each format keeps MOOD, read with mutagen directly (not through the code under test).
RAW_MOOD_KEY = {"mp3": "TMOO", "wav": "TMOO", "m4a": "----:com.apple.iTunes:MOOD"}

CALM = {
    "path": "song",
    "model": "ensemble",
    "mood": "calm",
    "happy": 0.2,
    "angry": 0.05,
    "sad": 0.15,
    "calm": 0.6,
    "valence": 0.6,
    "distance_from_training": 1.2346,
    "arousal": -0.5,
    "duration_s": 1.5,
    "error": None,
}
HAPPY = CALM | {"mood": "happy", "happy": 0.7, "calm": 0.1, "valence": 0.6, "arousal": 0.5}


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 1.5 s tone in every format, each with a title and an artist already tagged."""
    folder = tmp_path_factory.mktemp("originals")
    made = {}
    for fmt, codec in CODECS.items():
        metadata = ("-metadata", "title=Tone", "-metadata", "artist=Tester")
        made[fmt] = write_with_ffmpeg(tone(seconds=1.5, sr=SR), SR, folder / f"tone.{fmt}", *codec, *metadata)
    wav = mutagen.File(made["wav"])  # ffmpeg's WAV metadata is a RIFF INFO chunk: give it ID3 tags too
    wav.add_tags()
    wav.tags.add(TIT2(encoding=3, text=["Tone"]))
    wav.save()
    return made


@pytest.fixture
def song(originals: dict[str, Path], tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh copy of the original of the format the test is parametrised with."""
    fmt = request.param
    return Path(shutil.copy2(originals[fmt], tmp_path / f"song.{fmt}"))


def decoded(path: Path) -> bytes:
    """The file's decoded samples (float32, native channels and rate)."""
    command = [ffmpeg_executable(), "-v", "error", "-i", str(path), "-f", "f32le", "-"]
    return subprocess.run(command, capture_output=True, check=True, timeout=60).stdout


def mp3_frames(path: Path) -> bytes:
    """An MP3's bytes after its ID3v2 tag: the audio frames."""
    data = path.read_bytes()
    assert data[:3] == b"ID3"
    size = sum(b << (7 * (3 - i)) for i, b in enumerate(data[6:10]))  # syncsafe: 7 bits a byte
    footer = 10 if data[5] & 0x10 else 0
    return data[10 + size + footer :]


def all_tags(path: Path) -> list[str]:
    """Every tag of the file as mutagen prints it, sorted: equal lists mean equal tags."""
    audio = mutagen.File(path)
    return sorted(audio.tags.pprint().splitlines()) if audio.tags is not None else []


def raw_mood(path: Path, fmt: str) -> list[Any]:
    """MOOD as mutagen reads it from where players look, without mood's code."""
    audio = mutagen.File(path)
    values = audio.tags.get(RAW_MOOD_KEY.get(fmt, "MOOD"), [])
    return [bytes(v).decode() for v in values] if fmt == "m4a" else list(getattr(values, "text", values))


@pytest.mark.parametrize("song", FORMATS, indirect=True)
def test_tags_are_written_where_players_read_them_and_the_audio_is_untouched(song: Path) -> None:
    fmt = song.suffix[1:]
    samples, frames = decoded(song), mp3_frames(song) if fmt == "mp3" else b""
    before = all_tags(song)

    changes = write_tags(song, CALM)

    assert {c.field for c in changes} == {tags.MOOD_FIELD, *tags.OWN_FIELDS} - {tags.REPLACED_FIELD}
    assert raw_mood(song, fmt) == ["Calm"]
    fields = tagfiles.open_tagged(song).fields
    assert fields.get(tags.VALENCE_FIELD) == ("0.600",)
    assert fields.get(tags.PROBABILITY_FIELDS["sad"]) == ("0.150",)
    assert fields.get(tags.MODEL_FIELD) == ("ensemble",)
    assert fields.get(tags.DISTANCE_FIELD) == ("1.235",)
    assert set(before) <= set(all_tags(song))  # title and artist kept
    assert decoded(song) == samples
    if fmt == "mp3":
        assert mp3_frames(song) == frames
        assert ID3(song).version == (2, 4, 0)
    assert not temp_beside(song).exists()


@pytest.mark.parametrize("song", ["mp3"], indirect=True)
def test_an_id3v23_tag_stays_v23_with_the_mood_where_v23_players_read_it(song: Path) -> None:
    ID3(song).save(song, v2_version=3)
    before = all_tags(song)

    write_tags(song, CALM)

    assert ID3(song).version == (2, 3, 0)
    assert ID3(song)["TXXX:MOOD"].text == ["Calm"] and "TMOO" not in ID3(song)
    remove_tags(song)
    assert all_tags(song) == before


@pytest.mark.parametrize("song", FORMATS, indirect=True)
def test_untag_restores_exactly_the_tags_before(song: Path) -> None:
    before, samples = all_tags(song), decoded(song)
    write_tags(song, CALM)
    assert all_tags(song) != before

    removed = remove_tags(song)

    assert removed and all_tags(song) == before
    assert decoded(song) == samples
    assert remove_tags(song) == []  # nothing of mood's left


@pytest.mark.parametrize("song", ["mp3", "opus", "m4a"], indirect=True)
def test_a_second_run_rewrites_nothing(song: Path) -> None:
    [first] = tag_files([(song, CALM)])
    assert first.status == "written"
    data, mtime = song.read_bytes(), song.stat().st_mtime_ns

    [second] = tag_files([(song, CALM)])

    assert second.status == "unchanged" and second.changes == ()
    assert song.read_bytes() == data and song.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("song", ["flac"], indirect=True)
def test_a_new_result_updates_mood_own_mood(song: Path) -> None:
    write_tags(song, CALM)
    changes = write_tags(song, HAPPY)
    assert raw_mood(song, "flac") == ["Happy"]
    assert {c.field for c in changes} >= {tags.MOOD_FIELD, tags.WROTE_FIELD, tags.AROUSAL_FIELD}


@pytest.mark.parametrize("song", ["wav", "ogg"], indirect=True)
def test_dry_run_changes_nothing(song: Path) -> None:
    data, mtime = song.read_bytes(), song.stat().st_mtime_ns

    [outcome] = tag_files([(song, CALM)], dry_run=True)
    [untag] = untag_files([song], dry_run=True)

    assert outcome.status == "would change" and not outcome.written
    assert any(c.field == tags.MOOD_FIELD and c.after == ("Calm",) for c in outcome.changes)
    assert untag.status == "unchanged"
    assert song.read_bytes() == data and song.stat().st_mtime_ns == mtime


def put_foreign_mood(path: Path, word: str) -> None:
    """A MOOD written by someone else (straight through mutagen)."""
    if path.suffix == ".mp3":
        id3 = ID3(path)
        id3.add(TMOO(encoding=3, text=[word]))
        id3.save()
    else:
        flac = FLAC(path)
        flac["MOOD"] = [word]
        flac.save()


@pytest.mark.parametrize("song", ["mp3", "flac"], indirect=True)
def test_someone_elses_mood_is_kept_and_untag_leaves_it(song: Path) -> None:
    put_foreign_mood(song, "Dreamy")
    before = all_tags(song)

    changes = write_tags(song, CALM)

    assert raw_mood(song, song.suffix[1:]) == ["Dreamy"]
    assert tags.MOOD_FIELD not in {c.field for c in changes}
    assert tagfiles.open_tagged(song).fields.get(tags.AROUSAL_FIELD) == ("-0.500",)
    remove_tags(song)
    assert all_tags(song) == before


@pytest.mark.parametrize("song", ["mp3", "flac"], indirect=True)
def test_overwrite_replaces_someone_elses_mood_and_untag_puts_it_back(song: Path) -> None:
    put_foreign_mood(song, "Dreamy")
    before = all_tags(song)

    write_tags(song, CALM, overwrite=True)
    assert raw_mood(song, song.suffix[1:]) == ["Calm"]

    remove_tags(song)
    assert all_tags(song) == before


@pytest.mark.parametrize("song", ["flac"], indirect=True)
def test_a_mood_edited_after_tagging_is_the_persons_again(song: Path) -> None:
    write_tags(song, CALM)
    put_foreign_mood(song, "Wistful")  # a person changes mood's word
    remove_tags(song)
    assert raw_mood(song, "flac") == ["Wistful"]
    assert not any(line.upper().startswith(tags.OWN_PREFIX) for line in all_tags(song))


def test_failures_become_error_rows_and_the_run_goes_on(originals: dict[str, Path], tmp_path: Path) -> None:
    read_only = Path(shutil.copy2(originals["mp3"], tmp_path / "read_only.mp3"))
    read_only.chmod(0o444)
    unsupported = tmp_path / "notes.txt"
    unsupported.write_text("not a song")
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + b"\xff" * 64)
    good = Path(shutil.copy2(originals["ogg"], tmp_path / "good.ogg"))
    failed_analysis = {"path": "x", "error": "This file could not be read as audio."}
    data = read_only.read_bytes()

    outcomes = list(
        tag_files(
            [
                (read_only, CALM),
                (tmp_path / "missing.mp3", CALM),
                (unsupported, CALM),
                (corrupt, CALM),
                (good, failed_analysis),
                (good, CALM),
            ]
        )
    )

    assert [o.status for o in outcomes] == ["failed"] * 5 + ["written"]
    errors = [str(o.error) for o in outcomes[:5]]
    assert "read-only" in errors[0] and "No file" in errors[1] and "cannot write tags" in errors[2]
    assert "could not be read" in errors[3] and "analysis failed" in errors[4]
    assert all("Traceback" not in e for e in errors)
    assert read_only.read_bytes() == data
    assert [o.status for o in tag_files([(read_only, CALM)], dry_run=True)] == ["failed"]  # as the run would
    assert json.dumps([o.to_dict() for o in outcomes])  # rows are JSON-ready


@pytest.mark.parametrize("song", ["m4a"], indirect=True)
def test_an_interrupted_write_leaves_the_file_as_before(song: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = song.read_bytes()
    real_save = tagfiles.TaggedFile.save

    def save_then_die(self: tagfiles.TaggedFile, path: Path | None = None) -> None:
        real_save(self, path)
        with self.path.open("r+b") as half:  # the copy is half written when the run is stopped
            half.truncate(self.path.stat().st_size // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(tagfiles.TaggedFile, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        write_tags(song, CALM)

    assert song.read_bytes() == data
    assert not temp_beside(song).exists()


@pytest.mark.parametrize("song", ["flac"], indirect=True)
def test_a_copy_whose_audio_changed_never_replaces_the_file(song: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = song.read_bytes()
    real_save = tagfiles.TaggedFile.save

    def save_and_damage(self: tagfiles.TaggedFile, path: Path | None = None) -> None:
        real_save(self, path)
        with self.path.open("r+b") as copy:  # flip the last audio bytes of the copy
            copy.seek(-64, os.SEEK_END)
            tail = copy.read()
            copy.seek(-64, os.SEEK_END)
            copy.write(bytes(b ^ 0xFF for b in tail))

    monkeypatch.setattr(tagfiles.TaggedFile, "save", save_and_damage)
    [outcome] = tag_files([(song, CALM)])

    assert outcome.status == "failed" and "audio" in str(outcome.error)
    assert song.read_bytes() == data


@pytest.mark.parametrize("song", ["opus"], indirect=True)
def test_a_copy_left_by_a_killed_run_is_cleared(song: Path) -> None:
    temp_beside(song).write_bytes(b"half a file")
    write_tags(song, CALM)
    assert not temp_beside(song).exists()
    assert raw_mood(song, "opus") == ["Calm"]


@pytest.mark.parametrize("song", ["mp3"], indirect=True)
def test_a_link_stays_a_link(song: Path) -> None:
    link = song.with_name("link.mp3")
    link.symlink_to(song.name)
    write_tags(link, CALM)
    assert link.is_symlink() and raw_mood(song, "mp3") == ["Calm"]


def test_results_of_an_earlier_run_tag_files_without_judging_again(originals: dict[str, Path], tmp_path: Path) -> None:
    shutil.copy2(originals["flac"], tmp_path / "a.flac")
    shutil.copy2(originals["m4a"], tmp_path / "b.m4a")
    probabilities = {mood: CALM[mood] for mood in MOODS}
    records = [
        {"path": "a.flac", "model": "ensemble", "mood": "calm", "probabilities": probabilities, "valence": 0.6}
        | {"arousal": -0.5, "duration_s": 1.5, "timeline": [], "distance_from_training": 1.2346, "unfamiliar": False},
        {"path": "b.m4a", "error": "This file could not be read as audio."},
    ]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in records))

    outcomes = list(tag_files(results_to_tag(results, base=tmp_path)))

    assert [o.status for o in outcomes] == ["written", "failed"]
    assert raw_mood(tmp_path / "a.flac", "flac") == ["Calm"]
    assert plan_tags(tmp_path / "a.flac", CALM) == []


def test_a_row_without_its_numbers_is_refused() -> None:
    with pytest.raises(MoodError, match="no valence"):
        tags.mood_values(CALM | {"valence": None})
    with pytest.raises(MoodError, match="no mood"):
        tags.mood_word(CALM | {"mood": None})


@pytest.mark.parametrize("song", ["flac"], indirect=True)
def test_a_song_retagged_by_a_model_that_measures_no_distance_keeps_none(song: Path) -> None:
    write_tags(song, CALM)
    assert tagfiles.open_tagged(song).fields.get(tags.DISTANCE_FIELD) == ("1.235",)
    unmeasured = {k: v for k, v in CALM.items() if k != "distance_from_training"} | {"model": "cldnn"}
    changes = write_tags(song, unmeasured)
    assert {c.field for c in changes} == {tags.MODEL_FIELD, tags.DISTANCE_FIELD}
    assert tagfiles.open_tagged(song).fields.get(tags.DISTANCE_FIELD) == ()
    write_tags(song, CALM)
    remove_tags(song)
    assert not any(f.startswith(tags.OWN_PREFIX) for f in all_tags(song))
