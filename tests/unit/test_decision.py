"""The decision of RULES §0.4: the four outcomes, the overrides, ``not_before`` and not_assessed."""

from __future__ import annotations

from datetime import date

import pytest

from domain.engine import BasisEntry, Evaluation
from domain.facts import (
    AcknowledgementForm,
    Acne,
    Attestations,
    Coding,
    ConditionRecord,
    ContraceptionRecord,
    CounsellingRecord,
    Medication,
    Plan,
    PreviousCourse,
    Rems,
)
from domain.settings import EvaluationSettings
from domain.vocab import (
    AcneSeverity,
    ContraceptionMethod,
    Decision,
    Effect,
    FormKind,
    IndicationStatus,
    ItemState,
    Jurisdiction,
    PregnancyPotential,
    Product,
    RuleKind,
    Severity,
    Status,
    Symptom,
)
from tests.factories import a1, a1_eu, d, item_state, neg, pos, run, status_of

APPLIES, UNKNOWN = Status.APPLIES, Status.UNKNOWN
EU_UK = (Jurisdiction.EU, Jurisdiction.UK)
EVERY_JURISDICTION = (Jurisdiction.US, Jurisdiction.EU, Jurisdiction.UK)

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
MILD_ACNE = Acne(
    severity=AcneSeverity.MILD,
    nodular=False,
    nodule_count=0,
    scarring=False,
    psychosocial_burden=False,
    truncal=False,
    conglobata=False,
    fulminans=False,
)
STOP_RULES = (
    "stop.hearing",
    "stop.hepatitis",
    "stop.ibd-symptoms",
    "stop.mood",
    "stop.pancreatitis",
    "stop.papilledema",
    "stop.serious-skin-reaction",
    "stop.severe-allergy",
    "stop.vision",
)


def _run(jurisdiction: Jurisdiction, **changes: object) -> Evaluation:
    facts = a1(**changes) if jurisdiction is Jurisdiction.US else a1_eu(**changes)
    return run(facts, jurisdiction=jurisdiction)


def _basis(ev: Evaluation) -> set[tuple[str, Status]]:
    return {(b.rule_id, b.status) for b in ev.decision_basis}


def _not_assessed(ev: Evaluation) -> dict[str, tuple[str, ...]]:
    return {n.rule_id: n.missing for n in ev.not_assessed}


def _method(method: ContraceptionMethod, start: str) -> ContraceptionRecord:
    return ContraceptionRecord(method=method, start_date=d(start))


def _counselled(on: str) -> tuple[CounsellingRecord, ...]:
    return (CounsellingRecord(topic="pregnancy-prevention", given_on=d(on)),)


# --- the four decisions and their basis -------------------------------------------------------


def test_start_has_an_empty_basis_and_no_not_before() -> None:
    ev = run(a1())
    assert ev.decision is Decision.START
    assert ev.decision_basis == ()
    assert ev.not_before is None
    assert ev.indication_status is IndicationStatus.LABELLED


def test_start_with_precautions_lists_the_applying_cautions() -> None:
    crohn = ConditionRecord(
        codings=(Coding(system=ICD10CM, code="K50.9", display="Crohn's disease"),),
        text="Crohn's disease",
    )
    ev = run(a1(conditions=(crohn,)))
    assert ev.decision is Decision.START_WITH_PRECAUTIONS
    assert ev.decision_basis == (BasisEntry("precaution.ibd", APPLIES),)
    assert ev.not_before is None
    finding = ev.finding("precaution.ibd")
    assert finding is not None
    assert finding.effect is Effect.CAUTION


def test_start_with_precautions_basis_holds_every_caution_and_nothing_else() -> None:
    crohn = ConditionRecord(text="Crohn's disease")
    ev = run(a1(conditions=(crohn,), rems=Rems(enrolled_on=d("2026-02-06"))))
    assert ev.decision is Decision.START_WITH_PRECAUTIONS
    assert _basis(ev) == {("precaution.ibd", APPLIES), ("documentation.ipledge", APPLIES)}


def test_needs_information_lists_the_gating_unknowns_only() -> None:
    ev = run(a1(breastfeeding=None))
    assert ev.decision is Decision.NEEDS_INFORMATION
    assert ev.decision_basis == (BasisEntry("contraindication.breastfeeding", UNKNOWN),)
    assert ev.not_before is None
    # the non-gating unknowns of A1 are not in the basis
    assert "precaution.severe-renal-impairment" not in {b.rule_id for b in ev.decision_basis}


