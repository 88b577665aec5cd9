"""The evaluation context: facts at ``as_of``, with the derived values the checks share.

Everything here is computed lazily and at most once per evaluation. Records dated after
``as_of`` are dropped here, so no check ever sees them (RULES §0.3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, timedelta
from functools import cached_property
from typing import Any, TypeVar

from domain.codes import MMOL_L, TG_MG_DL_PER_MMOL_L
from domain.facts import (
    AcknowledgementForm,
    ContraceptionRecord,
    CounsellingRecord,
    Dispensing,
    Facts,
    LabResult,
    Medication,
    MoodScreen,
    PregnancyStatusRecord,
    PregnancyTest,
    PreviousCourse,
    PreviousTherapy,
    Weight,
)
from domain.settings import EvaluationSettings, LocalPolicy
from domain.vocab import (
    Jurisdiction,
    LabProfile,
    PregnancyPotential,
    PregnancyStatusValue,
    Product,
    Symptom,
    TestResult,
    VisitType,
)

T = TypeVar("T")
Span = TypeVar("Span", PreviousCourse, PreviousTherapy)

US_PRE_2026 = "US/pre-2026"
US_2026 = "US/ipledge-2026"
EU = "EU"
UK_PRE_2023 = "UK/pre-2023"
UK_2023 = "UK/2023"
UK_2026 = "UK/2026"
UK_2023_START = date(2023, 10, 31)
UK_2026_START = date(2026, 1, 22)


def day(n: int) -> timedelta:
    """``n`` calendar days."""
    return timedelta(days=n)


def window_end(start: date, days: int) -> date:
    """Last day of "within ``days`` days of ``start``, ``start`` = day 1" (RULES §0.5)."""
    return start + timedelta(days=days - 1)


def within_last(d: date, anchor: date, days: int) -> bool:
    """``d`` falls within the ``days`` calendar days that end on ``anchor`` (both inclusive)."""
    return anchor - timedelta(days=days - 1) <= d <= anchor


def age_on(birth: date, on: date) -> int:
    """Age in whole years on ``on``."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def epoch_for(jurisdiction: Jurisdiction, on: date, settings: EvaluationSettings) -> str:
    """The profile label of RULES §2 for this jurisdiction and date."""
    if jurisdiction is Jurisdiction.US:
        return US_2026 if on >= settings.ipledge_2026_effective else US_PRE_2026
    if jurisdiction is Jurisdiction.EU:
        return EU
    if on >= UK_2026_START:
        return UK_2026
    if on >= UK_2023_START:
        return UK_2023
    return UK_PRE_2023


def _upto(
    items: Iterable[T], as_of: date, when: Callable[[T], date], order: Callable[[T], Any]
) -> tuple[T, ...]:
    """Records dated up to ``as_of``, oldest first.

    Records of the same day are put in a fixed order by ``order``, with the most alarming last,
    so "the most recent" never depends on the order the caller listed them in and same-day
    conflicts resolve towards the conservative reading (RULES §5).
    """
    return tuple(sorted((i for i in items if when(i) <= as_of), key=lambda i: (when(i), order(i))))


_RESULT_RANK = {TestResult.NEGATIVE: 0, TestResult.INDETERMINATE: 1, TestResult.POSITIVE: 2}
_STATUS_RANK = {
    PregnancyStatusValue.NOT_PREGNANT: 0,
    PregnancyStatusValue.NOT_YET_CONFIRMED: 1,
    PregnancyStatusValue.POSSIBLE: 2,
    PregnancyStatusValue.PREGNANT: 3,
}


def _test_order(t: PregnancyTest) -> tuple[Any, ...]:
    return (
        _RESULT_RANK[t.result],
        t.setting.value,
        t.clia_certified is True,
        t.sensitivity_miu_ml or 0,
    )


