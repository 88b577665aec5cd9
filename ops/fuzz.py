"""Bad input at volume (issue 6): thousands of generated requests, and not one answer is a 5xx.

Starts the real service (``python -m api``: one uvicorn worker, a fresh SQLite file that it
migrates at start, an API key, a CDS Hooks clients file with ES384 keys for a US and an EU
client), seeds two courses, then:

1. **Schemathesis** against the live ``/openapi.json``: every operation, up to ``--examples``
   generated requests each, valid and invalid (positive and negative generation, plus the
   document's examples), with the API key. Course operations get a real course ID most of the
   time, so that valid bodies reach the writes and evaluations behind the 404.
2. **CDS Hooks with broken FHIR**: ``--cds`` calls made from valid patient-view, order-select and
   order-sign bodies (the builders of ``tests.cds.support``, the 20-resource prefetch of
   ``bench.cds``), each mutated by a seeded mutator: wrong JSON types, deleted fields, ``null``,
   deep nesting, huge strings, lone surrogates, invalid dates, unknown codes, a wrong
   ``resourceType``, OperationOutcomes in place of resources, Bundles whose ``entry`` is not a
   list, NaN, Infinity, huge numbers, numbers as strings, repeated entries. Each call carries a
   fresh valid JWT, so it reaches the FHIR reading; some carry broken JWTs (unsigned, expired,
   replayed, wrong audience or key, odd claims), some bodies are not JSON, some calls go to
   feedback, discovery or an unknown service.

Every 5xx, and every request that got no answer, is printed with its request (method, path,
body truncated to 2 kB), the response and the exception the server logged for its request ID;
the run goes on to collect them all. It passes when no answer is a 5xx, every request got an
answer, the server process is still alive and ``/ready`` answers 200 at the end.

Run: ``make fuzz`` (or ``uv run python -m ops.fuzz [--examples N] [--cds N] [--seed S]``).
"""

from __future__ import annotations

import argparse
import base64
import codecs
import copy
import json
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import jwt
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Err

from bench.cds import order_sign_body, prefetch_20
from bench.http import start, stop
from tests.cds.support import (
    DOXYCYCLINE,
    ISOTRETINOIN_20,
    ISOTRETINOIN_40,
    ISS_EU,
    ISS_US,
    LEGACY_ORDER_SERVICE,
    SELECT_SERVICE,
    SERVICES,
    SIGN_SERVICE,
    VIEW_SERVICE,
    SigningKey,
    age_birth,
    client_config,
    es384_key,
    full_prefetch,
    hook_request,
    medication_request,
    patient,
    token,
    write_clients,
)
from tests.integration.support import free_port

ROOT = Path(__file__).resolve().parents[1]
API_SECRET = "fuzz-api-secret-0123456789abcdef"  # noqa: S105  # a throwaway test key
API_AUTH = {"Authorization": f"Bearer {API_SECRET}"}
HMAC_KEY = "fuzz-audit-hmac-key-0123456789abcdef012345"
TIMEOUT_S = 30.0
SHOWN_BYTES = 2048
START_TIMEOUT_S = 60.0
JSON = "application/json"

JsonPath = tuple[str | int, ...]