def test_needs_information_when_the_indication_status_is_needs_information() -> None:
    ev = run(a1(acne=Acne(), previous_therapies=None))
    assert ev.indication_status is IndicationStatus.NEEDS_INFORMATION
    assert ev.decision is Decision.NEEDS_INFORMATION
    basis = _basis(ev)
    assert ("indication.labelled", UNKNOWN) in basis
    assert ("indication.guideline", UNKNOWN) in basis
    assert all(b.status is UNKNOWN for b in ev.decision_basis)
    assert all(b.rule_id.startswith("indication.") for b in ev.decision_basis)
    assert "acne.severity" in ev.indication_missing


def test_indication_needs_information_basis_names_only_the_status_rules() -> None:
    # RULES §4: the indication status is computed from indication.labelled and
    # indication.guideline (and not-established); indication.acne-fulminans does not feed it,
    # so its unknown did not choose the decision (RULES §0.4 decision_basis).
    ev = run(a1(acne=Acne(), previous_therapies=None))
    assert ev.decision is Decision.NEEDS_INFORMATION
    assert _basis(ev) <= {
        ("indication.labelled", UNKNOWN),
        ("indication.guideline", UNKNOWN),
        ("indication.not-established", UNKNOWN),
    }


def test_do_not_start_lists_the_applying_blocks() -> None:
    tests = (*a1().pregnancy_tests, pos("2026-02-28"))
    ev = run(a1(pregnancy_tests=tests))
    assert ev.decision is Decision.DO_NOT_START
    assert ev.decision_basis == (BasisEntry("contraindication.pregnancy", APPLIES),)
    assert ev.not_before is None  # not a time-limited blocker


def test_do_not_start_outranks_needs_information_and_cautions() -> None:
    tests = (*a1().pregnancy_tests, pos("2026-02-28"))
    ev = run(
        a1(
            pregnancy_tests=tests,
            breastfeeding=None,
            rems=Rems(enrolled_on=d("2026-02-06")),
        )
    )
    assert ev.decision is Decision.DO_NOT_START
    assert _basis(ev) == {("contraindication.pregnancy", APPLIES)}


def test_needs_information_outranks_cautions() -> None:
    ev = run(a1(breastfeeding=None, rems=Rems(enrolled_on=d("2026-02-06"))))
    assert ev.decision is Decision.NEEDS_INFORMATION
    assert _basis(ev) == {("contraindication.breastfeeding", UNKNOWN)}


# --- overrides of RULES §0.4 -------------------------------------------------------------------


@pytest.mark.parametrize("jurisdiction", EVERY_JURISDICTION)
def test_indication_not_established_blocks(jurisdiction: Jurisdiction) -> None:
    ev = _run(jurisdiction, acne=MILD_ACNE, previous_therapies=())
    assert ev.indication_status is IndicationStatus.NOT_ESTABLISHED
    f = ev.finding("indication.not-established")
    assert f is not None
    assert f.status is APPLIES
    assert f.severity is Severity.WARNING
    assert f.effect is Effect.BLOCK
    assert "not indicated on the facts given" in f.text
    assert ev.decision is Decision.DO_NOT_START
    assert ("indication.not-established", APPLIES) in _basis(ev)
    assert ev.not_before is None


@pytest.mark.parametrize("jurisdiction", EVERY_JURISDICTION)
def test_retreatment_interval_blocks_until_end_plus_56_days(jurisdiction: Jurisdiction) -> None:
    course = PreviousCourse(start=d("2025-06-01"), end=d("2026-01-05"))  # 55 days before 03-01
    ev = _run(jurisdiction, previous_courses=(course,))
    f = ev.finding("indication.retreatment-interval")
    assert f is not None
    assert f.status is APPLIES
    assert f.severity is Severity.WARNING
    assert f.effect is Effect.BLOCK
    assert f.not_before == date(2026, 3, 2)  # 2026-01-05 + 56 days
    assert ev.decision is Decision.DO_NOT_START
    assert ("indication.retreatment-interval", APPLIES) in _basis(ev)
    assert ev.not_before == date(2026, 3, 2)


