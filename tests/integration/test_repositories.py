"""Repository round trips on SQLite and PostgreSQL, through the service's own engine.

Each engine gets a fresh migrated database for this module, so the audit queries see only the
records written here.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from db.engine import make_engine
from db.repositories import (
    COMPLETED,
    IN_FLIGHT,
    AuditRepository,
    CourseRepository,
    IdempotencyRepository,
)
from db.settings import DbSettings
from db.tables import AuditRecord, Course, CourseEvent, IdempotencyKey
from tests.database import create_pg_database, fresh_sqlite_url

CET = timezone(timedelta(hours=2))
T = "default"  # the tenant of the rows these tests write (tenant scoping: the tests at the end)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The service's engine on a fresh, migrated database of each kind."""
    url = fresh_sqlite_url() if request.param == "sqlite" else create_pg_database()
    eng = make_engine(DbSettings(database_url=SecretStr(url)))
    try:
        yield eng
    finally:
        eng.dispose()


def new_course(**overrides: Any) -> Course:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "tenant": T,
        "patient_ref": f"pat-{uuid.uuid4().hex[:8]}",
        "jurisdiction": "US",
        "product": "generic",
        "start_date": None,
        "weight_at_start_kg": 70.0,
        "target_cumulative_mg_per_kg": 130.0,
        "status": "planned",
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "created_by": "ehr-test",
    }
    values.update(overrides)
    return Course(**values)


def new_event(
    course_id: str, on: date, kind: str = "visit", tenant: str = T, **data: Any
) -> CourseEvent:
    return CourseEvent(
        course_id=course_id,
        tenant=tenant,
        kind=kind,
        event_date=on,
        data={"date": on.isoformat(), **data},
        created_at=datetime.now(UTC),
        created_by="ehr-test",
    )


def store_course(engine: Engine, **overrides: Any) -> Course:
    with Session(engine, expire_on_commit=False) as s, s.begin():
        return CourseRepository(s).add(new_course(**overrides))


def audit_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "recorded_at": datetime.now(UTC),
        "request_id": uuid.uuid4().hex,
        "caller": "ehr-test",
        "tenant": T,
        "endpoint": "/v1/assessments",
        "course_id": None,
        "hook_instance": None,
        "as_of": date(2026, 3, 1),
        "jurisdiction": "US",
        "epoch": "ipledge-2023",
        "ruleset_version": "1.0.0",
        "catalogue_hash": "a" * 64,
        "decision": "start",
        "findings": [{"rule_id": "x.y", "version": 1, "variant": "US", "status": "applies"}],
        "input_hmac": "b" * 64,
    }
    row.update(overrides)
    return row


def assert_utc(value: datetime, expected: datetime) -> None:
    """``value`` is timezone-aware, in UTC, and the same instant as ``expected``."""
    assert value.tzinfo is not None, f"{value!r} is naive"
    assert value.utcoffset() == timedelta(0), value
    assert value == expected


# --- courses --------------------------------------------------------------------------------


def test_course_round_trip(engine: Engine) -> None:
    created = datetime(2026, 1, 15, 9, 30, 15, 123456, tzinfo=UTC)
    course = new_course(
        start_date=date(2026, 1, 20),
        status="active",
        created_at=created,
        updated_at=created,
    )
    with Session(engine, expire_on_commit=False) as s, s.begin():
        CourseRepository(s).add(course)
    with Session(engine) as s:
        got = CourseRepository(s).get(T, course.id)
        assert got is not None
        assert got.patient_ref == course.patient_ref
        assert got.jurisdiction == "US"
        assert got.product == "generic"
        assert got.start_date == date(2026, 1, 20)
        assert got.weight_at_start_kg == 70.0
        assert got.target_cumulative_mg_per_kg == 130.0
        assert got.status == "active"
        assert got.stop_reason is None
        assert got.end_date is None
        assert got.version == 1
        assert got.created_by == "ehr-test"
        assert_utc(got.created_at, created)
        assert_utc(got.updated_at, created)
        assert CourseRepository(s).get(T, str(uuid.uuid4())) is None


