"""The patient profile and plan on the wire (RULES §0.6), and their conversion to domain facts.

Knownness (RULES §0.3) is part of the contract: a list that is absent was *not asked* (the rules
that read it come back ``unknown``), ``[]`` means *asked, none*. Records of things done (pregnancy
tests, counselling, REMS steps, forms, contraception methods, dispensings) that are absent mean
*not done*.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from api.schemas.common import CalendarDate, CodingIn, Wire
from domain import facts as f
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

LB_TO_KG = 0.45359237  # RULES §14: [lb_av] × 0.45359237

ASKED = "Absent: not asked (the rules that read it come back `unknown`); `[]`: asked, none."
DONE = "A record of things done: absent or `[]` means none was done."

CounsellingTopic = Literal[
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
]


def _codings(items: list[CodingIn]) -> tuple[f.Coding, ...]:
    return tuple(f.Coding(system=c.system, code=c.code, display=c.display) for c in items)


class WeightIn(Wire):
    """Body weight with its unit; converted to kg (`[lb_av]` × 0.45359237)."""

    value: float = Field(
        gt=0, description="The weight in `unit`; more than 0 (and at most 400 kg)."
    )
    unit: Literal["kg", "g", "[lb_av]"] = Field(
        default="kg", description="UCUM unit: `kg`, `g` or `[lb_av]` (pounds)."
    )
    measured_on: CalendarDate | None = Field(
        default=None,
        description="Date weighed (default `as_of`). Dosing uses a weight at most 30 days old.",
    )

    def kg(self) -> float:
        """The weight in kilograms."""
        return {"kg": self.value, "g": self.value / 1000, "[lb_av]": self.value * LB_TO_KG}[
            self.unit
        ]


class PregnancyPotentialIn(Wire):
    """The prescriber's attested category (never derived from sex or gender, RULES §3)."""

    category: PregnancyPotential = Field(description="The attested category.")
    reason: CannotReason | None = Field(
        default=None, description="Reason for `cannot-become-pregnant` (recorded, not validated)."
    )


class PregnancyStatusIn(Wire):
    """A recorded pregnancy status (LOINC 82810-3); never satisfies a pregnancy-test requirement."""

    recorded_on: CalendarDate = Field(description="Date of the status.")
    value: PregnancyStatusValue = Field(description="The status.")


class PregnancyTestIn(Wire):
    """A pregnancy test."""

    specimen_date: CalendarDate = Field(
        description="Specimen collection date (day 1 of the US 7-day window)."
    )
    result: TestResult = Field(description="The result.")
    setting: TestSetting = Field(
        default=TestSetting.UNKNOWN,
        description="Where it was done; `unknown` never satisfies a medical-setting requirement.",
    )
    clia_certified: bool | None = Field(
        default=None, description="US: run in a CLIA-certified laboratory (absent: not recorded)."
    )
    sensitivity_miu_ml: float | None = Field(
        default=None,
        gt=0,
        description="Detection threshold in mIU/mL; EU/UK need ≤ 25 (absent: accepted with a note).",
    )


class AcneIn(Wire):
    """The clinician's acne assessment; each field absent = not assessed."""

    severity: AcneSeverity | None = Field(default=None, description="Clinician-graded severity.")
    nodular: bool | None = Field(
        default=None, description="Inflammatory nodules ≥ 5 mm are present."
    )
    nodule_count: int | None = Field(
        default=None, ge=0, le=1000, description="Number of inflammatory nodules ≥ 5 mm."
    )
    scarring: bool | None = Field(
        default=None, description="Scarring, or at risk of permanent scarring."
    )
    psychosocial_burden: bool | None = Field(
        default=None, description="The acne causes psychosocial burden."
    )
    truncal: bool | None = Field(default=None, description="Mainly truncal acne.")
    conglobata: bool | None = Field(default=None, description="Acne conglobata.")
    fulminans: bool | None = Field(default=None, description="Acne fulminans.")