def say(line: str = "") -> None:
    """Print one line of the report."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# --- the record of every request ------------------------------------------------------------


@dataclass
class Failure:
    """A request answered with a 5xx, or not answered at all."""

    phase: str
    kind: str
    method: str
    url: str
    body: bytes | None
    status: int | None
    response: str
    request_id: str | None
    note: str


@dataclass
class Tally:
    """Status counts per phase and kind of request, and the failures (thread-safe)."""

    counts: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, phase: str, kind: str, status: int | None, failure: Failure | None) -> None:
        """Count one answer (``None``: no answer) and keep its failure."""
        with self.lock:
            label = str(status) if status is not None else "no answer"
            self.counts.setdefault((phase, kind), Counter())[label] += 1
            if failure is not None:
                self.failures.append(failure)

    def not_sent(self, phase: str, kind: str, note: str) -> None:
        """Count a request this client could not send (not the server's doing) and note why."""
        with self.lock:
            self.counts.setdefault((phase, kind), Counter())["not sent"] += 1
            self.notes.append(note[:300])

    def by_phase(self, phase: str) -> Counter[str]:
        """The status counts of one phase."""
        total: Counter[str] = Counter()
        for (p, _), counter in self.counts.items():
            if p == phase:
                total.update(counter)
        return total

    def kinds(self, phase: str) -> dict[str, Counter[str]]:
        """The status counts of each kind of request of one phase."""
        return {k: c for (p, k), c in sorted(self.counts.items()) if p == phase}


def _as_bytes(body: object) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")
    return repr(body).encode()


def _is_failure(status: int | None) -> bool:
    return status is None or status >= 500


# --- the service ----------------------------------------------------------------------------


@dataclass
class Service:
    """The running service: its base URL, process and log file."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def running_service(folder: Path, clients: Path) -> Iterator[Service]:
    """``python -m api`` on a free loopback port until the block ends (its log in ``folder``)."""
    port = free_port()
    env = {
        "ISOCDS_HOST": "127.0.0.1",
        "ISOCDS_PORT": str(port),
        "ISOCDS_DATABASE_URL": f"sqlite:///{folder}/fuzz.db",
        # Every scope, in the CDS clients' tenant: the fuzzed calls reach every route and see
        # the seeded courses.
        "ISOCDS_API_KEYS": f"fuzz:{API_SECRET}:fuzz:"
        "evaluate+courses:read+courses:write+audit:read+feedback:read",
        "ISOCDS_CDS_CLIENTS_FILE": str(clients),
        "ISOCDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ISOCDS_AUDIT_HMAC_KEY": HMAC_KEY,
        "ISOCDS_TIMEZONE": "UTC",
        "ISOCDS_LOG_LEVEL": "warning",
    }
    log = folder / "service.log"
    cmd = [sys.executable, "-m", "api"]
    process = start(cmd, env, port, log=log, timeout_s=START_TIMEOUT_S, name="fuzz")
    try:
        yield Service(f"http://127.0.0.1:{port}", process, log)
    finally:
        stop(process, 15.0)


def seed_courses(base: str) -> list[str]:
    """Two courses with a little history: ``pat-1`` (US, the CDS Hooks patient) and ``pat-2``."""
    today = datetime.now(UTC).date()
    start = today - timedelta(days=65)
    ids = []
    with httpx2.Client(base_url=base, headers=API_AUTH, timeout=TIMEOUT_S) as http:

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = http.post(path, json=body)
            if response.status_code >= 300:
                sys.exit(f"seeding failed: POST {path} → {response.status_code} {response.text}")
            data: dict[str, Any] = response.json()
            return data

        # No product on pat-1's course: the EU client's calls would otherwise stop at a 422
        # ("claravis is not marketed in EU") before the rules run.
        for ref, jurisdiction, product in (("pat-1", "US", None), ("pat-2", "US", "claravis")):
            course = post(
                "/v1/courses",
                {
                    "patient_ref": ref,
                    "jurisdiction": jurisdiction,
                    "product": product,
                    "weight_at_start_kg": 62,
                },
            )
            cid = str(course["id"])
            ids.append(cid)
            post(
                f"/v1/courses/{cid}/pregnancy-potential",
                {"recorded_on": str(start), "category": "can-become-pregnant"},
            )
            for month in range(2):
                day = str(start + timedelta(days=30 * month))
                post(
                    f"/v1/courses/{cid}/dispensings",
                    {"dispensed_on": day, "mg_per_day": 40, "days_supplied": 30},
                )
                post(
                    f"/v1/courses/{cid}/pregnancy-tests",
                    {"specimen_date": day, "result": "negative", "setting": "medical-lab"},
                )
    return ids


# --- phase 1: schemathesis ------------------------------------------------------------------


def known_ids(base: str, course_ids: list[str]) -> dict[str, list[str]]:
    """Real values of the path parameters: random ones stop at the 404."""
    with httpx2.Client(base_url=base, headers=API_AUTH, timeout=TIMEOUT_S) as http:
        rules = http.get("/v1/rules").json()["rules"]
    return {
        "course_id": course_ids,
        "rule_id": [r["id"] for r in rules[:: max(1, len(rules) // 4)]],
    }


def fuzz_openapi(
    base: str, examples: int, seed: int, known: dict[str, list[str]], tally: Tally
) -> int:
    """Every operation of ``/openapi.json``, up to ``examples`` generated requests each.

    For a ``course_id`` or ``rule_id`` path parameter, most requests use a real one.
    """
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    session = requests.Session()
    operations = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            tally.notes.append(f"openapi: an operation could not be loaded: {result.err()!r}"[:300])
            continue
        operation = result.ok()
        operations += 1
        label = f"{operation.method.upper()} {operation.path}"
        strategies = [operation.as_strategy(mode) for mode in GenerationMode]
        for name, values in known.items():
            if f"{{{name}}}" in operation.path:
                strategies += [
                    operation.as_strategy(mode, path_parameters={name: value})
                    for value in values
                    for mode in GenerationMode
                ]
        strategies += schema.get_strategies_from_examples(operation)
        sent = _run_operation(
            base, label, st.one_of(strategies), examples, seed, session, tally, known["course_id"]
        )
        if sent < examples:
            tally.notes.append(f"openapi: {label}: {sent} distinct requests (the space is small)")
    session.close()
    return operations


def _run_operation(
    base: str,
    label: str,
    strategy: st.SearchStrategy[schemathesis.Case[Any]],
    examples: int,
    seed: int,
    session: requests.Session,
    tally: Tally,
    course_ids: list[str],
) -> int:
    sent = 0

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case[Any]) -> None:
        nonlocal sent
        sent += 1
        headers = _headers(base, case, session, course_ids)
        _send_case(base, label, case, session, tally, headers)

    try:
        run()
    except Exception as exc:  # reported, never fatal
        tally.notes.append(f"openapi: {label}: generation stopped: {exc!r}"[:300])
    return sent


def _headers(
    base: str, case: schemathesis.Case[Any], session: requests.Session, course_ids: list[str]
) -> dict[str, str]:
    """The API key; for a PATCH of a seeded course also its current ETag.

    So the generated body reaches the status change instead of stopping at 428 or 412 (the GET
    that reads the ETag is not counted).
    """
    course = (case.path_parameters or {}).get("course_id")
    if case.method.upper() != "PATCH" or course not in course_ids:
        return API_AUTH
    try:
        current = session.get(f"{base}/v1/courses/{course}", headers=API_AUTH, timeout=TIMEOUT_S)
    except requests.RequestException:
        return API_AUTH
    tag = current.headers.get("ETag")
    return {**API_AUTH, "If-Match": tag} if tag else API_AUTH


def _send_case(
    base: str,
    label: str,
    case: schemathesis.Case[Any],
    session: requests.Session,
    tally: Tally,
    headers: dict[str, str],
) -> None:
    try:
        response = case.call(base_url=base, session=session, headers=headers, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        request = exc.request
        body = request.body if isinstance(request, requests.PreparedRequest) else case.body
        tally.add(
            "openapi",
            label,
            None,
            Failure(
                "openapi", label, case.method, case.formatted_path, _as_bytes(body), None,
                repr(exc), None, "",
            ),
        )  # fmt: skip
        return
    except Exception as exc:  # not the server's doing
        tally.not_sent("openapi", label, f"openapi: {label}: a case could not be sent: {exc!r}")
        return
    status = response.status_code
    failure = None
    if _is_failure(status):
        request = response.request
        failure = Failure(
            "openapi",
            label,
            request.method or case.method,
            request.url or case.formatted_path,
            _as_bytes(request.body),
            status,
            response.content.decode("utf-8", "replace"),
            next(iter(response.headers.get("x-request-id") or []), None),
            "",
        )
    tally.add("openapi", label, status, failure)


# --- phase 1b: boundary values of every query parameter ------------------------------------

EDGES: dict[str, tuple[str, ...]] = {
    "integer": ("-1", "0", str(2**63 - 1), str(2**63), str(2**64), str(10**30), "1e3", " 1"),
    "number": ("1e308", "-1e308", "1e400", "NaN", "Infinity", "-0"),
    "date": ("0001-01-01", "9999-12-31", "0000-01-01", "2026-02-29", "+2026-01-01", "2026"),
    "date-time": (
        "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z", "2026-01-01T00:00:00+23:59", "2026-01-01T00:00:00-23:59",
        "2026-01-01T00:00:00", "2026-01-01", "1e20", str(2**63),
    ),
    "string": ("", " ", "\x00", "x" * 5000, "%", "' OR 1=1 --", "é", "😀"),
    "boolean": ("yes", "2", ""),
}  # fmt: skip
# Sent as written (already percent-encoded): a lone surrogate, bytes that are not UTF-8, NUL.
RAW_EDGES = ("%ED%A0%80", "%FF%FE", "%00", "%", "%G0")


def _kind(schema: dict[str, Any]) -> str:
    """The kind of a parameter's schema (``anyOf`` with ``null`` looks through to the other)."""
    for option in [schema, *schema.get("anyOf", [])]:
        if option.get("format") in ("date", "date-time"):
            return str(option["format"])
        if option.get("type") in EDGES:
            return str(option["type"])
    return "string"


def fuzz_edges(base: str, known: dict[str, list[str]], tally: Tally) -> None:
    """Each query parameter of each GET alone at the edges of its type.

    Years 1 and 9999 with offsets, integers past 64 bits, NaN, NUL, ...; real values in the path.
    """
    with httpx2.Client(base_url=base, headers=API_AUTH, timeout=TIMEOUT_S) as http:
        document = http.get("/openapi.json").json()
        for path, item in document["paths"].items():
            operation = item.get("get")
            if operation is None:
                continue
            target = path
            for name, values in known.items():
                target = target.replace(f"{{{name}}}", values[0])
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "query":
                    continue
                name = quote(parameter["name"])
                values = [quote(v, safe="") for v in EDGES[_kind(parameter.get("schema", {}))]]
                for value in [*values, *RAW_EDGES]:
                    _send_edge(http, f"GET {path}", f"{target}?{name}={value}", tally)


def _send_edge(http: httpx2.Client, label: str, url: str, tally: Tally) -> None:
    status: int | None = None
    rid: str | None = None
    try:
        response = http.get(url)
        status, text = response.status_code, response.text
        rid = response.headers.get("x-request-id")
    except httpx2.HTTPError as exc:
        text = repr(exc)
    failure = None
    if _is_failure(status):
        failure = Failure("edges", label, "GET", url, None, status, text, rid, "")
    tally.add("edges", label, status, failure)


# --- phase 2: CDS Hooks with broken FHIR ----------------------------------------------------

OPERATION_OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "processing", "diagnostics": "not available"}],
}
SPECIAL_NUMBERS: tuple[Any, ...] = (
    float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 5e-324, -0.0, 0, -1, 0.5, 1e-7,
    2**63, 2**64, -(2**63) - 1, 10**400, -(10**40), 10**4000, 1e16 + 1, 3.999999999999999,
)  # fmt: skip
BAD_DATES = (
    "2026-02-30", "2026-13-01", "2026-00-10", "0000-01-01", "0001-01-01", "9999-12-31",
    "10000-01-01", "+2026-01-01", "-2026-01-01", "2026", "2026-02", "2026-2-3", "20260101",
    "2026-01-01T25:61:00Z", "2026-01-01T10:00:00+99:00", "2026-01-01T10:00:00", "1899-12-31",
    "2100-01-01", "yesterday", "", "2026-01-01\x00", "٢٠٢٦-٠١-٠١", "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00", "2026-01-01T00:00:00.000000000001Z", "2026-W01-1", "2026-001",
    "1970-01-01", "2026-01-01T00:00:00Z", "  2026-01-01  ", "2026-06-01/2026-07-01",
)  # fmt: skip
BAD_CODES: tuple[Any, ...] = (
    "unknown-code", "", "ACTIVE", "draft", "entered-in-error", "on-hold", "http://example.org/x",
    "urn:isocds:codesystem", "pregnancy-potential", "can-become-pregnant", "197845", 197845,
    "0", None, "mg", "{capsule}", "[lb_av]", "g", "mo", "wk", "h", "a", "s", "POS", "NEG",
    "L70.0", "2118-8", "Absorica LD", "order", "proposal", "Bundle", "searchset", "next",
)  # fmt: skip
UNICODE = (
    "\ud800", "a\udfffb", "\udc00\ud800", "\x00", "\u202e", "😀" * 10, "é", "\ufeff", "e\u0301",
    "\uffff", "\U0010ffff", "\r\n", "'; DROP TABLE course; --", "../../etc/passwd", "${jndi:x}",
)  # fmt: skip
CODE_KEYS = frozenset(
    {"code", "system", "status", "intent", "periodUnit", "unit", "resourceType", "hook", "type"}
    | {"relation", "outcome", "severity", "display", "text", "reference"}
)
DATE_KEYS = frozenset(
    {"birthDate", "authoredOn", "whenHandedOver", "effectiveDateTime", "start", "end"}
    | {"outcomeTimestamp", "issued", "recordedDate", "onsetDateTime", "lastUpdated"}
)
DATE_LIKE = re.compile(r"^\d{4}")
SENTINEL = re.compile(r'"\\u0000(deep|big):(\d+):(\w*)"')


