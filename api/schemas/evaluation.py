"""Requests and responses of the evaluation endpoints: assessments, checklists, dosing plans."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from api.schemas.common import CalendarDate, Wire
from api.schemas.profile import AllergyIn, PlanIn, ProfileIn, WeightIn
from domain.dosing import Cumulative, DosingPlan
from domain.engine import Evaluation, Finding
from domain.rules import Citation
from domain.sources import SOURCES_BY_ID
from domain.vocab import (
    AcneSeverity,
    Basis,
    Decision,
    Effect,
    IndicationStatus,
    ItemCategory,
    ItemState,
    Jurisdiction,
    LabProfile,
    MatchBasis,
    Product,
    Regimen,
    RuleKind,
    Severity,
    Status,
    Verification,
    VisitType,
    WeightBasis,
)

# --- requests ---------------------------------------------------------------------------


class EvaluationRequest(Wire):
    """What every evaluation needs: the jurisdiction, the date, the visit, the profile and plan."""

    jurisdiction: Jurisdiction = Field(description="Where the prescription is written (required).")
    as_of: CalendarDate | None = Field(
        default=None,
        description="Evaluation date (default: today in `ISOCDS_TIMEZONE`). Records dated after it are not used.",
    )
    visit_type: VisitType | None = Field(
        default=None,
        description="Default: `baseline` when no first dose and no dispensing is given, else `follow-up`.",
    )
    visit_date: CalendarDate | None = Field(
        default=None, description="Visit date (default `as_of`)."
    )
    previous_visit_date: CalendarDate | None = Field(
        default=None,
        description="Previous visit (default at follow-ups: the visit date − 30 days); records since it satisfy follow-up items.",
    )
    profile: ProfileIn = Field(default_factory=ProfileIn, description="The patient profile.")
    plan: PlanIn = Field(
        default_factory=PlanIn, description="The prescriber's plan (product, dose, supply, dates)."
    )


class AssessmentRequest(EvaluationRequest):
    """A full assessment: decision, findings, checklist and dosing plan."""


class ChecklistRequest(EvaluationRequest):
    """The checklist alone for a visit type and date."""


class DosingPlanRequest(Wire):
    """The dosing plan alone: weight, product, target, and the facts that set the maximum."""

    jurisdiction: Jurisdiction = Field(description="Where the prescription is written (required).")
    as_of: CalendarDate | None = Field(
        default=None, description="Evaluation date (default: today in `ISOCDS_TIMEZONE`)."
    )
    weight: WeightIn = Field(description="Body weight.")
    product: Product = Field(description="The product; must be marketed in the jurisdiction.")
    target_mg_per_kg_day: float | None = Field(
        default=None,
        gt=0,
        le=5,
        description="Target mg/kg/day (give this or `planned_mg_per_day`).",
    )
    planned_mg_per_day: float | None = Field(
        default=None,
        gt=0,
        le=1000,
        description="Planned mg/day (give this or `target_mg_per_kg_day`).",
    )
    doses_per_day: Literal[1, 2] | None = Field(
        default=None, description="Doses a day (US plans use 2; EU/UK 1 or 2, default 2)."
    )
    available_strengths_mg: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="Capsule strengths in stock. `eu-uk-generic` has none built in: without them the plan gives mg/day and mg/kg/day, no capsule plan.",
    )
    regimen: Regimen | None = Field(default=None, description="Regimen (default daily).")
    birth_date: CalendarDate | None = Field(
        default=None, description="Date of birth (sets the US maximum: adults ≥ 18)."
    )
    age_years: int | None = Field(
        default=None, ge=0, le=120, description="Age, when no birth date is given."
    )
    acne_severity: AcneSeverity | None = Field(
        default=None, description="`very-severe` can raise the US maximum."
    )
    scarring: bool | None = Field(default=None, description="Scarring can raise the US maximum.")
    truncal: bool | None = Field(
        default=None, description="Mainly truncal acne can raise the US maximum."
    )
    allergies: list[AllergyIn] | None = Field(
        default=None, max_length=50, description="Allergies (tartrazine leaves Absorica 25 mg out)."
    )
    cumulative_mg_so_far: float | None = Field(
        default=None,
        ge=0,
        le=100000,
        description="Cumulative dose taken so far in this course, mg.",
    )
    start_weight_kg: float | None = Field(
        default=None,
        gt=0,
        le=400,
        description="Weight at the start of the course (default: `weight`).",
    )
    weight_basis: WeightBasis | None = Field(
        default=None, description="Weight for cumulative mg/kg (default `start`)."
    )
    target_cumulative_mg_per_kg: float | None = Field(
        default=None, gt=0, le=500, description="Cumulative target (default 120–150 mg/kg)."
    )

    @model_validator(mode="after")
    def _target(self) -> Self:
        if (self.target_mg_per_kg_day is None) == (self.planned_mg_per_day is None):
            raise ValueError("give exactly one of target_mg_per_kg_day or planned_mg_per_day")
        return self


# --- responses --------------------------------------------------------------------------
# Responses are built as plain data and validated once, at the top (``model_validate`` runs in
# pydantic's core): one validation of the whole body is several times cheaper than building each
# nested model on its own.


class SourceRef(Wire):
    """A cited source (RULES §1) with the section relied on."""

    id: str = Field(description="Source ID, e.g. `fda-label-absorica`.")
    citation: str = Field(description="The document.")
    section: str | None = Field(default=None, description="Section, e.g. `§5.5`.")
    url: str | None = Field(
        default=None,
        description="Public address (the CDS Hooks card's `source.url`), when RULES §1 gives one.",
    )


class ItemOut(Wire):
    """The checklist part of a finding."""

    category: ItemCategory = Field(description="Item category.")
    state: ItemState = Field(description="Item state.")
    due_from: CalendarDate | None = Field(
        default=None, description="First day of its window (inclusive)."
    )
    due_by: CalendarDate | None = Field(
        default=None, description="Last day of its window (inclusive)."
    )
    codes: list[str] = Field(default_factory=list, description="LOINC codes of lab items.")
    satisfied_by: str | None = Field(default=None, description="The fact that made it `done`.")


class FindingOut(Wire):
    """One rule's result (RULES §0.3)."""

    rule_id: str = Field(description="Stable rule ID.")
    rule_version: int = Field(description="Rule version.")
    variant: str = Field(
        description="The variant used: jurisdiction and epoch, e.g. `US/pre-2026`."
    )
    kind: RuleKind = Field(description="Rule kind.")
    title: str = Field(description="Rule title.")
    severity: Severity = Field(
        description="Severity in this jurisdiction: the CDS Hooks indicator."
    )
    status: Status = Field(description="`applies` or `unknown`.")
    effect: Effect = Field(description="Effect on the decision.")
    gating: bool = Field(
        description="Whether an `unknown` of this rule holds the decision at needs-information."
    )
    text: str = Field(description="The plain-language action.")
    triggers: list[str] = Field(description="The facts that triggered it.")
    missing: list[str] = Field(description="For `unknown`: the inputs that are missing.")
    notes: list[str] = Field(description="Further statements.")
    match_basis: MatchBasis | None = Field(
        default=None, description="For medication rules: how the medication matched."
    )
    item: ItemOut | None = Field(default=None, description="For checklist rules: the item.")
    not_before: CalendarDate | None = Field(
        default=None, description="For a time-limited blocker: the date it lapses."
    )
    sources: list[SourceRef] = Field(description="Citations.")
    basis: Basis = Field(description="Kind of the first cited source, or `local-policy`.")
    verification: Verification = Field(
        description="`unverified` needs clinical review before clinical use."
    )
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="Structured values, e.g. a lab value, its conversion and threshold.",
    )


