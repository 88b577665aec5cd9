"""The clinical vignettes (vignettes.md A1, A2, B1, B2, C2, D1) as FHIR R4 data through the hooks.

Each vignette's facts are written the way an EHR holds them (RULES §14), with the dates moved so
that the vignette's ``as_of`` is today (:func:`shift`). The EHR record carries no contraception,
counselling, REMS steps or acne assessment (RULES §14 "Not in FHIR here"), so at the order hooks a
patient who can become pregnant always meets ``contraindication.ppp-not-met``, and the indication is
"not assessable from the record" on the Checklist card.

Today falls in the US ``ipledge-2026`` epoch; the pre-2026 part of C2 moves the configured
``ipledge_2026_effective`` date after today.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from api.cds.card_text import day, span
from domain.codes import ISOCDS
from tests.cds.support import (
    DOXYCYCLINE,
    ISOTRETINOIN_40,
    ISS_EU,
    PATIENT_ID,
    SELECT_SERVICE,
    SIGN_SERVICE,
    VIEW_SERVICE,
    Cds,
    age_birth,
    allergy,
    bundle,
    card_for,
    checklist_card,
    dispense,
    full_prefetch,
    hcg,
    home_testing,
    hook_request,
    information_card,
    medication_request,
    patient,
    phq9,
    pregnancy_potential,
    quantity,
    rule_ids,
    shift,
    today,
    weight,
)
from tests.database import fresh_sqlite_url

PPP = "contraindication.ppp-not-met"
PREGNANCY = "contraindication.pregnancy"
TETRACYCLINES = "interaction.tetracyclines"
SOY = "contraindication.soy-peanut-allergy"
HYPERSENSITIVITY = "contraindication.hypersensitivity"
ABOVE_MAXIMUM = "dosing.above-maximum"
SUPPLY = "prescription.supply-limit"
MONTHLY = "monitoring.pregnancy-test.monthly"
WINDOW = "prescription.window"
TG_SEVERE = "lab.triglycerides.severe"
TG_ELEVATED = "lab.triglycerides.elevated"
NOT_ASSESSABLE = "**Indication:** not assessable from the record"
US_2026 = "US/ipledge-2026"
US_PRE_2026 = "US/pre-2026"
DRAFT_ID = "iso-draft"
PATIENT_REF = f"Patient/{PATIENT_ID}"
SETTING_CODE = {"coding": [{"system": ISOCDS, "code": "test-setting"}]}


# --- the app: a database of this module's own, so no other test's course changes exposure ----


@pytest.fixture(scope="module")
def vignette_db() -> str:
    """A migrated SQLite database used only by this module (no courses are ever stored in it)."""
    return fresh_sqlite_url()


@pytest.fixture
def app(make_cds: Callable[..., Cds], vignette_db: str) -> Callable[..., Cds]:
    """``make_cds`` on this module's database."""

    def build(**kw: Any) -> Cds:
        kw.setdefault("database_url", vignette_db)
        return make_cds(**kw)

    return build


@pytest.fixture
def us(app: Callable[..., Cds]) -> Cds:
    """The US client (``US/ipledge-2026`` today)."""
    return app()


@pytest.fixture
def eu(app: Callable[..., Cds]) -> Cds:
    """The EU client."""
    return app(iss=ISS_EU)


# --- the vignettes as FHIR R4 ---------------------------------------------------------------


def v(day: str) -> str:
    """A vignette date (as_of 2026-03-01) moved so that its as_of is today."""
    return shift(day)


def in_days(n: int) -> str:
    """The date ``n`` days from today (negative: before)."""
    return (today() + timedelta(days=n)).isoformat()


def poc_hcg(day: str, positive: bool = False) -> dict[str, Any]:
    """A point-of-care hCG test: the performer is a Practitioner (RULES §14 setting)."""
    return hcg(day, positive, lab=False, performer=[{"reference": "Practitioner/doc-1"}])


def home_hcg(day: str, **kw: Any) -> dict[str, Any]:
    """A home hCG test: no laboratory category, the performer is the Patient (RULES §14)."""
    kw.setdefault("performer", [{"reference": PATIENT_REF}])
    return hcg(day, lab=False, **kw)


def setting_component(setting: str) -> list[dict[str, Any]]:
    """An Observation ``component`` carrying the §13 ``test-setting``."""
    return [
        {
            "code": SETTING_CODE,
            "valueCodeableConcept": {"coding": [{"system": ISOCDS, "code": setting}]},
        }
    ]


