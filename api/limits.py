"""Limits on request headers, enforced before anything decodes them.

Two layers, both on sizes only (nothing is decoded, compared or logged):

* :class:`HeadLimitedHttpTools`, the uvicorn HTTP protocol ``python -m api`` serves with, counts
  the bytes of a request head as they arrive and closes the connection with a bare ``431`` once
  the head (request line and headers) is over ``ISOCDS_MAX_HEADER_BYTES`` plus
  :data:`REQUEST_LINE_BYTES`: a 50 MB header is cut after a few tens of kilobytes instead of being
  buffered (httptools buffers a header value whole, growing it chunk by chunk).
* :class:`HeaderGuard`, a pure ASGI middleware (inside the request log only, which reads no
  header), answers 431 when ``Authorization`` or ``X-API-Key`` is over
  :data:`MAX_CREDENTIAL_BYTES` or all headers together are over ``ISOCDS_MAX_HEADER_BYTES``: the
  limit holds under any server, and the refusal carries the request ID.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from api.cds.outcome import is_cds, outcome
from api.problems import PROBLEM_JSON, problem_body

logger = logging.getLogger(__name__)

MAX_CREDENTIAL_BYTES = 8192
"""``Authorization`` and ``X-API-Key`` values above this are refused (a CDS Hooks JWT is ~1 KB)."""
CREDENTIAL_HEADERS = frozenset({b"authorization", b"x-api-key"})
REQUEST_LINE_BYTES = 8192
"""Allowance for the request line on top of ``ISOCDS_MAX_HEADER_BYTES`` (the server's limit)."""
HEADER_OVERHEAD = 4  # ": " and CRLF of each header line, so that sizes match the wire

SLUG = "header-fields-too-large"
TITLE = "Request header fields too large"
DETAIL = "a request header, or the request headers together, are too large"


def header_bytes(headers: list[tuple[bytes, bytes]]) -> int:
    """The size of ``headers`` as sent: names, values, separators and line ends."""
    return sum(len(name) + len(value) + HEADER_OVERHEAD for name, value in headers)


def head_limit(max_header_bytes: int) -> int:
    """The server's limit on a whole request head (request line and headers)."""
    return max_header_bytes + REQUEST_LINE_BYTES


def server_options(max_header_bytes: int) -> dict[str, Any]:
    """The ``uvicorn.Config`` options that bound request heads at the HTTP layer.

    The httptools protocol below is used (httptools is a dependency); the h11 limit is set to the
    same value for anyone running the app with ``--http h11``.
    """
    limit = head_limit(max_header_bytes)
    return {"http": HeadLimitedHttpTools, "h11_max_incomplete_event_size": limit}


class HeaderGuard:
    """Refuse oversized credentials or headers with 431, looking at ``scope["headers"]`` sizes only.

    ``/v1`` and the service routes get a problem (``urn:isocds:problem:header-fields-too-large``),
    ``/cds-services`` an OperationOutcome (``too-long``); neither echoes the request.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_header_bytes: int,
        max_credential_bytes: int = MAX_CREDENTIAL_BYTES,
    ) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.max_credential_bytes = max_credential_bytes

    def _too_large(self, headers: list[tuple[bytes, bytes]]) -> bool:
        total = 0
        for name, value in headers:
            size = len(value)
            if size > self.max_credential_bytes and name in CREDENTIAL_HEADERS:
                return True
            total += len(name) + size + HEADER_OVERHEAD
        return total > self.max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self._too_large(scope["headers"]):
            await self.app(scope, receive, send)
            return
        logger.warning(
            "request headers too large: refused",
            extra={"header_bytes": header_bytes(scope["headers"]), "limit": self.max_header_bytes},
        )
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1009})
            return
        start, body = refusal(scope["path"])
        await send(start)
        await send({"type": "http.response.body", "body": body})


def refusal(path: str) -> tuple[Message, bytes]:
    """The 431 answer for ``path``: an OperationOutcome under ``/cds-services``, else a problem."""
    if is_cds(path):
        data, media = outcome(431, DETAIL), "application/json"
    else:
        data, media = problem_body(431, DETAIL, slug=SLUG, title=TITLE), PROBLEM_JSON
    body = json.dumps(data).encode()
    start: Message = {
        "type": "http.response.start",
        "status": 431,
        "headers": [
            (b"content-type", media.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, body


BARE_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\n"
    b"connection: close\r\n\r\n"
)


class _HeadTooLargeError(Exception):
    """Raised from a parser callback to stop parsing a request whose head is too large."""


class HeadLimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing request heads over ``h11_max_incomplete_event_size``.

    Bytes are counted as they arrive while a head is incomplete; past the limit the connection is
    answered a bare 431 and closed, so the parser never buffers more than the limit and one read.
    A head that completes within one read is measured exactly when it completes.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_head_bytes = config.h11_max_incomplete_event_size or head_limit(32768)
        self._in_head = True
        self._head_bytes = 0
        self._too_large = False
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_head_bytes and not self._refused:
            self._refuse()

    def on_headers_complete(self) -> None:
        if len(self.url) + header_bytes(self.headers) > self.max_head_bytes:
            self._too_large = True
            raise _HeadTooLargeError  # the parser stops; uvicorn calls send_400_response
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            if not self._refused:
                self._refuse()
            return
        super().send_400_response(msg)

    def _refuse(self) -> None:
        """Answer 431 (unless a response is being written) and close the connection."""
        self._refused = True
        logger.warning(
            "request head too large: connection closed", extra={"limit": self.max_head_bytes}
        )
        cycle: RequestResponseCycle | None = self.cycle  # None before the first request
        if cycle is None or cycle.response_complete:
            self.transport.write(BARE_431)
        self.transport.close()
