"""Treatment courses on the wire: the course, its events, its checklist, timeline and audit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from api.schemas.common import CalendarDate, CourseItemState, Wire
from api.schemas.evaluation import (
    CumulativeOut,
    EvaluationContext,
    FindingOut,
    NotAssessedOut,
    SourceRef,
)
from api.schemas.profile import (
    ContraceptionIn,
    CounsellingIn,
    DispensingIn,
    LabIn,
    PlanIn,
    PregnancyTestIn,
    ProfileIn,
    WeightIn,
)
from db.tables import Course, CourseEvent
from domain.course import CourseStatus
from domain.vocab import (
    CannotReason,
    ItemCategory,
    Jurisdiction,
    MoodInstrument,
    PregnancyPotential,
    Product,
    Severity,
    Status,
    Symptom,
    Verification,
    VisitType,
)


class CourseCreate(Wire):
    """A new course. It is `planned` until it starts (a start date, or its first dispensing)."""

    patient_ref: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^\S(.*\S)?$",
        description="The EHR's patient ID, opaque: no names or other identifiers.",
    )
    jurisdiction: Jurisdiction = Field(
        description="The jurisdiction of every evaluation of this course."
    )
    product: Product | None = Field(default=None, description="The product.")
    start_date: CalendarDate | None = Field(
        default=None, description="First dose; given, the course is `active`."
    )
    weight_at_start_kg: float | None = Field(
        default=None,
        gt=0,
        le=400,
        description="Weight at the start, kg (cumulative mg/kg uses it).",
    )
    target_cumulative_mg_per_kg: float | None = Field(
        default=None, gt=0, le=500, description="Cumulative target (default 120–150 mg/kg)."
    )


class CoursePatch(Wire):
    """A status change (start, complete, stop with reason) and/or corrected course fields.

    Send `If-Match` with the course's ETag: a stale version gets 412.
    """

    status: Literal["active", "completed", "stopped"] | None = Field(
        default=None, description="`active` (start), `completed` or `stopped` (with `stop_reason`)."
    )
    date: CalendarDate | None = Field(
        default=None,
        description="Start date (to `active`), or the last dose (to `completed`/`stopped`).",
    )
    stop_reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Why the course was stopped (required to stop).",
    )
    product: Product | None = Field(default=None, description="Corrected product.")
    weight_at_start_kg: float | None = Field(
        default=None, gt=0, le=400, description="Corrected weight at the start, kg."
    )
    target_cumulative_mg_per_kg: float | None = Field(
        default=None, gt=0, le=500, description="Corrected cumulative target."
    )


class CourseOut(Wire):
    """A course."""

    id: str = Field(description="Course ID.")
    patient_ref: str = Field(description="The EHR's patient ID.")
    jurisdiction: Jurisdiction = Field(description="Jurisdiction.")
    product: Product | None = Field(default=None, description="Product.")
    start_date: date | None = Field(default=None, description="First dose.")
    weight_at_start_kg: float | None = Field(default=None, description="Weight at the start, kg.")
    target_cumulative_mg_per_kg: float | None = Field(
        default=None, description="Cumulative target."
    )
    status: CourseStatus = Field(description="`planned`, `active`, `completed` or `stopped`.")
    stop_reason: str | None = Field(default=None, description="Why it was stopped.")
    end_date: date | None = Field(
        default=None, description="Last dose of a completed or stopped course."
    )
    version: int = Field(description="Version; the ETag is its quoted value.")
    created_at: datetime = Field(description="When it was created.")
    updated_at: datetime = Field(description="When it last changed.")

    @classmethod
    def from_row(cls, c: Course) -> CourseOut:
        """The wire form of a stored course."""
        return cls.model_validate(
            {
                "id": c.id,
                "patient_ref": c.patient_ref,
                "jurisdiction": c.jurisdiction,
                "product": c.product,
                "start_date": c.start_date,
                "weight_at_start_kg": c.weight_at_start_kg,
                "target_cumulative_mg_per_kg": c.target_cumulative_mg_per_kg,
                "status": c.status,
                "stop_reason": c.stop_reason,
                "end_date": c.end_date,
                "version": c.version,
                "created_at": c.created_at,
                "updated_at": c.updated_at,
            }
        )


class CourseList(Wire):
    """The courses of a patient."""

    courses: list[CourseOut] = Field(description="Oldest first.")


class VisitMoodScreen(Wire):
    """A mood screen done at the visit."""

    instrument: MoodInstrument = Field(description="The instrument.")
    total: int = Field(ge=0, le=27, description="Total score (PHQ-2: 0–6).")
    item_9: int | None = Field(default=None, ge=0, le=3, description="PHQ-9/PHQ-A item 9.")


class VisitIn(Wire):
    """A visit: weight, mood screen, symptoms asked."""

    visit_date: CalendarDate = Field(description="The visit date.")
    weight: WeightIn | None = Field(
        default=None, description="Weight measured (its date is the visit's)."
    )
    mood_screen: VisitMoodScreen | None = Field(default=None, description="Mood screen done.")
    reported_symptoms: list[Symptom] | None = Field(
        default=None,
        max_length=50,
        description="Symptoms reported; `[]` asked, none; absent not asked.",
    )
    sexual_function_assessed: bool = Field(
        default=False, description="UK: sexual function was assessed."
    )


class DocumentationIn(Wire):
    """A documentation step: iPLEDGE enrolment or monthly confirmation, or a signed form."""

    kind: Literal[
        "rems-enrolment",
        "rems-monthly-confirmation",
        "uk-arf-2023",
        "uk-arf-2026",
        "eu-acknowledgement",
    ] = Field(description="The step or form.")
    recorded_on: CalendarDate = Field(description="Date recorded or signed.")


class PregnancyPotentialEventIn(Wire):
    """The pregnancy-potential category from a date on (it can change during a course)."""

    recorded_on: CalendarDate = Field(
        description="Date recorded; the latest as of `as_of` applies."
    )
    category: PregnancyPotential = Field(description="The attested category.")
    reason: CannotReason | None = Field(
        default=None, description="Reason for `cannot-become-pregnant`."
    )


EVENT_MODELS: dict[str, type[Wire]] = {
    "visit": VisitIn,
    "dispensing": DispensingIn,
    "lab": LabIn,
    "pregnancy-test": PregnancyTestIn,
    "contraception": ContraceptionIn,
    "counselling": CounsellingIn,
    "documentation": DocumentationIn,
    "pregnancy-potential": PregnancyPotentialEventIn,
}


EVENT_DATE_FIELDS = {
    "visit": "visit_date",
    "dispensing": "dispensed_on",
    "lab": "collected_on",
    "pregnancy-test": "specimen_date",
    "counselling": "given_on",
    "documentation": "recorded_on",
    "pregnancy-potential": "recorded_on",
}


def event_date_field(kind: str, body: Wire) -> str:
    """The field holding the date an event is filed under."""
    field = EVENT_DATE_FIELDS.get(kind)
    if field is not None:
        return field
    assert isinstance(body, ContraceptionIn)  # noqa: S101  # the remaining kind
    return "confirmed_on" if body.confirmed_on else "start_date"


def event_date(kind: str, body: Wire) -> date:
    """The date an event is filed under."""
    value: date = getattr(body, event_date_field(kind, body))
    return value


class EventOut(Wire):
    """An event recorded on a course."""

    id: int = Field(description="Event ID.")
    course_id: str = Field(description="Course ID.")
    kind: Literal[
        "visit",
        "dispensing",
        "lab",
        "pregnancy-test",
        "contraception",
        "counselling",
        "documentation",
        "pregnancy-potential",
    ] = Field(description="What it records.")
    event_date: date = Field(description="Its date.")
    data: dict[str, Any] = Field(description="The record as sent (validated).")
    created_at: datetime = Field(description="When it was recorded.")

    @classmethod
    def from_row(cls, e: CourseEvent) -> EventOut:
        """The wire form of a stored event."""
        return cls.model_validate(
            {
                "id": e.id,
                "course_id": e.course_id,
                "kind": e.kind,
                "event_date": e.event_date,
                "data": e.data,
                "created_at": e.created_at,
            }
        )


class EventList(Wire):
    """A course's events."""

    events: list[EventOut] = Field(description="By date, then in the order recorded.")


