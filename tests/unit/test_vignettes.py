"""The worked cases of vignettes.md, sections A to E, as domain tests.

Each test is one case (or sub-case) and asserts every expectation the case states, by rule ID,
against :func:`domain.engine.evaluate`. Unless a case says otherwise the facts are A1's complete
facts (``tests.factories.a1``), as_of 2026-03-01, jurisdiction US, product ``generic`` (US) or
``eu-uk-generic`` (EU/UK). Section F (course tracking) is tested elsewhere.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from domain.catalog import build_catalog
from domain.dosing import CapsulePlan, DosingPlan
from domain.engine import Evaluation, Finding
from domain.errors import InputError
from domain.facts import (
    Acne,
    Allergy,
    Coding,
    ContraceptionRecord,
    CounsellingRecord,
    Facts,
    LabResult,
    Medication,
    MoodScreen,
    Plan,
    PregnancyTest,
    PreviousCourse,
    PreviousTherapy,
    Rems,
    Weight,
)
from domain.rules import Item
from domain.settings import EvaluationSettings
from domain.vocab import (
    AcneSeverity,
    Allergen,
    ContraceptionMethod,
    Decision,
    IndicationStatus,
    ItemState,
    LabProfile,
    MatchBasis,
    MoodInstrument,
    PregnancyPotential,
    Product,
    Severity,
    TestSetting,
    TherapyClass,
    TherapyResponse,
    Verification,
    VisitType,
)
from tests.factories import a1, a1_eu, d, fires, item_state, lab, neg, pos, run, status_of

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
TG, ALT = "2571-8", "1742-6"
US_PRE_2026, US_2026 = "US/pre-2026", "US/ipledge-2026"
CONFIRMATION = "monitoring.pregnancy-test.confirmation"


# --- helpers -------------------------------------------------------------------------------


def finding(ev: Evaluation, rule_id: str) -> Finding:
    """The finding of ``rule_id``; fails the test when the rule yields none."""
    f = ev.finding(rule_id)
    assert f is not None, f"no finding for {rule_id}; findings: {[x.rule_id for x in ev.findings]}"
    return f


def item(ev: Evaluation, rule_id: str) -> Item:
    """The checklist item of ``rule_id``'s finding."""
    f = finding(ev, rule_id)
    assert f.item is not None, f"{rule_id} carries no checklist item"
    return f.item


def applying(ev: Evaluation, prefix: str) -> list[str]:
    """IDs of the findings with status ``applies`` whose ID starts with ``prefix``."""
    return [f.rule_id for f in ev.findings if f.rule_id.startswith(prefix) and fires(ev, f.rule_id)]


def text_of(f: Finding) -> str:
    """Everything a finding says in words (triggers, notes, missing inputs and text), lower-case."""
    return " | ".join((f.text, *f.triggers, *f.notes, *f.missing)).lower()


def capsules(plan: CapsulePlan | None) -> list[list[int]]:
    """A capsule plan as a list of capsules per dose."""
    assert plan is not None, "no capsule plan"
    return [list(dose.capsules_mg) for dose in plan.doses]


def cumulative_of(dosing: DosingPlan) -> tuple[tuple[float, float], tuple[float, float]]:
    """The cumulative target range in mg/kg and in mg."""
    assert dosing.cumulative is not None, "no cumulative progress"
    return dosing.cumulative.target_mg_per_kg, dosing.cumulative.target_mg


def assert_critical(ev: Evaluation, rule_id: str) -> None:
    """``rule_id`` fires with severity critical."""
    assert fires(ev, rule_id), f"{rule_id}: {status_of(ev, rule_id)}"
    assert finding(ev, rule_id).severity is Severity.CRITICAL


def assert_warning(ev: Evaluation, rule_id: str) -> None:
    """``rule_id`` fires with severity warning."""
    assert fires(ev, rule_id), f"{rule_id}: {status_of(ev, rule_id)}"
    assert finding(ev, rule_id).severity is Severity.WARNING


def at_70_kg(
    product: Product,
    *,
    planned_mg_per_day: float | None = None,
    target_mg_per_kg_day: float | None = None,
) -> Facts:
    """A1 weighing 70 kg (2026-02-27), with ``product`` and the dose planned."""
    return a1(
        weight=Weight(kg=70, measured_on=d("2026-02-27")),
        plan=Plan(
            product=product,
            planned_mg_per_day=planned_mg_per_day,
            target_mg_per_kg_day=target_mg_per_kg_day,
        ),
    )


# --- A. Indication and the decision --------------------------------------------------------

A1_DONE_ITEMS = (
    "monitoring.pregnancy-test.screening",
    "monitoring.pregnancy-test.confirmation",
    "monitoring.contraception",
    "monitoring.lipids",
    "monitoring.liver",
    "monitoring.mood",
    "documentation.ipledge",
)


