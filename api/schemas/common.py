"""Shared wire vocabulary: the base model, codings, the problem body, enum documentation."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from domain import vocab as v

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Dates outside these bounds are typing errors, not clinical dates (and would overflow the
# calendar arithmetic of the windows).
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)


def _calendar_date(value: Any) -> Any:
    """Only ``YYYY-MM-DD`` strings (or dates): no timestamps, no times (RULES §0.5)."""
    if isinstance(value, datetime):
        raise ValueError("a calendar date (YYYY-MM-DD) without a time")
    if isinstance(value, str) and _ISO_DATE.match(value):
        value = date.fromisoformat(value)
    if isinstance(value, date):
        if not MIN_DATE <= value <= MAX_DATE:
            raise ValueError(f"a date between {MIN_DATE} and {MAX_DATE}")
        return value
    raise ValueError("a calendar date written YYYY-MM-DD")


CalendarDate = Annotated[
    date, BeforeValidator(_calendar_date), WithJsonSchema({"type": "string", "format": "date"})
]


def _utc_instant(value: datetime) -> datetime:
    """A point in time as UTC (a time without an offset is read as UTC)."""
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError("a time that stays within the years 1 to 9999 in UTC") from None


Instant = Annotated[datetime, AfterValidator(_utc_instant)]
"""A query or body time (ISO 8601), normalised to UTC; out-of-range offsets are refused."""


class Wire(BaseModel):
    """Base of every request and response model: unknown fields are refused, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CodingIn(Wire):
    """A code with its system. Codes are never matched without their system (RULES §13)."""

    system: str = Field(
        min_length=1,
        max_length=500,
        description="Code system URI, e.g. `http://www.nlm.nih.gov/research/umls/rxnorm`.",
    )
    code: str = Field(min_length=1, max_length=200, description="The code within that system.")
    display: str | None = Field(
        default=None,
        max_length=500,
        description="Human-readable text; medications also match by name on it.",
    )


class InvalidParam(Wire):
    """One offending field of a 422 problem."""

    path: str = Field(description="JSON path of the field, e.g. `$.profile.labs[0].unit`.")
    reason: str = Field(description="What is wrong with it.")


