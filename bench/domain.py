"""Domain benchmark: evaluations per second for the full A1 profile (checklist and dosing).

Run: ``make bench-domain`` (or ``uv run python -m bench.domain [seconds]``). One process, one
core. The target is ≥ 10,000 evaluations/s (100 µs each); it is a goal to report, not a gate.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace

from domain.catalog import build_catalog
from domain.engine import evaluate
from domain.settings import EvaluationSettings
from domain.vocab import Jurisdiction
from tests.factories import AS_OF, a1


def measure(seconds: float = 3.0) -> dict[str, float]:
    """Evaluate A1 (with a planned dose, so the capsule plan runs) repeatedly for ``seconds``."""
    settings = EvaluationSettings()
    catalog = build_catalog(settings)
    facts = a1(plan=replace(a1().plan, planned_mg_per_day=60))
    for _ in range(200):  # warm-up
        evaluate(facts, AS_OF, Jurisdiction.US, settings, catalog=catalog)
    rounds: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        n = 500
        start = time.perf_counter()
        for _ in range(n):
            evaluate(facts, AS_OF, Jurisdiction.US, settings, catalog=catalog)
        rounds.append((time.perf_counter() - start) / n)
    per_eval = statistics.median(rounds)
    return {"evaluations_per_s": 1 / per_eval, "us_per_evaluation": per_eval * 1e6}


def main() -> None:
    """Print the result as one line."""
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    r = measure(seconds)
    print(  # a benchmark prints
        f"domain: {r['evaluations_per_s']:,.0f} evaluations/s "
        f"({r['us_per_evaluation']:.0f} µs each; full A1 with checklist and dosing; target ≥ 10,000/s)"
    )


if __name__ == "__main__":
    main()
