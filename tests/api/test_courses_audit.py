"""The audit trail (the courses issue, "Audit record" and "Audit before answer"), on SQLite and
PostgreSQL: one record per answered evaluation on every audited route, with what it must hold and
nothing it must not; concurrent calls sharing a group commit; the keyed HMAC of the canonical
input; ``GET /v1/audit`` filters. The 503 when a record cannot be committed is in
``test_courses_safety.py``. Nothing of ours is mocked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from pydantic import SecretStr

from api.audit import canonical
from api.deps import Services
from api.examples import A1_REQUEST, CHECKLIST_EXAMPLES, DOSING_EXAMPLES
from api.schemas.evaluation import AssessmentRequest
from tests.api.conftest import AUTH, KEY_ID, SECRET
from tests.api.test_courses import (
    ENGINES,
    EVENT_BODIES,
    OTHER_SECRET,
    Apps,
    append,
    audit_after,
    create_course,
    in_parallel,
    last_audit_id,
    new_database,
)
from tests.database import HMAC_KEY

HEX64 = re.compile(r"^[0-9a-f]{64}$")
OTHER_HMAC_KEY = "another-audit-hmac-key-0123456789abcdef"
DOXYCYCLINE = {"text": "Doxycycline hyclate 100 MG Oral Tablet", "route": "oral"}


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


def started_course(api: TestClient) -> str:
    """A US course, 60 kg, started 2026-01-05 with a 30-day dispensing; its ID."""
    course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
    append(api, course["id"], "dispensings", EVENT_BODIES["dispensings"]("2026-01-05"))
    append(api, course["id"], "labs", EVENT_BODIES["labs"]("2026-01-02"))
    cid: str = course["id"]
    return cid


@dataclass(frozen=True)
class Audited:
    """An audited route and how to call it."""

    endpoint: str
    call: Callable[[TestClient, str], Response]
    decision: bool

    @property
    def on_course(self) -> bool:
        return "{course_id}" in self.endpoint


AS_OF = {"as_of": "2026-02-01"}
AUDITED = [
    Audited(
        "/v1/assessments",
        lambda api, _: api.post("/v1/assessments", json=A1_REQUEST, headers=AUTH),
        decision=True,
    ),
    Audited(
        "/v1/checklists",
        lambda api, _: api.post(
            "/v1/checklists", json=CHECKLIST_EXAMPLES["follow-up"]["value"], headers=AUTH
        ),
        decision=False,
    ),
    Audited(
        "/v1/dosing-plans",
        lambda api, _: api.post(
            "/v1/dosing-plans", json=DOSING_EXAMPLES["e1"]["value"], headers=AUTH
        ),
        decision=False,
    ),
    Audited(
        "/v1/courses/{course_id}/checklist",
        lambda api, cid: api.get(f"/v1/courses/{cid}/checklist", params=AS_OF, headers=AUTH),
        decision=False,
    ),
    Audited(
        "/v1/courses/{course_id}/assessments",
        lambda api, cid: api.post(
            f"/v1/courses/{cid}/assessments",
            json={**AS_OF, "profile": {"medications": [DOXYCYCLINE]}},
            headers=AUTH,
        ),
        decision=True,
    ),
    Audited(
        "/v1/courses/{course_id}/timeline",
        lambda api, cid: api.get(f"/v1/courses/{cid}/timeline", params=AS_OF, headers=AUTH),
        decision=False,
    ),
]


def catalogue(api: TestClient) -> tuple[str, str]:
    """The rule-set version and catalogue hash the app serves."""
    r = api.get("/v1/rules", headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()["ruleset_version"], r.json()["catalogue_hash"]


def rule_ids(out: dict[str, Any]) -> set[str]:
    """Every rule an answer names: findings, checklist, lab and supply findings, not assessed,
    scheduled timeline items."""
    ids: set[str] = set()
    for field in ("findings", "checklist", "lab_findings", "supply_limit", "not_assessed"):
        ids |= {x["rule_id"] for x in out.get(field) or []}
    ids |= {e["kind"] for e in out.get("entries") or [] if e["type"] == "scheduled"}
    return ids


@pytest.mark.parametrize("route", AUDITED, ids=[a.endpoint for a in AUDITED])
def test_every_audited_route_leaves_one_record_per_answered_call(
    api: TestClient, route: Audited
) -> None:
    cid = started_course(api)
    version, catalogue_hash = catalogue(api)
    before = last_audit_id(api)
    t0 = datetime.now(UTC)

    first = route.call(api, cid)
    assert first.status_code == 200, first.text
    after_first = audit_after(api, before)
    second = route.call(api, cid)
    assert second.status_code == 200, second.text
    records = audit_after(api, before)
    t1 = datetime.now(UTC)

    assert len(after_first) == 1, after_first
    assert len(records) == 2, records
    assert records[0] == after_first[0]
    assert [r["request_id"] for r in records] == [
        first.headers["X-Request-ID"],
        second.headers["X-Request-ID"],
    ]
    out = first.json()
    record = records[0]
    assert record["caller"] == KEY_ID
    assert SECRET not in json.dumps(records)
    assert record["endpoint"] == route.endpoint
    assert record["course_id"] == (cid if route.on_course else None)
    assert record["hook_instance"] is None
    assert record["as_of"] == out["as_of"]
    assert record["jurisdiction"] == "US"
    assert record["epoch"] == "US/pre-2026"
    assert (record["ruleset_version"], record["catalogue_hash"]) == (version, catalogue_hash)
    assert record["decision"] == (out["decision"] if route.decision else None)
    if route.decision:
        assert record["decision"]
    assert HEX64.match(record["input_hmac"]), record["input_hmac"]
    recorded = datetime.fromisoformat(record["recorded_at"].replace("Z", "+00:00"))
    assert t0 - timedelta(seconds=1) <= recorded <= t1 + timedelta(seconds=1)
    # Each finding's rule ID, version, variant and status.
    assert record["findings"], record
    for f in record["findings"]:
        assert set(f) == {"rule_id", "version", "variant", "status"}, f
        assert isinstance(f["version"], int)
        assert f["variant"].startswith("US"), f
        assert f["status"] in ("applies", "unknown"), f
    audited = {f["rule_id"] for f in record["findings"]}
    assert rule_ids(out) <= audited, rule_ids(out) - audited
    shown = [
        (f["rule_id"], f["rule_version"], f["variant"], f["status"])
        for f in out.get("findings") or []
    ]
    kept = [(f["rule_id"], f["version"], f["variant"], f["status"]) for f in record["findings"]]
    if route.endpoint == "/v1/courses/{course_id}/checklist":
        # The course checklist lists what applies and the gating unknowns, in the audited order;
        # the other unknowns are under not_assessed.
        not_assessed = {n["rule_id"] for n in out["not_assessed"]}
        assert shown == [k for k in kept if k in shown]
        assert [k for k in kept if k[3] == "applies"] == [s for s in shown if s[3] == "applies"]
        assert {k[0] for k in kept if k not in shown} <= not_assessed
    elif "findings" in out and route.endpoint != "/v1/dosing-plans":
        assert shown == kept


def test_a_call_that_is_not_answered_leaves_no_record(api: TestClient) -> None:
    cid = started_course(api)
    unknown = "00000000-0000-4000-8000-000000000000"
    before = last_audit_id(api)

    refused = [
        api.post("/v1/assessments", json={**A1_REQUEST, "jurisdiction": "XX"}, headers=AUTH),
        api.post("/v1/assessments", json=A1_REQUEST),
        api.get(f"/v1/courses/{unknown}/checklist", params=AS_OF, headers=AUTH),
        api.get(f"/v1/courses/{unknown}/timeline", params=AS_OF, headers=AUTH),
        api.post(f"/v1/courses/{unknown}/assessments", json=AS_OF, headers=AUTH),
        api.get(f"/v1/courses/{cid}/checklist", params={"as_of": "2026-13-01"}, headers=AUTH),
    ]

    assert [r.status_code for r in refused] == [422, 401, 404, 404, 404, 422]
    assert audit_after(api, before) == []


def test_concurrent_calls_all_have_their_records(api: TestClient) -> None:
    cid = started_course(api)
    before = last_audit_id(api)
    calls = [AUDITED[i % len(AUDITED)].call for i in range(20)]

    responses = in_parallel([lambda c=c: c(api, cid) for c in calls])  # type: ignore[misc]

    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    records = audit_after(api, before)
    assert len(records) == 20
    assert {r["request_id"] for r in records} == {r.headers["X-Request-ID"] for r in responses}
    by_request = {r["request_id"]: r for r in records}
    for call, response in zip(calls, responses, strict=True):
        route = next(a for a in AUDITED if a.call is call)
        assert by_request[response.headers["X-Request-ID"]]["endpoint"] == route.endpoint


@contextmanager
def audit_table_locked(apps: Apps) -> Iterator[Callable[[], None]]:
    """Hold a lock that makes the audit writer's commit wait; yields the function releasing it."""
    if apps.engine == "sqlite":
        lite = sqlite3.connect(
            apps.url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
        )
        lite.execute("BEGIN IMMEDIATE")  # the write lock: every writer waits for it

        def unlock() -> None:
            lite.execute("ROLLBACK")

        close: Callable[[], None] = lite.close
    else:
        pg = psycopg.connect(apps.url.replace("postgresql+psycopg://", "postgresql://"))
        pg.execute("LOCK TABLE audit_record IN EXCLUSIVE MODE")
        unlock, close = pg.rollback, pg.close
    guard = threading.Lock()
    held = [True]

    def release() -> None:
        with guard:
            if held[0]:
                held[0] = False
                unlock()

    try:
        yield release
    finally:
        release()
        close()