class CourseChecklistEntry(Wire):
    """A checklist item with its rule, as an assessment's checklist gives it, except that while a `stop.*` rule applies the prescription window and the pregnancy tests that lead to the next prescription are `suspended` (their window is not shown)."""

    rule_id: str = Field(description="The checklist rule.")
    title: str = Field(description="Rule title.")
    category: ItemCategory = Field(description="Item category.")
    state: CourseItemState = Field(
        description="Item state: an assessment's, or `suspended` while a stop rule applies."
    )
    due_from: CalendarDate | None = Field(
        default=None, description="First day of its window (null when suspended)."
    )
    due_by: CalendarDate | None = Field(
        default=None, description="Last day of its window (null when suspended)."
    )
    codes: list[str] = Field(default_factory=list, description="LOINC codes of lab items.")
    satisfied_by: str | None = Field(default=None, description="The fact that made it `done`.")
    text: str = Field(description="What the item asks for.")
    notes: list[str] = Field(description="Notes (CLIA, home test, fasting…).")
    severity: Severity = Field(description="Severity of the rule.")
    verification: Verification = Field(description="Verification of the rule's variant.")
    sources: list[SourceRef] = Field(description="Citations.")
    suspended_by: list[str] = Field(
        default_factory=list,
        description="For a `suspended` item: the `stop.*` rule IDs that apply.",
    )
    reason: str | None = Field(
        default=None, description="For a `suspended` item: why, naming the stop rule IDs."
    )