def iso_draft(
    mg_per_dose: float = 40, per_day: int = 1, days_supply: int = 30, refills: int = 0
) -> dict[str, Any]:
    """The isotretinoin draft order (40 mg capsule product code: product ``generic``)."""
    return medication_request(
        *ISOTRETINOIN_40,
        rid=DRAFT_ID,
        status="draft",
        mg_per_dose=mg_per_dose,
        per_day=per_day,
        days_supply=days_supply,
        refills=refills,
    )


def a1_prefetch(
    *,
    tests: tuple[dict[str, Any], ...] | None = None,
    potential: str = "can-become-pregnant",
    years: int = 19,
    med_requests: tuple[dict[str, Any], ...] = (),
    **overrides: Any,
) -> dict[str, Any]:
    """Vignette A1 as an EHR holds it.

    19 years, can become pregnant (the §14 Observation, recorded at enrolment), 60 kg weighed on
    2026-02-27, a point-of-care screening test 2026-02-06 and a laboratory confirmation test
    2026-02-27 (both negative), TG 120 mg/dL and ALT 22 U/L (ULN 40) on 2026-02-20, PHQ-9 total 3
    on 2026-02-27; the doxycycline course (a completed MedicationRequest) ended 2026-01-20; no
    current medications, allergies or conditions.
    """
    finished_doxycycline = medication_request(
        *DOXYCYCLINE, status="completed", authored=v("2025-10-20"), mg_per_dose=100, per_day=2
    )
    values: dict[str, Any] = {
        "patient": patient(age_birth(years)),
        "medRequests": bundle(finished_doxycycline, *med_requests),
        "pregnancyPotential": bundle(pregnancy_potential(potential, v("2026-02-06"))),
        "pregnancyTests": bundle(
            *(tests if tests is not None else (poc_hcg(v("2026-02-06")), hcg(v("2026-02-27"))))
        ),
        "lipids": bundle(quantity("2571-8", 120, "mg/dL", v("2026-02-20"))),
        "liver": bundle(quantity("1742-6", 22, "U/L", v("2026-02-20"), high=40)),
        "weight": bundle(weight(60, v("2026-02-27"))),
        "mood": bundle(phq9(3, v("2026-02-27"))),
    }
    values.update(overrides)
    return full_prefetch(**values)


def order_sign(prefetch: dict[str, Any], draft: dict[str, Any] | None = None) -> dict[str, Any]:
    """An order-sign request for the isotretinoin draft."""
    return hook_request("order-sign", prefetch, draft=[draft or iso_draft()])


def order_select(prefetch: dict[str, Any], draft: dict[str, Any] | None = None) -> dict[str, Any]:
    """An order-select request with the isotretinoin draft selected."""
    return hook_request("order-select", prefetch, draft=[draft or iso_draft()])


def patient_view(prefetch: dict[str, Any]) -> dict[str, Any]:
    """A patient-view request."""
    return hook_request("patient-view", prefetch)


# --- what the cards say ---------------------------------------------------------------------


def card(cards: list[dict[str, Any]], rule_id: str) -> dict[str, Any]:
    """The single-rule card of ``rule_id`` (the test fails without one)."""
    found = card_for(cards, rule_id)
    assert found is not None, (rule_id, [c["summary"] for c in cards])
    return found


def topics(cards: list[dict[str, Any]]) -> set[str]:
    """The rule IDs of the single-rule cards (``source.topic.code``)."""
    return {c["source"]["topic"]["code"] for c in cards if "topic" in c["source"]} - {
        "checklist",
        "information-needed",
    }


def rule_entry(c: dict[str, Any], rule_id: str) -> dict[str, Any]:
    """The ``org.isocds.rules`` entry of ``rule_id`` on card ``c``."""
    rules = c["extension"]["org.isocds.rules"]["rules"]
    found = [r for r in rules if r["ruleId"] == rule_id]
    assert len(found) == 1, rules
    entry: dict[str, Any] = found[0]
    return entry


def checklist(cards: list[dict[str, Any]]) -> dict[str, Any]:
    """The Checklist card (the test fails without one)."""
    found = checklist_card(cards)
    assert found is not None, [c["summary"] for c in cards]
    return found


