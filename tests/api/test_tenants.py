"""Tenants and scopes on ``/v1`` (issue 11, finding 1 "No tenant separation").

Two clinics' API keys, A (tenant ``clinic-a``) and B (tenant ``clinic-b``), on one database of
each engine: B can neither list, read, change, append to nor evaluate A's course (a 404 with the
body of a missing course), B's audit trail holds none of A's records, idempotency keys are
scoped per tenant, and every route needs its scope (403 problem naming it). Then how keys are
written (``ISOCDS_API_KEYS``, the keys file) and how their mistakes are reported.

The real app on SQLite and PostgreSQL (PostgreSQL tests fail, never skip, when it is down).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.examples import A1_REQUEST, CHECKLIST_EXAMPLES, DOSING_EXAMPLES
from api.settings import (
    DEFAULT_SCOPES,
    DEFAULT_TENANT,
    SCOPES,
    SettingsError,
    load_settings,
    parse_api_keys,
)
from tests.api.conftest import ALL_SCOPES, key_entry
from tests.api.test_courses import (
    ENGINES,
    EVENT_BODIES,
    EVENT_KINDS,
    Apps,
    assert_problem,
    new_database,
)

TENANT_A, TENANT_B = "clinic-a", "clinic-b"
SECRET_A = "clinic-a-s3cret-0123456789abcdef"  # noqa: S105  # test keys
SECRET_B = "clinic-b-s3cret-0123456789abcdef"  # noqa: S105
SECRET_PLAIN = "plain-s3cret-0123456789abcdef"  # noqa: S105  # key_id:secret, the old form
SECRET_PLAIN_A = "plain-a-s3cret-0123456789abcdef"  # noqa: S105  # key_id:secret:tenant
A = {"Authorization": f"Bearer {SECRET_A}"}
B = {"Authorization": f"Bearer {SECRET_B}"}
PLAIN = {"Authorization": f"Bearer {SECRET_PLAIN}"}
PLAIN_A = {"X-API-Key": SECRET_PLAIN_A}
IDEMPOTENCY = "Idempotency-Key"


def _key_name(scope: str) -> str:
    return scope.replace(":", ".")


def only(scope: str) -> dict[str, str]:
    """The headers of tenant A's key holding ``scope`` alone."""
    return {"Authorization": f"Bearer only-{_key_name(scope)}-s3cret-0123456789"}


def all_but(scope: str) -> dict[str, str]:
    """The headers of tenant A's key holding every scope but ``scope``."""
    return {"Authorization": f"Bearer all-but-{_key_name(scope)}-s3cret-0123456789"}


def _scoped_keys() -> list[str]:
    entries = []
    for scope in SCOPES:
        name = _key_name(scope)
        rest = "+".join(s for s in SCOPES if s != scope)
        entries.append(key_entry(f"only-{name}", f"only-{name}-s3cret-0123456789", TENANT_A, scope))
        entries.append(
            key_entry(f"all-but-{name}", f"all-but-{name}-s3cret-0123456789", TENANT_A, rest)
        )
    return entries


KEYS = ",".join(
    [
        key_entry("clinic-a-ehr", SECRET_A, TENANT_A, ALL_SCOPES),
        key_entry("clinic-b-ehr", SECRET_B, TENANT_B, ALL_SCOPES),
        f"plain:{SECRET_PLAIN}",
        f"plain-a:{SECRET_PLAIN_A}:{TENANT_A}",
        *_scoped_keys(),
    ]
)


@pytest.fixture(scope="module", params=ENGINES)
def apps(request: pytest.FixtureRequest) -> Iterator[Apps]:
    """Apps on a fresh migrated database of each engine."""
    a = Apps(request.param, new_database(request.param))
    yield a
    a.close()


@pytest.fixture(scope="module")
def api(apps: Apps) -> TestClient:
    """The app with the two clinics' keys, the old-form keys and the scoped keys of clinic A."""
    return apps.client(api_keys=SecretStr(KEYS))


# --- helpers ---------------------------------------------------------------------------------


def patient() -> str:
    return f"pat-{uuid.uuid4().hex[:12]}"


def create(api: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"patient_ref": patient(), "jurisdiction": "US", **fields}
    r = api.post("/v1/courses", json=body, headers=headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def audit(api: TestClient, headers: dict[str, str], **filters: str) -> list[dict[str, Any]]:
    """Every audit record the key sees (all pages)."""
    records: list[dict[str, Any]] = []
    cursor: int | None = 0
    while cursor is not None:
        params = {"after_id": str(cursor), "limit": "1000", **filters}
        r = api.get("/v1/audit", params=params, headers=headers)
        assert r.status_code == 200, r.text
        records += r.json()["records"]
        cursor = r.json()["next_after_id"]
    return records


def started_course(api: TestClient, headers: dict[str, str], ref: str | None = None) -> str:
    """A started course with a dispensing and a visit (as A's clinic records them)."""
    course = create(
        api, headers, patient_ref=ref or patient(), start_date="2026-01-05", weight_at_start_kg=60
    )
    cid: str = course["id"]
    for route in ("dispensings", "visits"):
        r = api.post(
            f"/v1/courses/{cid}/{route}", json=EVENT_BODIES[route]("2026-01-05"), headers=headers
        )
        assert r.status_code == 201, r.text
    return cid


@dataclass(frozen=True)
class Call:
    """One ``/v1`` route: how to call it with a course ID (when it takes one) and its scope."""

    name: str
    method: str
    path: str  # may hold {course_id} and {patient_ref}
    scope: str
    body: Callable[[], dict[str, Any] | None] = lambda: None
    if_match: bool = False

    def send(
        self, api: TestClient, headers: dict[str, str], course_id: str = "", ref: str = "x"
    ) -> Any:
        extra = {"If-Match": '"1"'} if self.if_match else {}
        url = self.path.format(course_id=course_id, patient_ref=ref)
        return api.request(self.method, url, json=self.body(), headers={**headers, **extra})


COURSE_CALLS = [
    Call("get", "GET", "/v1/courses/{course_id}", "courses:read"),
    Call(
        "patch",
        "PATCH",
        "/v1/courses/{course_id}",
        "courses:write",
        lambda: {"status": "stopped", "date": "2026-02-01", "stop_reason": "tenant test"},
        if_match=True,
    ),
    *[
        Call(
            f"append {route}",
            "POST",
            f"/v1/courses/{{course_id}}/{route}",
            "courses:write",
            lambda route=route: EVENT_BODIES[route]("2026-01-10"),  # type: ignore[misc]
        )
        for route in EVENT_KINDS
    ],
    Call("events", "GET", "/v1/courses/{course_id}/events", "courses:read"),
    Call("checklist", "GET", "/v1/courses/{course_id}/checklist?as_of=2026-02-01", "courses:read"),
    Call(
        "assessment",
        "POST",
        "/v1/courses/{course_id}/assessments",
        "courses:read",
        lambda: {"as_of": "2026-02-01", "profile": {"medications": []}},
    ),
    Call("timeline", "GET", "/v1/courses/{course_id}/timeline?as_of=2026-02-01", "courses:read"),
]
OTHER_CALLS = [
    Call("assessments", "POST", "/v1/assessments", "evaluate", lambda: A1_REQUEST),
    Call(
        "checklists",
        "POST",
        "/v1/checklists",
        "evaluate",
        lambda: CHECKLIST_EXAMPLES["follow-up"]["value"],
    ),
    Call(
        "dosing-plans",
        "POST",
        "/v1/dosing-plans",
        "evaluate",
        lambda: DOSING_EXAMPLES["e1"]["value"],
    ),
    Call("rules", "GET", "/v1/rules", "evaluate"),
    Call("rule", "GET", "/v1/rules/interaction.tetracyclines", "evaluate"),
    Call("sources", "GET", "/v1/sources", "evaluate"),
    Call(
        "create course",
        "POST",
        "/v1/courses",
        "courses:write",
        lambda: {"patient_ref": patient(), "jurisdiction": "US"},
    ),
    Call("list courses", "GET", "/v1/courses?patient_ref={patient_ref}", "courses:read"),
    Call("audit", "GET", "/v1/audit", "audit:read"),
    Call("feedback summary", "GET", "/v1/feedback/summary", "feedback:read"),
]
ALL_CALLS = COURSE_CALLS + OTHER_CALLS


def route_key(method: str, path: str) -> str:
    return f"{method} {path.split('?')[0]}"


# --- every route is covered ------------------------------------------------------------------


def test_these_tests_cover_every_v1_route(api: TestClient) -> None:
    paths = api.app.openapi()["paths"]  # type: ignore[attr-defined]
    served = {
        f"{method.upper()} {path.replace('{rule_id}', 'interaction.tetracyclines')}"
        for path, ops in paths.items()
        if path.startswith("/v1")
        for method in ops
    }
    covered = {route_key(c.method, c.path) for c in ALL_CALLS}
    assert served == covered
    # Every /v1 route declares the 403 of a missing scope as a problem.
    for path, ops in paths.items():
        if path.startswith("/v1"):
            for method, op in ops.items():
                assert "application/problem+json" in op["responses"]["403"]["content"], (
                    method,
                    path,
                )


# --- another tenant's course: 404, as if it did not exist ------------------------------------


def test_each_tenant_lists_only_its_own_courses_of_a_patient_ref(api: TestClient) -> None:
    ref = patient()
    a_course = create(api, A, patient_ref=ref)
    b_course = create(api, B, patient_ref=ref)

    listed_by_a = api.get("/v1/courses", params={"patient_ref": ref}, headers=A)
    listed_by_b = api.get("/v1/courses", params={"patient_ref": ref}, headers=B)

    assert listed_by_a.status_code == 200, listed_by_a.text
    assert [c["id"] for c in listed_by_a.json()["courses"]] == [a_course["id"]]
    assert [c["id"] for c in listed_by_b.json()["courses"]] == [b_course["id"]]


@pytest.mark.parametrize("call", COURSE_CALLS, ids=[c.name for c in COURSE_CALLS])
def test_another_tenants_course_is_the_404_of_a_missing_one_on_every_route(
    api: TestClient, call: Call
) -> None:
    cid = started_course(api, A)
    before_events = api.get(f"/v1/courses/{cid}/events", headers=A).json()["events"]
    before_audit = audit(api, A, course_id=cid)
    missing = str(uuid.uuid4())

    r_other = call.send(api, B, cid)
    r_missing = call.send(api, B, missing)

    other = assert_problem(r_other, 404, "course-not-found")
    absent = assert_problem(r_missing, 404, "course-not-found")
    # The same problem as for a course that does not exist: nothing tells B the course exists.
    assert other["detail"] == f"no course {cid}"
    assert {k: v for k, v in other.items() if k not in ("detail", "instance", "request_id")} == {
        k: v for k, v in absent.items() if k not in ("detail", "instance", "request_id")
    }
    assert absent["detail"] == f"no course {missing}"
    assert "clinic-a" not in r_other.text
    # A's course is untouched: not changed, nothing appended, nothing audited for B.
    course = api.get(f"/v1/courses/{cid}", headers=A)
    assert (course.json()["status"], course.headers["ETag"]) == ("active", '"1"')
    assert api.get(f"/v1/courses/{cid}/events", headers=A).json()["events"] == before_events
    assert audit(api, A, course_id=cid) == before_audit
    assert audit(api, B, course_id=cid) == []


def test_a_still_reaches_its_own_course_on_every_route(api: TestClient) -> None:
    for call in COURSE_CALLS:
        cid = started_course(api, A)
        r = call.send(api, A, cid)
        assert r.status_code in (200, 201), (call.name, r.text)


def test_b_cannot_append_to_a_course_of_a_even_with_an_idempotency_key(api: TestClient) -> None:
    cid = started_course(api, A)
    path = f"/v1/courses/{cid}/pregnancy-tests"
    body = EVENT_BODIES["pregnancy-tests"]("2026-01-20")
    headers = {**B, IDEMPOTENCY: f"key-{uuid.uuid4()}"}
    assert_problem(api.post(path, json=body, headers=headers), 404, "course-not-found")
    assert_problem(api.post(path, json=body, headers=headers), 404, "course-not-found")  # retry
    kinds = [e["kind"] for e in api.get(f"/v1/courses/{cid}/events", headers=A).json()["events"]]
    assert "pregnancy-test" not in kinds


# --- the audit trail: each tenant its own ---------------------------------------------------


def test_each_tenants_audit_holds_only_its_own_records(api: TestClient) -> None:
    cid = started_course(api, A)
    a_calls = [
        api.get(f"/v1/courses/{cid}/checklist", params={"as_of": "2026-02-01"}, headers=A),
        api.post("/v1/assessments", json=A1_REQUEST, headers=A),
    ]
    b_call = api.post("/v1/assessments", json=A1_REQUEST, headers=B)
    for r in (*a_calls, b_call):
        assert r.status_code == 200, r.text
    a_requests = {r.headers["X-Request-ID"] for r in a_calls}
    b_request = b_call.headers["X-Request-ID"]

    seen_by_a = audit(api, A)
    seen_by_b = audit(api, B)

    assert a_requests <= {rec["request_id"] for rec in seen_by_a}
    assert not a_requests & {rec["request_id"] for rec in seen_by_b}
    assert b_request in {rec["request_id"] for rec in seen_by_b}
    assert b_request not in {rec["request_id"] for rec in seen_by_a}
    assert {rec["tenant"] for rec in seen_by_a} == {TENANT_A}
    assert {rec["tenant"] for rec in seen_by_b} == {TENANT_B}
    assert audit(api, B, course_id=cid) == []
    [checklist] = [rec for rec in seen_by_a if rec["course_id"] == cid]
    assert checklist["caller"] == "clinic-a-ehr"


def test_the_feedback_summary_of_a_tenant_without_feedback_is_empty(api: TestClient) -> None:
    r = api.get("/v1/feedback/summary", headers=B)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "filters": {"since": None, "until": None, "iss": None, "hook": None},
        "cards": 0,
        "feedback": 0,
        "unmatched": 0,
        "unattributed": 0,
        "rules": [],
    }


