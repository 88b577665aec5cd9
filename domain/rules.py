"""Rules as frozen data (RULES §0.1–§0.2): ID, version, kind, title, and dated variants.

A rule has one stable ID and one or more variants. For an evaluation exactly one variant is
selected by (jurisdiction, ``as_of``), or none, and then the rule is not evaluated. The logic of a
variant is its ``check``: a small frozen value whose ``run`` returns a three-valued
:class:`Outcome`. The catalogue refuses to load a variant without a source, a duplicate ID,
overlapping variants for one jurisdiction and date, or an ID whose prefix is not its kind.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from domain.errors import CatalogError, RuleNotFoundError
from domain.sources import SOURCES_BY_ID
from domain.vocab import (
    VERIFICATION_STRENGTH,
    Basis,
    Effect,
    ItemCategory,
    ItemState,
    Jurisdiction,
    MatchBasis,
    RuleKind,
    Severity,
    Verification,
)

if TYPE_CHECKING:
    from domain.context import Context


@dataclass(frozen=True, slots=True)
class Citation:
    """A citation: a source ID of RULES §1 and the section relied on.

    Attributes:
        source: Source ID, e.g. ``fda-label-absorica``.
        section: Section, e.g. ``§5.5``; empty when the whole document is meant.
    """

    source: str
    section: str = ""

    @property
    def url(self) -> str | None:
        """The source's public address from the register, or ``None``."""
        return SOURCES_BY_ID[self.source].url

    @property
    def label(self) -> str:
        """Human-readable citation, e.g. ``fda-label-absorica §5.5``."""
        return f"{self.source} {self.section}".strip()


def cite(source: str, section: str = "") -> Citation:
    """Shorthand for :class:`Citation`."""
    return Citation(source, section)


class Item(NamedTuple):
    """The checklist part of a finding (RULES §0.3, §9).

    Results are immutable named tuples: evaluations build many of them, and a tuple is several
    times cheaper to create than a frozen dataclass.

    Attributes:
        category: ``lab``, ``pregnancy-test``, ``contraception``…
        state: ``due``, ``overdue``, ``done`` or ``not-required``.
        due_from: First day of the item's window (inclusive), if it has one.
        due_by: Last day of the window (inclusive), if it has one.
        codes: LOINC codes for lab items.
        satisfied_by: The fact that made it ``done``, in words.
    """

    category: ItemCategory
    state: ItemState
    due_from: date | None = None
    due_by: date | None = None
    codes: tuple[str, ...] = ()
    satisfied_by: str | None = None


class Outcome(NamedTuple):
    """What a variant's check says: a Kleene truth value and its evidence (an immutable tuple).

    Attributes:
        truth: ``True`` (applies), ``None`` (unknown) or ``False`` (does not apply).
        triggers: The facts that made it apply, in words.
        missing: The inputs whose absence makes it unknown.
        notes: Further statements for the finding (e.g. "fasting not confirmed").
        match_basis: For medication rules: how the medication matched.
        item: For checklist rules: the item.
        not_before: For a time-limited blocker: the date it lapses.
        tier: The name of a :class:`Tier` of the variant that applies instead of its defaults.
        data: Structured values for the finding (e.g. a lab value and its threshold).
    """

    truth: bool | None
    triggers: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    match_basis: MatchBasis | None = None
    item: Item | None = None
    not_before: date | None = None
    tier: str | None = None
    data: tuple[tuple[str, Any], ...] = ()


FALSE = Outcome(False)


def unknown(*missing: str, notes: tuple[str, ...] = ()) -> Outcome:
    """An unknown outcome naming its missing inputs."""
    return Outcome(None, missing=missing, notes=notes)


def applies(*triggers: str, **kwargs: Any) -> Outcome:
    """An applying outcome with its triggering facts."""
    return Outcome(True, triggers=triggers, **kwargs)