def assert_single_rule_card(
    cards: list[dict[str, Any]], rule_id: str, indicator: str, variant: str
) -> dict[str, Any]:
    """A card for ``rule_id`` with this indicator, an applying finding and this variant."""
    c = card(cards, rule_id)
    assert c["indicator"] == indicator, c
    assert c["source"]["topic"]["system"] == ISOCDS
    assert rule_ids(c) == [rule_id]
    entry = rule_entry(c, rule_id)
    assert entry["status"] == "applies"
    assert entry["variant"] == variant
    # A written summary naming the drug (its form is checked on every card by check_card).
    assert "isotretinoin" in c["summary"].lower(), c["summary"]
    # The detail ends with one short line naming the rule, the jurisdiction and its rules.
    assert c["detail"].splitlines()[-1].startswith(f"_Rule {rule_id} · Jurisdiction "), c["detail"]
    return c


def said(d: date | str) -> str:
    """How the cards write a date (a vignette date given as ISO text, or a date)."""
    return day(date.fromisoformat(d) if isinstance(d, str) else d)


def window_line(start: date | str, end: date | str) -> str:
    """How the Checklist card shows an open US prescription window, as a task with its dates."""
    first = date.fromisoformat(start) if isinstance(start, str) else start
    last = date.fromisoformat(end) if isinstance(end, str) else end
    return f"Prescribe by {day(last)} (fill window {span(first, last)})"


# --- A1: textbook start, as the EHR record shows it ------------------------------------------


def test_a1_order_sign_programme_not_met_and_nothing_else_contraindicated(us: Cds) -> None:
    cards = us.cards(SIGN_SERVICE, order_sign(a1_prefetch()))

    # The record holds no contraception, counselling or iPLEDGE steps: the programme is not met.
    ppp = assert_single_rule_card(cards, PPP, "critical", US_2026)
    assert ppp["summary"] == (
        "iPLEDGE requirements not met: do not prescribe isotretinoin until they are recorded."
    )
    detail = ppp["detail"].lower()
    assert "contraception" in detail
    assert "counselling" in detail
    # The two tests of the record are there and cover today: the tests are not among the gaps.
    assert "what triggered it:" in detail
    triggered = detail.split("what triggered it:")[1].split("\n\n")[0]
    assert "pregnancy test" not in triggered, triggered

    # A negative laboratory test two days ago: no pregnancy card; the only contraindication is
    # the programme; a 40 mg/day order at 60 kg (0.67 mg/kg/day) is not above the maximum; the
    # stopped doxycycline does not interact; the labs are normal; 30 days, no refills.
    shown = topics(cards)
    assert PREGNANCY not in shown
    assert {t for t in shown if t.startswith("contraindication.")} == {PPP}
    assert {t for t in shown if t.startswith("interaction.")} == set()
    assert {t for t in shown if t.startswith("lab.")} == set()
    assert ABOVE_MAXIMUM not in shown
    assert SUPPLY not in shown

    listed = checklist(cards)
    # The checklist lists the iPLEDGE item (a warning): the card keeps that item's indicator.
    assert listed["indicator"] == "warning"
    assert NOT_ASSESSABLE in listed["detail"]


def test_a1_order_sign_checklist_shows_the_window_of_the_confirmation_test(us: Cds) -> None:
    cards = us.cards(SIGN_SERVICE, order_sign(a1_prefetch()))

    listed = checklist(cards)
    # 2026-02-27 + 6 = 2026-03-05, moved with the vignette.
    assert window_line(v("2026-02-27"), v("2026-03-05")) in listed["detail"]
    assert WINDOW in rule_ids(listed)
    assert "Jurisdiction US, rules of US/ipledge-2026" in listed["detail"]


def test_a1_active_doxycycline_interacts(us: Cds) -> None:
    doxycycline = medication_request(*DOXYCYCLINE, mg_per_dose=100, per_day=2)
    cards = us.cards(SIGN_SERVICE, order_sign(a1_prefetch(med_requests=(doxycycline,))))

    c = assert_single_rule_card(cards, TETRACYCLINES, "warning", "US")
    avoid = "Doxycycline with isotretinoin: risk of intracranial hypertension. Avoid."
    assert c["summary"] == avoid
    # The existing prescription is told apart from the draft order the card is about.
    assert "- the active doxycycline prescription (matched by code: RxNorm 3640)" in c["detail"]
    assert "For the order being signed: isotretinoin 40 MG Oral Capsule." in c["detail"]
    assert card_for(cards, PPP) is not None


def test_a1_soy_allergy_with_a_soybean_oil_product(us: Cds) -> None:
    prefetch = a1_prefetch(allergies=bundle(allergy("Soybean")))
    cards = us.cards(SIGN_SERVICE, order_sign(prefetch))

    # The 40 mg generic product contains soybean oil (RULES §8): critical; soy is handled only by
    # the soy rule, never by the general hypersensitivity rule.
    c = assert_single_rule_card(cards, SOY, "critical", "US")
    assert "soy" in c["detail"].lower()
    assert HYPERSENSITIVITY not in topics(cards)


