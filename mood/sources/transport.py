"""Connections a wall-clock deadline can cut, so that no server holds an exchange for longer.

A read timeout only bounds the wait for the *next* byte: a server that sends one byte every few
seconds holds a connection for hours. Inside ``with deadline(seconds):``, every connection the
thread uses through a session passed to :func:`guard` is shut down when the time is up, whatever
it is doing (TLS handshake, waiting for headers, reading the body), and the blocked read fails at
once. The TCP connect itself is bounded by the connect timeout, which callers cap to the time left.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from time import monotonic
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager, ProxyManager

_active = threading.local()


class Deadline:
    """A wall-clock limit on one exchange; the connections it watches are cut when it passes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = monotonic() + seconds
        self._lock = threading.Lock()
        self._watched: list[_WatchedHTTPConnection] = []
        self._passed = False
        self._ended = False

    @property
    def passed(self) -> bool:
        """Whether the time is up (the watched connections have then been cut)."""
        return self._passed or monotonic() >= self._ends

    def left(self) -> float:
        """Seconds left, never below zero."""
        return max(0.0, self._ends - monotonic())

    def watch(self, connection: _WatchedHTTPConnection) -> None:
        """Cut ``connection`` when the time is up (at once if it already is)."""
        with self._lock:
            if self._ended:
                return
            if connection not in self._watched:
                self._watched.append(connection)
            passed = self._passed
        if passed:
            _cut(connection)

    def expire(self) -> None:
        """The time is up: cut every watched connection (nothing, once the exchange has ended)."""
        with self._lock:
            if self._ended:
                return
            self._passed = True
            watched = list(self._watched)
        for connection in watched:
            _cut(connection)

    def end(self) -> None:
        """The exchange is over: stop watching, so a pooled connection is never cut later."""
        with self._lock:
            self._ended = True
            self._watched.clear()


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Cut the connections this thread uses within the block once ``seconds`` have passed.

    Deadlines nest: a connection is cut by whichever of the deadlines around it passes first.
    """
    limit = Deadline(seconds)
    timer = threading.Timer(seconds, limit.expire)
    timer.daemon = True
    active = _deadlines()
    active.append(limit)
    timer.start()
    try:
        yield limit
    finally:
        timer.cancel()
        limit.end()
        active.remove(limit)


def guard(session: requests.Session) -> None:
    """Make ``session`` send through connections that :func:`deadline` can cut (idempotent)."""
    for prefix in ("https://", "http://"):
        if not isinstance(session.adapters.get(prefix), DeadlineAdapter):
            session.mount(prefix, DeadlineAdapter())


def _cut(connection: _WatchedHTTPConnection) -> None:
    # http.client drops ``sock`` once a "Connection: close" answer's headers are read; the body still
    # flows through the socket the watched connection remembers.
    for sock in (connection.sock, connection.exchange_socket):
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes a read blocked in another thread, unlike close()


def _deadlines() -> list[Deadline]:
    """The deadlines active in this thread, outermost first."""
    if not hasattr(_active, "deadlines"):
        _active.deadlines = []
    active: list[Deadline] = _active.deadlines
    return active


def _enlist(connection: _WatchedHTTPConnection) -> None:
    for limit in _deadlines():
        limit.watch(connection)


class _WatchedHTTPConnection(HTTPConnection):
    """A connection that puts itself under the thread's deadline when it connects or sends a request."""

    exchange_socket: socket.socket | None = None  # the socket of the last request, kept for its whole answer

    def connect(self) -> None:
        _enlist(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _enlist(self)
        super().request(*args, **kwargs)
        self.exchange_socket = self.sock


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """The https form: enlisted before the TLS handshake, which a server can drip too."""


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS: dict[str, type[HTTPConnectionPool]] = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' transport, with connections (direct or through a proxy) that a deadline can cut."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Set up the pool manager as requests does, with pools of watched connections."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        """The proxy's manager as requests makes it, with pools of watched connections."""
        manager: PoolManager | ProxyManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager
