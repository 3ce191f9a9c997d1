"""The end of a run: moods counted, failures listed, speed."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mood.batch.results import Result, printable
from mood.constants import MOODS

SUMMARY_MAX_FAILURES = 50  # failures listed by name in the summary; the rest are counted


@dataclass
class Summary:
    """What a run did, and what its output holds: moods counted, failures with their messages, speed.

    Attributes:
        moods: how many songs in the output came out with each mood (rows kept from an earlier
            run included: :meth:`add_earlier`).
        n_unfamiliar: how many of them are unlike the music the models learnt from (their
            answers softer: :attr:`mood.engine.inference.Prediction.unfamiliar`).
        failures: the first ``SUMMARY_MAX_FAILURES`` failures in the output, ``(path, message)``.
        n_failed: all failures in the output.
        n_skipped: inputs skipped because the output already had them (``--resume``).
        n_done: inputs this run handled, failures included.
    """

    moods: Counter[str] = field(default_factory=Counter)
    n_unfamiliar: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    n_failed: int = 0
    n_skipped: int = 0
    n_done: int = 0
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None

    def add(self, result: Result) -> None:
        """Count one result of this run."""
        self.n_done += 1
        self._count(result.path, result.mood, result.error, result.unfamiliar)

    def add_earlier(self, row: Mapping[str, Any]) -> None:
        """Count a row an earlier run left in the output (a flat row, :func:`read_rows`)."""
        self._count(str(row["path"]), row.get("mood"), row.get("error"), bool(row.get("unfamiliar")))

    def _count(self, path: str, mood: str | None, error: str | None, unfamiliar: bool) -> None:
        if error is not None:
            self.n_failed += 1
            if len(self.failures) < SUMMARY_MAX_FAILURES:
                self.failures.append((path, error))
        elif mood is not None:
            self.moods[mood] += 1
            self.n_unfamiliar += unfamiliar

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
        if self.n_unfamiliar:
            lines.append(f"{self.n_unfamiliar} of them unlike the music the models learnt from (their moods less sure)")
        if self.failures:
            lines.append("failed:")
            lines += [f"  {printable(path)}: {message}" for path, message in self.failures]
            if self.n_failed > len(self.failures):
                lines.append(f"  ... and {self.n_failed - len(self.failures)} more (their rows hold the errors)")
        return "\n".join(lines)
