"""A music library on one machine: decode ahead in threads while the model judges, stream
each result to a file (JSON lines, CSV or Parquet), resume a stopped run, and sum it up.

The unit of exchange is a :class:`Result`: DESIGN.md's JSON object of one input (``path``
plus the prediction, or ``path`` and ``error``). :func:`judge` turns one file into one;
:func:`analyse_library` (here) and :mod:`mood.ray_analysis` (on a Ray cluster) both use it,
and both write with the same :class:`ResultSink` s.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Protocol

from mood.constants import MOODS
from mood.errors import MoodError
from mood.presentation.descriptors import Descriptors, describe

if TYPE_CHECKING:
    from mood.engine.features import FloatArray
    from mood.engine.inference import Prediction

log = logging.getLogger(__name__)

DECODE_WORKERS = 2  # threads decoding ahead of the model
DECODE_AHEAD_PER_WORKER = 2  # decoded (or decoding) songs held per thread: memory stays flat
PARQUET_ROW_GROUP = 1000  # rows buffered before a Parquet row group is written
SUMMARY_MAX_FAILURES = 50  # failures listed by name in the summary; the rest are counted
COPY_CHUNK_BYTES = 1 << 16  # read size when searching a file backwards for its last newline

# The flat columns of the CSV and Parquet outputs, in order.
DESCRIPTOR_COLUMNS = tuple(f.name for f in dataclasses.fields(Descriptors))
COLUMNS = ("path", "model", "mood", *MOODS, "valence", "arousal", "duration_s", *DESCRIPTOR_COLUMNS, "error")
FLOAT_COLUMNS = frozenset(
    (*MOODS, "valence", "arousal", "duration_s", *(c for c in DESCRIPTOR_COLUMNS if c not in ("key", "mode")))
)
SUFFIXES = (".jsonl", ".csv", ".parquet")
UNEXPECTED = "Unexpected error while analysing this file ({}); the other files are not affected. Please report it."


class Judge(Protocol):
    """What judges a clip: a :class:`mood.engine.inference.Predictor` (or a test's stand-in)."""

    def predict(self, source: FloatArray) -> Prediction:
        """The prediction for decoded mono samples at ``SAMPLE_RATE``."""
        ...


# ---------------------------------------------------------------- one file


@dataclass(frozen=True)
class Result:
    """One input's outcome, as DESIGN.md's CLI prints it.

    Attributes:
        path: the input as given (a file found in a folder: its path under that folder).
        record: the JSON object, ``path`` included: a prediction's fields, or ``error``.
    """

    path: str
    record: dict[str, Any]

    @classmethod
    def of(cls, path: str, prediction: Prediction, descriptors: Descriptors) -> Result:
        """The result of a judged file: the prediction's fields and the song's musical descriptors."""
        return cls(path, {"path": path, **prediction.to_dict(), "descriptors": descriptors.to_dict()})

    @classmethod
    def failed(cls, path: str, message: str) -> Result:
        """The result of a file that could not be judged; ``message`` (for the user) is kept
        on one line, as every output prints it."""
        return cls(path, {"path": path, "error": " ".join(message.split())})

    @classmethod
    def from_json(cls, text: str) -> Result:
        """A result read back from its JSON line (what :meth:`to_json` wrote)."""
        record = json.loads(text)
        return cls(str(record["path"]), record)

    @property
    def error(self) -> str | None:
        """Why the file failed, or None."""
        error = self.record.get("error")
        return None if error is None else str(error)

    @property
    def mood(self) -> str | None:
        """The most probable mood, or None for a failure."""
        mood = self.record.get("mood")
        return None if mood is None else str(mood)

    def to_json(self) -> str:
        """One JSON line (no newline), floats written exactly."""
        return json.dumps(self.record)


def judge(path: str | Path, predictor: Judge, load: Callable[[], FloatArray] | None = None) -> Result:
    """Decode and judge one file; any failure becomes an error result, never an exception.

    Args:
        path: the audio file.
        predictor: loaded once for the whole run.
        load: returns the decoded samples (e.g. a decode already running in a thread:
            ``future.result``); default: decode ``path`` now.
    """
    from mood.engine.features import to_samples

    name = str(path)
    try:
        samples = load() if load is not None else to_samples(Path(path))
        prediction = predictor.predict(samples)
        descriptors = describe(samples)
    except MoodError as e:
        return Result.failed(name, str(e))
    except Exception as e:  # one bad file never stops a library run
        log.exception("unexpected error analysing %s", name)
        return Result.failed(name, UNEXPECTED.format(f"{type(e).__name__}: {e}"))
    return Result.of(name, prediction, descriptors)


# ---------------------------------------------------------------- many files, one machine


def local_cpus() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0))


