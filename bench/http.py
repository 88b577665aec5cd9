"""HTTP benchmark: ``POST /v1/assessments`` (A1) against a bare FastAPI echo of the same body.

Starts each app in its own uvicorn process (one worker) on loopback, loads it with wrk at the same
concurrency, and prints requests/s, p50 and p99 for both and the ratio.

Run: ``make bench-http`` (or ``uv run python -m bench.http [seconds] [connections]``). Needs
``wrk`` (Debian package ``wrk``). Targets: assessments ≥ 0.5 × the echo's throughput, p99 ≤ 25 ms
at 16 connections; goals to report, not gates.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from api.examples import A1_REQUEST
from db.migrate import upgrade

SECRET = "bench-secret-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(target: str, env: dict[str, str], port: int, ready_path: str) -> Iterator[str]:
    """Run ``uvicorn --factory target`` with one worker until the block ends."""
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(base + ready_path, timeout=1):  # noqa: S310  # loopback
                    break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def wrk_script(
    base: str,
    requests: list[tuple[str, str]],
    method: str,
    headers: dict[str, str],
    seconds: int,
    connections: int,
) -> dict[str, float]:
    """Load ``base`` with wrk, cycling through ``requests`` (path, body); rps, p50 and p99 in ms."""
    lines = [f'wrk.method = "{method}"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    lines.append("local reqs = {}")
    for path, body in requests:
        lines.append(
            f"table.insert(reqs, wrk.format(nil, {json.dumps(path)}, nil, {json.dumps(body)}))"
        )
    lines.append("local i = 0")
    lines.append("request = function() i = i % #reqs + 1; return reqs[i] end")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    threads = min(connections, 2)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, base],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    Path(script.name).unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50": _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def wrk(
    url: str, body: bytes, headers: dict[str, str], seconds: int, connections: int
) -> dict[str, float]:
    """Load ``url`` with POSTs of ``body``."""
    base, _, path = url.partition("//")[2].partition("/")
    return wrk_script(
        "http://" + base, [("/" + path, body.decode())], "POST", headers, seconds, connections
    )


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(seconds: int, connections: int) -> tuple[dict[str, float], dict[str, float], int]:
    """``POST /v1/assessments`` (A1) and the echo of the same body: (service, echo, body bytes)."""
    if shutil.which("wrk") is None:
        sys.exit("bench.http needs wrk (apt-get install wrk)")
    body = json.dumps(A1_REQUEST).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"}
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "ISOCDS_API_KEYS": f"bench:{SECRET}",
            "ISOCDS_TIMEZONE": "UTC",
            "ISOCDS_LOG_LEVEL": "warning",
            "ISOCDS_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "ISOCDS_AUDIT_HMAC_KEY": "bench-hmac-key-0123456789abcdef0123456789",
        }
        upgrade(env["ISOCDS_DATABASE_URL"])
        with serve("api.main:create_app", env, free_port(), "/ready") as base:
            service = wrk(base + "/v1/assessments", body, headers, seconds, connections)
        with serve("bench.echo:create_echo", {}, free_port(), "/docs") as base:
            echo = wrk(base + "/echo", body, headers, seconds, connections)
    return service, echo, len(body)


def main() -> None:
    """Run both loads and print the table."""
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    service, echo, size = measure(seconds, connections)
    ratio = service["rps"] / echo["rps"]
    print(
        f"http: {connections} connections, {seconds} s each, one uvicorn worker, body {size} bytes"
    )
    for name, r in (("POST /v1/assessments (A1)", service), ("bare FastAPI echo", echo)):
        print(
            f"  {name:26s} {r['rps']:8.0f} req/s  p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms"
            f"  non-2xx {r['errors']:.0f}"
        )
    print(f"  ratio: {ratio:.2f} × the echo (target ≥ 0.5); p99 target ≤ 25 ms")


if __name__ == "__main__":
    main()