# --- idempotency keys: per tenant -----------------------------------------------------------


def test_the_same_idempotency_key_in_two_tenants_makes_two_courses(api: TestClient) -> None:
    idem = f"key-{uuid.uuid4()}"
    body = {"patient_ref": patient(), "jurisdiction": "US"}

    a = api.post("/v1/courses", json=body, headers={**A, IDEMPOTENCY: idem})
    b = api.post("/v1/courses", json=body, headers={**B, IDEMPOTENCY: idem})

    assert (a.status_code, b.status_code) == (201, 201), (a.text, b.text)
    assert "Idempotent-Replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]
    # Each retry replays its own answer.
    a2 = api.post("/v1/courses", json=body, headers={**A, IDEMPOTENCY: idem})
    b2 = api.post("/v1/courses", json=body, headers={**B, IDEMPOTENCY: idem})
    assert a2.headers["Idempotent-Replayed"] == "true"
    assert (a2.json()["id"], b2.json()["id"]) == (a.json()["id"], b.json()["id"])
    listed = api.get("/v1/courses", params={"patient_ref": body["patient_ref"]}, headers=B)
    assert [c["id"] for c in listed.json()["courses"]] == [b.json()["id"]]


def test_a_key_moved_to_another_tenant_never_replays_the_old_tenants_answer(apps: Apps) -> None:
    """The same key ID (and secret) configured in tenant A, then in tenant B: a retry of its
    Idempotency-Key in B is a new request, not A's stored answer."""
    secret = "moving-key-s3cret-0123456789"  # noqa: S105  # a test key
    before = apps.client(api_keys=SecretStr(key_entry("moving", secret, TENANT_A)))
    after = apps.client(api_keys=SecretStr(key_entry("moving", secret, TENANT_B)))
    headers = {"Authorization": f"Bearer {secret}", IDEMPOTENCY: f"key-{uuid.uuid4()}"}
    body = {"patient_ref": patient(), "jurisdiction": "US"}

    first = before.post("/v1/courses", json=body, headers=headers)
    second = after.post("/v1/courses", json=body, headers=headers)

    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert "Idempotent-Replayed" not in second.headers
    assert second.json()["id"] != first.json()["id"]
    gone = after.get(f"/v1/courses/{first.json()['id']}", headers=headers)
    assert_problem(gone, 404, "course-not-found")