@contextmanager
def torch_threads(n_threads: int) -> Iterator[None]:
    """Run the networks' forward passes on ``n_threads`` threads, then restore the setting."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def analyse_library(
    paths: Iterable[str | Path],
    predictor: Judge,
    *,
    workers: int = DECODE_WORKERS,
    ahead: int | None = None,
    model_threads: int | None = None,
) -> Generator[Result, None, None]:
    """Judge every file, in input order, decoding the next ones in threads meanwhile.

    At most ``ahead`` songs are decoded (or decoding) beyond the one being judged, so memory
    stays flat however long the library is.

    Args:
        paths: audio files, consumed lazily.
        predictor: loaded once; judges one song at a time (its networks use every core).
        workers: decoding threads.
        ahead: decodes allowed to run ahead (default ``workers * DECODE_AHEAD_PER_WORKER``).
        model_threads: torch threads while the run lasts (default: every core, as decoding
            is about 1 % of the work: 2 threads gave 45 songs/min with the ensemble on 2 idle
            cores, 1 thread 30; when another process keeps the cores busy, fewer threads can be
            faster); the previous setting is restored after.

    Yields:
        One :class:`Result` per input, in input order.
    """
    from mood.engine.features import to_samples

    limit = ahead if ahead is not None else workers * DECODE_AHEAD_PER_WORKER
    remaining = iter(paths)
    pending: deque[tuple[str | Path, Future[FloatArray]]] = deque()
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="mood-decode")

    def submit_next() -> None:
        for path in remaining:
            pending.append((path, pool.submit(to_samples, Path(path))))
            return

    threads = model_threads or local_cpus()
    try:
        for _ in range(max(1, limit)):
            submit_next()
        with torch_threads(threads):
            while pending:
                path, decoding = pending.popleft()
                submit_next()
                yield judge(path, predictor, decoding.result)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------- output files


def flat_row(record: dict[str, Any]) -> dict[str, Any]:
    """A result's CSV/Parquet columns (:data:`COLUMNS`); a failure has only path and error."""
    probabilities = record.get("probabilities") or {}
    descriptors = record.get("descriptors") or {}
    row: dict[str, Any] = {column: record.get(column) for column in COLUMNS}
    row.update({mood: probabilities.get(mood) for mood in MOODS})
    row.update({column: descriptors.get(column) for column in DESCRIPTOR_COLUMNS})
    return row


def check_out_path(path: Path) -> None:
    """Raise before any work if results cannot be written to ``path``.

    Raises:
        MoodError: an unknown suffix, or a folder that does not exist.
    """
    if path.suffix.lower() not in SUFFIXES:
        raise MoodError(f"Cannot write results to {path}: the file name must end in {', '.join(SUFFIXES)}.")
    if not path.parent.is_dir():
        raise MoodError(f"Cannot write results to {path}: the folder {path.parent} does not exist.")