def test_a1_textbook_start() -> None:
    ev = run(a1())

    assert fires(ev, "indication.labelled")
    for rule_id in A1_DONE_ITEMS:
        assert item_state(ev, rule_id) == "done", rule_id
    assert item_state(ev, "monitoring.cbc") == "not-required"
    window = item(ev, "prescription.window")
    assert window.state is ItemState.DUE  # open
    assert (window.due_from, window.due_by) == (d("2026-02-27"), d("2026-03-05"))

    assert applying(ev, "contraindication.") == []
    assert applying(ev, "interaction.") == []
    assert applying(ev, "lab.") == []
    assert not fires(ev, "precaution.suicidal-ideation-now")

    assert ev.decision is Decision.START
    assert ev.not_before is None
    assert ev.indication_status is IndicationStatus.LABELLED
    assert ev.epoch == US_PRE_2026
    assert ev.lab_profile is LabProfile.LABEL

    dosing = ev.dosing
    assert dosing.weight_kg == 60
    assert dosing.range_mg_per_kg_day == (0.5, 1.0)
    assert dosing.range_mg_per_day == (30.0, 60.0)
    assert cumulative_of(dosing) == ((120, 150), (7200, 9000))


def test_a1_check_arithmetic() -> None:
    """A1 "Check:": the 19-day wait, the contraception lead, the lab age and the window."""
    ev = run(a1())
    # 2026-02-06 + 19 days = 2026-02-25 ≤ 2026-02-27: the confirmation test is on time.
    confirmation = item(ev, "monitoring.pregnancy-test.confirmation")
    assert confirmation.due_from == d("2026-02-06") + timedelta(days=19) == d("2026-02-25")
    assert confirmation.due_from <= d("2026-02-27")
    assert confirmation.satisfied_by is not None
    assert "2026-02-27" in confirmation.satisfied_by
    # The confirmation test was run in a CLIA-certified laboratory: no CLIA note.
    assert not any("clia" in n.lower() for n in finding(ev, CONFIRMATION).notes)
    # Contraception began 43 days before the confirmation test and 45 days before as_of (≥ 30).
    assert (d("2026-02-27") - d("2026-01-15")).days == 43
    assert (d("2026-03-01") - d("2026-01-15")).days == 45
    contraception = item(ev, "monitoring.contraception")
    assert contraception.satisfied_by is not None
    assert "2026-01-15" in contraception.satisfied_by
    # The labs are 9 days old: inside the 30-day baseline lookback.
    assert (d("2026-03-01") - d("2026-02-20")).days == 9
    for rule_id in ("monitoring.lipids", "monitoring.liver"):
        done_by = item(ev, rule_id).satisfied_by
        assert done_by is not None, rule_id
        assert "2026-02-20" in done_by, rule_id
    # Window: 2026-02-27 + 6 = 2026-03-05.
    assert item(ev, "prescription.window").due_by == d("2026-02-27") + timedelta(days=6)


def test_a1b_confirmation_test_still_to_come() -> None:
    # One test only, 2026-02-27 negative in a medical laboratory: the screening test.
    facts = a1(
        pregnancy_tests=(neg("2026-02-27", TestSetting.MEDICAL_LAB),),
        counselling=(),
        rems=Rems(),
    )
    ev = run(facts)

    assert_critical(ev, "contraindication.ppp-not-met")
    ppp = text_of(finding(ev, "contraindication.ppp-not-met"))
    assert "confirmation" in ppp
    assert "counselling" in ppp
    assert "contraception" not in " | ".join(finding(ev, "contraindication.ppp-not-met").triggers)

    assert fires(ev, CONFIRMATION)
    confirmation = item(ev, CONFIRMATION)
    assert confirmation.state is ItemState.DUE
    assert confirmation.due_from == d("2026-03-18")
    assert fires(ev, "documentation.ipledge")
    assert item_state(ev, "documentation.ipledge") == "due"

    assert ev.decision is Decision.DO_NOT_START
    assert ev.not_before == d("2026-02-27") + timedelta(days=19) == d("2026-03-18")


def test_a2_pregnant() -> None:
    facts = a1(
        pregnancy_tests=(
            neg("2026-02-06", TestSetting.MEDICAL_POINT_OF_CARE),
            pos("2026-02-27", TestSetting.MEDICAL_LAB, clia_certified=True),
        )
    )
    ev = run(facts)

    assert_critical(ev, "contraindication.pregnancy")
    assert ev.decision is Decision.DO_NOT_START


def test_a3_mild_acne() -> None:
    facts = a1(
        age_years=22,
        acne=Acne(
            severity=AcneSeverity.MILD,
            nodular=False,
            nodule_count=0,
            scarring=False,
            psychosocial_burden=False,
            truncal=False,
            conglobata=False,
            fulminans=False,
        ),
        previous_therapies=(),  # asked: no previous therapy
    )
    ev = run(facts)

    assert fires(ev, "indication.not-established")
    assert ev.indication_status is IndicationStatus.NOT_ESTABLISHED
    assert ev.decision is Decision.DO_NOT_START