class CourseAlert(Wire):
    """The one line to show when only one is shown: the most severe applying finding."""

    rule_id: str = Field(description="Its rule ID.")
    severity: Severity = Field(description="Its severity.")
    summary: str = Field(
        description="One line: the rule title and what triggered it (else its action text)."
    )


class CourseChecklistOut(EvaluationContext):
    """What the stored history alone can tell: no decision, but never reassuring while a `stop.*` rule applies."""

    course_id: str = Field(description="Course ID.")
    alert: CourseAlert | None = Field(
        default=None,
        description="The most severe applying finding (a `stop.*` rule first among equally severe ones; checklist items already done or not required are left out); null when none applies.",
    )
    findings: list[FindingOut] = Field(
        description="Every finding that applies and every gating `unknown`, critical first, exactly as an assessment of the course with an empty profile gives them (one evaluation: checklist rules included, with the item state the rules give; the `checklist` below shows which items are `suspended`)."
    )
    checklist: list[CourseChecklistEntry] = Field(
        description="The monitoring checklist for the visit on `as_of`."
    )
    cumulative: CumulativeOut | None = Field(
        default=None,
        description="Cumulative dose so far, remaining and projected days (null without a weight).",
    )
    prescription_window: CourseChecklistEntry | None = Field(
        default=None,
        description="The prescription window, when one applies (`suspended` while a stop rule applies).",
    )
    pregnancy_tests_due: list[CourseChecklistEntry] = Field(
        description="Pregnancy tests due or overdue (`suspended`, except the end-of-therapy and post-therapy tests, while a stop rule applies)."
    )
    lab_findings: list[FindingOut] = Field(description="`lab.*` findings, `lab.stale` included.")
    supply_limit: list[FindingOut] = Field(
        description="`prescription.supply-limit` for stored dispensings."
    )
    not_assessed: list[NotAssessedOut] = Field(
        description="Rules that need facts the course does not store (medications, allergies, conditions, breastfeeding…), with the inputs they lack."
    )


class CoursePlanIn(PlanIn):
    """This visit's plan for a course: without a `product`, the course's product is used."""

    product: Product | None = Field(
        default=None,
        description="The product (default: the course's); a planned dose needs one of them.",
    )

    @field_validator("planned_mg_per_day")
    @classmethod
    def _dose_needs_product(cls, value: float | None, _info: ValidationInfo) -> float | None:
        # Replaces the profile plan's check: the course's product may supply it, so the route
        # checks it once the course is read.
        return value


class CourseAssessmentRequest(Wire):
    """Current facts, merged with the course's history (the course's stored records win)."""

    as_of: CalendarDate | None = Field(
        default=None, description="Evaluation date (default: today in `ISOCDS_TIMEZONE`)."
    )
    visit_type: VisitType | None = Field(
        default=None, description="Default: from the course's status and dates."
    )
    visit_date: CalendarDate | None = Field(
        default=None, description="Visit date (default `as_of`)."
    )
    previous_visit_date: CalendarDate | None = Field(
        default=None,
        description="Previous visit (default: the latest stored visit before `as_of`).",
    )
    profile: ProfileIn = Field(
        default_factory=ProfileIn,
        description="Current facts the course does not store (medications, allergies, conditions, breastfeeding, acne…).",
    )
    plan: CoursePlanIn = Field(
        default_factory=CoursePlanIn,
        description="This visit's plan (dose, supply); product from the course when the plan gives none.",
    )