def test_retreatment_interval_of_exactly_56_days_does_not_fire() -> None:
    course = PreviousCourse(start=d("2025-06-01"), end=d("2026-01-04"))  # 56 days before 03-01
    ev = run(a1(previous_courses=(course,)))
    assert status_of(ev, "indication.retreatment-interval") is None
    assert ev.decision is Decision.START


def test_retreatment_interval_is_counted_to_the_planned_start() -> None:
    course = PreviousCourse(start=d("2025-06-01"), end=d("2026-01-12"))
    early = run(a1(previous_courses=(course,)))
    assert early.not_before == date(2026, 3, 9)
    later = run(
        a1(
            previous_courses=(course,),
            plan=Plan(product=Product.GENERIC, planned_start_date=d("2026-03-09")),
        )
    )
    assert status_of(later, "indication.retreatment-interval") is None


def test_tetracycline_us_is_a_gating_warning() -> None:
    doxy = Medication(text="doxycycline 100 mg capsule", route="oral")
    ev = run(a1(medications=(doxy,)))
    f = ev.finding("interaction.tetracyclines")
    assert f is not None
    assert f.status is APPLIES
    assert f.severity is Severity.WARNING
    assert f.effect is Effect.CAUTION
    assert f.gating is True
    assert ev.decision is Decision.START_WITH_PRECAUTIONS
    assert ev.decision_basis == (BasisEntry("interaction.tetracyclines", APPLIES),)


@pytest.mark.parametrize("jurisdiction", EVERY_JURISDICTION)
def test_tetracycline_unknown_medications_gate_everywhere(jurisdiction: Jurisdiction) -> None:
    ev = _run(jurisdiction, medications=None)
    f = ev.finding("interaction.tetracyclines")
    assert f is not None
    assert f.status is UNKNOWN
    assert f.gating is True
    assert "medications" in f.missing
    assert ev.decision is Decision.NEEDS_INFORMATION
    assert ("interaction.tetracyclines", UNKNOWN) in _basis(ev)
    assert "interaction.tetracyclines" not in _not_assessed(ev)
    # the other medication rules are not gating: listed as not assessed
    assert _not_assessed(ev)["interaction.vitamin-a"] == ("medications",)


@pytest.mark.parametrize("jurisdiction", EU_UK)
def test_tetracycline_eu_uk_blocks(jurisdiction: Jurisdiction) -> None:
    lyme = Medication(text="lymecycline 408 mg", route="oral")
    ev = _run(jurisdiction, medications=(lyme,))
    f = ev.finding("interaction.tetracyclines")
    assert f is not None
    assert f.severity is Severity.CRITICAL
    assert f.effect is Effect.BLOCK
    assert ev.decision is Decision.DO_NOT_START


@pytest.mark.parametrize("jurisdiction", EVERY_JURISDICTION)
def test_breastfeeding_unknown_gates_everywhere(jurisdiction: Jurisdiction) -> None:
    ev = _run(jurisdiction, breastfeeding=None)
    f = ev.finding("contraindication.breastfeeding")
    assert f is not None
    assert f.status is UNKNOWN
    assert f.gating is True
    assert f.missing == ("breastfeeding",)
    assert ev.decision is Decision.NEEDS_INFORMATION
    assert ("contraindication.breastfeeding", UNKNOWN) in _basis(ev)


def test_breastfeeding_us_warning_cautions() -> None:
    ev = run(a1(breastfeeding=True))
    f = ev.finding("contraindication.breastfeeding")
    assert f is not None
    assert (f.status, f.severity, f.effect) == (APPLIES, Severity.WARNING, Effect.CAUTION)
    assert ev.decision is Decision.START_WITH_PRECAUTIONS


@pytest.mark.parametrize("jurisdiction", EU_UK)
def test_breastfeeding_eu_uk_blocks(jurisdiction: Jurisdiction) -> None:
    ev = _run(jurisdiction, breastfeeding=True)
    f = ev.finding("contraindication.breastfeeding")
    assert f is not None
    assert (f.status, f.severity, f.effect) == (APPLIES, Severity.CRITICAL, Effect.BLOCK)
    assert ev.decision is Decision.DO_NOT_START


