"""A library on one machine: decode-ahead order and bounds, failures as rows, the three
result files, --resume's reading back, and the closing summary."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mood.batch.results import COLUMNS, Result, flat_row
from mood.batch.resume import resume_state
from mood.batch.run import Heard, result_of, run_library
from mood.batch.sinks import CsvSink, JsonLinesSink, open_sink, read_rows
from mood.batch.summary import Summary
from mood.constants import MOODS, SAMPLE_RATE, UNFAMILIAR_DISTANCE
from mood.engine.audio import DecodedAudio
from mood.engine.descriptors import Descriptors, describe
from mood.engine.features import to_samples
from mood.engine.inference import Prediction, Predictor, WindowPrediction
from mood.errors import MoodError
from tests.helpers import chord_progression, write_audio

DESCRIPTORS = Descriptors(
    tempo_bpm=96.0, key="A", mode="minor", key_confidence=0.2, loudness_dbfs=-15.0,
    energy=0.4, brightness_hz=1800.0, percussiveness=0.2,
)  # fmt: skip


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Five inputs: three songs, an undecodable file in the middle, and a missing file."""
    folder = tmp_path_factory.mktemp("library")
    first = write_audio(chord_progression(seconds=3.0, seed=1), folder / "first.wav")
    corrupt = folder / "corrupt.mp3"
    corrupt.write_bytes(b"\x00not audio" * 200)
    second = write_audio(chord_progression(seconds=4.0, seed=2), folder / "second.flac")
    third = write_audio(chord_progression(seconds=2.0, seed=3), folder / "third.ogg")
    return [first, corrupt, second, folder / "missing.wav", third]


@pytest.fixture(scope="module")
def predictor(random_weights_dir: Path) -> Predictor:
    return Predictor("cldnn", random_weights_dir)


def fake_prediction(mood: str = "happy", duration_s: float = 2.0) -> Prediction:
    probabilities = {m: 0.7 if m == mood else 0.1 for m in MOODS}
    window = WindowPrediction(0.0, duration_s, probabilities)
    return Prediction("fake", probabilities, duration_s, (window,))


def test_results_come_in_input_order_and_a_bad_file_stops_nothing(library: list[Path], predictor: Predictor) -> None:
    results = list(run_library(library, predictor, workers=2))
    assert [r.path for r in results] == [str(p) for p in library]
    assert [r.error is None for r in results] == [True, False, True, False, True]
    assert "could not be read as audio" in str(results[1].error)
    assert "No file" in str(results[3].error)
    assert set(results[1].record) == {"path", "error"}
    for path, result in zip(library, results, strict=True):
        if result.error is None:  # decoding in a thread changes nothing: the same as one predict call
            expected = {
                "path": str(path),
                **predictor.predict(path).to_dict(),
                "descriptors": describe(to_samples(path)).to_dict(),
            }
            assert result.record == expected
            assert result.mood in MOODS


def test_no_more_than_ahead_decodes_run_before_the_model_catches_up(monkeypatch: pytest.MonkeyPatch) -> None:
    import mood.engine.features

    started: list[str] = []
    lock = threading.Lock()

    def instant_decode(path: Path) -> DecodedAudio:
        with lock:
            started.append(str(path))
        return DecodedAudio(np.zeros(100, dtype=np.float32), truncated=False)

    class SlowJudge:
        def predict(self, source: object) -> Prediction:
            time.sleep(0.01)
            return fake_prediction()

    monkeypatch.setattr(mood.engine.features, "decode", instant_decode)
    ahead, paths = 3, [f"song{i}.wav" for i in range(30)]
    leads = []
    for consumed, result in enumerate(run_library(paths, SlowJudge(), workers=2, ahead=ahead), start=1):
        assert result.path == paths[consumed - 1]
        with lock:
            leads.append(len(started) - consumed)
    assert max(leads) <= ahead  # memory stays flat: never more than `ahead` songs decoded beyond the one judged
    assert max(leads) >= 2  # and decoding does run ahead of the model
    assert started == paths  # each file decoded once, in order


def test_the_model_runs_on_the_cores_the_decoders_leave_and_the_setting_is_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mood.engine.features
    from mood.engine.serving import session_threads

    seen: list[int] = []

    class Recorder:
        def predict(self, source: object) -> Prediction:
            seen.append(session_threads())
            return fake_prediction()

    song = DecodedAudio(chord_progression(seconds=2.0, sr=SAMPLE_RATE).astype(np.float32), False)  # descriptors too
    monkeypatch.setattr(mood.engine.features, "decode", lambda path: song)
    before = session_threads()
    assert len(list(run_library(["a.wav", "b.wav"], Recorder(), model_threads=1))) == 2
    assert seen == [1, 1] and session_threads() == before


