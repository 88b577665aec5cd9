"""Course benchmark: appending a dispensing, and reading a course checklist over a 6-month history.

For SQLite and PostgreSQL: starts the service (one uvicorn worker) on a fresh database, creates
courses with six months of history (dispensings, labs, tests, visits), then loads it with wrk:
``POST /v1/courses/{id}/dispensings`` (each write committed before its answer) and
``GET /v1/courses/{id}/checklist`` (an evaluation: its audit record is committed before the
answer). Prints writes/s and checklist latency (16 connections, and 1 connection for the service
time alone).

Run: ``make bench-courses`` (or ``uv run python -m bench.courses [seconds]``). Needs wrk and
PostgreSQL on 127.0.0.1:5432. Targets: ≥ 500 writes/s on each engine; checklist p99 ≤ 10 ms.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from datetime import date, timedelta
from typing import Any

from bench.http import HEADERS, serve, service_env, wrk_script
from tests.database import create_pg_database, fresh_sqlite_url
from tests.integration.support import free_port

COURSES = 16


def _post(base: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310  # loopback
        base + path, data=json.dumps(body).encode(), headers=HEADERS, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310  # loopback
        data: dict[str, Any] = json.loads(r.read())
        return data


def seed(base: str, today: date) -> list[str]:
    """Courses with six months of history each; their IDs."""
    start = today - timedelta(days=180)
    ids = []
    for i in range(COURSES):
        course = _post(
            base,
            "/v1/courses",
            {
                "patient_ref": f"bench-{i}",
                "jurisdiction": "US",
                "product": "claravis",
                "weight_at_start_kg": 70,
            },
        )
        cid = course["id"]
        ids.append(cid)
        _post(
            base,
            f"/v1/courses/{cid}/pregnancy-potential",
            {"recorded_on": str(start), "category": "can-become-pregnant"},
        )
        for m in range(6):
            day = start + timedelta(days=30 * m)
            _post(
                base,
                f"/v1/courses/{cid}/dispensings",
                {"dispensed_on": str(day), "mg_per_day": 40 + 10 * min(m, 3), "days_supplied": 30},
            )
            _post(
                base,
                f"/v1/courses/{cid}/pregnancy-tests",
                {"specimen_date": str(day), "result": "negative", "setting": "medical-lab"},
            )
            _post(
                base,
                f"/v1/courses/{cid}/visits",
                {
                    "visit_date": str(day),
                    "weight": {"value": 70},
                    "mood_screen": {"instrument": "phq-9", "total": 2, "item_9": 0},
                    "reported_symptoms": [],
                },
            )
            _post(
                base,
                f"/v1/courses/{cid}/labs",
                {
                    "loinc": "2571-8",
                    "value": 150,
                    "unit": "mg/dL",
                    "collected_on": str(day),
                    "fasting": True,
                },
            )
            _post(
                base,
                f"/v1/courses/{cid}/contraception",
                {
                    "method": "iud-copper",
                    "start_date": str(start - timedelta(days=40)),
                    "confirmed_on": str(day),
                },
            )
    return ids


def run_engine(
    name: str, url: str, seconds: int, *, quiet: bool = False
) -> dict[str, dict[str, float]]:
    """Seed, then measure writes and checklists on one engine."""
    out: dict[str, dict[str, float]] = {}
    with serve("api.main:create_app", service_env(url), free_port(), "/ready") as base:
        today = date.today()  # noqa: DTZ011  # the service's zone is UTC here; only the date matters
        ids = seed(base, today)
        writes = [
            (
                f"/v1/courses/{cid}/dispensings",
                json.dumps({"dispensed_on": str(today), "mg_per_day": 60, "days_supplied": 30}),
            )
            for cid in ids
        ]
        out["writes"] = wrk_script(base, writes, "POST", HEADERS, seconds, 16)
        reads = [(f"/v1/courses/{cid}/checklist", "") for cid in ids]
        out["checklist16"] = wrk_script(base, reads, "GET", HEADERS, seconds, 16)
        out["checklist1"] = wrk_script(base, reads, "GET", HEADERS, seconds, 1)
    if quiet:
        return out
    print(
        f"  {name:10s} writes {out['writes']['rps']:6.0f}/s (p99 {out['writes']['p99']:5.1f} ms)"
        f" | checklist 16 conn {out['checklist16']['rps']:5.0f}/s p50 {out['checklist16']['p50']:5.1f} ms"
        f" p99 {out['checklist16']['p99']:5.1f} ms | 1 conn p50 {out['checklist1']['p50']:4.1f} ms"
        f" p99 {out['checklist1']['p99']:4.1f} ms"
    )
    return out


def main() -> None:
    """Both engines, one table."""
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    print(f"courses: one uvicorn worker, wrk {seconds} s per load, audit commit in the path")
    run_engine("SQLite", fresh_sqlite_url(), seconds)
    run_engine("PostgreSQL", create_pg_database(), seconds)


if __name__ == "__main__":
    main()