def _junk(rng: random.Random) -> Any:
    """A value of any JSON type, likely the wrong one."""
    return rng.choice(
        [
            None, True, False, 0, -1, 1.5, "", " ", "x", "null", "NaN", "1e400", "40", "true",
            "2026-02-30", [], {}, [None], [[]], {"": None}, {"resourceType": None},
            copy.deepcopy(OPERATION_OUTCOME), rng.choice(SPECIAL_NUMBERS), rng.choice(UNICODE),
            "x" * 1000, [1, "a", None, {}], {"coding": "x"}, {"value": "40", "unit": 5},
        ]
    )  # fmt: skip


def _walk(value: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Any]]:
    if not isinstance(value, dict | list):
        return
    items: list[tuple[Any, Any]] = list(
        value.items() if isinstance(value, dict) else enumerate(value)
    )
    for key, child in items:
        yield (*path, key), child
        yield from _walk(child, (*path, key))


def _get(root: Any, path: JsonPath) -> Any:
    for key in path:
        root = root[key]
    return root


def _set(root: Any, path: JsonPath, value: Any) -> None:
    _get(root, path[:-1])[path[-1]] = value


def _delete(root: Any, path: JsonPath) -> None:
    container = _get(root, path[:-1])
    del container[path[-1]]


def _show(path: JsonPath) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".") or "$"


def _pick(
    rng: random.Random, body: Any, accept: Callable[[JsonPath, Any], bool]
) -> tuple[JsonPath, Any] | None:
    nodes = [(p, v) for p, v in _walk(body) if accept(p, v)]
    return rng.choice(nodes) if nodes else None


def _anything(_: JsonPath, __: Any) -> bool:
    return True


def _resources(body: Any) -> list[tuple[JsonPath, dict[str, Any]]]:
    return [(p, v) for p, v in _walk(body) if isinstance(v, dict) and "resourceType" in v]


def m_replace(rng: random.Random, body: Any) -> str | None:
    """Any node replaced by a value of another type."""
    found = _pick(rng, body, _anything)
    if found is None:
        return None
    value = _junk(rng)
    _set(body, found[0], value)
    return f"replace {_show(found[0])} with {type(value).__name__}"


def m_delete(rng: random.Random, body: Any) -> str | None:
    """Any node deleted."""
    found = _pick(rng, body, _anything)
    if found is None:
        return None
    _delete(body, found[0])
    return f"delete {_show(found[0])}"


def m_null(rng: random.Random, body: Any) -> str | None:
    """Any node set to ``null``."""
    found = _pick(rng, body, _anything)
    if found is None:
        return None
    _set(body, found[0], None)
    return f"null {_show(found[0])}"


def m_retype(rng: random.Random, body: Any) -> str | None:
    """A node kept but in another JSON type (numbers as strings, lists as objects, ...)."""
    drafts = rng.random() < 0.3
    found = _pick(rng, body, lambda p, _: not drafts or p[:2] == ("context", "draftOrders"))
    found = found or _pick(rng, body, _anything)
    if found is None:
        return None
    path, value = found
    new: Any
    if isinstance(value, bool):
        new = rng.choice([str(value).lower(), int(value), [value]])
    elif isinstance(value, int | float):
        new = rng.choice([json.dumps(value), [value], {"value": value}, bool(value)])
    elif isinstance(value, str):
        new = rng.choice(
            [[value], {"value": value}, len(value), value.encode("utf-8", "surrogatepass").hex()]
        )
    elif isinstance(value, list):
        new = rng.choice([{str(i): v for i, v in enumerate(value)}, value[0] if value else 0])
    elif isinstance(value, dict):
        new = rng.choice([list(value.values()), list(value), json.dumps(value, default=str)])
    else:
        new = rng.choice([{}, [], "null", 0])
    _set(body, path, new)
    return f"retype {_show(path)} {type(value).__name__}→{type(new).__name__}"


