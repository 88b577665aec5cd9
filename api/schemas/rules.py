"""The rule catalogue and the source register on the wire."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from api.schemas.common import CalendarDate, Wire
from api.schemas.evaluation import SourceRef, source_wire
from domain.rules import Rule, Tier, Variant
from domain.sources import Source
from domain.vocab import (
    Basis,
    Effect,
    ItemCategory,
    Jurisdiction,
    RuleKind,
    Severity,
    Verification,
)


def _refs(variant: Variant) -> list[SourceRef]:
    return [SourceRef.model_validate(source_wire(c)) for c in variant.citations]


class TierOut(Wire):
    """An alternative severity within a variant, chosen by the facts (e.g. peanut without soy)."""

    name: str = Field(description="Tier name, shown in the finding's variant.")
    severity: Severity = Field(description="Severity for that case.")
    decision_effect: Effect = Field(description="Its decision effect.")
    gates_when_unknown: bool = Field(description="Its gating when unknown.")
    text: str = Field(description="Its action text.")
    basis: Basis = Field(description="Its basis.")
    verification: Verification = Field(description="Its verification.")

    @classmethod
    def from_domain(cls, t: Tier) -> TierOut:
        """The wire form of a tier."""
        return cls(
            name=t.name,
            severity=t.severity,
            decision_effect=t.effect,
            gates_when_unknown=t.gates_when_unknown,
            text=t.text,
            basis=t.basis,
            verification=t.verification,
        )


class VariantOut(Wire):
    """One jurisdiction-and-epoch version of a rule (RULES §0.1)."""

    label: str = Field(description="Jurisdiction and epoch, e.g. `US/ipledge-2026`.")
    jurisdictions: list[Jurisdiction] = Field(description="Where it applies.")
    effective_from: CalendarDate | None = Field(
        default=None, description="First day in force (inclusive); null: open-ended."
    )
    effective_to: CalendarDate | None = Field(
        default=None, description="Last day in force (inclusive); null: open-ended."
    )
    severity: Severity = Field(description="The CDS Hooks indicator.")
    decision_effect: Effect = Field(description="Effect on the decision when it applies.")
    gates_when_unknown: bool = Field(
        description="Whether `unknown` holds the decision at needs-information."
    )
    text: str = Field(description="The plain-language action.")
    category: ItemCategory | None = Field(default=None, description="Checklist item category.")
    sources: list[SourceRef] = Field(description="Citations with sections and urls.")
    basis: Basis = Field(description="Kind of the first cited source, or `local-policy`.")
    verification: Verification = Field(description="Verification.")
    tiers: list[TierOut] = Field(description="Alternative severities the facts may select.")

    @classmethod
    def from_domain(cls, v: Variant) -> VariantOut:
        """The wire form of a variant."""
        return cls(
            label=v.label,
            jurisdictions=sorted(v.jurisdictions, key=lambda j: j.value),
            effective_from=v.effective_from,
            effective_to=v.effective_to,
            severity=v.severity,
            decision_effect=v.effect,
            gates_when_unknown=v.gates_when_unknown,
            text=v.text,
            category=v.category,
            sources=_refs(v),
            basis=v.basis,
            verification=v.verification,
            tiers=[TierOut.from_domain(t) for t in v.tiers],
        )


class RuleOut(Wire):
    """A rule of the catalogue."""

    id: str = Field(description="Stable ID: never renamed, never reused.")
    version: int = Field(description="+1 on any change to the rule or its variants.")
    kind: RuleKind = Field(description="The ID's first segment.")
    title: str = Field(description="Short plain-language name.")
    checklist: bool = Field(description="Whether it is a checklist rule.")
    retired: bool = Field(
        description="No longer evaluated for any date (listed so the ID is never reused)."
    )
    expired: bool = Field(
        description="Its last variant ended before the `as_of` filter date; still evaluated for earlier dates."
    )
    verification: Verification = Field(description="The weakest verification of its variants.")
    sources: list[str] = Field(description="The union of its variants' source IDs.")
    variants: list[VariantOut] = Field(description="Its variants.")

    @classmethod
    def from_domain(cls, r: Rule, on: date) -> RuleOut:
        """The wire form of a rule, with ``expired`` computed for ``on``."""
        return cls(
            id=r.id,
            version=r.version,
            kind=r.kind,
            title=r.title,
            checklist=r.is_checklist,
            retired=r.retired,
            expired=r.expired(on),
            verification=r.verification,
            sources=list(r.sources),
            variants=[VariantOut.from_domain(v) for v in r.variants],
        )


class RuleList(Wire):
    """The catalogue, filtered."""

    ruleset_version: str = Field(description="Rule-set version.")
    catalogue_hash: str = Field(description="SHA-256 of the catalogue and the settings in force.")
    as_of: CalendarDate = Field(description="The date `expired` was computed for.")
    rules: list[RuleOut] = Field(description="The rules, sorted by ID.")


class SourceOut(Wire):
    """An entry of the source register (RULES §1)."""

    id: str = Field(description="Source ID.")
    citation: str = Field(description="The document.")
    notes: str = Field(description="Version and what was checked.")
    url: str | None = Field(default=None, description="Public address, when known.")
    basis: Basis = Field(description="The basis a variant has when this source is cited first.")

    @classmethod
    def from_domain(cls, s: Source) -> SourceOut:
        """The wire form of a source."""
        return cls(id=s.id, citation=s.citation, notes=s.notes, url=s.url, basis=s.basis)


class SourceList(Wire):
    """The source register."""

    sources: list[SourceOut] = Field(description="Every source the rules cite.")
