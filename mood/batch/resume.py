"""``--resume``: which inputs an output already holds, which of them failed (to be tried again), and
the rows of a run that was cut short."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mood.batch.results import input_name, path_key
from mood.batch.sinks import (
    TEXT_SUFFIXES,
    drop_unterminated_tail,
    output_suffix,
    partial_path,
    read_rows,
    replace_durably,
)
from mood.batch.summary import Summary


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
