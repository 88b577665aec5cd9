"""A small FHIR test server: a real HTTP server on 127.0.0.1 in a background thread.

It answers canned JSON per path and query (``/Observation?patient=…``), records every request it
received (with its ``Authorization`` header, never printed), and can delay an answer, answer with
any status (404, 500, …), or serve a paginated searchset Bundle whose ``next`` link points back at
itself. Unknown paths get a 404 OperationOutcome. Use it as a context manager::

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
from typing import Any
from urllib.parse import unquote


@dataclass(frozen=True)
class Answer:
    """A canned answer: JSON body, status, and a delay before answering."""

    body: Any
    status: int = 200
    delay_s: float = 0.0


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

    def route(self, target: str, body: Any, *, status: int = 200, delay_s: float = 0.0) -> None:
        """Answer ``GET {base}/{target}`` (path and query, decoded) with ``body``."""
        with self._lock:
            self._answers[target.lstrip("/")] = Answer(body, status, delay_s)

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

    def _answer_for(self, method: str, raw: str, headers: Any) -> Answer:
        path = unquote(raw)
        target = path[len(self.prefix) :] if path.startswith(self.prefix + "/") else path
        target = target.lstrip("/")
        with self._lock:
            self._seen.append(
                Seen(method, target, headers.get("Authorization"), headers.get("Accept"))
            )
            found = self._answers.get(target)
        return found or Answer(_not_found(target), 404)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the http.server naming
                answer = server._answer_for("GET", self.path, self.headers)
                if answer.delay_s and server._stopping.wait(answer.delay_s):
                    return
                payload = json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/fhir+json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the caller gave up (a timeout): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002
                return  # quiet: requests are recorded, never printed

        return Handler