# --- scopes ---------------------------------------------------------------------------------


def assert_forbidden(r: Any, scope: str) -> None:
    body = assert_problem(r, 403, "forbidden")
    assert scope in body["detail"], body
    assert body["required_scope"] == scope
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]


@pytest.mark.parametrize("call", ALL_CALLS, ids=[c.name for c in ALL_CALLS])
def test_each_route_needs_its_scope(api: TestClient, call: Call) -> None:
    cid = started_course(api, A)

    assert_forbidden(call.send(api, all_but(call.scope), cid), call.scope)
    r = call.send(api, only(call.scope), cid)
    assert r.status_code in (200, 201), r.text
    # No key at all is still a 401, before any scope is looked at.
    r = api.request(call.method, call.path.format(course_id=cid, patient_ref="x"), json=None)
    assert_problem(r, 401, "unauthorized")


def test_an_evaluate_only_key_cannot_create_or_read_courses(api: TestClient) -> None:
    evaluate = only("evaluate")
    assert api.post("/v1/assessments", json=A1_REQUEST, headers=evaluate).status_code == 200
    assert api.get("/v1/rules", headers=evaluate).status_code == 200
    r = api.post(
        "/v1/courses", json={"patient_ref": patient(), "jurisdiction": "US"}, headers=evaluate
    )
    assert_forbidden(r, "courses:write")
    assert_forbidden(api.get("/v1/courses?patient_ref=x", headers=evaluate), "courses:read")
    assert_forbidden(api.get("/v1/audit", headers=evaluate), "audit:read")


