"""Data safety of the course API (the courses issue, "Data safety"), on SQLite and PostgreSQL.

Idempotency (replay, reused key, a key in flight, keys per caller), concurrency (appends, ETags),
503 when a table is gone or the database is unreachable, and the statuses every course and
evaluation route declares, each produced for real. A request "in flight" holds its claim row in
the database exactly as ``api.database.begin`` leaves it; nothing of ours is mocked.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, SecretStr
from sqlalchemy import Executable, create_engine, insert, text, update
from sqlmodel import col
from starlette.requests import Request

from api.database import Claim, begin, release
from api.deps import Services
from api.examples import A1_REQUEST, CHECKLIST_EXAMPLES, DOSING_EXAMPLES
from api.schemas.courses import EVENT_MODELS, CourseAssessmentRequest, CourseCreate, CoursePatch
from api.schemas.evaluation import AssessmentRequest, ChecklistRequest, DosingPlanRequest
from api.security import Principal
from api.settings import DEFAULT_TENANT, SCOPES
from db.settings import DbSettings
from db.tables import Course, CourseEvent, IdempotencyKey
from tests.api.conftest import AUTH, KEY_ID
from tests.api.test_courses import (
    AUTH_OTHER,
    AUTH_UNSCOPED,
    ENGINES,
    EVENT_BODIES,
    EVENT_KINDS,
    Apps,
    append,
    assert_invalid,
    assert_problem,
    audit_after,
    course_checklist,
    create_course,
    events,
    get_course,
    in_parallel,
    last_audit_id,
    new_database,
    patient,
)

IDEMPOTENCY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
DB_TIMEOUT_S = 2.0


@pytest.fixture(scope="module", params=ENGINES)
def apps(request: pytest.FixtureRequest) -> Iterator[Apps]:
    """Apps on a fresh migrated database of each engine (one per engine for this module)."""
    a = Apps(request.param, new_database(request.param))
    yield a
    a.close()


@pytest.fixture(scope="module")
def api(apps: Apps) -> TestClient:
    """A client of the app with default settings."""
    return apps.client()


def services_of(client: TestClient) -> Services:
    """The services of the client's app."""
    services: Services = cast(FastAPI, client.app).state.services
    return services


def key() -> str:
    """An Idempotency-Key no other request uses."""
    return f"key-{uuid.uuid4()}"


def claim_in_flight(
    client: TestClient, path: str, idem_key: str, body: BaseModel, caller: str = KEY_ID
) -> Claim:
    """Hold ``idem_key`` in flight for a POST of ``body`` to ``path``, as a request being served
    holds it: ``api.database.begin`` claims it in the database and the request is not done yet."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "server": ("testserver", 80),
        "headers": [(IDEMPOTENCY.lower().encode(), idem_key.encode())],
    }
    principal = Principal(caller, DEFAULT_TENANT, frozenset(SCOPES))
    claimed = begin(services_of(client), Request(scope), principal, body)
    assert isinstance(claimed, Claim), claimed
    return claimed


def run_sql(url: str, *statements: Executable | str) -> None:
    """Run statements on the database at ``url``, outside the app (a string is raw SQL)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement) if isinstance(statement, str) else statement)
    finally:
        engine.dispose()


# --- idempotency -----------------------------------------------------------------------------


