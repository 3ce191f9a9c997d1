"""`python -m mood analyze`: the stable command-line contract of docs/DESIGN.md."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mood.batch.sinks import read_rows
from mood.cli import main
from mood.constants import MOODS
from mood.engine.manifest import EnsembleManifest
from mood.engine.weights import clear_cache, write_manifest
from tests.helpers import chord_progression, write_audio


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("songs")
    write_audio(chord_progression(seconds=6.0, seed=1), folder / "b.mp3")
    (folder / "nested").mkdir()
    write_audio(chord_progression(seconds=3.0, seed=2), folder / "nested" / "c.flac")
    (folder / "notes.txt").write_text("not audio, and not picked up from folders")
    return folder


def run(argv: list[str]) -> tuple[int, list[str]]:
    out = io.StringIO()
    status = main(argv, out=out)
    return status, out.getvalue().splitlines()


def test_json_lines_in_input_order(
    songs: Path, random_weights_dir: Path, song_wav_bytes: bytes, tmp_path: Path
) -> None:
    first = tmp_path / "a.wav"
    first.write_bytes(song_wav_bytes)
    status, lines = run(
        ["analyze", "--json", "--model", "cldnn", "--weights-dir", str(random_weights_dir), str(first), str(songs)]
    )
    assert status == 0
    records = [json.loads(line) for line in lines]
    assert [Path(r["path"]).name for r in records] == ["a.wav", "b.mp3", "c.flac"]
    for record in records:
        design = {"path", "model", "mood", "probabilities", "valence", "arousal", "duration_s", "timeline"}
        assert set(record) == design | {"descriptors", "truncated"}  # docs/DESIGN.md: new fields may be added
        assert record["truncated"] is False
        assert set(record["descriptors"]) >= {"tempo_bpm", "key", "mode", "loudness_dbfs", "brightness_hz"}
        assert record["descriptors"]["mode"] in ("major", "minor") and record["descriptors"]["tempo_bpm"] > 0
        assert record["model"] == "cldnn" and list(record["probabilities"]) == list(MOODS)
        assert record["mood"] in MOODS
    assert records[1]["duration_s"] == pytest.approx(6.0, abs=0.1)


def test_failed_inputs_are_reported_and_the_rest_still_run(
    songs: Path, random_weights_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"\x00garbage" * 100)
    status, lines = run(
        [
            "analyze",
            "--json",
            "--weights-dir",
            str(random_weights_dir),
            str(broken),
            str(songs / "b.mp3"),
            str(tmp_path / "missing.wav"),
        ]
    )
    assert status == 1
    records = [json.loads(line) for line in lines]
    assert set(records[0]) == {"path", "error"} and "could not be read as audio" in records[0]["error"]
    assert records[1]["mood"] in MOODS
    assert "No file" in records[2]["error"]


def test_readable_table(songs: Path, random_weights_dir: Path) -> None:
    status, lines = run(["analyze", "--weights-dir", str(random_weights_dir), str(songs)])
    assert status == 0 and len(lines) == 2
    assert all(any(mood in line for mood in MOODS) and " s" in line for line in lines)


def test_unknown_weights_folder_exits_nonzero(tmp_path: Path, songs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "--weights-dir", str(tmp_path), str(songs)]) == 2
    assert "No model named 'ensemble'" in capsys.readouterr().err


@pytest.fixture
def weights_copy(random_weights_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the random-weight models to break; no network loaded from it outlives the test."""
    clear_cache()
    yield shutil.copytree(random_weights_dir, tmp_path / "weights")
    clear_cache()


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_manifest_missing_a_field_is_a_one_line_error(
    weights_copy: Path, songs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest_path = weights_copy / "cldnn.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["features"]["n_fft"]
    manifest_path.write_text(json.dumps(manifest))
    status = main(["analyze", "--model", "cldnn", "--weights-dir", str(weights_copy), str(songs / "b.mp3")])
    assert status != 0
    error = _one_line_error(capsys)
    assert "cldnn.json" in error and "features.n_fft" in error


def test_an_ensemble_member_that_is_missing_is_a_one_line_error(
    weights_copy: Path, songs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_manifest(EnsembleManifest(name="ensemble", members=["resnet18", "musicnn"]), weights_copy)
    status = main(["analyze", "--model", "ensemble", "--weights-dir", str(weights_copy), str(songs / "b.mp3")])
    assert status != 0
    error = _one_line_error(capsys)
    assert "'musicnn'" in error and "Available" in error


def test_python_dash_m_help_is_a_real_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mood", "analyze", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "--json" in done.stdout


def test_help_does_not_load_torch() -> None:
    code = "import sys, mood, mood.cli; mood.cli.get_parser(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False"


# ---------------------------------------------------------------- a library: --out, --resume, summary


@pytest.fixture(scope="module")
def library(songs: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three songs and an undecodable file between them."""
    folder = tmp_path_factory.mktemp("library")
    broken = folder / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00garbage" * 50)
    extra = write_audio(chord_progression(seconds=2.5, seed=4), folder / "d.ogg")
    return [songs / "b.mp3", broken, songs / "nested" / "c.flac", extra]


def analyse_library_cli(library: list[Path], weights: Path, *flags: str) -> tuple[int, list[str]]:
    return run(["analyze", "--model", "cldnn", "--weights-dir", str(weights), *flags, *map(str, library)])


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_out_streams_every_result_to_the_file_and_json_still_prints(
    library: list[Path], random_weights_dir: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from mood.batch.results import flat_row
    from mood.batch.sinks import read_rows

    out = tmp_path / f"results{suffix}"
    status, lines = analyse_library_cli(library, random_weights_dir, "--json", "--out", str(out))
    assert status == 1  # the broken file failed; every other one was analysed
    records = [json.loads(line) for line in lines]
    assert [r["path"] for r in records] == [str(p) for p in library]
    assert "error" in records[1] and all(r["mood"] in MOODS for r in records[::2] + records[3:])
    assert list(read_rows(out)) == [flat_row(r) for r in records]  # CSV too: floats are written exactly
    if suffix == ".jsonl":
        assert out.read_text().splitlines() == lines
    err = capsys.readouterr().err
    assert "4 songs in" in err and "1 failed" in err and f"  {library[1]}: " in err


def test_no_descriptors_gives_the_same_moods_without_the_descriptors(
    library: list[Path], random_weights_dir: Path, tmp_path: Path
) -> None:
    from mood.batch.results import DESCRIPTOR_COLUMNS
    from mood.batch.sinks import read_rows

    songs = [library[0], library[2]]
    _, described = analyse_library_cli(songs, random_weights_dir, "--json")
    status, lines = analyse_library_cli(
        songs, random_weights_dir, "--json", "--no-descriptors", "--out", str(tmp_path / "r.csv")
    )
    assert status == 0
    moods_only = [json.loads(line) for line in lines]
    assert all("descriptors" not in r for r in moods_only)
    assert moods_only == [{k: v for k, v in json.loads(line).items() if k != "descriptors"} for line in described]
    for row in read_rows(tmp_path / "r.csv"):  # the columns stay, empty
        assert all(row[column] is None for column in DESCRIPTOR_COLUMNS) and row["mood"] in MOODS


def test_out_without_json_keeps_stdout_empty(library: list[Path], random_weights_dir: Path, tmp_path: Path) -> None:
    status, lines = analyse_library_cli(library[:1], random_weights_dir, "--out", str(tmp_path / "r.csv"))
    assert status == 0 and lines == []
    header = (tmp_path / "r.csv").read_text().splitlines()[0]
    assert header.startswith("path,path_bytes,model,mood,happy,angry,sad,calm")


def test_resume_skips_what_is_done_and_appends_the_rest(
    library: list[Path], random_weights_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.jsonl"
    status, first = analyse_library_cli(library[:2], random_weights_dir, "--json", "--out", str(out))
    assert status == 1 and len(first) == 2
    capsys.readouterr()
    status, second = analyse_library_cli(
        library[:1] + library[2:], random_weights_dir, "--json", "--out", str(out), "--resume"
    )
    assert status == 1  # this run's inputs all succeeded, but the output still holds the broken one's failure
    assert [json.loads(line)["path"] for line in second] == [str(p) for p in library[2:]]
    assert [json.loads(line)["path"] for line in out.read_text().splitlines()] == [str(p) for p in library]
    err = capsys.readouterr().err
    assert "1 already done; 1 failed" in err and f"  {library[1]}: " in err
    status, third = analyse_library_cli(library[:1] + library[2:], random_weights_dir, "--out", str(out), "--resume")
    assert status == 1 and third == []
    assert "Nothing to do: all 3 inputs are already in" in capsys.readouterr().err


def test_resume_retries_the_inputs_that_failed_and_replaces_their_rows(
    library: list[Path], random_weights_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    songs = [tmp_path / "a.mp3", tmp_path / "b.mp3", tmp_path / "c.flac"]
    shutil.copy(library[0], songs[0])
    shutil.copy(library[2], songs[2])
    songs[1].write_bytes(b"\x00garbage" * 100)  # e.g. a network share that was down
    for suffix in (".jsonl", ".csv", ".parquet"):
        out = tmp_path / f"results{suffix}"
        status, _ = analyse_library_cli(songs, random_weights_dir, "--out", str(out))
        assert status == 1
        capsys.readouterr()
        status, _ = analyse_library_cli(songs, random_weights_dir, "--out", str(out), "--resume")
        assert status == 1 and "2 already done; 1 failed" in capsys.readouterr().err  # tried again, failed again
        assert sorted(row["path"] for row in read_rows(out)) == sorted(map(str, songs))
    shutil.copy(library[0], songs[1])  # the share is back
    for suffix in (".jsonl", ".csv", ".parquet"):
        out = tmp_path / f"results{suffix}"
        status, _ = analyse_library_cli(songs, random_weights_dir, "--out", str(out), "--resume")
        assert status == 0 and "2 already done; 0 failed" in capsys.readouterr().err
        rows = list(read_rows(out))
        assert [row["path"] for row in rows] == [str(songs[0]), str(songs[2]), str(songs[1])]  # once each
        assert all(row["error"] is None for row in rows)


def test_without_resume_the_output_starts_afresh(library: list[Path], random_weights_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    out.write_text('{"path": "old.mp3", "error": "x"}\n')
    analyse_library_cli(library[:1], random_weights_dir, "--out", str(out))
    assert [json.loads(line)["path"] for line in out.read_text().splitlines()] == [str(library[0])]


def test_an_unknown_output_suffix_exits_2_before_any_work(
    library: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The weights folder does not exist: had any work started, the error would be about the model.
    status, lines = analyse_library_cli(library, tmp_path / "no-weights", "--out", str(tmp_path / "results.txt"))
    assert status == 2 and lines == []
    error = _one_line_error(capsys)
    assert "results.txt" in error and ".jsonl, .csv, .parquet" in error
    assert not (tmp_path / "results.txt").exists()


def test_resume_needs_out(library: list[Path], random_weights_dir: Path) -> None:
    with pytest.raises(SystemExit) as stopped:
        analyse_library_cli(library, random_weights_dir, "--resume")
    assert stopped.value.code == 2


def test_a_model_that_fails_to_load_leaves_the_output_untouched(
    library: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.jsonl"
    out.write_text('{"path": "kept.mp3", "error": "x"}\n')
    status, _ = analyse_library_cli(library, tmp_path / "no-weights", "--out", str(out))
    assert status == 2 and "No model named 'cldnn'" in _one_line_error(capsys)
    assert out.read_text() == '{"path": "kept.mp3", "error": "x"}\n'


def test_progress_bar_counts_songs_on_stderr(
    library: list[Path], random_weights_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines = analyse_library_cli(library, random_weights_dir)
    assert status == 1 and len(lines) == 4
    assert (
        lines[1]
        == f"{library[1]}: error: This file could not be read as audio. Try a wav, mp3, ogg, flac, m4a or webm file."
    )
    err = capsys.readouterr().err
    assert "analysing" in err and "4/4" in err and "song/s]" in err
    assert "  sad " in err and "failed:" in err


def test_ray_flag_followed_by_a_path_takes_no_address(songs: Path) -> None:
    from mood.cli import get_parser, ray_flag_before_a_path

    args = get_parser().parse_args(ray_flag_before_a_path(["analyze", "--ray", str(songs)]))
    assert args.ray == "" and args.paths == [songs]
    args = get_parser().parse_args(ray_flag_before_a_path(["analyze", "--ray", "10.0.0.5:6379", str(songs)]))
    assert args.ray == "10.0.0.5:6379" and args.paths == [songs]
    args = get_parser().parse_args(ray_flag_before_a_path(["analyze", str(songs)]))
    assert args.ray is None


def test_help_names_the_library_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mood", "analyze", "--help"], capture_output=True, text=True, timeout=60
    )
    for flag in ("--out FILE", "--resume", "--ray [ADDRESS]", "--workers N", ".parquet"):
        assert flag in done.stdout


def test_a_stopped_run_keeps_its_results_and_resumes(
    library: list[Path], random_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import mood.batch.results
    import mood.batch.run

    out = tmp_path / "results.parquet"  # the format that is only readable once closed
    real_result_of = mood.batch.run.result_of
    judged: list[str] = []

    def result_then_stop(path: Path, *args: object, **kwargs: object) -> mood.batch.results.Result:
        if len(judged) == 2:
            raise KeyboardInterrupt  # Ctrl-C (or SIGTERM) during the third file
        judged.append(str(path))
        return real_result_of(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(mood.batch.run, "result_of", result_then_stop)
    status, _ = analyse_library_cli(library, random_weights_dir, "--out", str(out))
    assert status == 130 and "add --resume to go on" in capsys.readouterr().err
    assert [row["path"] for row in read_rows(out)] == [str(p) for p in library[:2]]
    monkeypatch.setattr(mood.batch.run, "result_of", real_result_of)
    status, _ = analyse_library_cli(library, random_weights_dir, "--out", str(out), "--resume")
    assert status == 1  # the broken file was tried again, and failed again
    assert [row["path"] for row in read_rows(out)] == [str(p) for p in library]


def test_help_documents_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "0 if every input was judged" in text and "1 if some failed" in text
    assert "2 if the run could not start or go on" in text and "130 if it was interrupted" in text
