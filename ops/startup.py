"""Start-up time: from ``python -m api`` starting to the first 200 from ``/ready``, on SQLite.

Run: ``python -m ops.startup [--runs 5] [--target 2.0]`` (``make startup``). Prints every run and
min / median / max, and a PASS/FAIL line; exits 1 when the median exceeds the target (issue 6:
under 2 s on SQLite).

What is measured, and why:

* **Bytecode first.** The container writes bytecode at build time for our code
  (``python -m compileall`` of api, db, domain and migrations) and for every dependency module
  that start-up, migration and serving import (the build imports them). This environment sets
  ``PYTHONDONTWRITEBYTECODE=1``, so without compiling every start would parse every module from
  source, which is not the product's start-up. The script therefore runs ``python -m compileall``
  on the same folders and on this interpreter's site-packages before measuring (a superset of
  the container's: the modules start-up imports are compiled in both). ``--no-compile`` skips
  it; ``--without-bytecode`` measures the cold, source-only start as well, for comparison,
  through an empty ``PYTHONPYCACHEPREFIX``.
* **Each run** starts ``python -m api`` in a new, empty working directory with no ``ISOCDS_*``
  setting but a free ``ISOCDS_PORT``: the ``docker run`` case. The process creates
  ``var/isocds.db``, migrates it, generates the audit HMAC key, builds the catalogue and the app,
  and serves. The clock starts just before the process is spawned and stops at the first 200
  from ``GET /ready`` (polled every 5 ms; ``/ready`` also checks that the schema is at head). The
  process is then stopped with SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from bench.http import answers_200, stop
from tests.integration.support import free_port

ROOT = Path(__file__).resolve().parents[1]
CODE = ("api", "db", "domain", "migrations")
TARGET_S = 2.0
RUN_TIMEOUT_S = 60.0
POLL_S = 0.005


def say(line: str) -> None:
    """Print one line of the report."""
    print(line, flush=True)  # noqa: T201  # a script: its output is the report


def site_packages() -> list[str]:
    """This interpreter's site-packages folders (pure and platform-specific, once each)."""
    paths = sysconfig.get_paths()
    return sorted({paths["purelib"], paths["platlib"]})


def compile_bytecode() -> None:
    """``python -m compileall`` of the code and the dependencies (the container's bytecode and more)."""
    targets = [*CODE, *site_packages()]
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603  # a fixed argv: this interpreter and compileall
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *targets],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - started
    say(f"bytecode: compileall of {', '.join(targets)} in {took:.1f} s")
    if result.returncode != 0:
        # A few third-party files may not compile (test data, other Python versions); the
        # rest is compiled. Show the first lines so that a real failure is visible.
        lines = (result.stdout + result.stderr).strip().splitlines()
        say(f"  compileall exit {result.returncode}; first lines: {lines[:3]}")


def one_run(pycache: Path | None) -> float:
    """Seconds from spawning ``python -m api`` (fresh directory, no settings) to ``/ready`` 200.

    Raises:
        RuntimeError: the process exited, or was not ready within ``RUN_TIMEOUT_S``.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISOCDS_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["ISOCDS_PORT"] = str(port)
    if pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    with tempfile.TemporaryDirectory(prefix="isocds-startup-") as cwd:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "api"],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not answers_200(port, "/ready"):
                if proc.poll() is not None:
                    raise RuntimeError(f"python -m api exited {proc.returncode} before /ready")
                if time.perf_counter() - started > RUN_TIMEOUT_S:
                    raise RuntimeError(f"/ready did not answer 200 in {RUN_TIMEOUT_S:.0f} s")
                time.sleep(POLL_S)
            took = time.perf_counter() - started
            if not (Path(cwd) / "var" / "isocds.db").is_file():
                raise RuntimeError("ready, but var/isocds.db was not created")
        finally:
            stop(proc)
    return took


def series(label: str, runs: int, pycache: Path | None) -> list[float]:
    """``runs`` start-ups; print each and the summary line."""
    times = []
    for i in range(runs):
        took = one_run(pycache)
        times.append(took)
        say(f"  {label} run {i + 1}: {took:.3f} s")
    say(
        f"{label}: min {min(times):.3f} s, median {statistics.median(times):.3f} s, "
        f"max {max(times):.3f} s ({runs} runs)"
    )
    return times


def main(argv: list[str] | None = None) -> int:
    """Compile, measure, report; 1 when the median exceeds the target."""
    parser = argparse.ArgumentParser(
        prog="python -m ops.startup", description="Start-up time of python -m api on SQLite."
    )
    parser.add_argument("--runs", type=int, default=5, help="start-ups to measure (default 5)")
    parser.add_argument("--target", type=float, default=TARGET_S, help="median bound, seconds")
    parser.add_argument("--no-compile", action="store_true", help="skip compileall")
    parser.add_argument(
        "--without-bytecode",
        action="store_true",
        help="also measure start-ups that compile every module from source (for comparison)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    say(
        f"startup: python -m api, no settings, fresh SQLite file (migrated at start), "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    if not args.no_compile:
        compile_bytecode()
    try:
        times = series("with bytecode", args.runs, None)
        if args.without_bytecode:
            with tempfile.TemporaryDirectory(prefix="isocds-nopyc-") as empty:
                series("without bytecode", args.runs, Path(empty))
    except RuntimeError as exc:
        say(f"FAIL: {exc}")
        return 1
    median = statistics.median(times)
    verdict = "PASS" if median <= args.target else "FAIL"
    say(f"{verdict}: median {median:.3f} s to /ready 200 (target under {args.target:.1f} s)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
