"""RULES §0.5: a record dated after ``as_of`` is invisible to every rule.

For each kind of dated record, on both sides of ``as_of``:

* dated ``as_of`` + 1, the evaluation is exactly that of the same facts without the record
  (decision, basis, ``not_before``, every finding with its triggers, notes and item, the dosing
  plan);
* dated on or before ``as_of``, the record is used (the rule that reads it shows it).

REST profiles reach the engine as :class:`Facts`; course histories through
:func:`domain.course.history_facts`, which are tested here too (stored records, and the merge of a
course with a profile of current facts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import pytest

from domain.course import CourseHistory, CourseStatus, PotentialRecord, Visit, history_facts
from domain.engine import Evaluation, evaluate
from domain.facts import (
    AcknowledgementForm,
    Acne,
    ContraceptionRecord,
    CounsellingRecord,
    Dispensing,
    Facts,
    LabResult,
    MoodScreen,
    PregnancyStatusRecord,
    PregnancyTest,
    PreviousCourse,
    PreviousTherapy,
    Rems,
    Weight,
)
from domain.vocab import (
    AcneSeverity,
    ContraceptionMethod,
    Decision,
    FormKind,
    IndicationStatus,
    Jurisdiction,
    MoodInstrument,
    PregnancyPotential,
    PregnancyStatusValue,
    Product,
    TestResult,
    TestSetting,
    TherapyClass,
    TherapyResponse,
    VisitType,
)
from tests.factories import a1, a1_eu, d, fires, item_state, status_of

AS_OF = date(2026, 3, 1)
AFTER = AS_OF + timedelta(days=1)
US, EU, UK = Jurisdiction.US, Jurisdiction.EU, Jurisdiction.UK
MILD = Acne(
    severity=AcneSeverity.MILD,
    nodular=False,
    nodule_count=0,
    scarring=False,
    psychosocial_burden=False,
    truncal=False,
    conglobata=False,
    fulminans=False,
)


def summary(ev: Evaluation) -> tuple[Any, ...]:
    """Everything an evaluation says (RULES §0.3 "Findings"), for comparing two of them."""
    return (
        ev.decision,
        ev.decision_basis,
        ev.not_before,
        ev.not_assessed,
        ev.indication_status,
        ev.indication_missing,
        ev.visit_type,
        tuple(
            (
                f.rule_id,
                f.variant,
                f.status,
                f.effect,
                f.gating,
                f.triggers,
                f.missing,
                f.notes,
                f.item,
                f.not_before,
                f.data,
            )
            for f in ev.findings
        ),
        ev.dosing,
    )


def a1_follow_up(**changes: Any) -> Facts:
    """A1 one month into treatment: first dose and dispensing on 2026-01-30 (a follow-up)."""
    dispensed = Dispensing(dispensed_on=d("2026-01-30"), mg_per_day=60, days_supplied=30)
    base: dict[str, Any] = {"treatment_start_date": d("2026-01-30"), "dispensings": (dispensed,)}
    return a1(**{**base, **changes})


def _test(day: date, result: TestResult) -> PregnancyTest:
    return PregnancyTest(specimen_date=day, result=result, setting=TestSetting.MEDICAL_LAB)


def _phq9(day: date, total: int, item_9: int) -> MoodScreen:
    return MoodScreen(instrument=MoodInstrument.PHQ9, total=total, item_9=item_9, screened_on=day)


# --- the course histories used by the course cases -----------------------------------------


def _course(jurisdiction: Jurisdiction = US, **changes: Any) -> CourseHistory:
    """An active course begun on 2026-01-30 (one dispensing), with ``changes``."""
    base = CourseHistory(
        jurisdiction=jurisdiction,
        status=CourseStatus.ACTIVE,
        product=Product.GENERIC if jurisdiction is US else Product.EU_UK_GENERIC,
        start_date=d("2026-01-30"),
        dispensings=(Dispensing(dispensed_on=d("2026-01-30"), mg_per_day=60, days_supplied=30),),
        visits=(Visit(visit_date=d("2026-01-30"), weight_kg=60),),
    )
    return replace(base, **changes)


def _from_course(history: CourseHistory, current: Facts | None = None) -> Facts:
    return history_facts(history, AS_OF, current)


# --- the cases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One kind of dated record.

    Attributes:
        absent: The facts without the record.
        make: The facts with the record dated on the given day.
        used: Checks that the record dated ``used_on`` is used.
        jurisdiction: The evaluation's jurisdiction.
        used_on: A day on or before ``as_of`` on which the record is used.
    """

    absent: Callable[[], Facts]
    make: Callable[[date], Facts]
    used: Callable[[Evaluation], bool]
    jurisdiction: Jurisdiction = US
    used_on: date = AS_OF


