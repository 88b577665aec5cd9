"""Typed patient facts: the inputs of RULES §0.6.

Knownness (RULES §0.3) is visible in the types:

* A scalar that is ``None`` is *unknown*.
* A list fact that is ``None`` was *not asked*: every rule that reads it is ``unknown``. An empty
  tuple means *asked, none*.
* Records of things done (pregnancy tests, counselling, acknowledgement forms, REMS steps,
  contraception methods, dispensings) default to ``()``: absent means *not done*.
* Records dated after ``as_of`` are ignored by the evaluation: it describes the state at ``as_of``.

Jurisdiction is not a fact; it is an argument of :func:`domain.engine.evaluate`. Pregnancy potential
is never derived from sex or gender: there is no sex or gender field here on purpose (RULES §3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from domain.vocab import (
    AcneSeverity,
    Allergen,
    CannotReason,
    ConditionStatus,
    ContraceptionMethod,
    FormKind,
    MoodInstrument,
    PregnancyPotential,
    PregnancyStatusValue,
    Product,
    Regimen,
    Symptom,
    TestResult,
    TestSetting,
    TherapyClass,
    TherapyResponse,
    VisitType,
    WeightBasis,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Coding:
    """A code with its system (RULES §13: never match a code without its system).

    Attributes:
        system: The code system URI, e.g. ``http://loinc.org``.
        code: The code within that system.
        display: Optional human-readable text; medications are also matched on it by name.
    """

    system: str
    code: str
    display: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Weight:
    """Body weight.

    Attributes:
        kg: Weight in kilograms (0 < kg ≤ 400).
        measured_on: Date weighed; ``None`` means the evaluation date. Dosing uses a weight at
            most ``LocalPolicy.weight_max_age_days`` old (RULES §0.6, local policy).
    """

    kg: float
    measured_on: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PregnancyStatusRecord:
    """A recorded pregnancy status (LOINC 82810-3). It never satisfies a pregnancy-test item."""

    recorded_on: date
    value: PregnancyStatusValue


@dataclass(frozen=True, slots=True, kw_only=True)
class PregnancyTest:
    """A pregnancy test.

    Attributes:
        specimen_date: Date the specimen was collected (day 1 of the US prescription window).
        result: ``negative``, ``positive`` or ``indeterminate``.
        setting: Where it was done; ``unknown`` never satisfies a medical-setting requirement.
        clia_certified: Whether a CLIA-certified laboratory ran it (US); ``None`` = not recorded.
        sensitivity_miu_ml: Test sensitivity in mIU/mL; EU/UK require ≤ 25 (i.e. at least that
            sensitive). ``None`` = not recorded: accepted with a note to confirm it.
    """

    specimen_date: date
    result: TestResult
    setting: TestSetting = TestSetting.UNKNOWN
    clia_certified: bool | None = None
    sensitivity_miu_ml: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Acne:
    """The clinician's acne assessment; every field ``None`` = not assessed.

    Attributes:
        severity: Clinician-graded severity.
        nodular: Inflammatory nodules ≥ 5 mm are present.
        nodule_count: Number of inflammatory nodules ≥ 5 mm.
        scarring: Scarring, or at risk of permanent scarring.
        psychosocial_burden: The acne causes psychosocial burden.
        truncal: The acne is mainly truncal.
        conglobata: Acne conglobata.
        fulminans: Acne fulminans.
    """

    severity: AcneSeverity | None = None
    nodular: bool | None = None
    nodule_count: int | None = None
    scarring: bool | None = None
    psychosocial_burden: bool | None = None
    truncal: bool | None = None
    conglobata: bool | None = None
    fulminans: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviousTherapy:
    """A previous acne therapy. ``response`` ``None`` makes "did it fail?" unknown."""

    therapy_class: TherapyClass
    ingredient: str | None = None
    start: date | None = None
    end: date | None = None
    response: TherapyResponse | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviousCourse:
    """An earlier isotretinoin course. ``end`` ``None`` makes the retreatment interval unknown."""

    start: date | None = None
    end: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Medication:
    """A current medication (or, at CDS Hooks order hooks, another draft order).

    Attributes:
        codings: Product and ingredient codings (system + code).
        text: Free text (FHIR ``CodeableConcept.text`` or the order's display).
        route: Route or dose form as text (``oral``, ``topical``, ``ophthalmic``…).
        unresolved: The medication could not be identified (an unresolvable FHIR reference):
            every medication rule is ``unknown`` for it, never "no match" (RULES §13).
    """

    codings: tuple[Coding, ...] = ()
    text: str | None = None
    route: str | None = None
    unresolved: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Allergy:
    """An allergy or intolerance: a substance of RULES §0.6, or a coding."""

    substance: Allergen | None = None
    coding: Coding | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConditionRecord:
    """A recorded condition, current or history. Matched on (system, code), else by name."""

    codings: tuple[Coding, ...] = ()
    text: str | None = None
    status: ConditionStatus = ConditionStatus.CURRENT


@dataclass(frozen=True, slots=True, kw_only=True)
class LabResult:
    """A laboratory result.

    Attributes:
        loinc: One of the LOINC codes of RULES §13 (others are an input error).
        value: The numeric result (≥ 0).
        unit: Its UCUM unit; an unknown unit is an input error, never a guess.
        collected_on: Specimen date.
        fasting: ``True``/``False``; ``None`` = not recorded ("fasting not confirmed").
        uln: Upper limit of normal in the same unit (ALT/AST).
    """

    loinc: str
    value: float
    unit: str
    collected_on: date
    fasting: bool | None = None
    uln: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MoodScreen:
    """A mood screen (PHQ-9, PHQ-A or PHQ-2) with its total and, optionally, item 9."""

    instrument: MoodInstrument
    total: int
    screened_on: date
    item_9: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContraceptionRecord:
    """A contraception method in use (a record of something done).

    Attributes:
        method: The method code of RULES §9.2.
        start_date: When the patient started it.
        confirmed_on: Latest confirmation that it is still used (follow-ups need one since the
            previous visit).
    """

    method: ContraceptionMethod
    start_date: date
    confirmed_on: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CounsellingRecord:
    """Counselling given: ``topic`` is a ``counselling.*`` rule ID or ``pregnancy-prevention``."""

    topic: str
    given_on: date


@dataclass(frozen=True, slots=True, kw_only=True)
class Rems:
    """US iPLEDGE steps recorded (records of things done: ``None`` = not done)."""

    enrolled_on: date | None = None
    monthly_confirmation_on: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AcknowledgementForm:
    """A signed acknowledgement form (UK ARF 2023/2026, EU acknowledgement)."""

    form: FormKind
    signed_on: date


@dataclass(frozen=True, slots=True, kw_only=True)
class Dispensing:
    """Isotretinoin dispensed: ``mg_per_day`` for ``days_supplied`` days from ``dispensed_on``."""

    dispensed_on: date
    mg_per_day: float
    days_supplied: int
    product: Product | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Attestations:
    """Clinician attestations; each ``True``, ``False`` or ``None`` (not stated).

    An attestation decides its state. Without one, the proxy of RULES §0.3 decides when its data
    are present (``hepatic_insufficiency`` and ``hypervitaminosis_a``: a current condition;
    ``excessively_elevated_lipids``: a baseline triglyceride result).
    """

    hepatic_insufficiency: bool | None = None
    excessively_elevated_lipids: bool | None = None
    hypervitaminosis_a: bool | None = None
    severe_renal_impairment: bool | None = None
    open_growth_plates: bool | None = None
    high_alcohol_intake: bool | None = None
    family_history_lipid_disorder: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The prescriber's plan (RULES §0.6 "plan").

    Attributes:
        product: The isotretinoin product; ``None`` = not identified.
        available_strengths_mg: Capsule strengths to plan with (required for ``eu-uk-generic``
            capsules; optional for ``generic`` and ``zenatane``).
        contains_soybean_oil: For ``eu-uk-generic``: whether the product contains soybean oil.
        planned_mg_per_day: The planned (or ordered) daily dose.
        target_mg_per_kg_day: A target dose per kg for the capsule plan when no daily dose is
            planned.
        doses_per_day: Doses a day (US: 2; EU/UK: 1 or 2, default 2).
        regimen: ``daily`` (the plan's assumption when absent) or ``intermittent``.
        prescription_date: Date of the prescription; default ``as_of``.
        planned_start_date: Planned first dose; default ``as_of``.
        planned_days_supply: Days' supply of the planned prescription.
        planned_refills: Refills of the planned prescription.
        weight_basis: Weight for cumulative mg/kg: ``start`` (default) or ``latest``.
        start_weight_kg: Weight at the start of the course (default: the current weight).
        target_cumulative_mg_per_kg: The course's cumulative target (default 120–150 mg/kg).
        cumulative_mg_before: Milligrams taken before the dispensings listed (e.g. a course
            tracked elsewhere); added to the cumulative dose as given.
    """

    product: Product | None = None
    available_strengths_mg: tuple[int, ...] | None = None
    contains_soybean_oil: bool | None = None
    planned_mg_per_day: float | None = None
    target_mg_per_kg_day: float | None = None
    doses_per_day: int | None = None
    regimen: Regimen | None = None
    prescription_date: date | None = None
    planned_start_date: date | None = None
    planned_days_supply: int | None = None
    planned_refills: int | None = None
    weight_basis: WeightBasis | None = None
    start_weight_kg: float | None = None
    target_cumulative_mg_per_kg: float | None = None
    cumulative_mg_before: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """Everything the engine may know about one patient (RULES §0.6).

    List facts are ``None`` when not asked and ``()`` when asked and none; records of things done
    default to ``()`` (not done). See the module docstring.

    Attributes:
        birth_date: Date of birth; age is computed at ``as_of``. Preferred over ``age_years``.
        age_years: Age in whole years at ``as_of`` when no birth date is given.
        weight: Latest body weight.
        pregnancy_potential: The attested category; ``None`` is ``unknown``.
        pregnancy_potential_reason: Reason for ``cannot-become-pregnant`` (recorded only).
        pregnancy_status: Recorded pregnancy statuses.
        pregnancy_tests: Pregnancy tests done.
        home_testing_permitted: US: the prescriber permits home pregnancy tests.
        breastfeeding: The patient is breastfeeding.
        acne: The acne assessment.
        previous_therapies: Previous acne therapies.
        previous_courses: Earlier isotretinoin courses.
        medications: Current medications.
        allergies: Allergies and intolerances.
        conditions: Conditions, current or history.
        labs: Laboratory results.
        mood_screens: Mood screens.
        contraception: Contraception methods in use.
        counselling: Counselling given.
        rems: iPLEDGE steps (US).
        acknowledgement_forms: Acknowledgement forms signed.
        reported_symptoms: Symptoms reported at this visit (``()`` = asked, none), or at the
            visit of ``reported_symptoms_on``.
        reported_symptoms_on: When the symptoms were asked (``None``: at this visit). A course
            carries the latest report forward to later dates (:func:`domain.course.history_facts`).
        attestations: Clinician attestations.
        sexual_function_assessed_on: UK: date sexual function was last assessed.
        visit_type: The visit; default ``baseline`` when there is no treatment start and no
            dispensing, else ``follow-up``.
        visit_date: Default ``as_of``.
        previous_visit_date: The previous visit; at follow-ups default ``visit_date`` − 30 days
            (monthly visits; RULES §0.5 counts a month as 30 days).
        treatment_start_date: First dose; ``None`` = not started.
        last_dose_date: Last dose (end-of-therapy and post-therapy visits).
        plan: The prescriber's plan.
        dispensings: Isotretinoin dispensed in this course.
    """

    birth_date: date | None = None
    age_years: int | None = None
    weight: Weight | None = None
    pregnancy_potential: PregnancyPotential | None = None
    pregnancy_potential_reason: CannotReason | None = None
    pregnancy_status: tuple[PregnancyStatusRecord, ...] | None = None
    pregnancy_tests: tuple[PregnancyTest, ...] = ()
    home_testing_permitted: bool | None = None
    breastfeeding: bool | None = None
    acne: Acne = field(default_factory=Acne)
    previous_therapies: tuple[PreviousTherapy, ...] | None = None
    previous_courses: tuple[PreviousCourse, ...] | None = None
    medications: tuple[Medication, ...] | None = None
    allergies: tuple[Allergy, ...] | None = None
    conditions: tuple[ConditionRecord, ...] | None = None
    labs: tuple[LabResult, ...] | None = None
    mood_screens: tuple[MoodScreen, ...] | None = None
    contraception: tuple[ContraceptionRecord, ...] = ()
    counselling: tuple[CounsellingRecord, ...] = ()
    rems: Rems = field(default_factory=Rems)
    acknowledgement_forms: tuple[AcknowledgementForm, ...] = ()
    reported_symptoms: tuple[Symptom, ...] | None = None
    reported_symptoms_on: date | None = None
    attestations: Attestations = field(default_factory=Attestations)
    sexual_function_assessed_on: date | None = None
    visit_type: VisitType | None = None
    visit_date: date | None = None
    previous_visit_date: date | None = None
    treatment_start_date: date | None = None
    last_dose_date: date | None = None
    plan: Plan = field(default_factory=Plan)
    dispensings: tuple[Dispensing, ...] = ()