class Problem(BaseModel):
    """An RFC 9457 problem detail (`application/problem+json`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI identifying the problem type; its page documents it.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="Explanation of this occurrence.")
    instance: str | None = Field(default=None, description="The request path.")
    request_id: str | None = Field(
        default=None, description="The request ID, also in the service's log."
    )
    errors: list[InvalidParam] | None = Field(
        default=None, description="422 only: the offending fields."
    )


class CourseItemState(StrEnum):
    """State of a checklist item in the course views: the item states of RULES §0.3, and
    `suspended` while a `stop.*` rule applies (the course views only)."""

    DUE = "due"
    OVERDUE = "overdue"
    DONE = "done"
    NOT_REQUIRED = "not-required"
    SUSPENDED = "suspended"


# Plain-language meaning of every enum value, rendered into the OpenAPI document.
ENUM_DOCS: dict[type[StrEnum], dict[str, str]] = {
    v.Jurisdiction: {
        "US": "FDA labels and the iPLEDGE REMS (epochs `US/pre-2026` and `US/ipledge-2026`).",
        "EU": "EU SmPC and the EMA 2018 pregnancy prevention programme.",
        "UK": "UK SmPC with MHRA measures (`UK/2023` from 2023-10-31, `UK/2026` from 2026-01-22; EU rules before).",
    },
    v.PregnancyPotential: {
        "can-become-pregnant": "The prescriber attests the patient can become pregnant.",
        "cannot-become-pregnant": "The prescriber attests the patient cannot become pregnant.",
        "unknown": "Not documented: every pregnancy-prevention requirement applies until it is.",
    },
    v.CannotReason: {
        "hysterectomy": "Hysterectomy.",
        "bilateral-oophorectomy": "Bilateral oophorectomy.",
        "postmenopausal": "Postmenopausal (US: ≥ 12 months; EU: ≥ 24 consecutive months natural).",
        "congenital-absence-of-uterus": "Congenital absence of the uterus (unverified criterion).",
        "other": "Another reason (recorded, not validated).",
    },
    v.PregnancyStatusValue: {
        "pregnant": "Pregnant.",
        "not-pregnant": "Not pregnant (never satisfies a pregnancy-test requirement).",
        "possible": "Possible pregnancy.",
        "not-yet-confirmed": "Pregnancy not yet confirmed.",
    },
    v.TestResult: {
        "negative": "Negative.",
        "positive": "Positive.",
        "indeterminate": "Indeterminate (makes the pregnancy contraindication unknown).",
    },
    v.TestSetting: {
        "medical-lab": "A medical laboratory.",
        "medical-point-of-care": "Point of care in a medical setting (office test).",
        "remote-supervised": "Remotely supervised by a clinician (UK from 2026).",
        "home": "A home test without supervision.",
        "unknown": "Not known: does not satisfy a medical-setting requirement.",
    },
    v.AcneSeverity: {
        "mild": "Mild (clinician-graded).",
        "moderate": "Moderate.",
        "severe": "Severe.",
        "very-severe": "Very severe.",
    },
    v.TherapyClass: {
        "topical": "Topical therapy.",
        "oral-antibiotic": "Oral antibiotic.",
        "hormonal": "Hormonal therapy.",
        "other": "Other therapy.",
    },
    v.TherapyResponse: {
        "none": "No response (counts as failed).",
        "partial": "Partial response (counts as failed).",
        "relapsed": "Relapsed (counts as failed).",
        "good": "Good response.",
        "not-tolerated": "Not tolerated (does not count as failed until the clinical owner decides).",
    },
    v.Allergen: {
        "isotretinoin": "Isotretinoin.",
        "vitamin-a": "Vitamin A.",
        "soy": "Soy.",
        "peanut": "Peanut.",
        "tartrazine": "Tartrazine (FD&C Yellow No. 5).",
        "paraben": "Parabens.",
    },
    v.ConditionStatus: {
        "current": "Current (FHIR clinical status active, recurrence or relapse).",
        "history": "History (inactive, remission or resolved).",
    },
    v.MoodInstrument: {
        "phq-9": "PHQ-9 (total 0–27).",
        "phq-a": "PHQ-A (total 0–27).",
        "phq-2": "PHQ-2 (total 0–6).",
    },
    v.ContraceptionMethod: {
        "abstinence": "Abstinence (US only).",
        "tubal-sterilisation": "Tubal sterilisation (US primary; EU user-independent).",
        "partner-vasectomy": "Partner's vasectomy (US primary; EU user-independent).",
        "iud-copper": "Copper IUD (US primary; EU user-independent).",
        "iud-hormonal": "Hormonal IUD (US primary; EU user-independent).",
        "implant": "Implant (US primary; EU user-independent).",
        "injection": "Injection (US primary; EU user-dependent).",
        "combined-pill": "Combined (estrogen-containing) pill (US primary; EU user-dependent).",
        "patch": "Patch (US primary; EU user-dependent).",
        "vaginal-ring": "Vaginal ring (US primary; EU user-dependent).",
        "progestin-only-pill": "Progestin-only pill: not acceptable in the US; EU user-dependent (unverified).",
        "male-condom": "Male condom (US secondary; EU user-dependent).",
        "diaphragm-spermicide": "Diaphragm with spermicide (US secondary; EU user-dependent).",
        "cervical-cap-spermicide": "Cervical cap with spermicide (US secondary; EU user-dependent).",
        "sponge-spermicide": "Sponge with spermicide (US secondary; EU user-dependent).",
        "other": "Another method: not counted.",
    },
    v.Symptom: {
        "depression": "Depression (stop.mood).",
        "psychosis": "Psychosis (stop.mood).",
        "aggression": "Aggression or violent behaviour (stop.mood).",
        "suicidal-ideation": "Suicidal ideation (stop.mood, precaution.suicidal-ideation-now).",
        "papilledema": "Papilledema (stop.papilledema).",
        "headache-with-nausea": "Headache with nausea or vomiting (stop.papilledema).",
        "headache-with-visual-disturbance": "Headache with visual disturbance (stop.papilledema).",
        "stevens-johnson-syndrome": "Stevens-Johnson syndrome (stop.serious-skin-reaction).",
        "toxic-epidermal-necrolysis": "Toxic epidermal necrolysis (stop.serious-skin-reaction).",
        "erythema-multiforme": "Erythema multiforme (stop.serious-skin-reaction).",
        "pancreatitis-symptoms": "Symptoms of pancreatitis (stop.pancreatitis).",
        "jaundice": "Jaundice (stop.hepatitis, lab.liver.severe).",
        "dark-urine": "Dark urine (stop.hepatitis, lab.liver.severe).",
        "tinnitus": "Tinnitus (stop.hearing).",
        "hearing-loss": "Hearing loss (stop.hearing).",
        "visual-difficulty": "Visual difficulty (stop.vision).",
        "abdominal-pain": "Abdominal pain (stop.ibd-symptoms).",
        "rectal-bleeding": "Rectal bleeding (stop.ibd-symptoms).",
        "severe-diarrhoea": "Severe diarrhoea (stop.ibd-symptoms).",
        "anaphylaxis": "Anaphylaxis (stop.severe-allergy).",
        "severe-allergic-reaction": "Severe allergic reaction (stop.severe-allergy).",
        "allergic-vasculitis": "Allergic vasculitis (stop.severe-allergy).",
    },
    v.Product: {
        "absorica": "Absorica (US): 10/20/25/30/35/40 mg; 25 mg contains tartrazine; soybean oil.",
        "absorica-ld": "Absorica LD, micronized (US): 8/16/20/24/28/32 mg; not interchangeable mg for mg.",
        "claravis": "Claravis (US): 10/20/30/40 mg; soybean oil.",
        "amnesteem": "Amnesteem (US): 10/20/40 mg; soybean oil.",
        "myorisan": "Myorisan (US): 10/20/30/40 mg; soybean oil.",
        "zenatane": "Zenatane (US): strengths not retrieved, send available_strengths_mg; contains parabens.",
        "generic": "US generic capsules: 10/20/25/30/35/40 mg (class list, unverified); soybean oil.",
        "eu-uk-generic": "EU/UK isotretinoin capsules: send available_strengths_mg and contains_soybean_oil.",
    },
    v.Regimen: {"daily": "Daily dosing (the default).", "intermittent": "Intermittent dosing."},
    v.WeightBasis: {
        "start": "Cumulative mg/kg on the weight at the start of the course.",
        "latest": "On the latest weight.",
    },
    v.FormKind: {
        "uk-arf-2023": "UK Acknowledgement of Risk Form, 2023 version.",
        "uk-arf-2026": "UK Acknowledgement of Risk Form, revised 2026 version (all patients).",
        "eu-acknowledgement": "EU pregnancy prevention programme acknowledgement form.",
    },
    v.VisitType: {
        "baseline": "Before the first prescription.",
        "follow-up": "A monthly visit during treatment: may this month's prescription be issued?",
        "end-of-therapy": "The visit at the end of treatment.",
        "post-therapy": "One month after the last dose.",
    },
    v.Decision: {
        "start": "No finding prevents it.",
        "start-with-precautions": "A finding that applies calls for caution.",
        "needs-information": "A gating rule is unknown, or the indication cannot be assessed.",
        "do-not-start": "A blocking finding applies.",
    },
    v.Severity: {"info": "Information.", "warning": "Warning.", "critical": "Critical."},
    v.Status: {
        "applies": "The rule holds on the facts.",
        "unknown": "The facts do not say: see `missing`.",
    },
    v.Effect: {
        "none": "No effect on the decision.",
        "caution": "Start with precautions.",
        "block": "Do not start.",
    },
    v.ItemState: {
        "due": "To be done (its window, if any, is shown).",
        "overdue": "Its window has passed.",
        "done": "Satisfied by the fact in `satisfied_by`.",
        "not-required": "The checklist states it is not needed now.",
    },
    CourseItemState: {
        "due": "To be done (its window, if any, is shown).",
        "overdue": "Its window has passed.",
        "done": "Satisfied by the fact in `satisfied_by`.",
        "not-required": "The checklist states it is not needed now.",
        "suspended": "Not scheduled while a `stop.*` rule applies (`suspended_by`, `reason`): the prescription window and the pregnancy tests that lead to the next prescription.",
    },
    v.ItemCategory: {
        "lab": "Laboratory test.",
        "pregnancy-test": "Pregnancy test.",
        "contraception": "Contraception.",
        "screening": "Screening or assessment.",
        "counselling": "Counselling.",
        "prescription": "Prescription window.",
        "documentation": "Documentation or form.",
    },
    v.IndicationStatus: {
        "labelled": "The labelled criteria hold.",
        "guideline-supported": "Not labelled, but the guideline criteria hold.",
        "not-established": "Both criteria are false.",
        "needs-information": "Neither is true and some input is missing.",
    },
    v.LabProfile: {
        "label": "US default: at each monthly follow-up until the response is established.",
        "evidence": "US option: one follow-up on days 49–70.",
        "smpc": "EU/UK: days 21–35, then every 91 ± 14 days.",
    },
    v.RuleKind: {k.value: f"Rules with IDs `{k.value}.*`." for k in v.RuleKind},
    v.Basis: {
        "label": "An FDA label.",
        "rems": "The iPLEDGE REMS.",
        "regulator": "EMA, EU SmPC or MHRA.",
        "guideline": "A clinical guideline.",
        "evidence": "A study.",
        "local-policy": "The service's own choice: the clinical owner confirms it.",
    },
    v.Verification: {
        "primary": "Seen in the primary document.",
        "secondary": "Seen in a faithful secondary source.",
        "unverified": "Needs clinical review before clinical use.",
    },
    v.MatchBasis: {
        "code": "Matched on (system, code).",
        "name": "Matched by ingredient name.",
        "brand": "Matched by brand name.",
    },
}


def document_enums(schema: dict[str, Any]) -> None:
    """Write each enum value's meaning into the OpenAPI components (in place)."""
    components = schema.get("components", {}).get("schemas", {})
    for enum, meanings in ENUM_DOCS.items():
        node = components.get(enum.__name__)
        if node is None:
            continue
        missing = {m.value for m in enum} - set(meanings)
        if missing:
            raise RuntimeError(f"{enum.__name__}: undocumented values {sorted(missing)}")
        lines = "\n".join(f"- `{value}`: {text}" for value, text in meanings.items())
        node["description"] = f"{(enum.__doc__ or '').strip()}\n\n{lines}"
        node["x-enum-descriptions"] = dict(meanings)