class ChecklistEntry(Wire):
    """A checklist item with its rule: what to do at this visit."""

    rule_id: str = Field(description="The checklist rule.")
    title: str = Field(description="Rule title.")
    category: ItemCategory = Field(description="Item category.")
    state: ItemState = Field(description="Item state.")
    due_from: CalendarDate | None = Field(default=None, description="First day of its window.")
    due_by: CalendarDate | None = Field(default=None, description="Last day of its window.")
    codes: list[str] = Field(default_factory=list, description="LOINC codes of lab items.")
    satisfied_by: str | None = Field(default=None, description="The fact that made it `done`.")
    text: str = Field(description="What the item asks for.")
    notes: list[str] = Field(description="Notes (CLIA, home test, fasting…).")
    severity: Severity = Field(description="Severity of the rule.")
    verification: Verification = Field(description="Verification of the rule's variant.")
    sources: list[SourceRef] = Field(description="Citations.")


class Range(Wire):
    """A closed range."""

    low: float = Field(description="Low end.")
    high: float = Field(description="High end.")


class DoseOut(Wire):
    """One dose of one or two capsules."""

    capsules_mg: list[int] = Field(description="Capsule strengths, larger first.")
    mg: int = Field(description="The dose, mg.")


class CapsulePlanOut(Wire):
    """The capsule plan (RULES §8 method)."""

    doses: list[DoseOut] = Field(description="Doses, larger first.")
    mg_per_day: int = Field(description="Daily total, mg.")
    mg_per_kg_day: float = Field(description="Achieved mg/kg/day, two decimals.")
    capsules_per_day: int = Field(description="Capsules a day.")