@pytest.mark.parametrize(
    ("mg_per_dose", "per_day"), [pytest.param(120, 1, id="once"), pytest.param(60, 2, id="twice")]
)
def test_a1_dose_above_the_maximum(us: Cds, mg_per_dose: float, per_day: int) -> None:
    draft = iso_draft(mg_per_dose=mg_per_dose, per_day=per_day)
    cards = us.cards(SIGN_SERVICE, order_sign(a1_prefetch(), draft))

    # 120 mg/day at 60 kg = 2.00 mg/kg/day; no very severe, scarring or truncal acne is recorded,
    # so the lower maximum 1.0 applies (RULES §8).
    c = assert_single_rule_card(cards, ABOVE_MAXIMUM, "warning", "US")
    assert "120 mg/day" in c["detail"]
    assert "2.00 mg/kg/day" in c["detail"]


@pytest.mark.parametrize(
    ("days_supply", "refills", "said"),
    [
        pytest.param(60, 0, "planned supply 60 days (limit 30)", id="60-days"),
        pytest.param(30, 2, "2 refill(s) planned (none allowed)", id="refills"),
    ],
)
def test_a1_supply_above_the_limit(us: Cds, days_supply: int, refills: int, said: str) -> None:
    draft = iso_draft(days_supply=days_supply, refills=refills)
    cards = us.cards(SIGN_SERVICE, order_sign(a1_prefetch(), draft))

    # Can become pregnant: critical (RULES §9.1).
    c = assert_single_rule_card(cards, SUPPLY, "critical", "US")
    assert said in c["detail"]


def test_a1_order_select_has_no_dose_or_supply_check(us: Cds) -> None:
    draft = iso_draft(mg_per_dose=120, days_supply=60, refills=2)
    cards = us.cards(SELECT_SERVICE, order_select(a1_prefetch(), draft))

    shown = topics(cards)
    assert ABOVE_MAXIMUM not in shown
    assert SUPPLY not in shown
    # order-select still checks the programme and carries the indication.
    assert_single_rule_card(cards, PPP, "critical", US_2026)
    assert NOT_ASSESSABLE in checklist(cards)["detail"]


def test_a1_dose_above_the_maximum_is_checked_at_sign_of_the_same_order(us: Cds) -> None:
    # The control of the order-select test: the same order and record at order-sign.
    draft = iso_draft(mg_per_dose=120, days_supply=60, refills=2)
    shown = topics(us.cards(SIGN_SERVICE, order_sign(a1_prefetch(), draft)))

    assert ABOVE_MAXIMUM in shown
    assert SUPPLY in shown


def test_a1_home_confirmation_test_does_not_count_before_the_first_dose(us: Cds) -> None:
    # C2: a home test as the confirmation test before the first dose satisfies nothing, even
    # when the prescriber permits home tests.
    tests = (poc_hcg(v("2026-02-06")), home_hcg(v("2026-02-27")))
    prefetch = a1_prefetch(tests=tests, homeTesting=bundle(home_testing(True, v("2026-02-06"))))
    cards = us.cards(SIGN_SERVICE, order_sign(prefetch))

    ppp = assert_single_rule_card(cards, PPP, "critical", US_2026)
    assert "confirmation" in ppp["detail"].lower()


# --- A2: pregnant -------------------------------------------------------------------------------


def a2_prefetch(**overrides: Any) -> dict[str, Any]:
    """A1 with the 2026-02-27 confirmation test positive (hCG interpretation POS)."""
    tests = (poc_hcg(v("2026-02-06")), hcg(v("2026-02-27"), positive=True))
    return a1_prefetch(tests=tests, **overrides)


def test_a2_positive_test_at_order_sign(us: Cds) -> None:
    cards = us.cards(SIGN_SERVICE, order_sign(a2_prefetch()))

    c = assert_single_rule_card(cards, PREGNANCY, "critical", "US")
    contraindicated = "Pregnancy or a positive pregnancy test: isotretinoin is contraindicated."
    assert c["summary"] == contraindicated
    assert f"positive pregnancy test on {said(v('2026-02-27'))}" in c["detail"]


def test_a2_positive_test_at_patient_view_with_exposure(us: Cds) -> None:
    # On treatment: isotretinoin dispensed a month ago (exposure), this month's test positive.
    prefetch = a2_prefetch(
        medDispenses=bundle(dispense(*ISOTRETINOIN_40, v("2026-01-30"))),
    )
    cards = us.cards(VIEW_SERVICE, patient_view(prefetch))

    c = assert_single_rule_card(cards, PREGNANCY, "critical", "US")
    assert f"positive pregnancy test on {said(v('2026-02-27'))}" in c["detail"]


