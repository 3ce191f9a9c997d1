"""Names with every kind of byte a file system allows, through every output: JSON lines, the
table, CSV and Parquet; each comes back as the same name, and --resume recognises it."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from mood.batch.results import input_name
from mood.batch.sinks import read_rows
from mood.cli import main
from tests.faults.sink_helpers import AWKWARD_NAMES, SUFFIXES, fast_models, songs_named


@pytest.fixture(scope="module")
def awkward(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return songs_named(tmp_path_factory.mktemp("names"), AWKWARD_NAMES)


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_models(monkeypatch)  # every file is decoded for real: that is where a name is opened


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


def cli(*flags: str) -> list[str]:
    return ["analyze", "--model", "cldnn", *flags]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_every_name_round_trips_through_the_file_and_resume_knows_it(
    awkward: list[Path], tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"results{suffix}"
    status, printed = run([*cli("--json", "--out", str(out)), "--", *map(str, awkward)])
    assert status == 0, capsys.readouterr().err
    rows = list(read_rows(out))
    assert all(row["error"] is None for row in rows)
    assert [os.fsencode(input_name(row)) for row in rows] == [os.fsencode(p) for p in awkward]
    printed_rows = [json.loads(line) for line in printed.splitlines()]
    assert [os.fsencode(input_name(r)) for r in printed_rows] == [os.fsencode(p) for p in awkward]
    for row in rows:  # the readable path is valid text everywhere: the exact bytes ride beside it
        row["path"].encode("utf-8")
        assert (row["path_bytes"] is None) == (os.fsencode(input_name(row)) == row["path"].encode("utf-8"))
    capsys.readouterr()
    status, _ = run([*cli("--out", str(out), "--resume"), "--", *map(str, awkward)])
    assert status == 0 and "Nothing to do" in capsys.readouterr().err


def test_the_table_gives_every_name_one_line(awkward: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    status, printed = run([*cli(), "--", *map(str, awkward)])
    assert status == 0, capsys.readouterr().err
    lines = printed.splitlines()
    assert len(lines) == len(awkward)
    assert "new\\nline.wav" in lines[1] and "caf\\xe9 latin-1.wav" in lines[6] and "--resume.wav" in lines[9]


def test_a_folder_of_awkward_names_is_read_whole(
    awkward: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.csv"
    status, _ = run(cli("--out", str(out), str(awkward[0].parent)))
    assert status == 0, capsys.readouterr().err
    assert sorted(os.fsencode(input_name(row)) for row in read_rows(out)) == sorted(map(os.fsencode, awkward))


def test_a_ray_worker_takes_every_name_as_its_bytes(awkward: list[Path]) -> None:
    import numpy as np

    from mood.batch.ray import PredictorActor

    batch = {"index": np.arange(len(awkward)), "path": np.asarray([os.fsencode(p) for p in awkward], dtype=object)}
    records = [json.loads(record) for record in PredictorActor("cldnn", None)(batch)["record"]]
    assert all("error" not in record for record in records)
    assert [os.fsencode(input_name(record)) for record in records] == [os.fsencode(p) for p in awkward]