class MaximumOut(Wire):
    """The applicable maximum (RULES §8)."""

    mg_per_kg_day: float = Field(description="The maximum, mg/kg/day.")
    mg_per_day: float | None = Field(default=None, description="For this weight, mg/day.")
    tier: str = Field(description="`higher`/`lower` (US), `eu-uk`.")
    would_raise: list[str] = Field(description="Unknown facts that, if true, would raise it.")


class CumulativeOut(Wire):
    """Cumulative dose and progress."""

    mg: float = Field(description="Cumulative mg (conventional-equivalent when flagged).")
    conventional_equivalent: bool = Field(
        description="Absorica LD mg converted (LD mg ÷ 0.8; unverified)."
    )
    weight_kg: float = Field(description="Weight the mg/kg figures use.")
    weight_basis: WeightBasis = Field(description="`start` or `latest`.")
    mg_per_kg: float = Field(description="Cumulative mg/kg.")
    target_mg_per_kg: Range = Field(description="Cumulative target, mg/kg.")
    target_mg: Range = Field(description="Cumulative target, mg.")
    remaining_mg: Range = Field(description="Target − cumulative (never below 0).")
    daily_mg: float | None = Field(default=None, description="Daily dose the projection uses.")
    days_remaining: Range | None = Field(
        default=None, description="Projected days to reach each end of the target."
    )


class DosingPlanOut(Wire):
    """The dosing plan; fields are null where the facts do not allow them."""

    product: Product | None = Field(default=None, description="Product (null: not identified).")
    weight_kg: float | None = Field(default=None, description="Weight used, kg.")
    weight_measured_on: CalendarDate | None = Field(
        default=None, description="When it was measured."
    )
    regimen: Regimen = Field(description="Regimen.")
    doses_per_day: int = Field(description="Doses a day the capsule plan uses.")
    range_mg_per_kg_day: Range = Field(description="Labelled range, mg/kg/day.")
    range_mg_per_day: Range | None = Field(
        default=None, description="Range for this weight, mg/day."
    )
    maximum: MaximumOut = Field(description="The applicable maximum.")
    planned_mg_per_day: float | None = Field(default=None, description="Planned daily dose.")
    planned_mg_per_kg_day: float | None = Field(
        default=None, description="Planned dose per kg, two decimals."
    )
    target_mg_per_day: float | None = Field(default=None, description="The capsule plan's target.")
    capsule_plan: CapsulePlanOut | None = Field(
        default=None, description="The capsule plan, if one fits."
    )
    excluded_strengths_mg: list[int] = Field(description="Strengths left out (tartrazine).")
    cumulative: CumulativeOut | None = Field(
        default=None, description="Cumulative dose and progress."
    )
    course_days: Range | None = Field(
        default=None,
        description="Days to reach the cumulative target from zero at the target dose.",
    )
    notes: list[str] = Field(
        description="What could not be computed and why, and other statements."
    )


class RuleRef(Wire):
    """A rule ID with a status."""

    rule_id: str = Field(description="Rule ID.")
    status: Status = Field(description="Its status.")


class NotAssessedOut(Wire):
    """A non-gating unknown: listed, never changes the decision."""

    rule_id: str = Field(description="Rule ID.")
    missing: list[str] = Field(description="The inputs it lacks.")


class IndicationOut(Wire):
    """The indication status (RULES §4)."""

    status: IndicationStatus = Field(description="Indication status.")
    labelled_missing: list[str] = Field(
        description="When `indication.labelled` is unknown: the inputs it lacks."
    )