CASES: dict[str, Case] = {
    # --- REST profiles -------------------------------------------------------------------
    "pregnancy-test": Case(
        absent=a1,
        make=lambda day: a1(
            pregnancy_tests=(*a1().pregnancy_tests, _test(day, TestResult.POSITIVE))
        ),
        used=lambda ev: fires(ev, "contraindication.pregnancy"),
    ),
    "pregnancy-status": Case(
        absent=a1,
        make=lambda day: a1(
            pregnancy_status=(
                PregnancyStatusRecord(recorded_on=day, value=PregnancyStatusValue.PREGNANT),
            )
        ),
        used=lambda ev: fires(ev, "contraindication.pregnancy"),
    ),
    "lab": Case(
        absent=a1,
        make=lambda day: a1(
            labs=(
                *(a1().labs or ()),
                LabResult(loinc="2571-8", value=900, unit="mg/dL", collected_on=day, fasting=True),
            )
        ),
        used=lambda ev: fires(ev, "lab.triglycerides.severe"),
    ),
    "mood-screen": Case(
        absent=a1,
        make=lambda day: a1(mood_screens=(*(a1().mood_screens or ()), _phq9(day, 12, 2))),
        used=lambda ev: fires(ev, "precaution.suicidal-ideation-now"),
    ),
    "dispensing": Case(
        absent=a1,
        make=lambda day: a1(
            dispensings=(Dispensing(dispensed_on=day, mg_per_day=60, days_supplied=30),)
        ),
        used=lambda ev: (
            ev.visit_type is VisitType.FOLLOW_UP
            and ev.dosing.cumulative is not None
            and ev.dosing.cumulative.mg == 1800
        ),
    ),
    "treatment-start": Case(
        absent=a1,
        make=lambda day: a1(treatment_start_date=day),
        used=lambda ev: ev.visit_type is VisitType.FOLLOW_UP,
    ),
    "previous-visit": Case(
        # The default previous visit is 30 days before (2026-01-30): A1's PHQ-9 of 02-27 is in
        # the window. A previous visit on as_of leaves it out.
        absent=a1_follow_up,
        make=lambda day: a1_follow_up(previous_visit_date=day),
        used=lambda ev: item_state(ev, "monitoring.mood") == "due",
    ),
    "last-dose": Case(
        absent=lambda: a1_follow_up(visit_type=VisitType.POST_THERAPY),
        make=lambda day: a1_follow_up(visit_type=VisitType.POST_THERAPY, last_dose_date=day),
        used=lambda ev: (
            (f := ev.finding("monitoring.pregnancy-test.post-therapy")) is not None
            and f.item is not None
            and f.item.due_from == AS_OF + timedelta(days=30)
        ),
    ),
    "counselling": Case(
        absent=a1,
        make=lambda day: a1(
            counselling=(
                *a1().counselling,
                CounsellingRecord(topic="counselling.sun", given_on=day),
            )
        ),
        used=lambda ev: item_state(ev, "counselling.sun") == "done",
    ),
    "contraception-start": Case(
        absent=lambda: a1(contraception=()),
        make=lambda day: a1(
            contraception=(
                ContraceptionRecord(method=ContraceptionMethod.IUD_COPPER, start_date=day),
                ContraceptionRecord(method=ContraceptionMethod.MALE_CONDOM, start_date=day),
            )
        ),
        # Seen, but begun less than 30 days before the planned start (as_of).
        used=lambda ev: (
            (f := ev.finding("monitoring.contraception")) is not None
            and f.item is not None
            and f.item.due_from == AS_OF + timedelta(days=30)
        ),
    ),
    "contraception-confirmation": Case(
        absent=a1_follow_up,
        make=lambda day: a1_follow_up(
            contraception=tuple(replace(c, confirmed_on=day) for c in a1().contraception)
        ),
        used=lambda ev: item_state(ev, "monitoring.contraception") == "done",
    ),
    "acknowledgement-form": Case(
        absent=a1_eu,
        make=lambda day: a1_eu(
            acknowledgement_forms=(
                AcknowledgementForm(form=FormKind.EU_ACKNOWLEDGEMENT, signed_on=day),
            )
        ),
        used=lambda ev: item_state(ev, "documentation.eu-acknowledgement") == "done",
        jurisdiction=EU,
    ),
    "rems": Case(
        absent=lambda: a1(rems=Rems()),
        make=lambda day: a1(rems=Rems(enrolled_on=day, monthly_confirmation_on=day)),
        used=lambda ev: item_state(ev, "documentation.ipledge") == "done",
    ),
    "sexual-function": Case(
        absent=a1_eu,
        make=lambda day: a1_eu(sexual_function_assessed_on=day),
        used=lambda ev: item_state(ev, "monitoring.sexual-function") == "done",
        jurisdiction=UK,
    ),
    "weight": Case(
        absent=lambda: a1(weight=None),
        make=lambda day: a1(weight=Weight(kg=60, measured_on=day)),
        used=lambda ev: ev.dosing.weight_kg == 60,
    ),
    "previous-course": Case(
        absent=lambda: a1(previous_courses=()),
        make=lambda day: a1(previous_courses=(PreviousCourse(start=day),)),
        used=lambda ev: status_of(ev, "indication.retreatment-interval") == "unknown",
    ),
    "previous-course-end": Case(
        # An end after as_of had not happened yet: the course is seen without an end.
        absent=lambda: a1(previous_courses=(PreviousCourse(start=d("2025-09-01")),)),
        make=lambda day: a1(previous_courses=(PreviousCourse(start=d("2025-09-01"), end=day),)),
        used=lambda ev: (
            fires(ev, "indication.retreatment-interval")
            and ev.not_before == AS_OF + timedelta(days=56)
        ),
    ),
    "previous-course-undated-start": Case(
        absent=lambda: a1(previous_courses=()),
        make=lambda day: a1(previous_courses=(PreviousCourse(end=day),)),
        used=lambda ev: fires(ev, "indication.retreatment-interval"),
    ),
    "previous-therapy": Case(
        # Mild acne and no other reason: not established until a failed therapy is seen.
        absent=lambda: a1(acne=MILD, previous_therapies=()),
        make=lambda day: a1(
            acne=MILD,
            previous_therapies=(
                PreviousTherapy(
                    therapy_class=TherapyClass.TOPICAL,
                    ingredient="adapalene",
                    start=day,
                    response=TherapyResponse.NONE,
                ),
            ),
        ),
        used=lambda ev: ev.indication_status is IndicationStatus.GUIDELINE_SUPPORTED,
    ),
    # --- course histories (stored records) -------------------------------------------------
    "course-pregnancy-potential": Case(
        absent=lambda: _from_course(_course()),
        make=lambda day: _from_course(
            _course(
                potentials=(PotentialRecord(recorded_on=day, category=PregnancyPotential.CANNOT),)
            )
        ),
        used=lambda ev: (
            status_of(ev, "documentation.pregnancy-potential") is None
            and status_of(ev, "contraindication.ppp-not-met") is None
        ),
    ),
    "course-visit": Case(
        absent=lambda: _from_course(_course()),
        make=lambda day: _from_course(
            _course(
                visits=(
                    *_course().visits,
                    Visit(visit_date=day, weight_kg=75, mood_screen=_phq9(day, 12, 2), symptoms=()),
                )
            )
        ),
        used=lambda ev: fires(ev, "precaution.suicidal-ideation-now") and ev.dosing.weight_kg == 75,
    ),
    "course-dispensing": Case(
        absent=lambda: _from_course(_course()),
        make=lambda day: _from_course(
            _course(
                dispensings=(
                    *_course().dispensings,
                    Dispensing(dispensed_on=day, mg_per_day=80, days_supplied=30),
                )
            )
        ),
        used=lambda ev: ev.dosing.cumulative is not None and ev.dosing.cumulative.mg == 4200,
    ),
    "course-form-does-not-displace-the-profile's": Case(
        # The profile holds the form signed on 2026-02-20; the course stores the same form.
        absent=lambda: _from_course(_course(EU), _eu_profile()),
        make=lambda day: _from_course(
            _course(
                EU,
                forms=(AcknowledgementForm(form=FormKind.EU_ACKNOWLEDGEMENT, signed_on=day),),
            ),
            _eu_profile(),
        ),
        used=lambda ev: (
            (f := ev.finding("documentation.eu-acknowledgement")) is not None
            and f.item is not None
            and f.item.satisfied_by == f"eu-acknowledgement signed on {AS_OF}"
        ),
        jurisdiction=EU,
    ),
    "course-profile-weight-does-not-displace-the-course's": Case(
        absent=lambda: _from_course(_course()),
        make=lambda day: _from_course(_course(), Facts(weight=Weight(kg=75, measured_on=day))),
        used=lambda ev: ev.dosing.weight_kg == 75,
    ),
    "course-profile-previous-visit": Case(
        # The course's last visit (02-27) is the previous visit: the screen of 02-20 is older.
        absent=lambda: _from_course(_visited_course(), _can()),
        make=lambda day: _from_course(_visited_course(), replace(_can(), previous_visit_date=day)),
        # From a previous visit on as_of, the weight of 02-27 is not of this visit.
        used=lambda ev: (
            item_state(ev, "monitoring.weight") == "due"
            and item_state(ev, "monitoring.mood") == "due"
        ),
    ),
}


