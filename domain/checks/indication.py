"""Indication (RULES §4): labelled and guideline criteria, age, retreatment, fulminans.

A therapy "failed" when its response is ``none``, ``partial`` or ``relapsed``; ``not-tolerated``
does not count until the clinical owner decides otherwise. No minimum antibiotic duration is
sourced, so none is applied.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.context import Context, day
from domain.rules import FALSE, Outcome, all_of, any_of, applies, unknown
from domain.vocab import (
    FAILED_RESPONSES,
    AcneSeverity,
    IndicationStatus,
    Jurisdiction,
    TherapyClass,
)

RETREATMENT_INTERVAL_DAYS = 56  # the label's 8 weeks (2 months)
# The tier of ``indication.retreatment-interval`` that gates: a previous course without an end
# date at a baseline visit (RULES §0.4, local policy).
END_UNKNOWN_AT_BASELINE = "end-unknown-at-baseline"
MIN_AGE = 12


def severe(ctx: Context) -> Outcome:
    """Severity ``severe`` or ``very-severe``."""
    s = ctx.facts.acne.severity
    if s is None:
        return unknown("acne.severity")
    if s in (AcneSeverity.SEVERE, AcneSeverity.VERY_SEVERE):
        return applies(f"acne severity {s.value}")
    return FALSE


def flag(ctx: Context, name: str) -> Outcome:
    """An acne flag (``nodular``, ``scarring``…) as an outcome."""
    value = getattr(ctx.facts.acne, name)
    if value is None:
        return unknown(f"acne.{name}")
    return applies(f"acne {name.replace('_', ' ')}") if value else FALSE


def age_at_least(ctx: Context, years: int) -> Outcome:
    """Age ≥ ``years`` at ``as_of``."""
    if ctx.age is None:
        return unknown("age")
    return applies(f"age {ctx.age}") if ctx.age >= years else FALSE


def nodules_at_least(ctx: Context, count: int) -> Outcome:
    """At least ``count`` inflammatory nodules ≥ 5 mm ("multiple", a local-policy reading)."""
    n = ctx.facts.acne.nodule_count
    if n is None:
        return unknown("acne.nodule_count")
    return applies(f"{n} nodules") if n >= count else FALSE


def failed(ctx: Context, classes: tuple[TherapyClass, ...] | None) -> Outcome:
    """A failed previous therapy of one of ``classes`` (``None``: any class)."""
    therapies = ctx.facts.previous_therapies
    if therapies is None:
        return unknown("previous_therapies")
    parts: list[Outcome] = []
    for i, given in enumerate(therapies):
        t = ctx.span_as_of(given)  # a therapy started after as_of is not seen (RULES §0.5)
        if t is None:
            continue
        if classes is not None and t.therapy_class not in classes:
            continue
        if t.response is None:
            parts.append(unknown(f"previous_therapies[{i}].response"))
        elif t.response in FAILED_RESPONSES:
            name = t.ingredient or t.therapy_class.value
            parts.append(
                applies(f"failed {t.therapy_class.value} therapy: {name} ({t.response.value})")
            )
    return any_of(parts)


def labelled(ctx: Context) -> Outcome:
    """The labelled criteria of the jurisdiction (RULES §4 "Criteria")."""
    return ctx.memo("labelled", _labelled)


def _labelled(ctx: Context) -> Outcome:
    if ctx.jurisdiction is Jurisdiction.US:
        return all_of(
            [
                severe(ctx),
                flag(ctx, "nodular"),
                nodules_at_least(ctx, ctx.policy.labelled_min_nodule_count),
                age_at_least(ctx, MIN_AGE),
                failed(ctx, (TherapyClass.ORAL_ANTIBIOTIC,)),
            ]
        )
    return all_of(
        [
            severe(ctx),
            any_of([flag(ctx, "nodular"), flag(ctx, "conglobata"), flag(ctx, "scarring")]),
            age_at_least(ctx, MIN_AGE),
            failed(ctx, (TherapyClass.ORAL_ANTIBIOTIC,)),
            failed(ctx, (TherapyClass.TOPICAL,)),
        ]
    )


def guideline_criteria(ctx: Context) -> Outcome:
    """Severe acne, scarring, psychosocial burden, or any failed therapy."""
    return ctx.memo(
        "guideline",
        lambda c: any_of(
            [
                severe(c),
                flag(c, "scarring"),
                flag(c, "psychosocial_burden"),
                failed(c, None),
            ]
        ),
    )


@dataclass(frozen=True, slots=True)
class Labelled:
    """``indication.labelled``."""

    def run(self, ctx: Context) -> Outcome:
        """The labelled criteria."""
        return labelled(ctx)


@dataclass(frozen=True, slots=True)
class Guideline:
    """``indication.guideline``: not labelled, but the guideline criteria hold."""

    def run(self, ctx: Context) -> Outcome:
        """False when labelled; else the guideline criteria."""
        lab = labelled(ctx)
        if lab.truth is True:
            return FALSE
        crit = guideline_criteria(ctx)
        if crit.truth is True and lab.truth is None:
            missing = ", ".join(lab.missing)
            return Outcome(
                True,
                triggers=crit.triggers,
                notes=(f"indication.labelled is unknown (missing: {missing})",),
            )
        return crit


@dataclass(frozen=True, slots=True)
class NotEstablished:
    """``indication.not-established``: both criteria false, not unknown."""

    def run(self, ctx: Context) -> Outcome:
        """Applies only when both the labelled and the guideline criteria are false."""
        lab, crit = labelled(ctx), guideline_criteria(ctx)
        if lab.truth is False and crit.truth is False:
            return applies("labelled criteria not met", "guideline criteria not met")
        if lab.truth is True or crit.truth is True:
            return FALSE
        return Outcome(None, missing=tuple(dict.fromkeys((*lab.missing, *crit.missing))))


def indication_status(ctx: Context) -> IndicationStatus:
    """The indication status of the output (RULES §4)."""
    lab, crit = labelled(ctx), guideline_criteria(ctx)
    if lab.truth is True:
        return IndicationStatus.LABELLED
    if crit.truth is True:
        return IndicationStatus.GUIDELINE_SUPPORTED
    if lab.truth is False and crit.truth is False:
        return IndicationStatus.NOT_ESTABLISHED
    return IndicationStatus.NEEDS_INFORMATION


@dataclass(frozen=True, slots=True)
class AgeUnder12:
    """``indication.age-under-12``."""

    def run(self, ctx: Context) -> Outcome:
        """Age < 12; unknown without an age."""
        if ctx.age is None:
            return unknown("age")
        return applies(f"age {ctx.age}") if ctx.age < MIN_AGE else FALSE


@dataclass(frozen=True, slots=True)
class Retreatment:
    """``indication.retreatment-interval``: a previous course ended < 56 days before the start.

    A course recorded without an end date makes it unknown. At a baseline visit that unknown is
    gating (tier :data:`END_UNKNOWN_AT_BASELINE`, RULES §0.4, local policy): the interval cannot
    be checked before a start. At other visits it is not gating. Courses are seen as they stood
    on ``as_of`` (RULES §0.5): one started after it is not seen, an end after it is not yet known.
    """

    def run(self, ctx: Context) -> Outcome:
        """Applies with ``not_before`` = end + 56 days."""
        courses = ctx.facts.previous_courses
        if courses is None:
            return unknown("previous_courses")
        start = ctx.first_dose
        parts: list[Outcome] = []
        for i, given in enumerate(courses):
            c = ctx.span_as_of(given)
            if c is None:
                continue
            if c.end is None:
                parts.append(
                    unknown(
                        f"previous_courses[{i}].end",
                        notes=(
                            "a previous course is recorded without an end date: the "
                            f"{RETREATMENT_INTERVAL_DAYS}-day interval cannot be checked",
                        ),
                    )
                )
                continue
            gap = (start - c.end).days
            if gap < RETREATMENT_INTERVAL_DAYS:
                parts.append(
                    applies(
                        f"previous course ended {c.end}, {gap} days before the start {start}",
                        not_before=c.end + day(RETREATMENT_INTERVAL_DAYS),
                    )
                )
        hit = [p for p in parts if p.truth is True]
        if hit:
            latest = max(h.not_before for h in hit if h.not_before is not None)
            return applies(*(t for h in hit for t in h.triggers), not_before=latest)
        out = any_of(parts)
        if out.truth is None and ctx.baseline:
            return out._replace(tier=END_UNKNOWN_AT_BASELINE)
        return out


@dataclass(frozen=True, slots=True)
class Fulminans:
    """``indication.acne-fulminans``."""

    def run(self, ctx: Context) -> Outcome:
        """Acne fulminans recorded."""
        return flag(ctx, "fulminans")
