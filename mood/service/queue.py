"""One analysis at a time per core: listeners who arrive while the cores are busy wait their
turn in arrival order (and can be told how many are ahead) instead of slowing everyone down."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

ANALYSIS_SLOTS: Final = max(1, min(2, os.cpu_count() or 1))  # analyses that run at once
WAIT_POLL_S: Final = 0.5  # how often a waiting listener hears how many are ahead


class AnalysisQueue:
    """A first-come, first-served gate with ``slots`` places.

    Args:
        slots: how many holders may run at once.
    """

    def __init__(self, slots: int = ANALYSIS_SLOTS) -> None:
        self.slots = slots
        self._tickets = itertools.count()
        self._waiting: list[int] = []
        self._running = 0
        self._changed = threading.Condition()

    def _ahead(self, ticket: int) -> int:
        """How many holders run or wait before ``ticket`` gets its turn (0: it runs now)."""
        queued_before = sum(1 for t in self._waiting if t < ticket)
        return max(0, queued_before + self._running - self.slots + 1)

    @contextmanager
    def turn(self, on_wait: Callable[[int], None] | None = None) -> Iterator[None]:
        """Wait for a place, then hold it for the ``with`` block.

        Args:
            on_wait: called (from this thread) with the number ahead, whenever it is known
                to have changed while waiting. Whatever it (or anything else) raises while this
                thread waits, the thread's place leaves the queue before the error goes on, so a
                listener who leaves never holds up the ones behind.
        """
        with self._changed:
            ticket = next(self._tickets)
            self._waiting.append(ticket)
            try:
                self._wait_for_turn(ticket, on_wait)
            except BaseException:  # the listener left (Streamlit raises in its thread) or the thread died
                self._waiting.remove(ticket)
                self._changed.notify_all()
                raise
            self._waiting.remove(ticket)
            self._running += 1
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                self._changed.notify_all()

    def _wait_for_turn(self, ticket: int, on_wait: Callable[[int], None] | None) -> None:
        """Block (holding the condition's lock between waits) until ``ticket`` heads the queue and a
        place is free; ``on_wait`` hears each new number ahead, called with the lock released."""
        last_told = -1
        while self._running >= self.slots or self._waiting[0] != ticket:
            ahead = self._ahead(ticket)
            if on_wait is not None and ahead != last_told:
                last_told = ahead
                self._changed.release()
                try:
                    on_wait(ahead)
                finally:
                    self._changed.acquire()
                continue
            self._changed.wait(WAIT_POLL_S)

    @property
    def busy(self) -> int:
        """Holders running now plus those waiting."""
        with self._changed:
            return self._running + len(self._waiting)
