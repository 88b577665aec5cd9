"""Every benchmark in one table: ``make bench`` (or ``uv run python -m bench.all [seconds]``).

Domain evaluations/s; ``POST /v1/assessments`` against the bare FastAPI echo; course writes and
checklist latency on SQLite and PostgreSQL; the CDS Hooks order-sign call. Every audited endpoint
runs with its audit commit in the path. The targets are the issues' goals, reported, not gated.
Needs wrk and PostgreSQL on 127.0.0.1:5432.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

from bench import cds, courses, domain, http
from tests.database import create_pg_database, fresh_sqlite_url


def _row(what: str, result: str, goal: str) -> str:
    return f"| {what} | {result} | {goal} |"


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def main() -> None:
    """Run everything and print one Markdown table."""
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    rows = []
    d = domain.measure(3.0)
    rows.append(
        _row(
            "domain: full A1 evaluation (checklist, dosing), one core",
            f"{d['evaluations_per_s']:,.0f}/s ({d['us_per_evaluation']:.0f} µs)",
            f"≥ 10,000/s ({_met(d['evaluations_per_s'] >= 10_000)})",
        )
    )
    service, echo, _ = http.measure(seconds, 16)
    ratio = service["rps"] / echo["rps"]
    rows.append(
        _row(
            "`POST /v1/assessments` (A1) + audit, 16 conn",
            f"{service['rps']:,.0f} req/s, p50 {service['p50']:.0f} ms, p99 {service['p99']:.0f} ms",
            f"p99 ≤ 25 ms ({_met(service['p99'] <= 25)})",
        )
    )
    rows.append(
        _row(
            "bare FastAPI echo of the same body, 16 conn",
            f"{echo['rps']:,.0f} req/s, p99 {echo['p99']:.0f} ms",
            f"assessments ≥ 0.5 × echo: {ratio:.2f} ({_met(ratio >= 0.5)})",
        )
    )
    engines = {"SQLite": fresh_sqlite_url(), "PostgreSQL": create_pg_database()}
    for name, url in engines.items():
        r = courses.run_engine(name, url, seconds, quiet=True)
        w, c16, c1 = r["writes"], r["checklist16"], r["checklist1"]
        rows.append(
            _row(
                f"course writes, {name}, 16 conn",
                f"{w['rps']:,.0f}/s, p99 {w['p99']:.0f} ms",
                f"≥ 500/s ({_met(w['rps'] >= 500)})",
            )
        )
        rows.append(
            _row(
                f"course checklist (6-month history), {name}",
                f"1 conn p50 {c1['p50']:.1f} ms, p99 {c1['p99']:.1f} ms; "
                f"16 conn {c16['rps']:,.0f}/s, p99 {c16['p99']:.0f} ms",
                f"p99 ≤ 10 ms ({_met(c1['p99'] <= 10)})",
            )
        )
    s, e, what = cds.measure(seconds, 16)
    rows.append(
        _row(
            f"CDS Hooks order-sign, {what}, JWT + audit, 16 conn",
            f"{s['rps']:,.0f} req/s, p50 {s['p50']:.0f} ms, p95 {s['p95']:.0f} ms, "
            f"p99 {s['p99']:.0f} ms ({s['rps'] / e['rps']:.2f} × echo)",
            f"p95 ≤ 50 ms ({_met(s['p95'] <= 50)})",
        )
    )
    cores = os.cpu_count()
    day = datetime.now(UTC).date()
    print(f"Benchmarks, {day}, {cores} cores, one uvicorn worker, wrk {seconds} s per load")
    print()
    print("| benchmark | result | goal |")
    print("|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
