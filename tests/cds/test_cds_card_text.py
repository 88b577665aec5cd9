"""The words of the cards (issue 12): written summaries, details for clinicians, record text that
is never markup, and the order each card is about.

Every card every CDS test receives is also checked by ``check_card`` (``tests/cds/support.py``):
a summary of fewer than 140 characters that is a whole sentence naming isotretinoin, never cut
with "…", and a detail without field paths, provenance lines or live markup.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest

from api.cds import card_text
from api.cds.card_text import SUMMARIES, day, finding_summary, md, plain, rule_text, span
from domain.catalog import build_catalog
from domain.engine import Finding
from domain.rules import Outcome, Rule, Variant
from domain.settings import EvaluationSettings
from domain.vocab import Severity, Status
from tests.cds.support import (
    DOXYCYCLINE,
    ISOTRETINOIN_40,
    PATIENT_ID,
    SELECT_SERVICE,
    SIGN_SERVICE,
    VIEW_SERVICE,
    Cds,
    bundle,
    card_for,
    check_card_text,
    checklist_card,
    condition,
    days_ago,
    dispense,
    hcg,
    hook_request,
    information_card,
    medication_request,
    pregnancy_potential,
    quantity,
    today,
)
from tests.cds.test_cds_vignettes import a1_prefetch, iso_draft, order_select, order_sign, poc_hcg

TETRACYCLINES = "interaction.tetracyclines"
PPP = "contraindication.ppp-not-met"
HOSTILE = "doxycycline [x](https://evil.example) <script>alert(1)</script> ![i](http://e.x/i.png)"
"""A medication display with a Markdown link, raw HTML and an image: matched by name."""
HOSTILE_BITS = ("<script", "](https://evil", "](http://e.x", "https://evil", "<img")


def rendered(markdown: str) -> str:
    """A detail as a CommonMark renderer (with the GFM table and strikethrough rules) shows it."""
    markdown_it = pytest.importorskip("markdown_it")
    return str(
        markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    )


def assert_inert(card: dict[str, Any]) -> None:
    """No record text in ``card`` is a link, an image or HTML, in its source or once rendered."""
    check_card_text(card)
    for bit in HOSTILE_BITS:
        assert bit not in card["summary"], card["summary"]
        assert bit not in card.get("detail", ""), card["detail"]
    html = rendered(card.get("detail", ""))
    assert "<script" not in html, html
    assert "<img" not in html, html
    links = re.findall(r'<a href="([^"]*)"', html)
    assert all(not link.startswith(("https://evil", "http://e.x")) for link in links), links


# --- the words, one by one --------------------------------------------------------------------


def test_dates_are_written_for_people() -> None:
    assert day(date(2026, 10, 12)) == "12 Oct 2026"
    assert span(date(2026, 10, 22), date(2026, 10, 28)) == "22–28 Oct 2026"
    assert span(date(2026, 11, 29), date(2026, 12, 5)) == "29 Nov – 5 Dec 2026"
    assert span(date(2026, 12, 29), date(2027, 1, 4)) == "29 Dec 2026 – 4 Jan 2027"
    assert card_text.dated("window 2026-11-29 to 2026-12-05") == "window 29 Nov – 5 Dec 2026"


@pytest.mark.parametrize(
    ("record", "shown"),
    [
        ("[x](https://evil.example)", r"\[x\](https\://evil.example)"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("**bold** _it_ `code` ~~s~~ | a", r"\*\*bold\*\* \_it\_ \`code\` \~\~s\~\~ \| a"),
        ("www.evil.example", r"www\.evil.example"),
        ("mail me@evil.example", r"mail me\@evil.example"),
        ("# heading", r"\# heading"),
        ("1. item", r"1\. item"),
        ("line\nbreak\u202eRTL\u200b", "line breakRTL"),
        ("Doxycycline hyclate 100 MG Oral Tablet", "Doxycycline hyclate 100 MG Oral Tablet"),
    ],
)
def test_record_text_is_escaped_for_markdown_and_html(record: str, shown: str) -> None:
    assert md(record) == shown
    html = rendered(f"x {md(record)}")
    assert "<a " not in html
    assert "<script" not in html
    assert "<h1" not in html


def test_only_plain_record_text_enters_a_summary() -> None:
    assert plain("Doxycycline hyclate 100 MG Oral Tablet") == (
        "Doxycycline hyclate 100 MG Oral Tablet"
    )
    assert plain(HOSTILE) is None
    assert plain("www.evil.example") is None
    assert plain("x" * 60) is None


def _catalogue_rules() -> list[Rule]:
    return list(build_catalog(EvaluationSettings()).rules)


def _findings(rule: Rule) -> list[Finding]:
    """A finding of each variant and tier of ``rule``, with every value a summary may use."""
    outcome = Outcome(
        True,
        triggers=("medications[0]: doxycycline (matched by name: doxycycline)",),
        data=(
            ("planned_mg_per_kg_day", 2.67),
            ("maximum_mg_per_kg_day", 1.0),
            ("value", 9.5),
            ("unit", "mmol/L"),
            ("value_mg_dl", 841.4),
        ),
        not_before=date(2027, 1, 12),
    )
    out = []
    for v in rule.variants:
        out.append(Finding(rule, v, outcome, Status.APPLIES, v.effect, None))
        out += [Finding(rule, v, outcome, Status.APPLIES, t.effect, t) for t in v.tiers]
    return out


def _carded(v: Variant) -> bool:
    return v.severity is not Severity.INFO or any(t.severity is not Severity.INFO for t in v.tiers)


@pytest.mark.parametrize("med", [None, "doxycycline", "Doxycycline hyclate 100 MG Oral Tablet"])
def test_every_card_rule_has_a_written_summary_that_fits(med: str | None) -> None:
    for rule in _catalogue_rules():
        if not any(_carded(v) for v in rule.variants):
            continue
        assert rule.id in SUMMARIES, rule.id  # a sentence of its own, not the generic fallback
        for f in _findings(rule):
            summary = finding_summary(f, med)
            assert card_text.fits(summary), (rule.id, summary)
            assert summary != card_text.LAST_RESORT, rule.id
            assert "isotretinoin" in summary.lower(), (rule.id, summary)
            assert "{" not in summary, (rule.id, summary)


def test_summaries_use_the_medication_name_and_fall_back_to_the_rule_noun() -> None:
    rule = next(r for r in _catalogue_rules() if r.id == TETRACYCLINES)
    us, eu = (
        next(f for f in _findings(rule) if f.variant_in_force.label == x) for x in ("US", "EU/UK")
    )
    assert finding_summary(us, "doxycycline") == (
        "Doxycycline with isotretinoin: risk of intracranial hypertension. Avoid."
    )
    assert finding_summary(eu, "minocycline") == (
        "Minocycline with isotretinoin: contraindicated (intracranial hypertension)."
    )
    assert finding_summary(us, None) == (
        "A tetracycline-class antibiotic with isotretinoin: risk of intracranial hypertension. "
        "Avoid."
    )
    assert finding_summary(us, "x" * 120).startswith("A tetracycline-class antibiotic")


def test_rule_texts_lose_their_local_policy_remarks_and_nothing_else() -> None:
    for rule in _catalogue_rules():
        for v in rule.variants:
            for said in (v.text, *(t.text for t in v.tiers)):
                shown = rule_text(said)
                assert shown, rule.id
                assert not re.search(r"local[ -]policy|\bgating\b", shown, re.IGNORECASE), shown
                if "local" not in said.lower() and "Gating" not in said:
                    assert shown == " ".join(said.split()), (rule.id, shown)


# --- record text on the cards -----------------------------------------------------------------


def test_a_hostile_medication_display_is_neither_a_link_nor_html(cds: Cds) -> None:
    current = medication_request(None, HOSTILE, mg_per_dose=100, per_day=2, authored=days_ago(9))
    cards = cds.cards(SIGN_SERVICE, order_sign(a1_prefetch(med_requests=(current,))))

    c = card_for(cards, TETRACYCLINES)
    assert c is not None
    # The display cannot enter a plain-text summary: the name it matched by (the value set's) does.
    assert c["summary"] == (
        "Doxycycline with isotretinoin: risk of intracranial hypertension. Avoid."
    )
    assert r"the active doxycycline \[x\](https\://evil.example) &lt;script&gt;" in c["detail"]
    assert f"prescription from {day(today() - timedelta(days=9))}" in c["detail"]
    for each in cards:
        assert_inert(each)


def test_a_hostile_draft_order_display_is_escaped_in_the_order_line(cds: Cds) -> None:
    on_treatment = a1_prefetch(medDispenses=bundle(dispense(*ISOTRETINOIN_40, days_ago(20))))
    draft = medication_request(None, HOSTILE, status="draft", rid="doxy-draft")
    cards = cds.cards(SIGN_SERVICE, hook_request("order-sign", on_treatment, draft=[draft]))

    c = card_for(cards, TETRACYCLINES)
    assert c is not None
    assert r"For the order being signed: doxycycline \[x\](https\://evil.example)" in c["detail"]
    for each in cards:
        assert_inert(each)


def test_hostile_ids_are_never_repeated_and_valid_ones_are(cds: Cds) -> None:
    bad = hcg(days_ago(1), positive=True, oid="good-1") | {"effectiveDateTime": "yesterday"}
    hostile = bad | {"id": '"><img src=x onerror=alert(1)>'}
    prefetch = a1_prefetch(pregnancyTests=bundle(bad, hostile, poc_hcg(days_ago(3))))
    cards = cds.cards(SIGN_SERVICE, order_sign(prefetch))

    info = information_card(cards)
    assert info is not None
    assert "Pregnancy tests: Observation/good-1 could not be read" in info["detail"]
    assert "Pregnancy tests: Observation with an invalid id could not be read" in info["detail"]
    assert "onerror" not in info["detail"]
    assert_inert(info)


def test_a_hostile_unit_is_escaped(cds: Cds) -> None:
    unit = "<b>mg</b>[x](https://evil.example)"
    odd = quantity("2571-8", 120, "mg/dL", days_ago(5)) | {"id": "tg-odd"}
    odd["valueQuantity"] = {"value": 120, "unit": unit, "code": unit}
    cards = cds.cards(SIGN_SERVICE, order_sign(a1_prefetch(lipids=bundle(odd))))

    info = information_card(cards)
    assert info is not None
    line = next(x for x in info["detail"].splitlines() if "Observation/tg-odd" in x)
    assert r"has the unit '&lt;b&gt;mg&lt;/b&gt;\[x\](https\://evil.example)'" in line
    assert_inert(info)


def test_a_hostile_condition_text_is_escaped(cds: Cds) -> None:
    colitis = condition(
        "http://snomed.info/sct", "24526004", "colitis [x](https://evil.example) <script>"
    )
    cards = cds.cards(SIGN_SERVICE, order_sign(a1_prefetch(conditions=bundle(colitis))))

    c = card_for(cards, "precaution.ibd")
    assert c is not None
    assert (
        r"- recorded condition: colitis \[x\](https\://evil.example) &lt;script&gt;"
        in (c["detail"])
    )
    assert "conditions[" not in c["detail"]
    assert_inert(c)


def test_a_hostile_unrecognised_medication_is_escaped(cds: Cds) -> None:
    odd = medication_request(None, "Zorblaxin <img src=x onerror=alert(1)>", mg_per_dose=1)
    cards = cds.cards(SIGN_SERVICE, order_sign(a1_prefetch(med_requests=(odd,))))

    holder = information_card(cards) or checklist_card(cards)
    assert holder is not None
    assert "Zorblaxin &lt;img src=x onerror=alert(1)&gt;" in holder["detail"]
    for each in cards:
        assert_inert(each)


# --- the order at hand --------------------------------------------------------------------------


def test_every_order_select_card_names_the_draft_order(cds: Cds) -> None:
    cards = cds.cards(SELECT_SERVICE, order_select(a1_prefetch()))

    assert len(cards) >= 3
    for c in cards:
        assert (
            "For the draft order (not yet signed): isotretinoin 40 MG Oral Capsule."
            in (c["detail"])
        ), c["summary"]


def test_every_order_sign_card_names_the_order_being_signed(cds: Cds) -> None:
    cards = cds.cards(SIGN_SERVICE, order_sign(a1_prefetch()))

    for c in cards:
        assert "For the order being signed: isotretinoin 40 MG Oral Capsule." in c["detail"]


def on_isotretinoin() -> dict[str, Any]:
    """A1 on treatment: isotretinoin dispensed 20 days ago (exposure), can become pregnant."""
    return a1_prefetch(medDispenses=bundle(dispense(*ISOTRETINOIN_40, days_ago(20))))


@pytest.mark.parametrize(
    ("hook", "service"), [("order-select", SELECT_SERVICE), ("order-sign", SIGN_SERVICE)]
)
def test_a_doxycycline_order_shows_only_its_interaction(cds: Cds, hook: str, service: str) -> None:
    doxycycline = medication_request(*DOXYCYCLINE, status="draft", rid="doxy-1")
    cards = cds.cards(service, hook_request(hook, on_isotretinoin(), draft=[doxycycline]))

    # The programme card and the checklist belong to the isotretinoin order, not this one.
    assert [c["source"]["topic"]["code"] for c in cards] == [TETRACYCLINES]
    c = cards[0]
    assert (
        c["summary"] == "Doxycycline with isotretinoin: risk of intracranial hypertension. Avoid."
    )
    being = (
        "the doxycycline order being signed"
        if hook == "order-sign"
        else ("the draft doxycycline order (not yet signed)")
    )
    assert f"- {being} (matched by code: RxNorm 3640)" in c["detail"]
    dispensed = day(today() - timedelta(days=20))
    assert (
        f"Isotretinoin on record: isotretinoin 40 MG Oral Capsule dispensed on {dispensed}."
        in (c["detail"])
    )


def test_a_doxycycline_order_keeps_a_stop_rule_about_the_treatment(cds: Cds) -> None:
    pregnant = on_isotretinoin() | {"pregnancyTests": bundle(hcg(days_ago(2), positive=True))}
    doxycycline = medication_request(*DOXYCYCLINE, status="draft", rid="doxy-1")
    cards = cds.cards(SIGN_SERVICE, hook_request("order-sign", pregnant, draft=[doxycycline]))

    stop = card_for(cards, "stop.pregnancy")
    assert stop is not None
    assert "About the patient's isotretinoin treatment, not the order at hand." in stop["detail"]
    assert card_for(cards, PPP) is None
    assert checklist_card(cards) is None


def test_existing_and_draft_orders_are_told_apart(cds: Cds) -> None:
    authored = days_ago(12)
    active = medication_request(*DOXYCYCLINE, authored=authored, mg_per_dose=100)
    draft = medication_request(*DOXYCYCLINE, status="draft", rid="doxy-2")
    body = hook_request(
        "order-sign", a1_prefetch(med_requests=(active,)), draft=[iso_draft(), draft]
    )
    c = card_for(cds.cards(SIGN_SERVICE, body), TETRACYCLINES)

    assert c is not None
    lines = c["detail"].split("What triggered it:")[1].split("\n\n")[0]
    assert f"the active doxycycline prescription from {day(date.fromisoformat(authored))}" in lines
    assert "the doxycycline order being signed" in lines
    assert "For the order being signed: doxycycline." in c["detail"]


# --- checklist lines -----------------------------------------------------------------------------


def missed_window() -> dict[str, Any]:
    """On treatment (dispensed 40 days ago), the latest negative test 20 days ago: its 7-day window
    has passed and no newer test is recorded."""
    return a1_prefetch(
        medDispenses=bundle(dispense(*ISOTRETINOIN_40, days_ago(40))),
        pregnancyTests=bundle(poc_hcg(days_ago(70)), hcg(days_ago(50)), hcg(days_ago(20))),
        pregnancyPotential=bundle(pregnancy_potential("can-become-pregnant", days_ago(80))),
    )


@pytest.mark.parametrize("hook", ["patient-view", "order-sign"])
def test_a_missed_window_says_what_the_rule_says_to_do(cds: Cds, hook: str) -> None:
    service = VIEW_SERVICE if hook == "patient-view" else SIGN_SERVICE
    body = hook_request(hook, missed_window(), draft=[iso_draft()])
    listed = checklist_card(cds.cards(service, body))

    assert listed is not None
    start = today() - timedelta(days=20)
    window = span(start, start + timedelta(days=6))
    # US/ipledge-2026 prescription.window: "a missed window: retest at once (in a medical
    # setting if no dose has been taken)".
    assert (
        f"- Window missed ({window}): retest at once (in a medical setting if no dose has been "
        "taken)"
    ) in listed["detail"]
    assert "- Monthly pregnancy test: due now" in listed["detail"]


def test_patient_view_groups_the_checklist_as_tasks(cds: Cds) -> None:
    listed = checklist_card(
        cds.cards(VIEW_SERVICE, hook_request("patient-view", on_isotretinoin()))
    )

    assert listed is not None
    detail = listed["detail"]
    heads = [x for x in detail.splitlines() if x.startswith("**") and x.endswith("**")]
    assert heads[:3] == ["**Before the next prescription**", "**This visit**", "**Counselling**"]
    assert (
        "- Counsel: do not donate blood during treatment and for 1 month after the last dose"
    ) in detail
    assert "- Symptom review: due now — ask about the symptoms of the stop rules" in detail
    assert listed["summary"].startswith("Isotretinoin checklist: ")


def test_the_other_items_of_order_sign_are_those_patient_view_lists(cds: Cds) -> None:
    signed = checklist_card(cds.cards(SIGN_SERVICE, order_sign(on_isotretinoin())))
    viewed = checklist_card(
        cds.cards(VIEW_SERVICE, hook_request("patient-view", on_isotretinoin()))
    )

    assert signed is not None
    assert viewed is not None
    count = re.search(r"^(\d+) other items? \(", signed["detail"], flags=re.MULTILINE)
    assert count is not None, signed["detail"]
    rest = viewed["detail"].split("**This visit**")[1].split("**Indication:**")[0]
    assert int(count.group(1)) == len(re.findall(r"^- ", rest, flags=re.MULTILINE))


def test_no_card_shows_a_patient_id_or_a_field_path(cds: Cds) -> None:
    cards = cds.cards(SIGN_SERVICE, order_sign(a1_prefetch(allergies=None, mood=None)))

    for c in cards:
        check_card_text(c)
        assert PATIENT_ID not in c.get("detail", "")