@pytest.mark.parametrize("headers", [PLAIN, PLAIN_A], ids=["key_id:secret", "key_id:secret:tenant"])
def test_a_key_listing_no_scopes_gets_the_default_scopes(
    api: TestClient, headers: dict[str, str]
) -> None:
    """evaluate, courses:read and courses:write; not audit:read, not feedback:read."""
    cid = create(api, headers)["id"]
    assert api.get(f"/v1/courses/{cid}", headers=headers).status_code == 200
    assert api.post("/v1/assessments", json=A1_REQUEST, headers=headers).status_code == 200
    r = api.post(
        f"/v1/courses/{cid}/visits", json=EVENT_BODIES["visits"]("2026-01-05"), headers=headers
    )
    assert r.status_code == 201, r.text
    assert_forbidden(api.get("/v1/audit", headers=headers), "audit:read")
    assert_forbidden(api.get("/v1/feedback/summary", headers=headers), "feedback:read")


def test_a_key_without_a_tenant_is_in_tenant_default(api: TestClient) -> None:
    ref = patient()
    plain = create(api, PLAIN, patient_ref=ref)["id"]
    in_a = create(api, PLAIN_A, patient_ref=ref)["id"]
    listed = api.get("/v1/courses", params={"patient_ref": ref}, headers=A).json()["courses"]
    assert [c["id"] for c in listed] == [in_a]  # plain-a is clinic A's, plain is not
    assert_problem(api.get(f"/v1/courses/{plain}", headers=A), 404, "course-not-found")


