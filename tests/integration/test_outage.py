"""Outage: PostgreSQL cut off behind a TCP proxy, then back, under the real app and uvicorn.

With the database unreachable, ``/ready``, the data endpoints and every audited evaluation answer
503 problem within ``ISOCDS_DB_TIMEOUT_S`` (plus a small margin); ``/health`` stays 200; when the
database returns, the same app instance recovers by itself. Two ways of being unreachable:
*refused* (the proxy closes every connection and refuses new ones) and *hung* (the proxy accepts
and holds every connection but forwards nothing, as a frozen server or a dropped network does).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr

from api.examples import A1_REQUEST, CHECKLIST_EXAMPLES, DOSING_EXAMPLES
from api.main import create_app
from db.settings import DbSettings
from tests.api.conftest import AUTH, settings
from tests.database import create_pg_database
from tests.integration.support import Answer, Proxy, request, serve

DB_TIMEOUT_S = 2.0
MARGIN_S = 1.0  # scheduling, the threadpool, the HTTP round trip
CLIENT_TIMEOUT_S = DB_TIMEOUT_S + 4.0  # longer than any right answer: a hang shows as a timeout
BOUND_S = DB_TIMEOUT_S + MARGIN_S
CHECKLIST: dict[str, Any] = CHECKLIST_EXAMPLES["follow-up"]["value"]
DOSING: dict[str, Any] = DOSING_EXAMPLES["e1"]["value"]


@pytest.fixture(scope="module")
def pg_db_url() -> str:
    """A migrated PostgreSQL database for this module (direct, not through the proxy)."""
    return create_pg_database()


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    p = Proxy(("127.0.0.1", 5432))
    p.start()
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def port(pg_db_url: str, proxy: Proxy) -> Iterator[int]:
    """The real app on PostgreSQL through the proxy, served by uvicorn."""
    via_proxy = pg_db_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
    assert via_proxy != pg_db_url
    db = DbSettings(database_url=SecretStr(via_proxy), db_timeout_s=DB_TIMEOUT_S)
    app = create_app(settings(db=db))
    with serve(app) as p:
        yield p
    # Leave the proxy forwarding so that anything still waiting can finish before teardown.
    proxy.on()


@dataclass
class Outcomes:
    """Calls made while the database is down: every miss is reported at the end, together."""

    misses: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(
        self,
        name: str,
        port: int,
        method: str,
        path: str,
        body: Any = None,
        *,
        expect: int,
        within: float | None,
        problem: bool = False,
    ) -> Answer | None:
        """Make the call; note a wrong status, a non-problem body or a late answer."""
        headers = AUTH if path.startswith("/v1") else {}
        started = time.monotonic()
        try:
            answer = request(port, method, path, body, headers, timeout=CLIENT_TIMEOUT_S)
        except (OSError, http.client.HTTPException) as exc:
            waited = time.monotonic() - started
            self.timings[name] = waited
            self.miss(f"{name}: no answer after {waited:.2f} s ({type(exc).__name__})")
            return None
        self.timings[name] = answer.elapsed
        if answer.status != expect:
            self.miss(
                f"{name}: {answer.status} after {answer.elapsed:.2f} s, expected {expect}: "
                f"{answer.body[:200]!r}"
            )
        elif problem and not answer.is_problem:
            self.miss(f"{name}: {answer.status} is not a problem+json: {answer.headers}")
        if within is not None and answer.elapsed > within:
            self.miss(
                f"{name}: answered {answer.status} after {answer.elapsed:.2f} s > {within:.2f} s"
            )
        return answer

    def miss(self, text: str) -> None:
        with self.lock:
            self.misses.append(text)

    def check(self) -> None:
        summary = ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items())
        assert not self.misses, "\n".join([*self.misses, f"timings: {summary}"])


def ok(port: int, method: str, path: str, body: Any = None, status: int = 200) -> Answer:
    headers = AUTH if path.startswith("/v1") else {}
    answer = request(port, method, path, body, headers, timeout=CLIENT_TIMEOUT_S)
    assert answer.status == status, (method, path, answer.status, answer.body[:300])
    return answer


def new_course(port: int) -> str:
    body = {"patient_ref": f"outage-{time.monotonic_ns()}", "jurisdiction": "US"}
    course_id: str = ok(port, "POST", "/v1/courses", body, 201).json()["id"]
    return course_id


def audit_has(port: int, request_id: str) -> bool:
    after: int | None = None
    while True:
        path = "/v1/audit?limit=1000" + ("" if after is None else f"&after_id={after}")
        page = ok(port, "GET", path).json()
        if any(r["request_id"] == request_id for r in page["records"]):
            return True
        after = page["next_after_id"]
        if after is None:
            return False


def check_healthy(port: int) -> str:
    """The service works against the database: ready, reads, writes, audited evaluations."""
    ready = ok(port, "GET", "/ready").json()
    assert ready["status"] == "ready"
    course_id = new_course(port)
    got = ok(port, "GET", f"/v1/courses/{course_id}").json()
    assert got["id"] == course_id
    visit = {"visit_date": "2026-01-10", "weight": {"value": 70}}
    ok(port, "POST", f"/v1/courses/{course_id}/visits", visit, 201)
    events = ok(port, "GET", f"/v1/courses/{course_id}/events").json()["events"]
    assert [e["kind"] for e in events] == ["visit"]
    evaluation = ok(port, "POST", "/v1/assessments", A1_REQUEST)
    assert evaluation.json()["decision"]
    answered = [
        evaluation,
        ok(port, "POST", "/v1/checklists", CHECKLIST),
        ok(port, "POST", "/v1/dosing-plans", DOSING),
        ok(port, "GET", f"/v1/courses/{course_id}/checklist?as_of=2026-02-01"),
    ]
    for a in answered:
        request_id = a.headers["x-request-id"]
        assert audit_has(port, request_id), f"answered evaluation {request_id} was not audited"
    return course_id


def during_outage(port: int, course_id: str, outcomes: Outcomes) -> None:
    """Every call the issue names, at once, while the database is unreachable: each meets one
    of the pooled connections that were open when the database went away."""
    outcomes.call("GET /health", port, "GET", "/health", expect=200, within=MARGIN_S)
    calls: list[tuple[str, str, str, Any]] = [
        ("GET /v1/courses/{id}", "GET", f"/v1/courses/{course_id}", None),
        ("POST /v1/courses", "POST", "/v1/courses", {"patient_ref": "x", "jurisdiction": "US"}),
        (
            "POST /v1/courses/{id}/visits",
            "POST",
            f"/v1/courses/{course_id}/visits",
            {"visit_date": "2026-01-11"},
        ),
        ("POST /v1/assessments", "POST", "/v1/assessments", A1_REQUEST),
        ("POST /v1/checklists", "POST", "/v1/checklists", CHECKLIST),
        ("POST /v1/dosing-plans", "POST", "/v1/dosing-plans", DOSING),
        (
            "GET /v1/courses/{id}/checklist",
            "GET",
            f"/v1/courses/{course_id}/checklist?as_of=2026-02-01",
            None,
        ),
        ("GET /ready", "GET", "/ready", None),
    ]
    threads = [
        threading.Thread(
            target=outcomes.call,
            args=(name, port, method, path, body),
            kwargs={"expect": 503, "within": BOUND_S, "problem": True},
        )
        for name, method, path, body in calls
    ]
    for t in threads:
        t.start()
    # /health answers while the database calls wait.
    outcomes.call("GET /health (during)", port, "GET", "/health", expect=200, within=MARGIN_S)
    for t in threads:
        t.join(timeout=CLIENT_TIMEOUT_S + 2)
    outcomes.call("GET /ready (again)", port, "GET", "/ready", expect=503, within=BOUND_S)
    concurrent_evaluations(port, outcomes)


def warm_pool(port: int, course_id: str, n: int = 8) -> None:
    """Concurrent reads, so that the pool holds several open connections (as in production)."""
    errors: list[str] = []

    def one() -> None:
        try:
            a = request(port, "GET", f"/v1/courses/{course_id}/events", None, AUTH, timeout=10)
            if a.status != 200:
                errors.append(f"{a.status}")
        except (OSError, http.client.HTTPException) as exc:
            errors.append(repr(exc))

    for _ in range(3):
        threads = [threading.Thread(target=one) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=15)
    assert errors == []


def concurrent_evaluations(port: int, outcomes: Outcomes, n: int = 6) -> None:
    """Several audited evaluations at once: each is refused (503) within the bound."""
    answers: list[Answer | BaseException] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            a: Answer | BaseException = request(
                port, "POST", "/v1/assessments", A1_REQUEST, AUTH, timeout=CLIENT_TIMEOUT_S
            )
        except (OSError, http.client.HTTPException) as exc:
            a = exc
        with lock:
            answers.append(a)

    started = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=CLIENT_TIMEOUT_S + 2)
    outcomes.timings[f"{n} concurrent POST /v1/assessments"] = time.monotonic() - started
    for a in answers:
        if not isinstance(a, Answer):
            outcomes.miss(f"concurrent POST /v1/assessments: no answer ({a!r})")
        elif a.status != 503 or not a.is_problem or a.elapsed > BOUND_S:
            outcomes.miss(f"concurrent POST /v1/assessments: {a.status} after {a.elapsed:.2f} s")
    if len(answers) != n:
        outcomes.miss(f"concurrent POST /v1/assessments: {len(answers)} of {n} answered")


def recover(port: int, outcomes: Outcomes) -> None:
    """After the database returns: /ready 200 again without a restart, within a few seconds."""
    started = time.monotonic()
    deadline = started + DB_TIMEOUT_S + 5
    last: Answer | str = "no call"
    while time.monotonic() < deadline:
        try:
            last = request(port, "GET", "/ready", timeout=CLIENT_TIMEOUT_S)
        except (OSError, http.client.HTTPException) as exc:
            last = repr(exc)
        if isinstance(last, Answer) and last.status == 200:
            outcomes.timings["recovery (/ready 200)"] = time.monotonic() - started
            return
        time.sleep(0.1)
    outcomes.miss(f"not ready again {deadline - started:.0f} s after the database came back")
    outcomes.check()


def test_database_refused(port: int, proxy: Proxy) -> None:
    course_id = check_healthy(port)
    warm_pool(port, course_id)
    # Open connections to share out among the concurrent calls below (and the app uses the proxy).
    assert proxy.connections >= 5, proxy.connections

    proxy.off()
    outcomes = Outcomes()
    during_outage(port, course_id, outcomes)

    proxy.on()
    recover(port, outcomes)
    outcomes.check()
    check_healthy(port)
    # What was there before the outage still is.
    assert ok(port, "GET", f"/v1/courses/{course_id}").json()["id"] == course_id


def test_database_hangs(port: int, proxy: Proxy) -> None:
    course_id = check_healthy(port)
    warm_pool(port, course_id)
    # Open connections to share out among the concurrent calls below (and the app uses the proxy).
    assert proxy.connections >= 5, proxy.connections

    proxy.hang()
    outcomes = Outcomes()
    try:
        during_outage(port, course_id, outcomes)
    finally:
        proxy.on()
    recover(port, outcomes)
    # Recovery is checked before the misses are reported: the service must come back either way.
    healthy = True
    try:
        check_healthy(port)
    except AssertionError as exc:
        healthy = False
        outcomes.miss(f"after the database came back: {exc}")
    outcomes.check()
    assert healthy
