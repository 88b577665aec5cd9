"""Oversized request headers (issue 11, finding 1), in process: 431 before anything decodes them.

A header whose value cannot be decoded (:class:`Undecodable`) proves that the refusal looks at
sizes only; the same request on the current app without the guard would be decoded by the API-key
or JWT check. The server-level limit is tested against ``python -m api`` in
``tests/integration/test_header_limits_server.py``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.limits import MAX_CREDENTIAL_BYTES
from tests.api.conftest import AUTH, SECRET
from tests.api.test_evaluations import assert_problem

V1 = "/v1/sources"
CDS = "/cds-services"
MARKER = "Zq7-header-marker"
AUTH_BYTES = f"Bearer {SECRET}".encode()


class Undecodable(bytes):
    """A header value that fails if anything decodes it (sizes may be taken)."""

    def decode(self, *_: Any, **__: Any) -> str:
        raise AssertionError("an oversized header was decoded")


def big_token(size: int) -> str:
    """A bearer token of ``size`` characters, starting with a marker that must not be echoed."""
    return (MARKER + "a" * size)[:size]


def asgi_call(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """Call ``app`` directly with raw ASGI ``headers``; the status and body of its answer."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body


@pytest.mark.parametrize("path", [V1, CDS])
@pytest.mark.parametrize("name", [b"authorization", b"x-api-key"])
def test_an_oversized_credential_is_431_without_being_decoded(
    client: TestClient, path: str, name: bytes
) -> None:
    value = Undecodable(b"Bearer " + big_token(MAX_CREDENTIAL_BYTES + 1).encode())

    status, body = asgi_call(client.app, path, [(name, value)])

    assert status == 431, body
    assert MARKER.encode() not in body


def test_many_headers_over_the_total_are_431_without_being_decoded(client: TestClient) -> None:
    headers = [(f"x-filler-{i}".encode(), Undecodable(b"v" * 1000)) for i in range(40)]

    status, body = asgi_call(client.app, V1, [*headers, (b"authorization", AUTH_BYTES)])

    assert status == 431, body


def test_oversized_authorization_on_v1_is_a_431_problem_echoing_nothing(client: TestClient) -> None:
    r = client.get(V1, headers={"Authorization": f"Bearer {big_token(20_000)}"})

    body = assert_problem(r, 431, "header-fields-too-large")
    assert MARKER not in r.text
    assert "instance" not in body
    assert r.headers["x-request-id"] == body["request_id"]


def test_oversized_authorization_on_cds_hooks_is_a_431_operation_outcome(
    client: TestClient,
) -> None:
    r = client.post(
        f"{CDS}/isotretinoin-patient-view",
        content=b"{}",
        headers={
            "Authorization": f"Bearer {big_token(20_000)}",
            "Content-Type": "application/json",
        },
    )

    assert r.status_code == 431, r.text
    issue = r.json()["issue"][0]
    assert r.json()["resourceType"] == "OperationOutcome"
    assert issue["code"] == "too-long"
    assert MARKER not in r.text


def test_a_credential_at_the_limit_is_read_as_usual(client: TestClient) -> None:
    """8 KB exactly is not refused: the key check answers (401, a wrong key)."""
    value = "Bearer " + big_token(MAX_CREDENTIAL_BYTES - len("Bearer "))
    r = client.get(V1, headers={"Authorization": value})
    assert_problem(r, 401, "unauthorized")
    assert client.get(V1, headers=AUTH).status_code == 200


def test_the_total_header_limit_is_a_setting(make_client: Any) -> None:
    small = make_client(max_header_bytes=8192)
    filler = {f"X-Filler-{i}": "v" * 1000 for i in range(9)}
    assert small.get(V1, headers={**AUTH, **filler}).status_code == 431
    # The default (32 KB) lets the same request through.
    assert make_client().get(V1, headers={**AUTH, **filler}).status_code == 200


def test_health_is_guarded_too(client: TestClient) -> None:
    r = client.get("/health", headers={"X-Filler": "v" * 40_000})
    assert_problem(r, 431, "header-fields-too-large")
    assert json.loads(r.text)["status"] == 431