def any_of(outcomes: Iterable[Outcome]) -> Outcome:
    """Kleene OR: true if any is true; else unknown if any is unknown; else false."""
    trues: list[Outcome] = []
    unknowns: list[Outcome] = []
    for o in outcomes:
        if o.truth is True:
            trues.append(o)
        elif o.truth is None:
            unknowns.append(o)
    if trues:
        return _merge(True, trues)
    if unknowns:
        return _merge(None, unknowns)
    return FALSE


def all_of(outcomes: Iterable[Outcome]) -> Outcome:
    """Kleene AND: false if any is false; else unknown if any is unknown; else true."""
    items = list(outcomes)
    if any(o.truth is False for o in items):
        return FALSE
    unknowns = [o for o in items if o.truth is None]
    if unknowns:
        return _merge(None, unknowns)
    return _merge(True, items)


def _merge(truth: bool | None, parts: list[Outcome]) -> Outcome:
    if len(parts) == 1 and parts[0].truth is truth:
        return parts[0]
    triggers = tuple(dict.fromkeys(t for p in parts for t in p.triggers))
    missing = tuple(dict.fromkeys(m for p in parts for m in p.missing))
    notes = tuple(dict.fromkeys(n for p in parts for n in p.notes))
    basis = next((p.match_basis for p in parts if p.match_basis is not None), None)
    data = tuple(d for p in parts for d in p.data)
    return Outcome(
        truth, triggers=triggers, missing=missing, notes=notes, match_basis=basis, data=data
    )


class Check(Protocol):
    """A variant's condition: a frozen value with a pure ``run``."""

    def run(self, ctx: Context) -> Outcome:
        """Evaluate against the facts of ``ctx``."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier:
    """An alternative severity within one variant, chosen by the check (e.g. peanut without soy).

    Attributes:
        name: What the check returns in ``Outcome.tier``.
        severity: The severity for that case.
        effect: Its decision effect.
        gates_when_unknown: Its gating when unknown.
        text: Its action text.
        basis: Its basis.
        verification: Its verification.
    """

    name: str
    severity: Severity
    effect: Effect
    gates_when_unknown: bool
    text: str
    basis: Basis
    verification: Verification


_CHECKLIST_KINDS = frozenset({RuleKind.MONITORING, RuleKind.COUNSELLING, RuleKind.DOCUMENTATION})


def default_effect(kind: RuleKind, severity: Severity) -> Effect:
    """RULES §0.4 defaults: critical blocks; warning cautions; info and monitoring do nothing."""
    if kind in (RuleKind.MONITORING, RuleKind.COUNSELLING) or severity is Severity.INFO:
        return Effect.NONE
    if severity is Severity.CRITICAL:
        return Effect.BLOCK
    return Effect.CAUTION


@dataclass(frozen=True, slots=True, kw_only=True)
class Variant:
    """One jurisdiction-and-epoch version of a rule (RULES §0.1 variant fields).

    Attributes:
        label: Jurisdiction and epoch, e.g. ``US/ipledge-2026``; recorded in each finding.
        jurisdictions: Where it applies.
        effective_from: First day in force (inclusive); ``None`` = open-ended.
        effective_to: Last day in force (inclusive); ``None`` = open-ended.
        severity: ``critical``, ``warning`` or ``info``: the CDS Hooks indicator.
        effect: ``block``, ``caution`` or ``none`` when it applies (RULES §0.4).
        gates_when_unknown: Whether an ``unknown`` holds the decision at needs-information.
        check: The condition.
        text: The plain-language action the finding carries.
        citations: Sources with sections; at least one.
        basis: ``label``, ``rems``, ``regulator``, ``guideline``, ``evidence`` or ``local-policy``.
        verification: ``primary``, ``secondary`` or ``unverified``.
        tiers: Alternative severities the check may select.
        category: For checklist rules: the item category.
    """

    label: str
    jurisdictions: frozenset[Jurisdiction]
    effective_from: date | None = None
    effective_to: date | None = None
    severity: Severity
    effect: Effect
    gates_when_unknown: bool
    check: Check
    text: str
    citations: tuple[Citation, ...]
    basis: Basis
    verification: Verification
    tiers: tuple[Tier, ...] = ()
    category: ItemCategory | None = None

    def in_force(self, jurisdiction: Jurisdiction, on: date) -> bool:
        """Whether this variant is selected for ``jurisdiction`` on ``on`` (inclusive bounds)."""
        if jurisdiction not in self.jurisdictions:
            return False
        if self.effective_from is not None and on < self.effective_from:
            return False
        return not (self.effective_to is not None and on > self.effective_to)

    def tier(self, name: str | None) -> Tier | None:
        """The tier called ``name``; ``None`` for the variant's own defaults."""
        if name is None:
            return None
        for t in self.tiers:
            if t.name == name:
                return t
        raise CatalogError(f"{self.label}: the check selected an undeclared tier {name!r}")


