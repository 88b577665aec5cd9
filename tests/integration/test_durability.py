"""Durability: SIGKILL the real service in the middle of a stream of acknowledged writes.

The service runs as a subprocess (``python -m api``) on a fresh, migrated SQLite file. A few
threads stream writes (courses, events, idempotent course creations) and audited evaluations;
every 2xx answer is recorded. The server is killed with SIGKILL under load, restarted on the same
file, and every acknowledged write and every answered evaluation's audit record must be there,
with nothing half-written.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from api.examples import A1_REQUEST
from db.engine import make_engine
from db.migrate import upgrade
from db.settings import DbSettings
from tests.database import HMAC_KEY
from tests.integration.support import free_port, request

ROOT = Path(__file__).resolve().parents[2]
KEY_ID = "ehr-durability"
SECRET = "durability-secret-0123456789abcdef"  # noqa: S105  # a test key
HEADERS = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
WORKERS = 4
LOAD_S = 1.5  # load before the kill
START_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 10.0


@dataclass
class Server:
    """One run of ``python -m api`` on the database."""

    db_url: str
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ISOCDS_")}
        env.update(
            {
                "ISOCDS_DATABASE_URL": self.db_url,
                # Tenant default; the default scopes and audit:read (the test reads the audit).
                "ISOCDS_API_KEYS": f"{KEY_ID}:{SECRET}:default:"
                "evaluate+courses:read+courses:write+audit:read",
                "ISOCDS_AUDIT_HMAC_KEY": HMAC_KEY,
                "ISOCDS_HOST": "127.0.0.1",
                "ISOCDS_PORT": str(self.port),
                "ISOCDS_TIMEZONE": "UTC",
                "ISOCDS_LOG_LEVEL": "warning",
            }
        )
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the service exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                status = request(self.port, "GET", "/ready", timeout=2).status
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)
                continue
            if status == 200:
                return
            time.sleep(0.05)
        raise AssertionError(f"the service was not ready in {START_TIMEOUT_S} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no checkpoint, no flush."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """A graceful stop (SIGTERM), SIGKILL if it does not exit in 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]


def api(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any, dict[str, str]]:
    a = request(port, method, path, body, HEADERS, timeout=REQUEST_TIMEOUT_S)
    return a.status, json.loads(a.body) if a.body else None, a.headers


@dataclass
class Acked:
    """What the service acknowledged (a 2xx answer received in full)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    courses: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> body sent
    keyed: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # key -> id, body
    events: dict[int, str] = field(default_factory=dict)  # event id -> course id
    dispensed: set[str] = field(default_factory=set)  # courses with an acknowledged dispensing
    evaluations: dict[str, str | None] = field(default_factory=dict)  # request id -> course id
    refused: list[tuple[str, int, bytes]] = field(default_factory=list)  # non-2xx answers
    sent: int = 0
    unanswered: int = 0  # requests cut off by the kill


def worker(port: int, n: int, acked: Acked, stop: threading.Event) -> None:
    """Stream writes and evaluations until the server dies (or ``stop``)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)

    def call(method: str, path: str, body: Any, extra: dict[str, str] | None = None) -> Any:
        with acked.lock:
            acked.sent += 1
        try:
            a = request(port, method, path, body, {**HEADERS, **(extra or {})}, conn=conn)
        except (OSError, http.client.HTTPException):
            with acked.lock:
                acked.unanswered += 1
            raise
        if not 200 <= a.status < 300:
            with acked.lock:
                acked.refused.append((path, a.status, a.body[:300]))
            return None
        return a.headers, a.json()

    i = 0
    try:
        while not stop.is_set():
            i += 1
            body = {"patient_ref": f"dur-{n}-{i}", "jurisdiction": "US", "product": "generic"}
            key = f"dur-{n}-{i}-{uuid.uuid4().hex[:8]}" if i % 2 == 0 else None
            got = call("POST", "/v1/courses", body, {"Idempotency-Key": key} if key else None)
            if got is None:
                continue
            course_id = got[1]["id"]
            with acked.lock:
                acked.courses[course_id] = body
                if key is not None:
                    acked.keyed[key] = (course_id, body)

            for kind, path, event in (
                ("visit", "visits", {"visit_date": "2026-01-10", "weight": {"value": 70}}),
                (
                    "dispensing",
                    "dispensings",
                    {"dispensed_on": "2026-01-12", "mg_per_day": 40, "days_supplied": 30},
                ),
                (
                    "counselling",
                    "counselling",
                    {"topic": "counselling.sun", "given_on": "2026-01-12"},
                ),
            ):
                got = call("POST", f"/v1/courses/{course_id}/{path}", event)
                if got is None:
                    continue
                with acked.lock:
                    acked.events[int(got[1]["id"])] = course_id
                    if kind == "dispensing":
                        acked.dispensed.add(course_id)

            got = call("POST", "/v1/assessments", A1_REQUEST)
            if got is not None:
                with acked.lock:
                    acked.evaluations[got[0]["x-request-id"]] = None
            got = call("GET", f"/v1/courses/{course_id}/checklist?as_of=2026-02-01", None)
            if got is not None:
                with acked.lock:
                    acked.evaluations[got[0]["x-request-id"]] = course_id
    except (OSError, http.client.HTTPException):
        return  # the server was killed
    finally:
        conn.close()


