"""A music library on one machine: decode ahead in threads while the model judges, stream
each result to a file (JSON lines, CSV or Parquet), resume a stopped run, and sum it up.

Any file name works (``path`` is valid text, ``path_bytes`` the exact bytes of a name that is
not UTF-8), and a write that fails (a full disk, a folder turned read-only) never costs the
results the file held before: rows are written whole, aside until a fresh run ends, and a
torn row is cut away.

The unit of exchange is a :class:`Result`: DESIGN.md's JSON object of one input (``path``
plus the prediction, or ``path`` and ``error``). :func:`judge` turns one file into one;
:func:`analyse_library` (here) and :mod:`mood.ray_analysis` (on a Ray cluster) both use it,
and both write with the same :class:`ResultSink` s.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import math
import os
import time
import urllib.parse
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Protocol

from mood.constants import MOODS
from mood.engine.descriptors import Descriptors, describe
from mood.errors import MoodError

if TYPE_CHECKING:
    from mood.engine.audio import DecodedAudio
    from mood.engine.inference import Prediction

log = logging.getLogger(__name__)

DECODE_WORKERS = 2  # threads decoding ahead of the model
DECODE_AHEAD_PER_WORKER = 2  # decoded (or decoding) songs held per thread: memory stays flat
PARQUET_ROW_GROUP = 1000  # rows buffered before a Parquet row group is written
SUMMARY_MAX_FAILURES = 50  # failures listed by name in the summary; the rest are counted
COPY_CHUNK_BYTES = 1 << 16  # read size when searching a file backwards for its last newline

PARTIAL_SUFFIX = ".partial"  # NAME.partial: a run's rows before they replace NAME
REWRITE_SUFFIX = ".rewrite"  # NAME.rewrite: NAME written again before --resume appends (never taken up)
FILE_MODE = 0o666  # new output files: read-write for all, less the umask (as open() does)
NAME_SAFE_BYTES = "/ "  # kept as they are in path_bytes, beside the unreserved characters

# The flat columns of the CSV and Parquet outputs, in order.
DESCRIPTOR_COLUMNS = tuple(f.name for f in dataclasses.fields(Descriptors))
COLUMNS = (
    "path", "path_bytes", "model", "mood", *MOODS, "valence", "arousal", "duration_s", "truncated",
    *DESCRIPTOR_COLUMNS, "error",
)  # fmt: skip
FLOAT_COLUMNS = frozenset(
    (*MOODS, "valence", "arousal", "duration_s", *(c for c in DESCRIPTOR_COLUMNS if c not in ("key", "mode")))
)
BOOL_COLUMNS = frozenset({"truncated"})
SUFFIXES = (".jsonl", ".csv", ".parquet")
UNEXPECTED = "Unexpected error while analysing this file ({}); the other files are not affected. Please report it."


class Judge(Protocol):
    """What judges a clip: a :class:`mood.engine.inference.Predictor` (or a test's stand-in)."""

    def predict(self, source: DecodedAudio) -> Prediction:
        """The prediction for a decoded song (mono samples at ``SAMPLE_RATE``, and whether it was cut)."""
        ...


# ---------------------------------------------------------------- one file


@dataclass(frozen=True)
class Result:
    """One input's outcome, as DESIGN.md's CLI prints it.

    Attributes:
        path: the input as given (a file found in a folder: its path under that folder), as
            valid text (:func:`readable`).
        record: the JSON object, ``path`` (and ``path_bytes``: :func:`name_fields`) included:
            a prediction's fields, or ``error``.
    """

    path: str
    record: dict[str, Any]

    @classmethod
    def of(cls, path: str, prediction: Prediction, descriptors: Descriptors) -> Result:
        """The result of a judged file: the prediction's fields and the song's musical descriptors."""
        names = name_fields(path)
        return cls(names["path"], {**names, **prediction.to_dict(), "descriptors": descriptors.to_dict()})

    @classmethod
    def failed(cls, path: str, message: str) -> Result:
        """The result of a file that could not be judged; ``message`` (for the user) is kept
        on one line, as every output prints it."""
        names = name_fields(path)
        return cls(names["path"], {**names, "error": " ".join(readable(message).split())})

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


def judge(path: str | Path, predictor: Judge, load: Callable[[], DecodedAudio] | None = None) -> Result:
    """Decode and judge one file; any failure becomes an error result, never an exception.

    Args:
        path: the audio file.
        predictor: loaded once for the whole run.
        load: returns the decoded song (e.g. a decode already running in a thread:
            ``future.result``); default: decode ``path`` now.
    """
    from mood.engine.features import decode

    name = str(path)
    try:
        decoded = load() if load is not None else decode(Path(path))
        prediction = predictor.predict(decoded)
        descriptors = describe(decoded.samples)
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
    from mood.engine.features import decode

    limit = ahead if ahead is not None else workers * DECODE_AHEAD_PER_WORKER
    remaining = iter(paths)
    pending: deque[tuple[str | Path, Future[DecodedAudio]]] = deque()
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="mood-decode")

    def submit_next() -> None:
        for path in remaining:
            pending.append((path, pool.submit(decode, Path(path))))
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


