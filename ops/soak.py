"""Soak: mixed load on one uvicorn process with two workers, then the database is counted.

Run: ``python -m ops.soak [--seconds 300] [--connections 32] [--database sqlite|postgresql]``
(``make soak``). Prints the figures and a PASS/FAIL line per criterion; exits 1 on any FAIL.

What it does, and why:

* **Server.** One ``uvicorn --factory api.main:create_app --workers 2`` process on a free loopback
  port, configured only through ``ISOCDS_*`` settings (an API key, one CDS Hooks client with an
  ES384 key, one audit HMAC key for both workers, ``ISOCDS_TIMEZONE=UTC``). The database is
  migrated first: an SQLite file in a temporary folder (default) or a fresh PostgreSQL database
  (``tests.database.create_pg_database``, dropped at exit). The soak waits for ``/ready`` and
  then until *each* worker has accepted a connection, so that the load starts on both.
* **Load.** ``--connections`` asyncio tasks (httpx2, one keep-alive connection each, replaced
  every 100–300 requests so that connections are re-spread over the two workers, as behind a
  load balancer) loop until the time is up. Each request is, at random: ``POST /v1/assessments``
  (the A1 example, 30 %), a course write (30 %: a dispensing, a pregnancy test or a visit, each
  body unique; a course takes 60 writes, then the task creates a new one, so that histories stay
  the size of a real course rather than growing for the whole run), ``GET
  /v1/courses/{id}/checklist`` (an audited evaluation, 20 %) and a CDS Hooks ``order-sign`` call
  with the 20-resource prefetch of ``bench.cds`` (20 %), each with its own freshly signed JWT and
  ``hookInstance``. A fixed course for the CDS patient makes the hook read course history too.
* **Replay probe.** Every 2 s one fresh token is sent twice at once, on two new connections that
  are placed on *different* workers: the connection's server-side socket is looked up in
  ``/proc/net/tcp`` and its owner found among the workers' file descriptors (new connections
  are opened until one lands on the other worker). Exactly one of each pair must be accepted
  (200) and the other refused (401). This is the cross-worker case the database replay cache
  exists for.
* **Memory.** The RSS (``VmRSS``) of the uvicorn parent and all its descendants, summed, every
  5 s from ``/proc`` (psutil is not a dependency). Warm-up is the first 60 s, or 20 % of a
  shorter run; growth = (last sample under load − first sample after warm-up) / the latter.
* **Afterwards.** SIGTERM, wait for the exit, then the database is opened directly and counted:
  every acknowledged write (201: its course or event ID) is stored with the body that was sent;
  every answered evaluation has its audit record (assessments and checklists by the response's
  ``X-Request-ID`` = ``audit_record.request_id``, CDS calls by ``hookInstance`` =
  ``audit_record.hook_instance``); ``jwt_replay`` holds no ``(iss, jti)`` twice and holds every
  ``jti`` that was accepted.

Criteria (issue 6): zero 5xx; zero lost acknowledged writes; zero answered evaluations without an
audit record; no ``jti`` accepted twice across the workers; RSS growth under 10 % after warm-up.
Also checked, so that a PASS is not hollow: no connection errors or timeouts, every answer the
expected status (the load is valid, so a 4xx is a bug of the soak or the service), the same two
worker processes from start to end (none crashed and was replaced), and at least one replay pair
split across the workers.

The load generator shares the machine's CPUs with the server, so the request rate is that of
this machine with the generator on it; it is reported, not judged.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import create_engine, text

from api.examples import A1_REQUEST
from bench.cds import order_sign_body
from bench.http import start, stop, uvicorn_command
from db.migrate import upgrade
from tests.cds.support import (
    ISS_US,
    PATIENT_ID,
    SigningKey,
    client_config,
    es384_key,
    token,
    write_clients,
)
from tests.database import create_pg_database
from tests.integration.support import free_port

SECRET = "soak-secret-0123456789abcdef"  # noqa: S105  # the throwaway server's test key
HMAC_KEY = "soak-hmac-key-0123456789abcdef0123456789"
CDS_PATH = "/cds-services/isotretinoin-order-sign"
HOOK_PLACEHOLDER = "__SOAK_HOOK_INSTANCE__"
WORKERS = 2
SLOTS = 16  # courses written to at any time
WRITES_PER_COURSE = 60  # then a new course takes the slot
PROBE_EVERY_S = 2.0
SAMPLE_EVERY_S = 5.0
PROGRESS_EVERY_S = 30.0
REQUEST_TIMEOUT_S = 30.0
RSS_GROWTH_LIMIT = 0.10
OPERATIONS = ("assessment", "write", "checklist", "cds")
WEIGHTS = (3, 3, 2, 2)
ENDPOINTS = {
    "assessment": "POST /v1/assessments",
    "course": "POST /v1/courses",
    "dispensing": "POST …/dispensings",
    "pregnancy-test": "POST …/pregnancy-tests",
    "visit": "POST …/visits",
    "checklist": "GET …/checklist",
    "cds": "POST order-sign (CDS)",
    "probe": "replay probe (pairs)",
}
EVENT_PATHS = {
    "dispensing": "dispensings",
    "pregnancy-test": "pregnancy-tests",
    "visit": "visits",
    "pregnancy-potential": "pregnancy-potential",
}


def say(line: str = "") -> None:
    """Print one line of the report now."""
    print(line, flush=True)  # noqa: T201  # a script: its output is the report


# --- processes and sockets, from /proc ----------------------------------------------------------


def _children() -> dict[int, list[int]]:
    """Parent PID → child PIDs, for every process visible in /proc."""
    out: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text(encoding="utf-8")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``."""
    children = _children()
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def worker_pids(parent: int) -> list[int]:
    """The uvicorn worker processes of ``parent`` (its children, the resource tracker excepted)."""
    return sorted(
        pid
        for pid in _children().get(parent, [])
        if "resource_tracker" not in _cmdline(pid) and _cmdline(pid)
    )