def m_number(rng: random.Random, body: Any) -> str | None:
    """A number replaced by NaN, ±Infinity, a huge or tiny one, or a string of digits.

    Half of the time in the draft orders: they are read leniently (no FHIR model checks them).
    """
    drafts = rng.random() < 0.5

    def numeric(path: JsonPath, value: Any) -> bool:
        if drafts and path[:2] != ("context", "draftOrders"):
            return False
        return isinstance(value, int | float) and not isinstance(value, bool)

    found = _pick(rng, body, numeric) or _pick(
        rng, body, lambda p, _: str(p[-1]) in {"value", "frequency", "period"}
    )
    if found is None:
        return None
    value = rng.choice([*SPECIAL_NUMBERS, "40", "1e400", "NaN", f"big:{rng.choice([4400, 5000])}"])
    if isinstance(value, str) and value.startswith("big:"):
        value = f"\x00{value}:"  # a number too long to parse: spliced into the text
    _set(body, found[0], value)
    shown = "huge integer literal" if isinstance(value, str) and "\x00" in value else repr(value)
    return f"number {_show(found[0])} = {shown[:40]}"


def m_date(rng: random.Random, body: Any) -> str | None:
    """A date or dateTime made invalid, partial, far away or in the future."""
    found = _pick(
        rng,
        body,
        lambda p, v: (isinstance(v, str) and bool(DATE_LIKE.match(v))) or p[-1] in DATE_KEYS,
    )
    if found is None:
        return None
    future = (datetime.now(UTC).date() + timedelta(days=rng.choice([1, 40, 400, 4000]))).isoformat()
    value = rng.choice([*BAD_DATES, future])
    _set(body, found[0], value)
    return f"date {_show(found[0])} = {value!r}"


def m_code(rng: random.Random, body: Any) -> str | None:
    """A code, system, status, unit or resourceType replaced by an unknown or misplaced one."""
    found = _pick(rng, body, lambda p, _: p[-1] in CODE_KEYS)
    if found is None:
        return None
    value = rng.choice(BAD_CODES)
    _set(body, found[0], value)
    return f"code {_show(found[0])} = {value!r}"


def m_unicode(rng: random.Random, body: Any) -> str | None:
    """A string with lone surrogates, NUL, bidi controls, emoji or injection text."""
    found = _pick(rng, body, lambda _, v: isinstance(v, str))
    if found is None:
        return None
    text = rng.choice(UNICODE)
    value = rng.choice([text, found[1] + text, text + found[1]])
    _set(body, found[0], value)
    return f"unicode {_show(found[0])} += {text[:10]!r}"


def m_huge(rng: random.Random, body: Any) -> str | None:
    """A string (or any node) replaced by a huge one (some push the body over the limit)."""
    found = _pick(rng, body, lambda _, v: isinstance(v, str)) or _pick(rng, body, _anything)
    if found is None:
        return None
    size = rng.choice([1_000, 20_000, 120_000, 250_000, 300_000])
    _set(body, found[0], rng.choice(["x", "é", "\ud800", "1"]) * size)
    return f"huge {_show(found[0])} ({size} characters)"


def m_deep(rng: random.Random, body: Any) -> str | None:
    """A node replaced by deeply nested arrays or objects (spliced into the JSON text)."""
    found = _pick(rng, body, _anything)
    if found is None:
        return None
    depth = rng.choice([20, 200, 500, 800, 900, 950, 980, 990, 1000, 1100, 5000, 100_000])
    kind = rng.choice(["list", "dict"])
    _set(body, found[0], f"\x00deep:{depth}:{kind}")
    return f"deep {_show(found[0])} ({depth} nested {kind}s)"


def m_repeat(rng: random.Random, body: Any) -> str | None:
    """A list made long by repeating its items (volume: many entries, codings, doses)."""
    found = _pick(rng, body, lambda _, v: isinstance(v, list) and bool(v))
    if found is None:
        return None
    times = rng.choice([10, 50, 200])
    _set(body, found[0], found[1] * times)
    return f"repeat {_show(found[0])} ×{times}"


def _fhir_targets(body: Any) -> list[JsonPath]:
    out: list[JsonPath] = []
    if isinstance(body, dict):
        if isinstance(body.get("prefetch"), dict):
            out += [("prefetch", k) for k in body["prefetch"]]
        context = body.get("context")
        if isinstance(context, dict) and "draftOrders" in context:
            out.append(("context", "draftOrders"))
    return out


def m_bundle(rng: random.Random, body: Any) -> str | None:
    """A prefetch value or the draft orders broken as FHIR: Bundles, entries, resources."""
    targets = _fhir_targets(body)
    if not targets:
        return None
    path = rng.choice(targets)
    value = _get(body, path)
    entries = value.get("entry") if isinstance(value, dict) else None
    choice = rng.randrange(9)
    if choice == 0:
        new: Any = rng.choice(
            [None, copy.deepcopy(OPERATION_OUTCOME), [], "Bundle", {}, {"resourceType": "Bundle"}]
        )
        _set(body, path, new)
        return f"bundle {_show(path)} = {json.dumps(new)[:60]}"
    if choice == 1 and isinstance(value, dict):
        new = rng.choice([{}, "entry", None, 5, {"resource": patient()}, [[]], True])
        value["entry"] = new
        return f"bundle {_show(path)}.entry = {json.dumps(new)[:60]} (not a list)"
    if choice == 2 and isinstance(entries, list) and entries:
        i = rng.randrange(len(entries))
        new = rng.choice(
            [
                *(None, [], "x", {}, {"resource": None}, {"resource": []}, {"fullUrl": "urn:x"}),
                {"resource": copy.deepcopy(OPERATION_OUTCOME)},
                {"resource": {"resourceType": 1}},
            ]
        )
        entries[i] = new
        return f"entry {_show(path)}.entry[{i}] = {json.dumps(new)[:60]}"
    if choice == 3 and isinstance(entries, list) and entries:
        times = rng.choice([20, 100, 300])
        value["entry"] = entries * times
        return f"bundle {_show(path)}: entries ×{times}"
    if choice == 4 and isinstance(value, dict):
        value["resourceType"] = rng.choice(
            ["Patient", "Observation", "OperationOutcome", "", "bundle", None, 7, "Parameters"]
        )
        return f"bundle {_show(path)}.resourceType = {value['resourceType']!r}"
    if choice == 5:
        others = [p for p, _ in _resources(body)]
        if others:
            donor = copy.deepcopy(_get(body, rng.choice(others)))
            _set(body, path, rng.choice([donor, {"resourceType": "Bundle", "entry": [donor]}]))
            return f"bundle {_show(path)} = a {donor.get('resourceType')!r} from elsewhere"
    if choice == 6 and isinstance(value, dict):
        value["link"] = rng.choice(
            [
                "next",
                [{"relation": "next", "url": "http://127.0.0.1:9/fhir/Observation?page=2"}],
                [{"relation": "next", "url": None}],
                [None, 5],
            ]
        )
        return f"bundle {_show(path)}.link = {json.dumps(value['link'])[:60]}"
    if choice == 7 and isinstance(value, dict):
        value["type"] = rng.choice(["transaction", "", None, 1, "searchset", "collection"])
        value["total"] = rng.choice([-1, "3", None, 10**30, float("nan")])
        return f"bundle {_show(path)}.type/.total broken"
    return m_resource(rng, body)


