"""Feedback per rule (issue 12, part 3 and the feedback analytics).

An accepted suggestion is credited to the rule behind it only (stored per suggestion when its card
is issued, ``cds_card_suggestion``); an override to every rule on its card; an override reason
sent without ``display`` gets the service's own display. ``GET /v1/feedback/summary`` reports, per
rule ID, the cards issued, accepted, overridden (by reason), dismissed and without feedback, with
rates, filtered by date, client and hook, as JSON or CSV, for the key's tenant only.

The real app on SQLite and PostgreSQL (PostgreSQL tests fail, never skip, when it is down); two
CDS clients in clinic A (to filter by ``iss``) and one in clinic B. The app is shared by a module,
so each test reads the cards issued since it started (``since``).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine
from sqlmodel import Session, col, select

from api.cds import cards as card_module
from api.cds.cards import OVERRIDE_REASONS
from api.feedback_summary import CSV_COLUMNS
from api.main import create_app
from api.openapi import document
from api.routes.feedback import wants_csv
from db.tables import CdsCardSuggestion, CdsFeedback
from tests.api.conftest import ALL_SCOPES, key_entry, settings
from tests.cds.support import (
    BASE,
    LEGACY_ORDER_SERVICE,
    SIGN_SERVICE,
    VIEW_SERVICE,
    Cds,
    bundle,
    client_config,
    es384_key,
    full_prefetch,
    hook_request,
    rule_ids,
    write_clients,
)
from tests.cds.test_cds_protocol import iso_active, iso_draft
from tests.database import create_pg_database, fresh_sqlite_url

ISS_A1 = "https://ehr-a1.example.org"
ISS_A2 = "https://ehr-a2.example.org"
ISS_B = "https://ehr-b.example.org"
TENANT_A, TENANT_B = "clinic-a", "clinic-b"
SECRET_A = "clinic-a-feedback-s3cret-0123456789"  # noqa: S105  # test keys
SECRET_B = "clinic-b-feedback-s3cret-0123456789"  # noqa: S105
KEY_A = {"Authorization": f"Bearer {SECRET_A}"}
KEY_B = {"Authorization": f"Bearer {SECRET_B}"}
SUMMARY = "/v1/feedback/summary"
LIPIDS, LIVER = "monitoring.lipids", "monitoring.liver"
TRIGLYCERIDES = "2571-8"  # LOINC: ordered by the lipids suggestion
OURS = OVERRIDE_REASONS[0]["system"]
DISPLAY = {r["code"]: r["display"] for r in OVERRIDE_REASONS}
CLIENT_SYSTEM = "https://ehr-a1.example.org/override-reasons"
FORMULA = '=HYPERLINK("https://evil.example")'


@dataclass
class Clinics:
    """One app: clinic A's two CDS clients and API key, clinic B's client and key."""

    url: str
    http: TestClient
    a1: Cds
    a2: Cds
    b: Cds


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def clinics(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Clinics]:
    url = fresh_sqlite_url() if request.param == "sqlite" else create_pg_database()
    key_a1, key_a2, key_b = es384_key("a1-es384"), es384_key("a2-es384"), es384_key("b-es384")
    clients = write_clients(
        tmp_path_factory.mktemp("clients"),
        [
            client_config(ISS_A1, "US", (key_a1,), tenant=TENANT_A),
            client_config(ISS_A2, "US", (key_a2,), tenant=TENANT_A),
            client_config(ISS_B, "US", (key_b,), tenant=TENANT_B),
        ],
    )
    keys = ",".join(
        (
            key_entry("clinic-a-ehr", SECRET_A, TENANT_A, ALL_SCOPES),
            key_entry("clinic-b-ehr", SECRET_B, TENANT_B, ALL_SCOPES),
        )
    )
    app = create_app(
        settings(
            database_url=url,
            cds_clients_file=clients,
            public_base_url=BASE,
            api_keys=SecretStr(keys),
        )
    )
    with TestClient(app, raise_server_exceptions=False) as http:
        yield Clinics(
            url,
            http,
            Cds(http, key_a1, iss=ISS_A1),
            Cds(http, key_a2, iss=ISS_A2),
            Cds(http, key_b, iss=ISS_B),
        )


# --- helpers ---------------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(UTC)


def stamp() -> str:
    return now().isoformat().replace("+00:00", "Z")


def exposed(hook: str) -> dict[str, Any]:
    """A request of ``hook`` for a patient on isotretinoin with nothing recorded: labs due."""
    return hook_request(hook, full_prefetch(medRequests=bundle(iso_active())), draft=[iso_draft()])


def view_cards(cds: Cds) -> list[dict[str, Any]]:
    return cds.cards(VIEW_SERVICE, exposed("patient-view"))


def checklist(cards: list[dict[str, Any]]) -> dict[str, Any]:
    """The Checklist card (found by its source topic: card wording may change)."""
    found = [c for c in cards if c["source"].get("topic", {}).get("code") == "checklist"]
    assert len(found) == 1, [c["summary"] for c in cards]
    return found[0]


def finding(cards: list[dict[str, Any]]) -> dict[str, Any]:
    """A single finding's card (it offers the service's override reasons)."""
    return next(c for c in cards if c.get("overrideReasons") and len(rule_ids(c)) == 1)


def ordering(card: dict[str, Any], loinc: str) -> dict[str, Any]:
    """The suggestion of ``card`` that orders the test ``loinc`` (found by code, not wording)."""
    return next(
        s
        for s in card["suggestions"]
        if any(c["code"] == loinc for a in s["actions"] for c in a["resource"]["code"]["coding"])
    )


def accepted(card: dict[str, Any], *suggestions: str) -> dict[str, Any]:
    return {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": s} for s in suggestions],
        "outcomeTimestamp": stamp(),
    }


def overridden(card: dict[str, Any], **reason: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": stamp(),
    }
    if reason:
        item["overrideReason"] = reason
    return item


def send(cds: Cds, *items: dict[str, Any], service: str = VIEW_SERVICE) -> None:
    r = cds.feedback(service, {"feedback": list(items)})
    assert r.status_code == 200, r.text


def summary(http: TestClient, headers: dict[str, str] = KEY_A, **params: Any) -> dict[str, Any]:
    sent = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()}
    r = http.get(SUMMARY, params=sent, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    out: dict[str, Any] = r.json()
    return out


def by_rule(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["rule_id"]: r for r in report["rules"]}


def stored(url: str, model: type[Any], *where: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(model).where(*where)).all())
    finally:
        engine.dispose()


def carried(cards: list[dict[str, Any]]) -> dict[str, int]:
    """How many of ``cards`` carry each rule ID."""
    out: dict[str, int] = {}
    for card in cards:
        for rule_id in set(rule_ids(card)):
            out[rule_id] = out.get(rule_id, 0) + 1
    return out


# --- part 3: an accepted suggestion is credited to its own rule --------------------------------


def test_each_suggestion_is_stored_with_the_rule_behind_it(clinics: Clinics) -> None:
    card = checklist(view_cards(clinics.a1))

    rows = stored(clinics.url, CdsCardSuggestion, col(CdsCardSuggestion.card_uuid) == card["uuid"])

    behind = {row.uuid: row.rule_id for row in rows}
    assert set(behind) == {s["uuid"] for s in card["suggestions"]}
    assert behind[ordering(card, TRIGLYCERIDES)["uuid"]] == LIPIDS
    assert behind[ordering(card, "1742-6")["uuid"]] == LIVER  # ALT: the liver tests
    assert {row.tenant for row in rows} == {TENANT_A}
    assert set(behind.values()) <= set(rule_ids(card))


def test_the_rules_behind_a_suggestion_are_never_sent(clinics: Clinics) -> None:
    for cards in (view_cards(clinics.a1), clinics.a1.cards(SIGN_SERVICE, exposed("order-sign"))):
        for card in cards:
            for suggestion in card.get("suggestions", []):
                assert set(suggestion) <= {"label", "uuid", "isRecommended", "actions"}


def test_due_items_ordering_the_same_tests_share_one_suggestion_with_both_rules() -> None:
    due = [
        "monitoring.pregnancy-test.confirmation",
        "monitoring.pregnancy-test.monthly",
        LIPIDS,
        "monitoring.mood",  # orders nothing
    ]

    made = card_module._suggestions(due, "pat-1")  # the suggestion builder

    assert [s[card_module.SUGGESTION_RULES] for s in made] == [due[:2], [LIPIDS]]


def test_accepting_the_lipids_suggestion_credits_monitoring_lipids_only(clinics: Clinics) -> None:
    since = now()
    cards = view_cards(clinics.a1)
    card = checklist(cards)
    lipids = ordering(card, TRIGLYCERIDES)

    send(clinics.a1, accepted(card, lipids["uuid"]))

    report = summary(clinics.http, since=since)
    rules = by_rule(report)
    assert rules[LIPIDS]["accepted"] == 1
    assert rules[LIPIDS]["accepted_rate"] == round(1 / rules[LIPIDS]["issued"], 4)
    others = [r for r in rule_ids(card) if r != LIPIDS]
    assert LIVER in others
    for rule_id in others:
        assert rules[rule_id]["accepted"] == 0, rule_id
        assert rules[rule_id]["no_feedback"] == rules[rule_id]["issued"], rule_id
    assert rules[LIPIDS]["no_feedback"] == rules[LIPIDS]["issued"] - 1
    assert (report["feedback"], report["unattributed"], report["unmatched"]) == (1, 0, 0)


def test_accepting_two_suggestions_credits_both_rules(clinics: Clinics) -> None:
    since = now()
    card = checklist(view_cards(clinics.a1))
    lipids, liver = ordering(card, TRIGLYCERIDES), ordering(card, "1742-6")

    send(clinics.a1, accepted(card, lipids["uuid"], liver["uuid"]))

    rules = by_rule(summary(clinics.http, since=since))
    assert (rules[LIPIDS]["accepted"], rules[LIVER]["accepted"]) == (1, 1)
    assert all(r["accepted"] == 0 for k, r in rules.items() if k not in (LIPIDS, LIVER))


def test_an_accepted_item_naming_no_known_suggestion_is_unattributed(clinics: Clinics) -> None:
    since = now()
    card = checklist(view_cards(clinics.a1))

    send(clinics.a1, accepted(card, str(uuid.uuid4())))
    send(clinics.a1, accepted(card))

    report = summary(clinics.http, since=since)
    assert report["unattributed"] == 2
    assert report["feedback"] == 2
    assert all(r["accepted"] == 0 for r in report["rules"])


def test_repeated_feedback_counts_a_card_once(clinics: Clinics) -> None:
    since = now()
    card = checklist(view_cards(clinics.a1))
    lipids = ordering(card, TRIGLYCERIDES)

    send(clinics.a1, accepted(card, lipids["uuid"]))
    send(clinics.a1, accepted(card, lipids["uuid"]))

    report = summary(clinics.http, since=since)
    assert report["feedback"] == 2
    assert by_rule(report)[LIPIDS]["accepted"] == 1


# --- overrides: every rule on the card; the service's display ----------------------------------


def test_an_override_counts_for_every_rule_on_its_card(clinics: Clinics) -> None:
    since = now()
    card = checklist(view_cards(clinics.a1))

    send(clinics.a1, overridden(card, reason={"code": "record-incomplete", "system": OURS}))

    rules = by_rule(summary(clinics.http, since=since))
    for rule_id in rule_ids(card):
        assert rules[rule_id]["overridden"] == 1, rule_id
        assert [(r["code"], r["count"]) for r in rules[rule_id]["override_reasons"]] == [
            ("record-incomplete", 1)
        ]


def test_override_reason_without_display_gets_the_services_display(clinics: Clinics) -> None:
    since = now()
    card = finding(view_cards(clinics.a1))
    offered = {r["code"]: r for r in card["overrideReasons"]}
    assert offered["done-elsewhere"]["system"] == OURS

    # The sandbox sends the coding it was offered, without its display.
    send(clinics.a1, overridden(card, reason={"code": "done-elsewhere", "system": OURS}))

    [row] = stored(clinics.url, CdsFeedback, col(CdsFeedback.card_uuid) == card["uuid"])
    assert row.override_reason is not None
    assert row.override_reason["display"] == DISPLAY["done-elsewhere"]
    [rule_id] = rule_ids(card)
    entry = by_rule(summary(clinics.http, since=since))[rule_id]
    assert entry["overridden"] == 1
    assert entry["override_reasons"] == [
        {"code": "done-elsewhere", "system": OURS, "display": DISPLAY["done-elsewhere"], "count": 1}
    ]


def test_the_services_display_wins_and_client_reasons_keep_their_own(clinics: Clinics) -> None:
    since = now()
    one, two, three, four = (finding(view_cards(clinics.a1)) for _ in range(4))

    send(
        clinics.a1,
        # Our reason with a display of the client's own, and without a system.
        overridden(one, reason={"code": "benefit-outweighs-risk", "display": "ok by me"}),
        overridden(two, reason={"code": "benefit-outweighs-risk", "system": OURS}),
        # A reason from the client's own list, with and without a display.
        overridden(three, reason={"code": "pt-declined", "system": CLIENT_SYSTEM, "display": "No"}),
        overridden(four, reason={"code": "other", "system": CLIENT_SYSTEM}),
    )

    [rule_id] = rule_ids(one)
    entry = by_rule(summary(clinics.http, since=since))[rule_id]
    assert entry["overridden"] == 4
    assert entry["override_reasons"] == [
        {
            "code": "benefit-outweighs-risk",
            "system": OURS,
            "display": DISPLAY["benefit-outweighs-risk"],
            "count": 2,
        },
        {"code": "other", "system": CLIENT_SYSTEM, "display": None, "count": 1},
        {"code": "pt-declined", "system": CLIENT_SYSTEM, "display": "No", "count": 1},
    ]


def test_an_override_without_a_coded_reason_is_dismissed(clinics: Clinics) -> None:
    since = now()
    plain, commented = finding(view_cards(clinics.a1)), finding(view_cards(clinics.a1))

    send(clinics.a1, overridden(plain), overridden(commented, userComment="seen it"))

    [rule_id] = rule_ids(plain)
    entry = by_rule(summary(clinics.http, since=since))[rule_id]
    assert (entry["dismissed"], entry["overridden"], entry["comments"]) == (2, 0, 1)
    assert entry["override_reasons"] == []
    assert entry["dismissed_rate"] == round(2 / entry["issued"], 4)


# --- rules without feedback are listed ---------------------------------------------------------


def test_a_rule_whose_cards_got_no_feedback_is_listed_with_no_feedback_equal_to_issued(
    clinics: Clinics,
) -> None:
    since = now()
    cards = view_cards(clinics.a1) + view_cards(clinics.a1)

    report = summary(clinics.http, since=since)

    assert report["cards"] == len(cards)
    assert report["feedback"] == 0
    expected = carried(cards)
    assert {r["rule_id"]: r["issued"] for r in report["rules"]} == expected
    assert [r["rule_id"] for r in report["rules"]] == sorted(expected)
    for entry in report["rules"]:
        assert entry["issued"] >= 2
        assert entry["no_feedback"] == entry["issued"], entry
        assert (entry["accepted"], entry["overridden"], entry["dismissed"]) == (0, 0, 0)
        assert entry["no_feedback_rate"] == 1.0
        assert entry["accepted_rate"] == 0.0


# --- filters ----------------------------------------------------------------------------------


def test_the_date_filters_select_cards_by_the_time_they_were_issued(clinics: Clinics) -> None:
    start = now()
    first = view_cards(clinics.a1)
    middle = now()
    second = view_cards(clinics.a1) + view_cards(clinics.a1)
    end = now()
    # Feedback on a card of the first batch, sent after the second: it counts with its card.
    send(clinics.a1, overridden(finding(first)))

    early = summary(clinics.http, since=start, until=middle)
    late = summary(clinics.http, since=middle, until=end)
    both = summary(clinics.http, since=start, until=end)
    later = summary(clinics.http, since=end)

    assert (early["cards"], late["cards"], both["cards"]) == (
        len(first),
        len(second),
        len(first) + len(second),
    )
    assert later["cards"] == 0
    assert later["rules"] == []
    assert (early["feedback"], late["feedback"]) == (1, 0)
    assert early["filters"]["since"] is not None
    assert datetime.fromisoformat(early["filters"]["until"]) == middle
    assert {r["rule_id"]: r["issued"] for r in early["rules"]} == carried(first)


def test_the_date_filters_read_rfc_3339_offsets(clinics: Clinics) -> None:
    start = now() - timedelta(seconds=1)
    cards = view_cards(clinics.a1)
    east = start.astimezone(timezone(timedelta(hours=2))).isoformat()
    zulu = start.isoformat().replace("+00:00", "Z")

    assert east.endswith("+02:00")
    for since in (east, zulu):
        report = summary(clinics.http, since=since)
        assert report["cards"] >= len(cards)
        assert datetime.fromisoformat(report["filters"]["since"]) == start


def test_until_before_since_is_refused(clinics: Clinics) -> None:
    r = clinics.http.get(
        SUMMARY,
        params={"since": "2026-06-02T00:00:00Z", "until": "2026-06-01T00:00:00Z"},
        headers=KEY_A,
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_the_iss_filter_selects_one_clients_cards(clinics: Clinics) -> None:
    since = now()
    one = view_cards(clinics.a1)
    two = view_cards(clinics.a2) + view_cards(clinics.a2)
    send(clinics.a2, overridden(finding(two)))

    report_one = summary(clinics.http, since=since, iss=ISS_A1)
    report_two = summary(clinics.http, since=since, iss=ISS_A2)

    assert (report_one["cards"], report_two["cards"]) == (len(one), len(two))
    assert (report_one["feedback"], report_two["feedback"]) == (0, 1)
    assert report_one["filters"]["iss"] == ISS_A1
    assert summary(clinics.http, since=since, iss="https://nobody.example.org")["cards"] == 0


def test_the_hook_filter_selects_one_hooks_cards(clinics: Clinics) -> None:
    since = now()
    view = view_cards(clinics.a1)
    sign = clinics.a1.cards(SIGN_SERVICE, exposed("order-sign"))
    # The old shared ID answers order-sign too: its cards are order-sign cards.
    legacy = clinics.a1.cards(LEGACY_ORDER_SERVICE, exposed("order-sign"))
    send(clinics.a1, overridden(finding(sign)), service=SIGN_SERVICE)

    at_sign = summary(clinics.http, since=since, hook="order-sign")
    at_view = summary(clinics.http, since=since, hook="patient-view")

    assert at_sign["cards"] == len(sign) + len(legacy)
    assert at_view["cards"] == len(view)
    assert (at_sign["feedback"], at_view["feedback"]) == (1, 0)
    assert {r["rule_id"]: r["issued"] for r in at_sign["rules"]} == carried(sign + legacy)
    assert at_sign["filters"]["hook"] == "order-sign"
    r = clinics.http.get(SUMMARY, params={"hook": "order-dispatch"}, headers=KEY_A)
    assert r.status_code == 422, r.text


# --- CSV -------------------------------------------------------------------------------------

DOCUMENTED_COLUMNS = [
    "rule_id",
    "issued",
    "accepted",
    "overridden",
    "dismissed",
    "no_feedback",
    "comments",
    "accepted_rate",
    "overridden_rate",
    "dismissed_rate",
    "no_feedback_rate",
    "overridden_benefit-outweighs-risk",
    "overridden_record-incomplete",
    "overridden_done-elsewhere",
    "overridden_other",
    "override_reasons",
]


def csv_rows(http: TestClient, accept: str, **params: Any) -> list[dict[str, str]]:
    sent = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()}
    r = http.get(SUMMARY, params=sent, headers={**KEY_A, "Accept": accept})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in r.headers["content-disposition"]
    assert "Accept" in r.headers["vary"]
    assert r.text.endswith("\r\n")
    reader = csv.reader(io.StringIO(r.text, newline=""))
    header = next(reader)
    assert header == DOCUMENTED_COLUMNS
    return [dict(zip(header, row, strict=True)) for row in reader]


def test_csv_has_one_row_per_rule_with_the_jsons_numbers(clinics: Clinics) -> None:
    since = now()
    cards = view_cards(clinics.a1)
    card = checklist(cards)
    send(clinics.a1, accepted(card, ordering(card, TRIGLYCERIDES)["uuid"]))
    send(clinics.a1, overridden(finding(cards), reason={"code": "done-elsewhere", "system": OURS}))

    rows = csv_rows(clinics.http, "text/csv", since=since)
    report = summary(clinics.http, since=since)

    assert list(CSV_COLUMNS) == DOCUMENTED_COLUMNS
    assert [row["rule_id"] for row in rows] == [r["rule_id"] for r in report["rules"]]
    for row, entry in zip(rows, report["rules"], strict=True):
        for name in ("issued", "accepted", "overridden", "dismissed", "no_feedback", "comments"):
            assert int(row[name]) == entry[name], (entry["rule_id"], name)
        for name in ("accepted_rate", "overridden_rate", "dismissed_rate", "no_feedback_rate"):
            assert float(row[name]) == entry[name], (entry["rule_id"], name)
    lipids = next(row for row in rows if row["rule_id"] == LIPIDS)
    assert (lipids["accepted"], lipids["accepted_rate"]) == (
        "1",
        f"{1 / int(lipids['issued']):.4f}",
    )
    [overridden_rule] = rule_ids(finding(cards))
    row = next(row for row in rows if row["rule_id"] == overridden_rule)
    assert row["overridden_done-elsewhere"] == "1"
    assert row["overridden_other"] == "0"
    assert row["override_reasons"] == f"{DISPLAY['done-elsewhere']} [done-elsewhere]: 1"


def test_csv_cells_never_start_a_formula(clinics: Clinics) -> None:
    since = now()
    card = finding(view_cards(clinics.a1))
    send(
        clinics.a1,
        overridden(card, reason={"code": "x", "system": CLIENT_SYSTEM, "display": FORMULA}),
    )

    rows = csv_rows(clinics.http, "text/csv", since=since)

    [rule_id] = rule_ids(card)
    row = next(row for row in rows if row["rule_id"] == rule_id)
    assert row["override_reasons"] == f"'{FORMULA} [x]: 1"
    assert row["overridden_other"] == "1"


def test_csv_without_rules_is_the_header_alone(clinics: Clinics) -> None:
    assert csv_rows(clinics.http, "text/csv", since=now() + timedelta(days=1)) == []


@pytest.mark.parametrize(
    ("accept", "csv_wanted"),
    [
        ("text/csv", True),
        ("text/csv; charset=utf-8", True),
        ("text/csv, application/json", True),
        ("application/json, text/csv", False),
        ("application/json;q=0.5, text/csv", True),
        ("text/csv;q=0.5, application/json", False),
        ("text/*", True),
        ("*/*", False),
        ("", False),
        ("application/json", False),
        ("text/csv;q=0", False),
        ("text/csv;q=abc", False),
    ],
)
def test_csv_is_answered_when_accept_prefers_it(accept: str, csv_wanted: bool) -> None:
    assert wants_csv(accept) is csv_wanted


def test_json_is_the_default(clinics: Clinics) -> None:
    for accept in ("application/json", "*/*", "text/csv;q=0.1, application/json"):
        r = clinics.http.get(SUMMARY, headers={**KEY_A, "Accept": accept})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"


def test_the_openapi_document_describes_json_and_csv() -> None:
    operation = document()["paths"][SUMMARY]["get"]
    content = operation["responses"]["200"]["content"]
    assert set(content) >= {"application/json", "text/csv"}
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/FeedbackSummary"}
    assert content["text/csv"]["example"].startswith(",".join(DOCUMENTED_COLUMNS) + "\r\n")
    for column in DOCUMENTED_COLUMNS:
        assert f"`{column}`" in operation["description"], column
    names = {p["name"] for p in operation["parameters"]}
    assert names == {"since", "until", "iss", "hook"}


# --- tenants ---------------------------------------------------------------------------------


def test_another_tenant_neither_sees_nor_moves_the_numbers(clinics: Clinics) -> None:
    since = now()
    cards = view_cards(clinics.a1)
    card = checklist(cards)
    send(clinics.a1, accepted(card, ordering(card, TRIGLYCERIDES)["uuid"]))
    a_before = summary(clinics.http, since=since)
    b_before = summary(clinics.http, KEY_B, since=since)

    # B sends feedback on A's card: stored unmatched for B, never counted for A.
    send(clinics.b, overridden(card, reason={"code": "done-elsewhere", "system": OURS}))
    b_cards = view_cards(clinics.b)

    a_after = summary(clinics.http, since=since)
    b_after = summary(clinics.http, KEY_B, since=since)
    assert a_after == a_before
    assert (b_before["cards"], b_before["rules"]) == (0, [])
    assert b_after["cards"] == len(b_cards)
    assert b_after["unmatched"] == b_before["unmatched"] + 1
    assert all(r["overridden"] == 0 and r["accepted"] == 0 for r in b_after["rules"])
    # Clinic A's key cannot read B's cards by naming B's client, nor B's key A's.
    assert summary(clinics.http, since=since, iss=ISS_B)["cards"] == 0
    assert summary(clinics.http, KEY_B, since=since, iss=ISS_A1)["cards"] == 0
    b_csv = clinics.http.get(
        SUMMARY, params={"since": since.isoformat()}, headers={**KEY_B, "Accept": "text/csv"}
    )
    b_rows = list(csv.DictReader(io.StringIO(b_csv.text, newline="")))
    assert [row["rule_id"] for row in b_rows] == [r["rule_id"] for r in b_after["rules"]]
    assert next(row for row in b_rows if row["rule_id"] == LIPIDS)["accepted"] == "0"
    uuids = [c["uuid"] for c in b_cards]
    rows = stored(clinics.url, CdsCardSuggestion, col(CdsCardSuggestion.card_uuid).in_(uuids))
    assert rows
    assert {r.tenant for r in rows} == {TENANT_B}