def test_course_creation_with_a_key_is_done_once(api: TestClient) -> None:
    ref = patient()
    body = {"patient_ref": ref, "jurisdiction": "US", "weight_at_start_kg": 60}
    headers = {**AUTH, IDEMPOTENCY: key()}

    first = api.post("/v1/courses", json=body, headers=headers)
    again = api.post("/v1/courses", json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    assert again.status_code == 201, again.text
    assert again.headers[REPLAYED] == "true"
    assert again.content == first.content
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"] == '"1"'
    listed = api.get("/v1/courses", params={"patient_ref": ref}, headers=AUTH).json()["courses"]
    assert [c["id"] for c in listed] == [first.json()["id"]]


def test_an_event_append_with_a_key_is_done_once(api: TestClient) -> None:
    course = create_course(api, weight_at_start_kg=60)
    path = f"/v1/courses/{course['id']}/dispensings"
    body = EVENT_BODIES["dispensings"]("2026-01-05")
    headers = {**AUTH, IDEMPOTENCY: key()}

    first = api.post(path, json=body, headers=headers)
    _, tag = get_course(api, course["id"])
    again = api.post(path, json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert again.status_code == 201, again.text
    assert again.headers[REPLAYED] == "true"
    assert again.content == first.content
    assert again.headers["Location"] == first.headers["Location"]
    assert [e["id"] for e in events(api, course["id"])] == [first.json()["id"]]
    assert get_course(api, course["id"])[1] == tag  # the replay changed nothing
    # The dose is counted once.
    out = course_checklist(api, course["id"], "2026-01-20")
    assert out["cumulative"]["mg"] == pytest.approx(1200)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/assessments", A1_REQUEST),
        ("/v1/checklists", CHECKLIST_EXAMPLES["follow-up"]["value"]),
        ("/v1/dosing-plans", DOSING_EXAMPLES["e1"]["value"]),
        ("course", {"as_of": "2026-02-04", "profile": {"medications": []}}),
    ],
)
def test_an_evaluation_with_a_key_is_answered_and_audited_once(
    api: TestClient, path: str, body: dict[str, Any]
) -> None:
    if path == "course":
        course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
        path = f"/v1/courses/{course['id']}/assessments"
    headers = {**AUTH, IDEMPOTENCY: key()}
    before = last_audit_id(api)

    first = api.post(path, json=body, headers=headers)
    again = api.post(path, json=body, headers=headers)

    assert first.status_code == 200, first.text
    assert again.status_code == 200, again.text
    assert REPLAYED not in first.headers
    assert again.headers[REPLAYED] == "true"
    assert again.content == first.content
    records = audit_after(api, before)
    assert [r["request_id"] for r in records] == [first.headers["X-Request-ID"]]


@pytest.mark.parametrize("what", ["course", "event", "assessment"])
def test_the_same_key_with_another_body_is_422(api: TestClient, what: str) -> None:
    course = create_course(api, weight_at_start_kg=60)
    cid = course["id"]
    path, body, other = {
        "course": (
            "/v1/courses",
            {"patient_ref": patient(), "jurisdiction": "US"},
            {"patient_ref": patient(), "jurisdiction": "EU"},
        ),
        "event": (
            f"/v1/courses/{cid}/dispensings",
            EVENT_BODIES["dispensings"]("2026-01-05"),
            {**EVENT_BODIES["dispensings"]("2026-01-05"), "mg_per_day": 60},
        ),
        "assessment": ("/v1/assessments", A1_REQUEST, {**A1_REQUEST, "as_of": "2026-03-02"}),
    }[what]
    headers = {**AUTH, IDEMPOTENCY: key()}
    first = api.post(path, json=body, headers=headers)
    assert first.status_code in (200, 201), first.text
    before = last_audit_id(api)

    reused = api.post(path, json=other, headers=headers)

    assert_problem(reused, 422, "idempotency-key-reused")
    assert last_audit_id(api) == before
    assert len(events(api, cid)) == (1 if what == "event" else 0)
    if what == "course":
        r = api.get("/v1/courses", params={"patient_ref": other["patient_ref"]}, headers=AUTH)
        assert r.json()["courses"] == []


def test_the_same_key_on_another_route_is_422(api: TestClient) -> None:
    course = create_course(api)
    idem = {**AUTH, IDEMPOTENCY: key()}
    cid = course["id"]
    body = EVENT_BODIES["labs"]("2026-01-02")
    assert api.post(f"/v1/courses/{cid}/labs", json=body, headers=idem).status_code == 201
    reused = api.post(
        f"/v1/courses/{cid}/visits", json=EVENT_BODIES["visits"]("2026-01-02"), headers=idem
    )
    assert_problem(reused, 422, "idempotency-key-reused")
    assert [e["kind"] for e in events(api, cid)] == ["lab"]


