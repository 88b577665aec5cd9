"""Builders for test facts: the vignette defaults (vignettes.md "Defaults": A1's complete facts)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from domain.engine import Evaluation, evaluate
from domain.facts import (
    Acne,
    Attestations,
    ContraceptionRecord,
    CounsellingRecord,
    Facts,
    LabResult,
    MoodScreen,
    Plan,
    PregnancyTest,
    PreviousTherapy,
    Rems,
    Weight,
)
from domain.settings import EvaluationSettings
from domain.vocab import (
    AcneSeverity,
    ContraceptionMethod,
    Jurisdiction,
    MoodInstrument,
    PregnancyPotential,
    Product,
    TestResult,
    TestSetting,
    TherapyClass,
    TherapyResponse,
)

AS_OF = date(2026, 3, 1)


def d(text: str) -> date:
    """A date from ``YYYY-MM-DD``."""
    return date.fromisoformat(text)


def neg(day: str, setting: TestSetting = TestSetting.MEDICAL_LAB, **kw: Any) -> PregnancyTest:
    """A negative pregnancy test."""
    return PregnancyTest(specimen_date=d(day), result=TestResult.NEGATIVE, setting=setting, **kw)


def pos(day: str, setting: TestSetting = TestSetting.MEDICAL_LAB, **kw: Any) -> PregnancyTest:
    """A positive pregnancy test."""
    return PregnancyTest(specimen_date=d(day), result=TestResult.POSITIVE, setting=setting, **kw)


def lab(loinc: str, value: float, unit: str, day: str, **kw: Any) -> LabResult:
    """A lab result."""
    return LabResult(loinc=loinc, value=value, unit=unit, collected_on=d(day), **kw)


def a1(**changes: Any) -> Facts:
    """Vignette A1 (US textbook start), with ``changes`` applied to the top-level fields.

    19 years, can become pregnant, severe nodular acne with 8 nodules, failed doxycycline and
    adapalene + benzoyl peroxide, 60 kg on 2026-02-27, tests 2026-02-06 (point of care) and
    2026-02-27 (CLIA lab), combined pill + condoms since 2026-01-15, iPLEDGE enrolment and
    counselling 2026-02-06, confirmation 2026-02-27, fasting labs 2026-02-20 (TG 120, ALT 22 with
    ULN 40), PHQ-9 3 with item 9 = 0 on 2026-02-27, no medications, allergies, conditions or
    symptoms, not breastfeeding, product ``generic``.
    """
    base = Facts(
        age_years=19,
        weight=Weight(kg=60, measured_on=d("2026-02-27")),
        pregnancy_potential=PregnancyPotential.CAN,
        pregnancy_status=(),
        pregnancy_tests=(
            neg("2026-02-06", TestSetting.MEDICAL_POINT_OF_CARE),
            neg("2026-02-27", TestSetting.MEDICAL_LAB, clia_certified=True),
        ),
        breastfeeding=False,
        acne=Acne(
            severity=AcneSeverity.SEVERE,
            nodular=True,
            nodule_count=8,
            scarring=False,
            psychosocial_burden=False,
            truncal=False,
            conglobata=False,
            fulminans=False,
        ),
        previous_therapies=(
            PreviousTherapy(
                therapy_class=TherapyClass.ORAL_ANTIBIOTIC,
                ingredient="doxycycline",
                start=d("2025-10-20"),
                end=d("2026-01-20"),
                response=TherapyResponse.NONE,
            ),
            PreviousTherapy(
                therapy_class=TherapyClass.TOPICAL,
                ingredient="adapalene + benzoyl peroxide",
                start=d("2025-10-20"),
                end=d("2026-01-20"),
                response=TherapyResponse.NONE,
            ),
        ),
        previous_courses=(),
        medications=(),
        allergies=(),
        conditions=(),
        labs=(
            lab("2571-8", 120, "mg/dL", "2026-02-20", fasting=True),
            lab("1742-6", 22, "U/L", "2026-02-20", fasting=True, uln=40),
        ),
        mood_screens=(
            MoodScreen(
                instrument=MoodInstrument.PHQ9, total=3, item_9=0, screened_on=d("2026-02-27")
            ),
        ),
        contraception=(
            ContraceptionRecord(
                method=ContraceptionMethod.COMBINED_PILL, start_date=d("2026-01-15")
            ),
            ContraceptionRecord(method=ContraceptionMethod.MALE_CONDOM, start_date=d("2026-01-15")),
        ),
        counselling=(CounsellingRecord(topic="pregnancy-prevention", given_on=d("2026-02-06")),),
        rems=Rems(enrolled_on=d("2026-02-06"), monthly_confirmation_on=d("2026-02-27")),
        reported_symptoms=(),
        attestations=Attestations(),
        plan=Plan(product=Product.GENERIC),
    )
    return replace(base, **changes)


def a1_eu(**changes: Any) -> Facts:
    """A1 with the EU/UK default product ``eu-uk-generic``."""
    facts = a1(**changes)
    if "plan" not in changes:
        facts = replace(facts, plan=Plan(product=Product.EU_UK_GENERIC))
    return facts


def run(
    facts: Facts,
    as_of: date | str = AS_OF,
    jurisdiction: Jurisdiction | str = Jurisdiction.US,
    settings: EvaluationSettings | None = None,
) -> Evaluation:
    """Evaluate with the vignette defaults."""
    when = d(as_of) if isinstance(as_of, str) else as_of
    return evaluate(facts, when, Jurisdiction(jurisdiction), settings)


def status_of(ev: Evaluation, rule_id: str) -> str | None:
    """``applies``, ``unknown``, or ``None`` when the rule yields no finding."""
    f = ev.finding(rule_id)
    return None if f is None else f.status.value


def fires(ev: Evaluation, rule_id: str) -> bool:
    """vignettes.md "must fire": a finding with status ``applies`` (any item state)."""
    return status_of(ev, rule_id) == "applies"


def item_state(ev: Evaluation, rule_id: str) -> str | None:
    """The checklist item state of ``rule_id``'s finding, if any."""
    f = ev.finding(rule_id)
    return None if f is None or f.item is None else f.item.state.value