def test_a4_scarring_after_topical_failure() -> None:
    facts = a1(
        age_years=17,
        acne=Acne(
            severity=AcneSeverity.MODERATE,
            nodular=False,
            nodule_count=0,
            scarring=True,
            psychosocial_burden=False,
            truncal=False,
            conglobata=False,
            fulminans=False,
        ),
        previous_therapies=(
            PreviousTherapy(
                therapy_class=TherapyClass.TOPICAL,
                ingredient="adapalene + benzoyl peroxide",
                start=d("2025-11-01"),
                end=d("2026-01-24"),  # 12 weeks
                response=TherapyResponse.NONE,
            ),
        ),
    )
    ev = run(facts)

    assert fires(ev, "indication.guideline")
    assert not fires(ev, "indication.labelled")
    assert ev.indication_status is IndicationStatus.GUIDELINE_SUPPORTED
    assert ev.decision is Decision.START


def test_a5_age_10() -> None:
    ev = run(a1(age_years=10))

    assert_critical(ev, "indication.age-under-12")
    assert ev.decision is Decision.DO_NOT_START


def test_a6_too_soon_for_a_second_course() -> None:
    # Doxycycline (no response) before a first isotretinoin course 2025-08-25 to 2026-01-25; the
    # acne has relapsed since.
    facts = a1(
        previous_therapies=(
            PreviousTherapy(
                therapy_class=TherapyClass.ORAL_ANTIBIOTIC,
                ingredient="doxycycline",
                start=d("2025-05-20"),
                end=d("2025-08-20"),
                response=TherapyResponse.NONE,
            ),
            PreviousTherapy(
                therapy_class=TherapyClass.TOPICAL,
                ingredient="adapalene + benzoyl peroxide",
                start=d("2025-05-20"),
                end=d("2025-08-20"),
                response=TherapyResponse.NONE,
            ),
        ),
        previous_courses=(PreviousCourse(start=d("2025-08-25"), end=d("2026-01-25")),),
    )
    ev = run(facts)

    assert fires(ev, "indication.retreatment-interval")
    retreatment = finding(ev, "indication.retreatment-interval")
    assert retreatment.not_before == d("2026-01-25") + timedelta(days=56) == d("2026-03-22")
    assert (d("2026-03-01") - d("2026-01-25")).days == 35
    assert "35 days" in text_of(retreatment)
    assert ev.decision is Decision.DO_NOT_START
    assert ev.not_before == d("2026-03-22")


def test_a7_not_enough_information() -> None:
    # No defaults: only the age and the acne severity are given.
    facts = Facts(age_years=25, acne=Acne(severity=AcneSeverity.SEVERE))
    ev = run(facts)

    assert ev.decision is Decision.NEEDS_INFORMATION
    assert ev.indication_status is IndicationStatus.GUIDELINE_SUPPORTED
    assert fires(ev, "indication.guideline")
    assert status_of(ev, "indication.labelled") == "unknown"
    missing = " ".join(finding(ev, "indication.labelled").missing)
    assert "nodul" in missing
    assert "previous_therapies" in missing
    assert any("nodul" in m for m in ev.indication_missing)
    assert "previous_therapies" in ev.indication_missing

    assert fires(ev, "documentation.pregnancy-potential")
    for rule_id in (
        "contraindication.pregnancy",
        "contraindication.ppp-not-met",
        "contraindication.hypersensitivity",
        "contraindication.breastfeeding",
        "interaction.tetracyclines",
    ):
        assert status_of(ev, rule_id) == "unknown", rule_id
        # Gating (RULES §0.4): each holds the decision at needs-information.
        assert finding(ev, rule_id).gating, rule_id
        assert rule_id in [b.rule_id for b in ev.decision_basis], rule_id


# --- B. Contraindications, interactions, precautions ---------------------------------------


def minocycline_patient(eu: bool) -> Facts:
    """B1: 24 years, cannot become pregnant (attested), on oral minocycline 100 mg daily."""
    minocycline = Medication(
        codings=(Coding(system=RXNORM, code="6980", display="minocycline"),),
        text="Minocycline 100 mg oral, once daily",
        route="oral",
    )
    build = a1_eu if eu else a1
    return build(
        age_years=24,
        pregnancy_potential=PregnancyPotential.CANNOT,
        medications=(minocycline,),
    )


def test_b1_minocycline_us() -> None:
    ev = run(minocycline_patient(eu=False))

    assert_warning(ev, "interaction.tetracyclines")
    assert ev.decision is Decision.START_WITH_PRECAUTIONS
    assert "interaction.tetracyclines" in [b.rule_id for b in ev.decision_basis]


def test_b1_minocycline_eu() -> None:
    ev = run(minocycline_patient(eu=True), jurisdiction="EU")

    assert_critical(ev, "interaction.tetracyclines")
    assert ev.decision is Decision.DO_NOT_START


