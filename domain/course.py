"""A treatment course's stored history as facts (the courses issue; vignettes F1, F2).

A course remembers what was done: visits (weight, mood screen, symptoms), dispensings, labs,
pregnancy tests, contraception, counselling, documentation and the pregnancy-potential category
(a dated record: it can change during a course, and the latest as of ``as_of`` applies). It does not
store medications, allergies, conditions, breastfeeding, the acne assessment or attestations:
rules that read them stay ``unknown``.

Merging with a profile of current facts (``history_facts(..., current=...)``): for each kind of
record the course stores, the stored records and the profile's are joined, and where both hold
the same record (same date and the same test, method, topic or form) the stored one wins. The
plan's product is the given plan's when it names one, else the course's.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import TypeVar

from domain.facts import (
    AcknowledgementForm,
    ContraceptionRecord,
    CounsellingRecord,
    Dispensing,
    Facts,
    LabResult,
    MoodScreen,
    PregnancyTest,
    Rems,
    Weight,
)
from domain.vocab import (
    CannotReason,
    Jurisdiction,
    PregnancyPotential,
    Product,
    Symptom,
    VisitType,
)

T = TypeVar("T")

POST_THERAPY_AFTER_DAYS = 30  # the post-therapy visit is one month after the last dose (RULES §9)


class CourseStatus(StrEnum):
    """Where a course stands."""

    PLANNED = "planned"
    ACTIVE = "active"
    COMPLETED = "completed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True, kw_only=True)
class Visit:
    """A visit: what was measured and asked.

    Attributes:
        visit_date: The visit date.
        weight_kg: Weight measured, kg.
        mood_screen: The mood screen done.
        symptoms: Symptoms reported (``()`` asked, none; ``None`` not asked).
        sexual_function_assessed: UK: sexual function was assessed at this visit.
    """

    visit_date: date
    weight_kg: float | None = None
    mood_screen: MoodScreen | None = None
    symptoms: tuple[Symptom, ...] | None = None
    sexual_function_assessed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PotentialRecord:
    """The pregnancy-potential category recorded on a date."""

    recorded_on: date
    category: PregnancyPotential
    reason: CannotReason | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RemsRecord:
    """An iPLEDGE step recorded on a date: enrolment or the monthly confirmation."""

    recorded_on: date
    step: str  # "enrolment" | "monthly-confirmation"


@dataclass(frozen=True, slots=True, kw_only=True)
class CourseHistory:
    """A course and everything recorded on it.

    Attributes:
        jurisdiction: The course's jurisdiction.
        status: Planned, active, completed or stopped.
        product: The product.
        start_date: First dose (set by the first dispensing while planned).
        end_date: Last dose, for a completed or stopped course.
        weight_at_start_kg: Weight at the start (cumulative mg/kg uses it).
        target_cumulative_mg_per_kg: The course's cumulative target.
    """

    jurisdiction: Jurisdiction
    status: CourseStatus
    product: Product | None = None
    start_date: date | None = None
    end_date: date | None = None
    weight_at_start_kg: float | None = None
    target_cumulative_mg_per_kg: float | None = None
    visits: tuple[Visit, ...] = ()
    dispensings: tuple[Dispensing, ...] = ()
    labs: tuple[LabResult, ...] = ()
    pregnancy_tests: tuple[PregnancyTest, ...] = ()
    contraception: tuple[ContraceptionRecord, ...] = ()
    counselling: tuple[CounsellingRecord, ...] = ()
    forms: tuple[AcknowledgementForm, ...] = ()
    rems: tuple[RemsRecord, ...] = ()
    potentials: tuple[PotentialRecord, ...] = ()


def visit_type_for(history: CourseHistory, as_of: date) -> VisitType:
    """The visit a course is at on ``as_of``.

    Before the first dose (no start date and no dispensing on or before ``as_of``): ``baseline``.
    After it: ``follow-up``. From the last dose of a completed or stopped course: the
    ``end-of-therapy`` visit until one month after it, then ``post-therapy``.
    """
    ended = history.status in (CourseStatus.COMPLETED, CourseStatus.STOPPED)
    if ended and history.end_date is not None and as_of >= history.end_date:
        after = as_of >= history.end_date + timedelta(days=POST_THERAPY_AFTER_DAYS)
        return VisitType.POST_THERAPY if after else VisitType.END_OF_THERAPY
    started = history.start_date is not None and history.start_date <= as_of
    if started or any(d.dispensed_on <= as_of for d in history.dispensings):
        return VisitType.FOLLOW_UP
    return VisitType.BASELINE


def _join(
    stored: Iterable[T], given: Iterable[T] | None, key: Callable[[T], Hashable]
) -> tuple[T, ...]:
    """Stored records, plus the given ones that do not duplicate a stored record."""
    kept = list(stored)
    seen = {key(r) for r in kept}
    kept += [r for r in given or () if key(r) not in seen]
    return tuple(kept)


def _upto(records: Iterable[T], as_of: date, when: Callable[[T], date]) -> tuple[T, ...]:
    """The records dated on or before ``as_of``."""
    return tuple(r for r in records if when(r) <= as_of)


def _symptoms(
    visits: list[Visit], base: Facts, as_of: date
) -> tuple[tuple[Symptom, ...] | None, date | None]:
    """The symptoms in force on ``as_of`` and the date they were asked (``None``: this visit).

    ``visits`` are the stored visits up to ``as_of``, by date. The latest that recorded symptoms
    (``[]`` included) stands until a later visit records symptoms again; a visit that did not ask
    (``None``) changes nothing. The given facts' symptoms are the current visit's: they replace a
    stored report from an earlier date, and a stored report dated on the current visit wins.
    """
    asked = [v for v in visits if v.symptoms is not None]
    if not asked:
        return base.reported_symptoms, base.reported_symptoms_on
    last = asked[-1]
    if base.reported_symptoms is not None and last.visit_date < (base.visit_date or as_of):
        return base.reported_symptoms, base.reported_symptoms_on
    return last.symptoms, last.visit_date


def history_facts(history: CourseHistory, as_of: date, current: Facts | None = None) -> Facts:
    """The facts of a course on ``as_of``, optionally merged with a profile of current facts.

    Symptoms persist: the symptoms of the latest stored visit up to ``as_of`` that recorded
    symptoms (``[]`` included) are in force on every later date, with the date they were asked
    (``reported_symptoms_on``), until a later visit records symptoms again. A ``stop.*`` symptom
    reported at the latest visit therefore keeps its stop rule applying between visits (RULES
    §15: the course views never hide a stop rule); a visit that does not record symptoms
    (``None``: not asked) neither clears nor replaces them, and ``monitoring.symptom-review`` is
    done only when they were asked within its item window. Symptoms in ``current`` are the current
    visit's: they replace a stored report from an earlier date; a stored report dated on the
    current visit wins (stored records win).

    Stored records dated after ``as_of`` are dropped before the merge (RULES §0.5): a later
    stored record never displaces a profile record that was visible on ``as_of``.
    """
    base = current or Facts()
    visits = sorted(
        (v for v in history.visits if v.visit_date <= as_of), key=lambda v: v.visit_date
    )
    weight = base.weight
    if weight is not None and (weight.measured_on or as_of) > as_of:
        weight = None  # measured after as_of: not seen, so the course's weights are used
    weighed = [v for v in visits if v.weight_kg is not None]
    if weighed:
        last = weighed[-1]
        given_on = None if weight is None else (weight.measured_on or as_of)
        if given_on is None or last.visit_date >= given_on:
            weight = Weight(kg=last.weight_kg or 0.0, measured_on=last.visit_date)
    potentials = sorted(
        (p for p in history.potentials if p.recorded_on <= as_of), key=lambda p: p.recorded_on
    )
    category, reason = base.pregnancy_potential, base.pregnancy_potential_reason
    if potentials:
        category, reason = potentials[-1].category, potentials[-1].reason
    screens = tuple(v.mood_screen for v in visits if v.mood_screen is not None)
    symptoms, symptoms_on = _symptoms(visits, base, as_of)
    earlier = [v.visit_date for v in visits if v.visit_date < as_of]
    given_previous = base.previous_visit_date
    if given_previous is not None and given_previous > as_of:
        given_previous = None  # after as_of: not seen, so the course's visits decide
    sexual = [v.visit_date for v in visits if v.sexual_function_assessed]
    enrolled = [
        r.recorded_on for r in history.rems if r.step == "enrolment" and r.recorded_on <= as_of
    ]
    confirmed = [
        r.recorded_on
        for r in history.rems
        if r.step == "monthly-confirmation" and r.recorded_on <= as_of
    ]
    rems = Rems(
        enrolled_on=min(enrolled) if enrolled else base.rems.enrolled_on,
        monthly_confirmation_on=max(confirmed) if confirmed else base.rems.monthly_confirmation_on,
    )
    plan = replace(
        base.plan,
        # This visit's plan names the product prescribed now; without one, the course's.
        product=base.plan.product or history.product,
        start_weight_kg=history.weight_at_start_kg or base.plan.start_weight_kg,
        target_cumulative_mg_per_kg=history.target_cumulative_mg_per_kg
        or base.plan.target_cumulative_mg_per_kg,
    )
    ended = history.status in (CourseStatus.COMPLETED, CourseStatus.STOPPED)
    started = history.start_date if history.start_date and history.start_date <= as_of else None
    return replace(
        base,
        weight=weight,
        pregnancy_potential=category,
        pregnancy_potential_reason=reason,
        pregnancy_tests=_join(
            _upto(history.pregnancy_tests, as_of, lambda t: t.specimen_date),
            base.pregnancy_tests,
            lambda t: (t.specimen_date, t.result),
        ),
        labs=_join(
            _upto(history.labs, as_of, lambda r: r.collected_on),
            base.labs,
            lambda r: (r.loinc, r.collected_on),
        ),
        mood_screens=_join(screens, base.mood_screens, lambda s: (s.instrument, s.screened_on)),
        contraception=_join(
            _upto(history.contraception, as_of, lambda c: c.start_date),
            base.contraception,
            lambda c: (c.method, c.start_date),
        ),
        counselling=_join(
            _upto(history.counselling, as_of, lambda c: c.given_on),
            base.counselling,
            lambda c: (c.topic, c.given_on),
        ),
        rems=rems,
        acknowledgement_forms=_join(
            _upto(history.forms, as_of, lambda f: f.signed_on),
            base.acknowledgement_forms,
            lambda f: f.form,
        ),
        reported_symptoms=symptoms,
        reported_symptoms_on=symptoms_on,
        sexual_function_assessed_on=max(sexual) if sexual else base.sexual_function_assessed_on,
        visit_type=base.visit_type or visit_type_for(history, as_of),
        visit_date=base.visit_date,
        previous_visit_date=given_previous or (max(earlier) if earlier else None),
        treatment_start_date=started or base.treatment_start_date,
        last_dose_date=(
            history.end_date if ended and history.end_date and history.end_date <= as_of else None
        )
        or base.last_dose_date,
        plan=plan,
        dispensings=_join(
            _upto(history.dispensings, as_of, lambda d: d.dispensed_on),
            base.dispensings,
            lambda d: (d.dispensed_on, d.mg_per_day),
        ),
    )
