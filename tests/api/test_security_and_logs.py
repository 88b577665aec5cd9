"""API keys, CORS, the request log line, request IDs and the 500 problem, over HTTP.

The real app (``create_app``) with its real middleware; nothing of ours is mocked. A 500 is
provoked by a route added to an app built here (``app.add_api_route``).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.examples import A1_REQUEST
from api.logging import JsonFormatter
from api.main import create_app
from api.security import Caller
from tests.api.conftest import AUTH, KEY_ID, SECRET, settings
from tests.api.test_evaluations import assert_problem

KEY_A = "a-secret-0123456789abcdef"  # test keys
KEY_B = "b-secret-fedcba9876543210"
EHR = "https://ehr.example.org"

# Patient values put into the A1 request for the log tests: none may reach any log record.
BIRTH_DATE = "2006-07-13"  # 19 years on 2026-03-01, like A1
MEDICATION_TEXT = "Cetirizine 10 MG Oral Tablet (own supply, Zq7-marker)"
PATIENT_VALUES = (BIRTH_DATE, MEDICATION_TEXT, "Zq7-marker", SECRET, KEY_A, KEY_B)


class Capture(logging.Handler):
    """Keeps every record and its JSON line as the service's formatter writes it at emit time."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self._json = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self._json.format(record))

    def requests(self) -> list[dict[str, Any]]:
        """The request lines (logger ``api.request``), parsed."""
        return [
            json.loads(line)
            for record, line in zip(self.records, self.lines, strict=True)
            if record.name == "api.request"
        ]

    def everything(self) -> str:
        """Every record in every form: JSON line, message, arguments and all attributes."""
        parts = list(self.lines)
        for record in self.records:
            parts.append(record.getMessage())
            parts.append(repr(record.args))
            parts.append(repr(vars(record)))
        return "\n".join(parts)


@pytest.fixture
def logged() -> Iterator[Callable[..., tuple[TestClient, Capture]]]:
    """Build an app, then capture every log record (startup included) on the root logger.

    ``create_app`` reconfigures the root logger's handlers, so the capture is attached after it.
    """
    root = logging.getLogger()
    opened: list[tuple[TestClient, Capture]] = []

    def build(
        routes: Callable[[FastAPI], None] | None = None, **overrides: Any
    ) -> tuple[TestClient, Capture]:
        app = create_app(settings(**overrides))
        if routes is not None:
            routes(app)
        capture = Capture()
        root.addHandler(capture)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        opened.append((client, capture))
        return client, capture

    yield build
    for client, capture in opened:
        client.__exit__(None, None, None)
        root.removeHandler(capture)


def a1() -> dict[str, Any]:
    """A deep copy of the A1 request."""
    return copy.deepcopy(A1_REQUEST)


# --- API keys ----------------------------------------------------------------------------------

V1_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/assessments", A1_REQUEST),
    ("POST", "/v1/checklists", A1_REQUEST),
    (
        "POST",
        "/v1/dosing-plans",
        {
            "jurisdiction": "US",
            "as_of": "2026-03-01",
            "weight": {"value": 70, "unit": "kg"},
            "product": "claravis",
            "target_mg_per_kg_day": 1.0,
        },
    ),
    ("GET", "/v1/rules", None),
    ("GET", "/v1/rules/interaction.tetracyclines", None),
    ("GET", "/v1/sources", None),
]
CALL_IDS = [f"{m} {p}" for m, p, _ in V1_CALLS]


@pytest.mark.parametrize(("method", "path", "body"), V1_CALLS, ids=CALL_IDS)
def test_no_key_is_401_with_a_challenge(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    r = client.request(method, path, json=body)
    assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body"), V1_CALLS, ids=CALL_IDS)
@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-the-secret-0123456789"},
        {"X-API-Key": "not-the-secret-0123456789"},
        {"Authorization": f"Bearer {SECRET[:-1]}"},  # a prefix of the secret
        {"Authorization": f"Bearer {SECRET}x"},  # the secret and more
        {"Authorization": f"Basic {SECRET}"},  # the wrong scheme
        {"Authorization": f"Bearer {KEY_ID}:{SECRET}"},  # the whole entry is not the secret
    ],
    ids=["bearer", "x-api-key", "prefix", "longer", "basic", "key-id-and-secret"],
)
def test_wrong_key_is_401(
    client: TestClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
) -> None:
    r = client.request(method, path, json=body, headers=headers)
    assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert SECRET not in r.text


@pytest.mark.parametrize(("method", "path", "body"), V1_CALLS, ids=CALL_IDS)
@pytest.mark.parametrize("headers", [AUTH, {"X-API-Key": SECRET}], ids=["bearer", "x-api-key"])
def test_right_key_is_200(
    client: TestClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
) -> None:
    r = client.request(method, path, json=body, headers=headers)
    assert r.status_code == 200, r.text


