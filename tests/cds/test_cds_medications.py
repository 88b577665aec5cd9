"""Medications as EHRs write them, at CDS Hooks (RULES §13): display-only brands, a text that names
two sets, and the "Medications not recognised" line."""

from __future__ import annotations

from typing import Any

from tests.cds.support import (
    ISOTRETINOIN_40,
    SIGN_SERVICE,
    Cds,
    bundle,
    card_for,
    checklist_card,
    dispense,
    information_card,
    medication_request,
    rule_ids,
)
from tests.cds.test_cds_vignettes import a1_prefetch, a2_prefetch, order_sign, v

TETRACYCLINES = "interaction.tetracyclines"


def _current(display: str) -> dict[str, Any]:
    """An active MedicationRequest known only by its display text (no code)."""
    return medication_request(None, display, mg_per_dose=100, per_day=1)


def _all_text(cards: list[dict[str, Any]]) -> str:
    return "\n".join(c.get("detail", "") + c["summary"] for c in cards)


def test_a_display_only_brand_fires_the_tetracycline_card(cds: Cds) -> None:
    prefetch = a1_prefetch(med_requests=(_current("Solodyn 105 MG Extended Release Tablet"),))
    cards = cds.cards(SIGN_SERVICE, order_sign(prefetch))
    card = card_for(cards, TETRACYCLINES)
    assert card is not None
    assert card["indicator"] == "warning"
    assert "Medications not recognised" not in _all_text(cards)


def test_a_text_naming_isotretinoin_and_doxycycline_keeps_the_tetracycline_warning(
    cds: Cds,
) -> None:
    prefetch = a1_prefetch(med_requests=(_current("doxycycline (with isotretinoin)"),))
    cards = cds.cards(SIGN_SERVICE, order_sign(prefetch))
    assert TETRACYCLINES in {r for c in cards for r in rule_ids(c)}


def test_an_unknown_drug_is_one_line_and_no_card_of_its_own(cds: Cds) -> None:
    baseline = cds.cards(SIGN_SERVICE, order_sign(a1_prefetch()))
    prefetch = a1_prefetch(med_requests=(_current("Zorblaxin 10 MG Oral Tablet"),))
    cards = cds.cards(SIGN_SERVICE, order_sign(prefetch))
    # The same cards as without the drug: it changes no decision and makes no card.
    assert [c["summary"] for c in cards] == [c["summary"] for c in baseline]
    holder = information_card(cards) or checklist_card(cards)
    assert holder is not None
    assert "Medications not recognised" in holder["detail"]
    assert "Zorblaxin 10 MG Oral Tablet" in holder["detail"]


def test_the_line_goes_on_the_information_card_when_there_is_one(cds: Cds) -> None:
    prefetch = a1_prefetch(med_requests=(_current("Zorblaxin 10 MG Oral Tablet"),), allergies=None)
    cards = cds.cards(SIGN_SERVICE, order_sign(prefetch))
    info = information_card(cards)
    assert info is not None
    assert "Zorblaxin 10 MG Oral Tablet" in info["detail"]
    checklist = checklist_card(cards)
    assert checklist is not None
    assert "Zorblaxin" not in checklist.get("detail", "")


def test_a_code_of_another_system_is_not_a_tetracycline(cds: Cds) -> None:
    other = medication_request(None, "Local formulary item 3640")
    other["medicationCodeableConcept"]["coding"] = [
        {"system": "urn:local:formulary", "code": "3640"}
    ]
    prefetch = a1_prefetch(medRequests=bundle(other))
    cards = cds.cards(SIGN_SERVICE, order_sign(prefetch))
    assert card_for(cards, TETRACYCLINES) is None


def test_a_stop_rule_suspends_the_window_and_monthly_test_on_the_checklist_card(cds: Cds) -> None:
    # RULES §15, shared with the course views: on treatment with a positive test, the Checklist
    # card never lists the prescription window or the monthly test as due.
    prefetch = a2_prefetch(medDispenses=bundle(dispense(*ISOTRETINOIN_40, v("2026-01-30"))))
    cards = cds.cards(SIGN_SERVICE, order_sign(prefetch))
    assert card_for(cards, "stop.pregnancy") is not None
    checklist = checklist_card(cards)
    assert checklist is not None
    detail = checklist["detail"]
    suspension = next(x for x in detail.splitlines() if x.startswith("**Suspended"))
    assert suspension.startswith("**Suspended while a stop rule applies**")
    assert "Pregnancy during treatment" in suspension  # stop.pregnancy, by its title
    due_part, suspended_part = detail.split("**Suspended", 1)
    assert "Monthly pregnancy test" not in due_part
    assert "Prescribe by" not in due_part
    assert "Window missed" not in due_part
    assert "- Monthly pregnancy test: suspended" in suspended_part
    assert "- Prescription window: suspended" in suspended_part
