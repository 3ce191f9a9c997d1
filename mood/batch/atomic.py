"""Replace a file all at once: the new version is written to a copy beside it and renamed
over it (``os.replace``), so a reader, a crash or Ctrl-C only ever sees the old file or the
new one, never half of it.

The copy is ``.NAME.mood-tmp.EXT`` in the same folder (a rename is atomic only within one
file system). A run killed outright (``kill -9``, power cut) can leave that copy behind, never
a damaged original; the next write of the same file removes it first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from mood.errors import MoodError

TEMP_MARK: Final = "mood-tmp"  # in the name of every copy this module writes


def temp_beside(path: Path) -> Path:
    """Where the new version of ``path`` is written before it replaces ``path``; the suffix is
    kept, so tools that go by it (mutagen among them) see the same kind of file."""
    return path.with_name(f".{path.stem}.{TEMP_MARK}{path.suffix}")


@contextlib.contextmanager
def replace_atomically(path: Path, *, start_from_original: bool = False) -> Iterator[Path]:
    """Yield a path to write the new version of ``path`` to; when the block ends without an
    exception, that file is flushed to disk and renamed over ``path``. Otherwise it is deleted
    and ``path`` is left exactly as it was.

    Args:
        path: the file to replace (need not exist unless ``start_from_original``).
        start_from_original: start from a copy of ``path`` (its bytes, permissions, times and,
            where allowed, owner) to edit in place; else from no file at all.

    Raises:
        MoodError: ``path`` changed on disk while its copy was being edited (another program
            wrote it); nothing was replaced.
    """
    temp = temp_beside(path)
    temp.unlink(missing_ok=True)  # a copy a killed run left behind
    try:
        before = _copy_original(path, temp) if start_from_original else None
        yield temp
        if before is not None and _identity(path) != before:
            raise MoodError(f"{path} changed while mood was writing it; nothing was replaced. Run again.")
        _fsync(temp)
        os.replace(temp, path)
        _fsync(path.parent)
    finally:
        temp.unlink(missing_ok=True)


def _copy_original(path: Path, temp: Path) -> tuple[int, int, int]:
    """Copy ``path`` to ``temp`` with its metadata; returns what :func:`_identity` said of it."""
    before = _identity(path)
    shutil.copy2(path, temp)
    status = path.stat()
    with contextlib.suppress(OSError):  # only root may give a file to someone else
        os.chown(temp, status.st_uid, status.st_gid)
    return before


def _identity(path: Path) -> tuple[int, int, int]:
    """What changes when a program writes the file: size, modification time, inode."""
    status = path.stat()
    return status.st_size, status.st_mtime_ns, status.st_ino


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's) data to disk, so the rename never points at unwritten data."""
    flags = (os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)) if path.is_dir() else os.O_RDONLY
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