def test_two_keys_both_work_and_are_told_apart(
    logged: Callable[..., tuple[TestClient, Capture]],
) -> None:
    client, capture = logged(api_keys=SecretStr(f"a:{KEY_A},b:{KEY_B}"))
    assert (
        client.get("/v1/sources", headers={"Authorization": f"Bearer {KEY_A}"}).status_code == 200
    )
    assert client.get("/v1/sources", headers={"X-API-Key": KEY_B}).status_code == 200
    # The key of the default configuration is not one of these two.
    assert_problem(client.get("/v1/sources", headers=AUTH), 401)
    assert [line["key_id"] for line in capture.requests()] == ["a", "b", None]
    assert KEY_A not in capture.everything()
    assert KEY_B not in capture.everything()


def test_auth_disabled_needs_no_key(
    logged: Callable[..., tuple[TestClient, Capture]],
) -> None:
    client, capture = logged(auth="disabled", api_keys=SecretStr(""))
    for method, path, body in V1_CALLS:
        r = client.request(method, path, json=body)
        assert r.status_code == 200, (method, path, r.text)
    assert {line["key_id"] for line in capture.requests()} == {"anonymous"}
    # A warning at start says authentication is off.
    warnings = [r for r in capture.records if r.levelno >= logging.WARNING]
    assert any("disabled" in r.getMessage() for r in warnings)


