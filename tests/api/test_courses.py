"""Treatment courses over HTTP (the courses issue): CRUD, status changes, events and their
validation. The shared fixtures' design and helpers live here; the other course files reuse them:
``test_courses_checklist.py`` (the course checklist, vignettes F1 and F2, course assessments, the
timeline), ``test_courses_safety.py`` (idempotency, concurrency, 503s, declared statuses) and
``test_courses_audit.py`` (the audit trail).

Every test runs against both SQLite and PostgreSQL: the ``api`` fixture is a client of the real app
(``create_app``, real middleware) on a fresh migrated database of each engine, one per engine per
module, shared by the module's tests (each test works on its own courses and patients). PostgreSQL
must be running: its tests fail, never skip, when it is not. Nothing of ours is mocked.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import create_app
from tests.api.conftest import AUTH, KEY_ID, SECRET, key_entry, settings
from tests.database import create_pg_database, fresh_sqlite_url

T = TypeVar("T")

ENGINES = ["sqlite", "postgresql"]
PROBLEM_JSON = "application/problem+json"

OTHER_KEY_ID = "ehr-other"
OTHER_SECRET = "an0ther-s3cret-for-tests-98765"  # noqa: S105  # a test key
AUTH_OTHER = {"Authorization": f"Bearer {OTHER_SECRET}"}
# A key of the same tenant holding no scope of the course and evaluation routes (403 there).
UNSCOPED_KEY_ID = "ehr-feedback-only"
UNSCOPED_SECRET = "feedback-only-s3cret-for-tests-42"  # noqa: S105  # a test key
AUTH_UNSCOPED = {"Authorization": f"Bearer {UNSCOPED_SECRET}"}

# The date field of each event route, and the kind it is stored under.
EVENT_DATE_FIELDS = {
    "visits": "visit_date",
    "dispensings": "dispensed_on",
    "labs": "collected_on",
    "pregnancy-tests": "specimen_date",
    "contraception": "start_date",
    "counselling": "given_on",
    "documentation": "recorded_on",
    "pregnancy-potential": "recorded_on",
}
EVENT_KINDS = {
    "visits": "visit",
    "dispensings": "dispensing",
    "labs": "lab",
    "pregnancy-tests": "pregnancy-test",
    "contraception": "contraception",
    "counselling": "counselling",
    "documentation": "documentation",
    "pregnancy-potential": "pregnancy-potential",
}
PREGNANCY_TEST_ITEMS = "monitoring.pregnancy-test."


# --- databases and apps ----------------------------------------------------------------------


def new_database(engine: str) -> str:
    """A fresh migrated database of ``engine`` (PostgreSQL must be up: fail, never skip)."""
    return fresh_sqlite_url() if engine == "sqlite" else create_pg_database()


class Apps:
    """Apps (with two API keys of every scope, and one with only ``feedback:read``, all in
    tenant ``default``) on one database, each behind an entered ``TestClient``."""

    def __init__(self, engine: str, url: str) -> None:
        self.engine = engine
        self.url = url
        self._clients: list[TestClient] = []

    def app(self, **overrides: Any) -> FastAPI:
        """A new app on this database (``overrides``: settings)."""
        keys = SecretStr(
            ",".join(
                (
                    key_entry(KEY_ID, SECRET),
                    key_entry(OTHER_KEY_ID, OTHER_SECRET),
                    key_entry(UNSCOPED_KEY_ID, UNSCOPED_SECRET, scopes="feedback:read"),
                )
            )
        )
        values: dict[str, Any] = {"database_url": self.url, "api_keys": keys, **overrides}
        return create_app(settings(**values))

    def client(self, **overrides: Any) -> TestClient:
        """A started client of a new app on this database."""
        c = TestClient(self.app(**overrides), raise_server_exceptions=False)
        c.__enter__()
        self._clients.append(c)
        return c

    def close(self) -> None:
        """Stop every client (and so its app's audit writer and engine)."""
        for c in reversed(self._clients):
            c.__exit__(None, None, None)
        self._clients.clear()


@pytest.fixture(scope="module", params=ENGINES)
def apps(request: pytest.FixtureRequest) -> Iterator[Apps]:
    """Apps on a fresh migrated database of each engine (one per engine for this module)."""
    a = Apps(request.param, new_database(request.param))
    yield a
    a.close()


@pytest.fixture(scope="module")
def api(apps: Apps) -> TestClient:
    """A client of the app with default settings (US lab profile ``label``, zone UTC)."""
    return apps.client()


# --- helpers ---------------------------------------------------------------------------------


def patient() -> str:
    """A patient reference no other test uses."""
    return f"pat-{uuid.uuid4().hex[:12]}"


def assert_problem(r: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    """``r`` is an RFC 9457 problem of ``status`` (and type ``slug``); return its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].split(";")[0].strip() == PROBLEM_JSON, r.headers
    body: dict[str, Any] = r.json()
    assert body.get("status") == status, body
    assert str(body.get("type", "")).startswith("urn:isocds:problem:"), body
    if slug is not None:
        assert body["type"] == f"urn:isocds:problem:{slug}", body
    assert body.get("title"), body
    assert body.get("detail"), body
    assert "Traceback" not in r.text
    return body


def assert_invalid(r: Any, path: str) -> list[dict[str, Any]]:
    """``r`` is a 422 validation problem whose errors name ``path``."""
    body = assert_problem(r, 422, "validation-error")
    errors: list[dict[str, Any]] = body.get("errors") or []
    assert [e for e in errors if e.get("path") == path and e.get("reason")], (path, errors)
    return errors


def create_course(api: TestClient, **fields: Any) -> dict[str, Any]:
    """``POST /v1/courses`` (US, a new patient unless given); assert 201 and return the course."""
    body: dict[str, Any] = {"patient_ref": patient(), "jurisdiction": "US", **fields}
    r = api.post("/v1/courses", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def get_course(api: TestClient, course_id: str) -> tuple[dict[str, Any], str]:
    """The course and its ETag."""
    r = api.get(f"/v1/courses/{course_id}", headers=AUTH)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out, r.headers["ETag"]


def append(
    api: TestClient, course_id: str, route: str, body: dict[str, Any], **headers: str
) -> dict[str, Any]:
    """Append an event; assert 201 and return the stored event."""
    r = api.post(f"/v1/courses/{course_id}/{route}", json=body, headers={**AUTH, **headers})
    assert r.status_code == 201, (route, body, r.text)
    out: dict[str, Any] = r.json()
    return out


def events(api: TestClient, course_id: str) -> list[dict[str, Any]]:
    """``GET /v1/courses/{id}/events``."""
    r = api.get(f"/v1/courses/{course_id}/events", headers=AUTH)
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()["events"]
    return out


def course_checklist(api: TestClient, course_id: str, as_of: str) -> dict[str, Any]:
    """``GET /v1/courses/{id}/checklist?as_of=…``; assert 200."""
    r = api.get(f"/v1/courses/{course_id}/checklist", params={"as_of": as_of}, headers=AUTH)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def course_assessment(api: TestClient, course_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/courses/{id}/assessments``; assert 200."""
    r = api.post(f"/v1/courses/{course_id}/assessments", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def item(checklist: list[dict[str, Any]], rule_id: str) -> dict[str, Any]:
    """The checklist entry of ``rule_id``."""
    found = [c for c in checklist if c["rule_id"] == rule_id]
    assert len(found) == 1, (rule_id, [c["rule_id"] for c in checklist])
    return found[0]


def finding(out: dict[str, Any], rule_id: str) -> dict[str, Any]:
    """The finding of ``rule_id`` in an assessment."""
    found: list[dict[str, Any]] = [f for f in out["findings"] if f["rule_id"] == rule_id]
    assert len(found) == 1, (rule_id, [f["rule_id"] for f in out["findings"]])
    return found[0]


def audit_after(api: TestClient, after_id: int = 0, **filters: str) -> list[dict[str, Any]]:
    """Every audit record after ``after_id`` (``GET /v1/audit``, all pages), oldest first."""
    records: list[dict[str, Any]] = []
    cursor: int | None = after_id
    while cursor is not None:
        params = {"after_id": str(cursor), "limit": "1000", **filters}
        r = api.get("/v1/audit", params=params, headers=AUTH)
        assert r.status_code == 200, r.text
        records += r.json()["records"]
        cursor = r.json()["next_after_id"]
    return records


def last_audit_id(api: TestClient) -> int:
    """The ID of the newest audit record (0 when there is none)."""
    return max((rec["id"] for rec in audit_after(api)), default=0)


def in_parallel(calls: list[Callable[[], T]]) -> list[T]:
    """Run ``calls`` in threads released together by a barrier; their results, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, c) for c in calls]
        return [f.result(timeout=120) for f in futures]


def today() -> date:
    """Today in the test apps' zone (UTC)."""
    return datetime.now(ZoneInfo("UTC")).date()


# Event bodies, valid for each route, dated ``day``.
EVENT_BODIES: dict[str, Callable[[str], dict[str, Any]]] = {
    "visits": lambda day: {
        "visit_date": day,
        "weight": {"value": 60, "unit": "kg"},
        "mood_screen": {"instrument": "phq-9", "total": 2, "item_9": 0},
        "reported_symptoms": [],
    },
    "dispensings": lambda day: {"dispensed_on": day, "mg_per_day": 40, "days_supplied": 30},
    "labs": lambda day: {
        "loinc": "2571-8",
        "value": 110,
        "unit": "mg/dL",
        "collected_on": day,
        "fasting": True,
    },
    "pregnancy-tests": lambda day: {
        "specimen_date": day,
        "result": "negative",
        "setting": "medical-lab",
        "clia_certified": True,
    },
    "contraception": lambda day: {"method": "combined-pill", "start_date": day},
    "counselling": lambda day: {"topic": "pregnancy-prevention", "given_on": day},
    "documentation": lambda day: {"kind": "rems-enrolment", "recorded_on": day},
    "pregnancy-potential": lambda day: {"recorded_on": day, "category": "can-become-pregnant"},
}

# --- courses ---------------------------------------------------------------------------------


def test_create_a_planned_course_and_read_it_back(api: TestClient) -> None:
    ref = patient()
    body = {
        "patient_ref": ref,
        "jurisdiction": "US",
        "product": "generic",
        "weight_at_start_kg": 60,
        "target_cumulative_mg_per_kg": 130,
    }
    r = api.post("/v1/courses", json=body, headers=AUTH)

    assert r.status_code == 201, r.text
    course = r.json()
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == f"/v1/courses/{course['id']}"
    assert course["status"] == "planned"
    assert course["start_date"] is None
    assert course["end_date"] is None
    assert course["version"] == 1
    assert course["patient_ref"] == ref
    assert course["product"] == "generic"
    assert course["weight_at_start_kg"] == 60
    assert course["target_cumulative_mg_per_kg"] == 130

    got = api.get(r.headers["Location"], headers=AUTH)
    assert got.status_code == 200, got.text
    assert got.headers["ETag"] == '"1"'
    assert got.json() == course


def test_a_course_created_with_a_start_date_is_active(api: TestClient) -> None:
    r = api.post(
        "/v1/courses",
        json={"patient_ref": patient(), "jurisdiction": "EU", "start_date": "2026-01-05"},
        headers=AUTH,
    )
    assert r.status_code == 201, r.text
    assert r.headers["ETag"] == '"1"'
    assert r.json()["status"] == "active"
    assert r.json()["start_date"] == "2026-01-05"
    assert r.json()["jurisdiction"] == "EU"


def test_a_course_cannot_start_after_today(api: TestClient) -> None:
    tomorrow = (today() + timedelta(days=1)).isoformat()
    r = api.post(
        "/v1/courses",
        json={"patient_ref": patient(), "jurisdiction": "US", "start_date": tomorrow},
        headers=AUTH,
    )
    assert_invalid(r, "$.start_date")


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"status": "active", "date": "2026-01-05"}),
        ("GET", "/events", None),
        ("POST", "/dispensings", EVENT_BODIES["dispensings"]("2026-01-05")),
        ("POST", "/labs", EVENT_BODIES["labs"]("2026-01-05")),
        ("GET", "/checklist?as_of=2026-03-01", None),
        ("POST", "/assessments", {"as_of": "2026-03-01"}),
        ("GET", "/timeline?as_of=2026-03-01", None),
    ],
)
def test_an_unknown_course_is_a_404_course_not_found(
    api: TestClient, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    unknown = str(uuid.uuid4())
    headers = {**AUTH, "If-Match": '"1"'}
    r = api.request(method, f"/v1/courses/{unknown}{suffix}", json=body, headers=headers)
    problem = assert_problem(r, 404, "course-not-found")
    assert unknown in problem["detail"]


def test_list_courses_of_one_patient(api: TestClient) -> None:
    ref, other = patient(), patient()
    first = create_course(api, patient_ref=ref)
    second = create_course(api, patient_ref=ref, start_date="2026-01-05")
    create_course(api, patient_ref=other)

    r = api.get("/v1/courses", params={"patient_ref": ref}, headers=AUTH)

    assert r.status_code == 200, r.text
    courses = r.json()["courses"]
    assert [c["id"] for c in courses] == [first["id"], second["id"]]  # oldest first
    assert {c["patient_ref"] for c in courses} == {ref}
    nobody = api.get("/v1/courses", params={"patient_ref": patient()}, headers=AUTH)
    assert nobody.status_code == 200
    assert nobody.json()["courses"] == []


# --- status changes --------------------------------------------------------------------------


def patch(api: TestClient, course_id: str, body: dict[str, Any], if_match: str | None) -> Any:
    """``PATCH /v1/courses/{id}`` with ``If-Match`` (when given)."""
    headers = dict(AUTH)
    if if_match is not None:
        headers["If-Match"] = if_match
    return api.patch(f"/v1/courses/{course_id}", json=body, headers=headers)


def test_start_then_complete_a_course(api: TestClient) -> None:
    course = create_course(api, weight_at_start_kg=60)

    started = patch(api, course["id"], {"status": "active", "date": "2026-01-05"}, '"1"')
    assert started.status_code == 200, started.text
    assert started.headers["ETag"] == '"2"'
    assert started.json()["status"] == "active"
    assert started.json()["start_date"] == "2026-01-05"
    assert started.json()["version"] == 2

    done = patch(api, course["id"], {"status": "completed", "date": "2026-06-01"}, '"2"')
    assert done.status_code == 200, done.text
    assert done.headers["ETag"] == '"3"'
    assert done.json()["status"] == "completed"
    assert done.json()["end_date"] == "2026-06-01"
    assert get_course(api, course["id"]) == (done.json(), '"3"')


def test_stop_a_course_with_its_reason(api: TestClient) -> None:
    course = create_course(api, start_date="2026-01-05")
    body = {"status": "stopped", "date": "2026-02-10", "stop_reason": "depressive symptoms"}

    r = patch(api, course["id"], body, '"1"')

    assert r.status_code == 200, r.text
    assert r.json()["status"] == "stopped"
    assert r.json()["stop_reason"] == "depressive symptoms"
    assert r.json()["end_date"] == "2026-02-10"
    assert r.headers["ETag"] == '"2"'


def test_patch_without_if_match_is_428(api: TestClient) -> None:
    course = create_course(api)
    r = patch(api, course["id"], {"status": "active", "date": "2026-01-05"}, None)
    assert_problem(r, 428, "precondition-required")
    assert get_course(api, course["id"])[0]["status"] == "planned"


def test_patch_with_a_stale_etag_is_412(api: TestClient) -> None:
    course = create_course(api)
    ok = patch(api, course["id"], {"status": "active", "date": "2026-01-05"}, '"1"')
    assert ok.status_code == 200, ok.text

    stale = patch(api, course["id"], {"status": "stopped", "date": "2026-01-20"}, '"1"')

    assert_problem(stale, 412, "precondition-failed")
    after, tag = get_course(api, course["id"])
    assert (after["status"], tag) == ("active", '"2"')


@pytest.mark.parametrize(
    ("start", "body", "path"),
    [
        # completed → active: a finished course cannot restart
        ("completed", {"status": "active", "date": "2026-03-01"}, "$.status"),
        # active → active
        (None, {"status": "active", "date": "2026-01-06"}, "$.status"),
        # a stop without a reason
        (None, {"status": "stopped", "date": "2026-02-01"}, "$.stop_reason"),
        # a completion without a date
        (None, {"status": "completed"}, "$.date"),
        # a last dose before the first
        (None, {"status": "completed", "date": "2026-01-01"}, "$.date"),
    ],
)
def test_invalid_status_changes_are_422(
    api: TestClient, start: str | None, body: dict[str, Any], path: str
) -> None:
    course = create_course(api, start_date="2026-01-05")
    tag = '"1"'
    if start == "completed":
        r = patch(api, course["id"], {"status": "completed", "date": "2026-02-01"}, tag)
        assert r.status_code == 200, r.text
        tag = r.headers["ETag"]

    r = patch(api, course["id"], body, tag)

    assert_invalid(r, path)
    assert get_course(api, course["id"])[1] == tag  # nothing changed


# --- events ----------------------------------------------------------------------------------


def test_every_event_route_appends_and_the_events_come_back_in_date_order(
    api: TestClient,
) -> None:
    course = create_course(api, weight_at_start_kg=60)
    cid = course["id"]
    # Posted out of date order; two on the same date keep the order they were recorded in.
    dates = {
        "pregnancy-potential": "2025-12-01",
        "labs": "2026-01-02",
        "documentation": "2025-12-10",
        "counselling": "2025-12-10",
        "contraception": "2025-11-01",
        "pregnancy-tests": "2026-01-02",
        "dispensings": "2026-01-05",
        "visits": "2026-02-04",
    }
    stored: dict[str, dict[str, Any]] = {}
    for route, day in dates.items():
        r = api.post(f"/v1/courses/{cid}/{route}", json=EVENT_BODIES[route](day), headers=AUTH)
        assert r.status_code == 201, (route, r.text)
        ev = r.json()
        assert ev["kind"] == EVENT_KINDS[route]
        assert ev["course_id"] == cid
        assert ev["event_date"] == day
        assert r.headers["Location"] == f"/v1/courses/{cid}/events/{ev['id']}"
        for name, value in EVENT_BODIES[route](day).items():
            if name not in ("weight", "mood_screen"):
                assert ev["data"][name] == value, (route, name, ev["data"])
        stored[route] = ev

    listed = events(api, cid)

    assert sorted(e["id"] for e in listed) == sorted(e["id"] for e in stored.values())
    expected_order = sorted(stored.values(), key=lambda e: (e["event_date"], e["id"]))
    assert [e["id"] for e in listed] == [e["id"] for e in expected_order]
    assert [e["event_date"] for e in listed] == sorted(e["event_date"] for e in listed)
    assert {e["kind"] for e in listed} == set(EVENT_KINDS.values())
    by_id = {e["id"]: e for e in listed}
    for ev in stored.values():
        assert by_id[ev["id"]] == ev


def test_the_first_dispensing_starts_a_planned_course(api: TestClient) -> None:
    course = create_course(api, weight_at_start_kg=60)
    assert course["status"] == "planned"

    append(api, course["id"], "dispensings", EVENT_BODIES["dispensings"]("2026-01-05"))

    started, tag = get_course(api, course["id"])
    assert started["status"] == "active"
    assert started["start_date"] == "2026-01-05"
    assert tag != '"1"'  # the change is a new version: a PATCH with the old ETag is stale

    append(api, course["id"], "dispensings", EVENT_BODIES["dispensings"]("2026-02-04"))
    again, _ = get_course(api, course["id"])
    assert (again["status"], again["start_date"]) == ("active", "2026-01-05")


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("route", list(EVENT_DATE_FIELDS))
def test_an_event_dated_after_today_is_refused(api: TestClient, route: str) -> None:
    course = create_course(api)
    tomorrow = (today() + timedelta(days=1)).isoformat()

    r = api.post(
        f"/v1/courses/{course['id']}/{route}", json=EVENT_BODIES[route](tomorrow), headers=AUTH
    )

    assert_invalid(r, f"$.{EVENT_DATE_FIELDS[route]}")
    assert events(api, course["id"]) == []
    # today itself is fine
    append(api, course["id"], route, EVENT_BODIES[route](today().isoformat()))


def test_a_contraception_confirmation_after_today_is_refused(api: TestClient) -> None:
    course = create_course(api)
    tomorrow = (today() + timedelta(days=1)).isoformat()
    body = {"method": "implant", "start_date": "2025-10-01", "confirmed_on": tomorrow}
    r = api.post(f"/v1/courses/{course['id']}/contraception", json=body, headers=AUTH)
    assert_invalid(r, "$.confirmed_on")


def test_after_today_means_in_the_server_time_zone(apps: Apps) -> None:
    # Kiritimati (UTC+14) is always 26 hours ahead of Etc/GMT+12 (UTC−12): its date is after
    # today in UTC−12 and never after today at home.
    ahead = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    east = apps.client(timezone="Pacific/Kiritimati")
    west = apps.client(timezone="Etc/GMT+12")
    course = create_course(east)
    body = EVENT_BODIES["visits"](ahead.isoformat())

    assert (
        east.post(f"/v1/courses/{course['id']}/visits", json=body, headers=AUTH).status_code == 201
    )
    refused = west.post(f"/v1/courses/{course['id']}/visits", json=body, headers=AUTH)
    assert_invalid(refused, "$.visit_date")
    late = EVENT_BODIES["visits"]((ahead + timedelta(days=1)).isoformat())
    assert_invalid(
        east.post(f"/v1/courses/{course['id']}/visits", json=late, headers=AUTH), "$.visit_date"
    )


def test_a_dispensing_before_the_start_date_is_refused(api: TestClient) -> None:
    course = create_course(api, start_date="2026-01-05")
    body = EVENT_BODIES["dispensings"]("2026-01-04")

    r = api.post(f"/v1/courses/{course['id']}/dispensings", json=body, headers=AUTH)

    assert_invalid(r, "$.dispensed_on")
    assert events(api, course["id"]) == []
    append(api, course["id"], "dispensings", EVENT_BODIES["dispensings"]("2026-01-05"))


@pytest.mark.parametrize(
    ("field", "value"),
    [("days_supplied", 0), ("days_supplied", -30), ("mg_per_day", 0), ("mg_per_day", -40)],
)
def test_a_dispensing_needs_a_positive_supply_and_dose(
    api: TestClient, field: str, value: int
) -> None:
    course = create_course(api)
    body = {**EVENT_BODIES["dispensings"]("2026-01-05"), field: value}
    r = api.post(f"/v1/courses/{course['id']}/dispensings", json=body, headers=AUTH)
    assert_invalid(r, f"$.{field}")
    assert events(api, course["id"]) == []
    assert get_course(api, course["id"])[0]["status"] == "planned"


def test_a_lab_with_an_unknown_unit_is_refused(api: TestClient) -> None:
    course = create_course(api)
    body = {**EVENT_BODIES["labs"]("2026-01-02"), "unit": "foo"}
    r = api.post(f"/v1/courses/{course['id']}/labs", json=body, headers=AUTH)
    assert_invalid(r, "$.unit")
    assert events(api, course["id"]) == []


@pytest.mark.parametrize(
    "route", ["pregnancy-tests", "contraception", "labs", "visits", "counselling"]
)
def test_baseline_records_may_predate_the_start_date(api: TestClient, route: str) -> None:
    course = create_course(api, start_date="2026-01-05")
    ev = append(api, course["id"], route, EVENT_BODIES[route]("2025-12-20"))
    assert ev["event_date"] == "2025-12-20"
    assert [e["id"] for e in events(api, course["id"])] == [ev["id"]]