class PreviousTherapyIn(Wire):
    """A previous acne therapy; `none`, `partial` and `relapsed` count as failed."""

    therapy_class: TherapyClass = Field(description="The therapy's class.")
    ingredient: str | None = Field(
        default=None, max_length=200, description="Ingredient(s), free text."
    )
    start: CalendarDate | None = Field(default=None, description="Start date.")
    end: CalendarDate | None = Field(default=None, description="End date.")
    response: TherapyResponse | None = Field(
        default=None, description='Response; absent makes "did it fail?" unknown.'
    )


class PreviousCourseIn(Wire):
    """An earlier isotretinoin course."""

    start: CalendarDate | None = Field(default=None, description="First dose.")
    end: CalendarDate | None = Field(
        default=None, description="Last dose; absent makes the retreatment interval unknown."
    )


class MedicationIn(Wire):
    """A current medication, matched on (system, code), then by ingredient or brand name."""

    codings: list[CodingIn] = Field(
        default_factory=list, max_length=20, description="Product and ingredient codings."
    )
    text: str | None = Field(
        default=None,
        max_length=500,
        description="Free text, e.g. `Doxycycline hyclate 100 MG Oral Tablet`.",
    )
    route: str | None = Field(
        default=None,
        max_length=100,
        description="Route or dose form (`oral`, `topical`, `ophthalmic`…): topical products match neither isotretinoin nor tetracyclines.",
    )

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if not self.codings and not self.text:
            raise ValueError("a medication needs codings or text")
        return self


class AllergyIn(Wire):
    """An allergy: one of the substances the rules read, or a coding."""

    substance: Allergen | None = Field(default=None, description="A substance of RULES §0.6.")
    coding: CodingIn | None = Field(
        default=None, description="Or a coded substance (isotretinoin codes are recognised)."
    )

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.substance is None) == (self.coding is None):
            raise ValueError("give exactly one of substance or coding")
        return self


class ConditionIn(Wire):
    """A condition, current or history; matched on (system, code), or by name where RULES names no code."""

    codings: list[CodingIn] = Field(
        default_factory=list, max_length=20, description="Codings (ICD-10-CM, SNOMED CT…)."
    )
    text: str | None = Field(default=None, max_length=500, description="Free text.")
    status: ConditionStatus = Field(
        default=ConditionStatus.CURRENT, description="Current or history."
    )

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if not self.codings and not self.text:
            raise ValueError("a condition needs codings or text")
        return self


class LabIn(Wire):
    """A lab result (LOINC codes of RULES §13 only; an unknown unit is refused, never guessed)."""

    loinc: str = Field(
        description="LOINC code: 2571-8 TG, 2093-3 cholesterol, 2085-9 HDL, 13457-7/18262-6 LDL, 1742-6 ALT, 1920-8 AST, 2324-2 GGT, 1558-6 fasting glucose."
    )
    value: float = Field(ge=0, description="The result.")
    unit: str = Field(
        description="UCUM unit: `mg/dL` or `mmol/L` for lipids and glucose; `U/L` or `[IU]/L` for enzymes."
    )
    collected_on: CalendarDate = Field(description="Specimen date.")
    fasting: bool | None = Field(
        default=None,
        description="Fasting specimen (absent: not recorded; a TG result still fires its rules).",
    )
    uln: float | None = Field(
        default=None, gt=0, description="Upper limit of normal, same unit (ALT/AST)."
    )


class MoodScreenIn(Wire):
    """A mood screen."""

    instrument: MoodInstrument = Field(description="The instrument.")
    total: int = Field(ge=0, le=27, description="Total score (PHQ-2: 0–6).")
    item_9: int | None = Field(default=None, ge=0, le=3, description="PHQ-9/PHQ-A item 9 (0–3).")
    screened_on: CalendarDate = Field(description="Date of the screen.")


class ContraceptionIn(Wire):
    """A contraception method in use."""

    method: ContraceptionMethod = Field(description="The method.")
    start_date: CalendarDate = Field(description="When it was started.")
    confirmed_on: CalendarDate | None = Field(
        default=None,
        description="Latest confirmation that it is still used (follow-ups need one since the previous visit).",
    )


class CounsellingIn(Wire):
    """Counselling given."""

    topic: CounsellingTopic = Field(
        description="`pregnancy-prevention` or a `counselling.*` rule ID."
    )
    given_on: CalendarDate = Field(description="Date given.")


