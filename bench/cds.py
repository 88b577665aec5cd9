"""CDS Hooks benchmark: ``order-sign`` with a 20-resource prefetch, JWT check and audit in the path.

Starts the service (one uvicorn worker, SQLite file) with one trusted client (ES384 key), and
loads ``POST /cds-services/isotretinoin-order-sign`` with wrk at 16 connections. Every request carries
its own signed JWT (a fresh ``jti``: the replay cache refuses reuse), so the path includes the
signature check, the replay-cache insert, the card store and the committed audit record. The same
body is then sent to a bare FastAPI echo for the baseline.

Run: ``make bench-cds`` (or ``uv run python -m bench.cds [seconds] [connections]``). Needs wrk.
Goal (the issue's, not a CI gate): p95 ≤ 50 ms; the CDS Hooks spec asks for about 500 ms.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from api.cds.security import MAX_LIFETIME_S
from bench.http import free_port, serve
from db.migrate import upgrade
from tests.cds.support import (
    DOXYCYCLINE,
    ISOTRETINOIN_40,
    ISS_US,
    age_birth,
    allergy,
    bundle,
    client_config,
    condition,
    days_ago,
    dispense,
    es384_key,
    full_prefetch,
    hcg,
    hook_request,
    medication_request,
    patient,
    phq9,
    pregnancy_potential,
    quantity,
    token,
    weight,
)

PATH = "/cds-services/isotretinoin-order-sign"
REQUESTS_PER_SECOND_CEILING = 4000  # tokens minted per second of load (each is used once)


def prefetch_20() -> dict[str, Any]:
    """A prefetch of 20 resources: the picture of a patient in the fourth month of a course."""
    iso = ISOTRETINOIN_40
    return full_prefetch(
        patient=patient(age_birth(22)),
        medRequests=bundle(
            medication_request(*iso, status="completed", authored=days_ago(90)),
            medication_request(*iso, status="completed", authored=days_ago(60)),
            medication_request(*iso, status="active", authored=days_ago(30)),
            medication_request("310026", "ibuprofen 200 MG Oral Tablet", authored=days_ago(200)),
        ),
        medDispenses=bundle(
            dispense(*iso, days_ago(89)), dispense(*iso, days_ago(59)), dispense(*iso, days_ago(29))
        ),
        conditions=bundle(condition("http://hl7.org/fhir/sid/icd-10-cm", "L70.0", "Acne vulgaris")),
        allergies=bundle(allergy("Penicillin")),
        pregnancyPotential=bundle(pregnancy_potential("can-become-pregnant", days_ago(95))),
        pregnancyTests=bundle(hcg(days_ago(2)), hcg(days_ago(31)), hcg(days_ago(61))),
        lipids=bundle(
            quantity("2571-8", 140, "mg/dL", days_ago(31)),
            quantity("2093-3", 180, "mg/dL", days_ago(31)),
        ),
        liver=bundle(
            quantity("1742-6", 25, "U/L", days_ago(31), high=40),
            quantity("1920-8", 24, "U/L", days_ago(31), high=40),
        ),
        weight=bundle(weight(62, days_ago(2))),
        mood=bundle(phq9(2, days_ago(2))),
    )


def order_sign_body() -> dict[str, Any]:
    """The order-sign request: a month of isotretinoin 40 mg daily, plus a doxycycline order."""
    order = medication_request(
        *ISOTRETINOIN_40, rid="iso-new", status="draft", mg_per_dose=40, days_supply=30, refills=0
    )
    other = medication_request(*DOXYCYCLINE, rid="doxy-new", status="draft")
    return hook_request("order-sign", prefetch_20(), draft=[order, other])


def count_resources(prefetch: dict[str, Any]) -> int:
    """Resources in a prefetch (Bundle entries and single resources)."""
    total = 0
    for value in prefetch.values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            total += len(value.get("entry", []))
        elif isinstance(value, dict):
            total += 1
    return total


def run_wrk(
    base: str, body: str, tokens: list[str] | None, seconds: int, connections: int
) -> dict[str, float]:
    """Load ``base`` + PATH (or /echo) with wrk; one token per request when ``tokens`` is given."""
    lines = ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"']
    lines.append(f"local body = {json.dumps(body)}")
    if tokens is None:
        lines.append('request = function() return wrk.format(nil, "/echo", nil, body) end')
    else:
        lines.append("local tokens = {" + ",".join(json.dumps(t) for t in tokens) + "}")
        lines.append("local i = 0")
        lines.append(
            "request = function() i = i % #tokens + 1; return wrk.format(nil, "
            f'{json.dumps(PATH)}, {{["Content-Type"] = "application/json", '
            '["Authorization"] = "Bearer " .. tokens[i]}, body) end'
        )
    lines.append(
        "local shown = false\n"
        "response = function(status, headers, body) if status ~= 200 and not shown then "
        'shown = true; io.stderr:write("first non-200: " .. status .. " " .. body:sub(1, 300) .. "\\n") '
        "end end"
    )
    lines.append(
        'done = function(summary, latency, requests) io.write(string.format("P95_US %d\\n", '
        "latency:percentile(95))) end"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    # One wrk thread: each thread has its own Lua state, and two would send the same tokens.
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, base],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    Path(script.name).unlink()
    if out.returncode != 0:
        sys.exit(f"wrk failed: {out.stderr.strip()[:500]}")
    return parse(out.stdout)


def parse(out: str) -> dict[str, float]:
    """Requests/s, p50/p90/p99 (ms), requests and non-2xx answers from wrk's output."""

    def ms(label: str) -> float:
        found = re.search(rf"\s{label}%\s+([\d.]+)(\w+)", out)
        if found is None:
            return float("nan")
        return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    p95 = re.search(r"P95_US (\d+)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": ms("50"),
        "p90": ms("90"),
        "p95": int(p95.group(1)) / 1000 if p95 else float("nan"),
        "p99": ms("99"),
        "requests": float(total.group(1)) if total else 0.0,
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def measure(seconds: int, connections: int) -> tuple[dict[str, float], dict[str, float], str]:
    """order-sign (JWT, replay cache, audit) and the echo of the same body: (service, echo, what)."""
    if shutil.which("wrk") is None:
        sys.exit("bench.cds needs wrk (apt-get install wrk)")
    body = order_sign_body()
    resources = count_resources(body["prefetch"])
    text = json.dumps(body)
    if seconds > MAX_LIFETIME_S - 60:
        sys.exit(f"bench.cds mints its tokens first; they live {MAX_LIFETIME_S} s: run it shorter")
    key = es384_key("bench")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    tokens = [
        token(key, base + PATH, iss=ISS_US, exp_in=MAX_LIFETIME_S)
        for _ in range(REQUESTS_PER_SECOND_CEILING * seconds)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        clients = Path(tmp) / "clients.json"
        clients.write_text(json.dumps([client_config(ISS_US, "US", (key,))]), encoding="utf-8")
        env = {
            "ISOCDS_CDS_CLIENTS_FILE": str(clients),
            "ISOCDS_PUBLIC_BASE_URL": base,
            "ISOCDS_TIMEZONE": "UTC",
            "ISOCDS_LOG_LEVEL": "warning",
            "ISOCDS_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "ISOCDS_AUDIT_HMAC_KEY": "bench-hmac-key-0123456789abcdef0123456789",
        }
        upgrade(env["ISOCDS_DATABASE_URL"])
        with serve("api.main:create_app", env, port, "/ready") as url:
            service = run_wrk(url, text, tokens, seconds, connections)
        with serve("bench.echo:create_echo", {}, free_port(), "/docs") as url:
            echo = run_wrk(url, text, None, seconds, connections)
    if service["requests"] > len(tokens):
        print("  warning: more requests than tokens; later ones were refused as replays")
    return service, echo, f"{resources}-resource prefetch ({len(text)} bytes)"


def main() -> None:
    """Run both loads and print the table."""
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    service, echo, what = measure(seconds, connections)
    print(
        f"cds: order-sign, {what}, {connections} connections, {seconds} s each, one uvicorn worker, "
        "SQLite, JWT (ES384) + audit"
    )
    for name, r in (("POST order-sign", service), ("bare FastAPI echo", echo)):
        print(
            f"  {name:18s} {r['rps']:8.0f} req/s  p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms"
            f"  p99 {r['p99']:6.1f} ms  requests {r['requests']:.0f}  non-2xx {r['errors']:.0f}"
        )
    print(f"  ratio: {service['rps'] / echo['rps']:.2f} × the echo; goal p95 ≤ 50 ms")


if __name__ == "__main__":
    main()