def test_b2_unlisted_doxycycline_code() -> None:
    doxycycline = Medication(
        codings=(
            Coding(
                system=RXNORM, code="999999901", display="Doxycycline hyclate 100 MG Oral Tablet"
            ),
        ),
    )
    ev = run(a1(medications=(doxycycline,)))

    assert fires(ev, "interaction.tetracyclines")
    tetracyclines = finding(ev, "interaction.tetracyclines")
    assert tetracyclines.match_basis is MatchBasis.NAME
    assert any("matched by name" in t for t in tetracyclines.triggers), tetracyclines.triggers


POP_AND_CONDOMS = (
    ContraceptionRecord(method=ContraceptionMethod.PROGESTIN_ONLY_PILL, start_date=d("2026-01-15")),
    ContraceptionRecord(method=ContraceptionMethod.MALE_CONDOM, start_date=d("2026-01-15")),
)


def test_b3_progestin_only_pill_us() -> None:
    # Norethindrone 0.35 mg ("minipill") is recorded as the contraception method, with condoms.
    ev = run(a1(contraception=POP_AND_CONDOMS))

    assert_warning(ev, "interaction.progestin-only-pill")
    assert_critical(ev, "contraindication.ppp-not-met")
    assert "contraception" in " | ".join(finding(ev, "contraindication.ppp-not-met").triggers)
    assert item_state(ev, "monitoring.contraception") == "due"
    assert ev.decision is Decision.DO_NOT_START


def test_b3_progestin_only_pill_eu() -> None:
    ev = run(a1_eu(contraception=POP_AND_CONDOMS), jurisdiction="EU")

    assert_warning(ev, "interaction.progestin-only-pill")
    assert item_state(ev, "monitoring.contraception") == "done"
    # Two user-dependent methods; the classification is unverified.
    assert "unverified" in text_of(finding(ev, "monitoring.contraception"))
    assert not fires(ev, "contraindication.ppp-not-met")


def test_b4_suicidal_thoughts_now() -> None:
    screens = (
        MoodScreen(instrument=MoodInstrument.PHQ9, total=3, item_9=0, screened_on=d("2026-01-20")),
        MoodScreen(instrument=MoodInstrument.PHQ9, total=14, item_9=1, screened_on=d("2026-02-27")),
    )
    ev = run(a1(mood_screens=screens))

    assert_critical(ev, "precaution.suicidal-ideation-now")
    assert fires(ev, "precaution.psychiatric-history")
    assert "positive" in text_of(finding(ev, "precaution.psychiatric-history"))
    assert ev.decision is Decision.DO_NOT_START


def test_b5_breastfeeding_us() -> None:
    ev = run(a1(breastfeeding=True))

    assert_warning(ev, "contraindication.breastfeeding")
    assert ev.decision is Decision.START_WITH_PRECAUTIONS


def test_b5_breastfeeding_uk() -> None:
    ev = run(a1_eu(breastfeeding=True), jurisdiction="UK")

    assert_critical(ev, "contraindication.breastfeeding")
    assert ev.decision is Decision.DO_NOT_START


EU_SOY_PRODUCT = Plan(product=Product.EU_UK_GENERIC, contains_soybean_oil=True)


@pytest.mark.parametrize("jurisdiction", ["US", "EU"])
def test_b6_soy_allergy(jurisdiction: str) -> None:
    allergies = (Allergy(substance=Allergen.SOY),)
    if jurisdiction == "US":
        facts = a1(allergies=allergies)  # generic: contains soybean oil
    else:
        facts = a1_eu(allergies=allergies, plan=EU_SOY_PRODUCT)
    ev = run(facts, jurisdiction=jurisdiction)

    assert_critical(ev, "contraindication.soy-peanut-allergy")
    assert not fires(ev, "contraindication.hypersensitivity")
    assert ev.decision is Decision.DO_NOT_START


def test_b6_peanut_allergy_us() -> None:
    ev = run(a1(allergies=(Allergy(substance=Allergen.PEANUT),)))

    assert_warning(ev, "contraindication.soy-peanut-allergy")
    assert finding(ev, "contraindication.soy-peanut-allergy").verification is (
        Verification.UNVERIFIED
    )


def test_b6_peanut_allergy_eu() -> None:
    facts = a1_eu(allergies=(Allergy(substance=Allergen.PEANUT),), plan=EU_SOY_PRODUCT)
    ev = run(facts, jurisdiction="EU")

    assert_critical(ev, "contraindication.soy-peanut-allergy")


# --- C. Dates and jurisdictions -------------------------------------------------------------

UK_ADOLESCENT = {"age_years": 16}  # A1 already has severe nodular acne


def test_c1_uk_adolescent_before_2026_01_22() -> None:
    # A1's records dated after 2025-06-01 are not used (RULES §0.3); neither rule reads them.
    ev = run(a1_eu(**UK_ADOLESCENT), as_of="2025-06-01", jurisdiction="UK")

    assert ev.epoch == "UK/2023"
    assert fires(ev, "precaution.uk-under-18-second-prescriber")
    assert fires(ev, "documentation.uk-arf")
    arf = finding(ev, "documentation.uk-arf")
    assert arf.variant == "UK/2023"
    assert "uk-arf-2023" in text_of(arf)
    assert "2023" in arf.text


