"""A small FHIR test server: a real HTTP server on 127.0.0.1 in a background thread.

It answers canned JSON per path and query (``/Observation?patient=…``), records every request it
received (with its ``Authorization`` header, never printed), and can delay an answer, answer with
any status (404, 500, …), or serve a paginated searchset Bundle whose ``next`` link points back at
itself. An answer may also be raw bytes (oversized, gzip-encoded…), framed by its
``Content-Length`` (true or a lie), chunked, or ended by closing the connection, and may stall
after its first 64 KB; the bytes written for each target are counted. Unknown paths get a 404
OperationOutcome. Use it as a context manager::

    with FhirServer() as fhir:
        fhir.route("Patient/pat-1", patient())
        ...  # configure the client with fhir_servers=[fhir.base]
        assert fhir.paths() == ["Patient/pat-1"]
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import unquote

CHUNK = 65536
Framing = Literal["length", "chunked", "close"]


@dataclass(frozen=True)
class Answer:
    """A canned answer: JSON body (or ``raw`` bytes), status, and a delay before answering.

    ``framing``: ``length`` sends ``Content-Length`` (``declared`` if given, a lie, else the true
    size); ``chunked`` sends ``Transfer-Encoding: chunked``; ``close`` sends neither and ends the
    body by closing the connection. ``encoding`` is sent as ``Content-Encoding``; ``stall_s`` is a
    pause after the first 64 KB of the body.
    """

    body: Any
    status: int = 200
    delay_s: float = 0.0
    raw: bytes | None = None
    framing: Framing = "length"
    declared: int | None = None
    encoding: str | None = None
    stall_s: float = 0.0


@dataclass(frozen=True)
class Seen:
    """A request the server received (``target`` is the decoded path and query, no leading /)."""

    method: str
    target: str
    authorization: str | None
    accept: str | None


def _not_found(target: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "not-found", "diagnostics": f"no {target}"}],
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # every key is fetched at once: no SYN retries on a full backlog


class FhirServer:
    """A FHIR server serving canned answers on ``base`` (``http://127.0.0.1:<port>/fhir``)."""

    def __init__(self, prefix: str = "/fhir") -> None:
        self.prefix = prefix.rstrip("/")
        self._answers: dict[str, Answer] = {}
        self._seen: list[Seen] = []
        self._written: dict[str, int] = {}
        self._pages = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base(self) -> str:
        """The FHIR base URL (no trailing slash)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.prefix}"

    # --- configuration ---------------------------------------------------------------------

    def route(
        self,
        target: str,
        body: Any = None,
        *,
        status: int = 200,
        delay_s: float = 0.0,
        raw: bytes | None = None,
        framing: Framing = "length",
        declared: int | None = None,
        encoding: str | None = None,
        stall_s: float = 0.0,
    ) -> None:
        """Answer ``GET {base}/{target}`` (path and query, decoded) with ``body`` (or ``raw``)."""
        answer = Answer(body, status, delay_s, raw, framing, declared, encoding, stall_s)
        with self._lock:
            self._answers[target.lstrip("/")] = answer

    def paged(self, target: str, pages: list[list[dict[str, Any]]]) -> list[str]:
        """Serve ``target`` as a searchset Bundle in ``pages``, each linking to the next; return
        the targets of the later pages (``_page/<n>``)."""
        with self._lock:
            first = self._pages
            self._pages += len(pages) - 1
        later = [f"_page/{first + i}" for i in range(1, len(pages))]
        targets = [target, *later]
        for i, resources in enumerate(pages):
            bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
            if resources:
                bundle["entry"] = [{"resource": r} for r in resources]
            if i + 1 < len(pages):
                bundle["link"] = [{"relation": "next", "url": f"{self.base}/{targets[i + 1]}"}]
            self.route(targets[i], bundle)
        return later

    # --- what was received -----------------------------------------------------------------

    @property
    def seen(self) -> list[Seen]:
        """Every request received, in order."""
        with self._lock:
            return list(self._seen)

    def paths(self) -> list[str]:
        """The decoded targets of every request received, in order."""
        return [s.target for s in self.seen]

    def written(self, target: str) -> int:
        """How many body bytes were written for ``target`` (all requests; the peer may have
        closed the connection before reading them)."""
        with self._lock:
            return self._written.get(target.lstrip("/"), 0)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> FhirServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed answers still waiting are released at once."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FhirServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- the handler -----------------------------------------------------------------------

    def _answer_for(self, method: str, raw: str, headers: Any) -> tuple[str, Answer]:
        path = unquote(raw)
        target = path[len(self.prefix) :] if path.startswith(self.prefix + "/") else path
        target = target.lstrip("/")
        with self._lock:
            self._seen.append(
                Seen(method, target, headers.get("Authorization"), headers.get("Accept"))
            )
            found = self._answers.get(target)
        return target, found or Answer(_not_found(target), 404)

    def _count(self, target: str, size: int) -> None:
        with self._lock:
            self._written[target] = self._written.get(target, 0) + size

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the http.server naming
                target, answer = server._answer_for("GET", self.path, self.headers)
                if answer.delay_s and server._stopping.wait(answer.delay_s):
                    return
                payload = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
                chunked = answer.framing == "chunked"
                try:
                    if chunked:
                        self.protocol_version = "HTTP/1.1"  # chunked needs it; closed after
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/fhir+json")
                    if answer.encoding:
                        self.send_header("Content-Encoding", answer.encoding)
                    if answer.framing == "length":
                        size = len(payload) if answer.declared is None else answer.declared
                        self.send_header("Content-Length", str(size))
                    if chunked:
                        self.send_header("Transfer-Encoding", "chunked")
                        self.send_header("Connection", "close")
                    self.end_headers()
                    for i in range(0, len(payload), CHUNK):
                        piece = payload[i : i + CHUNK]
                        if chunked:
                            piece = b"%x\r\n%s\r\n" % (len(piece), piece)
                        self.wfile.write(piece)
                        server._count(target, min(CHUNK, len(payload) - i))
                        if i == 0 and answer.stall_s and server._stopping.wait(answer.stall_s):
                            return
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    return  # the caller gave up (a timeout, a limit): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002
                return  # quiet: requests are recorded, never printed

        return Handler