def test_timestamps_read_back_aware_utc(engine: Engine) -> None:
    """An aware non-UTC time is stored as the same instant and read back in UTC."""
    local = datetime(2026, 6, 1, 8, 0, 0, tzinfo=CET)
    course = store_course(engine, created_at=local, updated_at=local)
    with Session(engine) as s:
        got = CourseRepository(s).get(T, course.id)
        assert got is not None
        assert_utc(got.created_at, local)
        assert got.created_at.hour == 6
        # What is on disk is UTC too (SQLite keeps no offset: the stored text must be UTC).
        raw = s.execute(
            text("SELECT created_at FROM course WHERE id = :id"), {"id": course.id}
        ).scalar_one()
        if isinstance(raw, str):
            assert raw.startswith("2026-06-01 06:00:00"), raw
        else:
            assert isinstance(raw, datetime)
            assert raw.tzinfo is not None
            assert raw == local


def test_by_patient_oldest_first(engine: Engine) -> None:
    patient = f"pat-{uuid.uuid4().hex}"
    t0 = datetime(2026, 2, 1, tzinfo=UTC)
    later = store_course(engine, patient_ref=patient, created_at=t0 + timedelta(days=2))
    earlier = store_course(engine, patient_ref=patient, created_at=t0)
    store_course(engine)  # another patient
    with Session(engine) as s:
        found = CourseRepository(s).by_patient(T, patient)
        assert [c.id for c in found] == [earlier.id, later.id]
        for c in found:
            assert c.created_at.tzinfo is not None
        assert CourseRepository(s).by_patient(T, "nobody") == []


def test_version_checked_update(engine: Engine) -> None:
    course = store_course(engine)
    changed = datetime(2026, 3, 1, 12, tzinfo=UTC)
    with Session(engine) as s, s.begin():
        repo = CourseRepository(s)
        assert repo.update(
            T,
            course.id,
            1,
            {"status": "active", "start_date": date(2026, 3, 1), "updated_at": changed},
        )
        got = repo.get(T, course.id)
        assert got is not None
        assert (got.version, got.status) == (2, "active")
    with Session(engine) as s, s.begin():
        repo = CourseRepository(s)
        # A stale version changes nothing.
        assert not repo.update(T, course.id, 1, {"status": "stopped", "stop_reason": "stale"})
        assert not repo.update(T, str(uuid.uuid4()), 1, {"status": "stopped"})
    with Session(engine) as s:
        got = CourseRepository(s).get(T, course.id)
        assert got is not None
        assert got.version == 2
        assert got.status == "active"
        assert got.stop_reason is None
        assert got.start_date == date(2026, 3, 1)
        assert_utc(got.updated_at, changed)


def test_start_if_planned_sets_the_start_once(engine: Engine) -> None:
    course = store_course(engine)
    now = datetime.now(UTC)
    with Session(engine) as s, s.begin():
        CourseRepository(s).start_if_planned(T, course.id, date(2026, 4, 2), now)
    with Session(engine) as s, s.begin():
        CourseRepository(s).start_if_planned(T, course.id, date(2026, 5, 2), now)
    with Session(engine) as s:
        got = CourseRepository(s).get(T, course.id)
        assert got is not None
        assert got.start_date == date(2026, 4, 2)


def test_events_ordered_by_date_then_recorded(engine: Engine) -> None:
    course = store_course(engine)
    other = store_course(engine)
    dates = [date(2026, 3, 5), date(2026, 1, 10), date(2026, 3, 5), date(2026, 2, 1)]
    ids: list[int] = []
    with Session(engine) as s, s.begin():
        repo = CourseRepository(s)
        for i, d in enumerate(dates):
            event = repo.add_event(new_event(course.id, d, seq=i))
            assert event.id is not None
            ids.append(event.id)
        repo.add_event(new_event(other.id, date(2026, 1, 1)))
    with Session(engine) as s:
        events = CourseRepository(s).events(T, course.id)
        assert [e.event_date for e in events] == sorted(dates)
        # Same date: in the order recorded.
        assert [e.data["seq"] for e in events] == [1, 3, 0, 2]
        assert [e.id for e in events] == [ids[1], ids[3], ids[0], ids[2]]
        assert all(e.course_id == course.id for e in events)
        assert events[0].data == {"date": "2026-01-10", "seq": 1}
        for e in events:
            assert e.created_at.tzinfo is not None
            assert e.created_at.utcoffset() == timedelta(0)
        assert CourseRepository(s).events(T, str(uuid.uuid4())) == []


def test_event_needs_an_existing_course(engine: Engine) -> None:
    """Foreign keys are enforced on both engines: no orphan event can be written."""
    missing = str(uuid.uuid4())
    with pytest.raises(IntegrityError), Session(engine) as s, s.begin():
        CourseRepository(s).add_event(new_event(missing, date(2026, 1, 1)))
    with Session(engine) as s:
        assert CourseRepository(s).events(T, missing) == []