def test_concurrent_calls_sharing_a_commit_all_have_their_records(
    api: TestClient, apps: Apps
) -> None:
    writer = services_of(api).audit
    before = last_audit_id(api)
    commits, records = writer.commits, writer.records

    with audit_table_locked(apps) as release:
        # The first commit waits on the lock while the other calls queue up behind it.
        timer = threading.Timer(0.5, release)
        timer.start()
        call = AUDITED[0].call
        responses = in_parallel([lambda: call(api, "")] * 20)
        timer.join()

    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    stored = audit_after(api, before)
    assert {r["request_id"] for r in stored} == {r.headers["X-Request-ID"] for r in responses}
    assert writer.records - records == 20
    assert writer.commits - commits < 20, "no commit was shared"


def hmac_of(api: TestClient, call: Callable[[], Response]) -> str:
    """Make an audited call; the input HMAC of its record."""
    before = last_audit_id(api)
    r = call()
    assert r.status_code == 200, r.text
    records = audit_after(api, before)
    assert len(records) == 1, records
    value: str = records[0]["input_hmac"]
    return value


def test_the_input_hmac_is_keyed_and_stable_for_the_same_canonical_input(
    api: TestClient, apps: Apps
) -> None:
    def assess(client: TestClient, body: dict[str, Any]) -> Callable[[], Response]:
        return lambda: client.post("/v1/assessments", json=body, headers=AUTH)

    same = hmac_of(api, assess(api, A1_REQUEST))
    assert hmac_of(api, assess(api, A1_REQUEST)) == same
    # The same input written differently (key order, spacing) is the same canonical input.
    shuffled = json.dumps(dict(reversed(list(A1_REQUEST.items()))), indent=3)
    headers = {**AUTH, "Content-Type": "application/json"}
    respelled = hmac_of(api, lambda: api.post("/v1/assessments", content=shuffled, headers=headers))
    assert respelled == same
    # Another input: another HMAC.
    assert hmac_of(api, assess(api, {**A1_REQUEST, "as_of": "2026-03-02"})) != same
    # It is HMAC-SHA-256 of the canonical input under ISOCDS_AUDIT_HMAC_KEY.
    payload = canonical(
        "/v1/assessments",
        AssessmentRequest.model_validate(A1_REQUEST),
        as_of=A1_REQUEST["as_of"],
        course_id=None,
    )
    assert same == hmac.new(HMAC_KEY.encode(), payload, hashlib.sha256).hexdigest()
    assert same != hashlib.sha256(payload).hexdigest()
    # Another app with the same key agrees; under another key the HMAC differs.
    twin = apps.client()
    assert hmac_of(twin, assess(twin, A1_REQUEST)) == same
    rekeyed = apps.client(audit_hmac_key=SecretStr(OTHER_HMAC_KEY))
    other = hmac_of(rekeyed, assess(rekeyed, A1_REQUEST))
    assert HEX64.match(other)
    assert other != same