def test_c1_uk_adolescent_after_2026_01_22() -> None:
    ev = run(a1_eu(**UK_ADOLESCENT), as_of="2026-03-01", jurisdiction="UK")

    assert ev.epoch == "UK/2026"
    assert not fires(ev, "precaution.uk-under-18-second-prescriber")
    assert fires(ev, "documentation.uk-arf")
    arf = finding(ev, "documentation.uk-arf")
    assert arf.variant == "UK/2026"
    assert "uk-arf-2026" in text_of(arf)
    assert "revised" in arf.text.lower()

    # Expired, not retired: its window ended 2026-01-21 and it is still evaluated inside it.
    rule = build_catalog(EvaluationSettings()).rule("precaution.uk-under-18-second-prescriber")
    assert not rule.retired
    assert rule.expired(d("2026-03-01"))
    assert max(v.effective_to for v in rule.variants if v.effective_to) == d("2026-01-21")
    assert fires(
        run(a1_eu(**UK_ADOLESCENT), as_of="2026-01-21", jurisdiction="UK"),
        "precaution.uk-under-18-second-prescriber",
    )


def on_treatment(test: PregnancyTest, *, started: str) -> Facts:
    """C2: can become pregnant, first dose long taken, follow-up visit, home tests permitted.

    A clinic sends a complete monthly visit: A1's records plus, on the day of this month's test,
    the contraception confirmed, pregnancy-prevention counselling, the iPLEDGE confirmation, a
    mood screen, a weight and normal lipids and ALT; no symptoms reported.
    """
    base = a1()
    day = test.specimen_date.isoformat()
    return replace(
        base,
        visit_type=VisitType.FOLLOW_UP,
        treatment_start_date=d(started),
        home_testing_permitted=True,
        pregnancy_tests=(*base.pregnancy_tests, test),
        contraception=tuple(
            replace(c, confirmed_on=test.specimen_date) for c in base.contraception
        ),
        counselling=(
            *base.counselling,
            CounsellingRecord(topic="pregnancy-prevention", given_on=test.specimen_date),
        ),
        rems=Rems(enrolled_on=d("2026-02-06"), monthly_confirmation_on=test.specimen_date),
        mood_screens=(
            *(base.mood_screens or ()),
            MoodScreen(
                instrument=MoodInstrument.PHQ9, total=2, item_9=0, screened_on=test.specimen_date
            ),
        ),
        weight=Weight(kg=60, measured_on=test.specimen_date),
        labs=(
            *(base.labs or ()),
            lab(TG, 150, "mg/dL", day, fasting=True),
            lab(ALT, 25, "U/L", day, uln=40),
        ),
    )


def assert_monthly_satisfied(ev: Evaluation, test_day: str, window_end: str) -> Finding:
    """The monthly test item is done by the home test and the window runs from it."""
    monthly = finding(ev, "monitoring.pregnancy-test.monthly")
    assert monthly.item is not None
    assert monthly.item.state is ItemState.DONE
    assert monthly.item.satisfied_by is not None
    assert test_day in monthly.item.satisfied_by
    assert "home" in monthly.item.satisfied_by
    # Every other element of the programme is recorded, so the programme is met.
    assert not fires(ev, "contraindication.ppp-not-met"), finding(
        ev, "contraindication.ppp-not-met"
    )
    window = item(ev, "prescription.window")
    assert (window.due_from, window.due_by) == (d(test_day), d(window_end))
    assert window.state is ItemState.DUE
    # 7 days counting the specimen day as day 1.
    assert d(window_end) == d(test_day) + timedelta(days=7 - 1)
    return monthly


def test_c2_home_test_ipledge_2026() -> None:
    home = neg("2026-09-14", TestSetting.HOME)
    ev = run(on_treatment(home, started="2026-06-01"), as_of="2026-09-15")

    assert ev.epoch == US_2026
    assert ev.visit_type is VisitType.FOLLOW_UP
    assert_monthly_satisfied(ev, "2026-09-14", "2026-09-20")


def test_c2_home_test_pre_2026() -> None:
    home = neg("2026-05-14", TestSetting.HOME)
    ev = run(on_treatment(home, started="2026-03-02"), as_of="2026-05-15")

    assert ev.epoch == US_PRE_2026
    monthly = assert_monthly_satisfied(ev, "2026-05-14", "2026-05-20")
    assert monthly.severity is Severity.INFO
    note = " | ".join(monthly.notes).lower()
    assert "medical setting" in note
    assert "ipledge-2026" in note
    assert "not enforce" in note


# (epoch, dates of the two pre-treatment tests, as_of)
C2_EPOCHS = [
    pytest.param(US_PRE_2026, ("2026-02-06", "2026-02-27"), "2026-03-01", id="pre-2026"),
    pytest.param(US_2026, ("2026-08-10", "2026-08-31"), "2026-09-02", id="ipledge-2026"),
]