@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_health_and_ready_need_no_key(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert "www-authenticate" not in r.headers


def test_no_configured_key_refuses_every_call(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=SecretStr(""))
    assert_problem(client.get("/v1/sources", headers=AUTH), 401)
    assert_problem(client.get("/v1/sources", headers={"Authorization": "Bearer "}), 401)


# --- CORS --------------------------------------------------------------------------------------

PREFLIGHT = {
    "Origin": EHR,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


def test_cors_is_off_by_default(client: TestClient) -> None:
    r = client.options("/v1/assessments", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/v1/sources", headers={**AUTH, "Origin": EHR})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


def test_cors_allow_list_answers_its_origin_without_a_key(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(cors_origins=EHR)
    r = client.options("/v1/assessments", headers=PREFLIGHT)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == EHR
    allowed = r.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert "POST" in r.headers["access-control-allow-methods"]
    # The real request from that origin carries the header; the request ID is readable.
    r = client.post("/v1/assessments", json=A1_REQUEST, headers={**AUTH, "Origin": EHR})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == EHR
    assert "x-request-id" in r.headers["access-control-expose-headers"].lower()


def test_cors_refuses_other_origins(make_client: Callable[..., TestClient]) -> None:
    client = make_client(cors_origins=EHR)
    other = "https://evil.example.com"
    r = client.options("/v1/assessments", headers={**PREFLIGHT, "Origin": other})
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/v1/sources", headers={**AUTH, "Origin": other})
    assert "access-control-allow-origin" not in r.headers


def test_a_refused_preflight_is_a_problem(make_client: Callable[..., TestClient]) -> None:
    """The issue: every 4xx/5xx of /v1 is application/problem+json (also a refused preflight)."""
    client = make_client(cors_origins=EHR)
    r = client.options(
        "/v1/assessments", headers={**PREFLIGHT, "Origin": "https://evil.example.com"}
    )
    if r.status_code >= 400:
        assert_problem(r, r.status_code)


# --- the request log -----------------------------------------------------------------------------


def a1_with_patient_values() -> dict[str, Any]:
    """A1 with a distinctive birth date and a medication text (no interaction)."""
    body = a1()
    del body["profile"]["age_years"]
    body["profile"]["birth_date"] = BIRTH_DATE
    body["profile"]["medications"] = [{"text": MEDICATION_TEXT, "route": "oral"}]
    return body


def test_one_request_line_per_assessment(
    logged: Callable[..., tuple[TestClient, Capture]],
) -> None:
    client, capture = logged()
    before = len(capture.requests())
    r = client.post("/v1/assessments", json=a1_with_patient_values(), headers=AUTH)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["decision"] == "start"

    lines = capture.requests()[before:]
    assert len(lines) == 1, lines
    line = lines[0]
    assert line["route"] == "/v1/assessments"
    assert line["method"] == "POST"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], int | float)
    assert line["duration_ms"] >= 0
    assert line["key_id"] == KEY_ID
    fired = [f["rule_id"] for f in out["findings"] if f["status"] == "applies"]
    assert "indication.labelled" in fired
    assert line["rules"] == fired
    # The same request ID in the response header and in the log.
    rid = r.headers["x-request-id"]
    assert rid
    assert line["request_id"] == rid


def test_no_patient_value_or_secret_in_any_log_record(
    logged: Callable[..., tuple[TestClient, Capture]],
) -> None:
    client, capture = logged()
    body = a1_with_patient_values()
    assert client.post("/v1/assessments", json=body, headers=AUTH).status_code == 200
    assert client.post("/v1/checklists", json=body, headers=AUTH).status_code == 200
    invalid = copy.deepcopy(body)
    invalid["profile"]["labs"][0]["unit"] = "foo"
    assert client.post("/v1/assessments", json=invalid, headers=AUTH).status_code == 422
    assert client.post("/v1/assessments", json=body, headers={"X-API-Key": KEY_A}).status_code == (
        401
    )
    bad_json = json.dumps(body)[:-5].encode()
    r = client.post(
        "/v1/assessments", content=bad_json, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert r.status_code == 400

    assert capture.lines, "nothing was logged"
    everything = capture.everything()
    for value in PATIENT_VALUES:
        assert value not in everything, value
    assert '"foo"' not in everything
    assert "'foo'" not in everything


def test_the_log_names_the_route_template_never_the_raw_path(
    logged: Callable[..., tuple[TestClient, Capture]],
) -> None:
    client, capture = logged()
    r = client.get("/v1/rules/interaction.tetracyclines?as_of=2026-03-01", headers=AUTH)
    assert r.status_code == 200
    r = client.get("/v1/rules/no.such-rule-P12345", headers=AUTH)
    assert r.status_code == 404
    r = client.get("/v1/rules?kind=interaction&jurisdiction=US", headers=AUTH)
    assert r.status_code == 200
    r = client.get("/v1/courses?patient_ref=P-98765", headers=AUTH)
    assert r.status_code == 200

    lines = capture.requests()
    assert [(x["route"], x["status"]) for x in lines[:3]] == [
        ("/v1/rules/{rule_id}", 200),
        ("/v1/rules/{rule_id}", 404),
        ("/v1/rules", 200),
    ]
    assert (lines[3]["route"], lines[3]["status"]) == ("/v1/courses", 200)
    everything = capture.everything()
    for raw in (
        "interaction.tetracyclines",
        "as_of",
        "P12345",
        "kind=interaction",
        "jurisdiction=US",
        "P-98765",
        "patient_ref",
    ):
        assert raw not in everything, raw


def test_every_response_has_a_request_id(client: TestClient) -> None:
    responses = [
        client.get("/health"),
        client.get("/v1/sources", headers=AUTH),
        client.get("/v1/sources"),
        client.get("/v1/rules/no.such-rule", headers=AUTH),
        client.post("/v1/assessments", content=b"{", headers={**AUTH, "Content-Type": "x/y"}),
    ]
    ids = [r.headers.get("x-request-id") for r in responses]
    assert all(ids), ids
    assert len(set(ids)) == len(ids)
    for r in responses[2:]:
        assert r.json()["request_id"] == r.headers["x-request-id"]


# --- 500 -----------------------------------------------------------------------------------------


class LeakyInternalError(RuntimeError):
    """An exception whose name and text must never reach a client."""


def add_failing_routes(app: FastAPI) -> None:
    """A GET and a POST route under /v1 that authenticate the caller, then raise."""

    def explode(_: Caller) -> None:
        raise LeakyInternalError("db password hunter2 at /srv/isocds/internal.py line 42")

    app.add_api_route("/v1/explode", explode, methods=["GET", "POST"])


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unexpected_exception_is_a_500_problem_with_the_request_id(
    logged: Callable[..., tuple[TestClient, Capture]], method: str
) -> None:
    client, capture = logged(routes=add_failing_routes)
    r = client.request(method, "/v1/explode", json={} if method == "POST" else None, headers=AUTH)

    body = assert_problem(r, 500, "internal-error")
    for leak in ("LeakyInternalError", "RuntimeError", "hunter2", "internal.py", "Traceback"):
        assert leak not in r.text, leak
    rid = r.headers.get("x-request-id")
    assert rid, "no X-Request-ID header on the 500 response"
    assert body.get("request_id") == rid
    # The request ID is also in the log, on the request line with status 500.
    lines = [x for x in capture.requests() if x.get("request_id") == rid]
    assert len(lines) == 1, capture.requests()
    assert lines[0]["status"] == 500
    assert lines[0]["route"] == "/v1/explode"
    # The error record (with the traceback, for the operator) carries the same request ID.
    errors = [
        json.loads(line)
        for record, line in zip(capture.records, capture.lines, strict=True)
        if record.levelno >= logging.ERROR
    ]
    assert errors, "the exception was not logged"
    assert all(e.get("request_id") == rid for e in errors), errors


def test_the_500_is_logged_with_its_request_id(
    logged: Callable[..., tuple[TestClient, Capture]],
) -> None:
    """Whatever the client is told, the log has a request line with status 500."""
    client, capture = logged(routes=add_failing_routes)
    r = client.get("/v1/explode", headers=AUTH)
    assert r.status_code == 500
    lines = [x for x in capture.requests() if x["route"] == "/v1/explode"]
    assert len(lines) == 1
    assert lines[0]["status"] == 500
    assert lines[0]["request_id"]
    assert lines[0]["key_id"] == KEY_ID