def test_supply_limit_without_a_planned_supply_has_no_finding() -> None:
    assert status_of(run(a1()), "prescription.supply-limit") is None
    within = run(a1(plan=Plan(product=Product.GENERIC, planned_days_supply=30, planned_refills=0)))
    assert status_of(within, "prescription.supply-limit") is None
    assert within.decision is Decision.START


def test_supply_limit_us_can_become_pregnant_blocks() -> None:
    ev = run(a1(plan=Plan(product=Product.GENERIC, planned_days_supply=60)))
    f = ev.finding("prescription.supply-limit")
    assert f is not None
    assert (f.status, f.severity, f.effect) == (APPLIES, Severity.CRITICAL, Effect.BLOCK)
    assert f.gating is False
    assert ev.decision is Decision.DO_NOT_START
    assert ev.decision_basis == (BasisEntry("prescription.supply-limit", APPLIES),)


def test_supply_limit_refills_break_the_limit() -> None:
    ev = run(a1(plan=Plan(product=Product.GENERIC, planned_days_supply=30, planned_refills=1)))
    assert status_of(ev, "prescription.supply-limit") == "applies"
    assert ev.decision is Decision.DO_NOT_START


def test_supply_limit_us_cannot_become_pregnant_cautions() -> None:
    ev = run(
        a1(
            pregnancy_potential=PregnancyPotential.CANNOT,
            plan=Plan(product=Product.GENERIC, planned_days_supply=60),
        )
    )
    f = ev.finding("prescription.supply-limit")
    assert f is not None
    assert (f.status, f.severity, f.effect) == (APPLIES, Severity.WARNING, Effect.CAUTION)
    assert f.gating is False
    assert ev.decision is Decision.START_WITH_PRECAUTIONS
    assert ev.decision_basis == (BasisEntry("prescription.supply-limit", APPLIES),)


@pytest.mark.parametrize("jurisdiction", EU_UK)
def test_supply_limit_eu_uk(jurisdiction: Jurisdiction) -> None:
    plan = Plan(product=Product.EU_UK_GENERIC, planned_days_supply=60)
    cannot = _run(jurisdiction, pregnancy_potential=PregnancyPotential.CANNOT, plan=plan)
    assert cannot.finding("prescription.supply-limit") is None
    can = _run(jurisdiction, plan=plan)
    f = can.finding("prescription.supply-limit")
    assert f is not None
    assert (f.severity, f.effect, f.gating) == (Severity.CRITICAL, Effect.BLOCK, False)
    assert can.decision is Decision.DO_NOT_START


@pytest.mark.parametrize("jurisdiction", EVERY_JURISDICTION)
def test_stop_rules_unknown_are_not_assessed_and_not_gating(jurisdiction: Jurisdiction) -> None:
    ev = _run(jurisdiction, reported_symptoms=None)
    na = _not_assessed(ev)
    for rule_id in STOP_RULES:
        f = ev.finding(rule_id)
        assert f is not None, rule_id
        assert f.status is UNKNOWN
        assert f.gating is False
        assert "reported_symptoms" in f.missing
        assert na[rule_id] == f.missing
    assert not any(b.rule_id.startswith("stop.") for b in ev.decision_basis)


def test_unreported_symptoms_leave_the_decision_alone() -> None:
    # RULES §0.4: an unreported symptom is not "information needed"; RULES §7: the current
    # suicidal-ideation rule is unknown only with "no screen and no report" (A1 has a PHQ-9
    # with item 9 = 0 on 2026-02-27).
    ev = run(a1(reported_symptoms=None))
    assert ev.decision is Decision.START, ev.decision_basis
    assert ev.decision_basis == ()


def test_a_reported_symptom_fires_its_stop_rule() -> None:
    ev = run(a1(reported_symptoms=(Symptom.TINNITUS,)))
    assert ev.decision is Decision.DO_NOT_START
    assert ev.decision_basis == (BasisEntry("stop.hearing", APPLIES),)