def test_concurrent_event_appends_all_land(engine: Engine) -> None:
    course = store_course(engine)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def append(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            for j in range(5):
                with Session(engine) as s, s.begin():
                    CourseRepository(s).add_event(
                        new_event(course.id, date(2026, 1, 1 + j), writer=n, j=j)
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "an append hung"
    assert errors == []
    with Session(engine) as s:
        events = CourseRepository(s).events(T, course.id)
    assert sorted((e.data["writer"], e.data["j"]) for e in events) == [
        (n, j) for n in range(8) for j in range(5)
    ]


# --- audit ----------------------------------------------------------------------------------


def test_audit_add_many_and_find(engine: Engine) -> None:
    course_a, course_b = str(uuid.uuid4()), str(uuid.uuid4())
    t0 = datetime(2031, 1, 1, tzinfo=UTC)  # after anything else in this database
    rows = [
        audit_row(recorded_at=t0 + timedelta(minutes=i), course_id=(course_a, course_b)[i % 2])
        for i in range(6)
    ]
    rows.append(audit_row(recorded_at=t0 + timedelta(minutes=6), decision=None))
    with Session(engine) as s, s.begin():
        AuditRepository(s).add_many(rows)
        AuditRepository(s).add_many([])  # nothing to write is fine
    with Session(engine) as s:
        repo = AuditRepository(s)
        mine = repo.find(T, since=t0, limit=1000)
        assert [r.request_id for r in mine] == [r["request_id"] for r in rows]
        ids = [r.id for r in mine if r.id is not None]
        assert len(ids) == len(mine)
        assert ids == sorted(ids)  # oldest first

        first = mine[0]
        assert first.caller == "ehr-test"
        assert first.endpoint == "/v1/assessments"
        assert first.as_of == date(2026, 3, 1)
        assert first.findings == rows[0]["findings"]
        assert first.input_hmac == "b" * 64
        assert first.decision == "start"
        assert mine[-1].decision is None
        assert_utc(first.recorded_at, t0)

        by_a = repo.find(T, course_id=course_a)
        assert [r.request_id for r in by_a] == [rows[i]["request_id"] for i in (0, 2, 4)]
        # since is inclusive, until exclusive.
        window = repo.find(T, since=t0 + timedelta(minutes=2), until=t0 + timedelta(minutes=4))
        assert [r.request_id for r in window] == [rows[2]["request_id"], rows[3]["request_id"]]
        # A non-UTC bound means the same instant.
        local = (t0 + timedelta(minutes=5)).astimezone(CET)
        assert [r.request_id for r in repo.find(T, since=local)] == [
            rows[5]["request_id"],
            rows[6]["request_id"],
        ]
        both = repo.find(T, course_id=course_b, since=t0 + timedelta(minutes=2))
        assert [r.request_id for r in both] == [rows[3]["request_id"], rows[5]["request_id"]]
        page = repo.find(T, since=t0, limit=2)
        assert [r.request_id for r in page] == [rows[0]["request_id"], rows[1]["request_id"]]
        rest = repo.find(T, since=t0, after_id=page[-1].id, limit=1000)
        assert [r.request_id for r in rest] == [r["request_id"] for r in rows[2:]]
        assert repo.find(T, course_id=str(uuid.uuid4())) == []


# --- idempotency ----------------------------------------------------------------------------


def key_row(s: Session, caller: str, key: str) -> IdempotencyKey | None:
    query = select(IdempotencyKey).where(
        col(IdempotencyKey.tenant) == T,
        col(IdempotencyKey.caller) == caller,
        col(IdempotencyKey.key) == key,
    )
    return s.scalars(query).one_or_none()


def test_idempotency_claim_complete_release(engine: Engine) -> None:
    key = uuid.uuid4().hex
    now = datetime.now(UTC)
    with Session(engine) as s, s.begin():
        assert IdempotencyRepository(s).claim(T, "ehr-test", key, "fp-1", now) is None
    # The same key of another caller is another claim.
    with Session(engine) as s, s.begin():
        assert IdempotencyRepository(s).claim(T, "other", key, "fp-9", now) is None
    with Session(engine, expire_on_commit=False) as s, s.begin():
        existing = IdempotencyRepository(s).claim(T, "ehr-test", key, "fp-2", now)
        # The failed insert rolled back to its savepoint only: the transaction goes on.
        s.execute(text("SELECT 1"))
    assert existing is not None
    assert (existing.caller, existing.key, existing.fingerprint) == ("ehr-test", key, "fp-1")
    assert existing.state == IN_FLIGHT
    assert existing.status_code is None
    assert existing.created_at.tzinfo is not None

    with Session(engine) as s, s.begin():
        IdempotencyRepository(s).complete(
            T,
            "ehr-test",
            key,
            status_code=201,
            body=b'{"id": "x"}',
            location="/v1/courses/x",
            etag='"1"',
        )
    with Session(engine) as s, s.begin():
        # Releasing a completed key does nothing: its answer is kept.
        IdempotencyRepository(s).release(T, "ehr-test", key)
    with Session(engine) as s:
        row = key_row(s, "ehr-test", key)
        assert row is not None
        assert row.state == COMPLETED
        assert row.status_code == 201
        assert row.response_body == b'{"id": "x"}'
        assert row.location == "/v1/courses/x"
        assert row.etag == '"1"'
        other = key_row(s, "other", key)
        assert other is not None
        assert other.state == IN_FLIGHT

    # An in-flight claim released can be claimed again.
    with Session(engine) as s, s.begin():
        IdempotencyRepository(s).release(T, "other", key)
    with Session(engine) as s:
        assert key_row(s, "other", key) is None
    with Session(engine) as s, s.begin():
        assert IdempotencyRepository(s).claim(T, "other", key, "fp-3", now) is None


def test_idempotency_unique_per_caller_and_key(engine: Engine) -> None:
    key = uuid.uuid4().hex
    now = datetime.now(UTC)
    with Session(engine) as s, s.begin():
        s.add(
            IdempotencyKey(
                tenant=T, caller="c", key=key, fingerprint="f", state=IN_FLIGHT, created_at=now
            )
        )
    with Session(engine) as s, s.begin():
        s.add(
            IdempotencyKey(
                tenant=T, caller="c", key=key, fingerprint="g", state=IN_FLIGHT, created_at=now
            )
        )
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()


def test_idempotency_take_over_only_stale_in_flight(engine: Engine) -> None:
    key = uuid.uuid4().hex
    now = datetime.now(UTC)
    old = now - timedelta(minutes=5)
    with Session(engine) as s, s.begin():
        assert IdempotencyRepository(s).claim(T, "ehr-test", key, "fp-old", old) is None
    with Session(engine) as s:
        row = key_row(s, "ehr-test", key)
        assert row is not None
        assert row.id is not None
        row_id = row.id
        assert_utc(row.created_at, old)

    # Not stale yet: no take-over.
    with Session(engine) as s, s.begin():
        repo = IdempotencyRepository(s)
        assert not repo.take_over(row_id, "fp-new", now, old - timedelta(seconds=1))
    with Session(engine) as s, s.begin():
        repo = IdempotencyRepository(s)
        assert repo.take_over(row_id, "fp-new", now, now - timedelta(seconds=60))
    with Session(engine) as s:
        row = key_row(s, "ehr-test", key)
        assert row is not None
        assert row.fingerprint == "fp-new"
        assert_utc(row.created_at, now)
    # Taken over: fresh again, so a second take-over fails.
    with Session(engine) as s, s.begin():
        assert not IdempotencyRepository(s).take_over(
            row_id, "fp-3", now, now - timedelta(seconds=60)
        )
    # A completed key is never taken over.
    with Session(engine) as s, s.begin():
        IdempotencyRepository(s).complete(
            T, "ehr-test", key, status_code=200, body=b"{}", location=None, etag=None
        )
    with Session(engine) as s, s.begin():
        assert not IdempotencyRepository(s).take_over(
            row_id, "fp-4", now + timedelta(hours=1), now + timedelta(minutes=30)
        )
    with Session(engine) as s:
        row = key_row(s, "ehr-test", key)
        assert row is not None
        assert (row.state, row.fingerprint) == (COMPLETED, "fp-new")


def test_idempotency_purge_only_old_keys(engine: Engine) -> None:
    now = datetime.now(UTC)
    old_key, new_key = uuid.uuid4().hex, uuid.uuid4().hex
    with Session(engine) as s, s.begin():
        repo = IdempotencyRepository(s)
        assert repo.claim(T, "purge", old_key, "f", now - timedelta(hours=49)) is None
        assert repo.claim(T, "purge", new_key, "f", now - timedelta(hours=25)) is None
    with Session(engine) as s, s.begin():
        IdempotencyRepository(s).purge(now - timedelta(hours=48))
    with Session(engine) as s:
        assert key_row(s, "purge", old_key) is None
        assert key_row(s, "purge", new_key) is not None


def test_audit_table_is_append_only_in_order(engine: Engine) -> None:
    """Record IDs grow with every commit (``after_id`` paging relies on it)."""
    first, second = audit_row(), audit_row()
    with Session(engine) as s, s.begin():
        AuditRepository(s).add_many([first])
    with Session(engine) as s, s.begin():
        AuditRepository(s).add_many([second])
    with Session(engine) as s:
        got = s.scalars(
            select(AuditRecord).where(
                col(AuditRecord.request_id).in_([first["request_id"], second["request_id"]])
            )
        ).all()
        by_request = {r.request_id: r.id for r in got}
        a, b = by_request[first["request_id"]], by_request[second["request_id"]]
        assert a is not None
        assert b is not None
        assert a < b


# --- tenants --------------------------------------------------------------------------------


def test_a_course_of_another_tenant_is_never_found_listed_or_changed(engine: Engine) -> None:
    patient = f"pat-{uuid.uuid4().hex}"
    theirs = store_course(engine, tenant="clinic-a", patient_ref=patient)
    ours = store_course(engine, tenant="clinic-b", patient_ref=patient)
    with Session(engine) as s, s.begin():
        repo = CourseRepository(s)
        repo.add_event(new_event(theirs.id, date(2026, 1, 2), tenant="clinic-a"))
    with Session(engine) as s, s.begin():
        repo = CourseRepository(s)
        assert repo.get("clinic-b", theirs.id) is None
        assert repo.get("clinic-b", theirs.id, lock=True) is None
        assert [c.id for c in repo.by_patient("clinic-b", patient)] == [ours.id]
        assert [c.id for c in repo.by_patient("clinic-a", patient)] == [theirs.id]
        assert repo.events("clinic-b", theirs.id) == []
        assert len(repo.events("clinic-a", theirs.id)) == 1
        assert not repo.update("clinic-b", theirs.id, 1, {"status": "stopped"})
        repo.start_if_planned("clinic-b", theirs.id, date(2026, 1, 3), datetime.now(UTC))
    with Session(engine) as s:
        got = CourseRepository(s).get("clinic-a", theirs.id)
        assert got is not None
        assert (got.status, got.version, got.start_date) == ("planned", 1, None)


def test_an_event_cannot_belong_to_a_course_of_another_tenant(engine: Engine) -> None:
    """The events' foreign key is (course_id, tenant): enforced by the database itself."""
    course = store_course(engine, tenant="clinic-a")
    with pytest.raises(IntegrityError), Session(engine) as s, s.begin():
        CourseRepository(s).add_event(new_event(course.id, date(2026, 1, 1), tenant="clinic-b"))
    with Session(engine) as s:
        assert CourseRepository(s).events("clinic-a", course.id) == []


def test_audit_records_are_found_per_tenant(engine: Engine) -> None:
    course_id = str(uuid.uuid4())
    mine = audit_row(tenant="clinic-a", course_id=course_id)
    theirs = audit_row(tenant="clinic-b", course_id=course_id)
    with Session(engine) as s, s.begin():
        AuditRepository(s).add_many([mine, theirs])
    with Session(engine) as s:
        repo = AuditRepository(s)
        assert [r.request_id for r in repo.find("clinic-a", course_id=course_id)] == [
            mine["request_id"]
        ]
        assert [r.request_id for r in repo.find("clinic-b", course_id=course_id)] == [
            theirs["request_id"]
        ]
        assert repo.find("clinic-c", course_id=course_id) == []


def test_an_idempotency_key_is_claimed_per_tenant(engine: Engine) -> None:
    key = uuid.uuid4().hex
    now = datetime.now(UTC)
    with Session(engine) as s, s.begin():
        repo = IdempotencyRepository(s)
        assert repo.claim("clinic-a", "ehr", key, "fp-a", now) is None
        # The same caller and key in another tenant is another claim, not the first one's.
        assert repo.claim("clinic-b", "ehr", key, "fp-b", now) is None
        repo.complete("clinic-a", "ehr", key, status_code=201, body=b"a", location=None, etag=None)
    with Session(engine, expire_on_commit=False) as s, s.begin():
        existing = IdempotencyRepository(s).claim("clinic-b", "ehr", key, "fp-x", now)
    assert existing is not None
    assert (existing.tenant, existing.fingerprint, existing.state) == (
        "clinic-b",
        "fp-b",
        IN_FLIGHT,
    )
