"""The rule catalogue: load-time invariants, retired/expired, verification, hash, local policy.

RULES §0.1 (fields), §0.2 (variants, retired, expired, local policy in the hash), §0.4 (defaults
and overrides), §13 (value-set additions).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from domain.catalog import build_catalog
from domain.catalog._build import (
    CRITICAL,
    EU,
    EU_UK,
    INFO,
    LOCAL,
    PRIMARY,
    SECONDARY,
    UK,
    UNVERIFIED,
    US,
    WARNING,
    V,
    cite,
    rule,
)
from domain.checks.common import Always
from domain.errors import CatalogError, PolicyError
from domain.facts import Coding, Medication
from domain.rules import Catalog, Rule, Variant, validate_rules
from domain.settings import EvaluationSettings, LocalPolicy
from domain.vocab import (
    Basis,
    Effect,
    Jurisdiction,
    LabProfile,
    MatchBasis,
    RuleKind,
    Severity,
    Status,
    Verification,
)
from tests.factories import a1, lab, run, status_of

DEFAULT = EvaluationSettings()
TODAY = date(2026, 3, 1)


def _catalog(settings: EvaluationSettings = DEFAULT) -> Catalog:
    return build_catalog(settings)


def _v(label: str = "US", **kw: Any) -> V:
    """A minimal valid variant shorthand (overridable)."""
    fields: dict[str, Any] = {
        "label": label,
        "where": US,
        "severity": WARNING,
        "check": Always(),
        "text": "test text",
        "cites": (cite("fda-label-absorica", "§5.4"),),
        "verification": PRIMARY,
    }
    fields.update(kw)
    return V(**fields)


def _variant(label: str = "US") -> Variant:
    return Variant(
        label=label,
        jurisdictions=US,
        severity=Severity.WARNING,
        effect=Effect.CAUTION,
        gates_when_unknown=False,
        check=Always(),
        text="test text",
        citations=(cite("fda-label-absorica", "§5.4"),),
        basis=Basis.LABEL,
        verification=Verification.PRIMARY,
    )


# --- the catalogue refuses to load --------------------------------------------------------------


def test_a_valid_test_rule_loads() -> None:
    good = rule("precaution.test-rule", "Test", _v())
    assert validate_rules([good]) == (good,)


def test_the_shipped_catalogue_loads_and_revalidates() -> None:
    catalog = _catalog()
    assert catalog.rules
    assert validate_rules(catalog.rules) == catalog.rules
    assert [r.id for r in catalog.rules] == sorted(r.id for r in catalog.rules)


def test_a_variant_without_a_source_is_rejected() -> None:
    bad = rule("precaution.test-rule", "Test", _v(cites=()))
    with pytest.raises(CatalogError, match="without a source"):
        validate_rules([bad])


def test_a_variant_without_a_source_is_rejected_among_good_variants() -> None:
    bad = Rule(
        id="precaution.test-rule",
        version=1,
        kind=RuleKind.PRECAUTION,
        title="Test",
        variants=(
            _variant("US"),
            Variant(
                label="EU/UK",
                jurisdictions=EU_UK,
                severity=Severity.WARNING,
                effect=Effect.CAUTION,
                gates_when_unknown=False,
                check=Always(),
                text="test",
                citations=(),
                basis=Basis.LOCAL_POLICY,
                verification=Verification.UNVERIFIED,
            ),
        ),
    )
    with pytest.raises(CatalogError, match="without a source"):
        validate_rules([bad])


def test_a_duplicate_id_is_rejected() -> None:
    one = rule("precaution.test-rule", "Test", _v())
    two = rule("precaution.test-rule", "Test again", _v(where=EU_UK, label="EU/UK"))
    with pytest.raises(CatalogError, match="duplicate"):
        validate_rules([one, two])


def test_a_duplicate_of_a_shipped_id_is_rejected() -> None:
    catalog = _catalog()
    copy = rule("stop.mood", "Another stop.mood", _v(severity=CRITICAL))
    with pytest.raises(CatalogError, match="duplicate"):
        validate_rules([*catalog.rules, copy])


def test_open_ended_variants_for_one_jurisdiction_overlap() -> None:
    bad = rule("precaution.test-rule", "Test", _v(label="US/a"), _v(label="US/b"))
    with pytest.raises(CatalogError, match="overlap"):
        validate_rules([bad])


def test_variants_sharing_one_day_overlap() -> None:
    bad = rule(
        "precaution.test-rule",
        "Test",
        _v(label="US/a", end=date(2026, 8, 8)),
        _v(label="US/b", start=date(2026, 8, 8)),
    )
    with pytest.raises(CatalogError, match="overlap"):
        validate_rules([bad])


def test_variants_overlapping_in_one_of_their_jurisdictions_overlap() -> None:
    bad = rule(
        "precaution.test-rule",
        "Test",
        _v(label="US/EU", where=US | EU),
        _v(label="EU/UK", where=EU_UK),
    )
    with pytest.raises(CatalogError, match="overlap"):
        validate_rules([bad])


def test_adjacent_or_disjoint_variants_do_not_overlap() -> None:
    adjacent = rule(
        "precaution.test-rule",
        "Test",
        _v(label="US/a", end=date(2026, 8, 7)),
        _v(label="US/b", start=date(2026, 8, 8)),
        _v(label="UK", where=UK),
    )
    assert validate_rules([adjacent]) == (adjacent,)


def test_an_id_whose_prefix_is_not_its_kind_is_rejected() -> None:
    bad = Rule(
        id="precaution.test-rule",
        version=1,
        kind=RuleKind.MONITORING,
        title="Test",
        variants=(_variant(),),
    )
    with pytest.raises(CatalogError, match="prefix"):
        validate_rules([bad])


def test_an_unknown_source_id_is_rejected() -> None:
    bad = rule(
        "precaution.test-rule",
        "Test",
        _v(cites=(cite("no-such-source", "§1"),), basis=LOCAL, verification=UNVERIFIED),
    )
    with pytest.raises(CatalogError, match="no-such-source"):
        validate_rules([bad])


def test_an_unknown_source_id_is_rejected_as_a_dataclass() -> None:
    variant = _variant()
    bad = Rule(
        id="precaution.test-rule",
        version=1,
        kind=RuleKind.PRECAUTION,
        title="Test",
        variants=(
            Variant(
                label=variant.label,
                jurisdictions=variant.jurisdictions,
                severity=variant.severity,
                effect=variant.effect,
                gates_when_unknown=variant.gates_when_unknown,
                check=variant.check,
                text=variant.text,
                citations=(cite("fda-label-absorica"), cite("no-such-source")),
                basis=variant.basis,
                verification=variant.verification,
            ),
        ),
    )
    with pytest.raises(CatalogError, match="no-such-source"):
        validate_rules([bad])


def test_an_unknown_source_id_without_a_basis_is_a_catalog_error() -> None:
    # A catalogue module that mistypes a source ID must make the catalogue refuse to load with a
    # CatalogError, whether or not the variant states its basis.
    with pytest.raises(CatalogError, match="no-such-source"):
        validate_rules([rule("precaution.test-rule", "Test", _v(cites=(cite("no-such-source"),)))])


# --- retired and expired ------------------------------------------------------------------------


def test_uk_second_prescriber_is_expired_not_retired() -> None:
    r = _catalog().rule("precaution.uk-under-18-second-prescriber")
    assert r.retired is False
    assert r.expired(date(2026, 3, 1)) is True
    assert r.expired(date(2025, 6, 1)) is False
    assert r.expired(date(2026, 1, 21)) is False
    assert r.expired(date(2026, 1, 22)) is True
    # still evaluated for any as_of inside its window
    v = r.variant_for(Jurisdiction.UK, date(2026, 1, 21))
    assert v is not None
    assert v.label == "UK/2023"
    assert r.variant_for(Jurisdiction.UK, date(2026, 1, 22)) is None


def test_no_rule_is_retired_today() -> None:
    catalog = _catalog()
    assert [r.id for r in catalog.rules if r.retired] == []


def test_open_ended_rules_never_expire() -> None:
    catalog = _catalog()
    assert not catalog.rule("contraindication.pregnancy").expired(date(2100, 1, 1))
    assert not catalog.rule("documentation.uk-arf").expired(date(2100, 1, 1))


# --- top-level verification and sources (RULES §0.2) -------------------------------------------

_STRENGTH = {Verification.UNVERIFIED: 0, Verification.SECONDARY: 1, Verification.PRIMARY: 2}


def test_every_rule_has_the_weakest_verification_of_its_variants() -> None:
    # A tier (e.g. US peanut without soy) is part of its variant: it counts too.
    for r in _catalog().rules:
        values = [v.verification for v in r.variants] + [
            t.verification for v in r.variants for t in v.tiers
        ]
        weakest = min(values, key=lambda x: _STRENGTH[x])
        assert r.verification is weakest, r.id
    assert _catalog().rule("contraindication.soy-peanut-allergy").verification is UNVERIFIED


def test_every_rule_sources_are_the_union_of_its_variants() -> None:
    for r in _catalog().rules:
        union = {c.source for v in r.variants for c in v.citations}
        assert set(r.sources) == union, r.id
        assert len(r.sources) == len(set(r.sources)), r.id


@pytest.mark.parametrize(
    ("rule_id", "verification", "sources"),
    [
        ("interaction.vitamin-a", UNVERIFIED, {"fda-label-absorica"}),
        (
            "contraindication.breastfeeding",
            UNVERIFIED,
            {"eu-smpc", "fda-label-absorica"},
        ),
        ("documentation.ipledge", SECONDARY, {"ipledge-rems", "ipledge-2023", "ipledge-2026"}),
        ("contraindication.pregnancy", PRIMARY, {"fda-label-absorica", "eu-smpc"}),
    ],
)
def test_examples_of_verification_and_sources(
    rule_id: str, verification: Verification, sources: set[str]
) -> None:
    r = _catalog().rule(rule_id)
    assert r.verification is verification
    assert set(r.sources) == sources


# --- the catalogue hash -------------------------------------------------------------------------


def test_the_hash_is_deterministic() -> None:
    one = build_catalog.__wrapped__(EvaluationSettings())
    two = build_catalog.__wrapped__(EvaluationSettings())
    assert one is not two
    assert one.hash == two.hash
    assert re.fullmatch(r"[0-9a-f]{64}", one.hash)
    assert _catalog().hash == one.hash
    assert run(a1()).catalogue_hash == one.hash


@pytest.mark.parametrize(
    "settings",
    [
        EvaluationSettings(local_policy=LocalPolicy.from_mapping({"tg_severe_mg_dl": 900})),
        EvaluationSettings(local_policy=LocalPolicy.from_mapping({"baseline_lookback_days": 31})),
        EvaluationSettings(ipledge_2026_effective=date(2026, 9, 1)),
        EvaluationSettings(lab_profile_us=LabProfile.EVIDENCE),
        EvaluationSettings(
            local_policy=LocalPolicy.from_mapping(
                {"value_set_additions": {"tetracyclines": [{"system": "urn:x", "code": "T1"}]}}
            )
        ),
    ],
    ids=["tg-severe", "baseline-lookback", "ipledge-date", "lab-profile", "value-set"],
)
def test_the_hash_changes_with_the_settings(settings: EvaluationSettings) -> None:
    default = build_catalog.__wrapped__(EvaluationSettings()).hash
    changed = build_catalog.__wrapped__(settings).hash
    assert changed != default
    assert build_catalog.__wrapped__(settings).hash == changed
    assert run(a1(), settings=settings).catalogue_hash == changed


def test_a_policy_number_reaches_the_rules() -> None:
    policy = LocalPolicy.from_mapping({"tg_severe_mg_dl": 900})
    settings = EvaluationSettings(local_policy=policy)
    severe = build_catalog(settings).rule("lab.triglycerides.severe")
    assert "900" in severe.variants[0].text
    labs = (*(a1().labs or ()), lab("2571-8", 850, "mg/dL", "2026-03-01", fasting=True))
    assert status_of(run(a1(labs=labs)), "lab.triglycerides.severe") == "applies"
    moved = run(a1(labs=labs), settings=settings)
    assert status_of(moved, "lab.triglycerides.severe") is None
    assert status_of(moved, "lab.triglycerides.elevated") == "applies"


# --- LocalPolicy.from_mapping -------------------------------------------------------------------


def test_from_mapping_overrides_only_the_keys_given() -> None:
    policy = LocalPolicy.from_mapping({"tg_severe_mg_dl": 900})
    assert policy.tg_severe_mg_dl == 900.0
    assert policy.tg_elevated_mg_dl == LocalPolicy().tg_elevated_mg_dl
    assert LocalPolicy.from_mapping({}) == LocalPolicy()


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"tg_sever_mg_dl": 900}, "tg_sever_mg_dl"),
        ({"tg_severe_mg_dl": "900"}, "tg_severe_mg_dl"),
        ({"tg_severe_mg_dl": True}, "tg_severe_mg_dl"),
        ({"phq9_positive_total": 9.5}, "phq9_positive_total"),
        ({"weight_max_age_days": "30"}, "weight_max_age_days"),
        ({"uln_alt_u_l": "40"}, "uln_alt_u_l"),
        ({"tg_severe_mg_dl": -1}, "tg_severe_mg_dl"),
    ],
    ids=[
        "unknown-key",
        "string-for-float",
        "bool-for-float",
        "float-for-int",
        "string-for-int",
        "string-for-optional",
        "negative",
    ],
)
def test_from_mapping_rejects_unknown_keys_and_wrong_types(data: dict[str, Any], key: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(key)):
        LocalPolicy.from_mapping(data)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"tg_elevated_mg_dl": 800}, "tg_elevated_mg_dl"),
        ({"tg_elevated_mg_dl": 900}, "tg_elevated_mg_dl"),
        ({"tg_severe_mg_dl": 400}, "tg_severe_mg_dl"),
        ({"liver_elevated_uln": 5}, "liver_elevated_uln"),
        ({"liver_severe_uln": 2}, "liver_severe_uln"),
        ({"evidence_lab_due_from_day": 80}, "evidence_lab_due_from_day"),
    ],
    ids=["tg-equal", "tg-above", "tg-severe-below", "liver-equal", "liver-below", "evidence"],
)
def test_from_mapping_rejects_inconsistent_bands(data: dict[str, Any], key: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(key)):
        LocalPolicy.from_mapping(data)


@pytest.mark.parametrize(
    "additions",
    [
        {"antibiotics": [{"system": "urn:x", "code": "T1"}]},
        {"tetracyclines": [{"system": "urn:x"}]},
        {"tetracyclines": {"system": "urn:x", "code": "T1"}},
    ],
    ids=["unknown-value-set", "entry-without-code", "not-a-list"],
)
def test_from_mapping_rejects_bad_value_set_additions(additions: dict[str, Any]) -> None:
    with pytest.raises(PolicyError, match="value_set_additions") as err:
        LocalPolicy.from_mapping({"value_set_additions": additions})
    assert next(iter(additions)) in str(err.value)


def test_a_local_tetracycline_code_makes_the_interaction_fire() -> None:
    local = Coding(system="urn:example:local-drugs", code="TET-1")
    policy = LocalPolicy.from_mapping(
        {"value_set_additions": {"tetracyclines": [{"system": local.system, "code": local.code}]}}
    )
    assert policy.additions("tetracyclines") == ((local.system, local.code),)
    med = Medication(codings=(local,), route="oral")
    without = run(a1(medications=(med,)))
    assert status_of(without, "interaction.tetracyclines") is None
    ev = run(a1(medications=(med,)), settings=EvaluationSettings(local_policy=policy))
    f = ev.finding("interaction.tetracyclines")
    assert f is not None
    assert f.status is Status.APPLIES
    assert f.match_basis is MatchBasis.CODE
    # the code matches on system + code, never on the code alone
    other_system = Medication(codings=(Coding(system="urn:other", code="TET-1"),), route="oral")
    ev = run(a1(medications=(other_system,)), settings=EvaluationSettings(local_policy=policy))
    assert status_of(ev, "interaction.tetracyclines") is None


# --- RULES §0.4 defaults and the listed overrides ---------------------------------------------

_WARNING_CAUTION_KINDS = frozenset(
    {
        RuleKind.INDICATION,
        RuleKind.CONTRAINDICATION,
        RuleKind.INTERACTION,
        RuleKind.PRECAUTION,
        RuleKind.DOSING,
        RuleKind.LAB,
        RuleKind.PRESCRIPTION,
        RuleKind.DOCUMENTATION,
    }
)


def _default(kind: RuleKind, severity: Severity) -> tuple[Effect, bool]:
    """The RULES §0.4 table: (decision_effect, gates_when_unknown)."""
    if kind in (RuleKind.MONITORING, RuleKind.COUNSELLING) or severity is Severity.INFO:
        return Effect.NONE, False
    if severity is Severity.CRITICAL:
        return Effect.BLOCK, True
    assert kind in _WARNING_CAUTION_KINDS, f"no RULES §0.4 default for a {kind} warning"
    return Effect.CAUTION, False


# The overrides of RULES §0.4 (and the cells of §4–§12 that name block or gating), by rule ID;
# a key ending in "." covers every rule with that prefix.
EXPECTED_OVERRIDES: dict[str, dict[str, Effect | bool]] = {
    "indication.not-established": {"effect": Effect.BLOCK},
    "indication.retreatment-interval": {"effect": Effect.BLOCK},
    "interaction.tetracyclines": {"gates": True},
    "contraindication.breastfeeding": {"gates": True},
    "prescription.supply-limit": {"gates": False},
    "stop.": {"gates": False},
}
# Overrides that RULES §0.4 gives to one case of a rule, by (rule ID, tier name).
EXPECTED_TIER_OVERRIDES: dict[tuple[str, str], dict[str, Effect | bool]] = {
    # "It also gates when unknown: a previous course is recorded without an end date at a
    # baseline visit" (local policy).
    ("indication.retreatment-interval", "end-unknown-at-baseline"): {"gates": True},
}


def _override(rule_id: str) -> dict[str, Effect | bool]:
    for key, value in EXPECTED_OVERRIDES.items():
        if rule_id == key or (key.endswith(".") and rule_id.startswith(key)):
            return value
    return {}


def _expected(rule_id: str, kind: RuleKind, severity: Severity) -> tuple[Effect, bool]:
    effect, gates = _default(kind, severity)
    over = _override(rule_id)
    new_effect = over.get("effect", effect)
    new_gates = over.get("gates", gates)
    assert isinstance(new_effect, Effect)
    assert isinstance(new_gates, bool)
    return new_effect, new_gates


@pytest.mark.parametrize(
    "settings",
    [DEFAULT, EvaluationSettings(ipledge_2026_effective=date(2026, 9, 1))],
    ids=["default", "ipledge-date"],
)
def test_every_variant_follows_the_defaults_except_the_listed_overrides(
    settings: EvaluationSettings,
) -> None:
    wrong: list[str] = []
    for r in _catalog(settings).rules:
        for v in r.variants:
            expected = _expected(r.id, r.kind, v.severity)
            actual = (v.effect, v.gates_when_unknown)
            if actual != expected:
                wrong.append(f"{r.id} {v.label}: {actual} != {expected}")
            for t in v.tiers:
                effect, gates = _expected(r.id, r.kind, t.severity)
                tier_over = EXPECTED_TIER_OVERRIDES.get((r.id, t.name), {})
                tier_effect = tier_over.get("effect", effect)
                tier_gates = tier_over.get("gates", gates)
                assert isinstance(tier_effect, Effect)
                assert isinstance(tier_gates, bool)
                expected = (tier_effect, tier_gates)
                actual = (t.effect, t.gates_when_unknown)
                if actual != expected:
                    wrong.append(f"{r.id} {v.label} ({t.name}): {actual} != {expected}")
    assert wrong == []


def test_every_listed_override_changes_a_default() -> None:
    catalog = _catalog()
    for key in EXPECTED_OVERRIDES:
        rules = [
            r for r in catalog.rules if r.id == key or (key.endswith(".") and r.id.startswith(key))
        ]
        assert rules, key
        changed = [
            (r.id, v.label)
            for r in rules
            for v in r.variants
            if (v.effect, v.gates_when_unknown) != _default(r.kind, v.severity)
        ]
        assert changed, f"{key} is listed as an override but every variant has the default"


def test_override_variants_by_jurisdiction() -> None:
    catalog = _catalog()
    cases = [
        ("interaction.tetracyclines", Jurisdiction.US, WARNING, Effect.CAUTION, True),
        ("interaction.tetracyclines", Jurisdiction.EU, CRITICAL, Effect.BLOCK, True),
        ("interaction.tetracyclines", Jurisdiction.UK, CRITICAL, Effect.BLOCK, True),
        ("contraindication.breastfeeding", Jurisdiction.US, WARNING, Effect.CAUTION, True),
        ("contraindication.breastfeeding", Jurisdiction.EU, CRITICAL, Effect.BLOCK, True),
        ("contraindication.breastfeeding", Jurisdiction.UK, CRITICAL, Effect.BLOCK, True),
        ("prescription.supply-limit", Jurisdiction.US, CRITICAL, Effect.BLOCK, False),
        ("prescription.supply-limit", Jurisdiction.EU, CRITICAL, Effect.BLOCK, False),
        ("prescription.supply-limit", Jurisdiction.UK, CRITICAL, Effect.BLOCK, False),
        ("indication.not-established", Jurisdiction.US, WARNING, Effect.BLOCK, False),
        ("indication.retreatment-interval", Jurisdiction.UK, WARNING, Effect.BLOCK, False),
        ("stop.mood", Jurisdiction.US, CRITICAL, Effect.BLOCK, False),
        ("stop.pregnancy", Jurisdiction.EU, CRITICAL, Effect.BLOCK, False),
    ]
    for rule_id, where, severity, effect, gates in cases:
        v = catalog.rule(rule_id).variant_for(where, TODAY)
        assert v is not None, (rule_id, where)
        assert (v.severity, v.effect, v.gates_when_unknown) == (severity, effect, gates), (
            rule_id,
            where,
        )


def test_every_stop_rule_has_critical_variants_in_every_jurisdiction() -> None:
    stops = [r for r in _catalog().rules if r.kind is RuleKind.STOP]
    assert len(stops) == 10
    for r in stops:
        for where in (Jurisdiction.US, Jurisdiction.EU, Jurisdiction.UK):
            v = r.variant_for(where, TODAY)
            assert v is not None, (r.id, where)
            assert v.severity is Severity.CRITICAL
            assert v.gates_when_unknown is False


def test_info_and_checklist_kinds_never_affect_the_decision() -> None:
    for r in _catalog().rules:
        for v in r.variants:
            if v.severity is INFO or r.kind in (RuleKind.MONITORING, RuleKind.COUNSELLING):
                assert v.effect is Effect.NONE, (r.id, v.label)
                assert v.gates_when_unknown is False, (r.id, v.label)
