"""Schemathesis against the app's own OpenAPI document, in process over ASGI (no network).

One test per operation. Each sends the document's examples, boundary (coverage) cases and a
bounded, derandomized number of generated requests, valid and invalid, with the API key. Every
response must not be a 5xx, must have a documented status code, content type and schema, and every
4xx/5xx must be an RFC 9457 ``application/problem+json`` problem whose ``status`` is the response's
(a 5xx also carries the request ID it was logged with).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.main import create_app
from api.problems import PROBLEM_BASE, PROBLEM_JSON
from tests.api.conftest import AUTH, settings

# Generated requests per operation in the fuzzing phase (examples and coverage cases come on top).
MAX_EXAMPLES = 40

CONFIG = schemathesis.Config.from_dict(
    {
        # The same requests on every run: a fixed seed, derandomized generation, no example
        # database carried over between runs.
        "seed": 20260301,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            "mode": "all",
        },
        # Every /v1 route needs the key; /health and /ready ignore it.
        "headers": AUTH,
        # Generating the large profile bodies can be slow on a loaded CI machine; that says nothing
        # about the service, so it must not fail the run.
        "suppress-health-check": ["too_slow"],
        # The API has no links between operations to follow.
        "phases": {"stateful": {"enabled": False}},
    }
)


class AsServed:
    """The app as uvicorn serves it: a response already sent reaches the client.

    On an unhandled exception Starlette sends the app's 500 problem and then re-raises for the
    server to log. In process, that exception would hide the 500 response a client really gets.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if not started:
                raise


schema = schemathesis.openapi.from_asgi(
    "/openapi.json", AsServed(create_app(settings())), config=CONFIG
)


def problem_json(
    _ctx: schemathesis.CheckContext,
    response: schemathesis.Response,
    _case: schemathesis.Case[Any],
) -> bool | None:
    """Every 4xx/5xx is an RFC 9457 problem, sent as ``application/problem+json``."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    media_type = content_type.split(";")[0].strip().lower()
    assert media_type == PROBLEM_JSON, f"{response.status_code} sent as {content_type!r}"
    problem: Any = response.json()
    assert isinstance(problem, dict), f"not a problem object: {problem!r}"
    assert problem.get("status") == response.status_code, f"status differs: {problem!r}"
    assert str(problem.get("type", "")).startswith(PROBLEM_BASE), f"type: {problem!r}"
    assert problem.get("title"), f"no title: {problem!r}"
    if response.status_code >= 500:
        assert problem.get("request_id"), f"a 5xx problem without its request_id: {problem!r}"
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    problem_json,
]


@schema.parametrize()
def test_api(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=CHECKS)