@pytest.mark.parametrize(("epoch", "days", "as_of"), C2_EPOCHS)
def test_c2_home_screening_test_before_first_dose(
    epoch: str, days: tuple[str, str], as_of: str
) -> None:
    # The screening test was done at home; the second test in a medical laboratory then becomes
    # the first medical-setting test, so a confirmation test is still needed 19 days after it.
    first, second = days
    tests = (neg(first, TestSetting.HOME), neg(second, TestSetting.MEDICAL_LAB))
    ev = run(a1(pregnancy_tests=tests, home_testing_permitted=True), as_of=as_of)

    assert ev.epoch == epoch
    assert ev.visit_type is VisitType.BASELINE
    screening = item(ev, "monitoring.pregnancy-test.screening")
    assert screening.satisfied_by is None or first not in screening.satisfied_by
    confirmation = item(ev, CONFIRMATION)
    assert confirmation.state is ItemState.DUE
    assert confirmation.due_from == d(second) + timedelta(days=19)
    assert fires(ev, "contraindication.ppp-not-met")
    assert ev.decision is Decision.DO_NOT_START


@pytest.mark.parametrize(("epoch", "days", "as_of"), C2_EPOCHS)
def test_c2_home_screening_test_only(epoch: str, days: tuple[str, str], as_of: str) -> None:
    first, _ = days
    ev = run(
        a1(pregnancy_tests=(neg(first, TestSetting.HOME),), home_testing_permitted=True), as_of
    )

    assert ev.epoch == epoch
    assert item_state(ev, "monitoring.pregnancy-test.screening") == "due"
    assert item_state(ev, CONFIRMATION) == "due"
    assert fires(ev, "contraindication.ppp-not-met")


@pytest.mark.parametrize(("epoch", "days", "as_of"), C2_EPOCHS)
def test_c2_home_confirmation_test_before_first_dose(
    epoch: str, days: tuple[str, str], as_of: str
) -> None:
    first, second = days
    tests = (neg(first, TestSetting.MEDICAL_POINT_OF_CARE), neg(second, TestSetting.HOME))
    ev = run(a1(pregnancy_tests=tests, home_testing_permitted=True), as_of=as_of)

    assert ev.epoch == epoch
    assert item_state(ev, "monitoring.pregnancy-test.screening") == "done"
    confirmation = item(ev, CONFIRMATION)
    assert confirmation.state is ItemState.DUE
    assert confirmation.satisfied_by is None
    assert fires(ev, "contraindication.ppp-not-met")
    assert "pregnancy test" in " | ".join(finding(ev, "contraindication.ppp-not-met").triggers)
    assert item(ev, "prescription.window").due_from != d(second)  # no window from a home test
    assert ev.decision is Decision.DO_NOT_START


def missed_first_window(screening: str, confirmation: str) -> Facts:
    """C3: A1 with its tests replaced; nothing dispensed and no dose taken."""
    return a1(
        pregnancy_tests=(
            neg(screening, TestSetting.MEDICAL_LAB),
            neg(confirmation, TestSetting.MEDICAL_LAB),
        ),
        dispensings=(),
        treatment_start_date=None,
    )


def test_c3_missed_first_window_pre_2026() -> None:
    ev = run(missed_first_window("2026-03-10", "2026-04-01"), as_of="2026-04-10")

    assert ev.epoch == US_PRE_2026
    window = item(ev, "prescription.window")
    assert (window.due_from, window.due_by) == (d("2026-04-01"), d("2026-04-07"))
    assert window.state is ItemState.OVERDUE
    assert_critical(ev, "contraindication.ppp-not-met")
    ppp = finding(ev, "contraindication.ppp-not-met")
    assert ppp.not_before == d("2026-04-01") + timedelta(days=19) == d("2026-04-20")
    assert "2026-04-20" in text_of(ppp)
    assert item(ev, CONFIRMATION).due_from == d("2026-04-20")
    assert ev.decision is Decision.DO_NOT_START
    assert ev.not_before == d("2026-04-20")


def test_c3_missed_first_window_ipledge_2026() -> None:
    ev = run(missed_first_window("2026-09-10", "2026-10-01"), as_of="2026-10-10")

    assert ev.epoch == US_2026
    window = item(ev, "prescription.window")
    assert (window.due_from, window.due_by) == (d("2026-10-01"), d("2026-10-07"))
    assert window.state is ItemState.OVERDUE
    assert_critical(ev, "contraindication.ppp-not-met")
    ppp = finding(ev, "contraindication.ppp-not-met")
    assert ppp.not_before is None
    said = text_of(ppp)
    assert "at once" in said
    assert "medical setting" in said
    confirmation = item(ev, CONFIRMATION)
    assert confirmation.state is ItemState.DUE
    assert confirmation.due_from is None or confirmation.due_from <= d("2026-10-10")
    assert ev.decision is Decision.DO_NOT_START
    assert ev.not_before is None


# --- D. Labs and units ---------------------------------------------------------------------

A1_ALT = lab(ALT, 22, "U/L", "2026-02-20", fasting=True, uln=40)
A1_TG = lab(TG, 120, "mg/dL", "2026-02-20", fasting=True)