@pytest.mark.parametrize("what", ["course", "event", "assessment", "course-assessment"])
def test_a_key_still_in_flight_is_409(api: TestClient, what: str) -> None:
    course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
    cid = course["id"]
    body: dict[str, Any]
    model: BaseModel
    if what == "course":
        path, body = "/v1/courses", {"patient_ref": patient(), "jurisdiction": "US"}
        model = CourseCreate.model_validate(body)
    elif what == "event":
        path, body = f"/v1/courses/{cid}/dispensings", EVENT_BODIES["dispensings"]("2026-01-05")
        model = EVENT_MODELS["dispensing"].model_validate(body)
    elif what == "assessment":
        path, body = "/v1/assessments", A1_REQUEST
        model = AssessmentRequest.model_validate(body)
    else:
        path, body = f"/v1/courses/{cid}/assessments", {"as_of": "2026-02-01"}
        model = CourseAssessmentRequest.model_validate(body)
    idem = key()
    claim = claim_in_flight(api, path, idem, model)
    before = last_audit_id(api)

    busy = api.post(path, json=body, headers={**AUTH, IDEMPOTENCY: idem})

    assert_problem(busy, 409, "idempotency-in-flight")
    assert events(api, cid) == []
    assert last_audit_id(api) == before
    if what == "course":
        r = api.get("/v1/courses", params={"patient_ref": body["patient_ref"]}, headers=AUTH)
        assert r.json()["courses"] == []
    # Once the first request is over (here: it failed and let go of its key), a retry proceeds.
    release(services_of(api), claim)
    retry = api.post(path, json=body, headers={**AUTH, IDEMPOTENCY: idem})
    assert retry.status_code in (200, 201), retry.text
    assert REPLAYED not in retry.headers


def test_a_claim_left_by_a_request_that_died_is_taken_over(api: TestClient, apps: Apps) -> None:
    course = create_course(api)
    path = f"/v1/courses/{course['id']}/labs"
    body = EVENT_BODIES["labs"]("2026-01-02")
    idem = key()
    claim_in_flight(api, path, idem, EVENT_MODELS["lab"].model_validate(body))
    assert_problem(api.post(path, json=body, headers={**AUTH, IDEMPOTENCY: idem}), 409)
    old = datetime.now(UTC) - timedelta(minutes=5)
    run_sql(
        apps.url,
        update(IdempotencyKey).where(col(IdempotencyKey.key) == idem).values(created_at=old),
    )

    retry = api.post(path, json=body, headers={**AUTH, IDEMPOTENCY: idem})

    assert retry.status_code == 201, retry.text
    assert len(events(api, course["id"])) == 1


def test_concurrent_requests_with_one_key_write_once(api: TestClient) -> None:
    course = create_course(api, weight_at_start_kg=60)
    path = f"/v1/courses/{course['id']}/dispensings"
    body = EVENT_BODIES["dispensings"]("2026-01-05")
    headers = {**AUTH, IDEMPOTENCY: key()}

    responses = in_parallel([lambda: api.post(path, json=body, headers=headers)] * 8)

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    created = [r for r in responses if r.status_code == 201]
    assert created
    assert len({r.content for r in created}) == 1  # the original and its replays
    for r in responses:
        if r.status_code == 409:
            assert_problem(r, 409, "idempotency-in-flight")
    assert len(events(api, course["id"])) == 1


def test_keys_are_scoped_per_caller(api: TestClient) -> None:
    course = create_course(api, weight_at_start_kg=60)
    path = f"/v1/courses/{course['id']}/labs"
    idem = key()
    mine = EVENT_BODIES["labs"]("2026-01-02")
    theirs = {**EVENT_BODIES["labs"]("2026-01-02"), "value": 150}

    a = api.post(path, json=mine, headers={**AUTH, IDEMPOTENCY: idem})
    b = api.post(path, json=theirs, headers={**AUTH_OTHER, IDEMPOTENCY: idem})

    assert a.status_code == 201, a.text
    assert b.status_code == 201, b.text  # not a reused key: another caller's
    assert REPLAYED not in b.headers
    assert a.json()["id"] != b.json()["id"]
    # Each caller's retry replays its own answer.
    a2 = api.post(path, json=mine, headers={**AUTH, IDEMPOTENCY: idem})
    b2 = api.post(path, json=theirs, headers={**AUTH_OTHER, IDEMPOTENCY: idem})
    assert (a2.headers[REPLAYED], a2.content) == ("true", a.content)
    assert (b2.headers[REPLAYED], b2.content) == ("true", b.content)
    # The same body from the other caller is a new request, not a replay.
    c = api.post(path, json=mine, headers={**AUTH_OTHER, IDEMPOTENCY: key()})
    assert c.status_code == 201
    assert len(events(api, course["id"])) == 3


