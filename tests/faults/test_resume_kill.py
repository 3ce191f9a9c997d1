"""kill -9 in the middle of a run, for every format, then --resume: no result that had been
written is lost, and no input appears twice."""

from __future__ import annotations

import os
import re
import signal
import threading
from pathlib import Path

import pytest

from mood.batch.sinks import read_rows
from mood.cli import main
from tests.faults.sink_helpers import fast_models, songs_named, start_cli

N_SONGS = 20
KILL_AFTER = 3  # songs the progress bar must show before the kill
PROGRESS = re.compile(rb"(\d+)/\d+ \[")  # tqdm: "analysing:  20%|██ | 6/27 [00:03<..."
START_TIMEOUT_S = 120  # the child imports torch and loads the model first


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return songs_named(tmp_path_factory.mktemp("kill"), tuple(f"{i:02d} song.wav".encode() for i in range(N_SONGS)))


def flags(weights: Path, out: Path) -> list[str]:
    return ["--model", "cldnn", "--weights-dir", str(weights), "--out", str(out)]


def kill_mid_run(*args: str) -> None:
    """Start the CLI, SIGKILL it once its progress bar passes ``KILL_AFTER`` songs, and check it was cut short."""
    child = start_cli(*args)
    assert child.stderr is not None
    seen = threading.Event()

    stderr = child.stderr.fileno()

    def watch() -> None:
        for chunk in iter(lambda: os.read(stderr, 4096), b""):
            if any(int(n) >= KILL_AFTER for n in PROGRESS.findall(chunk)):
                seen.set()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert seen.wait(START_TIMEOUT_S), "the run never got going"
    child.send_signal(signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL  # killed, not finished


def rows_of(path: Path) -> list[dict[str, object]]:
    return list(read_rows(path)) if path.exists() else []


def earlier_run(songs: list[Path], weights: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patched:
        fast_models(patched)
        assert main(["analyze", *flags(weights, out), *map(str, songs)]) == 0


def finish_and_check(
    songs: list[Path], weights: Path, out: Path, written: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_models(monkeypatch)  # the rows kept were judged by the real CLI; the rest may be judged at once
    assert main(["analyze", *flags(weights, out), "--resume", *map(str, songs)]) == 0
    final = list(read_rows(out))
    assert [row["path"] for row in final] == [str(s) for s in songs]  # each once, in order here
    assert final[: len(written)] == written  # what had been written was kept, not redone


def test_kill_9_of_a_fresh_csv_run_keeps_its_rows_for_resume(
    songs: list[Path], random_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # a fresh JSON lines run writes aside the same way
    out = tmp_path / "results.csv"
    out.write_text("")  # an earlier output, which the fresh run was to replace
    kill_mid_run(*flags(random_weights_dir, out), *map(str, songs))
    assert out.read_text() == ""  # a fresh run writes aside until it ends
    written = rows_of(out.with_name(out.name + ".partial"))
    assert len(written) >= KILL_AFTER
    finish_and_check(songs, random_weights_dir, out, written, monkeypatch)


def test_kill_9_of_a_resumed_jsonl_run_keeps_the_earlier_rows_and_its_own(
    songs: list[Path], random_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "results.jsonl"
    earlier_run(songs[:3], random_weights_dir, out, monkeypatch)
    earlier = rows_of(out)
    kill_mid_run(*flags(random_weights_dir, out), "--resume", *map(str, songs))
    written = rows_of(out)  # appended in place
    assert written[:3] == earlier and len(written) >= 3 + KILL_AFTER
    finish_and_check(songs, random_weights_dir, out, written, monkeypatch)


def test_kill_9_of_a_parquet_resume_leaves_the_file_as_it_was(
    songs: list[Path], random_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "results.parquet"
    earlier_run(songs[:3], random_weights_dir, out, monkeypatch)
    before, earlier = out.read_bytes(), rows_of(out)
    kill_mid_run(*flags(random_weights_dir, out), "--resume", *map(str, songs))
    assert out.read_bytes() == before  # Parquet is written whole at the end: the killed run's rows are redone
    finish_and_check(songs, random_weights_dir, out, earlier, monkeypatch)