def m_resource(rng: random.Random, body: Any) -> str | None:
    """A resource broken: an OperationOutcome in its place, another type, unknown elements."""
    found = _resources(body)
    if not found:
        return None
    path, resource = rng.choice(found)
    if not path:
        return None
    choice = rng.randrange(7)
    if choice == 0:
        _set(body, path, copy.deepcopy(OPERATION_OUTCOME))
        return f"resource {_show(path)} = OperationOutcome"
    if choice == 1:
        kinds: list[Any] = [
            "Patient",
            "Observation",
            "MedicationRequest",
            "MedicationDispense",
            "Condition",
        ]
        kinds += ["MedicationStatement", "AllergyIntolerance", "Medication", "Bundle", "", None, 3]
        resource["resourceType"] = rng.choice(kinds)
        return f"resource {_show(path)}.resourceType = {resource['resourceType']!r}"
    if choice == 2:
        resource.pop("resourceType", None)
        return f"resource {_show(path)} without resourceType"
    if choice == 3:
        resource["id"] = rng.choice([None, 5, "", "x" * 300, "../x", ["a"], {"a": 1}, "pat-1"])
        return f"resource {_show(path)}.id = {json.dumps(resource['id'])[:40]}"
    if choice == 4:
        element = rng.choice(["foo", "_status", "extension", "modifierExtension", "meta", "text"])
        resource[element] = _junk(rng)
        return f"resource {_show(path)}.{element} = junk"
    if choice == 5:
        resource["contained"] = [rng.choice([_junk(rng), copy.deepcopy(resource)])]
        return f"resource {_show(path)}.contained = junk"
    return m_medication_reference(rng, body)


def m_medication_reference(rng: random.Random, body: Any) -> str | None:
    """A medication given by reference: to a contained or bundled Medication, broken or not."""
    found = [(p, r) for p, r in _resources(body) if "medicationCodeableConcept" in r]
    if not found:
        return None
    path, resource = rng.choice(found)
    concept = resource.pop("medicationCodeableConcept")
    med: dict[str, Any] = {"resourceType": "Medication", "id": "med-1", "code": concept}
    med[rng.choice(["code", "ingredient", "form", "id"])] = _junk(rng)
    if rng.random() < 0.5:
        med["ingredient"] = [{"itemCodeableConcept": rng.choice([concept, _junk(rng)])}]
    ref = rng.choice(["#med-1", "Medication/med-1", "#", "#nope", "", None, 7, "Medication/"])
    resource["medicationReference"] = rng.choice([{"reference": ref}, ref, [ref]])
    if rng.random() < 0.7:
        resource["contained"] = [med]
    context = body.get("context") if isinstance(body, dict) else None
    drafts = context.get("draftOrders") if isinstance(context, dict) else None
    if isinstance(drafts, dict) and isinstance(drafts.get("entry"), list):
        drafts["entry"].append({"resource": med})
    return f"medicationReference {_show(path)} → {ref!r}"


def m_patient(rng: random.Random, body: Any) -> str | None:
    """The Patient broken: birth date, id, or the Patient missing or duplicated."""
    prefetch = body.get("prefetch") if isinstance(body, dict) else None
    if not isinstance(prefetch, dict):
        return None
    value = prefetch.get("patient")
    choice = rng.randrange(4)
    if choice == 0 and isinstance(value, dict):
        value["birthDate"] = rng.choice(
            [*BAD_DATES, "2006", "2006-02", "2006-13", "0999-01-01", "2999-01-01", 2006, None]
        )
        return f"patient.birthDate = {value['birthDate']!r}"
    if choice == 1 and isinstance(value, dict):
        value["id"] = rng.choice(["pat-2", "", None, 1, "PAT-1", "pat-1 ", ["pat-1"]])
        return f"patient.id = {value['id']!r}"
    if choice == 2:
        prefetch["patient"] = rng.choice(
            [
                None,
                copy.deepcopy(OPERATION_OUTCOME),
                {"resourceType": "Bundle", "entry": []},
                {"resourceType": "Bundle", "entry": [{"resource": value}, {"resource": value}]},
            ]
        )
        return "patient replaced"
    prefetch.pop("patient", None)
    return "patient missing"


MUTATIONS: tuple[tuple[Callable[[random.Random, Any], str | None], int], ...] = (
    (m_bundle, 4),
    (m_resource, 3),
    (m_number, 3),
    (m_replace, 2),
    (m_delete, 2),
    (m_retype, 2),
    (m_date, 2),
    (m_code, 2),
    (m_patient, 1),
    (m_medication_reference, 1),
    (m_null, 1),
    (m_unicode, 1),
    (m_huge, 1),
    (m_deep, 1),
    (m_repeat, 1),
)


def mutate(rng: random.Random, body: Any) -> list[str]:
    """Apply one to four random mutations to ``body`` in place; what was done.

    A mutation that fails (a bug of this fuzzer, not of the service) is named in the notes.
    """
    done: list[str] = []
    functions = [f for f, _ in MUTATIONS]
    weights = [w for _, w in MUTATIONS]
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
        for _attempt in range(5):
            function = rng.choices(functions, weights)[0]
            try:
                note = function(rng, body)
            except Exception as exc:  # the fuzzer's own bug: shown, and the call still sent
                note = f"FUZZER ERROR in {function.__name__}: {exc!r}"[:200]
            if note is not None:
                done.append(note)
                break
    return done


def _splice(match: re.Match[str]) -> str:
    kind, size, shape = match.group(1), int(match.group(2)), match.group(3)
    if kind == "big":
        return "9" * size
    if shape == "list":
        return "[" * size + "]" * size
    return '{"a":' * size + "null" + "}" * size


def encode(body: Any) -> bytes:
    """JSON as Python writes it (NaN and Infinity allowed, surrogates escaped).

    The sentinels become deep nesting, or integers too long to parse, in the text.
    """
    return SENTINEL.sub(_splice, json.dumps(body)).encode()


# --- JWTs -----------------------------------------------------------------------------------

BROKEN_JWTS = (
    "none", "empty", "basic", "garbage", "dots", "alg-none", "hs384", "wrong-aud", "expired",
    "future-iat", "no-jti", "no-exp", "no-iat", "no-aud", "no-iss", "jti-number", "jti-long",
    "jti-empty", "exp-huge", "exp-float-huge", "exp-string", "exp-negative", "iat-huge",
    "iat-string", "aud-list", "unknown-kid", "kid-number", "unknown-iss", "iss-number",
    "rogue-key", "typ", "jku", "huge-9k", "huge-70k", "latin1", "replay", "claims-nan",
)  # fmt: skip