# ---------------------------------------------------------------- names


def readable(text: str) -> str:
    """``text`` as valid Unicode: each byte of a file name that is not UTF-8 (a surrogate escape,
    as Python decodes such names) becomes ``\\xNN``."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate no file system gave us
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def printable(text: str) -> str:
    """``text`` on one line for a terminal: control characters (newlines, tabs, escapes) as ``\\n``, ``\\x1b``..."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in readable(text))


def name_fields(name: str) -> dict[str, str]:
    """A result's ``path`` (:func:`readable`), and for a name that is not UTF-8 its exact bytes
    as ``path_bytes``, percent-encoded (``urllib.parse.unquote_to_bytes`` reads them back)."""
    raw = os.fsencode(name)
    path = raw.decode("utf-8", "backslashreplace")
    if path.encode("utf-8") == raw:
        return {"path": path}
    return {"path": path, "path_bytes": urllib.parse.quote_from_bytes(raw, safe=NAME_SAFE_BYTES)}


def input_name(row: Mapping[str, Any]) -> str:
    """The file a result (a JSON record or a flat row) stands for, as Python names it (``os.fsdecode``)."""
    raw = row.get("path_bytes")
    return os.fsdecode(urllib.parse.unquote_to_bytes(raw)) if raw else str(row["path"])


def path_key(path: str | Path) -> str:
    """How ``--resume`` compares inputs: absolute, not resolved (no file system calls)."""
    return os.path.abspath(path)


# ---------------------------------------------------------------- output files


def flat_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A result's CSV/Parquet columns (:data:`COLUMNS`); a failure has only path and error."""
    probabilities = record.get("probabilities") or {}
    descriptors = record.get("descriptors") or {}
    row: dict[str, Any] = {column: record.get(column) for column in COLUMNS}
    row.update({mood: probabilities.get(mood) for mood in MOODS})
    row.update({column: descriptors.get(column) for column in DESCRIPTOR_COLUMNS})
    return row


def output_suffix(path: Path) -> str:
    """The format of an output file or of its ``NAME.partial``: ``.jsonl``, ``.csv`` or ``.parquet``."""
    name = path.name.removesuffix(PARTIAL_SUFFIX) if path.name.endswith(PARTIAL_SUFFIX) else path.name
    return Path(name).suffix.lower()


def partial_path(path: Path) -> Path:
    """Where a run writes before its output replaces ``path``: ``NAME.partial`` beside it."""
    return path.with_name(path.name + PARTIAL_SUFFIX)


def check_out_path(path: Path) -> None:
    """Raise before any work if results cannot be written to ``path``.

    Raises:
        MoodError: an unknown suffix, or a folder that does not exist or cannot be written to.
    """
    if path.suffix.lower() not in SUFFIXES:
        raise MoodError(f"Cannot write results to {path}: the file name must end in {', '.join(SUFFIXES)}.")
    if not path.parent.is_dir():
        raise MoodError(f"Cannot write results to {path}: the folder {path.parent} does not exist.")
    if not os.access(path.parent, os.W_OK):
        raise MoodError(
            f"Cannot write results to {path}: the folder {path.parent} is read-only (or not yours to write); "
            "choose another --out."
        )


