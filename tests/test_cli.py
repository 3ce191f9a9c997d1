"""`python -m mood analyze`: the stable command-line contract of DESIGN.md."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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
        assert set(record) == {"path", "model", "mood", "probabilities", "valence", "arousal", "duration_s", "timeline"}
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
