"""Dosing arithmetic (RULES §8): ranges, maximum, capsule plan and cumulative dose.

The capsule plan is the service's own method (``basis: local-policy``):

1. Target mg/day = the planned mg/day, or weight × the target mg/kg/day; cap = weight × the
   applicable maximum.
2. Candidates: ``doses_per_day`` doses (US: 2; EU/UK: 1 or 2, default 2), each of one or two
   capsules of the product's strengths, leaving out strengths the patient must avoid (Absorica
   25 mg with tartrazine sensitivity). A candidate's total must not exceed the cap.
3. The smallest |total − target| wins; ties go to the lower total, then the smaller difference
   between the doses, then fewer capsules a day, then the larger dose first, then, within a dose,
   the larger capsule first.
4. If no candidate fits under the cap, there is no capsule plan, and the plan says why.
5. The achieved mg/kg/day is reported to two decimals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import combinations_with_replacement

from domain.context import Context
from domain.products import LD_TO_CONVENTIONAL, PRODUCTS, ProductInfo
from domain.vocab import (
    AcneSeverity,
    Allergen,
    Jurisdiction,
    Product,
    Regimen,
    WeightBasis,
)

DEFAULT_CUMULATIVE_TARGET = (120.0, 150.0)  # mg/kg (tan-2015; eu-smpc §4.2)


@dataclass(frozen=True, slots=True)
class Dose:
    """One dose of one or two capsules, larger capsule first."""

    capsules_mg: tuple[int, ...]

    @property
    def mg(self) -> int:
        """The dose in mg."""
        return sum(self.capsules_mg)


@dataclass(frozen=True, slots=True)
class CapsulePlan:
    """A capsule plan: its doses (larger first), daily total and achieved mg/kg/day."""

    doses: tuple[Dose, ...]
    mg_per_day: int
    mg_per_kg_day: float
    capsules_per_day: int


def _dose_options(strengths: tuple[int, ...]) -> list[Dose]:
    options = [Dose((s,)) for s in strengths]
    options += [
        Dose((a, b)) for a, b in combinations_with_replacement(sorted(strengths, reverse=True), 2)
    ]
    return options


@lru_cache(maxsize=4096)
def choose_capsules(
    strengths: tuple[int, ...], doses_per_day: int, target_mg: float, cap_mg: float
) -> tuple[Dose, ...] | None:
    """The capsule plan of the module docstring; ``None`` when nothing fits under the cap."""
    options = _dose_options(tuple(sorted(set(strengths))))
    best: tuple[tuple[object, ...], tuple[Dose, ...]] | None = None
    for combo in combinations_with_replacement(sorted(options, key=_dose_key), doses_per_day):
        doses = tuple(sorted(combo, key=_dose_key))
        total = sum(d.mg for d in doses)
        if total > cap_mg + 1e-9:
            continue
        key = (
            abs(total - target_mg),
            total,
            max(d.mg for d in doses) - min(d.mg for d in doses),
            sum(len(d.capsules_mg) for d in doses),
            tuple(-d.mg for d in doses),
            tuple(tuple(-c for c in d.capsules_mg) for d in doses),
        )
        if best is None or key < best[0]:
            best = (key, doses)
    return None if best is None else best[1]


def _dose_key(d: Dose) -> tuple[int, tuple[int, ...]]:
    return (-d.mg, tuple(-c for c in d.capsules_mg))


@dataclass(frozen=True, slots=True)
class Maximum:
    """The applicable maximum (RULES §8).

    Attributes:
        mg_per_kg_day: The maximum.
        tier: ``higher`` or ``lower`` (US), ``eu-uk`` (EU/UK), ``unknown-product``.
        would_raise: Unknown facts that, if true, would raise it to the higher maximum.
    """

    mg_per_kg_day: float
    tier: str
    would_raise: tuple[str, ...] = ()


def _kleene_higher(ctx: Context) -> bool | None:
    acne = ctx.facts.acne
    adult = None if ctx.age is None else ctx.age >= ctx.policy.us_higher_maximum_min_age
    severity = None if acne.severity is None else acne.severity is AcneSeverity.VERY_SEVERE
    features = [severity, acne.scarring, acne.truncal]
    feature = True if True in features else (None if None in features else False)
    if adult is False or feature is False:
        return False
    if adult is True and feature is True:
        return True
    return None


def maximum_for(ctx: Context, info: ProductInfo) -> Maximum:
    """The maximum for this patient and product; unknown facts give the lower one (label §2.1)."""
    if ctx.jurisdiction is not Jurisdiction.US:
        return Maximum(info.lower_maximum, "eu-uk")
    higher = _kleene_higher(ctx)
    if higher is True:
        return Maximum(info.higher_maximum, "higher")
    if higher is False:
        return Maximum(info.lower_maximum, "lower")
    acne = ctx.facts.acne
    raise_if: list[str] = []
    if ctx.age is None:
        raise_if.append("age (≥ 18)")
    if acne.severity is None:
        raise_if.append("acne.severity (very-severe)")
    if acne.scarring is None:
        raise_if.append("acne.scarring")
    if acne.truncal is None:
        raise_if.append("acne.truncal")
    return Maximum(info.lower_maximum, "lower", tuple(raise_if))


@dataclass(frozen=True, slots=True)
class Cumulative:
    """Cumulative dose and progress (RULES §8 "Cumulative dose").

    Attributes:
        mg: Σ mg/day × days over the dispensings (conventional-equivalent when flagged).
        conventional_equivalent: Absorica LD mg were converted (LD mg ÷ 0.8, unverified).
        weight_kg: The weight the mg/kg figures use.
        weight_basis: ``start`` or ``latest``.
        mg_per_kg: ``mg`` ÷ ``weight_kg``.
        target_mg_per_kg: The cumulative target range.
        target_mg: The target range in mg.
        remaining_mg: Target − cumulative (never below 0), for each end of the range.
        daily_mg: The current daily dose the projection uses.
        days_remaining: Projected days to reach each end of the target at ``daily_mg``.
    """

    mg: float
    conventional_equivalent: bool
    weight_kg: float
    weight_basis: WeightBasis
    mg_per_kg: float
    target_mg_per_kg: tuple[float, float]
    target_mg: tuple[float, float]
    remaining_mg: tuple[float, float]
    daily_mg: float | None
    days_remaining: tuple[int, int] | None


@dataclass(frozen=True, slots=True)
class DosingPlan:
    """The dosing plan of an evaluation; fields are ``None`` where the facts do not allow them.

    Attributes:
        product: The product (``None``: not identified).
        weight_kg: The weight used (at most ``weight_max_age_days`` old).
        weight_measured_on: When it was measured.
        regimen: ``daily`` unless ``intermittent`` was planned.
        doses_per_day: Doses a day the capsule plan uses.
        range_mg_per_kg_day: The labelled range.
        range_mg_per_day: The range for this weight.
        maximum: The applicable maximum.
        maximum_mg_per_day: The maximum for this weight.
        planned_mg_per_day: The planned daily dose, if any.
        planned_mg_per_kg_day: It per kg, to two decimals.
        target_mg_per_day: The capsule plan's target.
        capsule_plan: The capsule plan, if one fits.
        excluded_strengths_mg: Strengths left out (tartrazine).
        cumulative: Cumulative dose and progress.
        course_days: Days to reach the cumulative target range from zero at the target dose.
        notes: What could not be computed and why, and other statements.
    """

    product: Product | None
    weight_kg: float | None
    weight_measured_on: date | None
    regimen: Regimen
    doses_per_day: int
    range_mg_per_kg_day: tuple[float, float]
    range_mg_per_day: tuple[float, float] | None
    maximum: Maximum
    maximum_mg_per_day: float | None
    planned_mg_per_day: float | None
    planned_mg_per_kg_day: float | None
    target_mg_per_day: float | None
    capsule_plan: CapsulePlan | None
    excluded_strengths_mg: tuple[int, ...]
    cumulative: Cumulative | None
    course_days: tuple[int, int] | None
    notes: tuple[str, ...]


MAX_PROJECTED_DAYS = 36500  # a projection beyond a century says nothing: none is given


def _days_at(mg: tuple[float, float], per_day: float) -> tuple[int, int] | None:
    """Days to take ``mg`` (each end of a range) at ``per_day``, rounded up; ``None`` when absurd."""
    days = [mg_end / per_day for mg_end in mg]
    if not all(math.isfinite(d) and d <= MAX_PROJECTED_DAYS for d in days):
        return None
    return (math.ceil(days[0] - 1e-9), math.ceil(days[1] - 1e-9))


def dosing_weight(ctx: Context) -> tuple[float | None, date | None, str | None]:
    """The weight dosing may use, its date, and why not when it may not."""
    w = ctx.weight  # a weight measured after as_of is not seen (RULES §0.5)
    if w is None:
        return None, None, "no weight given"
    measured = w.measured_on or ctx.as_of
    limit = ctx.policy.weight_max_age_days
    if (ctx.as_of - measured).days > limit:
        return None, measured, f"weight from {measured} is more than {limit} days old"
    return w.kg, measured, None


def product_info(product: Product | None) -> ProductInfo:
    """The product's data; an unidentified product is read as conventional for ranges."""
    return PRODUCTS[product or Product.GENERIC]