def reason(error: OSError) -> str:
    """An operating-system error in words, e.g. ``No space left on device``."""
    return os.strerror(error.errno) if error.errno else str(error)


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(source: Path, target: Path) -> None:
    """Put the finished ``source`` in ``target``'s place in one step: flushed to disk, then renamed."""
    fd = os.open(source, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(source, target)
    fsync_folder(target.parent)


class ResultSink:
    """Writes results to a file as they come; a context manager that always closes the file.

    A write that fails leaves the results the file held before as they were, keeps the rows of
    this run that were written whole where it can, and raises a :class:`MoodError` that says so.

    Args:
        path: the output file.
        append: keep the rows already there (``--resume``) instead of starting afresh.
        retry: :func:`path_key` s whose rows (failures tried again) are dropped from the rows kept.
    """

    def __init__(self, path: Path, append: bool = False, retry: frozenset[str] = frozenset()) -> None:
        self.path = path
        self.append = append and path.exists() and path.stat().st_size > 0
        self.retry = retry if self.append else frozenset()
        self.n_written = 0
        self.failed = False

    def write(self, result: Result) -> None:
        """Add one result.

        Raises:
            MoodError: it could not be written (e.g. a full disk); the sink is then closed.
        """
        try:
            self._write(result)
        except OSError as e:
            raise self._fail(e) from e
        self.n_written += 1

    def close(self) -> None:
        """Finish the file: everything written so far is kept (a no-op after a failure).

        Raises:
            MoodError: the file could not be finished; the earlier results are kept as they were.
        """
        if self.failed:
            return
        try:
            self._finish()
        except OSError as e:
            raise self._fail(e) from e

    def _fail(self, error: OSError) -> MoodError:
        """Give up on this run's file after ``error``, keeping what can be kept; the error to raise."""
        self.failed = True
        kept = self._abandon()
        return MoodError(
            f"Could not write results to {self.path}: {reason(error)}. {kept} Free some space or choose another "
            "--out, then run the same command with --resume to go on."
        )

    def _write(self, result: Result) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def _abandon(self) -> str:
        """Clean up after a failed write; what the user still has, in a sentence."""
        raise NotImplementedError

    def __enter__(self) -> ResultSink:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class TextSink(ResultSink):
    """Results as lines of text (JSON lines, CSV), each row written whole with one system call
    and not buffered, so a run killed outright loses nothing it had written.

    A fresh run writes to ``NAME.partial``, which replaces ``NAME`` when the run ends (Ctrl-C
    included; a run that wrote nothing leaves ``NAME`` as it was). With ``append`` rows are added
    to ``NAME`` itself, after dropping its ``retry`` rows and a half-written last line. A failed
    write cuts the file back to the end of its last whole row.
    """

    def __init__(self, path: Path, append: bool = False, retry: frozenset[str] = frozenset()) -> None:
        super().__init__(path, append, retry)
        self.target = path if self.append else partial_path(path)
        try:
            if self.append:
                drop_unterminated_tail(path)
                if self.retry or not self._current_format():
                    self._rewrite()
            flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if self.append else os.O_TRUNC)
            self.fd = os.open(self.target, flags, FILE_MODE)
        except OSError as e:
            self.failed = True
            raise MoodError(f"Could not write results to {path}: {reason(e)}. It is as it was.") from e
        self.end = os.lseek(self.fd, 0, os.SEEK_END)
        if not self.append:
            self._put(self._header())

    def _header(self) -> bytes:
        """What a new file starts with."""
        return b""

    def _current_format(self) -> bool:
        """Whether ``path`` can be appended to as it is (else it is rewritten first)."""
        return True

    def _line(self, row: Mapping[str, Any]) -> bytes:
        """One row as its line: a JSON record (JSON lines), a flat row (CSV)."""
        raise NotImplementedError

    def _row(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        """A result's JSON record as :meth:`_line` takes it."""
        return record

    def _existing(self) -> Iterator[dict[str, Any]]:
        """The rows already in ``path``, each as :meth:`_line` takes it."""
        raise NotImplementedError

    def _rewrite(self) -> None:
        """Write ``path`` again, current format, without the ``retry`` rows: aside, then in its place
        (aside under a name of its own: a rewrite cut short is no run's rows to take up)."""
        aside = self.path.with_name(self.path.name + REWRITE_SUFFIX)
        try:
            with aside.open("wb") as f:
                f.write(self._header())
                for row in self._existing():
                    if path_key(input_name(row)) not in self.retry:
                        f.write(self._line(row))
        except BaseException:
            aside.unlink(missing_ok=True)
            raise
        replace_durably(aside, self.path)

    def _put(self, data: bytes) -> None:
        """Write ``data`` to the end; on failure cut the file back to where it was, and raise."""
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:
            os.ftruncate(self.fd, self.end)
            raise
        self.end += len(data)

    def _write(self, result: Result) -> None:
        self._put(self._line(self._row(result.record)))

    def _finish(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)
        if self.target == self.path:
            return
        if self.n_written:
            replace_durably(self.target, self.path)
        else:
            self.target.unlink()

    def _abandon(self) -> str:
        with suppress(OSError):
            os.close(self.fd)
        if self.target == self.path:
            return f"It keeps its earlier results and the {self.n_written} written by this run."
        if not self.n_written:
            with suppress(OSError):
                self.target.unlink()
            return "It is as it was before this run."
        return (
            f"It is as it was before this run; this run's {self.n_written} results are in {self.target}, "
            "which --resume continues."
        )


class JsonLinesSink(TextSink):
    """``.jsonl``: one JSON object per line (ASCII: any other character as a JSON escape)."""

    def _line(self, row: Mapping[str, Any]) -> bytes:
        return (json.dumps(row) + "\n").encode("ascii")

    def _existing(self) -> Iterator[dict[str, Any]]:
        with self.path.open(encoding="utf-8") as f:
            for number, line in enumerate(_terminated_lines(f), start=1):
                if line.strip():
                    yield _json_record(line, self.path, number)


class CsvSink(TextSink):
    """``.csv``: the flat :data:`COLUMNS` (no timeline), a header, one row per result. A file of
    an earlier version (fewer of these columns) is rewritten with them all before rows are added."""

    def _header(self) -> bytes:
        return _csv_line(COLUMNS)

    def _current_format(self) -> bool:
        with self.path.open(newline="", encoding="utf-8") as existing:
            header = tuple(next(csv.reader(existing), []))
        if header != COLUMNS and not ("path" in header and set(header) <= set(COLUMNS)):
            raise MoodError(
                f"{self.path} is not a results file of this version (its columns differ); use another --out."
            )
        return header == COLUMNS

    def _row(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        return flat_row(record)

    def _line(self, row: Mapping[str, Any]) -> bytes:
        return _csv_line([_csv_cell(row.get(column)) for column in COLUMNS])

    def _existing(self) -> Iterator[dict[str, Any]]:
        return read_rows(self.path)


def _csv_cell(value: Any) -> Any:
    """A CSV cell: booleans as ``true``/``false``, None empty, the rest as the csv module writes it."""
    return ("true" if value else "false") if isinstance(value, bool) else value


def _csv_line(cells: Iterable[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().encode("utf-8")


class ParquetSink(ResultSink):
    """``.parquet``: the flat :data:`COLUMNS` plus the ``timeline``, in row groups of
    ``PARQUET_ROW_GROUP``.

    A Parquet file is only readable once closed, so rows go to ``NAME.partial``, which is read
    back and then replaces ``NAME`` on close (Ctrl-C and errors included: a run stopped that way
    keeps its rows; one that wrote nothing leaves ``NAME`` as it was). With ``append`` the
    existing rows but the ``retry`` ones are copied first, one row group at a time. A failed
    write leaves ``NAME`` as it was; a run killed outright loses only its own rows.
    """

    def __init__(self, path: Path, append: bool = False, retry: frozenset[str] = frozenset()) -> None:
        import pyarrow.parquet as pq

        super().__init__(path, append, retry)
        self.schema = parquet_schema()
        self.partial = partial_path(path)
        self.rows: list[dict[str, Any]] = []
        self.n_copied = 0
        try:
            self.writer = pq.ParquetWriter(self.partial, self.schema)
        except OSError as e:
            self.failed = True
            raise MoodError(f"Could not write results to {path}: {reason(e)}. It is as it was.") from e
        if self.append:
            try:
                self._copy_existing()
            except OSError as e:
                raise self._fail(e) from e

    def _copy_existing(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            existing = pq.ParquetFile(self.path)
            groups = (existing.read_row_group(i) for i in range(existing.num_row_groups))
            for group in groups:
                table = pa.table([_column(group, f) for f in self.schema], schema=self.schema)
                if self.retry:
                    names = table.select(["path", "path_bytes"]).to_pylist()
                    table = table.filter(pa.array([path_key(input_name(n)) not in self.retry for n in names]))
                self.writer.write_table(table)
                self.n_copied += table.num_rows
        except OSError:
            raise
        except Exception as e:
            self._abandon()
            self.failed = True
            raise MoodError(f"Cannot resume {self.path}: {unreadable_parquet(self.path, e)}") from e

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

    def _finish(self) -> None:
        import pyarrow.parquet as pq

        if not self.n_written:
            self._abandon()
            return
        self._flush()
        self.writer.close()
        n_rows = pq.ParquetFile(self.partial).metadata.num_rows
        if n_rows != self.n_copied + self.n_written:
            raise OSError(f"{self.partial} holds {n_rows} rows, not {self.n_copied + self.n_written}")
        replace_durably(self.partial, self.path)

    def _abandon(self) -> str:
        with suppress(Exception):  # a writer that cannot finish its file raises again on close
            self.writer.close()
        with suppress(OSError):
            self.partial.unlink()
        return "It is as it was before this run (a Parquet file is written whole at the end)."


def _column(table: Any, field: Any) -> Any:
    """``table``'s column for schema ``field`` cast to its type; nulls for a column an earlier version lacked."""
    import pyarrow as pa

    if field.name in table.column_names:
        return table.column(field.name).cast(field.type)
    return pa.nulls(table.num_rows, field.type)


def parquet_schema() -> Any:
    """The Arrow schema of a Parquet results file (a ``pyarrow.Schema``)."""
    import pyarrow as pa

    window = pa.struct([("start_s", pa.float64()), ("end_s", pa.float64()), *((m, pa.float64()) for m in MOODS)])
    types = {**dict.fromkeys(FLOAT_COLUMNS, pa.float64()), **dict.fromkeys(BOOL_COLUMNS, pa.bool_())}
    fields = [(c, types.get(c, pa.string())) for c in COLUMNS]
    return pa.schema([*fields, ("timeline", pa.list_(window))])


def unreadable_parquet(path: Path, error: Exception) -> str:
    """Why a Parquet file cannot be read, for the user."""
    return (
        f"{path} is not a complete Parquet results file ({error}). Delete it to start again; "
        "a run that was killed leaves the file it resumed as it was."
    )


SINKS: dict[str, type[ResultSink]] = {".jsonl": JsonLinesSink, ".csv": CsvSink, ".parquet": ParquetSink}
TEXT_SUFFIXES = frozenset(s for s, sink in SINKS.items() if issubclass(sink, TextSink))


def open_sink(path: Path, append: bool = False, retry: frozenset[str] = frozenset()) -> ResultSink:
    """The sink for ``path``'s suffix (see :data:`SINKS`).

    Raises:
        MoodError: an unknown suffix, a folder that cannot be written to, or (``append``) a file
            that cannot be continued.
    """
    check_out_path(path)
    return SINKS[output_suffix(path)](path, append, retry)


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


def _json_record(line: str, path: Path, number: int) -> dict[str, Any]:
    """Line ``number`` of a JSON lines results file, parsed.

    Raises:
        MoodError: it is not a result.
    """
    try:
        record = json.loads(line)
        if not isinstance(record, dict) or "path" not in record:
            raise ValueError("not an object with a path")
    except ValueError as e:
        raise MoodError(f"Line {number} of {path} is not a result ({e}); fix or remove it.") from e
    return record


def _csv_value(column: str, text: str | None) -> Any:
    """A CSV cell read back as its column's type (empty: None)."""
    if not text:
        return None
    if column in FLOAT_COLUMNS:
        return float(text)
    if column in BOOL_COLUMNS:
        return text == "true"
    return text


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The flat rows (:data:`COLUMNS`) of a results file of any of the three formats (columns an
    earlier version lacked are None).

    A half-written last line of ``.jsonl`` or ``.csv`` is ignored.

    Raises:
        MoodError: the file is not a readable results file.
    """
    suffix = output_suffix(path)
    if suffix == ".parquet":
        yield from _read_parquet_rows(path)
        return
    with path.open(newline="" if suffix == ".csv" else None, encoding="utf-8") as f:
        if suffix == ".jsonl":
            for number, line in enumerate(_terminated_lines(f), start=1):
                if line.strip():
                    yield flat_row(_json_record(line, path, number))
            return
        for row in csv.DictReader(_terminated_lines(f)):
            yield {c: _csv_value(c, row.get(c)) for c in COLUMNS}


def _read_parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
        present = [c for c in COLUMNS if c in file.schema_arrow.names]
        for batch in file.iter_batches(columns=present):
            for row in batch.to_pylist():
                yield {c: row.get(c) for c in COLUMNS}
    except MoodError:
        raise
    except Exception as e:
        raise MoodError(unreadable_parquet(path, e)) from e


def adopt_unfinished_run(out_path: Path) -> None:
    """Before resuming: a ``.jsonl``/``.csv`` run that never finished (killed outright, or its
    disk filled) left its rows in ``NAME.partial``; if it holds any, it replaces ``NAME``, as that
    run would have on its way out."""
    partial = partial_path(out_path)
    if output_suffix(out_path) not in TEXT_SUFFIXES or not partial.is_file():
        return
    drop_unterminated_tail(partial)
    if next(read_rows(partial), None) is not None:
        replace_durably(partial, out_path)


@dataclass(frozen=True)
class ResumeState:
    """Where ``--resume`` takes a run up.

    Attributes:
        todo: the inputs to judge: those without a row in the output, and those whose row is a failure.
        retry: the :func:`path_key` s of the failures tried again (their rows give way to the new ones).
        summary: the rows that stay, counted (the run's summary covers the whole output).
    """

    todo: list[Path]
    retry: frozenset[str]
    summary: Summary


def resume_state(out_path: Path, inputs: Sequence[Path]) -> ResumeState:
    """What is left to do of ``inputs`` given the results in ``out_path`` (see :class:`ResumeState`).

    Raises:
        MoodError: the output is not a readable results file.
    """
    adopt_unfinished_run(out_path)
    summary = Summary()
    wanted = {path_key(p) for p in inputs}
    done: set[str] = set()
    retry: set[str] = set()
    if out_path.exists() and out_path.stat().st_size > 0:
        for row in read_rows(out_path):
            key = path_key(input_name(row))
            if row.get("error") is not None and key in wanted:
                retry.add(key)
            else:
                done.add(key)
                summary.add_earlier(row)
    todo = [p for p in inputs if path_key(p) not in done]
    summary.n_skipped = len(inputs) - len(todo)
    return ResumeState(todo, frozenset(retry), summary)


# ---------------------------------------------------------------- the end of a run


@dataclass
class Summary:
    """What a run did, and what its output holds: moods counted, failures with their messages, speed.

    Attributes:
        moods: how many songs in the output came out with each mood (rows kept from an earlier
            run included: :meth:`add_earlier`).
        failures: the first ``SUMMARY_MAX_FAILURES`` failures in the output, ``(path, message)``.
        n_failed: all failures in the output.
        n_skipped: inputs skipped because the output already had them (``--resume``).
        n_done: inputs this run handled, failures included.
    """

    moods: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)
    n_failed: int = 0
    n_skipped: int = 0
    n_done: int = 0
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None

    def add(self, result: Result) -> None:
        """Count one result of this run."""
        self.n_done += 1
        self._count(result.path, result.mood, result.error)

    def add_earlier(self, row: Mapping[str, Any]) -> None:
        """Count a row an earlier run left in the output (a flat row, :func:`read_rows`)."""
        self._count(str(row["path"]), row.get("mood"), row.get("error"))

    def _count(self, path: str, mood: str | None, error: str | None) -> None:
        if error is not None:
            self.n_failed += 1
            if len(self.failures) < SUMMARY_MAX_FAILURES:
                self.failures.append((path, error))
        elif mood is not None:
            self.moods[mood] += 1

    def finish(self) -> None:
        """Stop the clock."""
        self.finished = time.perf_counter()

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
            lines += [f"  {printable(path)}: {message}" for path, message in self.failures]
            if self.n_failed > len(self.failures):
                lines.append(f"  ... and {self.n_failed - len(self.failures)} more (their rows hold the errors)")
        return "\n".join(lines)
