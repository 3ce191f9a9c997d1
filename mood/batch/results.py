"""One input's outcome (:class:`Result`: the JSON object of docs/DESIGN.md) and its flat row, and how
any file name is written in them: ``path`` is valid text, ``path_bytes`` the exact bytes of a name
that is not UTF-8."""

from __future__ import annotations

import dataclasses
import json
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mood.constants import MOODS
from mood.engine.descriptors import Descriptors

if TYPE_CHECKING:
    from mood.engine.inference import Prediction

NAME_SAFE_BYTES = "/ "  # kept as they are in path_bytes, beside the unreserved characters
# The flat columns of the CSV and Parquet outputs, in order.
DESCRIPTOR_COLUMNS = tuple(f.name for f in dataclasses.fields(Descriptors))
COLUMNS = (
    "path", "path_bytes", "model", "mood", *MOODS, "valence", "arousal", "duration_s", "truncated",
    "distance_from_training", "unfamiliar", *DESCRIPTOR_COLUMNS, "error",
)  # fmt: skip
FLOAT_COLUMNS = frozenset(
    (
        *MOODS, "valence", "arousal", "duration_s", "distance_from_training",
        *(c for c in DESCRIPTOR_COLUMNS if c not in ("key", "mode")),
    )
)  # fmt: skip
BOOL_COLUMNS = frozenset({"truncated", "unfamiliar"})


@dataclass(frozen=True)
class Result:
    """One input's outcome, as docs/DESIGN.md's CLI prints it.

    Attributes:
        path: the input as given (a file found in a folder: its path under that folder), as
            valid text (:func:`readable`).
        record: the JSON object, ``path`` (and ``path_bytes``: :func:`name_fields`) included:
            a prediction's fields, or ``error``.
    """

    path: str
    record: dict[str, Any]

    @classmethod
    def of(cls, path: str, prediction: Prediction, descriptors: Descriptors | None) -> Result:
        """The result of a judged file: the prediction's fields and the song's musical descriptors
        (no ``descriptors`` field when the run measured none)."""
        names = name_fields(path)
        described = {} if descriptors is None else {"descriptors": descriptors.to_dict()}
        return cls(names["path"], {**names, **prediction.to_dict(), **described})

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

    @property
    def unfamiliar(self) -> bool:
        """Whether the song is unlike the training music (False when not measured, or a failure)."""
        return bool(self.record.get("unfamiliar"))

    def to_json(self) -> str:
        """One JSON line (no newline), floats written exactly."""
        return json.dumps(self.record)


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


def flat_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A result's CSV/Parquet columns (:data:`COLUMNS`); a failure has only path and error."""
    probabilities = record.get("probabilities") or {}
    descriptors = record.get("descriptors") or {}
    row: dict[str, Any] = {column: record.get(column) for column in COLUMNS}
    row.update({mood: probabilities.get(mood) for mood in MOODS})
    row.update({column: descriptors.get(column) for column in DESCRIPTOR_COLUMNS})
    return row