def test_a2_without_exposure_patient_view_answers_no_cards(us: Cds) -> None:
    # The control: the same record with no isotretinoin exposure is not this service's business.
    assert us.cards(VIEW_SERVICE, patient_view(a2_prefetch())) == []


# --- B1: minocycline, US against EU ---------------------------------------------------------


def b1_prefetch() -> dict[str, Any]:
    """B1: 24 years, cannot become pregnant (the §14 Observation), on oral minocycline daily."""
    minocycline = medication_request(
        "6980", "minocycline 100 MG Oral Capsule", mg_per_dose=100, per_day=1
    )
    return a1_prefetch(years=24, potential="cannot-become-pregnant", med_requests=(minocycline,))


def test_b1_us_tetracyclines_warning(us: Cds) -> None:
    cards = us.cards(SIGN_SERVICE, order_sign(b1_prefetch()))

    c = assert_single_rule_card(cards, TETRACYCLINES, "warning", "US")
    assert "minocycline" in c["detail"].lower()
    assert c["summary"].startswith("Minocycline 100 MG Oral Capsule with isotretinoin:")
    assert "Jurisdiction US, rules of US/ipledge-2026" in c["detail"]
    # Cannot become pregnant: no programme finding.
    assert PPP not in topics(cards)


def test_b1_eu_tetracyclines_critical(eu: Cds) -> None:
    cards = eu.cards(SIGN_SERVICE, order_sign(b1_prefetch()))

    c = assert_single_rule_card(cards, TETRACYCLINES, "critical", "EU/UK")
    assert "minocycline" in c["detail"].lower()
    assert c["summary"] == (
        "Minocycline 100 MG Oral Capsule with isotretinoin: contraindicated (intracranial "
        "hypertension)."
    )
    assert "Jurisdiction EU, rules of EU" in c["detail"]
    assert PPP not in topics(cards)


def test_b1_extension_names_the_epoch(us: Cds) -> None:
    # Issue 5: "The card detail and the extension name the jurisdiction and epoch." The detail
    # does; the extension of an epoch-independent rule carries only the variant label "US".
    c = card(us.cards(SIGN_SERVICE, order_sign(b1_prefetch())), TETRACYCLINES)

    extension = c["extension"]["org.isocds.rules"]
    assert US_2026 in repr(extension), extension


def test_same_patient_us_and_eu_get_their_own_indicators(us: Cds, eu: Cds) -> None:
    body = order_sign(b1_prefetch())
    us_cards = us.cards(SIGN_SERVICE, body)
    eu_cards = eu.cards(SIGN_SERVICE, {**body, "hookInstance": "b1-under-the-eu-client"})

    assert card(us_cards, TETRACYCLINES)["indicator"] == "warning"
    assert card(eu_cards, TETRACYCLINES)["indicator"] == "critical"
    for jurisdiction, cards in (("US", us_cards), ("EU", eu_cards)):
        variants = [
            r["variant"]
            for c in cards
            for r in c.get("extension", {}).get("org.isocds.rules", {}).get("rules", [])
        ]
        assert variants, jurisdiction
        for variant in variants:
            assert jurisdiction in variant.split("/"), (jurisdiction, variant)
        assert rule_entry(card(cards, TETRACYCLINES), TETRACYCLINES)["variant"].startswith(
            jurisdiction
        )


# --- B2: a doxycycline code the service does not list -----------------------------------------


def test_b2_unlisted_doxycycline_code_matches_by_name(us: Cds) -> None:
    unlisted = medication_request(
        "999999901", "Doxycycline hyclate 100 MG Oral Tablet", mg_per_dose=100, per_day=2
    )
    cards = us.cards(SIGN_SERVICE, order_sign(a1_prefetch(med_requests=(unlisted,))))

    c = assert_single_rule_card(cards, TETRACYCLINES, "warning", "US")
    assert "matched by name" in c["detail"]
    assert "Doxycycline hyclate 100 MG Oral Tablet" in c["detail"]


def test_b2_listed_doxycycline_code_matches_by_code(us: Cds) -> None:
    # The control: RxNorm 3640 is in the tetracycline value set.
    listed = medication_request(*DOXYCYCLINE, mg_per_dose=100)
    cards = us.cards(SIGN_SERVICE, order_sign(a1_prefetch(med_requests=(listed,))))

    c = card(cards, TETRACYCLINES)
    assert "matched by name" not in c["detail"]
    assert "code" in c["detail"]