@pytest.fixture
def workdir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="isocds-durability-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def audit_request_ids(port: int) -> dict[str, str | None]:
    """Every audit record through ``GET /v1/audit``: request ID -> course ID."""
    found: dict[str, str | None] = {}
    after: int | None = None
    for _ in range(1000):
        path = "/v1/audit?limit=1000" + ("" if after is None else f"&after_id={after}")
        status, page, _ = api(port, "GET", path)
        assert status == 200, page
        for r in page["records"]:
            found[r["request_id"]] = r["course_id"]
        after = page["next_after_id"]
        if after is None:
            return found
    raise AssertionError("GET /v1/audit did not end")


def test_sigkill_loses_no_acknowledged_write(workdir: Path) -> None:
    db_file = workdir / "isocds.db"
    db_url = f"sqlite:///{db_file}"
    upgrade(db_url)
    acked = Acked()
    first = Server(db_url, workdir / "server-1.log")
    second = Server(db_url, workdir / "server-2.log")
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        first.start()
        assert first.proc is not None
        threads = [
            threading.Thread(target=worker, args=(first.port, n, acked, stop), daemon=True)
            for n in range(WORKERS)
        ]
        for t in threads:
            t.start()
        time.sleep(LOAD_S)
        with acked.lock:
            before_kill = acked.sent
        first.kill()
        assert first.proc.returncode == -signal.SIGKILL
        for t in threads:
            t.join(timeout=REQUEST_TIMEOUT_S + 5)
        assert not any(t.is_alive() for t in threads), "a client thread hung after the kill"

        # The kill interrupted a stream, not an idle server.
        assert before_kill > 20, before_kill
        assert len(acked.courses) >= 5, len(acked.courses)
        assert len(acked.events) >= 5, len(acked.events)
        assert len(acked.evaluations) >= 5, len(acked.evaluations)
        assert acked.refused == [], acked.refused[:5]
        # SIGKILL left the write-ahead log behind (the file was in WAL mode while serving).
        assert Path(f"{db_file}-wal").exists()

        second.start()
        port = second.port

        # Every acknowledged course and event is there.
        for course_id, body in acked.courses.items():
            status, course, _ = api(port, "GET", f"/v1/courses/{course_id}")
            assert status == 200, (course_id, course)
            assert course["patient_ref"] == body["patient_ref"]
        by_course: dict[str, set[int]] = {}
        for event_id, course_id in acked.events.items():
            by_course.setdefault(course_id, set()).add(event_id)
        for course_id, wanted in by_course.items():
            status, events, _ = api(port, "GET", f"/v1/courses/{course_id}/events")
            assert status == 200, events
            stored = {e["id"] for e in events["events"]}
            assert wanted <= stored, (course_id, wanted - stored)
        for course_id in acked.dispensed:
            status, course, _ = api(port, "GET", f"/v1/courses/{course_id}")
            assert course["status"] == "active", course
            assert course["start_date"] == "2026-01-12", course

        # Every answered evaluation has its audit record.
        audited = audit_request_ids(port)
        missing = set(acked.evaluations) - set(audited)
        assert not missing, f"{len(missing)} answered evaluations lack an audit record"
        for request_id, evaluated in acked.evaluations.items():
            assert audited[request_id] == evaluated, request_id

        # An acknowledged idempotent write replays its answer and writes nothing new.
        assert acked.keyed
        for key, (course_id, body) in list(acked.keyed.items())[:5]:
            a = request(port, "POST", "/v1/courses", body, {**HEADERS, "Idempotency-Key": key})
            assert a.status == 201, a.body
            assert a.json()["id"] == course_id
            assert a.headers.get("idempotent-replayed") == "true"
            status, listed, _ = api(port, "GET", f"/v1/courses?patient_ref={body['patient_ref']}")
            assert [c["id"] for c in listed["courses"]] == [course_id]

        second.stop()
        assert second.proc is not None
        # uvicorn re-raises the SIGTERM it handled after its graceful shutdown.
        assert second.proc.returncode in (0, -signal.SIGTERM), second.tail()

        check_file(db_file, acked)
        check_engine_pragmas(db_url)
    finally:
        stop.set()
        first.stop()
        second.stop()
        for t in threads:
            t.join(timeout=REQUEST_TIMEOUT_S + 5)