def _lab_order(r: LabResult) -> tuple[Any, ...]:
    value = r.value * TG_MG_DL_PER_MMOL_L if r.unit == MMOL_L else r.value
    return (r.loinc, value, r.unit, r.fasting is not True, r.uln or 0)


def _screen_order(s: MoodScreen) -> tuple[Any, ...]:
    item9 = 0.5 if s.item_9 is None else (0 if s.item_9 == 0 else 1 + s.item_9)
    return (item9, s.total, s.instrument.value)


class Context:
    """Facts as of a date, for one jurisdiction, with shared derived values.

    Attributes:
        facts: The facts as given.
        as_of: The evaluation date.
        jurisdiction: The jurisdiction of the evaluation.
        settings: The deployment's clinical settings.
        policy: Shorthand for ``settings.local_policy``.
        epoch: The RULES §2 profile label in force.
    """

    def __init__(
        self,
        facts: Facts,
        as_of: date,
        jurisdiction: Jurisdiction,
        settings: EvaluationSettings,
        *,
        supply_from_dispensings: bool = False,
    ) -> None:
        self.facts = facts
        self.as_of = as_of
        self.jurisdiction = jurisdiction
        self.settings = settings
        self.policy: LocalPolicy = settings.local_policy
        self.epoch = epoch_for(jurisdiction, as_of, settings)
        self.is_us = jurisdiction is Jurisdiction.US
        self.us_2026 = self.epoch == US_2026
        self.supply_from_dispensings = supply_from_dispensings
        self._memo: dict[str, object] = {}

    def memo(self, key: str, compute: Callable[[Context], T]) -> T:
        """``compute(self)``, computed at most once per evaluation under ``key``."""
        if key in self._memo:
            return self._memo[key]  # type: ignore[return-value]  # stored by this method
        value = compute(self)
        self._memo[key] = value
        return value

    # --- visit and dates -------------------------------------------------------------------

    @cached_property
    def lab_profile(self) -> LabProfile:
        """``label``/``evidence`` (US, from the settings) or ``smpc`` (EU/UK)."""
        return self.settings.lab_profile_us if self.is_us else LabProfile.SMPC

    @cached_property
    def dispensings(self) -> tuple[Dispensing, ...]:
        """Dispensings up to ``as_of``, oldest first."""
        return _upto(
            self.facts.dispensings,
            self.as_of,
            lambda d: d.dispensed_on,
            lambda d: (d.mg_per_day, d.days_supplied, d.product.value if d.product else ""),
        )

    @cached_property
    def treatment_start(self) -> date | None:
        """First dose: the given start, else the first dispensing; ``None`` = not started."""
        given = self.facts.treatment_start_date
        if given is not None and given <= self.as_of:
            return given
        if self.dispensings:
            return self.dispensings[0].dispensed_on
        return None

    @cached_property
    def started(self) -> bool:
        """Whether a first dose is recorded (a start date or a dispensing)."""
        return self.treatment_start is not None

    @cached_property
    def visit_type(self) -> VisitType:
        """The given visit type, else ``baseline`` before treatment and ``follow-up`` after."""
        if self.facts.visit_type is not None:
            return self.facts.visit_type
        return VisitType.FOLLOW_UP if self.started else VisitType.BASELINE

    @cached_property
    def baseline(self) -> bool:
        """Whether this is the baseline visit."""
        return self.visit_type is VisitType.BASELINE

    @cached_property
    def visit_date(self) -> date:
        """The visit date (default ``as_of``)."""
        return self.facts.visit_date or self.as_of

    @cached_property
    def previous_visit(self) -> date:
        """The previous visit: given, else the visit date − the follow-up interval (30 days)."""
        given = self.facts.previous_visit_date
        if given is not None and given <= self.as_of:
            return given
        return self.visit_date - day(self.policy.follow_up_interval_days)

    @cached_property
    def prescription_date(self) -> date:
        """The prescription date (default ``as_of``)."""
        return self.facts.plan.prescription_date or self.as_of

    @cached_property
    def planned_start(self) -> date:
        """The planned first dose (default ``as_of``)."""
        return self.facts.plan.planned_start_date or self.as_of

    @cached_property
    def first_dose(self) -> date:
        """The first dose taken, else the planned one."""
        return self.treatment_start or self.planned_start

    @cached_property
    def last_dose(self) -> date | None:
        """The last dose, if recorded by ``as_of``."""
        d = self.facts.last_dose_date
        return d if d is not None and d <= self.as_of else None

    def in_item_window(self, d: date) -> bool:
        """RULES §0.3 default item window.

        At baseline: within the ``baseline_lookback_days`` (30) days up to the prescription date.
        Otherwise: on or after the previous visit (and not after ``as_of``).
        """
        if self.baseline:
            return within_last(d, self.prescription_date, self.policy.baseline_lookback_days)
        return self.previous_visit <= d <= self.as_of

    @cached_property
    def item_window_text(self) -> str:
        """The default item window in words."""
        if self.baseline:
            days = self.policy.baseline_lookback_days
            return f"within the {days} days up to the prescription date {self.prescription_date}"
        return f"since the previous visit ({self.previous_visit})"

    # --- the person ----------------------------------------------------------------------

    @cached_property
    def age(self) -> int | None:
        """Age in whole years at ``as_of``: from the birth date, else ``age_years``."""
        if self.facts.birth_date is not None:
            return age_on(self.facts.birth_date, self.as_of)
        return self.facts.age_years

    @cached_property
    def category(self) -> PregnancyPotential:
        """The attested pregnancy-potential category; absent is ``unknown`` (RULES §3)."""
        return self.facts.pregnancy_potential or PregnancyPotential.UNKNOWN

    @cached_property
    def ppp(self) -> bool:
        """Whether pregnancy prevention applies: ``can-become-pregnant`` or ``unknown``."""
        return self.category is not PregnancyPotential.CANNOT

    @cached_property
    def category_suffix(self) -> str:
        """Text appended to pregnancy-prevention items while the category is unknown."""
        if self.category is PregnancyPotential.UNKNOWN:
            return " (applies until the pregnancy-potential category is documented)"
        return ""

    # --- dated records up to as_of ---------------------------------------------------------
    # RULES §0.5: a record dated after ``as_of`` is invisible to every rule. Every dated record
    # a check reads goes through one of these properties (or :meth:`upto`, :meth:`span_as_of`),
    # so a record dated ``as_of`` + 1 changes nothing compared with its absence.

    @cached_property
    def weight(self) -> Weight | None:
        """The weight, if measured by ``as_of`` (an undated weight is of ``as_of``)."""
        w = self.facts.weight
        if w is None or (w.measured_on is not None and w.measured_on > self.as_of):
            return None
        return w

    def span_as_of(self, record: Span) -> Span | None:
        """An earlier course or therapy as it stood on ``as_of``.

        It is dated by its start, else by its end: dated after ``as_of``, it is not seen at all
        (``None``). An end after ``as_of`` had not happened yet: the record is seen without it.
        """
        first = record.start if record.start is not None else record.end
        if first is not None and first > self.as_of:
            return None
        if record.end is not None and record.end > self.as_of:
            return replace(record, end=None)
        return record

    @cached_property
    def previous_courses(self) -> tuple[PreviousCourse, ...] | None:
        """Earlier isotretinoin courses as they stood on ``as_of`` (``None``: not asked)."""
        if self.facts.previous_courses is None:
            return None
        seen = (self.span_as_of(c) for c in self.facts.previous_courses)
        return tuple(c for c in seen if c is not None)

    @cached_property
    def previous_therapies(self) -> tuple[PreviousTherapy, ...] | None:
        """Previous acne therapies started by ``as_of`` (``None``: not asked)."""
        if self.facts.previous_therapies is None:
            return None
        seen = (self.span_as_of(t) for t in self.facts.previous_therapies)
        return tuple(t for t in seen if t is not None)

    @cached_property
    def tests(self) -> tuple[PregnancyTest, ...]:
        """Pregnancy tests up to ``as_of``, oldest first."""
        return _upto(self.facts.pregnancy_tests, self.as_of, lambda t: t.specimen_date, _test_order)

    @cached_property
    def statuses(self) -> tuple[PregnancyStatusRecord, ...] | None:
        """Pregnancy statuses up to ``as_of`` (``None``: not asked)."""
        if self.facts.pregnancy_status is None:
            return None
        return _upto(
            self.facts.pregnancy_status,
            self.as_of,
            lambda s: s.recorded_on,
            lambda s: _STATUS_RANK[s.value],
        )

    @cached_property
    def labs(self) -> tuple[LabResult, ...] | None:
        """Lab results up to ``as_of``, oldest first (``None``: not asked)."""
        if self.facts.labs is None:
            return None
        return _upto(self.facts.labs, self.as_of, lambda r: r.collected_on, _lab_order)

    def results(self, loincs: Iterable[str]) -> tuple[LabResult, ...]:
        """Results for these LOINC codes up to ``as_of``, oldest first."""
        wanted = set(loincs)
        return tuple(r for r in self.labs or () if r.loinc in wanted)

    @cached_property
    def screens(self) -> tuple[MoodScreen, ...] | None:
        """Mood screens up to ``as_of``, oldest first (``None``: not asked)."""
        if self.facts.mood_screens is None:
            return None
        return _upto(self.facts.mood_screens, self.as_of, lambda s: s.screened_on, _screen_order)

    @cached_property
    def contraception(self) -> tuple[ContraceptionRecord, ...]:
        """Methods started by ``as_of``; a confirmation dated after ``as_of`` is not seen."""
        started = (
            c
            if c.confirmed_on is None or c.confirmed_on <= self.as_of
            else replace(c, confirmed_on=None)
            for c in self.facts.contraception
        )
        return _upto(
            started,
            self.as_of,
            lambda c: c.start_date,
            lambda c: (c.method.value, c.confirmed_on or date.min),
        )

    @cached_property
    def counselling(self) -> tuple[CounsellingRecord, ...]:
        """Counselling up to ``as_of``."""
        return _upto(self.facts.counselling, self.as_of, lambda c: c.given_on, lambda c: c.topic)

    @cached_property
    def forms(self) -> tuple[AcknowledgementForm, ...]:
        """Acknowledgement forms signed by ``as_of``."""
        return _upto(
            self.facts.acknowledgement_forms,
            self.as_of,
            lambda f: f.signed_on,
            lambda f: f.form.value,
        )

    @cached_property
    def counselled(self) -> dict[str, date]:
        """The latest date each counselling topic was recorded within the default item window."""
        latest: dict[str, date] = {}
        for c in self.counselling:
            if self.in_item_window(c.given_on):
                latest[c.topic] = c.given_on
        return latest

    def upto(self, d: date | None) -> date | None:
        """``d`` if it is not after ``as_of``, else ``None`` (a future record is not used)."""
        return d if d is not None and d <= self.as_of else None

    @cached_property
    def medications(self) -> tuple[Medication, ...] | None:
        """Current medications (``None``: not asked)."""
        return self.facts.medications

    @cached_property
    def symptoms(self) -> frozenset[Symptom] | None:
        """The latest symptoms reported (``None``: not asked, or reported after ``as_of``).

        They are this visit's, or those of the visit ``facts.reported_symptoms_on`` (a course
        carries its latest report forward until a later visit records symptoms again).
        """
        s = self.facts.reported_symptoms
        on = self.facts.reported_symptoms_on
        if s is None or (on is not None and on > self.as_of):
            return None
        return frozenset(s)

    @cached_property
    def product(self) -> Product | None:
        """The planned product, if identified."""
        return self.facts.plan.product