def rss_kib(pid: int) -> int:
    """``VmRSS`` of a process in KiB (0 once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def server_sockets(port: int) -> dict[int, int]:
    """Established connections to ``port`` on loopback: client port → server-side socket inode."""
    out: dict[int, int] = {}
    for line in Path("/proc/net/tcp").read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.split()
        local, remote, state, inode = parts[1], parts[2], parts[3], int(parts[9])
        if state == "01" and int(local.split(":")[1], 16) == port:
            out[int(remote.split(":")[1], 16)] = inode
    return out


def socket_owners(pids: list[int]) -> dict[int, int]:
    """Socket inode → the PID (of ``pids``) that holds it open."""
    out: dict[int, int] = {}
    for pid in pids:
        try:
            entries = list(os.scandir(f"/proc/{pid}/fd"))
        except OSError:
            continue
        for entry in entries:
            try:
                target = os.readlink(entry.path)
            except OSError:
                continue
            if target.startswith("socket:["):
                out[int(target[8:-1])] = pid
    return out


# --- the record of what the service answered ----------------------------------------------------


@dataclass
class Stats:
    """Answers of one endpoint."""

    requests: int = 0
    ok: int = 0
    client_errors: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    unexpected: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    def note(self, example: str) -> None:
        """Keep the first few failures to show."""
        if len(self.examples) < 3:
            self.examples.append(example[:240])

    def count(self, status: int | None, ms: float) -> None:
        """Count one request: its status and latency (``None``: no answer, a connection error)."""
        self.requests += 1
        if status is None:
            self.connection_errors += 1
            return
        self.latencies_ms.append(ms)
        if 200 <= status < 300:
            self.ok += 1
        elif status >= 500:
            self.server_errors += 1
        elif status >= 400:
            self.client_errors += 1


@dataclass(frozen=True)
class Ack:
    """An acknowledged write: what was sent, and the ID the service gave it."""

    kind: str  # "course" or the event kind
    course_id: str
    event_id: int | None
    sent: dict[str, Any]


@dataclass
class Slot:
    """A course being written to."""

    course_id: str
    writes: int = 0


@dataclass(frozen=True)
class Probe:
    """One replay probe: the statuses of the two requests and the workers they reached."""

    statuses: tuple[int | None, int | None]
    workers: tuple[int | None, int | None]
    accepted_instance: str | None

    @property
    def accepted(self) -> int:
        """How many of the two were accepted."""
        return sum(1 for s in self.statuses if s == 200)


@dataclass(frozen=True)
class Sample:
    """One memory sample."""

    at_s: float
    per_pid: dict[int, int]
    connections: dict[int, int]  # worker PID → established connections it holds

    @property
    def total_kib(self) -> int:
        """The RSS of every process, summed."""
        return sum(self.per_pid.values())


@dataclass
class Conn:
    """A raw connection and the worker that accepted it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    worker: int | None


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def contains(stored: Any, sent: Any) -> bool:
    """Whether ``stored`` holds everything of ``sent`` (defaults may have been added)."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(contains(stored.get(k), v) for k, v in sent.items())
    return bool(stored == sent)


# --- the load -----------------------------------------------------------------------------------


class Soak:
    """The load generator and the record of every answer."""

    def __init__(self, port: int, server_pid: int, key: SigningKey, args: argparse.Namespace):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.server_pid = server_pid
        self.key = key
        self.seconds: float = args.seconds
        self.connections: int = args.connections
        self.warmup_s = min(60.0, 0.2 * self.seconds)
        self.stats: dict[str, Stats] = {name: Stats() for name in ENDPOINTS}
        self.acks: list[Ack] = []
        self.audited: dict[str, list[str]] = {"assessment": [], "checklist": []}
        self.cds_answered: list[tuple[str, str]] = []  # (hookInstance, jti)
        self.probes: list[Probe] = []
        self.samples: list[Sample] = []
        self.slots: list[Slot] = []
        self.workers: list[int] = []
        self.workers_seen: set[int] = set()
        self.seq: Iterator[int] = itertools.count(1)
        self.a1 = json.dumps(A1_REQUEST).encode()
        body = order_sign_body()
        body["hookInstance"] = HOOK_PLACEHOLDER
        self.cds_template = json.dumps(body)
        self.api_headers = {
            "Authorization": f"Bearer {SECRET}",
            "Content-Type": "application/json",
        }
        self.started = 0.0
        self.elapsed = 0.0

    def client(self, connections: int = 1) -> httpx2.AsyncClient:
        """An HTTP client on the service with at most ``connections`` connections."""
        return httpx2.AsyncClient(
            base_url=self.base,
            limits=httpx2.Limits(
                max_connections=connections, max_keepalive_connections=connections
            ),
            timeout=REQUEST_TIMEOUT_S,
            trust_env=False,
        )

    async def request(
        self,
        client: httpx2.AsyncClient,
        name: str,
        method: str,
        path: str,
        expect: int,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx2.Response | None:
        """Send one request and count its answer; the response when it has the expected status."""
        stats = self.stats[name]
        started = time.perf_counter()
        try:
            response = await client.request(
                method, path, content=body, headers=headers or self.api_headers
            )
        except httpx2.TransportError as exc:
            stats.count(None, 0.0)
            stats.note(f"{type(exc).__name__}: {exc}")
            return None
        status = response.status_code
        stats.count(status, (time.perf_counter() - started) * 1000)
        if status != expect:
            stats.unexpected += 1
            stats.note(f"{status}: {response.text}")
            return None
        return response

    # --- operations ---

    async def assessment(self, client: httpx2.AsyncClient, _: random.Random) -> None:
        """``POST /v1/assessments`` with the A1 example."""
        r = await self.request(client, "assessment", "POST", "/v1/assessments", 200, self.a1)
        if r is not None:
            self.audited["assessment"].append(r.headers["x-request-id"])

    async def create_course(self, client: httpx2.AsyncClient, patient_ref: str) -> str | None:
        """A new course; its ID once acknowledged."""
        sent = {
            "patient_ref": patient_ref,
            "jurisdiction": "US",
            "product": "claravis",
            "weight_at_start_kg": 70,
        }
        r = await self.request(
            client, "course", "POST", "/v1/courses", 201, json.dumps(sent).encode()
        )
        if r is None:
            return None
        course_id = str(r.json()["id"])
        self.acks.append(Ack("course", course_id, None, sent))
        return course_id

    async def event(
        self, client: httpx2.AsyncClient, course_id: str, kind: str, sent: dict[str, Any]
    ) -> None:
        """Append one event to a course; recorded when acknowledged."""
        path = f"/v1/courses/{course_id}/{EVENT_PATHS[kind]}"
        name = kind if kind in self.stats else "course"
        r = await self.request(client, name, "POST", path, 201, json.dumps(sent).encode())
        if r is None:
            return
        event_id = int(r.json()["id"])
        if r.headers.get("location") != f"/v1/courses/{course_id}/events/{event_id}":
            self.stats[name].note(f"Location {r.headers.get('location')} for event {event_id}")
        self.acks.append(Ack(kind, course_id, event_id, sent))

    async def write(self, client: httpx2.AsyncClient, rng: random.Random) -> None:
        """A course write: an event on a slot's course, or a new course for a full slot."""
        slot = rng.choice(self.slots)
        slot.writes += 1
        if slot.writes == WRITES_PER_COURSE:
            course_id = await self.create_course(client, f"soak-{next(self.seq)}")
            slot.course_id, slot.writes = course_id or slot.course_id, 0
            return
        seq = next(self.seq)
        today = datetime.now(UTC).date().isoformat()
        kind = rng.choice(("dispensing", "pregnancy-test", "visit"))
        sent: dict[str, Any]
        if kind == "dispensing":
            mg = round(20 + (seq % 40_000) * 0.001, 3)
            sent = {"dispensed_on": today, "mg_per_day": mg, "days_supplied": 30}
        elif kind == "pregnancy-test":
            sensitivity = round(1 + (seq % 100_000) * 0.0001, 4)
            sent = {
                "specimen_date": today,
                "result": "negative",
                "setting": "medical-lab",
                "sensitivity_miu_ml": sensitivity,
            }
        else:
            sent = {
                "visit_date": today,
                "weight": {"value": round(50 + (seq % 100_000) * 0.001, 3)},
                "mood_screen": {"instrument": "phq-9", "total": 2, "item_9": 0},
                "reported_symptoms": [],
            }
        await self.event(client, slot.course_id, kind, sent)

    async def checklist(self, client: httpx2.AsyncClient, rng: random.Random) -> None:
        """``GET /v1/courses/{id}/checklist`` (audited)."""
        path = f"/v1/courses/{rng.choice(self.slots).course_id}/checklist"
        r = await self.request(client, "checklist", "GET", path, 200)
        if r is not None:
            self.audited["checklist"].append(r.headers["x-request-id"])

    def cds_token(self) -> tuple[str, str]:
        """A fresh ``jti`` and the signed token that carries it."""
        jti = uuid.uuid4().hex
        return jti, token(self.key, self.base + CDS_PATH, iss=ISS_US, exp_in=300, jti=jti)

    def cds_body(self) -> tuple[str, bytes]:
        """A fresh ``hookInstance`` and the order-sign body that carries it."""
        instance = str(uuid.uuid4())
        return instance, self.cds_template.replace(HOOK_PLACEHOLDER, instance).encode()

    async def cds(self, client: httpx2.AsyncClient, _: random.Random) -> None:
        """A CDS Hooks order-sign call with its own JWT."""
        jti, signed = self.cds_token()
        instance, body = self.cds_body()
        headers = {"Authorization": f"Bearer {signed}", "Content-Type": "application/json"}
        r = await self.request(client, "cds", "POST", CDS_PATH, 200, body, headers)
        if r is None:
            return
        if not isinstance(r.json().get("cards"), list):
            self.stats["cds"].note(f"no cards list: {r.text}")
        self.cds_answered.append((instance, jti))

    # --- tasks ---

    async def connection_task(self, n: int, deadline: float) -> None:
        """One of the ``--connections``: requests back to back until the deadline."""
        rng = random.Random(n)  # noqa: S311  # a load mix, not cryptography
        ops = {
            "assessment": self.assessment,
            "write": self.write,
            "checklist": self.checklist,
            "cds": self.cds,
        }
        while time.monotonic() < deadline:
            async with self.client() as client:
                for _ in range(rng.randint(100, 300)):
                    if time.monotonic() >= deadline:
                        break
                    await ops[rng.choices(OPERATIONS, WEIGHTS)[0]](client, rng)

    async def connect(self) -> Conn:
        """A new raw connection, with the worker that accepted it (``None`` if not seen in 2 s)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        local_port = int(writer.get_extra_info("sockname")[1])
        for _ in range(200):
            inode = server_sockets(self.port).get(local_port)
            if inode is not None:
                owner = socket_owners(self.workers).get(inode)
                if owner is not None:
                    return Conn(reader, writer, owner)
            await asyncio.sleep(0.01)
        return Conn(reader, writer, None)

    async def split_pair(self) -> tuple[Conn, Conn]:
        """Two connections on different workers when possible (at most 20 tries for the second)."""
        first = await self.connect()
        spare: list[Conn] = []
        second = await self.connect()
        for _ in range(20):
            if second.worker != first.worker:
                break
            spare.append(second)
            second = await self.connect()
        for conn in spare:
            conn.writer.close()
        return first, second

    async def raw_post(self, conn: Conn, head: bytes, body: bytes) -> tuple[int | None, float]:
        """Send a prepared request on ``conn`` and read the answer to the end; its status."""
        started = time.perf_counter()
        try:
            conn.writer.write(head + body)
            await conn.writer.drain()
            data = await asyncio.wait_for(conn.reader.read(), REQUEST_TIMEOUT_S)
            status = int(data.split(b" ", 2)[1])
        except (OSError, TimeoutError, ValueError, IndexError) as exc:
            self.stats["probe"].note(f"{type(exc).__name__}: {exc}")
            return None, 0.0
        finally:
            conn.writer.close()
        return status, (time.perf_counter() - started) * 1000

    async def probe(self) -> None:
        """The same fresh token twice at once, on two workers: exactly one may be accepted."""
        a, b = await self.split_pair()
        jti, signed = self.cds_token()
        calls = (self.cds_body(), self.cds_body())  # (hookInstance, body), one per connection
        heads = [
            (
                f"POST {CDS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Authorization: Bearer {signed}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            for _, body in calls
        ]
        results = await asyncio.gather(
            self.raw_post(a, heads[0], calls[0][1]), self.raw_post(b, heads[1], calls[1][1])
        )
        stats = self.stats["probe"]
        for status, ms in results:
            stats.count(status, ms)
            if status is not None and status not in (200, 401):
                stats.unexpected += 1
                stats.note(f"probe answered {status}")
        statuses = (results[0][0], results[1][0])
        accepted = [i for (i, _), s in zip(calls, statuses, strict=True) if s == 200]
        probe = Probe(statuses, (a.worker, b.worker), accepted[0] if len(accepted) == 1 else None)
        if probe.accepted != 1 or 401 not in statuses:
            stats.note(f"probe pair answered {statuses} on workers {probe.workers}")
        if probe.accepted_instance is not None:
            self.cds_answered.append((probe.accepted_instance, jti))
        self.probes.append(probe)

    async def probe_task(self, deadline: float) -> None:
        """A replay probe every ``PROBE_EVERY_S``."""
        while time.monotonic() + PROBE_EVERY_S < deadline:
            await asyncio.sleep(PROBE_EVERY_S)
            await self.probe()

    def sample(self) -> Sample:
        """The RSS of the server's process tree, and the connections each worker holds."""
        pids = [self.server_pid, *descendants(self.server_pid)]
        per_pid = {pid: rss_kib(pid) for pid in pids}
        workers = worker_pids(self.server_pid)
        self.workers_seen.update(workers)
        self.workers = workers  # a replaced worker would show here (and fail a criterion)
        owners = socket_owners(workers)
        held = Counter(owners.get(inode) for inode in server_sockets(self.port).values())
        return Sample(
            time.monotonic() - self.started, per_pid, {w: held.get(w, 0) for w in workers}
        )

    async def sampler_task(self, deadline: float) -> None:
        """Memory every ``SAMPLE_EVERY_S`` (and just before the deadline), progress lines."""
        next_progress = PROGRESS_EVERY_S
        last_requests = 0
        k = 0
        while True:
            self.samples.append(self.sample())
            at = self.samples[-1].at_s
            if at >= next_progress:
                total = sum(s.requests for s in self.stats.values())
                errors = sum(s.server_errors + s.connection_errors for s in self.stats.values())
                rate = (total - last_requests) / PROGRESS_EVERY_S
                say(
                    f"  {at:5.0f} s  {total:7d} requests ({rate:5.0f}/s)  5xx+conn errors {errors}"
                    f"  RSS {self.samples[-1].total_kib / 1024:6.1f} MiB"
                )
                last_requests = total
                next_progress += PROGRESS_EVERY_S
            k += 1
            wake = self.started + k * SAMPLE_EVERY_S
            if wake >= deadline - 0.5:
                if at >= self.seconds - 1.0:
                    return
                wake = deadline - 0.5
            await asyncio.sleep(max(0.0, wake - time.monotonic()))

    async def wait_for_workers(self, timeout_s: float = 120.0) -> None:
        """Until each worker has accepted a connection (both are serving)."""
        limit = time.monotonic() + timeout_s
        seen: set[int] = set()
        while time.monotonic() < limit:
            self.workers = worker_pids(self.server_pid)
            if len(self.workers) == WORKERS:
                conn = await self.connect()
                conn.writer.close()
                if conn.worker is not None:
                    seen.add(conn.worker)
                if seen >= set(self.workers):
                    self.workers_seen.update(self.workers)
                    return
            await asyncio.sleep(0.05)
        sys.exit(f"soak: the {WORKERS} workers did not both accept connections in {timeout_s} s")

    async def seed(self) -> None:
        """The CDS patient's course (a few months of history) and the first courses to write to."""
        async with self.client() as client:
            cds_course = await self.create_course(client, PATIENT_ID)
            if cds_course is None:
                sys.exit(f"soak: could not create a course: {self.stats['course'].examples}")
            today = datetime.now(UTC).date()

            def ago(days: int) -> str:
                return (today - timedelta(days=days)).isoformat()

            await self.event(
                client,
                cds_course,
                "pregnancy-potential",
                {"recorded_on": ago(95), "category": "can-become-pregnant"},
            )
            for days in (89, 59, 29):
                await self.event(
                    client,
                    cds_course,
                    "dispensing",
                    {"dispensed_on": ago(days), "mg_per_day": 40, "days_supplied": 30},
                )
            await self.event(
                client,
                cds_course,
                "pregnancy-test",
                {"specimen_date": ago(2), "result": "negative", "setting": "medical-lab"},
            )
            for i in range(SLOTS):
                course_id = await self.create_course(client, f"soak-start-{i}")
                if course_id is None:
                    sys.exit(f"soak: could not create a course: {self.stats['course'].examples}")
                self.slots.append(Slot(course_id))

    async def run(self) -> None:
        """Seed, then the load, the probes and the sampler until the time is up."""
        await self.wait_for_workers()
        await self.seed()
        self.started = time.monotonic()
        deadline = self.started + self.seconds
        await asyncio.gather(
            self.sampler_task(deadline),
            self.probe_task(deadline),
            *(self.connection_task(n, deadline) for n in range(self.connections)),
        )
        self.elapsed = time.monotonic() - self.started


