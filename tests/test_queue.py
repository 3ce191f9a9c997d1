"""The analysis queue: at most N at once, first come first served, waiting listeners told their place."""

from __future__ import annotations

import threading
import time

from mood.service.queue import AnalysisQueue


def test_at_most_the_slots_run_at_once_and_in_arrival_order() -> None:
    queue = AnalysisQueue(slots=2)
    running, most, order = 0, 0, []
    lock = threading.Lock()
    started: list[threading.Event] = [threading.Event() for _ in range(6)]

    def work(i: int) -> None:
        nonlocal running, most
        started[i].set()
        with queue.turn():
            with lock:
                running += 1
                most = max(most, running)
                order.append(i)
            time.sleep(0.05)
            with lock:
                running -= 1

    threads = []
    for i in range(6):  # start them one after the other, so arrival order is known
        threads.append(threading.Thread(target=work, args=(i,)))
        threads[-1].start()
        started[i].wait()
        time.sleep(0.005)
    for t in threads:
        t.join(timeout=10)
    assert most == 2
    assert order == list(range(6))
    assert queue.busy == 0


def test_a_waiting_listener_hears_how_many_are_ahead() -> None:
    queue = AnalysisQueue(slots=1)
    release = threading.Event()
    holding = threading.Event()

    def hold() -> None:
        with queue.turn():
            holding.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    heard: list[int] = []
    waiter = threading.Thread(target=lambda: queue.turn(heard.append).__enter__())
    waiter.start()
    deadline = time.monotonic() + 5
    while not heard and time.monotonic() < deadline:
        time.sleep(0.01)
    assert heard == [1] and queue.busy == 2
    release.set()
    holder.join(5)
    waiter.join(5)
    assert not waiter.is_alive()


def test_an_error_inside_frees_the_place() -> None:
    queue = AnalysisQueue(slots=1)
    try:
        with queue.turn():
            raise RuntimeError("decode failed")
    except RuntimeError:
        pass
    with queue.turn():
        assert queue.busy == 1