def with_labs(*labs: LabResult, **changes: object) -> Facts:
    """A1 with these lab results."""
    return a1(labs=labs, **changes)


def test_d1_triglycerides_in_mmol_per_l() -> None:
    # On treatment: a follow-up visit, first dose 2026-01-05; baseline labs 2025-12-20, then
    # triglycerides 9.5 mmol/L on 2026-02-26 with fasting status not recorded.
    facts = with_labs(
        lab(TG, 120, "mg/dL", "2025-12-20", fasting=True),
        lab(ALT, 22, "U/L", "2025-12-20", fasting=True, uln=40),
        lab(TG, 9.5, "mmol/L", "2026-02-26"),
        treatment_start_date=d("2026-01-05"),
        visit_type=VisitType.FOLLOW_UP,
    )
    ev = run(facts)

    assert ev.visit_type is VisitType.FOLLOW_UP
    assert_critical(ev, "lab.triglycerides.severe")
    assert not fires(ev, "lab.triglycerides.elevated")
    severe = finding(ev, "lab.triglycerides.severe")
    data = dict(severe.data)
    assert data["value"] == 9.5
    assert data["unit"] == "mmol/L"
    assert data["value_mg_dl"] == round(9.5 * 88.57, 1) == 841.4
    assert data["fasting"] is None
    threshold = str(data["threshold"])
    assert "800" in threshold
    assert "mg/dL" in threshold
    said = text_of(severe)
    assert "9.5 mmol/l" in said
    assert "841.4 mg/dl" in said
    assert "fasting not recorded" in said


def test_d2_triglycerides_520_mg_per_dl() -> None:
    ev = run(with_labs(lab(TG, 520, "mg/dL", "2026-02-20", fasting=True), A1_ALT))

    assert_warning(ev, "lab.triglycerides.elevated")
    assert not fires(ev, "lab.triglycerides.severe")


def test_d3_alt_elevated() -> None:
    ev = run(with_labs(A1_TG, lab(ALT, 130, "U/L", "2026-02-20", uln=40)))

    assert fires(ev, "lab.liver.elevated")
    assert not fires(ev, "lab.liver.severe")
    elevated = finding(ev, "lab.liver.elevated")
    assert dict(elevated.data)["ALT"]["multiple_of_uln"] == 130 / 40 == 3.25
    assert "3.25" in text_of(elevated)


def test_d3_alt_severe() -> None:
    ev = run(with_labs(A1_TG, lab(ALT, 210, "U/L", "2026-02-20", uln=40)))

    assert fires(ev, "lab.liver.severe")
    assert not fires(ev, "lab.liver.elevated")
    severe = finding(ev, "lab.liver.severe")
    assert dict(severe.data)["ALT"]["multiple_of_uln"] == 210 / 40 == 5.25
    assert "5.25" in text_of(severe)


def test_d4_unknown_unit() -> None:
    with pytest.raises(InputError) as raised:
        run(with_labs(lab(TG, 7, "foo", "2026-02-20"), A1_ALT))

    issues = raised.value.issues
    assert any(i.path == "labs[0].unit" and "foo" in i.reason for i in issues), issues


def test_d5_alt_without_uln() -> None:
    # No ULN on the result, and the default settings configure none.
    assert EvaluationSettings().local_policy.uln_alt_u_l is None
    ev = run(with_labs(A1_TG, lab(ALT, 130, "U/L", "2026-02-20")))

    for rule_id in ("lab.liver.elevated", "lab.liver.severe"):
        assert status_of(ev, rule_id) == "unknown", rule_id
        assert any("uln" in m.lower() for m in finding(ev, rule_id).missing), rule_id


# --- E. Dosing -----------------------------------------------------------------------------

# "1 mg/kg/day" may reach the service as a target per kg or as the planned 70 mg/day.
DOSE_70_MG = [
    pytest.param({"target_mg_per_kg_day": 1.0}, id="target-1-mg-per-kg"),
    pytest.param({"planned_mg_per_day": 70.0}, id="planned-70-mg"),
]


@pytest.mark.parametrize("plan", DOSE_70_MG)
def test_e1_claravis_70_kg(plan: dict[str, float]) -> None:
    ev = run(at_70_kg(Product.CLARAVIS, **plan))
    dosing = ev.dosing

    assert capsules(dosing.capsule_plan) == [[40], [30]]
    assert dosing.capsule_plan is not None
    assert dosing.capsule_plan.mg_per_day == 70
    assert f"{dosing.capsule_plan.mg_per_kg_day:.2f}" == "1.00"
    assert cumulative_of(dosing) == ((120, 150), (8400, 10500))
    assert dosing.course_days == (120, 150)
    assert (8400 / 70, 10500 / 70) == (120, 150)
    assert not fires(ev, "dosing.above-maximum")


def test_e1_claravis_70_kg_projection_from_planned_dose() -> None:
    cumulative = run(at_70_kg(Product.CLARAVIS, planned_mg_per_day=70.0)).dosing.cumulative
    assert cumulative is not None
    assert cumulative.daily_mg == 70
    assert cumulative.days_remaining == (120, 150)