# --- D1: triglycerides in mmol/L ----------------------------------------------------------------


def d1_prefetch() -> dict[str, Any]:
    """D1: first dose 2026-01-05; baseline labs 2025-12-20; TG 9.5 mmol/L on 2026-02-26."""
    return a1_prefetch(
        medDispenses=bundle(dispense(*ISOTRETINOIN_40, v("2026-01-05"))),
        lipids=bundle(
            quantity("2571-8", 120, "mg/dL", v("2025-12-20")),
            quantity("2571-8", 9.5, "mmol/L", v("2026-02-26")),
        ),
        liver=bundle(quantity("1742-6", 22, "U/L", v("2025-12-20"), high=40)),
    )


def test_d1_triglycerides_in_mmol_per_l_at_patient_view(us: Cds) -> None:
    cards = us.cards(VIEW_SERVICE, patient_view(d1_prefetch()))

    c = assert_single_rule_card(cards, TG_SEVERE, "critical", "US/EU/UK")
    assert TG_ELEVATED not in topics(cards)
    detail = c["detail"]
    # 9.5 × 88.57 = 841.4 mg/dL against the threshold > 800 mg/dL; fasting was not recorded.
    assert "9.5 mmol/L" in detail
    assert "841.4 mg/dL" in detail
    assert "800 mg/dL" in detail
    assert "fasting not recorded" in detail
    assert said(v("2026-02-26")) in detail
    assert c["summary"] == (
        "Isotretinoin: triglycerides 9.5 mmol/L (841.4 mg/dL), pancreatitis risk. Stop if they "
        "cannot be controlled."
    )


# --- C2: a home pregnancy test during treatment -------------------------------------------------


def c2_prefetch(
    *,
    test: dict[str, Any] | None = None,
    permitted: tuple[tuple[bool, str], ...] = ((True, "2026-02-06"),),
) -> dict[str, Any]:
    """C2: can become pregnant, first dose long taken (follow-up), this month's test yesterday.

    ``permitted`` holds the ``home-testing-permitted`` Observations as (value, vignette date).
    """
    dispenses = bundle(
        dispense(*ISOTRETINOIN_40, in_days(-150)),
        dispense(*ISOTRETINOIN_40, in_days(-29)),
    )
    return a1_prefetch(
        tests=(poc_hcg(in_days(-160)), hcg(in_days(-140)), test or home_hcg(in_days(-1))),
        medDispenses=dispenses,
        homeTesting=bundle(*(home_testing(value, v(day)) for value, day in permitted)),
    )


def assert_monthly_test_satisfied(cards: list[dict[str, Any]]) -> dict[str, Any]:
    """The monthly test is not due, and the window runs 7 days from yesterday's test."""
    listed = checklist(cards)
    assert MONTHLY not in rule_ids(listed)
    assert "Monthly pregnancy test: due" not in listed["detail"]
    yesterday = today() - timedelta(days=1)
    end = yesterday + timedelta(days=7 - 1)  # specimen day = day 1
    assert end == today() + timedelta(days=5)
    assert window_line(yesterday, end) in listed["detail"], listed["detail"]
    assert WINDOW in rule_ids(listed)
    return listed


def assert_monthly_test_due(cards: list[dict[str, Any]]) -> dict[str, Any]:
    """The monthly test is due, and no window opens from yesterday's test."""
    listed = checklist(cards)
    assert MONTHLY in rule_ids(listed)
    assert "Monthly pregnancy test: due" in listed["detail"]
    yesterday = today() - timedelta(days=1)
    assert f"fill window {span(yesterday, yesterday + timedelta(days=6))}" not in listed["detail"]
    return listed


def test_c2_home_test_with_permission_satisfies_the_monthly_test(us: Cds) -> None:
    cards = us.cards(VIEW_SERVICE, patient_view(c2_prefetch()))

    listed = assert_monthly_test_satisfied(cards)
    assert "rules of US/ipledge-2026" in listed["detail"]


def test_c2_home_test_without_permission_does_not_count(us: Cds) -> None:
    cards = us.cards(VIEW_SERVICE, patient_view(c2_prefetch(permitted=())))

    assert_monthly_test_due(cards)


