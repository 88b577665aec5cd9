"""The process lifecycle of ``python -m api``: start-up with and without settings, and SIGTERM.

Each test starts the real command in a subprocess on loopback (a free port, its own working
directory) and stops it in a ``finally``; every wait is bounded.

- **Graceful shutdown**: SIGTERM while 32 clients load the service with assessments and CDS Hooks
  order-sign calls. Every request fully sent before the signal gets a complete answer (no reset,
  no protocol error), every 200 has exactly one audit record (``X-Request-ID`` =
  ``audit_record.request_id``; CDS Hooks calls also by ``hookInstance``), and the process exits
  0 within 10 s of the signal. Requests sent after it may be refused; they are counted apart.
  On SQLite and on PostgreSQL (migrated by ``python -m api migrate`` first).
- **No settings** (a bare working directory): ``var/isocds.db`` is created and migrated,
  ``/health`` and ``/ready`` answer 200, and every ``/v1`` and CDS Hooks call gets 401.
- **Unmigrated PostgreSQL**: ``/ready`` answers 503 until ``python -m api migrate`` has run, then
  200 without a restart; ``/health`` is 200 throughout.
- **A bad setting**: exit code 2 and a message naming the setting.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from api.examples import A1_REQUEST
from bench.cds import order_sign_body
from db.migrate import head_revision
from tests.cds.support import ISS_US, SigningKey, client_config, es384_key, hook_request, token
from tests.database import HMAC_KEY, create_pg_database, fresh_sqlite_url
from tests.integration.support import Answer, free_port, request

ROOT = Path(__file__).resolve().parents[2]
SECRET = "lifecycle-secret-0123456789"  # noqa: S105  # a test key
AUTH = {"Authorization": f"Bearer {SECRET}"}
ORDER_PATH = "/cds-services/isotretinoin-order-sign"

START_TIMEOUT_S = 60.0  # imports without bytecode are slow here; a hung start still ends
EXIT_BOUND_S = 10.0  # the bound from SIGTERM to exit
REQUEST_TIMEOUT_S = 15.0  # longer than any right answer: a hang shows as a timeout
CLIENTS = 32
WARM_ANSWERS = 96  # answered calls before the signal (every client has had a few)
MIN_IN_FLIGHT = 4  # sent before the signal, answered after it


# --- the process -------------------------------------------------------------------------------


def base_env(port: int) -> dict[str, str]:
    """This environment without any ``ISOCDS_*`` setting, plus the port and the code's path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISOCDS_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["ISOCDS_PORT"] = str(port)
    return env


