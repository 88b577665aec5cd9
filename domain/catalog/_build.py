"""Shorthands for writing rules so that a catalogue module reads like an excerpt of RULES.md."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from domain.errors import CatalogError
from domain.rules import Check, Citation, Rule, Tier, Variant, cite, default_effect
from domain.sources import SOURCES_BY_ID
from domain.vocab import (
    Basis,
    Effect,
    ItemCategory,
    Jurisdiction,
    RuleKind,
    Severity,
    Verification,
)

US = frozenset({Jurisdiction.US})
EU = frozenset({Jurisdiction.EU})
UK = frozenset({Jurisdiction.UK})
EU_UK = frozenset({Jurisdiction.EU, Jurisdiction.UK})
ALL = frozenset({Jurisdiction.US, Jurisdiction.EU, Jurisdiction.UK})

CRITICAL, WARNING, INFO = Severity.CRITICAL, Severity.WARNING, Severity.INFO
PRIMARY, SECONDARY, UNVERIFIED = (
    Verification.PRIMARY,
    Verification.SECONDARY,
    Verification.UNVERIFIED,
)
LOCAL = Basis.LOCAL_POLICY

UK_2023_FROM = date(2023, 10, 31)
UK_2023_TO = date(2026, 1, 21)
UK_2026_FROM = date(2026, 1, 22)

__all__ = [
    "ALL",
    "CRITICAL",
    "EU",
    "EU_UK",
    "INFO",
    "LOCAL",
    "PRIMARY",
    "SECONDARY",
    "UK",
    "UNVERIFIED",
    "US",
    "WARNING",
    "Epochs",
    "V",
    "cite",
    "eu_and_early_uk",
    "rule",
]


@dataclass(frozen=True, slots=True)
class Epochs:
    """The dated US profile bounds of RULES §2 for the configured ``ipledge-2026`` date."""

    ipledge_2026: date

    @property
    def pre_2026_to(self) -> date:
        """Last day of ``US/pre-2026``."""
        return self.ipledge_2026 - timedelta(days=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class V:
    """A variant before its rule's kind supplies the RULES §0.4 defaults.

    ``basis`` defaults to the kind of the first cited source (RULES §0.2); ``effect`` and
    ``gates`` default by severity and kind (RULES §0.4). A "by analogy" variant passes
    ``basis=LOCAL`` and ``verification=UNVERIFIED``.
    """

    label: str
    where: frozenset[Jurisdiction]
    severity: Severity
    check: Check
    text: str
    cites: tuple[Citation, ...]
    verification: Verification
    basis: Basis | None = None
    effect: Effect | None = None
    gates: bool | None = None
    start: date | None = None
    end: date | None = None
    tiers: tuple[Tier, ...] = ()
    category: ItemCategory | None = None


def rule(rule_id: str, title: str, *variants: V, version: int = 1) -> Rule:
    """Build a rule; the kind is the ID's first segment."""
    kind = RuleKind(rule_id.split(".", 1)[0])
    return Rule(
        id=rule_id,
        version=version,
        kind=kind,
        title=title,
        variants=tuple(_variant(kind, v) for v in variants),
    )


def _variant(kind: RuleKind, v: V) -> Variant:
    effect = v.effect if v.effect is not None else default_effect(kind, v.severity)
    gates = v.gates if v.gates is not None else v.severity is Severity.CRITICAL
    if kind in (RuleKind.MONITORING, RuleKind.COUNSELLING):
        gates = False if v.gates is None else v.gates
    basis = v.basis
    if basis is None and v.cites:
        source = SOURCES_BY_ID.get(v.cites[0].source)
        if source is None:
            raise CatalogError(f"{v.label}: unknown source {v.cites[0].source}")
        basis = source.basis
    if basis is None:
        basis = Basis.LOCAL_POLICY
    return Variant(
        label=v.label,
        jurisdictions=v.where,
        effective_from=v.start,
        effective_to=v.end,
        severity=v.severity,
        effect=effect,
        gates_when_unknown=gates,
        check=v.check,
        text=v.text,
        citations=v.cites,
        basis=basis,
        verification=v.verification,
        tiers=v.tiers,
        category=v.category,
    )


def eu_and_early_uk(**fields: Any) -> tuple[V, V]:
    """An EU variant, also in force in the UK before 2023-10-31.

    RULES §2: in the UK before 2023-10-31 "the EU variants apply". Both halves carry the label
    given (normally ``EU``).
    """
    eu = V(where=EU, **fields)
    return eu, replace(eu, where=UK, end=UK_2023_FROM - timedelta(days=1))