def test_auth_disabled_is_tenant_default_with_every_scope(apps: Apps, api: TestClient) -> None:
    local = apps.client(auth="disabled", api_keys=SecretStr(""))
    ref = patient()
    r = local.post("/v1/courses", json={"patient_ref": ref, "jurisdiction": "US"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    for path in ("/v1/audit", "/v1/feedback/summary", f"/v1/courses/{cid}/events"):
        assert local.get(path).status_code == 200, path
    # The course is tenant default's: the old-form key sees it, clinic A's key does not.
    assert api.get(f"/v1/courses/{cid}", headers=PLAIN).status_code == 200
    assert_problem(api.get(f"/v1/courses/{cid}", headers=A), 404, "course-not-found")


# --- writing keys: ISOCDS_API_KEYS and the keys file ----------------------------------------

KEY_SETTINGS = (
    "ISOCDS_API_KEYS",
    "ISOCDS_API_KEYS_FILE",
    "ISOCDS_AUTH",
    "ISOCDS_CDS_CLIENTS_FILE",
    "ISOCDS_PUBLIC_BASE_URL",
    "ISOCDS_LOCAL_POLICY_FILE",
)
S1 = "aaaaaaaaaaaaaaaaaaaa"  # test secrets
S2 = "bbbbbbbbbbbbbbbbbbbb"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in KEY_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_three_forms_of_an_entry() -> None:
    keys = parse_api_keys(
        f"old:{S1}\n# a comment\nwith-tenant:{S2}:{TENANT_A},"
        f" scoped:cccccccccccccccccccc:{TENANT_B}:audit:read+feedback:read",
        "ISOCDS_API_KEYS",
    )
    assert sorted(keys) == ["old", "scoped", "with-tenant"]
    assert (keys["old"].tenant, keys["old"].scopes) == (DEFAULT_TENANT, DEFAULT_SCOPES)
    assert keys["old"].secret.get_secret_value() == S1
    assert (keys["with-tenant"].tenant, keys["with-tenant"].scopes) == (TENANT_A, DEFAULT_SCOPES)
    assert keys["scoped"].tenant == TENANT_B
    assert keys["scoped"].scopes == {"audit:read", "feedback:read"}
    assert {"evaluate", "courses:read", "courses:write"} == DEFAULT_SCOPES
    assert S1 not in repr(keys)


def test_keys_from_the_environment_and_a_text_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    keyfile = tmp_path / "keys"
    keyfile.write_text(f"# clinic B\nehr-b:{S2}:{TENANT_B}:evaluate\n")
    env.setenv("ISOCDS_API_KEYS", f"ehr-a:{S1}:{TENANT_A}")
    env.setenv("ISOCDS_API_KEYS_FILE", str(keyfile))
    keys = load_settings().keys()
    assert (keys["ehr-a"].tenant, keys["ehr-b"].tenant) == (TENANT_A, TENANT_B)
    assert keys["ehr-b"].scopes == {"evaluate"}


def test_a_json_keys_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    keyfile = tmp_path / "keys.json"
    keys_json = [
        {"key_id": "ehr-a", "secret": "with:colons:" + S1, "tenant": TENANT_A},
        {"key_id": "auditor", "secret": S2, "tenant": TENANT_A, "scopes": ["audit:read"]},
        {"key_id": "plain", "secret": "cccccccccccccccccccc"},
    ]
    keyfile.write_text(json.dumps(keys_json))
    env.setenv("ISOCDS_API_KEYS_FILE", str(keyfile))
    keys = load_settings().keys()
    assert keys["ehr-a"].secret.get_secret_value() == "with:colons:" + S1
    assert (keys["ehr-a"].tenant, keys["ehr-a"].scopes) == (TENANT_A, DEFAULT_SCOPES)
    assert keys["auditor"].scopes == {"audit:read"}
    assert (keys["plain"].tenant, keys["plain"].scopes) == (DEFAULT_TENANT, DEFAULT_SCOPES)


BAD_ENTRIES = [
    pytest.param(f"k1:{S1}:clinic a", "the tenant of k1", "clinic a", id="tenant with a space"),
    pytest.param(f"k1:{S1}:", "the tenant of k1", None, id="empty tenant"),
    pytest.param(f"k1:{S1}:{'t' * 65}", "the tenant of k1", "t" * 65, id="tenant too long"),
    pytest.param(
        f"k1:{S1}:{TENANT_A}:evaluate+courses:delete",
        "key_id k1: scope 2 is not one of evaluate, courses:read, courses:write, audit:read, "
        "feedback:read",
        "delete",
        id="unknown scope",
    ),
    pytest.param(f"k1:{S1}:{TENANT_A}:", "key_id k1: no scopes listed", None, id="no scopes"),
    pytest.param(f"k1:short:{TENANT_A}", "the secret of k1 is shorter than 16", None, id="short"),
    pytest.param(f"k1:{S1},k1:{S2}", "key_id k1 appears twice", None, id="key twice"),
    pytest.param(f"a:{S1},b:{S1}", "key_id b has the same secret as a", None, id="secret twice"),
    pytest.param("no colon", "each entry must be key_id:secret", None, id="no secret"),
]


@pytest.mark.parametrize(("entries", "message", "hidden"), BAD_ENTRIES)
def test_a_bad_entry_stops_start_up_naming_the_setting_and_the_key(
    env: pytest.MonkeyPatch, entries: str, message: str, hidden: str | None
) -> None:
    env.setenv("ISOCDS_API_KEYS", entries)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert text.startswith("ISOCDS_API_KEYS: "), text
    assert text.count("ISOCDS_API_KEYS:") == 1, text
    assert message in text, text
    # Never a secret, nor what may be part of one (an old secret holding ':').
    assert S1 not in text
    assert S2 not in text
    if hidden is not None:
        assert hidden not in text


BAD_FILES = [
    pytest.param("[{", "not valid JSON (line 1)", id="not JSON"),
    pytest.param('{"key_id": "k1"}', "must be a JSON array", id="not an array"),
    pytest.param('["k1"]', "key [0] must be an object", id="not an object"),
    pytest.param(f'[{{"secret": "{S1}"}}]', "key [0] needs a simple 'key_id'", id="no key_id"),
    pytest.param('[{"key_id": "k1"}]', "key_id k1 needs a 'secret'", id="no secret"),
    pytest.param(
        f'[{{"key_id": "k1", "secret": "{S1}", "scope": ["evaluate"]}}]',
        "key_id k1: unknown field(s) scope",
        id="misspelt field",
    ),
    pytest.param(
        f'[{{"key_id": "k1", "secret": "{S1}", "scopes": "evaluate"}}]',
        "key_id k1: 'scopes' must be an array of strings",
        id="scopes not a list",
    ),
    pytest.param(
        f'[{{"key_id": "k1", "secret": "{S1}", "scopes": []}}]',
        "key_id k1: no scopes listed",
        id="empty scopes",
    ),
    pytest.param(
        f'[{{"key_id": "k1", "secret": "{S1}", "tenant": 7}}]',
        "the tenant of k1 must be",
        id="tenant not a name",
    ),
    pytest.param(f"k1:{S1}:{TENANT_A}:everything", "key_id k1: scope 1 is not", id="text file"),
]


@pytest.mark.parametrize(("content", "message"), BAD_FILES)
def test_a_bad_keys_file_stops_start_up_naming_it(
    env: pytest.MonkeyPatch, tmp_path: Path, content: str, message: str
) -> None:
    keyfile = tmp_path / "keys"
    keyfile.write_text(content)
    env.setenv("ISOCDS_API_KEYS_FILE", str(keyfile))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert text.startswith("ISOCDS_API_KEYS_FILE: "), text
    assert message in text, text
    assert S1 not in text


def test_a_key_in_both_the_environment_and_the_file_is_refused(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    keyfile = tmp_path / "keys"
    keyfile.write_text(f"k1:{S2}:{TENANT_B}\n")
    env.setenv("ISOCDS_API_KEYS", f"k1:{S1}:{TENANT_A}")
    env.setenv("ISOCDS_API_KEYS_FILE", str(keyfile))
    with pytest.raises(SettingsError, match="key_id k1 is also in ISOCDS_API_KEYS"):
        load_settings()


def test_only_the_key_id_and_tenant_are_logged(
    api: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="api.request"):
        assert api.get("/v1/sources", headers=A).status_code == 200
    [record] = [r for r in caplog.records if r.name == "api.request"]
    assert (getattr(record, "key_id", None), getattr(record, "tenant", None)) == (
        "clinic-a-ehr",
        TENANT_A,
    )
    assert SECRET_A not in repr(vars(record))
    app: FastAPI = api.app  # type: ignore[assignment]
    assert SECRET_A not in repr(app.state.api_keys["clinic-a-ehr"][1])
