"""Pure ASGI middleware: the request log line, and the body guard (size and content type)."""

from __future__ import annotations

import json
import logging
import time
import uuid

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.cds.outcome import is_cds, outcome
from api.logging import exception_fields, request_id_var
from api.problems import PROBLEM_JSON, problem_body

logger = logging.getLogger("api.request")
error_logger = logging.getLogger("api.errors")

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _problem(status: int, detail: str, path: str) -> tuple[Message, bytes]:
    if is_cds(path):
        body, media = outcome(status, detail), "application/json"
    else:
        body, media = problem_body(status, detail, path=path), PROBLEM_JSON
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", media.encode())],
    }
    return start, json.dumps(body).encode()


class RequestLog:
    """One JSON line per request: request ID, route template, status, duration, key ID, rules.

    Never the raw path or query (patient references appear in URLs), never a body.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex
        token = request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            # Answer here, while the request ID is known: a 500 problem carrying it, never the
            # exception's text. The log line names the exception class and its frames only (its
            # message may quote patient values or URLs).
            error_logger.error("unhandled error", extra=exception_fields(exc))
            if not response_started:
                start, body = _problem(
                    500, "an unexpected error occurred; quote the request_id", scope["path"]
                )
                await send_wrapper(start)
                await send_wrapper({"type": "http.response.body", "body": body})
        finally:
            route = scope.get("route")
            state = scope.get("state", {})
            logger.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "route": getattr(route, "path", None) or "unmatched",
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "key_id": state.get("key_id"),
                    "iss": state.get("cds_iss"),
                    "tenant": state.get("tenant"),
                    "service": state.get("cds_service"),
                    "hook": state.get("cds_hook"),
                    "rules": state.get("rules_fired"),
                },
            )
            request_id_var.reset(token)


class BodyGuard:
    """Refuse bodies over ``max_bytes`` (413) and non-JSON bodies (415) before the app sees them.

    The body is read here (bounded) and replayed to the app, so a chunked request cannot slip past
    the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in BODY_METHODS
            or not scope["path"].startswith(self.prefixes)
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        path = scope["path"]
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, 413, f"the body is over {self.max_bytes} bytes", path)
            return
        has_body = (declared is not None and declared != b"0") or b"transfer-encoding" in headers
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if has_body and not (ctype == b"application/json" or ctype.endswith(b"+json")):
            await self._refuse(send, 415, "send Content-Type: application/json", path)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, 413, f"the body is over {self.max_bytes} bytes", path)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, status: int, detail: str, path: str) -> None:
        start, body = _problem(status, detail, path)
        await send(start)
        await send({"type": "http.response.body", "body": body})


class Cors(CORSMiddleware):
    """Starlette's CORS middleware, with a refused preflight answered as a problem."""

    def preflight_response(self, request_headers: Headers) -> Response:
        """The preflight answer; a refusal is ``application/problem+json``."""
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        body = bytes(response.body).decode(errors="replace")
        problem = problem_body(
            response.status_code, body, slug="cors-refused", title="CORS preflight refused"
        )
        return Response(
            json.dumps(problem),
            status_code=response.status_code,
            media_type=PROBLEM_JSON,
        )


AUTH_OFF_HEADER = (b"x-isocds-auth", b"disabled")


class AuthOffHeader:
    """``X-Isocds-Auth: disabled`` on every response while ``ISOCDS_AUTH=disabled``.

    Added outermost, so errors, refusals and ``/health`` carry it too: a proxy or browser in front
    of the loopback service can see that nothing is authenticated.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), AUTH_OFF_HEADER]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_marked)