def test_a_refused_request_does_not_use_up_its_key(api: TestClient) -> None:
    course = create_course(api, start_date="2026-01-05")
    path = f"/v1/courses/{course['id']}/dispensings"
    headers = {**AUTH, IDEMPOTENCY: key()}
    early = EVENT_BODIES["dispensings"]("2026-01-04")  # before the start: refused

    assert_invalid(api.post(path, json=early, headers=headers), "$.dispensed_on")
    assert_invalid(api.post(path, json=early, headers=headers), "$.dispensed_on")  # not 409
    fixed = api.post(path, json=EVENT_BODIES["dispensings"]("2026-01-05"), headers=headers)

    assert fixed.status_code == 201, fixed.text
    assert len(events(api, course["id"])) == 1


def test_a_get_ignores_an_idempotency_key(api: TestClient) -> None:
    """Only POSTs take an Idempotency-Key: a GET answers for its own query, every time."""
    course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
    path = f"/v1/courses/{course['id']}/checklist"
    headers = {**AUTH, IDEMPOTENCY: key()}

    first = api.get(path, params={"as_of": "2026-02-01"}, headers=headers)
    second = api.get(path, params={"as_of": "2026-03-01"}, headers=headers)

    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    assert first.json()["as_of"] == "2026-02-01"
    assert second.json()["as_of"] == "2026-03-01", "a GET replayed another query's answer"
    assert REPLAYED not in second.headers


# --- concurrency -----------------------------------------------------------------------------


def test_two_concurrent_event_appends_both_land(api: TestClient) -> None:
    course = create_course(api, weight_at_start_kg=60)
    path = f"/v1/courses/{course['id']}/dispensings"
    body = EVENT_BODIES["dispensings"]("2026-01-05")

    responses = in_parallel([lambda: api.post(path, json=body, headers=AUTH)] * 2)

    assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 2
    assert {e["id"] for e in events(api, course["id"])} == ids
    started, _ = get_course(api, course["id"])
    assert (started["status"], started["start_date"]) == ("active", "2026-01-05")
    assert course_checklist(api, course["id"], "2026-01-20")["cumulative"]["mg"] == 2400


def test_many_concurrent_event_appends_all_land(api: TestClient) -> None:
    course = create_course(api, start_date="2026-01-05")
    path = f"/v1/courses/{course['id']}/labs"
    bodies = [{**EVENT_BODIES["labs"]("2026-01-02"), "value": 100 + i} for i in range(12)]

    responses = in_parallel(
        [lambda b=b: api.post(path, json=b, headers=AUTH) for b in bodies]  # type: ignore[misc]
    )

    assert [r.status_code for r in responses] == [201] * len(bodies)
    stored = sorted(e["data"]["value"] for e in events(api, course["id"]))
    assert stored == sorted(float(b["value"]) for b in bodies)


def test_two_patches_with_the_same_etag_one_wins(api: TestClient) -> None:
    course = create_course(api, start_date="2026-01-05")
    path = f"/v1/courses/{course['id']}"
    stop = {"status": "stopped", "date": "2026-02-01", "stop_reason": "patient's choice"}
    complete = {"status": "completed", "date": "2026-02-02"}
    headers = {**AUTH, "If-Match": '"1"'}

    responses = in_parallel(
        [
            lambda: api.patch(path, json=stop, headers=headers),
            lambda: api.patch(path, json=complete, headers=headers),
        ]
    )

    assert sorted(r.status_code for r in responses) == [200, 412], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 200)
    loser = next(r for r in responses if r.status_code == 412)
    assert_problem(loser, 412, "precondition-failed")
    final, tag = get_course(api, course["id"])
    assert tag == '"2"'
    assert final["status"] == winner.json()["status"]