def _can() -> Facts:
    return Facts(pregnancy_potential=PregnancyPotential.CAN)


def _visited_course() -> CourseHistory:
    return _course(
        visits=(
            Visit(visit_date=d("2026-01-30"), weight_kg=60),
            Visit(visit_date=d("2026-02-20"), mood_screen=_phq9(d("2026-02-20"), 3, 0)),
            Visit(visit_date=d("2026-02-27"), weight_kg=61),
        )
    )


def _eu_profile() -> Facts:
    return Facts(
        pregnancy_potential=PregnancyPotential.CAN,
        acknowledgement_forms=(
            AcknowledgementForm(form=FormKind.EU_ACKNOWLEDGEMENT, signed_on=d("2026-02-20")),
        ),
    )


def _evaluate(facts: Facts, case: Case) -> Evaluation:
    return evaluate(facts, AS_OF, case.jurisdiction)


@pytest.mark.parametrize("name", list(CASES))
def test_a_record_dated_after_as_of_changes_nothing(name: str) -> None:
    case = CASES[name]
    without = _evaluate(case.absent(), case)
    with_later = _evaluate(case.make(AFTER), case)

    assert summary(with_later) == summary(without)


@pytest.mark.parametrize("name", list(CASES))
def test_a_record_dated_up_to_as_of_is_used(name: str) -> None:
    case = CASES[name]
    without = _evaluate(case.absent(), case)
    with_record = _evaluate(case.make(case.used_on), case)

    assert not case.used(without), "the check must tell the record's presence"
    assert case.used(with_record)