def test_c2_latest_permission_observation_decides(us: Cds) -> None:
    withdrawn = ((True, "2026-02-06"), (False, "2026-02-20"))
    cards = us.cards(VIEW_SERVICE, patient_view(c2_prefetch(permitted=withdrawn)))
    assert_monthly_test_due(cards)

    granted = ((False, "2026-02-06"), (True, "2026-02-20"))
    cards = us.cards(VIEW_SERVICE, patient_view(c2_prefetch(permitted=granted)))
    assert_monthly_test_satisfied(cards)


@pytest.mark.parametrize(
    ("performer", "counts"),
    [
        pytest.param("Organization/lab-1", True, id="organization-is-a-lab"),
        pytest.param("Practitioner/doc-1", True, id="practitioner-is-point-of-care"),
        pytest.param("PractitionerRole/role-1", True, id="practitioner-role-is-point-of-care"),
        pytest.param(PATIENT_REF, False, id="patient-is-home"),
        pytest.param("RelatedPerson/mum-1", False, id="related-person-is-home"),
        pytest.param(None, False, id="no-performer-is-unknown"),
    ],
)
def test_c2_setting_from_the_performer_without_permission(
    us: Cds, performer: str | None, counts: bool
) -> None:
    # No permission: only a medical setting (RULES §14, read from the performer) satisfies it.
    extra: dict[str, Any] = {"performer": [{"reference": performer}]} if performer else {}
    test = hcg(in_days(-1), lab=False, **extra)
    cards = us.cards(VIEW_SERVICE, patient_view(c2_prefetch(test=test, permitted=())))

    if counts:
        assert_monthly_test_satisfied(cards)
    else:
        assert_monthly_test_due(cards)


def test_c2_test_setting_component_overrides_the_performer(us: Cds) -> None:
    # Performer the Patient, but the test-setting component says medical-lab.
    test = home_hcg(in_days(-1), component=setting_component("medical-lab"))
    cards = us.cards(VIEW_SERVICE, patient_view(c2_prefetch(test=test, permitted=())))

    assert_monthly_test_satisfied(cards)


def test_c2_test_setting_component_overrides_the_laboratory_category(us: Cds) -> None:
    # Category laboratory, but the component says the test was taken at home: no permission.
    test = hcg(in_days(-1), component=setting_component("home"))
    cards = us.cards(VIEW_SERVICE, patient_view(c2_prefetch(test=test, permitted=())))

    assert_monthly_test_due(cards)


def test_c2_client_default_permits_home_tests(app: Callable[..., Cds]) -> None:
    permissive = app(us={"home_testing_permitted_default": True})
    cards = permissive.cards(VIEW_SERVICE, patient_view(c2_prefetch(permitted=())))

    assert_monthly_test_satisfied(cards)


def test_c2_observation_overrides_the_client_default(app: Callable[..., Cds]) -> None:
    permissive = app(us={"home_testing_permitted_default": True})
    refused = ((False, "2026-02-20"),)
    cards = permissive.cards(VIEW_SERVICE, patient_view(c2_prefetch(permitted=refused)))

    assert_monthly_test_due(cards)


@pytest.fixture
def us_pre_2026(app: Callable[..., Cds]) -> Cds:
    """The US client with ``ipledge-2026`` configured to begin after today: ``US/pre-2026``."""
    return app(ipledge_2026_effective=today() + timedelta(days=30))


def test_c2_pre_2026_home_test_satisfies_the_monthly_test(us_pre_2026: Cds) -> None:
    cards = us_pre_2026.cards(VIEW_SERVICE, patient_view(c2_prefetch()))

    listed = assert_monthly_test_satisfied(cards)
    assert f"rules of {US_PRE_2026}" in listed["detail"]


def test_c2_pre_2026_home_test_is_accepted_without_permission(us_pre_2026: Cds) -> None:
    # Before ipledge-2026 the REMS text asks for a medical setting and FDA does not enforce it:
    # the home test is accepted whatever the permission says (the control of the 2026 test).
    cards = us_pre_2026.cards(VIEW_SERVICE, patient_view(c2_prefetch(permitted=())))

    assert_monthly_test_satisfied(cards)


def test_c2_pre_2026_home_test_carries_the_info_note(us_pre_2026: Cds) -> None:
    # vignettes.md C2: "also satisfied ... with an info note that the REMS text before
    # ipledge-2026 asks for a medical setting and FDA does not enforce it".
    cards = us_pre_2026.cards(VIEW_SERVICE, patient_view(c2_prefetch()))

    said = " ".join(c.get("detail", "") for c in cards if c["indicator"] == "info").lower()
    assert "medical setting" in said, said
    assert "not enforce" in said, said


# --- the order-sign card set (issue 12): fewer, sharper cards ----------------------------------