# --- the server ---------------------------------------------------------------------------------


def stop_server(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> tuple[float, int | None]:
    """SIGTERM, then wait; the seconds it took and the exit code (``None``: killed after)."""
    started = time.monotonic()
    code = stop(proc, timeout_s)
    return time.monotonic() - started, code


# --- the database afterwards --------------------------------------------------------------------


@dataclass
class Counted:
    """What the database holds after the run, against what was acknowledged and answered."""

    courses: int = 0
    events: int = 0
    audit_records: int = 0
    replay_rows: int = 0
    lost_writes: list[Ack] = field(default_factory=list)
    unaudited: dict[str, int] = field(default_factory=dict)
    duplicate_jti: int = 0
    accepted_jti_missing: int = 0
    stored_not_acknowledged: int = 0


def count_database(url: str, soak: Soak) -> Counted:
    """Open the database directly and check every acknowledgement and answer against it."""
    engine = create_engine(url)
    out = Counted()
    try:
        with engine.connect() as db:
            courses = {
                str(r[0]): str(r[1]) for r in db.execute(text("SELECT id, patient_ref FROM course"))
            }
            events: dict[int, tuple[str, str, Any]] = {}
            for r in db.execute(text("SELECT id, course_id, kind, data FROM course_event")):
                data = json.loads(r[3]) if isinstance(r[3], str) else r[3]
                events[int(r[0])] = (str(r[1]), str(r[2]), data)
            request_ids: set[str] = set()
            hook_instances: set[str] = set()
            for r in db.execute(text("SELECT request_id, hook_instance FROM audit_record")):
                request_ids.add(str(r[0]))
                if r[1] is not None:
                    hook_instances.add(str(r[1]))
                out.audit_records += 1
            out.duplicate_jti = int(
                db.execute(
                    text(
                        "SELECT COUNT(*) FROM (SELECT iss, jti FROM jwt_replay GROUP BY iss, jti"
                        " HAVING COUNT(*) > 1) AS d"
                    )
                ).scalar_one()
            )
            jtis = {
                str(r[0])
                for r in db.execute(
                    text("SELECT jti FROM jwt_replay WHERE iss = :iss"), {"iss": ISS_US}
                )
            }
            out.replay_rows = len(jtis)
    finally:
        engine.dispose()
    out.courses, out.events = len(courses), len(events)
    for ack in soak.acks:
        if ack.event_id is None:
            if courses.get(ack.course_id) != ack.sent["patient_ref"]:
                out.lost_writes.append(ack)
            continue
        stored = events.get(ack.event_id)
        if (
            stored is None
            or stored[0] != ack.course_id
            or stored[1] != ack.kind
            or not contains(stored[2], ack.sent)
        ):
            out.lost_writes.append(ack)
    acked_events = {a.event_id for a in soak.acks if a.event_id is not None}
    acked_courses = {a.course_id for a in soak.acks if a.event_id is None}
    out.stored_not_acknowledged = len(set(events) - acked_events) + len(
        set(courses) - acked_courses
    )
    for name, ids in soak.audited.items():
        out.unaudited[name] = sum(1 for rid in ids if rid not in request_ids)
    out.unaudited["cds"] = sum(1 for hook, _ in soak.cds_answered if hook not in hook_instances)
    out.accepted_jti_missing = sum(1 for _, jti in soak.cds_answered if jti not in jtis)
    return out


# --- the report ---------------------------------------------------------------------------------


def server_log_summary(log: Path) -> tuple[Counter[str], list[str]]:
    """Log levels counted, and the distinct warning/error messages (first 8)."""
    levels: Counter[str] = Counter()
    messages: list[str] = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            levels["unstructured"] += 1
            text_line = line.strip()
            if text_line and text_line not in messages and len(messages) < 8:
                messages.append(text_line[:200])
            continue
        level = str(entry.get("level", "?"))
        levels[level] += 1
        if level in ("warning", "error", "critical"):
            msg = f"{level}: {entry.get('message')} {entry.get('error', '')}".strip()
            if msg not in messages and len(messages) < 8:
                messages.append(msg)
    return levels, messages


def report(
    soak: Soak,
    counted: Counted,
    engine_name: str,
    stopped: tuple[float, int | None],
    log: Path,
) -> bool:
    """Print the figures and the criteria; whether every criterion passed."""
    rate = sum(s.requests for s in soak.stats.values()) / soak.elapsed
    say()
    say(
        f"soak: {soak.elapsed:.0f} s, {soak.connections} connections, {engine_name}, one uvicorn "
        f"process with {WORKERS} workers, replay probe every {PROBE_EVERY_S:g} s "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs shared with the load "
        "generator)"
    )
    say(
        f"  {'endpoint':26s} {'requests':>8s} {'2xx':>7s} {'4xx':>5s} {'5xx':>5s} {'conn err':>8s}"
        f" {'p50 ms':>7s} {'p99 ms':>7s}"
    )
    total = Stats()
    for name, label in ENDPOINTS.items():
        s = soak.stats[name]
        total.requests += s.requests
        total.ok += s.ok
        total.client_errors += s.client_errors
        total.server_errors += s.server_errors
        total.connection_errors += s.connection_errors
        total.latencies_ms += s.latencies_ms
        say(
            f"  {label:26s} {s.requests:8d} {s.ok:7d} {s.client_errors:5d} {s.server_errors:5d}"
            f" {s.connection_errors:8d} {percentile(s.latencies_ms, 0.5):7.1f}"
            f" {percentile(s.latencies_ms, 0.99):7.1f}"
        )
    say(
        f"  {'all':26s} {total.requests:8d} {total.ok:7d} {total.client_errors:5d}"
        f" {total.server_errors:5d} {total.connection_errors:8d}"
        f" {percentile(total.latencies_ms, 0.5):7.1f} {percentile(total.latencies_ms, 0.99):7.1f}"
        f"   ({rate:.0f} requests/s)"
    )
    say("  (the probe's 4xx are the refused replays: one 401 per pair is the expected answer)")
    for name, s in soak.stats.items():
        for example in s.examples:
            say(f"  ! {ENDPOINTS[name]}: {example}")

    # memory
    samples = soak.samples
    warm = next((s for s in samples if s.at_s >= soak.warmup_s), samples[-1])
    final = samples[-1]
    peak = max(s.total_kib for s in samples)
    growth = (final.total_kib - warm.total_kib) / warm.total_kib
    say(
        f"  RSS (uvicorn parent + workers): start {samples[0].total_kib / 1024:.1f} MiB, after "
        f"warm-up ({warm.at_s:.0f} s) {warm.total_kib / 1024:.1f} MiB, final ({final.at_s:.0f} s) "
        f"{final.total_kib / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB; growth {growth:+.1%}"
    )
    every = max(1, len(samples) // 10)
    series = ", ".join(f"{s.at_s:.0f}s {s.total_kib / 1024:.0f}" for s in samples[::every])
    say(f"  RSS samples (MiB): {series}")
    per_process = ", ".join(
        f"{pid}: {warm.per_pid.get(pid, 0) / 1024:.1f} → {kib / 1024:.1f}"
        for pid, kib in sorted(final.per_pid.items())
    )
    say(f"  RSS per process after warm-up → final (MiB): {per_process}")
    shares: Counter[int] = Counter()
    for sample in samples:
        shares.update(sample.connections)
    say(
        "  connections held per worker (mean over samples): "
        + ", ".join(f"{pid}: {n / len(samples):.1f}" for pid, n in sorted(shares.items()))
    )

    # replay probes
    probes = soak.probes
    split = sum(1 for p in probes if None not in p.workers and p.workers[0] != p.workers[1])
    exactly_one = sum(1 for p in probes if p.accepted == 1 and 401 in p.statuses)
    say(
        f"  replay probes: {len(probes)} pairs, {split} split across the two workers; "
        f"{exactly_one} with exactly one accepted and the other refused (401)"
    )

    # database
    acknowledged = len(soak.acks)
    answered = {
        "assessment": len(soak.audited["assessment"]),
        "checklist": len(soak.audited["checklist"]),
        "cds": len(soak.cds_answered),
    }
    say(
        f"  database after SIGTERM: {counted.courses} courses, {counted.events} events, "
        f"{counted.audit_records} audit records, {counted.replay_rows} jwt_replay rows"
    )
    say(
        f"  acknowledged writes {acknowledged}, lost {len(counted.lost_writes)}; stored but not "
        f"acknowledged {counted.stored_not_acknowledged}"
    )
    say(
        "  answered evaluations "
        + ", ".join(f"{k} {v} (unaudited {counted.unaudited[k]})" for k, v in answered.items())
    )
    for ack in counted.lost_writes[:5]:
        say(f"  ! lost: {ack}")
    seconds, code = stopped
    say(
        f"  server stop after SIGTERM: {seconds:.1f} s, exit code "
        f"{'killed after 30 s' if code is None else code}"
    )
    levels, messages = server_log_summary(log)
    say(f"  server log: {dict(levels) or 'empty'}")
    for message in messages:
        say(f"    {message}")

    # criteria
    statuses_ok = sum(s.unexpected for n, s in soak.stats.items() if n != "probe")
    probe_failures = len(probes) - exactly_one
    criteria = [
        ("zero 5xx", total.server_errors == 0, f"{total.server_errors}"),
        (
            "zero lost acknowledged writes",
            not counted.lost_writes,
            f"{len(counted.lost_writes)} of {acknowledged}",
        ),
        (
            "zero answered evaluations without an audit record",
            sum(counted.unaudited.values()) == 0,
            f"{sum(counted.unaudited.values())} of {sum(answered.values())}",
        ),
        (
            "no jti accepted twice across the workers",
            counted.duplicate_jti == 0
            and probe_failures == 0
            and counted.accepted_jti_missing == 0
            and split > 0,
            f"duplicate (iss, jti) rows {counted.duplicate_jti}; probe pairs not exactly one "
            f"accepted {probe_failures} of {len(probes)} ({split} cross-worker); accepted jti "
            f"missing from the cache {counted.accepted_jti_missing}",
        ),
        (
            f"RSS growth under {RSS_GROWTH_LIMIT:.0%} after warm-up",
            growth < RSS_GROWTH_LIMIT,
            f"{growth:+.1%}",
        ),
        (
            "no connection errors or timeouts",
            total.connection_errors == 0,
            f"{total.connection_errors}",
        ),
        ("every answer the expected status", statuses_ok == 0, f"{statuses_ok} unexpected"),
        (
            f"the same {WORKERS} workers throughout",
            len(soak.workers_seen) == WORKERS,
            f"worker PIDs seen {sorted(soak.workers_seen)}",
        ),
    ]
    say("criteria:")
    for name, passed, figure in criteria:
        say(f"  {'PASS' if passed else 'FAIL'}  {name}: {figure}")
    passed_all = all(passed for _, passed, _ in criteria)
    say(f"result: {'PASS' if passed_all else 'FAIL'}")
    return passed_all


def main(argv: list[str] | None = None) -> int:
    """Run the soak; 0 when every criterion passes, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m ops.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="load duration (300)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (32)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="isocds-soak-") as tmp:
        folder = Path(tmp)
        if args.database == "sqlite":
            url = f"sqlite:///{folder}/soak.db"
            upgrade(url)
            engine_name = "SQLite (file, WAL)"
        else:
            url = create_pg_database()
            engine_name = "PostgreSQL"
        key = es384_key("soak")
        clients = write_clients(folder, [client_config(ISS_US, "US", (key,))])
        port = free_port()
        env = {
            "ISOCDS_DATABASE_URL": url,
            "ISOCDS_API_KEYS": f"soak:{SECRET}",
            "ISOCDS_CDS_CLIENTS_FILE": str(clients),
            "ISOCDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "ISOCDS_AUDIT_HMAC_KEY": HMAC_KEY,
            "ISOCDS_TIMEZONE": "UTC",
            "ISOCDS_LOG_LEVEL": "warning",
        }
        log = folder / "server.log"
        say(
            f"soak: starting uvicorn with {WORKERS} workers on 127.0.0.1:{port} ({engine_name}); "
            f"{args.seconds:.0f} s at {args.connections} connections"
        )
        cmd = uvicorn_command("api.main:create_app", port, WORKERS)
        proc = start(cmd, env, port, log=log, timeout_s=120.0, name="soak")
        soak = Soak(port, proc.pid, key, args)
        try:
            asyncio.run(soak.run())
        finally:
            stopped = stop_server(proc)
        counted = count_database(url, soak)
        return 0 if report(soak, counted, engine_name, stopped, log) else 1


if __name__ == "__main__":
    sys.exit(main())