# --- 503: the audit record or the write cannot be committed ----------------------------------


def _assert_503(r: Any) -> None:
    body = assert_problem(r, 503, "service-unavailable")
    for leaked in ("decision", "findings", "checklist", "dosing", "entries", "cumulative"):
        assert leaked not in body, body


def test_no_evaluation_is_answered_when_its_audit_record_cannot_be_committed(
    apps: Apps,
) -> None:
    broken = Apps(apps.engine, new_database(apps.engine))
    run_sql(broken.url, "DROP TABLE audit_record")
    try:
        api = broken.client()
        # Writes do not need the audit table.
        course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
        cid = course["id"]
        append(api, cid, "dispensings", EVENT_BODIES["dispensings"]("2026-01-05"))
        idem = {**AUTH, IDEMPOTENCY: key()}

        _assert_503(api.post("/v1/assessments", json=A1_REQUEST, headers=AUTH))
        _assert_503(api.post("/v1/assessments", json=A1_REQUEST, headers=idem))
        _assert_503(api.post("/v1/assessments", json=A1_REQUEST, headers=idem))  # not 409
        checklist = CHECKLIST_EXAMPLES["follow-up"]["value"]
        _assert_503(api.post("/v1/checklists", json=checklist, headers=AUTH))
        dosing = DOSING_EXAMPLES["e1"]["value"]
        _assert_503(api.post("/v1/dosing-plans", json=dosing, headers=AUTH))
        query = {"as_of": "2026-02-01"}
        _assert_503(api.get(f"/v1/courses/{cid}/checklist", params=query, headers=AUTH))
        _assert_503(api.get(f"/v1/courses/{cid}/timeline", params=query, headers=AUTH))
        _assert_503(api.post(f"/v1/courses/{cid}/assessments", json=query, headers=AUTH))
    finally:
        broken.close()


def test_a_course_write_that_cannot_be_committed_is_a_503(apps: Apps) -> None:
    broken = Apps(apps.engine, new_database(apps.engine))
    run_sql(broken.url, "DROP TABLE course_event")
    try:
        api = broken.client()
        course = create_course(api, weight_at_start_kg=60)
        path = f"/v1/courses/{course['id']}/dispensings"
        body = EVENT_BODIES["dispensings"]("2026-01-05")

        _assert_503(api.post(path, json=body, headers=AUTH))
        _assert_503(api.post(path, json=body, headers={**AUTH, IDEMPOTENCY: key()}))
        _assert_503(api.get(f"/v1/courses/{course['id']}/events", headers=AUTH))
        # Nothing half-written: the course did not start.
        after, tag = get_course(api, course["id"])
        assert (after["status"], after["start_date"], tag) == ("planned", None, '"1"')
    finally:
        broken.close()


# --- every declared status, produced ---------------------------------------------------------

EVALUATION = {400, 401, 403, 409, 413, 415, 422, 500, 503}
READ = {401, 403, 404, 422, 500, 503}
COURSE_PATH = "/v1/courses/{course_id}"


@dataclass(frozen=True)
class Route:
    """A course or evaluation route: what it answers, and a valid and an invalid request."""

    method: str
    path: str
    statuses: frozenset[int]
    body: dict[str, Any] | None = None
    model: type[BaseModel] | None = None
    query: str = ""
    invalid_body: dict[str, Any] | None = None
    invalid_query: str | None = None  # replaces ``query`` for the 422
    invalid_id: bool = False  # the 422 comes from a course ID that is too long

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _event_route(route: str) -> Route:
    return Route(
        "POST",
        f"{COURSE_PATH}/{route}",
        frozenset({201, 404} | EVALUATION),
        EVENT_BODIES[route]("2026-01-10"),
        EVENT_MODELS[EVENT_KINDS[route]],
        invalid_body={},
    )