def test_an_unexpected_exception_becomes_an_error_row() -> None:
    class Broken:
        def predict(self, source: object) -> Prediction:
            raise ZeroDivisionError("boom")

    song = DecodedAudio(chord_progression(seconds=2.0, sr=SAMPLE_RATE).astype(np.float32), truncated=False)
    result = result_of("song.wav", Broken(), load=lambda: Heard(song, describe(song.samples)))
    assert result.record == {"path": "song.wav", "error": result.error}
    assert "ZeroDivisionError: boom" in str(result.error) and "other files are not affected" in str(result.error)


def sample_results() -> list[Result]:
    return [
        Result.of("a/one.mp3", fake_prediction("sad", 30.0), DESCRIPTORS),
        Result.failed('a/two, "quoted".mp3', "This file could not be read as audio.\nTry another."),
        Result.of("b/three.flac", fake_prediction("calm", 12.5), DESCRIPTORS),
    ]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_each_sink_round_trips(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"results{suffix}"
    with open_sink(out) as sink:
        for result in sample_results():
            sink.write(result)
    assert sink.n_written == 3
    rows = list(read_rows(out))
    assert rows == [flat_row(r.record) for r in sample_results()]
    assert rows[0]["sad"] == pytest.approx(0.7) and rows[1]["mood"] is None and rows[1]["error"].startswith("This")
    assert list(rows[0]) == list(COLUMNS)
    inputs = [Path(r.path) for r in sample_results()]
    assert resume_state(out, [*inputs, Path("new.wav")]).todo == [inputs[1], Path("new.wav")]  # the failure again


def test_jsonl_holds_exactly_the_printed_objects(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    with open_sink(out) as sink:
        for result in sample_results():
            sink.write(result)
    assert [json.loads(line) for line in out.read_text().splitlines()] == [r.record for r in sample_results()]


def test_parquet_keeps_the_timeline(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "results.parquet"
    with open_sink(out) as sink:
        for result in sample_results():
            sink.write(result)
    table = pq.read_table(out).to_pylist()
    assert table[0]["timeline"] == [
        {"start_s": 0.0, "end_s": 30.0, "happy": 0.1, "angry": 0.1, "sad": 0.7, "calm": 0.1}
    ]
    assert table[1]["timeline"] is None
    assert not out.with_name(out.name + ".partial").exists()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_append_keeps_the_rows_already_there(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"results{suffix}"
    first, *rest = sample_results()
    with open_sink(out) as sink:
        sink.write(first)
    with open_sink(out, append=True) as sink:
        for result in rest:
            sink.write(result)
    assert [row["path"] for row in read_rows(out)] == [r.path for r in sample_results()]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_half_written_last_line_is_not_done_and_is_replaced(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"results{suffix}"
    first, second, third = sample_results()
    with open_sink(out) as sink:
        sink.write(first)
        sink.write(third)
    text = out.read_text()
    out.write_text(text[: len(text) - 9])  # the run was killed while writing `third`
    assert resume_state(out, [Path(first.path), Path(third.path)]).todo == [Path(third.path)]
    with open_sink(out, append=True) as sink:
        sink.write(second)
        sink.write(third)
    assert [row["path"] for row in read_rows(out)] == [first.path, second.path, third.path]


def test_a_csv_of_other_columns_is_not_appended_to(tmp_path: Path) -> None:
    out = tmp_path / "other.csv"
    out.write_text("file,score\nx.mp3,1\n")
    with pytest.raises(MoodError, match="columns differ"):
        CsvSink(out, append=True)
    assert out.read_text() == "file,score\nx.mp3,1\n"


def test_an_unfinished_parquet_file_is_a_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "killed.parquet"
    out.write_bytes(b"PAR1" + b"\x00" * 100)  # a run killed before it could write the footer
    with pytest.raises(MoodError, match="not a complete Parquet results file"):
        resume_state(out, [Path("a.wav")])
    with pytest.raises(MoodError, match="Cannot resume"):
        open_sink(out, append=True)
    assert not out.with_name(out.name + ".partial").exists()


def test_a_corrupt_middle_line_names_its_line(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    out.write_text('{"path": "a.mp3", "error": "x"}\nnot json\n{"path": "b.mp3", "error": "y"}\n')
    with pytest.raises(MoodError, match="Line 2"):
        resume_state(out, [Path("a.mp3")])


def test_unknown_suffix_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(MoodError, match=r"\.jsonl, \.csv, \.parquet"):
        open_sink(tmp_path / "results.txt")
    with pytest.raises(MoodError, match="does not exist"):
        open_sink(tmp_path / "nowhere" / "results.csv")


def test_no_output_yet_means_nothing_done(tmp_path: Path) -> None:
    assert resume_state(tmp_path / "new.jsonl", [Path("a.wav")]).todo == [Path("a.wav")]
    (tmp_path / "empty.jsonl").touch()
    with JsonLinesSink(tmp_path / "empty.jsonl", append=True) as sink:
        sink.write(sample_results()[0])
    assert len(list(read_rows(tmp_path / "empty.jsonl"))) == 1


def test_summary_counts_moods_and_lists_failures() -> None:
    summary = Summary(n_skipped=4)
    for result in [
        *sample_results(),
        Result.of("c.wav", fake_prediction("sad"), DESCRIPTORS),
        Result.failed("d.wav", "gone"),
    ]:
        summary.add(result)
    summary.finish()
    assert summary.moods == {"sad": 2, "calm": 1} and summary.n_failed == 2 and summary.n_done == 5
    report = summary.report().splitlines()
    assert report[0].startswith("5 songs in ") and "songs/s" in report[0]
    assert "4 already done" in report[0] and report[0].endswith("2 failed")
    assert [line.split() for line in report[1:5]] == [["happy", "0"], ["angry", "0"], ["sad", "2"], ["calm", "1"]]
    assert report[5] == "failed:" and report[-1] == "  d.wav: gone"
    assert report[6] == '  a/two, "quoted".mp3: This file could not be read as audio. Try another.'  # one line


def test_summary_lists_only_the_first_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mood.batch.summary.SUMMARY_MAX_FAILURES", 2)
    summary = Summary()
    for i in range(5):
        summary.add(Result.failed(f"{i}.wav", "bad"))
    assert summary.n_failed == 5 and len(summary.failures) == 2
    assert summary.report().splitlines()[-1] == "  ... and 3 more (their rows hold the errors)"


# ---------------------------------------------------------------- failed writes, failures retried, older files


def offer(out: Path, results: list[Result], append: bool) -> None:
    with open_sink(out, append=append) as sink:
        for result in results:
            sink.write(result)


@pytest.mark.parametrize("append", [False, True])
def test_a_parquet_write_that_fails_leaves_the_old_file_exactly_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, append: bool
) -> None:
    import errno

    import pyarrow as pa
    import pyarrow.parquet as pq

    out = tmp_path / "results.parquet"
    offer(out, sample_results(), append=False)
    before = out.read_bytes()

    real_write_table = pq.ParquetWriter.write_table

    def full_disk(self: pq.ParquetWriter, table: pa.Table, *args: object, **kwargs: object) -> None:
        if "new.wav" in table.column("path").to_pylist():  # the earlier rows are copied; the new ones fail
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write_table(self, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full_disk)
    with pytest.raises(MoodError, match="No space left on device"):
        offer(out, [Result.failed("new.wav", "x")], append=append)
    assert out.read_bytes() == before
    assert not out.with_name(out.name + ".partial").exists()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_write_torn_by_a_full_disk_is_cut_back_to_the_last_whole_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    import errno

    out = tmp_path / f"results{suffix}"
    offer(out, sample_results()[:1], append=False)
    real_write = os.write
    calls = 0

    def tearing_write(fd: int, data: bytes) -> int:  # the second row's bytes reach the disk halfway, then ENOSPC
        nonlocal calls
        calls += 1
        if calls == 2:
            real_write(fd, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", tearing_write)
    with pytest.raises(MoodError, match="No space left on device"):
        offer(out, sample_results()[1:], append=True)
    assert [row["path"] for row in read_rows(out)] == [r.path for r in sample_results()[:2]]
    assert out.read_bytes().endswith(b"\n")


def test_resume_retries_the_failures_and_counts_the_whole_output(tmp_path: Path) -> None:
    from mood.batch.resume import resume_state

    out = tmp_path / "results.jsonl"
    offer(out, sample_results(), append=False)
    state = resume_state(out, [Path("a/one.mp3"), Path('a/two, "quoted".mp3'), Path("c/new.wav")])
    assert state.todo == [Path('a/two, "quoted".mp3'), Path("c/new.wav")]  # the failure is tried again
    with open_sink(out, append=True, retry=state.retry) as sink:
        sink.write(Result.of('a/two, "quoted".mp3', fake_prediction("sad"), DESCRIPTORS))
    assert [row["path"] for row in read_rows(out)] == ["a/one.mp3", "b/three.flac", 'a/two, "quoted".mp3']
    summary = Summary()
    for row in read_rows(out):
        summary.add_earlier(row)
    assert summary.moods == {"sad": 2, "calm": 1} and summary.n_failed == 0
    assert state.summary.moods == {"sad": 1, "calm": 1} and state.summary.n_skipped == 1


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_the_truncated_flag_round_trips(tmp_path: Path, suffix: str) -> None:
    cut = Result("long.wav", {**sample_results()[0].record, "path": "long.wav", "truncated": True})
    out = tmp_path / f"results{suffix}"
    offer(out, [cut, sample_results()[1]], append=False)
    assert [row["truncated"] for row in read_rows(out)] == [True, None]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_how_far_a_song_is_from_the_training_music_round_trips_and_is_counted(tmp_path: Path, suffix: str) -> None:
    far = dataclasses.replace(fake_prediction("sad"), distance_from_training=UNFAMILIAR_DISTANCE + 0.5)
    near = dataclasses.replace(fake_prediction("calm"), distance_from_training=UNFAMILIAR_DISTANCE - 0.5)
    results = [Result.of("far.wav", far, None), Result.of("near.wav", near, None), sample_results()[0]]
    out = tmp_path / f"results{suffix}"
    offer(out, results, append=False)
    rows = list(read_rows(out))
    assert [row["unfamiliar"] for row in rows] == [True, False, None]  # None: a model that does not measure it
    assert [row["distance_from_training"] for row in rows] == [pytest.approx(2.0), pytest.approx(1.0), None]
    summary = Summary()
    summary.add(results[0])
    for row in rows[1:]:
        summary.add_earlier(row)
    assert summary.n_unfamiliar == 1
    assert "1 of them unlike the music the models learnt from (their moods less sure)" in summary.report()
    assert "unlike" not in Summary().report()


def test_an_older_csv_without_the_new_columns_is_read_and_resumed(tmp_path: Path) -> None:
    old_columns = [c for c in COLUMNS if c not in ("truncated", "path_bytes", "distance_from_training", "unfamiliar")]
    out = tmp_path / "old.csv"
    row = {c: v for c, v in flat_row(sample_results()[0].record).items() if c in old_columns}
    out.write_text(
        ",".join(old_columns) + "\n" + ",".join("" if row[c] is None else str(row[c]) for c in old_columns) + "\n"
    )
    assert [r["path"] for r in read_rows(out)] == ["a/one.mp3"]
    offer(out, sample_results()[2:], append=True)
    rows = list(read_rows(out))
    assert [r["path"] for r in rows] == ["a/one.mp3", "b/three.flac"] and rows[0]["sad"] == pytest.approx(0.7)
    assert out.read_text().splitlines()[0] == ",".join(COLUMNS)


def test_a_rewrite_cut_short_is_not_taken_up_as_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "results.jsonl"
    offer(out, sample_results(), append=False)
    before = out.read_bytes()
    inputs = [Path(r.path) for r in sample_results()]
    real_line = JsonLinesSink._line
    lines: list[bytes] = []

    class Killed(BaseException):
        pass

    def killed_after_one_row(self: JsonLinesSink, row: dict[str, object]) -> bytes:
        if lines:
            raise Killed  # kill -9 while the failure's row is being dropped: nothing cleans up
        lines.append(real_line(self, row))
        return lines[-1]

    with monkeypatch.context() as patched:
        patched.setattr(JsonLinesSink, "_line", killed_after_one_row)
        patched.setattr(Path, "unlink", lambda self, missing_ok=False: None)
        with pytest.raises(Killed):
            open_sink(out, append=True, retry=resume_state(out, inputs).retry)
    assert out.read_bytes() == before
    assert resume_state(out, inputs).todo == [inputs[1]]  # every row still there: only the failure is redone
    assert out.read_bytes() == before