def dosing_plan(ctx: Context) -> DosingPlan:
    """The dosing plan (memoised per evaluation)."""
    return ctx.memo("dosing_plan", _dosing_plan)


def _dosing_plan(ctx: Context) -> DosingPlan:
    plan = ctx.facts.plan
    notes: list[str] = []
    product = plan.product
    info = product_info(product)
    if product is None:
        notes.append(
            "product not identified: ranges are those of conventional products; no capsule plan"
        )
    weight, measured, why = dosing_weight(ctx)
    if why:
        notes.append(why)
    maximum = maximum_for(ctx, info)
    if maximum.would_raise:
        notes.append(
            "the lower maximum applies; these facts could raise it: "
            + ", ".join(maximum.would_raise)
        )
    doses = 2
    if ctx.jurisdiction is Jurisdiction.US:
        if plan.doses_per_day not in (None, 2):
            notes.append("US labels use two divided doses: the capsule plan uses two")
    elif plan.doses_per_day in (1, 2):
        doses = plan.doses_per_day
    lo, hi = info.range_mg_per_kg
    target = plan.planned_mg_per_day
    if target is None and plan.target_mg_per_kg_day is not None and weight is not None:
        target = weight * plan.target_mg_per_kg_day
    excluded: tuple[int, ...] = ()
    strengths = plan.available_strengths_mg or info.strengths_mg
    allergies = ctx.facts.allergies or ()
    if info.tartrazine_strength_mg and any(a.substance is Allergen.TARTRAZINE for a in allergies):
        excluded = (info.tartrazine_strength_mg,)
        strengths = tuple(s for s in strengths if s not in excluded)
        notes.append(f"{info.tartrazine_strength_mg} mg left out: it contains tartrazine")
    capsules: CapsulePlan | None = None
    if weight is not None and target is not None and product is not None:
        if not strengths:
            notes.append("no capsule strengths for this product: send available_strengths_mg")
        else:
            chosen = choose_capsules(
                tuple(strengths), doses, target, weight * maximum.mg_per_kg_day
            )
            if chosen is None:
                notes.append("no capsule combination fits under the maximum")
            else:
                total = sum(d.mg for d in chosen)
                capsules = CapsulePlan(
                    chosen, total, round(total / weight, 2), sum(len(d.capsules_mg) for d in chosen)
                )
    elif target is None:
        notes.append("no planned dose or target mg/kg/day: no capsule plan")
    planned = plan.planned_mg_per_day
    per_kg = round(planned / weight, 2) if planned is not None and weight else None
    regimen = plan.regimen or Regimen.DAILY
    cumulative = _cumulative(ctx, weight, notes)
    course_days = None
    if cumulative is not None and target:
        per_day = target / LD_TO_CONVENTIONAL if info.micronized else target
        course_days = _days_at(cumulative.target_mg, per_day)
    return DosingPlan(
        product=product,
        weight_kg=weight,
        weight_measured_on=measured,
        regimen=regimen,
        doses_per_day=doses,
        range_mg_per_kg_day=(lo, hi),
        range_mg_per_day=None if weight is None else (round(weight * lo, 1), round(weight * hi, 1)),
        maximum=maximum,
        maximum_mg_per_day=None if weight is None else round(weight * maximum.mg_per_kg_day, 1),
        planned_mg_per_day=planned,
        planned_mg_per_kg_day=per_kg,
        target_mg_per_day=None if target is None else round(target, 1),
        capsule_plan=capsules,
        excluded_strengths_mg=excluded,
        cumulative=cumulative,
        course_days=course_days,
        notes=tuple(notes),
    )