IPLEDGE = "documentation.ipledge"
OTHER_ITEMS = "open the patient's chart view (patient-view) to see them."


def group(detail: str, head: str) -> list[str]:
    """The lines of a group of the Checklist card (``**head**`` up to the next blank line)."""
    part = detail.split(f"**{head}**\n", 1)
    assert len(part) == 2, detail
    return part[1].split("\n\n", 1)[0].splitlines()


def assert_ipledge_once(cards: list[dict[str, Any]]) -> None:
    """The iPLEDGE item is shown once: a Checklist line, never also a card of its own."""
    assert card_for(cards, IPLEDGE) is None
    carrying = [c for c in cards if IPLEDGE in rule_ids(c)]
    assert len(carrying) == 1, [c["summary"] for c in carrying]
    lines = [x for c in cards for x in c["detail"].splitlines() if "iPLEDGE enrolment" in x]
    assert len(lines) == 1, lines


def test_a1_order_sign_card_set(us: Cds) -> None:
    cards = us.cards(SIGN_SERVICE, order_sign(a1_prefetch()))

    # The programme (critical), what is missing, and the checklist: nothing else.
    assert [c["source"]["topic"]["code"] for c in cards] == [
        PPP,
        "information-needed",
        "checklist",
    ]
    info = information_card(cards)
    assert info is not None
    assert info["summary"] == (
        "Information needed for this isotretinoin order: mood screen item 9 and breastfeeding."
    )
    listed = checklist(cards)
    assert listed["summary"] == (
        "Isotretinoin checklist: 3 items to complete before this prescription."
    )
    assert group(listed["detail"], "Before this prescription") == [
        "- iPLEDGE enrolment and monthly confirmation: due now — enrol the patient in iPLEDGE "
        "before the first prescription",
        "- Contraception: due now — needs abstinence, or two methods of which at least one is "
        "primary",
        f"- {window_line(v('2026-02-27'), v('2026-03-05'))}; ≤ 30 days' supply, no refills",
    ]
    # The rest is one line: the nine counselling topics, listed at patient-view.
    assert f"9 other items (counselling): {OTHER_ITEMS}" in listed["detail"]
    assert "**Counselling**" not in listed["detail"]
    assert "**This visit**" not in listed["detail"]
    assert "Counsel:" not in listed["detail"]
    assert set(rule_ids(listed)) == {IPLEDGE, "monitoring.contraception", WINDOW}
    assert_ipledge_once(cards)


def test_a2_order_sign_card_set(us: Cds) -> None:
    cards = us.cards(SIGN_SERVICE, order_sign(a2_prefetch()))

    assert [c["source"]["topic"]["code"] for c in cards] == [
        PPP,
        PREGNANCY,
        "information-needed",
        "checklist",
    ]
    listed = checklist(cards)
    before = group(listed["detail"], "Before this prescription")
    assert len(before) == 4, before
    # The positive confirmation test leaves the confirmation test due and no window open.
    assert "- Confirmation pregnancy test: due now — medical setting" in before
    opens = "- Prescription window: due now — opens on the specimen date"
    assert any(x.startswith(opens) for x in before), before
    assert f"9 other items (counselling): {OTHER_ITEMS}" in listed["detail"]
    assert_ipledge_once(cards)


def test_b1_order_sign_card_set(us: Cds) -> None:
    cards = us.cards(SIGN_SERVICE, order_sign(b1_prefetch()))

    assert [c["source"]["topic"]["code"] for c in cards] == [
        TETRACYCLINES,
        "information-needed",
        "checklist",
    ]
    listed = checklist(cards)
    # Cannot become pregnant: no tests, contraception or window; iPLEDGE enrolment only, and no
    # emergency-contraception counselling (8 topics).
    assert group(listed["detail"], "Before this prescription") == [
        "- iPLEDGE enrolment and monthly confirmation: due now — enrol the patient in iPLEDGE "
        "before the first prescription",
    ]
    assert f"8 other items (counselling): {OTHER_ITEMS}" in listed["detail"]
    assert_ipledge_once(cards)


def test_order_select_keeps_the_ipledge_card_and_lists_no_items(us: Cds) -> None:
    # order-select is the early check: iPLEDGE is its card there (the checklist lists no items).
    cards = us.cards(SELECT_SERVICE, order_select(a1_prefetch()))

    assert card_for(cards, IPLEDGE) is not None
    listed = checklist(cards)
    assert "**Before this prescription**" not in listed["detail"]
    assert IPLEDGE not in rule_ids(listed)
