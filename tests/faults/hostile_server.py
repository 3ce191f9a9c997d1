"""Hostile HTTP servers on loopback: slow drips, silence, huge or lying bodies, bad redirects, gzip bombs.

Each server is a raw TCP listener on 127.0.0.1 (never another interface) that answers every
connection with one :data:`Behaviour`, after reading its request unless told not to. It is
bounded: it accepts at most ``max_connections``, stops by itself after ``lifetime_s`` and when
its ``with`` block ends, and every behaviour stops writing once the server stops.
``connections`` counts the TCP connections it accepted, so a test can assert that a client
never connected at all.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import TracebackType

Behaviour = Callable[[socket.socket, threading.Event], None]
"""Writes an answer on an accepted connection; must return soon after the event is set."""

_POLL_S = 0.05
_HANDSHAKE_S = 2.0


@cache
def self_signed_certificate() -> Path:
    """A self-signed key and certificate for localhost and 127.0.0.1, made (with the openssl
    command) once per test run in a temporary folder, for these servers only; no key is kept in
    the repository. Trust it as ``REQUESTS_CA_BUNDLE``."""
    pem = Path(tempfile.mkdtemp(prefix="mood-test-tls-")) / "localhost.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(pem), "-out", str(pem)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return pem


def _server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(self_signed_certificate())
    return context


class HostileServer:
    """A loopback listener answering each connection with ``behaviour``; use it as a context manager."""

    def __init__(
        self,
        behaviour: Behaviour,
        *,
        lifetime_s: float = 10.0,
        max_connections: int = 8,
        read_request: bool = True,
        tls: bool = False,
    ) -> None:
        self.behaviour = behaviour
        self.read_request = read_request
        self._tls = _server_context() if tls else None
        self.max_connections = max_connections
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(_POLL_S)
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._timer = threading.Timer(lifetime_s, self._stop.set)
        self._timer.daemon = True

    def url(self, path: str = "/", scheme: str | None = None) -> str:
        """The server's URL for ``path`` (https for a TLS server, unless ``scheme`` says otherwise)."""
        return f"{scheme or ('https' if self._tls else 'http')}://127.0.0.1:{self.port}{path}"

    @property
    def stopped(self) -> bool:
        """Whether the server has stopped (its lifetime is over or its block has ended)."""
        return self._stop.is_set()

    def __enter__(self) -> HostileServer:
        self._spawn(self._accept_loop)
        self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._timer.cancel()
        for thread in self._threads:
            thread.join(timeout=2.0)
        self._listener.close()

    def _spawn(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set() and self.connections < self.max_connections:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            self._spawn(lambda client=client: self._serve(client))  # type: ignore[misc]

    def _serve(self, client: socket.socket) -> None:
        with client:
            try:
                if self._tls is not None:
                    client.settimeout(_HANDSHAKE_S)
                    client = self._tls.wrap_socket(client, server_side=True)
                client.settimeout(_POLL_S)
                if self.read_request:
                    _read_request(client, self._stop)
                self.behaviour(client, self._stop)
            except OSError:
                pass  # the client hung up or cut the connection: that is what most tests want


def _read_request(client: socket.socket, stop: threading.Event) -> None:
    received = b""
    while b"\r\n\r\n" not in received and not stop.is_set():
        try:
            chunk = client.recv(4096)
        except TimeoutError:
            continue
        if not chunk:
            return
        received += chunk


def _head(status: str = "200 OK", headers: dict[str, str] | None = None) -> bytes:
    """A status line and headers; every answer is the last on its connection, and says so."""
    fields = {"Connection": "close", **(headers or {})}
    lines = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in fields.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _drip(client: socket.socket, data: bytes, interval_s: float, stop: threading.Event) -> None:
    for index in range(len(data)):
        if stop.wait(interval_s):
            return
        client.sendall(data[index : index + 1])


def answer(
    body: bytes, headers: dict[str, str] | None = None, status: str = "200 OK", *, declare: bool = True
) -> Behaviour:
    """An answer sent at once, with its Content-Length or (``declare=False``) ended by closing the connection."""
    length = {"Content-Length": str(len(body))} if declare else {}

    def behave(client: socket.socket, stop: threading.Event) -> None:
        client.sendall(_head(status, {**length, **(headers or {})}) + body)

    return behave


def raw(data: bytes) -> Behaviour:
    """Sends ``data`` as it is (not HTTP, a broken head, ...) and closes."""

    def behave(client: socket.socket, stop: threading.Event) -> None:
        client.sendall(data)

    return behave


def tls_drip(interval_s: float = 0.2) -> Behaviour:
    """Starts a TLS handshake record announcing 16 KB, then sends it one byte every ``interval_s``.

    Use it with ``read_request=False``: the client speaks first with its TLS hello, not HTTP.
    """

    def behave(client: socket.socket, stop: threading.Event) -> None:
        client.sendall(b"\x16\x03\x03\x3f\xff")  # handshake record, TLS 1.2, 16383 bytes to come
        _drip(client, bytes(0x3FFF), interval_s, stop)

    return behave


def never_answers() -> Behaviour:
    """Reads the request, then says nothing until the server stops."""

    def behave(client: socket.socket, stop: threading.Event) -> None:
        stop.wait()

    return behave


def slow_drip(interval_s: float = 0.2, declared_bytes: int = 1_000_000) -> Behaviour:
    """Sends the headers at once, then one byte of the body every ``interval_s``."""

    def behave(client: socket.socket, stop: threading.Event) -> None:
        client.sendall(_head(headers={"Content-Length": str(declared_bytes)}))
        _drip(client, bytes(declared_bytes), interval_s, stop)

    return behave


def slow_headers(interval_s: float = 0.2) -> Behaviour:
    """Sends its status line and headers one byte every ``interval_s`` (an endless header)."""

    def behave(client: socket.socket, stop: threading.Event) -> None:
        _drip(client, _head(headers={"X-Filler": "a" * 60_000}), interval_s, stop)

    return behave


def huge_body(n_bytes: int, *, declare: bool) -> Behaviour:
    """Sends ``n_bytes`` of zeros fast, with or without a Content-Length, then closes."""

    def behave(client: socket.socket, stop: threading.Event) -> None:
        declared = {"Content-Length": str(n_bytes)} if declare else {}
        client.sendall(_head(headers=declared))
        block = bytes(64 * 1024)
        for _ in range(0, n_bytes, len(block)):
            if stop.is_set():
                return
            client.sendall(block)

    return behave


def lying_length(declared_bytes: int, body: bytes) -> Behaviour:
    """Declares ``declared_bytes`` but sends ``body`` and closes."""

    def behave(client: socket.socket, stop: threading.Event) -> None:
        client.sendall(_head(headers={"Content-Length": str(declared_bytes)}) + body)

    return behave


def redirect(location: str, status: str = "302 Found") -> Behaviour:
    """Redirects to ``location`` (itself for a loop, a private address, ...)."""
    return answer(b"", headers={"Location": location}, status=status)


def gzip_bomb(n_bytes: int) -> Behaviour:
    """A gzip body (Content-Encoding: gzip) that inflates to ``n_bytes`` zeros, about a thousand times its size."""
    return answer(gzip.compress(bytes(n_bytes), compresslevel=9), headers={"Content-Encoding": "gzip"})


def hang_up() -> Behaviour:
    """Closes the connection at once."""

    def behave(client: socket.socket, stop: threading.Event) -> None:
        return None

    return behave


def listener() -> HostileServer:
    """A server that only counts connections, hanging up on each before reading anything (TLS included)."""
    return HostileServer(hang_up(), read_request=False, max_connections=100)
