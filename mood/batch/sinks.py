"""The result files (JSON lines, CSV, Parquet): written as results come and read back.

A write that fails (a full disk, a folder turned read-only) never costs the results the file held
before: rows are written whole, aside until a fresh run ends, and a torn row is cut away
(docs/DESIGN.md, "Result files")."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from mood.batch.results import BOOL_COLUMNS, COLUMNS, FLOAT_COLUMNS, Result, flat_row, input_name, path_key
from mood.constants import MOODS
from mood.errors import MoodError

PARQUET_ROW_GROUP = 1000  # rows buffered before a Parquet row group is written
COPY_CHUNK_BYTES = 1 << 16  # read size when searching a file backwards for its last newline
PARTIAL_SUFFIX = ".partial"  # NAME.partial: a run's rows before they replace NAME
REWRITE_SUFFIX = ".rewrite"  # NAME.rewrite: NAME written again before --resume appends (never taken up)
FILE_MODE = 0o666  # new output files: read-write for all, less the umask (as open() does)
SUFFIXES = (".jsonl", ".csv", ".parquet")


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
