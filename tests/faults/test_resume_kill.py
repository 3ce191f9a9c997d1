"""kill -9 in the middle of a run, for every format, then --resume: no result that had been
written is lost, and no input appears twice."""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path

import pytest

from mood.cli import main
from mood.library import read_rows
from tests.faults.sink_helpers import songs_named, start_cli

N_SONGS = 30
KILL_AFTER = 5  # songs the progress bar must show before the kill
PROGRESS = re.compile(rb"(\d+)/" + str(N_SONGS).encode())
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

    def watch() -> None:
        assert child.stderr is not None
        for chunk in iter(lambda: child.stderr.read1(4096), b""):  # type: ignore[union-attr]
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


def finish_and_check(songs: list[Path], weights: Path, out: Path, written: list[dict[str, object]]) -> None:
    assert main(["analyze", *flags(weights, out), "--resume", *map(str, songs)]) == 0
    final = list(read_rows(out))
    assert [row["path"] for row in final] == [str(s) for s in songs]  # each once, in order here
    assert final[: len(written)] == written  # what had been written was kept, not redone


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_kill_9_of_a_fresh_run_then_of_its_resume_loses_nothing(
    songs: list[Path], random_weights_dir: Path, tmp_path: Path, suffix: str
) -> None:
    out = tmp_path / f"results{suffix}"
    kill_mid_run(*flags(random_weights_dir, out), *map(str, songs))
    partial = out.with_name(out.name + ".partial")
    first = rows_of(partial)  # a fresh run writes aside until it ends
    assert len(first) >= KILL_AFTER - 1 and not out.exists()
    kill_mid_run(*flags(random_weights_dir, out), "--resume", *map(str, songs))
    second = rows_of(out)
    assert second[: len(first)] == first and len(second) > len(first)
    finish_and_check(songs, random_weights_dir, out, second)


def test_kill_9_of_a_parquet_resume_leaves_the_file_as_it_was(
    songs: list[Path], random_weights_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results.parquet"
    assert main(["analyze", *flags(random_weights_dir, out), *map(str, songs[:3])]) == 0
    before = out.read_bytes()
    kill_mid_run(*flags(random_weights_dir, out), "--resume", *map(str, songs))
    assert out.read_bytes() == before  # Parquet is written whole at the end: the killed run's rows are redone
    finish_and_check(songs, random_weights_dir, out, rows_of(out))