@dataclass(frozen=True)
class Keys:
    """The clients' signing keys (by issuer) and a key no client trusts."""

    by_iss: dict[str, SigningKey]
    rogue: SigningKey


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _jws(key: SigningKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A token signed by ``key`` whatever its header and claims (PyJWT refuses odd ones)."""
    head = {"alg": key.alg, "typ": "JWT", "kid": key.kid, **header}
    signing_input = f"{_b64(head)}.{_b64(claims)}"
    signature = jwt.get_algorithm_by_name(key.alg).sign(signing_input.encode(), key.private)
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def authorization(plan: str, iss: str, keys: Keys, aud: str, rng: random.Random) -> bytes | None:
    """The ``Authorization`` header of a call: a valid fresh JWT, or a broken one."""
    key = keys.by_iss[iss]
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    header: dict[str, Any] = {}
    odd: dict[str, dict[str, Any]] = {
        "wrong-aud": {"aud": rng.choice([aud + "x", aud.upper(), "", aud.rsplit("/", 1)[0]])},
        "expired": {"exp": now - 3600},
        "future-iat": {"iat": now + 3600},
        "aud-list": {"aud": [aud, "https://other.example"]},
        "unknown-iss": {"iss": "https://evil.example"},
        "iss-number": {"iss": rng.choice([5, None, [iss]])},
        "huge-9k": {"pad": "x" * 9_000},
        "huge-70k": {"pad": "x" * 70_000},
        "jti-number": {"jti": 12345},
        "jti-long": {"jti": "j" * 500},
        "jti-empty": {"jti": ""},
        "exp-huge": {"exp": 10**30},
        "exp-float-huge": {"exp": 1e300},
        "exp-string": {"exp": "tomorrow"},
        "exp-negative": {"exp": -(10**20)},
        "iat-huge": {"iat": 10**30},
        "iat-string": {"iat": "now"},
        "claims-nan": {"exp": float("nan")},
    }
    raw: str
    match plan:
        case "valid" | "replay":
            raw = token(key, aud, iss=iss)
        case "none":
            return None
        case "empty":
            return rng.choice([b"Bearer", b"bearer", b"", b"Bearer null", b"Bearer \tx"])
        case "basic":
            return b"Basic " + base64.b64encode(b"fuzz:" + API_SECRET.encode())
        case "garbage":
            raw = base64.urlsafe_b64encode(rng.randbytes(rng.choice([1, 30, 300]))).decode()
        case "dots":
            raw = rng.choice(["a.b.c", "..", "a.b", "a.b.c.d.e", "e30.e30.", "e30.e30"])
        case "alg-none":
            raw = f"{_b64({'alg': 'none', 'kid': key.kid, 'typ': 'JWT'})}.{_b64(claims)}."
        case "hs384":
            raw = jwt.encode(
                claims,
                "a-shared-secret-that-no-client-has-0123456789abcdef",
                algorithm="HS384",
                headers={"kid": key.kid},
            )
        case "rogue-key":
            raw = _jws(keys.rogue, {}, claims)
        case "latin1":
            return b"Bearer \xe9\xff" + token(key, aud, iss=iss).encode()
        case _:
            if plan.startswith("no-"):
                claims.pop(plan[3:], None)
            headers: dict[str, dict[str, Any]] = {
                "unknown-kid": {"kid": rng.choice(["nope", "", "x" * 500])},
                "kid-number": {"kid": rng.choice([7, None, ["es-us"], {"a": 1}])},
                "typ": {"typ": rng.choice(["JWE", 5, "", "jwt", None])},
                "jku": {"jku": "http://127.0.0.1:9/jwks.json"},
            }
            header = headers.get(plan, {})
            raw = _jws(key, header, {**claims, **odd.get(plan, {})})
    return b"Bearer " + raw.encode()


# --- the calls ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request of the CDS Hooks phase (its JWT is minted when it is sent)."""

    kind: str
    method: str
    path: str
    body: bytes | None
    content_type: str | None
    jwt: str
    iss: str
    note: str


def base_bodies() -> list[tuple[str, dict[str, Any]]]:
    """Valid bodies (service ID, body) of every hook, with and without a course in the database."""
    iso = medication_request(
        *ISOTRETINOIN_40, rid="iso-new", status="draft", mg_per_dose=40, days_supply=30, refills=0
    )
    capsules = medication_request(
        *ISOTRETINOIN_20, rid="iso-caps", status="draft", mg_per_dose=2, days_supply=4, refills=1
    )
    capsules["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"].update(
        unit="capsule", code="{capsule}"
    )
    doxy = medication_request(*DOXYCYCLINE, rid="doxy-new", status="draft")
    rich = prefetch_20()
    other = full_prefetch(patient=patient(age_birth(30), pid="pat-9"))
    return [
        (VIEW_SERVICE, hook_request("patient-view", rich)),
        (VIEW_SERVICE, hook_request("patient-view", other, patient_id="pat-9")),
        (SELECT_SERVICE, hook_request("order-select", rich, draft=[iso, doxy])),
        (SELECT_SERVICE, hook_request("order-select", other, draft=[doxy], patient_id="pat-9")),
        (SIGN_SERVICE, order_sign_body()),
        (SIGN_SERVICE, hook_request("order-sign", rich, draft=[capsules])),
        (SIGN_SERVICE, hook_request("order-sign", other, draft=[iso], patient_id="pat-9")),
        # The ID both order hooks shared before: still answered (not in discovery).
        (LEGACY_ORDER_SERVICE, hook_request("order-select", rich, draft=[iso, doxy])),
        (LEGACY_ORDER_SERVICE, order_sign_body()),
    ]


def feedback_body(rng: random.Random) -> dict[str, Any]:
    """A valid feedback body (its card is unknown to the service: stored unmatched)."""
    return {
        "feedback": [
            {
                "card": str(uuid.UUID(int=rng.getrandbits(128))),
                "outcome": rng.choice(["accepted", "overridden"]),
                "acceptedSuggestions": [{"id": str(uuid.UUID(int=rng.getrandbits(128)))}],
                "overrideReason": {
                    "reason": {"code": "patient-declined", "system": "urn:x", "display": "No"},
                    "userComment": "fuzz",
                },
                "outcomeTimestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            }
        ]
    }


def not_json(rng: random.Random, valid: bytes) -> tuple[bytes, str | None, str]:
    """A body that is not a JSON object (or not sent as JSON): body, content type, what."""
    cut = rng.randrange(1, len(valid))
    options: list[tuple[bytes, str | None, str]] = [
        (b"", JSON, "empty body"),
        (valid[:cut], JSON, f"truncated at {cut}"),
        (rng.randbytes(rng.choice([1, 100, 5000])), JSON, "random bytes"),
        (b'{"hook": "patient-view", "hookInstance": "\xff\xfe"}', JSON, "invalid UTF-8"),
        (codecs.BOM_UTF8 + valid, JSON, "UTF-8 BOM"),
        (valid.decode().encode("utf-16"), JSON, "UTF-16"),
        (rng.choice([b"null", b"[]", b"1", b'"x"', b"true", b"NaN", b"1e999"]), JSON, "a scalar"),
        (valid + b" garbage", JSON, "trailing garbage"),
        (b'{"hook": "patient-view", "hook": 1, "context": {}, "context": []}', JSON, "dup keys"),
        (b"[" * 100_000, JSON, "100000 open brackets"),
        (b'{"a":' * 3000 + b"1" + b"}" * 3000, JSON, "3000 nested objects"),
        (valid, "text/plain", "text/plain"),
        (valid, None, "no content type"),
        (valid, "application/fhir+json", "fhir+json"),
        (valid, "application/json; charset=latin-1", "charset latin-1"),
        (b"9" * 5000, JSON, "a 5000-digit integer"),
        (b'{"hook": "\\ud800", "hookInstance": "\\udfff"}', JSON, "escaped lone surrogates"),
    ]
    return rng.choice(options)


def make_call(i: int, seed: int, bodies: list[tuple[str, dict[str, Any]]]) -> Call:
    """The ``i``-th call of the run (deterministic for a seed and the same base bodies)."""
    rng = random.Random(f"{seed}:{i}")  # noqa: S311  # reproducible fuzzing, not secrets
    iss = rng.choice([ISS_US, ISS_US, ISS_EU])
    roll = rng.random()
    service, valid = rng.choice(bodies)
    body = copy.deepcopy(valid)
    body["hookInstance"] = str(uuid.UUID(int=rng.getrandbits(128)))
    path = f"/cds-services/{service}"
    if roll < 0.70:
        notes = mutate(rng, body) if rng.random() > 0.04 else ["unmutated (control)"]
        if rng.random() < 0.03:
            others = [s for hook, s in SERVICES.items() if hook != valid["hook"]]
            path = f"/cds-services/{rng.choice(others)}"
            notes.append("sent to a service of another hook")
        return Call(
            "hook: broken FHIR", "POST", path, encode(body), JSON, "valid", iss, "; ".join(notes)
        )
    if roll < 0.78:
        feedback = feedback_body(rng)
        notes = mutate(rng, feedback) if rng.random() > 0.1 else ["unmutated (control)"]
        path += "/feedback"
        return Call(
            "feedback", "POST", path, encode(feedback), JSON, "valid", iss, "; ".join(notes)
        )
    if roll < 0.86:
        plan = rng.choice(BROKEN_JWTS)
        return Call("hook: broken JWT", "POST", path, encode(body), JSON, plan, iss, f"JWT {plan}")
    if roll < 0.94:
        raw, ctype, what = not_json(rng, encode(body))
        return Call("hook: not JSON", "POST", path, raw, ctype, "valid", iss, what)
    if roll < 0.97:
        plan = rng.choice(["valid", "valid", *BROKEN_JWTS])
        return Call("discovery", "GET", "/cds-services", None, None, plan, iss, f"JWT {plan}")
    name = rng.choice(
        [
            *("nope", "ISOTRETINOIN-ORDER-SIGN", "isotretinoin-order-sign%00", "x" * 300),
            *("..%2Fv1%2Frules", "isotretinoin-order-sign/extra", "%F0%9F%98%80"),
            *(
                "isotretinoin-order-sign%2Ffeedback",
                "isotretinoin-order-",
                "isotretinoin-ordersign",
            ),
        ]
    )
    return Call(
        "unknown service", "POST", f"/cds-services/{name}", encode(body), JSON, "valid", iss, name
    )


class Sender:
    """Sends calls from several threads, one HTTP connection pool per thread."""

    def __init__(self, base: str, keys: Keys, tally: Tally) -> None:
        self.base = base
        self.keys = keys
        self.tally = tally
        self.local = threading.local()

    def http(self) -> httpx2.Client:
        """This thread's client."""
        client: httpx2.Client | None = getattr(self.local, "client", None)
        if client is None:
            client = httpx2.Client(timeout=TIMEOUT_S)
            self.local.client = client
        return client

    def send(self, i: int, call: Call) -> None:
        """Send ``call`` (twice with the same token for a replay) and record the answers."""
        rng = random.Random(i)  # noqa: S311  # reproducible fuzzing, not secrets
        url = self.base + call.path
        try:
            auth = authorization(call.jwt, call.iss, self.keys, url, rng)
        except Exception as exc:  # a token this client cannot make: noted, not the server's
            self.tally.not_sent("cds", call.kind, f"cds: call #{i}: no token ({call.jwt}): {exc!r}")
            return
        headers: dict[bytes, bytes] = {}
        if auth is not None:
            headers[b"Authorization"] = auth
        if call.content_type is not None:
            headers[b"Content-Type"] = call.content_type.encode()
        for _ in range(2 if call.jwt == "replay" else 1):
            status: int | None = None
            text, rid = "", None
            try:
                response = self.http().request(call.method, url, content=call.body, headers=headers)
                status, text = response.status_code, response.text
                rid = response.headers.get("x-request-id")
            except httpx2.LocalProtocolError as exc:  # the client would not send it
                self.tally.not_sent("cds", call.kind, f"cds: call #{i} could not be sent: {exc!r}")
                continue
            except httpx2.HTTPError as exc:
                text = repr(exc)
            failure = None
            if _is_failure(status):
                failure = Failure(
                    "cds", call.kind, call.method, call.path, call.body, status, text, rid,
                    f"call #{i}: {call.note}",
                )  # fmt: skip
            self.tally.add("cds", call.kind, status, failure)


def fuzz_cds(base: str, calls: int, seed: int, threads: int, keys: Keys, tally: Tally) -> None:
    """``calls`` CDS Hooks requests from ``threads`` threads."""
    bodies = base_bodies()
    sender = Sender(base, keys, tally)

    def one(i: int) -> None:
        # Built in the worker: only the calls in flight are held in memory.
        sender.send(i, make_call(i, seed, bodies))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(one, i) for i in range(calls)]:
            future.result()


# --- the report -----------------------------------------------------------------------------


def logged_errors(log: Path) -> dict[str, str]:
    """The exception the service logged for each request ID (and ``""`` for unattributed ones)."""
    out: dict[str, str] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            if "Traceback" in line or "Error" in line:
                out[""] = out.get("", "") + line + "\n"
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "critical"):
            rid = str(entry.get("request_id") or "")
            text = str(entry.get("exception") or entry.get("message"))
            out[rid] = out.get(rid, "") + text + "\n"
    return out


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