class TimelineMark(Wire):
    """A rule an entry is marked with."""

    rule_id: str = Field(description="The rule ID.")
    severity: Severity = Field(description="Its severity in the course's jurisdiction.")
    status: Status | None = Field(
        default=None,
        description="The rule's status as of `as_of`, as every course view and assessment gives it; null when it does not hold then (e.g. an earlier positive test superseded by a later negative one).",
    )


class TimelineEntry(Wire):
    """Something that happened, or is scheduled, on a date."""

    on: date | None = Field(
        default=None,
        description="The date (a scheduled item: when it falls due; null when not yet known).",
    )
    type: Literal["event", "scheduled", "projection", "suspended"] = Field(
        description="`event`: recorded; `scheduled`: a checklist item not done; `projection`: the projected end; `suspended`: while a `stop.*` rule applies, replaces the projections (the prescription window, the pregnancy tests before the next prescription, the cumulative-target date)."
    )
    kind: str = Field(
        description="The event kind, the checklist rule ID, `dosing.cumulative-target`, or `projections` (suspended)."
    )
    summary: str = Field(description="In words.")
    due_by: date | None = Field(
        default=None, description="Scheduled items: last day of the window."
    )
    state: str | None = Field(default=None, description="Scheduled items: `due` or `overdue`.")
    rule_id: str | None = Field(
        default=None,
        description="The most severe rule in `marks` (a `suspended` entry: the first stop rule).",
    )
    severity: Severity | None = Field(default=None, description="That rule's severity.")
    status: Status | None = Field(
        default=None, description="That rule's status as of `as_of` (see `marks`)."
    )
    marks: list[TimelineMark] = Field(
        default_factory=list,
        description="Events up to `as_of`: a positive or indeterminate pregnancy test (`stop.pregnancy` after the first dose, else `contraindication.pregnancy`), a positive mood screen (`precaution.psychiatric-history`; `precaution.suicidal-ideation-now` for PHQ-9/PHQ-A item 9 > 0), a lab result a `lab.*` finding of severity warning or critical is about, a visit reporting a stop symptom (its `stop.*` rules). A `suspended` entry: the `stop.*` rules that apply.",
    )


class Timeline(Wire):
    """A course as an ordered list of what happened and what is scheduled."""

    course_id: str = Field(description="Course ID.")
    as_of: date = Field(description="The date scheduled items were computed for.")
    entries: list[TimelineEntry] = Field(description="By date; undated scheduled items last.")


class AuditOut(Wire):
    """An audit record of an answered evaluation."""

    id: int = Field(description="Record ID.")
    recorded_at: datetime = Field(description="When it was committed (UTC).")
    request_id: str = Field(description="The request ID.")
    caller: str = Field(description="API key ID, or the JWT `iss` of a CDS Hooks call.")
    endpoint: str = Field(description="The route template or CDS service.")
    course_id: str | None = Field(
        default=None,
        description="The course, for course routes, and for CDS Hooks calls a stored course drove.",
    )
    hook_instance: str | None = Field(default=None, description="The CDS Hooks `hookInstance`.")
    tenant: str = Field(
        description="The tenant of the caller (the API key's or the CDS Hooks client's)."
    )
    as_of: date = Field(description="Evaluation date.")
    jurisdiction: Jurisdiction = Field(description="Jurisdiction.")
    epoch: str = Field(description="Epoch.")
    ruleset_version: str = Field(description="Rule-set version.")
    catalogue_hash: str = Field(description="Catalogue hash.")
    decision: str | None = Field(
        default=None, description="The decision (null for checklists and dosing plans)."
    )
    findings: list[dict[str, Any]] = Field(
        description="Each finding's rule ID, version, variant and status."
    )
    input_hmac: str = Field(
        description="HMAC-SHA-256 of the canonical input, keyed with `ISOCDS_AUDIT_HMAC_KEY`."
    )
    chain_seq: int | None = Field(
        default=None,
        description="The record's place in its tenant's audit chain (1, 2, 3…); null for a record written before the chain existed.",
    )
    prev_hmac: str | None = Field(
        default=None, description="The previous record's link (empty for the first)."
    )
    row_hmac: str | None = Field(
        default=None,
        description="This record's link: HMAC-SHA-256 over its content and `prev_hmac`, keyed with `ISOCDS_AUDIT_HMAC_KEY` (`python -m api audit verify` checks the chain).",
    )


class AuditList(Wire):
    """Audit records, oldest first."""

    records: list[AuditOut] = Field(description="The records.")
    next_after_id: int | None = Field(
        default=None, description="Pass as `after_id` for the next page (null: last page)."
    )
