"""Spacing out requests to a service, for the whole server: one :class:`Pacer` shared by every
listener keeps the app within a service's rate limit (Deezer's, for preview downloads)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

# Deezer allows 50 requests per 5 s from one address. One preview fetch makes at most 4 Deezer
# requests (the track lookup, a search when the lookup has no preview, and a second lookup and
# download when a signed link has expired), so starting one every 0.4 s stays within 10 a second.
PREVIEW_INTERVAL_S: Final = 0.4

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Pacer:
    """Spaces out events: each :meth:`wait` returns at least ``interval_s`` after the previous one.

    Thread-safe and first come, first served, so one pacer shared by every listener of a server
    keeps the whole server within a service's rate limit.

    Args:
        interval_s: the least time between two events, in seconds.
        clock: a monotonic clock in seconds (tests pass a fake one).
        sleep: how to wait (tests pass a fake one).
    """

    def __init__(
        self, interval_s: float = PREVIEW_INTERVAL_S, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ):
        self.interval_s = interval_s
        self._clock = clock
        self._sleep = sleep
        self._next_s = float("-inf")
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Wait for this caller's slot; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_s)
            self._next_s = start + self.interval_s
        delay = start - now
        if delay > 0:
            self._sleep(delay)
        return delay