ROUTES = [
    Route(
        "POST",
        "/v1/assessments",
        frozenset({200} | EVALUATION),
        A1_REQUEST,
        AssessmentRequest,
        invalid_body={**A1_REQUEST, "jurisdiction": "XX"},
    ),
    Route(
        "POST",
        "/v1/checklists",
        frozenset({200} | EVALUATION),
        CHECKLIST_EXAMPLES["follow-up"]["value"],
        ChecklistRequest,
        invalid_body={"as_of": "2026-03-01"},
    ),
    Route(
        "POST",
        "/v1/dosing-plans",
        frozenset({200} | EVALUATION),
        DOSING_EXAMPLES["e1"]["value"],
        DosingPlanRequest,
        invalid_body={"jurisdiction": "US"},
    ),
    Route(
        "POST",
        "/v1/courses",
        frozenset({201} | EVALUATION),
        {"patient_ref": "status-matrix", "jurisdiction": "US"},
        CourseCreate,
        invalid_body={"jurisdiction": "US"},
    ),
    Route(
        "GET",
        "/v1/courses",
        frozenset({200} | READ - {404}),
        query="?patient_ref={patient_ref}",
        invalid_query="",
    ),
    Route("GET", COURSE_PATH, frozenset({200} | READ), invalid_id=True),
    Route(
        "PATCH",
        COURSE_PATH,
        frozenset({200, 400, 401, 403, 404, 412, 413, 415, 422, 428, 500, 503}),
        {"product": "generic"},
        CoursePatch,
        invalid_body={"status": "restarted"},
    ),
    *[_event_route(r) for r in EVENT_KINDS],
    Route("GET", f"{COURSE_PATH}/events", frozenset({200} | READ), invalid_id=True),
    Route(
        "GET",
        f"{COURSE_PATH}/checklist",
        frozenset({200} | READ),
        query="?as_of=2026-02-01",
        invalid_query="?as_of=2026-02-30",
    ),
    Route(
        "POST",
        f"{COURSE_PATH}/assessments",
        frozenset({200, 404} | EVALUATION),
        {"as_of": "2026-02-01", "profile": {"medications": []}},
        CourseAssessmentRequest,
        invalid_body={"as_of": "yesterday"},
    ),
    Route(
        "GET",
        f"{COURSE_PATH}/timeline",
        frozenset({200} | READ),
        query="?as_of=2026-02-01",
        invalid_query="?as_of=someday",
    ),
]
# Routes that read no stored data cannot be made to fail with a 500 without injecting a fault
# into our code; the 500 problem itself is tested on an added failing route in
# test_security_and_logs.py.
NO_REAL_500 = {"POST /v1/assessments", "POST /v1/checklists", "POST /v1/dosing-plans"}
NO_REAL_500 |= {"POST /v1/courses"}
SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "course-not-found",
    409: "idempotency-in-flight",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    500: "internal-error",
    503: "service-unavailable",
}


def test_each_route_declares_exactly_the_statuses_it_uses(api: TestClient) -> None:
    paths = cast(FastAPI, api.app).openapi()["paths"]
    declared = {
        f"{method.upper()} {path}": {int(s) for s in op["responses"]}
        for path, ops in paths.items()
        if path.startswith("/v1/courses") or path in {r.path for r in ROUTES}
        for method, op in ops.items()
    }
    expected = {r.id: set(r.statuses) for r in ROUTES}
    assert set(declared) == set(expected)
    wrong = {
        route: {"declared, never used": sorted(declared[route] - used)}
        | {"used, not declared": sorted(used - declared[route])}
        for route, used in expected.items()
        if declared[route] != used
    }
    assert wrong == {}, wrong
    # Every problem status is documented as application/problem+json.
    for path, ops in paths.items():
        for method, op in ops.items():
            if f"{method.upper()} {path}" in expected:
                for status, response in op["responses"].items():
                    if int(status) >= 400:
                        assert "application/problem+json" in response["content"], (path, status)


