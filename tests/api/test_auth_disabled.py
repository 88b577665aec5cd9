"""Issue 11: ``ISOCDS_AUTH=disabled`` says so on every response and in every start's log.

Loopback-only binding does not stop a proxy on the same host from publishing the service; the
``X-Isocds-Auth: disabled`` header on every answer (successes, errors, ``/health``, CDS Hooks,
CORS preflights) and a warning on each start make the state visible.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import create_app
from tests.api.conftest import AUTH, settings
from tests.api.test_security_and_logs import Capture

HEADER = "x-isocds-auth"
ORIGIN = "https://ehr.example.org"
VIEW = "/cds-services/isotretinoin-patient-view"
DOSING = {
    "jurisdiction": "US",
    "as_of": "2026-03-01",
    "weight": {"value": 70, "unit": "kg"},
    "product": "claravis",
    "target_mg_per_kg_day": 1.0,
}


def boom() -> None:
    """A route that fails (an unhandled error: the 500 problem)."""
    raise RuntimeError("boom")


@pytest.fixture
def make_app() -> Iterator[Callable[..., TestClient]]:
    """Build and start an app (``/v1/boom`` answers 500) with settings overrides."""
    opened: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        app: FastAPI = create_app(settings(**overrides))
        app.add_api_route("/v1/boom", boom, methods=["GET"])
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client

    yield build
    for client in opened:
        client.__exit__(None, None, None)


CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/health", {}),
    ("GET", "/ready", {}),
    ("GET", "/v1/sources", {}),
    ("POST", "/v1/dosing-plans", {"json": DOSING}),
    ("POST", "/v1/dosing-plans", {"json": {"jurisdiction": "XX"}}),
    ("POST", "/v1/dosing-plans", {"content": b"x=1", "headers": {"Content-Type": "text/plain"}}),
    ("POST", "/v1/dosing-plans", {"content": b"{" + b" " * 300_000 + b"}"}),
    ("GET", "/v1/courses/no-such-course", {}),
    ("GET", "/no-such-route", {}),
    ("DELETE", "/health", {}),
    ("GET", "/v1/boom", {}),
    ("GET", "/cds-services", {}),
    ("POST", VIEW, {"json": {}}),
    ("POST", "/cds-services/no-such-service", {"json": {}}),
    ("GET", "/openapi.json", {}),
]
IDS = [
    "health",
    "ready",
    "v1-ok",
    "v1-post-ok",
    "v1-422",
    "v1-415",
    "v1-413",
    "v1-404",
    "unmatched-404",
    "405",
    "500",
    "cds-discovery",
    "cds-400",
    "cds-404",
    "openapi",
]


@pytest.mark.parametrize(("method", "path", "kw"), CALLS, ids=IDS)
def test_every_response_says_authentication_is_off(
    make_app: Callable[..., TestClient], method: str, path: str, kw: dict[str, Any]
) -> None:
    client = make_app(auth="disabled")
    r = client.request(method, path, **kw)
    assert r.headers.get(HEADER) == "disabled", (r.status_code, dict(r.headers))
    assert r.headers.get("x-request-id")  # the request log still saw it


def test_the_calls_cover_success_client_errors_and_the_500(
    make_app: Callable[..., TestClient],
) -> None:
    client = make_app(auth="disabled")
    statuses = {client.request(m, p, **kw).status_code for m, p, kw in CALLS}
    assert {200, 400, 404, 405, 413, 415, 422, 500} <= statuses


def test_cors_preflight_and_actual_call_carry_it_and_expose_it(
    make_app: Callable[..., TestClient],
) -> None:
    client = make_app(auth="disabled", cors_origins=ORIGIN)
    preflight = client.options(
        "/v1/dosing-plans",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers.get(HEADER) == "disabled"
    refused = client.options(
        "/v1/dosing-plans",
        headers={"Origin": "https://evil.example.org", "Access-Control-Request-Method": "POST"},
    )
    assert refused.status_code == 400
    assert refused.headers.get(HEADER) == "disabled"
    actual = client.get("/v1/sources", headers={"Origin": ORIGIN})
    assert actual.headers.get(HEADER) == "disabled"
    exposed = {
        h.strip().lower() for h in actual.headers["access-control-expose-headers"].split(",")
    }
    assert HEADER in exposed  # a browser client can read it


@pytest.mark.parametrize("path", ["/health", "/v1/sources", "/cds-services", "/v1/boom"])
def test_no_such_header_while_authentication_is_required(
    make_app: Callable[..., TestClient], path: str
) -> None:
    client = make_app()
    r = client.get(path, headers=AUTH)
    assert HEADER not in r.headers
    assert HEADER not in client.get(path).headers


@pytest.mark.parametrize("level", ["info", "warning", "error"])
def test_the_warning_is_logged_on_every_start(level: str) -> None:
    app = create_app(settings(auth="disabled", api_keys=SecretStr(""), log_level=level))
    root = logging.getLogger()
    capture = Capture()
    root.addHandler(capture)
    try:
        for _ in range(3):
            with TestClient(app) as client:
                assert client.get("/health").status_code == 200
    finally:
        root.removeHandler(capture)
    warnings = [
        r
        for r in capture.records
        if r.levelno >= logging.WARNING and "ISOCDS_AUTH=disabled" in r.getMessage()
    ]
    assert len(warnings) == 3  # one per start, whatever ISOCDS_LOG_LEVEL
    assert all(r.levelno >= logging.getLevelName(level.upper()) for r in warnings)
