"""Full disks and read-only folders under every result file: a write that fails leaves the
earlier results as they were, keeps this run's complete rows, never a torn one, and the CLI
says so in one line with the "could not run" status."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mood.batch.sinks import open_sink, read_rows
from mood.cli import main
from mood.errors import MoodError
from tests.faults.sink_helpers import SUFFIXES, fake_result, fast_models, fill, remount_read_only, songs_named, tmpfs

DISK_BYTES = 512 * 1024
LEFT_BYTES = 16 * 1024  # room for a dozen JSON lines, far less than a run's
N_NEW = 3000  # results offered to a nearly full disk
N_SONGS = 80  # songs offered to a nearly full disk by the CLI (a CSV row is about 300 bytes)
CLI_LEFT_BYTES = 8 * 1024


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", DISK_BYTES) as folder:
        yield folder


def write_earlier(out: Path, n: int = 5) -> bytes:
    with open_sink(out) as sink:
        for i in range(n):
            sink.write(fake_result(f"old{i}.wav", seed=i))
    return out.read_bytes()


def offer_until_full(out: Path, append: bool) -> None:
    with pytest.raises(MoodError, match="No space left on device") as failed, open_sink(out, append=append) as sink:
        for i in range(N_NEW):
            sink.write(fake_result(f"new{i}.wav", seed=100 + i))
    assert "Traceback" not in str(failed.value) and "\n" not in str(failed.value)


def partial_of(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_resume_that_fills_the_disk_keeps_the_earlier_rows_and_no_torn_one(disk: Path, suffix: str) -> None:
    out = disk / f"results{suffix}"
    before = write_earlier(out)
    fill(disk, LEFT_BYTES)
    offer_until_full(out, append=True)
    paths = [row["path"] for row in read_rows(out)]
    assert paths[:5] == [f"old{i}.wav" for i in range(5)]
    if suffix == ".parquet":  # written whole at the end: the file is exactly as it was
        assert out.read_bytes() == before
    else:  # the complete rows of this run are kept after the earlier ones, byte for byte
        after = out.read_bytes()
        assert after.startswith(before) and after.endswith(b"\n")
        assert len(paths) > 5 and paths[5:] == [f"new{i}.wav" for i in range(len(paths) - 5)]
    assert not partial_of(out).exists()


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_fresh_run_that_fills_the_disk_leaves_the_old_output_as_it_was(disk: Path, suffix: str) -> None:
    out = disk / f"results{suffix}"
    before = write_earlier(out)
    fill(disk, LEFT_BYTES)
    offer_until_full(out, append=False)
    assert out.read_bytes() == before
    if suffix != ".parquet":  # this run's complete rows wait aside for --resume
        kept = [row["path"] for row in read_rows(partial_of(out))]
        assert kept and kept == [f"new{i}.wav" for i in range(len(kept))]
        assert partial_of(out).read_bytes().endswith(b"\n")
    else:
        assert not partial_of(out).exists()


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("append", [False, True])
def test_a_read_only_folder_is_a_clear_error_and_changes_nothing(disk: Path, suffix: str, append: bool) -> None:
    out = disk / f"results{suffix}"
    before = write_earlier(out)
    remount_read_only(disk)
    with pytest.raises(MoodError, match="read-only"):
        open_sink(out, append=append)
    assert out.read_bytes() == before


def analyse(songs: list[Path], weights: Path, out: Path, *flags: str) -> int:
    return main(
        ["analyze", "--model", "cldnn", "--weights-dir", str(weights), "--out", str(out), *flags, *map(str, songs)]
    )


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_the_cli_on_a_full_disk_says_so_in_one_line_and_exits_2(
    disk: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_models(monkeypatch)
    songs = songs_named(tmp_path / "songs", tuple(f"{i:02d}.wav".encode() for i in range(N_SONGS)))
    out = disk / f"results{suffix}"
    assert analyse(songs[:3], tmp_path, out) == 0
    before = out.read_bytes()
    capsys.readouterr()
    fill(disk, CLI_LEFT_BYTES)
    assert analyse(songs, tmp_path, out, "--resume") == 2
    error = one_line_error(capsys.readouterr().err)
    assert "No space left on device" in error and str(out) in error and "--resume" in error
    paths = [row["path"] for row in read_rows(out)]
    assert paths[:3] == [str(s) for s in songs[:3]] and len(set(paths)) == len(paths)
    if suffix == ".parquet":
        assert out.read_bytes() == before


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_the_cli_on_a_read_only_folder_says_so_before_any_work_and_exits_2(
    disk: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    songs = songs_named(tmp_path / "songs", (b"a.wav",))
    remount_read_only(disk)
    # The weights folder does not exist: had any work started, the error would be about the model.
    assert analyse(songs, tmp_path / "no-weights", disk / f"results{suffix}") == 2
    assert "read-only" in one_line_error(capsys.readouterr().err)