class EvaluationContext(Wire):
    """What every evaluation records (RULES §0.3)."""

    as_of: CalendarDate = Field(description="The evaluation date used.")
    jurisdiction: Jurisdiction = Field(description="The jurisdiction.")
    epoch: str = Field(
        description="The profile in force: `US/pre-2026`, `US/ipledge-2026`, `EU`, `UK/pre-2023`, `UK/2023`, `UK/2026`."
    )
    lab_profile: LabProfile = Field(description="The lab schedule used.")
    visit_type: VisitType = Field(description="The visit type used.")
    ruleset_version: str = Field(description="Rule-set version.")
    catalogue_hash: str = Field(description="SHA-256 of the catalogue and the settings in force.")


UNRECOGNISED_DESCRIPTION = (
    "The display or text of each current medication that matched no ingredient set, synonym or "
    "brand of the catalogue and is not known to be unrelated (RULES §13): shown so the clinician "
    "sees what the service could not classify. It changes no decision. `[]` when medications "
    "were not given."
)


class AssessmentOut(EvaluationContext):
    """The full evaluation."""

    decision: Decision = Field(
        description="The decision (RULES §0.4). At follow-ups: may this month's prescription be issued."
    )
    decision_basis: list[RuleRef] = Field(
        description="The rule IDs and statuses that chose the decision."
    )
    not_before: CalendarDate | None = Field(
        default=None,
        description="The earliest date the decision can become `start` (time-limited blockers).",
    )
    not_assessed: list[NotAssessedOut] = Field(
        description="Non-gating unknowns with their missing inputs."
    )
    indication: IndicationOut = Field(description="The indication status.")
    findings: list[FindingOut] = Field(
        description="Findings sorted by severity, status, then rule ID."
    )
    checklist: list[ChecklistEntry] = Field(
        description="The checklist: the findings that carry an item."
    )
    dosing: DosingPlanOut = Field(description="The dosing plan.")
    unrecognised_medications: list[str] = Field(
        description=UNRECOGNISED_DESCRIPTION,
    )


class ChecklistOut(EvaluationContext):
    """The checklist alone."""

    checklist: list[ChecklistEntry] = Field(description="The checklist items of this visit.")
    unrecognised_medications: list[str] = Field(description=UNRECOGNISED_DESCRIPTION)


class DosingPlanResponse(Wire):
    """The dosing plan with the dosing findings."""

    as_of: CalendarDate = Field(description="The evaluation date used.")
    jurisdiction: Jurisdiction = Field(description="The jurisdiction.")
    ruleset_version: str = Field(description="Rule-set version.")
    catalogue_hash: str = Field(description="SHA-256 of the catalogue and the settings in force.")
    dosing: DosingPlanOut = Field(description="The dosing plan.")
    findings: list[FindingOut] = Field(
        description="The `dosing.*` findings (e.g. `dosing.above-maximum`)."
    )


def context_of(ev: Evaluation) -> dict[str, Any]:
    """The shared evaluation fields."""
    return {
        "as_of": ev.as_of,
        "jurisdiction": ev.jurisdiction,
        "epoch": ev.epoch,
        "lab_profile": ev.lab_profile,
        "visit_type": ev.visit_type,
        "ruleset_version": ev.ruleset_version,
        "catalogue_hash": ev.catalogue_hash,
    }


@lru_cache(maxsize=1024)
def source_wire(c: Citation) -> dict[str, Any]:
    """A citation as wire data (the register is static: cached)."""
    return {
        "id": c.source,
        "citation": SOURCES_BY_ID[c.source].citation,
        "section": c.section or None,
        "url": c.url,
    }


def finding_wire(x: Finding) -> dict[str, Any]:
    """A finding as wire data (:class:`FindingOut`)."""
    item = x.item
    return {
        "rule_id": x.rule_id,
        "rule_version": x.rule_version,
        "variant": x.variant,
        "kind": x.kind,
        "title": x.title,
        "severity": x.severity,
        "status": x.status,
        "effect": x.effect,
        "gating": x.gating,
        "text": x.text,
        "triggers": x.triggers,
        "missing": x.missing,
        "notes": x.notes,
        "match_basis": x.match_basis,
        "item": None
        if item is None
        else {
            "category": item.category,
            "state": item.state,
            "due_from": item.due_from,
            "due_by": item.due_by,
            "codes": item.codes,
            "satisfied_by": item.satisfied_by,
        },
        "not_before": x.not_before,
        "sources": [source_wire(c) for c in x.citations],
        "basis": x.basis,
        "verification": x.verification,
        "data": dict(x.data),
    }