def _cumulative(ctx: Context, weight: float | None, notes: list[str]) -> Cumulative | None:
    plan = ctx.facts.plan
    basis = plan.weight_basis or WeightBasis.START
    kg = weight if basis is WeightBasis.LATEST else (plan.start_weight_kg or weight)
    if basis is WeightBasis.START and plan.start_weight_kg is None and weight is not None:
        notes.append("no start weight given: cumulative mg/kg uses the current weight")
    if kg is None:
        return None
    ld_course = plan.product is Product.ABSORICA_LD
    converted = ld_course or any(d.product is Product.ABSORICA_LD for d in ctx.dispensings)
    total = plan.cumulative_mg_before or 0.0
    for d in ctx.dispensings:
        is_ld = d.product is Product.ABSORICA_LD or (d.product is None and ld_course)
        mg = d.mg_per_day * d.days_supplied
        total += mg / LD_TO_CONVENTIONAL if is_ld else mg
    if converted:
        notes.append(
            "Absorica LD mg are reported in conventional-equivalent mg (LD mg ÷ 0.8; unverified)"
        )
    target_kg = (
        (plan.target_cumulative_mg_per_kg, plan.target_cumulative_mg_per_kg)
        if plan.target_cumulative_mg_per_kg
        else DEFAULT_CUMULATIVE_TARGET
    )
    target_mg = (target_kg[0] * kg, target_kg[1] * kg)
    remaining = (max(0.0, target_mg[0] - total), max(0.0, target_mg[1] - total))
    daily: float | None = plan.planned_mg_per_day
    if daily is None and ctx.dispensings:
        daily = ctx.dispensings[-1].mg_per_day
    if daily is not None and ld_course:
        daily = daily / LD_TO_CONVENTIONAL
    days = _days_at(remaining, daily) if daily else None
    return Cumulative(
        mg=round(total, 1),
        conventional_equivalent=converted,
        weight_kg=kg,
        weight_basis=basis,
        mg_per_kg=round(total / kg, 2),
        target_mg_per_kg=target_kg,
        target_mg=(round(target_mg[0], 1), round(target_mg[1], 1)),
        remaining_mg=(round(remaining[0], 1), round(remaining[1], 1)),
        daily_mg=None if daily is None else round(daily, 1),
        days_remaining=days,
    )