def test_the_record_keeps_no_input_and_no_secret(api: TestClient, apps: Apps) -> None:
    cid = started_course(api)
    before = last_audit_id(api)
    body = {**AS_OF, "profile": {"medications": [DOXYCYCLINE], "weight": {"value": 73.25}}}
    r = api.post(f"/v1/courses/{cid}/assessments", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    other = apps.client().post(
        "/v1/assessments", json=A1_REQUEST, headers={"Authorization": f"Bearer {OTHER_SECRET}"}
    )
    assert other.status_code == 200, other.text

    records = audit_after(api, before)

    text = json.dumps(records)
    for leaked in ("Doxycycline", "73.25", "adapalene", SECRET, OTHER_SECRET, HMAC_KEY):
        assert leaked not in text, leaked
    assert [r["caller"] for r in records] == [KEY_ID, "ehr-other"]


def test_course_records_differ_by_course_and_date(api: TestClient) -> None:
    a, b = started_course(api), started_course(api)

    def checklist(cid: str, as_of: str) -> Callable[[], Response]:
        return lambda: api.get(
            f"/v1/courses/{cid}/checklist", params={"as_of": as_of}, headers=AUTH
        )

    first = hmac_of(api, checklist(a, "2026-02-01"))
    assert hmac_of(api, checklist(a, "2026-02-01")) == first
    assert hmac_of(api, checklist(b, "2026-02-01")) != first
    assert hmac_of(api, checklist(a, "2026-02-02")) != first


def test_audit_filters(api: TestClient) -> None:
    a, b = started_course(api), started_course(api)
    before = last_audit_id(api)

    def checklist(cid: str) -> Response:
        r = api.get(f"/v1/courses/{cid}/checklist", params=AS_OF, headers=AUTH)
        assert r.status_code == 200, r.text
        return r

    early = checklist(a)
    checklist(b)
    time.sleep(0.05)
    middle = datetime.now(UTC)
    time.sleep(0.05)
    late = checklist(a)

    mine = audit_after(api, before)
    assert len(mine) == 3
    # course_id
    of_a = audit_after(api, before, course_id=a)
    assert [r["request_id"] for r in of_a] == [
        early.headers["X-Request-ID"],
        late.headers["X-Request-ID"],
    ]
    assert {r["course_id"] for r in audit_after(api, before, course_id=b)} == {b}
    # since (inclusive) and until (exclusive), in any offset
    since = audit_after(api, before, course_id=a, since=middle.isoformat())
    assert [r["request_id"] for r in since] == [late.headers["X-Request-ID"]]
    until = audit_after(api, before, course_id=a, until=middle.isoformat())
    assert [r["request_id"] for r in until] == [early.headers["X-Request-ID"]]
    cest = middle.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert audit_after(api, before, course_id=a, since=cest) == since
    window = audit_after(
        api,
        before,
        since=(middle - timedelta(minutes=5)).isoformat(),
        until=(middle + timedelta(minutes=5)).isoformat(),
    )
    assert window == mine
    # after_id pages, oldest first
    page = api.get("/v1/audit", params={"after_id": before, "limit": 2}, headers=AUTH).json()
    assert [r["id"] for r in page["records"]] == [r["id"] for r in mine[:2]]
    assert page["next_after_id"] == mine[1]["id"]
    rest = api.get(
        "/v1/audit", params={"after_id": page["next_after_id"], "limit": 2}, headers=AUTH
    ).json()
    assert [r["id"] for r in rest["records"]] == [mine[2]["id"]]
    assert rest["next_after_id"] is None
