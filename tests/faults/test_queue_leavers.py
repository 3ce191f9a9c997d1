"""Listeners who leave the analysis queue at every point never block the ones after them.

In the app ``on_wait`` updates a status widget, and Streamlit raises in the listener's thread
(StopException / RerunException) when that listener clicks or closes the tab while waiting.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable

import pytest

from mood.service.queue import AnalysisQueue

WAIT_S = 5.0  # the longest any step here may take before the test calls it stuck


class ListenerLeft(Exception):
    """Stands in for Streamlit's StopException / RerunException."""


def _hold(queue: AnalysisQueue) -> tuple[threading.Event, threading.Thread]:
    """A holder that keeps the queue's only slot until the returned event is set."""
    release, holding = threading.Event(), threading.Event()

    def hold() -> None:
        with queue.turn():
            holding.set()
            release.wait(WAIT_S)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert holding.wait(WAIT_S)
    return release, holder


def _wait_until(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _serves_next_listener(queue: AnalysisQueue) -> bool:
    """Whether a newcomer gets a turn (in a thread, so a stuck queue cannot hang the test)."""
    served = threading.Event()

    def newcomer() -> None:
        with queue.turn():
            served.set()

    threading.Thread(target=newcomer, daemon=True).start()
    return served.wait(WAIT_S)


def test_a_listener_who_leaves_while_told_their_place_frees_the_queue() -> None:
    queue = AnalysisQueue(slots=1)
    release, holder = _hold(queue)
    left = threading.Event()

    def on_wait(_ahead: int) -> None:
        raise ListenerLeft

    def leaver() -> None:
        try:
            with queue.turn(on_wait=on_wait):
                pass
        except ListenerLeft:
            left.set()

    threading.Thread(target=leaver, daemon=True).start()
    assert left.wait(WAIT_S)
    assert queue.busy == 1  # only the holder is left
    release.set()
    holder.join(WAIT_S)
    assert _wait_until(lambda: queue.busy == 0)
    assert _serves_next_listener(queue)


def _raise_in(thread: threading.Thread, kind: type[BaseException]) -> None:
    """Raise ``kind`` inside ``thread`` at its next bytecode, as a dying thread would see it."""
    assert thread.ident is not None
    n = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(kind))
    assert n == 1


@pytest.mark.parametrize("kind", [ListenerLeft, SystemExit, KeyboardInterrupt])
def test_a_thread_that_dies_while_queued_leaves_no_ticket(kind: type[BaseException]) -> None:
    queue = AnalysisQueue(slots=1)
    release, holder = _hold(queue)
    queued = threading.Event()
    died = threading.Event()

    def waiter() -> None:
        try:
            with queue.turn(on_wait=lambda _ahead: queued.set()):
                pass
        except BaseException:
            died.set()

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    assert queued.wait(WAIT_S)
    _raise_in(thread, kind)  # lands while it waits on the queue's condition
    assert died.wait(WAIT_S)
    thread.join(WAIT_S)
    assert queue.busy == 1  # only the holder is left
    release.set()
    holder.join(WAIT_S)
    assert _wait_until(lambda: queue.busy == 0)
    assert _serves_next_listener(queue)


def test_many_listeners_leaving_at_random_points_leave_an_empty_queue() -> None:
    queue = AnalysisQueue(slots=2)
    rounds = 40
    finished = threading.Barrier(rounds + 1, timeout=WAIT_S * 4)

    def listener(i: int) -> None:
        def on_wait(_ahead: int) -> None:
            if i % 3 == 0:
                raise ListenerLeft

        try:
            with queue.turn(on_wait=on_wait):
                if i % 3 == 1:
                    raise ListenerLeft  # leaves while being analysed
                time.sleep(0.002)
        except ListenerLeft:
            pass
        finished.wait()

    for i in range(rounds):
        threading.Thread(target=listener, args=(i,), daemon=True).start()
    finished.wait()
    assert queue.busy == 0
    assert _serves_next_listener(queue)