PROFILE_CASES = [name for name in CASES if not name.startswith("course-")]


@pytest.mark.parametrize("name", PROFILE_CASES)
def test_the_record_is_seen_once_as_of_reaches_it(name: str) -> None:
    # The record dated as_of + 1 is seen by an evaluation as of that day.
    case = CASES[name]
    later = evaluate(case.make(AFTER), AFTER, case.jurisdiction)
    without = evaluate(case.absent(), AFTER, case.jurisdiction)

    assert summary(later) != summary(without)


def test_a_future_record_never_hides_an_earlier_one_of_the_same_kind() -> None:
    # A positive test on as_of stays a contraindication whatever follows it.
    tests = (*a1().pregnancy_tests, _test(AS_OF, TestResult.POSITIVE))
    later_negative = (*tests, _test(AFTER, TestResult.NEGATIVE))

    ev = _evaluate(a1(pregnancy_tests=later_negative), CASES["pregnancy-test"])

    assert fires(ev, "contraindication.pregnancy")
    assert ev.decision is Decision.DO_NOT_START


def test_a_course_ended_after_as_of_does_not_hide_this_course_s_tests() -> None:
    # US: tests of an earlier course (dated up to its end) are ignored. An end after as_of is
    # not known yet, so it cannot make the tests of this course those of the earlier one.
    ongoing = a1(previous_courses=(PreviousCourse(start=d("2025-09-01")),))
    ended_later = a1(previous_courses=(PreviousCourse(start=d("2025-09-01"), end=AFTER),))

    ev = _evaluate(ended_later, CASES["previous-course-end"])

    assert item_state(ev, "monitoring.pregnancy-test.screening") == "done"
    assert summary(ev) == summary(_evaluate(ongoing, CASES["previous-course-end"]))


def test_the_course_checklist_facts_drop_every_stored_record_after_as_of() -> None:
    later = AS_OF + timedelta(days=10)
    history = _course(
        pregnancy_tests=(_test(later, TestResult.POSITIVE),),
        labs=(LabResult(loinc="2571-8", value=900, unit="mg/dL", collected_on=later),),
        contraception=(ContraceptionRecord(method=ContraceptionMethod.IMPLANT, start_date=later),),
        counselling=(CounsellingRecord(topic="counselling.sun", given_on=later),),
        forms=(AcknowledgementForm(form=FormKind.EU_ACKNOWLEDGEMENT, signed_on=later),),
        dispensings=(
            *_course().dispensings,
            Dispensing(dispensed_on=later, mg_per_day=60, days_supplied=30),
        ),
        visits=(*_course().visits, Visit(visit_date=later, mood_screen=_phq9(later, 12, 2))),
    )
    facts = history_facts(history, AS_OF)

    assert facts.pregnancy_tests == ()
    assert facts.labs == ()
    assert facts.contraception == ()
    assert facts.counselling == ()
    assert facts.acknowledgement_forms == ()
    assert [x.dispensed_on for x in facts.dispensings] == [d("2026-01-30")]
    assert facts.mood_screens == ()