_ID = re.compile(r"^[a-z]+(\.[a-z0-9]+(-[a-z0-9]+)*)+$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A clinical rule: one stable ID, versioned, with its variants.

    Attributes:
        id: ``<kind>.<topic>[.<qualifier>]``; never renamed, never reused.
        version: +1 on any change to the rule or to any of its variants.
        kind: Equals the ID's first segment.
        title: Short plain-language name.
        variants: One or more; at most one in force per jurisdiction and date.
        retired: No longer evaluated for any ``as_of`` (listed so the ID is never reused).
    """

    id: str
    version: int
    kind: RuleKind
    title: str
    variants: tuple[Variant, ...]
    retired: bool = False

    @property
    def is_checklist(self) -> bool:
        """Checklist rules: monitoring, counselling, documentation and ``prescription.window``."""
        return self.kind in _CHECKLIST_KINDS or self.id == "prescription.window"

    def variant_for(self, jurisdiction: Jurisdiction, on: date) -> Variant | None:
        """The one variant in force, or ``None`` (then the rule is not evaluated)."""
        if self.retired:
            return None
        for v in self.variants:
            if v.in_force(jurisdiction, on):
                return v
        return None

    def expired(self, on: date) -> bool:
        """True when every variant has an end date and the last has passed by ``on``."""
        ends = [v.effective_to for v in self.variants]
        if any(e is None for e in ends):
            return False
        return max(e for e in ends if e is not None) < on

    @property
    def verification(self) -> Verification:
        """The weakest verification among the variants and their tiers (RULES §0.2)."""
        values = [v.verification for v in self.variants]
        values += [t.verification for v in self.variants for t in v.tiers]
        return min(values, key=VERIFICATION_STRENGTH.__getitem__)

    @property
    def sources(self) -> tuple[str, ...]:
        """The union of the variants' source IDs, in first-cited order."""
        return tuple(dict.fromkeys(c.source for v in self.variants for c in v.citations))


@dataclass(frozen=True, slots=True)
class Catalog:
    """The loaded, validated catalogue with its version and hash.

    Attributes:
        version: The rule-set version, e.g. ``2026.1``.
        rules: Every rule, sorted by ID.
        hash: SHA-256 over the rules, variants, checks and the settings in force.
    """

    version: str
    rules: tuple[Rule, ...]
    hash: str
    _by_id: dict[str, Rule] = field(repr=False, compare=False)
    _selected: dict[tuple[Jurisdiction, date], tuple[tuple[Rule, Variant], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def in_force(self, jurisdiction: Jurisdiction, on: date) -> tuple[tuple[Rule, Variant], ...]:
        """The (rule, variant) pairs evaluated for ``jurisdiction`` on ``on``, in ID order.

        Memoised per (jurisdiction, date): the selection is a pure function of the catalogue.
        """
        key = (jurisdiction, on)
        selected = self._selected.get(key)
        if selected is None:
            pairs = ((r, r.variant_for(jurisdiction, on)) for r in self.rules)
            selected = tuple((r, v) for r, v in pairs if v is not None)
            if len(self._selected) > 4096:
                self._selected.clear()
            self._selected[key] = selected
        return selected

    def rule(self, rule_id: str) -> Rule:
        """The rule with that ID (raises :class:`RuleNotFoundError`)."""
        try:
            return self._by_id[rule_id]
        except KeyError:
            raise RuleNotFoundError(rule_id) from None

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._by_id


def validate_rules(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """Check the catalogue invariants; return the rules sorted by ID.

    Raises:
        CatalogError: a malformed or duplicate ID, an ID whose prefix is not its kind, a rule
            without variants, a variant without a known source, an empty jurisdiction set, an
            inverted date window, or variants that overlap for one jurisdiction and date.
    """
    seen: dict[str, Rule] = {}
    for rule in rules:
        if not _ID.match(rule.id):
            raise CatalogError(f"{rule.id}: not a lower-case dotted rule ID")
        if rule.id.split(".", 1)[0] != rule.kind.value:
            raise CatalogError(f"{rule.id}: the ID's prefix is not its kind {rule.kind.value}")
        if rule.id in seen:
            raise CatalogError(f"{rule.id}: duplicate rule ID")
        if rule.version < 1:
            raise CatalogError(f"{rule.id}: version must be ≥ 1")
        if not rule.variants:
            raise CatalogError(f"{rule.id}: a rule needs at least one variant")
        for v in rule.variants:
            if not v.citations:
                raise CatalogError(f"{rule.id} {v.label}: a variant without a source is rejected")
            for c in v.citations:
                if c.source not in SOURCES_BY_ID:
                    raise CatalogError(f"{rule.id} {v.label}: unknown source {c.source}")
            if not v.jurisdictions:
                raise CatalogError(f"{rule.id} {v.label}: no jurisdiction")
            if v.effective_from and v.effective_to and v.effective_from > v.effective_to:
                raise CatalogError(f"{rule.id} {v.label}: effective_from is after effective_to")
        _check_overlaps(rule)
        seen[rule.id] = rule
    return tuple(seen[k] for k in sorted(seen))


def _check_overlaps(rule: Rule) -> None:
    for i, a in enumerate(rule.variants):
        for b in rule.variants[i + 1 :]:
            shared = a.jurisdictions & b.jurisdictions
            if not shared:
                continue
            start = max(a.effective_from or date.min, b.effective_from or date.min)
            end = min(a.effective_to or date.max, b.effective_to or date.max)
            if start <= end:
                where = ", ".join(sorted(j.value for j in shared))
                raise CatalogError(
                    f"{rule.id}: variants {a.label} and {b.label} overlap for {where} on {start}"
                )


def make_catalog(version: str, rules: Iterable[Rule], settings_fingerprint: Any) -> Catalog:
    """Validate ``rules`` and hash them together with the settings that shape them."""
    ordered = validate_rules(rules)
    payload = {
        "version": version,
        "settings": settings_fingerprint,
        "rules": [_rule_fingerprint(r) for r in ordered],
    }
    digest = hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()
    return Catalog(version, ordered, digest, {r.id: r for r in ordered})


def _rule_fingerprint(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "version": rule.version,
        "kind": rule.kind.value,
        "title": rule.title,
        "retired": rule.retired,
        "variants": [
            {
                "label": v.label,
                "jurisdictions": sorted(j.value for j in v.jurisdictions),
                "from": v.effective_from,
                "to": v.effective_to,
                "severity": v.severity.value,
                "effect": v.effect.value,
                "gates": v.gates_when_unknown,
                "check": repr(v.check),
                "text": v.text,
                "citations": [(c.source, c.section) for c in v.citations],
                "basis": v.basis.value,
                "verification": v.verification.value,
                "tiers": [repr(t) for t in v.tiers],
                "category": v.category.value if v.category else None,
            }
            for v in rule.variants
        ],
    }