def test_ipledge_done_has_no_effect_and_due_cautions() -> None:
    done = run(a1())
    f = done.finding("documentation.ipledge")
    assert f is not None
    assert item_state(done, "documentation.ipledge") == "done"
    assert f.severity is Severity.WARNING
    assert f.effect is Effect.NONE
    assert done.decision is Decision.START

    due = run(a1(rems=Rems(enrolled_on=d("2026-02-06"))))
    g = due.finding("documentation.ipledge")
    assert g is not None
    assert item_state(due, "documentation.ipledge") == "due"
    assert g.effect is Effect.CAUTION
    assert due.decision is Decision.START_WITH_PRECAUTIONS
    assert due.decision_basis == (BasisEntry("documentation.ipledge", APPLIES),)


def test_eu_acknowledgement_done_vs_due() -> None:
    due = run(a1_eu(), jurisdiction=Jurisdiction.EU)
    assert item_state(due, "documentation.eu-acknowledgement") == "due"
    assert due.decision is Decision.START_WITH_PRECAUTIONS
    assert due.decision_basis == (BasisEntry("documentation.eu-acknowledgement", APPLIES),)
    form = AcknowledgementForm(form=FormKind.EU_ACKNOWLEDGEMENT, signed_on=d("2026-02-06"))
    done = run(a1_eu(acknowledgement_forms=(form,)), jurisdiction=Jurisdiction.EU)
    f = done.finding("documentation.eu-acknowledgement")
    assert f is not None
    assert f.item is not None
    assert f.item.state is ItemState.DONE
    assert f.effect is Effect.NONE
    assert done.decision is Decision.START


def test_not_required_item_has_no_effect() -> None:
    ev = run(a1())
    f = ev.finding("monitoring.cbc")
    assert f is not None
    assert f.item is not None
    assert f.item.state is ItemState.NOT_REQUIRED
    assert f.effect is Effect.NONE


def test_no_done_or_not_required_item_carries_an_effect() -> None:
    ev = run(a1())
    for f in ev.checklist:
        assert f.item is not None
        if f.item.state in (ItemState.DONE, ItemState.NOT_REQUIRED):
            assert f.effect is Effect.NONE, f.rule_id


# --- not_before of time-limited blockers ------------------------------------------------------


def test_not_before_after_a_missed_first_window_us_pre_2026() -> None:
    # confirmation test 2026-02-27: window 02-27..03-05; prescribing on 03-10 missed it; the next
    # confirmation test no earlier than 19 days after the previous test: 2026-03-18.
    ev = run(a1(counselling=_counselled("2026-02-20")), as_of="2026-03-10")
    assert ev.epoch == "US/pre-2026"
    f = ev.finding("contraindication.ppp-not-met")
    assert f is not None
    assert f.status is APPLIES
    assert f.not_before == date(2026, 3, 18)
    assert ev.decision is Decision.DO_NOT_START
    assert ev.decision_basis == (BasisEntry("contraindication.ppp-not-met", APPLIES),)
    assert ev.not_before == date(2026, 3, 18)


def test_no_wait_after_a_missed_window_from_ipledge_2026() -> None:
    settings = EvaluationSettings(ipledge_2026_effective=date(2026, 3, 1))
    ev = run(
        a1(counselling=_counselled("2026-02-20")),
        as_of="2026-03-10",
        settings=settings,
    )
    assert ev.epoch == "US/ipledge-2026"
    assert ev.decision is Decision.DO_NOT_START
    assert ev.not_before is None  # retest at once


def test_not_before_for_contraception_begun_less_than_30_days_before_the_start() -> None:
    methods = (
        _method(ContraceptionMethod.COMBINED_PILL, "2026-02-15"),
        _method(ContraceptionMethod.MALE_CONDOM, "2026-01-15"),
    )
    ev = run(a1(contraception=methods))
    f = ev.finding("contraindication.ppp-not-met")
    assert f is not None
    assert f.status is APPLIES
    assert f.not_before == date(2026, 3, 17)  # 2026-02-15 + 30
    assert ev.decision is Decision.DO_NOT_START
    assert ev.not_before == date(2026, 3, 17)


def test_contraception_begun_exactly_30_days_before_the_start_is_met() -> None:
    methods = (
        _method(ContraceptionMethod.COMBINED_PILL, "2026-01-30"),
        _method(ContraceptionMethod.MALE_CONDOM, "2026-01-30"),
    )
    ev = run(a1(contraception=methods))
    assert item_state(ev, "monitoring.contraception") == "done"
    assert status_of(ev, "contraindication.ppp-not-met") is None
    assert ev.decision is Decision.START


