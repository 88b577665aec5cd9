"""Input validation at the edge of the domain (RULES §10, issue "Units").

An impossible value or an unknown unit or code is an :class:`InputError` naming the field, never a
guess. Paths use the field names of :class:`domain.facts.Facts` (``labs[0].unit``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date

from domain.codes import LAB_UNITS
from domain.context import age_on
from domain.errors import InputError, InputIssue
from domain.facts import Facts
from domain.products import PRODUCTS
from domain.vocab import Jurisdiction, MoodInstrument

MAX_AGE_YEARS = 120
EARLIEST = date(1900, 1, 1)  # evaluation dates outside these bounds are typing errors
LATEST = date(2999, 12, 31)
MAX_WEIGHT_KG = 400.0
MOOD_MAX_TOTAL = {MoodInstrument.PHQ9: 27, MoodInstrument.PHQA: 27, MoodInstrument.PHQ2: 6}
COUNSELLING_TOPICS = frozenset(
    {
        "pregnancy-prevention",
        "counselling.blood-donation",
        "counselling.waxing-laser",
        "counselling.sun",
        "counselling.night-vision",
        "counselling.vitamin-a",
        "counselling.no-sharing",
        "counselling.emergency-contraception",
        "counselling.mucocutaneous-dryness",
        "counselling.vigorous-exercise",
    }
)


def _finite(x: float) -> bool:
    return not (math.isnan(x) or math.isinf(x))


def validate_facts(facts: Facts, as_of: date, jurisdiction: Jurisdiction) -> None:
    """Raise :class:`InputError` listing every impossible value in ``facts``."""
    issues: list[InputIssue] = []

    def bad(path: str, reason: str) -> None:
        issues.append(InputIssue(path, reason))

    if not EARLIEST <= as_of <= LATEST:
        raise InputError([InputIssue("as_of", f"must be between {EARLIEST} and {LATEST}")])

    if facts.birth_date is not None:
        if facts.birth_date > as_of:
            bad("birth_date", f"is after the evaluation date {as_of}")
        elif age_on(facts.birth_date, as_of) > MAX_AGE_YEARS:
            bad("birth_date", f"gives an age over {MAX_AGE_YEARS} years")
    if facts.age_years is not None and not 0 <= facts.age_years <= MAX_AGE_YEARS:
        bad("age_years", f"must be between 0 and {MAX_AGE_YEARS}")
    if facts.weight is not None:
        kg = facts.weight.kg
        if not _finite(kg) or kg <= 0 or kg > MAX_WEIGHT_KG:
            bad("weight.kg", f"must be more than 0 and at most {MAX_WEIGHT_KG:g} kg (got {kg:g})")
    if facts.acne.nodule_count is not None and facts.acne.nodule_count < 0:
        bad("acne.nodule_count", "must not be negative")
    for i, r in enumerate(facts.labs or ()):
        units = LAB_UNITS.get(r.loinc)
        if units is None:
            bad(f"labs[{i}].loinc", f"{r.loinc!r} is not a LOINC code the rules read")
        elif r.unit not in units:
            bad(
                f"labs[{i}].unit",
                f"unknown unit {r.unit!r} for LOINC {r.loinc} (accepted: {', '.join(units)})",
            )
        if not _finite(r.value) or r.value < 0:
            bad(f"labs[{i}].value", "must be a number ≥ 0")
        if r.uln is not None and (not _finite(r.uln) or r.uln <= 0):
            bad(f"labs[{i}].uln", "must be a positive number")
    for i, s in enumerate(facts.mood_screens or ()):
        top = MOOD_MAX_TOTAL[s.instrument]
        if not 0 <= s.total <= top:
            bad(f"mood_screens[{i}].total", f"must be between 0 and {top} for {s.instrument.value}")
        if s.item_9 is not None:
            if s.instrument is MoodInstrument.PHQ2:
                bad(f"mood_screens[{i}].item_9", "PHQ-2 has no item 9")
            elif not 0 <= s.item_9 <= 3:
                bad(f"mood_screens[{i}].item_9", "must be between 0 and 3")
            elif s.item_9 > s.total:
                bad(f"mood_screens[{i}].item_9", "cannot exceed the total")
    for i, t in enumerate(facts.pregnancy_tests):
        sens = t.sensitivity_miu_ml
        if sens is not None and (not _finite(sens) or sens <= 0):
            bad(f"pregnancy_tests[{i}].sensitivity_miu_ml", "must be a positive number")
    for i, c in enumerate(facts.counselling):
        if c.topic not in COUNSELLING_TOPICS:
            bad(f"counselling[{i}].topic", f"unknown topic {c.topic!r}")
    for i, d in enumerate(facts.dispensings):
        if not _finite(d.mg_per_day) or d.mg_per_day <= 0:
            bad(f"dispensings[{i}].mg_per_day", "must be more than 0")
        if d.days_supplied <= 0:
            bad(f"dispensings[{i}].days_supplied", "must be more than 0")
    _validate_plan(facts, jurisdiction, bad)
    if issues:
        raise InputError(issues)


def _validate_plan(
    facts: Facts, jurisdiction: Jurisdiction, bad: Callable[[str, str], None]
) -> None:
    plan = facts.plan
    if plan.product is not None and jurisdiction not in PRODUCTS[plan.product].markets:
        bad("plan.product", f"{plan.product.value} is not marketed in {jurisdiction.value}")
    for name in ("planned_mg_per_day", "target_mg_per_kg_day", "target_cumulative_mg_per_kg"):
        value = getattr(plan, name)
        if value is not None and (not _finite(value) or value <= 0):
            bad(f"plan.{name}", "must be more than 0")
    if plan.cumulative_mg_before is not None and (
        not _finite(plan.cumulative_mg_before) or plan.cumulative_mg_before < 0
    ):
        bad("plan.cumulative_mg_before", "must be a number ≥ 0")
    if plan.start_weight_kg is not None and not 0 < plan.start_weight_kg <= MAX_WEIGHT_KG:
        bad("plan.start_weight_kg", f"must be more than 0 and at most {MAX_WEIGHT_KG:g} kg")
    if plan.doses_per_day is not None and plan.doses_per_day not in (1, 2):
        bad("plan.doses_per_day", "must be 1 or 2")
    if plan.available_strengths_mg is not None:
        if not plan.available_strengths_mg:
            bad("plan.available_strengths_mg", "must not be empty")
        if any(s <= 0 for s in plan.available_strengths_mg):
            bad("plan.available_strengths_mg", "strengths must be positive")
    if plan.planned_days_supply is not None and plan.planned_days_supply <= 0:
        bad("plan.planned_days_supply", "must be more than 0")
    if plan.planned_refills is not None and plan.planned_refills < 0:
        bad("plan.planned_refills", "must not be negative")