@pytest.mark.parametrize(
    "plan",
    [
        pytest.param({"target_mg_per_kg_day": 0.8}, id="target-0.8-mg-per-kg"),
        pytest.param({"planned_mg_per_day": 56.0}, id="planned-56-mg"),
    ],
)
def test_e2_absorica_ld_70_kg(plan: dict[str, float]) -> None:
    ev = run(at_70_kg(Product.ABSORICA_LD, **plan))
    dosing = ev.dosing

    assert capsules(dosing.capsule_plan) == [[28], [28]]
    assert dosing.capsule_plan is not None
    assert dosing.capsule_plan.mg_per_day == 56
    assert f"{dosing.capsule_plan.mg_per_kg_day:.2f}" == "0.80"
    assert dosing.cumulative is not None
    assert dosing.cumulative.conventional_equivalent
    notes = " | ".join(dosing.notes)
    assert "conventional-equivalent" in notes
    assert "unverified" in notes
    assert "conventional-equivalent" in text_of(finding(ev, "dosing.cumulative-target"))


def test_e2_absorica_ld_conventional_equivalent_dose() -> None:
    dosing = run(at_70_kg(Product.ABSORICA_LD, planned_mg_per_day=56.0)).dosing
    assert dosing.cumulative is not None
    # 56 ÷ 0.8 = 70 mg/day conventional-equivalent.
    assert dosing.cumulative.daily_mg == 56 / 0.8 == 70
    assert dosing.course_days == (120, 150)


E3_ACNE = [
    pytest.param(None, id="recorded-absent"),
    pytest.param(
        Acne(severity=AcneSeverity.SEVERE, nodular=True, nodule_count=8), id="not-recorded"
    ),
]


@pytest.mark.parametrize("acne", E3_ACNE)
def test_e3_above_the_maximum(acne: Acne | None) -> None:
    # "very severe, scarring or truncal disease is not recorded": read both as A1's acne (recorded
    # as absent) and as an acne assessment that leaves scarring and truncal unanswered.
    facts = at_70_kg(Product.CLARAVIS, planned_mg_per_day=160.0)
    if acne is not None:
        facts = replace(facts, acne=acne)
    ev = run(facts)
    dosing = ev.dosing

    assert fires(ev, "dosing.above-maximum")
    data = dict(finding(ev, "dosing.above-maximum").data)
    assert data["planned_mg_per_kg_day"] == round(160 / 70, 2) == 2.29
    assert data["maximum_mg_per_kg_day"] == 1.0
    assert dosing.planned_mg_per_kg_day == 2.29
    assert dosing.maximum.mg_per_kg_day == 1.0
    assert dosing.maximum_mg_per_day == 70
    assert dosing.capsule_plan is not None
    assert dosing.capsule_plan.mg_per_day == 70
    assert f"{dosing.capsule_plan.mg_per_kg_day:.2f}" == "1.00"
    assert capsules(dosing.capsule_plan) == [[40], [30]]
    if acne is not None:  # unknown facts: the finding names those that would raise the maximum
        said = text_of(finding(ev, "dosing.above-maximum"))
        assert "scarring" in said
        assert "truncal" in said


@pytest.mark.parametrize("kg", [0.0, -5.0, 700.0])
def test_e4_bad_weight(kg: float) -> None:
    with pytest.raises(InputError) as raised:
        run(a1(weight=Weight(kg=kg, measured_on=d("2026-02-27"))))

    issues = raised.value.issues
    assert any(i.path == "weight.kg" and f"{kg:g}" in i.reason for i in issues), issues


@pytest.mark.parametrize("plan", DOSE_70_MG)
def test_e5_amnesteem_70_kg(plan: dict[str, float]) -> None:
    dosing = run(at_70_kg(Product.AMNESTEEM, **plan)).dosing

    assert capsules(dosing.capsule_plan) == [[40], [20, 10]]
    assert dosing.capsule_plan is not None
    assert dosing.capsule_plan.mg_per_day == 70
    assert f"{dosing.capsule_plan.mg_per_kg_day:.2f}" == "1.00"


@pytest.mark.parametrize("scarring", [False, True], ids=["a1-acne", "with-scarring"])
def test_e6_under_18(scarring: bool) -> None:
    # Under 18 the lower maximum applies even when the acne scars.
    base = a1()
    facts = replace(
        base,
        age_years=16,
        acne=replace(base.acne, scarring=scarring),
        plan=Plan(product=Product.CLARAVIS, planned_mg_per_day=90.0),
    )
    ev = run(facts)

    assert fires(ev, "dosing.above-maximum")
    data = dict(finding(ev, "dosing.above-maximum").data)
    assert data["planned_mg_per_kg_day"] == 90 / 60 == 1.5
    assert data["maximum_mg_per_kg_day"] == 1.0
    assert ev.dosing.maximum.mg_per_kg_day == 1.0
    assert ev.dosing.maximum_mg_per_day == 60
