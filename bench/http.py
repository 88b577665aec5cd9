"""HTTP benchmark: ``POST /v1/assessments`` (A1) against a bare FastAPI echo of the same body.

Starts each app in its own uvicorn process (one worker) on loopback, loads it with wrk at the same
concurrency, and prints requests/s, p50 and p99 for both and the ratio.

Run: ``make bench-http`` (or ``uv run python -m bench.http [seconds] [connections]``). Needs
``wrk`` (Debian package ``wrk``). Targets: assessments ≥ 0.5 × the echo's throughput, p99 ≤ 25 ms
at 16 connections; goals to report, not gates.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from api.examples import A1_REQUEST
from tests.database import fresh_sqlite_url
from tests.integration.support import free_port as free_port  # re-exported: bench.cds uses it
from tests.integration.support import request

SECRET = "bench-secret-0123456789abcdef"
HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"}
ROOT = Path(__file__).resolve().parents[1]


def service_env(database_url: str) -> dict[str, str]:
    """The ``ISOCDS_*`` settings of a benchmarked service on ``database_url`` (key ``SECRET``)."""
    return {
        "ISOCDS_API_KEYS": f"bench:{SECRET}",
        "ISOCDS_TIMEZONE": "UTC",
        "ISOCDS_LOG_LEVEL": "warning",
        "ISOCDS_DATABASE_URL": database_url,
        "ISOCDS_AUDIT_HMAC_KEY": "bench-hmac-key-0123456789abcdef0123456789",
    }


# --- a service in its own process (shared with ops/) --------------------------------------------


def answers_200(port: int, path: str = "/ready") -> bool:
    """Whether ``GET path`` on the loopback ``port`` answers 200 now."""
    try:
        return request(port, "GET", path, timeout=1).status == 200
    except (OSError, http.client.HTTPException):
        return False


def uvicorn_command(target: str, port: int, workers: int = 1) -> list[str]:
    """``uvicorn --factory target`` on the loopback ``port``, quiet, with ``workers`` workers."""
    return [
        sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def start(
    cmd: list[str],
    env: dict[str, str],
    port: int,
    ready_path: str = "/ready",
    *,
    log: Path | None = None,
    timeout_s: float = 60.0,
    name: str = "bench",
) -> subprocess.Popen[bytes]:
    """Run ``cmd`` in the project folder (``env`` over this environment) until ``ready_path`` is 200.

    Its output goes to ``log`` (else stdout is dropped and stderr shown). Exits the script, with
    the end of the log, when the process ends first or is not ready within ``timeout_s``.
    """
    if log is None:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    else:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
            )
    deadline = time.monotonic() + timeout_s
    while not answers_200(port, ready_path):
        if proc.poll() is not None:
            _give_up(f"{name}: the server exited with {proc.returncode} at start", log)
        if time.monotonic() > deadline:
            stop(proc)
            _give_up(f"{name}: {ready_path} did not answer 200 within {timeout_s:.0f} s", log)
        time.sleep(0.1)
    return proc


def _give_up(message: str, log: Path | None) -> NoReturn:
    tail = log.read_text(encoding="utf-8", errors="replace")[-3000:] if log else ""
    sys.exit(f"{message}:\n{tail}" if tail else message)


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> int | None:
    """SIGTERM, then SIGKILL if it has not gone in ``timeout_s``; its exit code (``None``: killed)."""
    if proc.poll() is not None:
        return proc.returncode
    proc.terminate()
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


@contextmanager
def serve(target: str, env: dict[str, str], port: int, ready_path: str) -> Iterator[str]:
    """Run ``uvicorn --factory target`` with one worker until the block ends; its base URL."""
    proc = start(uvicorn_command(target, port), env, port, ready_path)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


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


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(seconds: int, connections: int) -> tuple[dict[str, float], dict[str, float], int]:
    """``POST /v1/assessments`` (A1) and the echo of the same body: (service, echo, body bytes)."""
    if shutil.which("wrk") is None:
        sys.exit("bench.http needs wrk (apt-get install wrk)")
    body = json.dumps(A1_REQUEST)
    with serve(
        "api.main:create_app", service_env(fresh_sqlite_url()), free_port(), "/ready"
    ) as base:
        service = wrk_script(
            base, [("/v1/assessments", body)], "POST", HEADERS, seconds, connections
        )
    with serve("bench.echo:create_echo", {}, free_port(), "/docs") as base:
        echo = wrk_script(base, [("/echo", body)], "POST", HEADERS, seconds, connections)
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
