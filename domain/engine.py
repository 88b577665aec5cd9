"""The evaluation: facts + date + jurisdiction + settings → decision, findings, checklist, dose.

:func:`evaluate` is pure and deterministic: the same inputs always give the same output and
catalogue hash. It never reads a clock, the environment or a file, and it never logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from domain.catalog import build_catalog
from domain.checks.indication import indication_status, labelled
from domain.checks.matching import medication_label, unrecognised
from domain.context import Context
from domain.dosing import DosingPlan, dosing_plan
from domain.facts import Facts
from domain.rules import Catalog, Citation, Item, Outcome, Rule, Tier, Variant
from domain.settings import EvaluationSettings
from domain.validation import validate_facts
from domain.vocab import (
    SEVERITY_RANK,
    Basis,
    Decision,
    Effect,
    IndicationStatus,
    ItemState,
    Jurisdiction,
    LabProfile,
    MatchBasis,
    RuleKind,
    Severity,
    Status,
    Verification,
    VisitType,
)


class Finding(NamedTuple):
    """One rule's result for this evaluation (RULES §0.3 "Findings"); an immutable tuple.

    A finding keeps the rule, the variant in force and the check's outcome; the fields of RULES
    §0.3 are read from them (a tier of the variant, when selected, replaces its defaults).

    Attributes:
        rule: The rule.
        variant_in_force: The variant used.
        outcome: What the check said.
        status: ``applies`` or ``unknown``.
        effect: The effect on the decision (``none`` for a ``done``/``not-required`` item).
        tier: The tier of the variant that applies instead of its defaults, if any.
    """

    rule: Rule
    variant_in_force: Variant
    outcome: Outcome
    status: Status
    effect: Effect
    tier: Tier | None

    @property
    def rule_id(self) -> str:
        """The rule ID."""
        return self.rule.id

    @property
    def rule_version(self) -> int:
        """The rule's version."""
        return self.rule.version

    @property
    def variant(self) -> str:
        """The variant label (jurisdiction and epoch), with the tier name when one applies."""
        label = self.variant_in_force.label
        return f"{label} ({self.tier.name})" if self.tier else label

    @property
    def kind(self) -> RuleKind:
        """The rule kind."""
        return self.rule.kind

    @property
    def title(self) -> str:
        """The rule's title."""
        return self.rule.title

    @property
    def severity(self) -> Severity:
        """``critical``, ``warning`` or ``info``: the CDS Hooks indicator."""
        return self.tier.severity if self.tier else self.variant_in_force.severity

    @property
    def gating(self) -> bool:
        """Whether an ``unknown`` holds the decision at needs-information."""
        return (
            self.tier.gates_when_unknown if self.tier else self.variant_in_force.gates_when_unknown
        )

    @property
    def text(self) -> str:
        """The plain-language action."""
        return self.tier.text if self.tier else self.variant_in_force.text

    @property
    def basis(self) -> Basis:
        """The variant's (or tier's) basis."""
        return self.tier.basis if self.tier else self.variant_in_force.basis

    @property
    def verification(self) -> Verification:
        """The variant's (or tier's) verification."""
        return self.tier.verification if self.tier else self.variant_in_force.verification

    @property
    def citations(self) -> tuple[Citation, ...]:
        """Sources with sections."""
        return self.variant_in_force.citations

    @property
    def triggers(self) -> tuple[str, ...]:
        """The facts that triggered it."""
        return self.outcome.triggers

    @property
    def missing(self) -> tuple[str, ...]:
        """The inputs whose absence made it unknown."""
        return self.outcome.missing

    @property
    def notes(self) -> tuple[str, ...]:
        """Further statements."""
        return self.outcome.notes

    @property
    def match_basis(self) -> MatchBasis | None:
        """For medications: ``code``, ``name`` or ``brand``."""
        return self.outcome.match_basis

    @property
    def item(self) -> Item | None:
        """For checklist rules: the item."""
        return self.outcome.item

    @property
    def not_before(self) -> date | None:
        """For a time-limited blocker: the date it lapses."""
        return self.outcome.not_before

    @property
    def data(self) -> tuple[tuple[str, Any], ...]:
        """Structured values (e.g. a lab value, its conversion and threshold)."""
        return self.outcome.data


@dataclass(frozen=True, slots=True)
class BasisEntry:
    """A rule ID and status that chose the decision."""

    rule_id: str
    status: Status


