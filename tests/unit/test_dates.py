"""Date edges: inclusive windows (RULES §0.5), epochs (RULES §2) and the §9 windows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.catalog import build_catalog
from domain.context import epoch_for, window_end, within_last
from domain.engine import Evaluation
from domain.facts import (
    AcknowledgementForm,
    ContraceptionRecord,
    Dispensing,
    Plan,
)
from domain.settings import EvaluationSettings
from domain.vocab import (
    ContraceptionMethod,
    Decision,
    FormKind,
    ItemState,
    Jurisdiction,
    PregnancyPotential,
    Product,
    Status,
    VisitType,
)
from tests.factories import a1, a1_eu, d, item_state, lab, neg, pos, run, status_of

AS_OF = date(2026, 3, 1)
EU_UK = (Jurisdiction.EU, Jurisdiction.UK)
US_EPOCHS = frozenset({"US/pre-2026", "US/ipledge-2026"})
US_EPOCH_RULES = (
    "contraindication.ppp-not-met",
    "documentation.ipledge",
    "monitoring.pregnancy-test.confirmation",
    "prescription.window",
)


def _days_before(anchor: date, n: int) -> str:
    return (anchor - timedelta(days=n)).isoformat()


def _item(ev: Evaluation, rule_id: str) -> tuple[ItemState, date | None, date | None]:
    f = ev.finding(rule_id)
    assert f is not None, rule_id
    assert f.item is not None, rule_id
    return f.item.state, f.item.due_from, f.item.due_by


# --- the helpers of domain/context.py ---------------------------------------------------------


def test_window_end_counts_the_start_as_day_1() -> None:
    assert window_end(date(2026, 2, 27), 7) == date(2026, 3, 5)
    assert window_end(date(2026, 3, 1), 7) == date(2026, 3, 7)
    assert window_end(date(2026, 3, 1), 1) == date(2026, 3, 1)
    assert window_end(date(2026, 2, 1), 30) == date(2026, 3, 2)


def test_within_last_includes_both_ends_and_nothing_more() -> None:
    anchor = date(2026, 3, 1)
    assert within_last(anchor, anchor, 30)
    assert within_last(anchor - timedelta(days=29), anchor, 30)
    assert not within_last(anchor - timedelta(days=30), anchor, 30)
    assert not within_last(anchor + timedelta(days=1), anchor, 30)
    assert within_last(anchor, anchor, 1)
    assert not within_last(anchor - timedelta(days=1), anchor, 1)


# --- US 7-day prescription window -------------------------------------------------------------


def test_day_7_of_the_us_window_is_inside() -> None:
    # A1's confirmation test is dated 2026-02-27 (day 1): day 7 is 2026-03-05.
    ev = run(a1(), as_of="2026-03-05")
    assert _item(ev, "prescription.window") == (ItemState.DUE, d("2026-02-27"), d("2026-03-05"))
    assert status_of(ev, "contraindication.ppp-not-met") is None
    assert ev.decision is Decision.START


def test_day_8_of_the_us_window_is_outside() -> None:
    ev = run(a1(), as_of="2026-03-06")
    state, start, end = _item(ev, "prescription.window")
    assert (start, end) == (d("2026-02-27"), d("2026-03-05"))
    assert state is ItemState.OVERDUE
    assert status_of(ev, "contraindication.ppp-not-met") == "applies"
    assert ev.decision is Decision.DO_NOT_START


def test_the_us_window_is_judged_on_the_prescription_date() -> None:
    plan = Plan(product=Product.GENERIC, prescription_date=d("2026-03-05"))
    ev = run(a1(plan=plan), as_of="2026-03-05")
    assert status_of(ev, "contraindication.ppp-not-met") is None
    late = Plan(product=Product.GENERIC, prescription_date=d("2026-03-06"))
    ev = run(a1(plan=late), as_of="2026-03-06")
    assert status_of(ev, "contraindication.ppp-not-met") == "applies"


# --- US epochs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "epoch"),
    [("2026-08-07", "US/pre-2026"), ("2026-08-08", "US/ipledge-2026")],
)
def test_default_ipledge_2026_switch(as_of: str, epoch: str) -> None:
    ev = run(a1(), as_of=as_of)
    assert ev.epoch == epoch
    for rule_id in US_EPOCH_RULES:
        f = ev.finding(rule_id)
        assert f is not None, rule_id
        assert f.variant == epoch, rule_id
    dated = [f for f in ev.findings if f.variant.split(" ")[0] in US_EPOCHS]
    assert len(dated) >= len(US_EPOCH_RULES)
    assert all(f.variant.split(" ")[0] == epoch for f in dated)


@pytest.mark.parametrize(
    ("as_of", "epoch"),
    [
        ("2026-08-08", "US/pre-2026"),
        ("2026-08-31", "US/pre-2026"),
        ("2026-09-01", "US/ipledge-2026"),
    ],
)
def test_configured_ipledge_2026_switch(as_of: str, epoch: str) -> None:
    settings = EvaluationSettings(ipledge_2026_effective=date(2026, 9, 1))
    ev = run(a1(), as_of=as_of, settings=settings)
    assert ev.epoch == epoch
    for rule_id in US_EPOCH_RULES:
        f = ev.finding(rule_id)
        assert f is not None, rule_id
        assert f.variant == epoch, rule_id


def test_epoch_variants_of_the_catalogue_meet_without_gap_or_overlap() -> None:
    for effective in (date(2026, 8, 8), date(2026, 9, 1)):
        settings = EvaluationSettings(ipledge_2026_effective=effective)
        catalog = build_catalog(settings)
        before, on = effective - timedelta(days=1), effective
        assert epoch_for(Jurisdiction.US, before, settings) == "US/pre-2026"
        assert epoch_for(Jurisdiction.US, on, settings) == "US/ipledge-2026"
        for rule_id in US_EPOCH_RULES:
            rule = catalog.rule(rule_id)
            v_before = rule.variant_for(Jurisdiction.US, before)
            v_on = rule.variant_for(Jurisdiction.US, on)
            assert v_before is not None
            assert v_on is not None
            assert v_before.label == "US/pre-2026"
            assert v_on.label == "US/ipledge-2026"


# --- UK 2026-01-21 / 2026-01-22 -------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "fires"),
    [("2023-10-30", False), ("2023-10-31", True), ("2026-01-21", True), ("2026-01-22", False)],
)
def test_uk_second_prescriber_window(as_of: str, fires: bool) -> None:
    ev = run(a1_eu(age_years=16), as_of=as_of, jurisdiction=Jurisdiction.UK)
    f = ev.finding("precaution.uk-under-18-second-prescriber")
    if fires:
        assert f is not None
        assert f.status is Status.APPLIES
        assert f.variant == "UK/2023"
    else:
        assert f is None


def test_uk_second_prescriber_not_for_18_year_olds() -> None:
    ev = run(a1_eu(age_years=18), as_of="2026-01-21", jurisdiction=Jurisdiction.UK)
    assert ev.finding("precaution.uk-under-18-second-prescriber") is None


def test_uk_epochs() -> None:
    assert run(a1_eu(), as_of="2023-10-30", jurisdiction=Jurisdiction.UK).epoch == "UK/pre-2023"
    assert run(a1_eu(), as_of="2023-10-31", jurisdiction=Jurisdiction.UK).epoch == "UK/2023"
    assert run(a1_eu(), as_of="2026-01-21", jurisdiction=Jurisdiction.UK).epoch == "UK/2023"
    assert run(a1_eu(), as_of="2026-01-22", jurisdiction=Jurisdiction.UK).epoch == "UK/2026"


@pytest.mark.parametrize(
    ("as_of", "label", "form"),
    [("2026-01-21", "UK/2023", "uk-arf-2023"), ("2026-01-22", "UK/2026", "uk-arf-2026")],
)
def test_uk_arf_names_the_form_due(as_of: str, label: str, form: str) -> None:
    ev = run(a1_eu(), as_of=as_of, jurisdiction=Jurisdiction.UK)
    f = ev.finding("documentation.uk-arf")
    assert f is not None
    assert f.variant == label
    assert f.item is not None
    assert f.item.state is ItemState.DUE
    assert any(form in n for n in f.notes)
    version = form.rsplit("-", 1)[1]
    assert f"{version} version" in f.text


def test_a_2023_form_does_not_satisfy_the_2026_item() -> None:
    signed = (AcknowledgementForm(form=FormKind.UK_ARF_2023, signed_on=d("2026-01-10")),)
    before = run(a1_eu(acknowledgement_forms=signed), as_of="2026-01-21", jurisdiction="UK")
    assert item_state(before, "documentation.uk-arf") == "done"
    after = run(a1_eu(acknowledgement_forms=signed), as_of="2026-01-22", jurisdiction="UK")
    assert item_state(after, "documentation.uk-arf") == "due"


# --- records dated after as_of are not used -------------------------------------------------


def test_a_positive_test_dated_the_day_after_as_of_is_not_used() -> None:
    tests = (*a1().pregnancy_tests, pos("2026-03-02"))
    ev = run(a1(pregnancy_tests=tests))
    assert status_of(ev, "contraindication.pregnancy") is None
    assert ev.decision is Decision.START
    # the same test on as_of is used
    tests = (*a1().pregnancy_tests, pos("2026-03-01"))
    assert status_of(run(a1(pregnancy_tests=tests)), "contraindication.pregnancy") == "applies"


def test_a_negative_test_dated_the_day_after_as_of_does_not_count() -> None:
    ev = run(a1(pregnancy_tests=(neg("2026-02-06"), neg("2026-03-02"))))
    assert item_state(ev, "monitoring.pregnancy-test.confirmation") == "due"
    assert status_of(ev, "contraindication.ppp-not-met") == "applies"


def test_a_lab_dated_the_day_after_as_of_is_ignored() -> None:
    labs = (*(a1().labs or ()), lab("2571-8", 950, "mg/dL", "2026-03-02", fasting=True))
    ev = run(a1(labs=labs))
    assert status_of(ev, "lab.triglycerides.severe") is None
    assert status_of(ev, "contraindication.hyperlipidaemia") is None
    assert ev.decision is Decision.START
    # on as_of it is the most recent result
    labs = (*(a1().labs or ()), lab("2571-8", 950, "mg/dL", "2026-03-01", fasting=True))
    assert status_of(run(a1(labs=labs)), "lab.triglycerides.severe") == "applies"


def test_only_future_labs_leave_the_lab_items_due() -> None:
    labs = (
        lab("2571-8", 120, "mg/dL", "2026-03-02", fasting=True),
        lab("1742-6", 22, "U/L", "2026-03-02", fasting=True, uln=40),
    )
    ev = run(a1(labs=labs))
    assert item_state(ev, "monitoring.lipids") == "due"
    assert item_state(ev, "monitoring.liver") == "due"


def test_a_contraception_method_starting_the_day_after_as_of_does_not_count() -> None:
    methods = (
        ContraceptionRecord(method=ContraceptionMethod.COMBINED_PILL, start_date=d("2026-01-15")),
        ContraceptionRecord(method=ContraceptionMethod.MALE_CONDOM, start_date=d("2026-03-02")),
    )
    ev = run(a1(contraception=methods))
    assert item_state(ev, "monitoring.contraception") == "due"
    f = ev.finding("contraindication.ppp-not-met")
    assert f is not None
    assert f.status is Status.APPLIES
    assert f.not_before is None  # not "too recent": the method is not used at all
    assert ev.decision is Decision.DO_NOT_START


# --- EU/UK 3-day recency and the 7-day dispensing window --------------------------------------


@pytest.mark.parametrize("jurisdiction", EU_UK)
@pytest.mark.parametrize(("days_before", "met"), [(0, True), (3, True), (4, False)])
def test_eu_uk_three_day_recency(jurisdiction: Jurisdiction, days_before: int, met: bool) -> None:
    test = neg(_days_before(AS_OF, days_before), sensitivity_miu_ml=25)
    ev = run(a1_eu(pregnancy_tests=(test,)), jurisdiction=jurisdiction)
    expected_item = "done" if met else "due"
    assert item_state(ev, "monitoring.pregnancy-test.screening") == expected_item
    assert status_of(ev, "contraindication.ppp-not-met") == (None if met else "applies")


@pytest.mark.parametrize("jurisdiction", EU_UK)
def test_eu_uk_test_after_the_prescription_date_does_not_count(jurisdiction: Jurisdiction) -> None:
    plan = Plan(product=Product.EU_UK_GENERIC, prescription_date=d("2026-02-28"))
    test = neg("2026-03-01", sensitivity_miu_ml=25)
    ev = run(a1_eu(plan=plan, pregnancy_tests=(test,)), jurisdiction=jurisdiction)
    assert item_state(ev, "monitoring.pregnancy-test.screening") == "due"
    assert status_of(ev, "contraindication.ppp-not-met") == "applies"


@pytest.mark.parametrize("jurisdiction", EU_UK)
@pytest.mark.parametrize(
    ("as_of", "state", "ppp"),
    [("2026-03-07", ItemState.DUE, None), ("2026-03-08", ItemState.OVERDUE, "applies")],
)
def test_eu_uk_seven_day_dispensing_window(
    jurisdiction: Jurisdiction, as_of: str, state: ItemState, ppp: str | None
) -> None:
    plan = Plan(product=Product.EU_UK_GENERIC, prescription_date=AS_OF)
    ev = run(a1_eu(plan=plan), as_of=as_of, jurisdiction=jurisdiction)
    assert _item(ev, "prescription.window") == (state, AS_OF, d("2026-03-07"))
    assert status_of(ev, "contraindication.ppp-not-met") == ppp


@pytest.mark.parametrize(
    ("dispensed_on", "state"),
    [("2026-03-07", ItemState.DONE), ("2026-03-08", ItemState.OVERDUE)],
)
def test_eu_dispensing_on_day_7_vs_day_8(dispensed_on: str, state: ItemState) -> None:
    plan = Plan(product=Product.EU_UK_GENERIC, prescription_date=AS_OF)
    dispensing = Dispensing(dispensed_on=d(dispensed_on), mg_per_day=30, days_supplied=30)
    facts = a1_eu(plan=plan, dispensings=(dispensing,), visit_type=VisitType.BASELINE)
    ev = run(facts, as_of="2026-03-08", jurisdiction=Jurisdiction.EU)
    assert _item(ev, "prescription.window")[0] is state


# --- baseline labs: the 30 days up to the prescription date -----------------------------------


@pytest.mark.parametrize(("days_before", "counts"), [(0, True), (29, True), (30, False)])
def test_baseline_labs_lookback(days_before: int, counts: bool) -> None:
    day = _days_before(AS_OF, days_before)
    labs = (
        lab("2571-8", 900, "mg/dL", day, fasting=True),
        lab("1742-6", 22, "U/L", day, fasting=True, uln=40),
    )
    ev = run(a1(labs=labs))
    expected_item = "done" if counts else "due"
    assert item_state(ev, "monitoring.lipids") == expected_item
    assert item_state(ev, "monitoring.liver") == expected_item
    # an older result counts as missing for the lab rules at baseline (RULES §9.3)
    assert status_of(ev, "lab.triglycerides.severe") == ("applies" if counts else "unknown")


@pytest.mark.parametrize(("days_before", "counts"), [(29, True), (30, False)])
def test_baseline_lookback_is_anchored_on_the_prescription_date(
    days_before: int, counts: bool
) -> None:
    prescribed = date(2026, 2, 27)
    day = _days_before(prescribed, days_before)
    labs = (
        lab("2571-8", 120, "mg/dL", day, fasting=True),
        lab("1742-6", 22, "U/L", day, fasting=True, uln=40),
    )
    plan = Plan(product=Product.GENERIC, prescription_date=prescribed)
    ev = run(a1(labs=labs, plan=plan))
    assert item_state(ev, "monitoring.lipids") == ("done" if counts else "due")


@pytest.mark.parametrize(("as_of", "known"), [("2026-03-28", True), ("2026-03-29", False)])
def test_pregnancy_recency_is_30_days_up_to_as_of(as_of: str, known: bool) -> None:
    # the latest negative test is 2026-02-27: day 30 is 2026-03-28
    ev = run(a1(), as_of=as_of)
    assert status_of(ev, "contraindication.pregnancy") == (None if known else "unknown")


# --- other §9 windows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prescribed", "state"),
    [("2026-03-30", ItemState.DUE), ("2026-03-31", ItemState.OVERDUE)],
)
def test_us_pre_2026_cannot_become_pregnant_window_is_visit_plus_29(
    prescribed: str, state: ItemState
) -> None:
    plan = Plan(product=Product.GENERIC, prescription_date=d(prescribed))
    ev = run(a1(pregnancy_potential=PregnancyPotential.CANNOT, plan=plan))
    assert ev.epoch == "US/pre-2026"
    assert _item(ev, "prescription.window") == (state, AS_OF, d("2026-03-30"))


def test_us_ipledge_2026_has_no_window_for_cannot_become_pregnant() -> None:
    ev = run(a1(pregnancy_potential=PregnancyPotential.CANNOT), as_of="2026-08-08")
    assert ev.epoch == "US/ipledge-2026"
    assert item_state(ev, "prescription.window") == "not-required"


@pytest.mark.parametrize(("specimen", "state"), [("2026-02-28", "due"), ("2026-03-01", "done")])
def test_post_therapy_test_is_due_30_days_after_the_last_dose(specimen: str, state: str) -> None:
    facts = a1(
        visit_type=VisitType.POST_THERAPY,
        treatment_start_date=d("2025-09-01"),
        last_dose_date=d("2026-01-30"),
        pregnancy_tests=(neg(specimen),),
    )
    ev = run(facts)
    f = ev.finding("monitoring.pregnancy-test.post-therapy")
    assert f is not None
    assert f.item is not None
    assert f.item.due_from == AS_OF  # 2026-01-30 + 30 days
    assert f.item.state.value == state