def exception_line(traceback: str, fallback: str) -> str:
    """The last ``SomeError: message`` line of a traceback (chained ones end with the cause)."""
    lines = [x for x in traceback.splitlines() if EXCEPTION_LINE.match(x)]
    return lines[-1][:200] if lines else fallback[:120]


FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<name>\S+)')


def origin(traceback: str) -> str:
    """Where the project's code raised: the deepest frame outside the libraries."""
    frames = [m for m in map(FRAME.match, compact(traceback).splitlines()) if m is not None]
    if not frames:
        return "?"
    last = frames[-1]
    name = last["file"].removeprefix(str(ROOT) + "/")
    return f"{name}:{last['line']} in {last['name']}"


def compact(traceback: str) -> str:
    """A logged traceback cut to the project's own frames and the exception line."""
    lines = traceback.rstrip().splitlines()
    keep: list[str] = []
    for n, line in enumerate(lines):
        own = "site-packages" not in line and "/lib/python" not in line and '"<' not in line
        if line.startswith('  File "') and own:
            keep += [line, *(x for x in lines[n + 1 : n + 2] if not x.startswith("  File"))]
    keep.append(exception_line(traceback, lines[-1] if lines else ""))
    return "\n".join(keep)


def _short(data: bytes | str | None, limit: int = SHOWN_BYTES) -> str:
    if data is None:
        return "(none)"
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    more = f" … ({len(raw)} bytes in all)" if len(raw) > limit else ""
    return raw[:limit].decode("utf-8", "replace") + more


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counter.items()))