@dataclass(frozen=True, slots=True)
class NotAssessed:
    """A non-gating ``unknown`` finding and the inputs it lacks."""

    rule_id: str
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluation:
    """The result of :func:`evaluate`.

    Attributes:
        as_of: The evaluation date.
        jurisdiction: The jurisdiction.
        epoch: The RULES §2 profile in force (``US/pre-2026``, ``UK/2026``…).
        lab_profile: ``label``, ``evidence`` or ``smpc``.
        visit_type: The visit type used.
        ruleset_version: The rule-set version.
        catalogue_hash: The hash of the catalogue and settings in force.
        decision: The decision (RULES §0.4).
        decision_basis: The rule IDs and statuses that chose it.
        not_before: The earliest date the decision can become ``start`` (time-limited blockers).
        not_assessed: Non-gating unknowns with their missing inputs.
        indication_status: ``labelled``, ``guideline-supported``, ``not-established`` or
            ``needs-information``.
        indication_missing: The inputs ``indication.labelled`` lacks when it is unknown.
        findings: Sorted by severity, status, then rule ID.
        dosing: The dosing plan.
        unrecognised_medications: The display or text of each current medication (or other
            draft order) that matched no value set and is not known to be unrelated (RULES §13);
            it changes no decision.
    """

    as_of: date
    jurisdiction: Jurisdiction
    epoch: str
    lab_profile: LabProfile
    visit_type: VisitType
    ruleset_version: str
    catalogue_hash: str
    decision: Decision
    decision_basis: tuple[BasisEntry, ...]
    not_before: date | None
    not_assessed: tuple[NotAssessed, ...]
    indication_status: IndicationStatus
    indication_missing: tuple[str, ...]
    findings: tuple[Finding, ...]
    dosing: DosingPlan
    unrecognised_medications: tuple[str, ...] = ()

    @property
    def checklist(self) -> tuple[Finding, ...]:
        """The checklist: the findings that carry an item (RULES §0.3 "Checklist rules")."""
        return tuple(f for f in self.findings if f.item is not None)

    def finding(self, rule_id: str) -> Finding | None:
        """The finding of ``rule_id``, if any."""
        return next((f for f in self.findings if f.rule_id == rule_id), None)

    @property
    def stop_rules(self) -> tuple[str, ...]:
        """The ``stop.*`` rules that apply, in the findings' order."""
        return tuple(
            f.rule_id
            for f in self.findings
            if f.kind is RuleKind.STOP and f.status is Status.APPLIES
        )

    @property
    def suspended(self) -> frozenset[str]:
        """The checklist items suspended while a stop rule applies (RULES §15).

        The prescription window, and the screening, confirmation and monthly tests while due or
        overdue; none when no stop rule applies.
        """
        if not self.stop_rules:
            return frozenset()
        return frozenset(
            f.rule_id
            for f in self.checklist
            if f.rule_id in SUSPENDED_WHILE_STOPPED
            and f.item is not None
            and (f.rule_id == "prescription.window" or f.item.state in _OPEN_STATES)
        )


_NO_EFFECT_STATES = (ItemState.DONE, ItemState.NOT_REQUIRED)
_OPEN_STATES = (ItemState.DUE, ItemState.OVERDUE)
# RULES §15: while a ``stop.*`` rule applies, nothing schedules the next prescription: the window
# and the pregnancy tests that lead to it are suspended. The end-of-therapy and post-therapy tests
# are what stopping requires and stay as the rules give them.
SUSPENDED_WHILE_STOPPED = frozenset(
    {
        "prescription.window",
        "monitoring.pregnancy-test.screening",
        "monitoring.pregnancy-test.confirmation",
        "monitoring.pregnancy-test.monthly",
    }
)
# The rules the indication status is computed from (RULES §4 "Indication status").
INDICATION_STATUS_RULES = frozenset(
    {"indication.labelled", "indication.guideline", "indication.not-established"}
)


def _finding(rule: Rule, variant: Variant, outcome: Outcome) -> Finding:
    tier = variant.tier(outcome.tier)
    effect = tier.effect if tier else variant.effect
    item = outcome.item
    if item is not None and item.state in _NO_EFFECT_STATES:
        effect = Effect.NONE
    status = Status.APPLIES if outcome.truth else Status.UNKNOWN
    return Finding(rule, variant, outcome, status, effect, tier)