class RemsIn(Wire):
    """US iPLEDGE steps recorded."""

    enrolled_on: CalendarDate | None = Field(default=None, description="iPLEDGE enrolment.")
    monthly_confirmation_on: CalendarDate | None = Field(
        default=None, description="The prescriber's latest confirmation in the REMS system."
    )


class FormIn(Wire):
    """A signed acknowledgement form."""

    form: FormKind = Field(description="The form and version.")
    signed_on: CalendarDate = Field(description="Date signed.")


class DispensingIn(Wire):
    """Isotretinoin dispensed."""

    dispensed_on: CalendarDate = Field(description="Date dispensed.")
    mg_per_day: float = Field(gt=0, le=1000, description="Daily dose dispensed, mg.")
    days_supplied: int = Field(gt=0, le=366, description="Days supplied.")
    product: Product | None = Field(default=None, description="Product dispensed.")


class AttestationsIn(Wire):
    """Clinician attestations; each true, false or absent (not stated)."""

    hepatic_insufficiency: bool | None = Field(
        default=None,
        description="Hepatic insufficiency (proxy without it: a current hepatic-failure condition).",
    )
    excessively_elevated_lipids: bool | None = Field(
        default=None,
        description="Excessively elevated lipids (proxy without it: a baseline TG above the severe threshold).",
    )
    hypervitaminosis_a: bool | None = Field(
        default=None,
        description="Hypervitaminosis A (proxy without it: a current E67.0 condition).",
    )
    severe_renal_impairment: bool | None = Field(
        default=None, description="Severe renal impairment."
    )
    open_growth_plates: bool | None = Field(
        default=None, description="Adolescent with open growth plates."
    )
    high_alcohol_intake: bool | None = Field(default=None, description="High alcohol intake.")
    family_history_lipid_disorder: bool | None = Field(
        default=None, description="Family history of a lipid disorder."
    )


class ProfileIn(Wire):
    """Everything known about the patient (RULES §0.6)."""

    birth_date: CalendarDate | None = Field(
        default=None,
        description="Date of birth; age is computed at `as_of` (preferred over `age_years`).",
    )
    age_years: int | None = Field(
        default=None,
        ge=0,
        le=120,
        description="Age in years at `as_of`, when no birth date is given.",
    )
    weight: WeightIn | None = Field(default=None, description="Latest weight.")
    pregnancy_potential: PregnancyPotentialIn | None = Field(
        default=None, description="The attested category; absent is `unknown`."
    )
    pregnancy_status: list[PregnancyStatusIn] | None = Field(
        default=None, max_length=200, description=f"Recorded pregnancy statuses. {ASKED}"
    )
    pregnancy_tests: list[PregnancyTestIn] | None = Field(
        default=None, max_length=200, description=f"Pregnancy tests. {DONE}"
    )
    home_testing_permitted: bool | None = Field(
        default=None,
        description="US: the prescriber permits home pregnancy tests during and after treatment.",
    )
    breastfeeding: bool | None = Field(
        default=None, description="Breastfeeding (absent: unknown, which is gating)."
    )
    acne: AcneIn = Field(default_factory=AcneIn, description="The acne assessment.")
    previous_therapies: list[PreviousTherapyIn] | None = Field(
        default=None, max_length=100, description=f"Previous acne therapies. {ASKED}"
    )
    previous_courses: list[PreviousCourseIn] | None = Field(
        default=None, max_length=50, description=f"Earlier isotretinoin courses. {ASKED}"
    )
    medications: list[MedicationIn] | None = Field(
        default=None, max_length=200, description=f"Current medications. {ASKED}"
    )
    allergies: list[AllergyIn] | None = Field(
        default=None, max_length=200, description=f"Allergies and intolerances. {ASKED}"
    )
    conditions: list[ConditionIn] | None = Field(
        default=None, max_length=500, description=f"Conditions, current or history. {ASKED}"
    )
    labs: list[LabIn] | None = Field(
        default=None, max_length=500, description=f"Lab results. {ASKED}"
    )
    mood_screens: list[MoodScreenIn] | None = Field(
        default=None, max_length=200, description=f"Mood screens. {ASKED}"
    )
    contraception: list[ContraceptionIn] | None = Field(
        default=None, max_length=50, description=f"Contraception methods in use. {DONE}"
    )
    counselling: list[CounsellingIn] | None = Field(
        default=None, max_length=500, description=f"Counselling given. {DONE}"
    )
    rems: RemsIn | None = Field(default=None, description=f"US iPLEDGE steps. {DONE}")
    acknowledgement_forms: list[FormIn] | None = Field(
        default=None, max_length=50, description=f"Acknowledgement forms signed. {DONE}"
    )
    reported_symptoms: list[Symptom] | None = Field(
        default=None, max_length=50, description=f"Symptoms reported at this visit. {ASKED}"
    )
    attestations: AttestationsIn = Field(
        default_factory=AttestationsIn, description="Clinician attestations."
    )
    sexual_function_assessed_on: CalendarDate | None = Field(
        default=None, description="UK: date sexual function was last assessed."
    )
    treatment_start_date: CalendarDate | None = Field(
        default=None, description="First dose (absent: not started)."
    )
    last_dose_date: CalendarDate | None = Field(
        default=None, description="Last dose (end-of-therapy and post-therapy visits)."
    )
    dispensings: list[DispensingIn] | None = Field(
        default=None, max_length=200, description=f"Isotretinoin dispensed in this course. {DONE}"
    )