@dataclass
class World:
    """What the status matrix needs on one engine."""

    api: TestClient
    down: TestClient  # an app whose database is unreachable
    course_id: str
    corrupt_id: str  # a course whose stored row no code path can read
    corrupt_patient: str


@pytest.fixture(scope="module")
def world(apps: Apps, api: TestClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A started course, a corrupt course, and an app whose database is unreachable."""
    course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
    corrupt_id, corrupt_patient = str(uuid.uuid4()), patient()
    now = datetime.now(UTC)
    row = {"created_at": now, "created_by": "someone"}
    run_sql(
        apps.url,
        insert(Course).values(
            id=corrupt_id,
            tenant=DEFAULT_TENANT,
            patient_ref=corrupt_patient,
            jurisdiction="ZZ",
            status="bogus",
            version=1,
            updated_at=now,
            **row,
        ),
        insert(CourseEvent).values(
            course_id=corrupt_id,
            tenant=DEFAULT_TENANT,
            kind="bogus",
            event_date=date(2026, 1, 5),
            data={},
            **row,
        ),
    )
    if apps.engine == "sqlite":
        folder = Path(tmp_path_factory.mktemp("down"))
        (folder / "isocds.db").mkdir()  # a directory where the database file should be
        url = f"sqlite:///{folder}/isocds.db"
    else:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/isocds_absent_{uuid.uuid4().hex}"
    unreachable = Apps(apps.engine, url)
    down = unreachable.client(db=DbSettings(database_url=SecretStr(url), db_timeout_s=DB_TIMEOUT_S))
    yield World(api, down, course["id"], corrupt_id, corrupt_patient)
    unreachable.close()


CASES = [
    pytest.param(route, status, id=f"{route.id} {status}")
    for route in ROUTES
    for status in sorted(route.statuses)
    if status >= 400 and not (status == 500 and route.id in NO_REAL_500)
]


@pytest.mark.parametrize(("route", "status"), CASES)
def test_each_declared_problem_status_is_produced(world: World, route: Route, status: int) -> None:
    client = world.api
    course_id = world.course_id
    query = route.query.format(patient_ref=world.corrupt_patient if status == 500 else "x")
    body = copy.deepcopy(route.body)
    headers = {**AUTH, "If-Match": '"1"'} if route.method == "PATCH" else dict(AUTH)
    content: bytes | None = None
    if route.path == "/v1/courses" and body is not None:
        body["patient_ref"] = patient()

    if status == 400:
        content, headers["Content-Type"] = b'{"as_of": ', "application/json"
    elif status == 401:
        headers.pop("Authorization")
    elif status == 403:
        headers.update(AUTH_UNSCOPED)  # a valid key without the route's scope
    elif status == 404:
        course_id = str(uuid.uuid4())
    elif status == 409:
        assert route.model is not None
        assert body is not None
        idem = key()
        path = route.path.format(course_id=course_id)
        claim_in_flight(client, path, idem, route.model.model_validate(body))
        headers[IDEMPOTENCY] = idem
    elif status == 412:
        headers["If-Match"] = '"999"'
    elif status == 413:
        content = b'{"padding": "' + b"x" * 300_000 + b'"}'
        headers["Content-Type"] = "application/json"
    elif status == 415:
        content, headers["Content-Type"] = b"{}", "text/plain"
    elif status == 422:
        if route.invalid_body is not None:
            body = route.invalid_body
        if route.invalid_query is not None:
            query = route.invalid_query
        if route.invalid_id:
            course_id = "x" * 37
    elif status == 428:
        headers.pop("If-Match")
    elif status == 500:
        course_id = world.corrupt_id
    elif status == 503:
        client = world.down

    url = route.path.format(course_id=course_id) + query
    started = time.monotonic()
    if content is not None:
        r = client.request(route.method, url, content=content, headers=headers)
    else:
        r = client.request(route.method, url, json=body, headers=headers)

    assert_problem(r, status, SLUGS[status])
    if status == 503:
        assert time.monotonic() - started < DB_TIMEOUT_S + 1.0
    if status == 500:
        assert "bogus" not in r.text
        assert "ValueError" not in r.text
        assert "ValidationError" not in r.text