def test_not_before_for_a_confirmation_test_not_yet_allowed() -> None:
    ev = run(a1(pregnancy_tests=(neg("2026-02-20"),)))
    f = ev.finding("contraindication.ppp-not-met")
    assert f is not None
    assert f.status is APPLIES
    assert f.not_before == date(2026, 3, 11)  # screening 2026-02-20 + 19 days
    assert ev.decision is Decision.DO_NOT_START
    assert ev.not_before == date(2026, 3, 11)


def test_two_time_limited_blockers_in_one_rule_give_the_later_date() -> None:
    methods = (
        _method(ContraceptionMethod.COMBINED_PILL, "2026-02-15"),
        _method(ContraceptionMethod.MALE_CONDOM, "2026-01-15"),
    )
    ev = run(a1(pregnancy_tests=(neg("2026-02-20"),), contraception=methods))
    assert ev.decision is Decision.DO_NOT_START
    assert ev.not_before == date(2026, 3, 17)  # max(2026-03-11, 2026-03-17)


def test_two_time_limited_blockers_in_two_rules_give_the_later_date() -> None:
    methods = (
        _method(ContraceptionMethod.COMBINED_PILL, "2026-02-15"),
        _method(ContraceptionMethod.MALE_CONDOM, "2026-01-15"),
    )
    course = PreviousCourse(start=d("2025-06-01"), end=d("2026-02-01"))
    ev = run(a1(contraception=methods, previous_courses=(course,)))
    assert ev.decision is Decision.DO_NOT_START
    assert _basis(ev) == {
        ("contraindication.ppp-not-met", APPLIES),
        ("indication.retreatment-interval", APPLIES),
    }
    assert ev.not_before == date(2026, 3, 29)  # max(2026-03-17, 2026-02-01 + 56)


def test_a_permanent_blocker_with_a_time_limited_one_keeps_the_date() -> None:
    course = PreviousCourse(start=d("2025-06-01"), end=d("2026-02-01"))
    tests = (*a1().pregnancy_tests, pos("2026-02-28"))
    ev = run(a1(previous_courses=(course,), pregnancy_tests=tests))
    assert ev.decision is Decision.DO_NOT_START
    assert ("contraindication.pregnancy", APPLIES) in _basis(ev)
    assert ev.not_before == date(2026, 3, 29)


# --- not_assessed -------------------------------------------------------------------------------


def test_non_gating_unknowns_are_not_assessed_with_their_missing_inputs() -> None:
    ev = run(a1())
    na = _not_assessed(ev)
    assert na["precaution.severe-renal-impairment"] == ("attestations.severe_renal_impairment",)
    f = ev.finding("precaution.severe-renal-impairment")
    assert f is not None
    assert f.status is UNKNOWN
    assert f.gating is False
    assert ev.decision is Decision.START
    # every not_assessed entry is a non-gating unknown finding, and every such finding is listed
    unknown_non_gating = {f.rule_id for f in ev.findings if f.status is UNKNOWN and not f.gating}
    assert set(na) == unknown_non_gating
    assert all(missing for missing in na.values())


def test_resolving_a_non_gating_unknown_changes_nothing_but_the_list() -> None:
    attested = run(a1(attestations=Attestations(severe_renal_impairment=False)))
    assert "precaution.severe-renal-impairment" not in _not_assessed(attested)
    assert attested.decision is Decision.START
    assert status_of(attested, "precaution.severe-renal-impairment") is None


def test_gating_unknowns_are_not_in_not_assessed() -> None:
    ev = run(a1(breastfeeding=None))
    assert "contraindication.breastfeeding" not in _not_assessed(ev)


def test_needs_information_basis_holds_every_gating_unknown() -> None:
    ev = run(a1(medications=None, breastfeeding=None))
    assert ev.decision is Decision.NEEDS_INFORMATION
    assert _basis(ev) == {
        ("interaction.tetracyclines", UNKNOWN),
        ("contraindication.breastfeeding", UNKNOWN),
    }
    for b in ev.decision_basis:
        f = ev.finding(b.rule_id)
        assert f is not None
        assert f.gating is True
        assert f.kind in (RuleKind.INTERACTION, RuleKind.CONTRAINDICATION)