def _sort_key(f: Finding) -> tuple[int, int, str]:
    return (SEVERITY_RANK[f.severity], 0 if f.status is Status.APPLIES else 1, f.rule_id)


def evaluate(
    facts: Facts,
    as_of: date,
    jurisdiction: Jurisdiction,
    settings: EvaluationSettings | None = None,
    *,
    catalog: Catalog | None = None,
    supply_from_dispensings: bool = False,
) -> Evaluation:
    """Evaluate ``facts`` on ``as_of`` in ``jurisdiction``.

    Args:
        facts: The patient's facts (RULES §0.6).
        as_of: The evaluation date; records dated after it are not used.
        jurisdiction: ``US``, ``EU`` or ``UK``.
        settings: The deployment's clinical settings (default: the defaults of the settings
            table).
        catalog: A prebuilt catalogue for ``settings`` (default: built and cached).
        supply_from_dispensings: Also judge the recorded dispensings against
            ``prescription.supply-limit`` (a course's checklist); by default only a planned supply
            is judged, so a past dispensing never blocks this month's prescription.

    Returns:
        The evaluation.

    Raises:
        InputError: an impossible value, an unknown unit or code; each issue names its field.
    """
    settings = settings or EvaluationSettings()
    validate_facts(facts, as_of, jurisdiction)
    catalog = catalog or build_catalog(settings)
    ctx = Context(
        facts, as_of, jurisdiction, settings, supply_from_dispensings=supply_from_dispensings
    )
    findings: list[Finding] = []
    for rule, variant in catalog.in_force(jurisdiction, as_of):
        outcome = variant.check.run(ctx)
        if outcome.truth is False:
            continue
        findings.append(_finding(rule, variant, outcome))
    findings.sort(key=_sort_key)
    status = indication_status(ctx)
    decision, basis, not_before = _decide(findings, status)
    lab = labelled(ctx)
    return Evaluation(
        as_of=as_of,
        jurisdiction=jurisdiction,
        epoch=ctx.epoch,
        lab_profile=ctx.lab_profile,
        visit_type=ctx.visit_type,
        ruleset_version=catalog.version,
        catalogue_hash=catalog.hash,
        decision=decision,
        decision_basis=basis,
        not_before=not_before,
        not_assessed=tuple(
            NotAssessed(f.rule_id, f.missing)
            for f in findings
            if f.status is Status.UNKNOWN and not f.gating
        ),
        indication_status=status,
        indication_missing=lab.missing if lab.truth is None else (),
        findings=tuple(findings),
        dosing=dosing_plan(ctx),
        unrecognised_medications=tuple(
            dict.fromkeys(
                medication_label(m)
                for m in ctx.medications or ()
                if unrecognised(m, settings.local_policy)
            )
        ),
    )


def _decide(
    findings: list[Finding], status: IndicationStatus
) -> tuple[Decision, tuple[BasisEntry, ...], date | None]:
    """RULES §0.4: the first of do-not-start, needs-information, with-precautions, start."""
    blocks = [f for f in findings if f.status is Status.APPLIES and f.effect is Effect.BLOCK]
    if blocks:
        lapses = [f.not_before for f in blocks if f.not_before is not None]
        return (
            Decision.DO_NOT_START,
            tuple(BasisEntry(f.rule_id, f.status) for f in blocks),
            max(lapses) if lapses else None,
        )
    gating = [f for f in findings if f.status is Status.UNKNOWN and f.gating]
    if gating or status is IndicationStatus.NEEDS_INFORMATION:
        basis = [BasisEntry(f.rule_id, f.status) for f in gating]
        if status is IndicationStatus.NEEDS_INFORMATION:
            basis += [
                BasisEntry(f.rule_id, f.status)
                for f in findings
                if f.rule_id in INDICATION_STATUS_RULES and f.status is Status.UNKNOWN
            ]
        return Decision.NEEDS_INFORMATION, tuple(basis), None
    cautions = [f for f in findings if f.status is Status.APPLIES and f.effect is Effect.CAUTION]
    if cautions:
        return (
            Decision.START_WITH_PRECAUTIONS,
            tuple(BasisEntry(f.rule_id, f.status) for f in cautions),
            None,
        )
    return Decision.START, (), None
