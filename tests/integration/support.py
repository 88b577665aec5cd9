"""Helpers of the integration tests: free ports, a plain HTTP client with timeouts, a TCP proxy
that can cut the database off, and the real app served by uvicorn in a thread."""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI

PROBLEM_JSON = "application/problem+json"


def free_port() -> int:
    """A TCP port nobody listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Answer:
    """A response read in full, and how long it took."""

    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def is_problem(self) -> bool:
        kind = self.headers.get("content-type", "").split(";")[0].strip()
        if kind != PROBLEM_JSON:
            return False
        body = self.json()
        return isinstance(body, dict) and body.get("status") == self.status


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    timeout: float = 10.0,
    conn: http.client.HTTPConnection | None = None,
) -> Answer:
    """One request (on ``conn`` if given, else a new connection). Raises ``OSError`` or
    ``http.client.HTTPException`` when there is no answer (``TimeoutError`` after ``timeout``)."""
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    try:
        sent = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body)
            sent.setdefault("Content-Type", "application/json")
        c.request(method, path, body=data, headers=sent)
        r = c.getresponse()
        payload = r.read()
        return Answer(
            r.status,
            {k.lower(): v for k, v in r.getheaders()},
            payload,
            time.monotonic() - started,
        )
    finally:
        if own:
            c.close()


class Proxy:
    """A TCP proxy ``127.0.0.1:<port>`` ↔ ``upstream`` that can fail the way networks do.

    - :meth:`on`: forwards (listening again if it was off);
    - :meth:`off`: closes every connection and stops listening (new ones are refused);
    - :meth:`hang`: keeps every connection open and accepts new ones, but forwards nothing
      (a database that hangs); :meth:`on` resumes forwarding with no byte lost.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._lock = threading.Lock()
        self._forwarding = threading.Event()
        self._forwarding.set()
        self._closed = threading.Event()
        self._listener: socket.socket | None = None
        self._listen_stop = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []

    # --- switches -------------------------------------------------------------------------

    def start(self) -> None:
        self._listen()

    def on(self) -> None:
        self._forwarding.set()
        if self._listener is None:
            self._listen()

    def off(self) -> None:
        self._stop_listening()
        self._close_all()
        self._forwarding.set()

    def hang(self) -> None:
        self._forwarding.clear()
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self._closed.set()
        self._forwarding.set()
        self._stop_listening()
        self._close_all()
        for t in self._threads:
            t.join(timeout=5)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._sockets) // 2

    # --- machinery ------------------------------------------------------------------------

    def _spawn(self, target: Any, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        self._threads = [x for x in self._threads if x.is_alive()]
        self._threads.append(t)
        t.start()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self._listen_stop = threading.Event()
        self._listener = listener
        self._spawn(self._accept, listener, self._listen_stop)

    def _stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            self._listen_stop.set()
            listener.close()

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            client.setblocking(True)
            upstream.settimeout(None)
            with self._lock:
                self._sockets |= {client, upstream}
            self._spawn(self._pump, client, upstream)
            self._spawn(self._pump, upstream, client)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not self._closed.is_set():
                if not self._forwarding.wait(0.05):
                    continue  # hanging: leave the bytes where they are
                readable, _, _ = select.select([src], [], [], 0.05)
                if not readable:
                    continue
                if not self._forwarding.is_set():
                    continue
                data = src.recv(65536)
                if not data:
                    with suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
        except (OSError, ValueError):
            return  # closed under us (off, or the peer went away)


@contextmanager
def serve(app: FastAPI) -> Iterator[int]:
    """Serve ``app`` with uvicorn in a thread (lifespan included); yield its port."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        ws="none",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        if thread.is_alive():
            raise AssertionError("uvicorn did not stop in 20 s")