def check_file(db_file: Path, acked: Acked) -> None:
    """The file itself: intact, no orphans, no half-written write."""
    conn = sqlite3.connect(db_file, timeout=5)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        orphans = conn.execute(
            "SELECT count(*) FROM course_event e LEFT JOIN course c ON c.id = e.course_id"
            " WHERE c.id IS NULL"
        ).fetchone()
        assert orphans == (0,)

        courses = conn.execute("SELECT count(*) FROM course").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM course_event").fetchone()[0]
        audits = conn.execute("SELECT count(*) FROM audit_record").fetchone()[0]
        assert courses >= len(acked.courses)
        assert events >= len(acked.events)
        assert audits >= len(acked.evaluations)
        # Nothing stored beyond what was sent (at most the requests cut off by the kill).
        assert courses <= len(acked.courses) + WORKERS
        assert events <= len(acked.events) + WORKERS
        assert audits <= len(acked.evaluations) + WORKERS

        # A dispensing and the course's start commit together.
        half = conn.execute(
            "SELECT c.id, c.status, c.start_date FROM course c"
            " JOIN course_event e ON e.course_id = c.id AND e.kind = 'dispensing'"
            " WHERE c.status != 'active' OR c.start_date IS NULL"
        ).fetchall()
        assert half == []
        # A completed idempotency key and its write commit together.
        for location, status_code, body in conn.execute(
            "SELECT location, status_code, response_body FROM idempotency_key"
            " WHERE state = 'completed'"
        ):
            course_id = location.removeprefix("/v1/courses/")
            assert status_code == 201
            assert json.loads(body)["id"] == course_id
            found = conn.execute("SELECT count(*) FROM course WHERE id = ?", (course_id,))
            assert found.fetchone() == (1,), location
        completed = conn.execute(
            "SELECT key FROM idempotency_key WHERE state = 'completed'"
        ).fetchall()
        assert set(acked.keyed) <= {k for (k,) in completed}
        # Audit records are whole.
        for request_id, findings, hmac in conn.execute(
            "SELECT request_id, findings, input_hmac FROM audit_record"
        ):
            assert request_id, "an audit record without its request ID"
            assert isinstance(json.loads(findings), list)
            assert len(hmac) == 64
    finally:
        conn.close()


def check_engine_pragmas(db_url: str) -> None:
    """A connection of the service's engine runs synchronous=FULL with foreign keys on."""
    engine = make_engine(DbSettings(database_url=SecretStr(db_url)))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        engine.dispose()