@dataclass
class Service:
    """A running ``python -m api``."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        """The last lines the process wrote (for failure messages)."""
        with suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        return ""

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        """One request (raises when there is no answer)."""
        return request(self.port, method, path, body, headers, timeout=REQUEST_TIMEOUT_S)

    def wait_for(self, path: str, status: int, timeout: float = START_TIMEOUT_S) -> Answer:
        """Poll ``GET path`` until it answers ``status``; fail if the process ends or time runs out."""
        deadline = time.monotonic() + timeout
        last: str = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"exited {self.proc.returncode} before {path} answered:\n{self.output()}"
                )
            try:
                answer = request(self.port, "GET", path, timeout=2)
            except (OSError, http.client.HTTPException) as exc:
                last = type(exc).__name__
            else:
                if answer.status == status:
                    return answer
                last = f"{answer.status} {answer.body[:200]!r}"
            time.sleep(0.05)
        pytest.fail(f"{path} did not answer {status} in {timeout:.0f} s (last: {last})")


@contextmanager
def running(env: dict[str, str], cwd: Path, *args: str) -> Iterator[Service]:
    """``python -m api [args]`` in ``cwd``; killed at the end if it is still running."""
    log = cwd / f"service-{uuid.uuid4().hex[:8]}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603  # this interpreter, our command
            [sys.executable, "-m", "api", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Service(proc, int(env["ISOCDS_PORT"]), log)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def run_command(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m api args`` to completion (bounded)."""
    return subprocess.run(  # noqa: S603  # this interpreter, our command
        [sys.executable, "-m", "api", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )


# --- graceful shutdown -------------------------------------------------------------------------


@dataclass(eq=False)
class Call:
    """One request of the load, as the client saw it (``time.monotonic`` instants)."""

    kind: str
    started: float
    sent: float | None = None  # the whole request was written to the socket
    done: float | None = None
    status: int | None = None
    request_id: str | None = None
    hook_instance: str | None = None
    error: str | None = None


@dataclass
class Load:
    """``CLIENTS`` threads, each on its own keep-alive connection, alternating an assessment and
    a CDS Hooks order-sign call (a fresh JWT and ``hookInstance`` each) until the server is gone.
    """

    port: int
    key: SigningKey
    calls: list[Call] = field(default_factory=list)
    signalled_at: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.assessment = json.dumps(A1_REQUEST).encode()
        self.order = order_sign_body()
        self.audience = f"http://127.0.0.1:{self.port}{ORDER_PATH}"

    def start(self) -> None:
        for i in range(CLIENTS):
            t = threading.Thread(target=self._client, args=(i,), name=f"load-{i}", daemon=True)
            self.threads.append(t)
            t.start()

    def answered(self) -> int:
        with self.lock:
            return sum(c.status is not None for c in self.calls)

    def join(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(REQUEST_TIMEOUT_S + 5)
        alive = [t.name for t in self.threads if t.is_alive()]
        assert not alive, f"load clients still running: {alive}"

    def _request(self, n: int) -> tuple[Call, str, bytes, dict[str, str]]:
        headers = {"Content-Type": "application/json"}
        if n % 2 == 0:
            headers.update(AUTH)
            return Call("assessment", time.monotonic()), "/v1/assessments", self.assessment, headers
        instance = str(uuid.uuid4())
        body = json.dumps({**self.order, "hookInstance": instance}).encode()
        headers["Authorization"] = f"Bearer {token(self.key, self.audience, iss=ISS_US)}"
        call = Call("order-sign", time.monotonic(), hook_instance=instance)
        return call, ORDER_PATH, body, headers

    def _client(self, i: int) -> None:
        conn: http.client.HTTPConnection | None = None
        n = i
        while not self.stop.is_set():
            call, path, body, headers = self._request(n)
            n += 1
            with self.lock:
                self.calls.append(call)
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
            try:
                conn.request("POST", path, body=body, headers=headers)
                call.sent = time.monotonic()
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                call.done = time.monotonic()
                call.error = type(exc).__name__
                conn.close()
                conn = None
                if self.signalled_at is not None:
                    return  # the server is going away: this client is done
                continue
            call.done = time.monotonic()
            call.status = response.status
            call.request_id = response.getheader("x-request-id")
            if response.will_close:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()


def audit_rows(url: str) -> list[tuple[str, str | None]]:
    """``(request_id, hook_instance)`` of every audit record."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT request_id, hook_instance FROM audit_record")).all()
    finally:
        engine.dispose()
    return [(r[0], r[1]) for r in rows]


def describe(calls: list[Call], signalled: float) -> str:
    """The first few calls, with their times relative to the signal (ms)."""

    def ms(t: float | None) -> str:
        return "-" if t is None else f"{(t - signalled) * 1000:+.0f}"

    return "; ".join(
        f"{c.kind} sent {ms(c.sent)} done {ms(c.done)}: {c.status or c.error}" for c in calls[:5]
    )


def check_shutdown(url: str, tmp_path: Path) -> None:
    """Load the service, send SIGTERM mid-load, and check the answers, the audit and the exit."""
    port = free_port()
    key = es384_key("lifecycle")
    clients = tmp_path / "clients.json"
    clients.write_text(json.dumps([client_config(ISS_US, "US", (key,))]), encoding="utf-8")
    env = base_env(port) | {
        "ISOCDS_DATABASE_URL": url,
        "ISOCDS_API_KEYS": f"lifecycle:{SECRET}",
        "ISOCDS_CDS_CLIENTS_FILE": str(clients),
        "ISOCDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",  # the aud of Load's tokens
        "ISOCDS_AUDIT_HMAC_KEY": HMAC_KEY,
        "ISOCDS_TIMEZONE": "UTC",
        "ISOCDS_LOG_LEVEL": "warning",
    }
    load = Load(port, key)
    with running(env, tmp_path) as service:
        service.wait_for("/ready", 200)
        load.start()
        try:
            deadline = time.monotonic() + 30
            while load.answered() < WARM_ANSWERS:
                assert time.monotonic() < deadline, f"load did not warm up:\n{service.output()}"
                assert service.proc.poll() is None, f"the service died:\n{service.output()}"
                time.sleep(0.01)
            signalled = time.monotonic()
            load.signalled_at = signalled
            service.proc.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                service.proc.wait(timeout=EXIT_BOUND_S)
            exited = time.monotonic() - signalled
            code = service.proc.poll()
        finally:
            load.join()
        output = service.output()

    calls = list(load.calls)
    failed_early = [c for c in calls if c.error and c.done is not None and c.done < signalled]
    before = [c for c in calls if c.sent is not None and c.sent < signalled]
    unanswered = [c for c in before if c.status is None]
    in_flight = [c for c in before if c.status is not None and c.done and c.done > signalled]
    seen = {id(c) for c in before} | {id(c) for c in failed_early}
    after = [c for c in calls if id(c) not in seen]
    refused = [c for c in after if c.status is None]
    answered = [c for c in calls if c.status is not None]
    not_ok = [c for c in answered if c.status != 200]
    errors: dict[str, int] = {}
    for c in refused:
        errors[c.error or "?"] = errors.get(c.error or "?", 0) + 1

    rows = audit_rows(url)
    by_request: dict[str, int] = {}
    by_instance: dict[str, list[str]] = {}
    for request_id, instance in rows:
        by_request[request_id] = by_request.get(request_id, 0) + 1
        if instance is not None:
            by_instance.setdefault(instance, []).append(request_id)
    unaudited = [
        c
        for c in answered
        if c.status == 200
        and (
            by_request.get(c.request_id or "", 0) != 1
            or (c.kind == "order-sign" and by_instance.get(c.hook_instance or "") != [c.request_id])
        )
    ]

    summary = (
        f"{url.split(':')[0]}: {len(calls)} requests; {len(before)} sent before SIGTERM, "
        f"{len(in_flight)} of them answered after it, {len(unanswered)} unanswered; "
        f"{len(after)} after it: {len(after) - len(refused)} answered, {len(refused)} refused "
        f"{errors}; {len(answered)} answers, {len(not_ok)} not 200, {len(unaudited)} 200s without "
        f"exactly one audit record ({len(rows)} records); exit {code} after {exited:.2f} s"
    )
    print(summary)  # noqa: T201  # the figures, shown with pytest -s
    assert not failed_early, (
        f"requests failed before the signal: {describe(failed_early, signalled)}\n{summary}"
    )
    assert len(in_flight) >= MIN_IN_FLIGHT, f"too few requests in flight at SIGTERM: {summary}"
    assert not unanswered, (
        f"requests sent before SIGTERM got no answer: {describe(unanswered, signalled)}\n{summary}\n{output}"
    )
    assert not not_ok, f"answers other than 200: {describe(not_ok, signalled)}\n{summary}\n{output}"
    assert not unaudited, (
        f"200s without exactly one audit record: {describe(unaudited, signalled)}\n{summary}"
    )
    assert code is not None, f"still running {EXIT_BOUND_S:.0f} s after SIGTERM: {summary}"
    assert code == 0, f"exit code {code} after SIGTERM (expected 0): {summary}\n{output}"


def test_sigterm_under_load_on_sqlite(tmp_path: Path) -> None:
    check_shutdown(fresh_sqlite_url(), tmp_path)


def test_sigterm_under_load_on_postgresql(tmp_path: Path) -> None:
    url = create_pg_database(migrate=False)
    migrated = run_command(
        base_env(free_port()) | {"ISOCDS_DATABASE_URL": url}, tmp_path, "migrate"
    )
    assert migrated.returncode == 0, migrated.stderr
    check_shutdown(url, tmp_path)


# --- start-up ----------------------------------------------------------------------------------


def openapi_operations(service: Service) -> list[tuple[str, str]]:
    """``(method, path)`` of every ``/v1`` operation the service documents (path parameters
    filled with a made-up value)."""
    schema = service.call("GET", "/openapi.json").json()
    operations = []
    for path, ops in schema["paths"].items():
        if not path.startswith("/v1"):
            continue
        concrete = path
        for op in ops.values():
            for param in op.get("parameters", []):
                if param["in"] == "path":
                    concrete = concrete.replace("{" + param["name"] + "}", "x-1")
        operations += [(method.upper(), concrete) for method in ops]
    return operations


def test_no_settings_starts_on_sqlite_with_every_door_shut(tmp_path: Path) -> None:
    env = base_env(free_port())
    with running(env, tmp_path) as service:
        ready = service.wait_for("/ready", 200).json()
        assert ready["schema_revision"] == head_revision()
        assert (tmp_path / "var" / "isocds.db").is_file()
        assert (tmp_path / "var" / "audit-hmac.key").is_file()
        assert service.call("GET", "/health").status == 200

        operations = openapi_operations(service)
        assert len(operations) >= 20, operations
        made_up = {"Authorization": "Bearer made-up-secret-0123456789"}
        open_doors = []
        for method, path in operations:
            body: dict[str, Any] | None = {} if method in ("POST", "PATCH") else None
            for headers in ({}, made_up):
                answer = service.call(method, path, body, headers)
                if answer.status != 401:
                    open_doors.append(f"{method} {path} {headers}: {answer.status}")

        key = es384_key("stranger")
        order = hook_request("order-sign", {})
        for method, path, body in (
            ("GET", "/cds-services", None),
            ("POST", ORDER_PATH, order),
            ("POST", "/cds-services/isotretinoin-patient-view", hook_request("patient-view", {})),
            ("POST", f"{ORDER_PATH}/feedback", {"feedback": []}),
        ):
            audience = f"http://127.0.0.1:{service.port}{path}"
            for headers in ({}, {"Authorization": f"Bearer {token(key, audience)}"}):
                answer = service.call(method, path, body, headers)
                if answer.status != 401:
                    open_doors.append(f"{method} {path} {sorted(headers)}: {answer.status}")
        assert not open_doors, "\n".join(open_doors)


def test_unmigrated_postgresql_is_not_ready_until_migrated(tmp_path: Path) -> None:
    url = create_pg_database(migrate=False)
    env = base_env(free_port()) | {"ISOCDS_DATABASE_URL": url, "ISOCDS_LOG_LEVEL": "warning"}
    with running(env, tmp_path) as service:
        service.wait_for("/health", 200)
        for _ in range(3):
            answer = service.call("GET", "/ready")
            assert answer.status == 503, answer.body
            assert answer.is_problem, answer.headers
            assert "schema" in answer.json()["detail"], answer.body
            time.sleep(0.1)

        migrated = run_command(env, tmp_path, "migrate")
        assert migrated.returncode == 0, migrated.stderr
        assert head_revision() in migrated.stdout, migrated.stdout

        service.wait_for("/ready", 200, timeout=10)
        assert service.call("GET", "/health").status == 200
        assert service.proc.poll() is None  # the same process: no restart


@pytest.mark.parametrize(("name", "value"), [("ISOCDS_PORT", "0"), ("ISOCDS_AUTH", "bogus")])
def test_a_bad_setting_stops_start_up_naming_it(tmp_path: Path, name: str, value: str) -> None:
    env = base_env(free_port()) | {name: value}
    result = run_command(env, tmp_path)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert name in result.stderr, result.stderr
    assert not (tmp_path / "var").exists()  # nothing created before the settings are checked