def checklist_wire(f: dict[str, Any]) -> dict[str, Any]:
    """The checklist view of a finding's wire data (:class:`ChecklistEntry`)."""
    item = f["item"]
    return {
        "rule_id": f["rule_id"],
        "title": f["title"],
        **item,
        "text": f["text"],
        "notes": f["notes"],
        "severity": f["severity"],
        "verification": f["verification"],
        "sources": f["sources"],
    }


def _range(pair: tuple[float, float] | tuple[int, int] | None) -> dict[str, float] | None:
    return None if pair is None else {"low": pair[0], "high": pair[1]}


def cumulative_wire(c: Cumulative | None) -> dict[str, Any] | None:
    """Cumulative dose and progress as wire data (:class:`CumulativeOut`)."""
    if c is None:
        return None
    return {
        "mg": c.mg,
        "conventional_equivalent": c.conventional_equivalent,
        "weight_kg": c.weight_kg,
        "weight_basis": c.weight_basis,
        "mg_per_kg": c.mg_per_kg,
        "target_mg_per_kg": _range(c.target_mg_per_kg),
        "target_mg": _range(c.target_mg),
        "remaining_mg": _range(c.remaining_mg),
        "daily_mg": c.daily_mg,
        "days_remaining": _range(c.days_remaining),
    }


def dosing_wire(p: DosingPlan) -> dict[str, Any]:
    """A dosing plan as wire data (:class:`DosingPlanOut`)."""
    plan = p.capsule_plan
    return {
        "product": p.product,
        "weight_kg": p.weight_kg,
        "weight_measured_on": p.weight_measured_on,
        "regimen": p.regimen,
        "doses_per_day": p.doses_per_day,
        "range_mg_per_kg_day": _range(p.range_mg_per_kg_day),
        "range_mg_per_day": _range(p.range_mg_per_day),
        "maximum": {
            "mg_per_kg_day": p.maximum.mg_per_kg_day,
            "mg_per_day": p.maximum_mg_per_day,
            "tier": p.maximum.tier,
            "would_raise": p.maximum.would_raise,
        },
        "planned_mg_per_day": p.planned_mg_per_day,
        "planned_mg_per_kg_day": p.planned_mg_per_kg_day,
        "target_mg_per_day": p.target_mg_per_day,
        "capsule_plan": None
        if plan is None
        else {
            "doses": [{"capsules_mg": d.capsules_mg, "mg": d.mg} for d in plan.doses],
            "mg_per_day": plan.mg_per_day,
            "mg_per_kg_day": plan.mg_per_kg_day,
            "capsules_per_day": plan.capsules_per_day,
        },
        "excluded_strengths_mg": p.excluded_strengths_mg,
        "cumulative": cumulative_wire(p.cumulative),
        "course_days": _range(p.course_days),
        "notes": p.notes,
    }


def assessment_out(ev: Evaluation) -> AssessmentOut:
    """The wire form of an evaluation."""
    findings = [finding_wire(x) for x in ev.findings]
    return AssessmentOut.model_validate(
        {
            **context_of(ev),
            "decision": ev.decision,
            "decision_basis": [
                {"rule_id": b.rule_id, "status": b.status} for b in ev.decision_basis
            ],
            "not_before": ev.not_before,
            "not_assessed": [{"rule_id": n.rule_id, "missing": n.missing} for n in ev.not_assessed],
            "indication": {
                "status": ev.indication_status,
                "labelled_missing": ev.indication_missing,
            },
            "findings": findings,
            "checklist": [checklist_wire(x) for x in findings if x["item"] is not None],
            "dosing": dosing_wire(ev.dosing),
            "unrecognised_medications": ev.unrecognised_medications,
        }
    )


def checklist_out(ev: Evaluation) -> ChecklistOut:
    """The checklist view of an evaluation."""
    entries = [checklist_wire(finding_wire(x)) for x in ev.checklist]
    return ChecklistOut.model_validate(
        {
            **context_of(ev),
            "checklist": entries,
            "unrecognised_medications": ev.unrecognised_medications,
        }
    )