class ResultSink:
    """Writes results to a file as they come; a context manager that always closes the file.

    Args:
        path: the output file.
        append: keep the rows already there (``--resume``) instead of starting afresh.
    """

    def __init__(self, path: Path, append: bool = False) -> None:
        self.path = path
        self.append = append and path.exists() and path.stat().st_size > 0
        self.n_written = 0

    def write(self, result: Result) -> None:
        """Add one result."""
        self._write(result)
        self.n_written += 1

    def _write(self, result: Result) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the file (everything written so far is kept)."""

    def __enter__(self) -> ResultSink:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class JsonLinesSink(ResultSink):
    """``.jsonl``: one JSON object per line, flushed as it goes (a killed run loses at most a line)."""

    def __init__(self, path: Path, append: bool = False) -> None:
        super().__init__(path, append)
        if self.append:
            drop_unterminated_tail(path)
            self.append = path.stat().st_size > 0
        self.file: IO[str] = path.open("a" if self.append else "w", encoding="utf-8")

    def _write(self, result: Result) -> None:
        self.file.write(result.to_json() + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class CsvSink(ResultSink):
    """``.csv``: the flat :data:`COLUMNS` (no timeline), a header, one row per result, flushed."""

    def __init__(self, path: Path, append: bool = False) -> None:
        super().__init__(path, append)
        if self.append:
            drop_unterminated_tail(path)
            self.append = path.stat().st_size > 0
        if self.append:
            with path.open(newline="", encoding="utf-8") as existing:
                header = next(csv.reader(existing), [])
            if tuple(header) != COLUMNS:
                raise MoodError(
                    f"{path} is not a results file of this version (its columns differ); use another --out."
                )
        self.file: IO[str] = path.open("a" if self.append else "w", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.file, COLUMNS, lineterminator="\n")
        if not self.append:
            self.writer.writeheader()

    def _write(self, result: Result) -> None:
        self.writer.writerow(flat_row(result.record))
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class ParquetSink(ResultSink):
    """``.parquet``: the flat :data:`COLUMNS` plus the ``timeline``, in row groups of
    ``PARQUET_ROW_GROUP``.

    A Parquet file is only readable once closed, so rows go to ``NAME.partial`` and replace
    ``NAME`` on close, which also happens on Ctrl-C or an error: a run stopped that way keeps
    its rows. With ``append`` the existing rows are copied first, one row group at a time.
    """

    def __init__(self, path: Path, append: bool = False) -> None:
        import pyarrow.parquet as pq

        super().__init__(path, append)
        self.schema = parquet_schema()
        self.partial = path.with_name(path.name + ".partial")
        self.rows: list[dict[str, Any]] = []
        self.writer = pq.ParquetWriter(self.partial, self.schema)
        if self.append:
            try:
                existing = pq.ParquetFile(path)
                for i in range(existing.num_row_groups):
                    self.writer.write_table(existing.read_row_group(i).cast(self.schema))
            except Exception as e:
                self.writer.close()
                self.partial.unlink(missing_ok=True)
                raise MoodError(f"Cannot resume {path}: {unreadable_parquet(path, e)}") from e

    def _write(self, result: Result) -> None:
        row = flat_row(result.record)
        row["timeline"] = [
            {"start_s": w["start_s"], "end_s": w["end_s"], **w["probabilities"]}
            for w in result.record.get("timeline", [])
        ] or None
        self.rows.append(row)
        if len(self.rows) >= PARQUET_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        try:
            self._flush()
        finally:
            self.writer.close()
            os.replace(self.partial, self.path)


def parquet_schema() -> Any:
    """The Arrow schema of a Parquet results file (a ``pyarrow.Schema``)."""
    import pyarrow as pa

    window = pa.struct([("start_s", pa.float64()), ("end_s", pa.float64()), *((m, pa.float64()) for m in MOODS)])
    fields = [(c, pa.float64() if c in FLOAT_COLUMNS else pa.string()) for c in COLUMNS]
    return pa.schema([*fields, ("timeline", pa.list_(window))])


def unreadable_parquet(path: Path, error: Exception) -> str:
    """Why a Parquet file cannot be read, for the user."""
    return (
        f"{path} is not a complete Parquet results file ({error}). A run killed outright cannot "
        "close its Parquet file; delete it to start again, and prefer .jsonl for runs that may be killed."
    )


SINKS: dict[str, type[ResultSink]] = {".jsonl": JsonLinesSink, ".csv": CsvSink, ".parquet": ParquetSink}


def open_sink(path: Path, append: bool = False) -> ResultSink:
    """The sink for ``path``'s suffix (see :data:`SINKS`).

    Raises:
        MoodError: an unknown suffix, or (``append``) a file that cannot be continued.
    """
    check_out_path(path)
    return SINKS[path.suffix.lower()](path, append)


def drop_unterminated_tail(path: Path) -> None:
    """Cut a text file back to its last newline: a line a killed run left half-written."""
    with path.open("rb+") as f:
        end = f.seek(0, os.SEEK_END)
        position = end
        while position > 0:
            start = max(0, position - COPY_CHUNK_BYTES)
            f.seek(start)
            chunk = f.read(position - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                position = start + newline + 1
                break
            position = start
        if position != end:
            f.truncate(position)


def _terminated_lines(f: IO[str]) -> Iterator[str]:
    """Each complete line of ``f``; a last line without its newline (a killed run's) is left out."""
    for line in f:
        if not line.endswith("\n"):
            return
        yield line


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The flat rows (:data:`COLUMNS`) of a results file of any of the three formats.

    A half-written last line of ``.jsonl`` or ``.csv`` is ignored.

    Raises:
        MoodError: the file is not a readable results file.
    """
    suffix = path.suffix.lower()
    check_out_path(path)
    if suffix == ".parquet":
        yield from _read_parquet_rows(path)
        return
    with path.open(newline="" if suffix == ".csv" else None, encoding="utf-8") as f:
        if suffix == ".jsonl":
            for number, line in enumerate(_terminated_lines(f), start=1):
                if not line.strip():
                    continue
                try:
                    yield flat_row(json.loads(line))
                except (json.JSONDecodeError, AttributeError) as e:
                    raise MoodError(f"Line {number} of {path} is not a result ({e}); fix or remove it.") from e
            return
        for row in csv.DictReader(_terminated_lines(f)):
            yield {c: (float(row[c]) if row[c] else None) if c in FLOAT_COLUMNS else (row[c] or None) for c in COLUMNS}


def _read_parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        batches = pq.ParquetFile(path).iter_batches(columns=list(COLUMNS))
        for batch in batches:
            yield from batch.to_pylist()
    except MoodError:
        raise
    except Exception as e:
        raise MoodError(unreadable_parquet(path, e)) from e


def path_key(path: str | Path) -> str:
    """How ``--resume`` compares inputs: absolute, not resolved (no file system calls)."""
    return os.path.abspath(path)


def already_done(out_path: Path) -> set[str]:
    """The inputs already in a results file (``--resume`` skips them), as :func:`path_key` s;
    empty if there is no file yet."""
    if not out_path.exists() or out_path.stat().st_size == 0:
        return set()
    return {path_key(row["path"]) for row in read_rows(out_path) if row.get("path")}


# ---------------------------------------------------------------- the end of a run


@dataclass
class Summary:
    """What a run did: moods counted, failures with their messages, speed.

    Attributes:
        moods: how many songs came out with each mood.
        failures: the first ``SUMMARY_MAX_FAILURES`` failures, ``(path, message)``.
        n_failed: all failures.
        n_skipped: inputs skipped because the output already had them (``--resume``).
    """

    moods: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)
    n_failed: int = 0
    n_skipped: int = 0
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None

    def add(self, result: Result) -> None:
        """Count one result."""
        if result.error is not None:
            self.n_failed += 1
            if len(self.failures) < SUMMARY_MAX_FAILURES:
                self.failures.append((result.path, result.error))
        elif result.mood is not None:
            self.moods[result.mood] += 1

    def finish(self) -> None:
        """Stop the clock."""
        self.finished = time.perf_counter()

    @property
    def n_done(self) -> int:
        """Inputs this run handled, failures included."""
        return sum(self.moods.values()) + self.n_failed

    @property
    def elapsed_s(self) -> float:
        """Seconds from the start to :meth:`finish` (or now)."""
        return (self.finished or time.perf_counter()) - self.started

    @property
    def songs_per_s(self) -> float:
        """Inputs handled per second of this run."""
        return self.n_done / self.elapsed_s if self.elapsed_s > 0 else math.nan

    def report(self) -> str:
        """The lines printed on stderr at the end of a run."""
        lines = [
            f"{self.n_done} song{'s' * (self.n_done != 1)} in {self.elapsed_s:.1f} s ({self.songs_per_s:.2f} songs/s)"
            + (f", {self.n_skipped} already done" if self.n_skipped else "")
            + f"; {self.n_failed} failed"
        ]
        width = max(len(m) for m in MOODS)
        lines += [f"  {mood:{width}s} {self.moods[mood]:6d}" for mood in MOODS]
        if self.failures:
            lines.append("failed:")
            lines += [f"  {path}: {message}" for path, message in self.failures]
            if self.n_failed > len(self.failures):
                lines.append(f"  ... and {self.n_failed - len(self.failures)} more (their rows hold the errors)")
        return "\n".join(lines)