class PlanIn(Wire):
    """The prescriber's plan."""

    product: Product | None = Field(
        default=None, description="The product; required with a planned dose."
    )
    available_strengths_mg: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="Capsule strengths to plan with (required for `eu-uk-generic` capsules).",
    )
    contains_soybean_oil: bool | None = Field(
        default=None, description="`eu-uk-generic`: whether the product contains soybean oil."
    )
    planned_mg_per_day: float | None = Field(
        default=None, gt=0, le=1000, description="Planned daily dose, mg."
    )
    target_mg_per_kg_day: float | None = Field(
        default=None,
        gt=0,
        le=5,
        description="Target dose per kg for the capsule plan when no daily dose is planned.",
    )
    doses_per_day: Literal[1, 2] | None = Field(
        default=None, description="Doses a day (US plans use 2; EU/UK 1 or 2, default 2)."
    )
    regimen: Regimen | None = Field(default=None, description="Regimen (default daily).")
    prescription_date: CalendarDate | None = Field(
        default=None, description="Prescription date (default `as_of`)."
    )
    planned_start_date: CalendarDate | None = Field(
        default=None, description="Planned first dose (default `as_of`)."
    )
    planned_days_supply: int | None = Field(
        default=None,
        gt=0,
        le=366,
        description="Days' supply of the planned prescription (checked against the 30-day limit).",
    )
    planned_refills: int | None = Field(
        default=None, ge=0, le=12, description="Refills of the planned prescription (none allowed)."
    )
    weight_basis: WeightBasis | None = Field(
        default=None, description="Weight for cumulative mg/kg (default `start`)."
    )
    start_weight_kg: float | None = Field(
        default=None,
        gt=0,
        le=400,
        description="Weight at the start of the course (default: the current weight).",
    )
    target_cumulative_mg_per_kg: float | None = Field(
        default=None, gt=0, le=500, description="Cumulative target (default 120–150 mg/kg)."
    )
    cumulative_mg_before: float | None = Field(
        default=None, ge=0, le=100000, description="Milligrams taken before the dispensings listed."
    )

    @field_validator("planned_mg_per_day")
    @classmethod
    def _dose_needs_product(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("product") is None:
            raise ValueError("a planned dose needs a product (plan.product)")
        return value

    def to_domain(self) -> f.Plan:
        """The domain plan."""
        return f.Plan(
            product=self.product,
            available_strengths_mg=None
            if self.available_strengths_mg is None
            else tuple(self.available_strengths_mg),
            contains_soybean_oil=self.contains_soybean_oil,
            planned_mg_per_day=self.planned_mg_per_day,
            target_mg_per_kg_day=self.target_mg_per_kg_day,
            doses_per_day=self.doses_per_day,
            regimen=self.regimen,
            prescription_date=self.prescription_date,
            planned_start_date=self.planned_start_date,
            planned_days_supply=self.planned_days_supply,
            planned_refills=self.planned_refills,
            weight_basis=self.weight_basis,
            start_weight_kg=self.start_weight_kg,
            target_cumulative_mg_per_kg=self.target_cumulative_mg_per_kg,
            cumulative_mg_before=self.cumulative_mg_before,
        )


def to_facts(
    profile: ProfileIn,
    plan: PlanIn,
    *,
    visit_type: VisitType | None = None,
    visit_date: CalendarDate | None = None,
    previous_visit_date: CalendarDate | None = None,
) -> f.Facts:
    """The domain facts of a profile, a plan and the visit."""
    p = profile
    return f.Facts(
        birth_date=p.birth_date,
        age_years=p.age_years,
        weight=None
        if p.weight is None
        else f.Weight(kg=p.weight.kg(), measured_on=p.weight.measured_on),
        pregnancy_potential=None
        if p.pregnancy_potential is None
        else p.pregnancy_potential.category,
        pregnancy_potential_reason=None
        if p.pregnancy_potential is None
        else p.pregnancy_potential.reason,
        pregnancy_status=None
        if p.pregnancy_status is None
        else tuple(
            f.PregnancyStatusRecord(recorded_on=s.recorded_on, value=s.value)
            for s in p.pregnancy_status
        ),
        pregnancy_tests=tuple(
            f.PregnancyTest(
                specimen_date=t.specimen_date,
                result=t.result,
                setting=t.setting,
                clia_certified=t.clia_certified,
                sensitivity_miu_ml=t.sensitivity_miu_ml,
            )
            for t in p.pregnancy_tests or ()
        ),
        home_testing_permitted=p.home_testing_permitted,
        breastfeeding=p.breastfeeding,
        acne=f.Acne(**p.acne.model_dump()),
        previous_therapies=None
        if p.previous_therapies is None
        else tuple(f.PreviousTherapy(**t.model_dump()) for t in p.previous_therapies),
        previous_courses=None
        if p.previous_courses is None
        else tuple(f.PreviousCourse(start=c.start, end=c.end) for c in p.previous_courses),
        medications=None
        if p.medications is None
        else tuple(
            f.Medication(codings=_codings(m.codings), text=m.text, route=m.route)
            for m in p.medications
        ),
        allergies=None
        if p.allergies is None
        else tuple(
            f.Allergy(
                substance=a.substance,
                coding=None if a.coding is None else _codings([a.coding])[0],
            )
            for a in p.allergies
        ),
        conditions=None
        if p.conditions is None
        else tuple(
            f.ConditionRecord(codings=_codings(c.codings), text=c.text, status=c.status)
            for c in p.conditions
        ),
        labs=None if p.labs is None else tuple(f.LabResult(**r.model_dump()) for r in p.labs),
        mood_screens=None
        if p.mood_screens is None
        else tuple(f.MoodScreen(**s.model_dump()) for s in p.mood_screens),
        contraception=tuple(f.ContraceptionRecord(**c.model_dump()) for c in p.contraception or ()),
        counselling=tuple(
            f.CounsellingRecord(topic=c.topic, given_on=c.given_on) for c in p.counselling or ()
        ),
        rems=f.Rems() if p.rems is None else f.Rems(**p.rems.model_dump()),
        acknowledgement_forms=tuple(
            f.AcknowledgementForm(**x.model_dump()) for x in p.acknowledgement_forms or ()
        ),
        reported_symptoms=None if p.reported_symptoms is None else tuple(p.reported_symptoms),
        attestations=f.Attestations(**p.attestations.model_dump()),
        sexual_function_assessed_on=p.sexual_function_assessed_on,
        visit_type=visit_type,
        visit_date=visit_date,
        previous_visit_date=previous_visit_date,
        treatment_start_date=p.treatment_start_date,
        last_dose_date=p.last_dose_date,
        plan=plan.to_domain(),
        dispensings=tuple(f.Dispensing(**d.model_dump()) for d in p.dispensings or ()),
    )
