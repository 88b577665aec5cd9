"""RULES §0.4: ``indication.retreatment-interval`` gates when unknown at a baseline visit.

"It also gates when `unknown`: a previous course is recorded without an end date at a baseline
visit, so the interval cannot be checked (`local-policy`)." At other visits the unknown keeps the
variant's defaults: not gating, listed under ``not_assessed``.
"""

from __future__ import annotations

from datetime import date

import pytest

from domain.catalog import build_catalog
from domain.engine import BasisEntry, Evaluation
from domain.facts import Dispensing, Facts, PreviousCourse
from domain.settings import EvaluationSettings
from domain.vocab import Basis, Decision, Effect, Jurisdiction, Status, Verification, VisitType
from tests.factories import a1, a1_eu, d, run

RULE = "indication.retreatment-interval"
TIER = "end-unknown-at-baseline"
UNKNOWN, APPLIES = Status.UNKNOWN, Status.APPLIES
EVERY_JURISDICTION = (Jurisdiction.US, Jurisdiction.EU, Jurisdiction.UK)
NO_END = PreviousCourse(start=d("2025-06-01"))


def _facts(jurisdiction: Jurisdiction, **changes: object) -> Facts:
    return a1(**changes) if jurisdiction is Jurisdiction.US else a1_eu(**changes)


def _follow_up(jurisdiction: Jurisdiction, **changes: object) -> Facts:
    dispensed = Dispensing(dispensed_on=d("2026-01-30"), mg_per_day=60, days_supplied=30)
    return _facts(
        jurisdiction, treatment_start_date=d("2026-01-30"), dispensings=(dispensed,), **changes
    )


def _basis(ev: Evaluation) -> set[tuple[str, Status]]:
    return {(b.rule_id, b.status) for b in ev.decision_basis}


def _not_assessed(ev: Evaluation) -> set[str]:
    return {n.rule_id for n in ev.not_assessed}


@pytest.mark.parametrize("jurisdiction", EVERY_JURISDICTION)
def test_a_course_without_an_end_gates_at_baseline(jurisdiction: Jurisdiction) -> None:
    ev = run(_facts(jurisdiction, previous_courses=(NO_END,)), jurisdiction=jurisdiction)

    f = ev.finding(RULE)
    assert f is not None
    assert ev.visit_type is VisitType.BASELINE
    assert f.status is UNKNOWN
    assert f.gating is True
    assert f.missing == ("previous_courses[0].end",)
    assert f.tier is not None
    assert f.tier.name == TIER
    assert f.variant.endswith(f"({TIER})")
    assert "without an end date" in f.text
    assert ev.decision is Decision.NEEDS_INFORMATION
    assert (RULE, UNKNOWN) in _basis(ev)
    assert RULE not in _not_assessed(ev)
    assert ev.not_before is None


@pytest.mark.parametrize("jurisdiction", EVERY_JURISDICTION)
def test_without_the_course_the_same_patient_may_start(jurisdiction: Jurisdiction) -> None:
    # The control: A1 as it stands is a start, so the gating above comes from the course alone.
    ev = run(_facts(jurisdiction, previous_courses=()), jurisdiction=jurisdiction)
    assert ev.finding(RULE) is None
    assert RULE not in {b.rule_id for b in ev.decision_basis}
    if jurisdiction is Jurisdiction.US:
        assert ev.decision is Decision.START


@pytest.mark.parametrize("jurisdiction", EVERY_JURISDICTION)
def test_at_a_follow_up_a_course_without_an_end_does_not_gate(jurisdiction: Jurisdiction) -> None:
    with_course = run(
        _follow_up(jurisdiction, previous_courses=(NO_END,)), jurisdiction=jurisdiction
    )
    without = run(_follow_up(jurisdiction, previous_courses=()), jurisdiction=jurisdiction)

    f = with_course.finding(RULE)
    assert f is not None
    assert with_course.visit_type is VisitType.FOLLOW_UP
    assert f.status is UNKNOWN
    assert f.gating is False
    assert f.tier is None
    assert RULE in _not_assessed(with_course)
    assert (RULE, UNKNOWN) not in _basis(with_course)
    assert with_course.decision is without.decision


def test_an_explicit_follow_up_visit_does_not_gate() -> None:
    ev = run(a1(previous_courses=(NO_END,), visit_type=VisitType.FOLLOW_UP))
    f = ev.finding(RULE)
    assert f is not None
    assert f.status is UNKNOWN
    assert f.gating is False


def test_courses_not_asked_do_not_gate() -> None:
    # "A previous course is recorded without an end date" gates; a question not asked does not.
    ev = run(a1(previous_courses=None))
    f = ev.finding(RULE)
    assert f is not None
    assert f.status is UNKNOWN
    assert f.missing == ("previous_courses",)
    assert f.gating is False
    assert RULE in _not_assessed(ev)
    assert ev.decision is Decision.START


def test_a_recent_end_still_blocks_beside_a_course_without_an_end() -> None:
    recent = PreviousCourse(start=d("2025-06-01"), end=d("2026-01-05"))  # 55 days before
    ev = run(a1(previous_courses=(NO_END, recent)))
    f = ev.finding(RULE)
    assert f is not None
    assert f.status is APPLIES
    assert f.tier is None
    assert ev.decision is Decision.DO_NOT_START
    assert ev.not_before == date(2026, 3, 2)


def test_an_old_end_does_not_settle_a_course_without_an_end() -> None:
    old = PreviousCourse(start=d("2023-01-01"), end=d("2023-06-01"))
    ev = run(a1(previous_courses=(old, NO_END)))
    f = ev.finding(RULE)
    assert f is not None
    assert f.status is UNKNOWN
    assert f.missing == ("previous_courses[1].end",)
    assert f.gating is True
    assert ev.decision is Decision.NEEDS_INFORMATION


def test_a_course_ended_long_enough_ago_is_quiet_at_baseline() -> None:
    old = PreviousCourse(start=d("2023-01-01"), end=d("2023-06-01"))
    ev = run(a1(previous_courses=(old,)))
    assert ev.finding(RULE) is None
    assert ev.decision is Decision.START


def test_the_gate_is_reported_with_the_other_gating_unknowns() -> None:
    ev = run(a1(previous_courses=(NO_END,), breastfeeding=None))
    assert ev.decision is Decision.NEEDS_INFORMATION
    assert {
        BasisEntry("contraindication.breastfeeding", UNKNOWN),
        BasisEntry(RULE, UNKNOWN),
    } <= set(ev.decision_basis)


def test_the_rule_is_version_2_with_a_local_policy_gating_tier() -> None:
    rule = build_catalog(EvaluationSettings()).rule(RULE)
    assert rule.version == 2
    for v in rule.variants:
        assert (v.effect, v.gates_when_unknown) == (Effect.BLOCK, False)
        (tier,) = v.tiers
        assert tier.name == TIER
        assert (tier.severity, tier.effect, tier.gates_when_unknown) == (
            v.severity,
            Effect.BLOCK,
            True,
        )
        assert tier.basis is Basis.LOCAL_POLICY
        assert tier.verification is Verification.UNVERIFIED