def report_failures(tally: Tally, errors: dict[str, str], show: int) -> None:
    """Print each failure (the first ``show`` in full) and a summary of their causes."""
    causes: Counter[str] = Counter()
    for n, failure in enumerate(tally.failures):
        logged = errors.get(failure.request_id or "", "")
        where = f" at {origin(logged)}" if logged else ""
        error = exception_line(logged, failure.response)
        causes[f"{failure.kind} → {failure.status}: {error}{where}"] += 1
        if n >= show:
            continue
        say(f"--- failure {n + 1}: {failure.phase} / {failure.kind} → {failure.status}")
        say(f"request: {failure.method} {failure.url}")
        if failure.note:
            say(f"what: {failure.note}")
        say(f"body: {_short(failure.body)}")
        say(f"response: {_short(failure.response)}")
        if failure.request_id:
            say(f"request id: {failure.request_id}")
        if logged:
            say("server traceback (project frames):\n" + compact(logged))
    if len(tally.failures) > show:
        say(f"({len(tally.failures) - show} more failures not shown in full)")
    say("failure causes:")
    for cause, n in causes.most_common():
        say(f"  {n:5d} × {cause[:300]}")


def main() -> None:
    """Start the service, run both phases, print the figures; exit 1 on any failure."""
    parser = argparse.ArgumentParser(prog="python -m ops.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--examples", type=int, default=150, help="requests per operation (0: skip schemathesis)"
    )
    parser.add_argument("--cds", type=int, default=3000, help="CDS Hooks calls")
    parser.add_argument("--seed", type=int, default=20260601, help="seed of both phases")
    parser.add_argument("--threads", type=int, default=8, help="CDS Hooks client threads")
    parser.add_argument("--show", type=int, default=20, help="failures printed in full")
    args = parser.parse_args()
    tally = Tally()
    keys = Keys({ISS_US: es384_key("es-us"), ISS_EU: es384_key("es-eu")}, es384_key("es-us"))
    with tempfile.TemporaryDirectory(prefix="isocds-fuzz-") as tmp:
        folder = Path(tmp)
        clients = write_clients(
            folder,
            [
                client_config(ISS_US, "US", (keys.by_iss[ISS_US],), tenant="fuzz"),
                client_config(ISS_EU, "EU", (keys.by_iss[ISS_EU],), tenant="fuzz"),
            ],
        )
        started = time.perf_counter()
        with running_service(folder, clients) as service:
            say(
                f"fuzz: python -m api (one uvicorn worker), fresh SQLite, seed {args.seed}; "
                f"ready in {time.perf_counter() - started:.1f} s"
            )
            known = known_ids(service.base, seed_courses(service.base))
            t0 = time.perf_counter()
            operations = 0
            if args.examples > 0:
                operations = fuzz_openapi(service.base, args.examples, args.seed, known, tally)
            t1 = time.perf_counter()
            openapi = tally.by_phase("openapi")
            say(
                f"schemathesis: {operations} operations, {sum(openapi.values())} requests in "
                f"{t1 - t0:.0f} s (≤ {args.examples} per operation, positive + negative + examples)"
            )
            say(f"  by status: {_counts(openapi)}")
            answered = [k for k, c in tally.kinds("openapi").items() if any(x[0] == "2" for x in c)]
            never = sorted(set(tally.kinds("openapi")) - set(answered))
            say(
                f"  operations answered 2xx at least once: {len(answered)}/{operations}"
                + (f" (not: {', '.join(never)})" if never else "")
            )
            fuzz_edges(service.base, known, tally)
            edges = tally.by_phase("edges")
            say(
                f"edges: {sum(edges.values())} GETs, each query parameter alone at the edges of "
                f"its type; by status: {_counts(edges)}"
            )
            t1 = time.perf_counter()
            fuzz_cds(service.base, args.cds, args.seed, args.threads, keys, tally)
            t2 = time.perf_counter()
            cds = tally.by_phase("cds")
            say(
                f"cds hooks: {sum(cds.values())} requests in {t2 - t1:.0f} s "
                f"({args.threads} client threads)"
            )
            say(f"  by status: {_counts(cds)}")
            for kind, counter in tally.kinds("cds").items():
                say(f"  {kind:18s} {_counts(counter)}")
            alive = service.process.poll() is None
            ready: int | None = None
            try:
                ready = httpx2.get(service.base + "/ready", timeout=10).status_code
            except httpx2.HTTPError:
                ready = None
            errors = logged_errors(service.log)
        everything = openapi + edges + cds
        fivexx = sum(n for k, n in everything.items() if k.isdigit() and int(k) >= 500)
        unanswered = everything.get("no answer", 0)
        hooks_ok = tally.counts.get(("cds", "hook: broken FHIR"), Counter()).get("200", 0)
        say(
            f"total: {sum(everything.values())} requests; 5xx: {fivexx}; no answer: {unanswered}; "
            f"server alive: {'yes' if alive else 'NO'}; /ready: {ready}"
        )
        for note in tally.notes:
            say(f"note: {note}")
        if tally.failures:
            report_failures(tally, errors, args.show)
        unattributed = errors.get("", "")
        if unattributed:
            say("server log errors without a request ID:\n" + unattributed[-3000:])
    problems = []
    if fivexx or unanswered:
        problems.append(f"{fivexx} answers were 5xx and {unanswered} requests got no answer")
    if not alive or ready != 200:
        problems.append(f"the server is not healthy at the end (alive: {alive}, /ready: {ready})")
    if args.cds > 0 and hooks_ok == 0:
        problems.append("no CDS Hooks call was answered 200: the calls never reached the FHIR")
    if args.examples > 0 and not any(k.startswith("2") for k in openapi):
        problems.append("no generated request was answered 2xx: the API key was not accepted")
    if problems:
        say("FAIL: " + "; ".join(problems))
        sys.exit(1)
    say("PASS: no 5xx, every request answered, the server alive and ready")


if __name__ == "__main__":
    main()
