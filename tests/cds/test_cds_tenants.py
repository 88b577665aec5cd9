"""CDS Hooks and tenants (issue 11, finding 1 and two low findings).

Two CDS clients in two tenants, clinic A and clinic B, each with its own API key, call for the
same patient ID. Client B's calls never see clinic A's stored course; every stored row (audit
record, issued card, feedback) carries the client's tenant, and the audit record names the stored
course that drove the call; feedback on a card issued to another tenant is answered 200 but
stored ``unmatched`` and never counted; a clients file with several clients must give each a
tenant. The real app on SQLite and PostgreSQL (PostgreSQL tests fail, never skip, when it is down).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine
from sqlmodel import Session, col, select

from api.cds.clients import anonymous_client
from api.main import create_app
from api.settings import DEFAULT_TENANT, SettingsError, load_settings
from db.tables import CdsCard, CdsCardSuggestion, CdsFeedback
from tests.api.conftest import ALL_SCOPES, key_entry, settings
from tests.cds.support import (
    BASE,
    ISOTRETINOIN_40,
    SIGN_SERVICE,
    VIEW_SERVICE,
    Cds,
    SigningKey,
    age_birth,
    checklist_card,
    client_config,
    days_ago,
    es384_key,
    full_prefetch,
    hook_request,
    medication_request,
    patient,
    write_clients,
)
from tests.database import create_pg_database, fresh_sqlite_url

ISS_A = "https://ehr-a.example.org"
ISS_B = "https://ehr-b.example.org"
TENANT_A, TENANT_B = "clinic-a", "clinic-b"
SECRET_A = "clinic-a-api-s3cret-0123456789"  # noqa: S105  # test keys
SECRET_B = "clinic-b-api-s3cret-0123456789"  # noqa: S105
KEY_A = {"Authorization": f"Bearer {SECRET_A}"}
KEY_B = {"Authorization": f"Bearer {SECRET_B}"}


@dataclass
class Clinics:
    """One app, two clinics: each a CDS client and an API key of its own tenant."""

    url: str
    http: TestClient
    a: Cds
    b: Cds


@pytest.fixture(scope="module")
def signing_keys() -> tuple[SigningKey, SigningKey]:
    return es384_key("clinic-a-es384"), es384_key("clinic-b-es384")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def clinics(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    signing_keys: tuple[SigningKey, SigningKey],
) -> Iterator[Clinics]:
    url = fresh_sqlite_url() if request.param == "sqlite" else create_pg_database()
    key_a, key_b = signing_keys
    clients = write_clients(
        tmp_path_factory.mktemp("clients"),
        [
            client_config(ISS_A, "US", (key_a,), tenant=TENANT_A),
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
        yield Clinics(url, http, Cds(http, key_a, iss=ISS_A), Cds(http, key_b, iss=ISS_B))


# --- helpers ---------------------------------------------------------------------------------


def start_course(http: TestClient, headers: dict[str, str], pid: str) -> str:
    """An active course of ``pid`` (started 10 days ago) in the key's tenant."""
    r = http.post(
        "/v1/courses",
        json={"patient_ref": pid, "jurisdiction": "US", "start_date": days_ago(10)},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    cid: str = r.json()["id"]
    return cid


def record(http: TestClient, cid: str, route: str, body: dict[str, Any]) -> None:
    r = http.post(f"/v1/courses/{cid}/{route}", json=body, headers=KEY_A)
    assert r.status_code == 201, r.text


def view(pid: str) -> dict[str, Any]:
    """A patient-view of ``pid`` with nothing in the record: exposure can only be a course."""
    return hook_request(
        "patient-view", full_prefetch(patient=patient(age_birth(19), pid=pid)), patient_id=pid
    )


def order_sign(pid: str, draft: dict[str, Any]) -> dict[str, Any]:
    return hook_request(
        "order-sign",
        full_prefetch(patient=patient(age_birth(19), pid=pid)),
        draft=[draft],
        patient_id=pid,
    )


def isotretinoin_draft() -> dict[str, Any]:
    return medication_request(*ISOTRETINOIN_40, status="draft", mg_per_dose=40, days_supply=30)


def applying(cards: list[dict[str, Any]]) -> set[str]:
    """The rule IDs the cards carry with the status ``applies``."""
    return {
        r["ruleId"]
        for c in cards
        for r in c.get("extension", {}).get("org.isocds.rules", {}).get("rules", [])
        if r["status"] == "applies"
    }


def audit_of(http: TestClient, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The audit records the API key sees, by ``hookInstance``."""
    r = http.get("/v1/audit", params={"limit": 1000}, headers=headers)
    assert r.status_code == 200, r.text
    return {rec["hook_instance"]: rec for rec in r.json()["records"] if rec["hook_instance"]}


def summary(http: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    r = http.get("/v1/feedback/summary", headers=headers)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def stored(url: str, model: type[Any], *where: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(model).where(*where)).all())
    finally:
        engine.dispose()


# --- a stored course is seen by its own tenant's client only ---------------------------------


def test_client_b_does_not_see_the_course_clinic_a_stored_for_the_same_patient_id(
    clinics: Clinics,
) -> None:
    http = clinics.http
    cid = start_course(http, KEY_A, "p1")
    record(
        http,
        cid,
        "pregnancy-potential",
        {"recorded_on": days_ago(30), "category": "can-become-pregnant"},
    )
    record(
        http,
        cid,
        "pregnancy-tests",
        {
            "specimen_date": days_ago(2),
            "result": "positive",
            "setting": "medical-lab",
            "clia_certified": True,
        },
    )

    # patient-view: nothing in the record, so only a stored course makes the patient exposed.
    a_view, b_view = view("p1"), view("p1")
    a_cards = clinics.a.cards(VIEW_SERVICE, a_view)
    b_cards = clinics.b.cards(VIEW_SERVICE, b_view)
    assert checklist_card(a_cards) is not None
    assert b_cards == []

    # order-sign: A's stored positive test drives A's cards; B's call knows nothing of it.
    a_sign, b_sign = order_sign("p1", isotretinoin_draft()), order_sign("p1", isotretinoin_draft())
    a_sign_cards = clinics.a.cards(SIGN_SERVICE, a_sign)
    b_sign_cards = clinics.b.cards(SIGN_SERVICE, b_sign)
    assert "contraindication.pregnancy" in applying(a_sign_cards)
    assert not applying(b_sign_cards) & {"contraindication.pregnancy", "stop.pregnancy"}
    assert cid not in json.dumps(b_sign_cards)

    # The audit: each record in its client's tenant; A's names the course that drove it.
    seen_by_a, seen_by_b = audit_of(http, KEY_A), audit_of(http, KEY_B)
    for body in (a_view, a_sign):
        rec = seen_by_a[body["hookInstance"]]
        assert (rec["tenant"], rec["course_id"], rec["caller"]) == (TENANT_A, cid, ISS_A)
        assert body["hookInstance"] not in seen_by_b
    for body in (b_view, b_sign):
        rec = seen_by_b[body["hookInstance"]]
        assert (rec["tenant"], rec["course_id"], rec["caller"]) == (TENANT_B, None, ISS_B)
        assert body["hookInstance"] not in seen_by_a


def test_a_call_answered_without_cards_still_names_the_course_in_its_audit(
    clinics: Clinics,
) -> None:
    """A drug that neither is isotretinoin nor interacts: no evaluation, no card; the stored
    course was still looked up (exposure), and the record says which."""
    pid = f"p-{uuid.uuid4().hex[:8]}"
    cid = start_course(clinics.http, KEY_A, pid)
    cetirizine = medication_request("1014678", "cetirizine 10 MG Oral Tablet", status="draft")
    body = order_sign(pid, cetirizine)

    assert clinics.a.cards(SIGN_SERVICE, body) == []

    rec = audit_of(clinics.http, KEY_A)[body["hookInstance"]]
    assert (rec["tenant"], rec["course_id"], rec["decision"]) == (TENANT_A, cid, None)


def test_a_view_of_a_patient_without_a_course_has_no_course_in_its_audit(
    clinics: Clinics,
) -> None:
    body = view(f"p-{uuid.uuid4().hex[:8]}")
    assert clinics.a.cards(VIEW_SERVICE, body) == []
    rec = audit_of(clinics.http, KEY_A)[body["hookInstance"]]
    assert (rec["tenant"], rec["course_id"]) == (TENANT_A, None)


# --- feedback: only from the tenant the card was issued to -----------------------------------


def test_feedback_on_another_tenants_card_is_200_but_unmatched_and_not_counted(
    clinics: Clinics,
) -> None:
    http = clinics.http
    pid = f"p-{uuid.uuid4().hex[:8]}"
    start_course(http, KEY_A, pid)
    card = checklist_card(clinics.a.cards(VIEW_SERVICE, view(pid)))
    assert card is not None
    [issued] = stored(clinics.url, CdsCard, col(CdsCard.uuid) == card["uuid"])
    assert issued.tenant == TENANT_A
    item = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": now()}
    a_before, b_before = summary(http, KEY_A), summary(http, KEY_B)

    r = clinics.b.feedback(VIEW_SERVICE, {"feedback": [item]})

    assert r.status_code == 200, r.text
    [row] = stored(clinics.url, CdsFeedback, col(CdsFeedback.card_uuid) == card["uuid"])
    assert (row.tenant, row.matched, row.caller) == (TENANT_B, False, ISS_B)
    assert summary(http, KEY_A) == a_before  # A's summary does not count B's feedback
    b_after = summary(http, KEY_B)
    assert (b_after["feedback"], b_after["unmatched"]) == (
        b_before["feedback"] + 1,
        b_before["unmatched"] + 1,
    )
    assert b_after["rules"] == b_before["rules"]

    # The same feedback from the client the card was issued to is matched and counted, for the
    # rule behind the accepted suggestion.
    suggestion = card["suggestions"][0]
    [behind] = stored(
        clinics.url, CdsCardSuggestion, col(CdsCardSuggestion.uuid) == suggestion["uuid"]
    )
    assert behind.tenant == TENANT_A
    accepted_item = {
        **item,
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": suggestion["uuid"]}],
    }
    r = clinics.a.feedback(VIEW_SERVICE, {"feedback": [accepted_item]})
    assert r.status_code == 200, r.text
    rows = stored(clinics.url, CdsFeedback, col(CdsFeedback.card_uuid) == card["uuid"])
    assert sorted((x.tenant, x.matched) for x in rows) == [(TENANT_A, True), (TENANT_B, False)]
    a_after = summary(http, KEY_A)
    assert (a_after["feedback"], a_after["unmatched"]) == (
        a_before["feedback"] + 1,
        a_before["unmatched"],
    )
    accepted = {r["rule_id"]: r["accepted"] for r in a_after["rules"]}
    previously = {r["rule_id"]: r["accepted"] for r in a_before["rules"]}
    assert accepted[behind.rule_id] == previously.get(behind.rule_id, 0) + 1
    assert summary(http, KEY_B)["rules"] == b_after["rules"]  # B's summary does not count it


# --- the clients file: a tenant for each of several clients ----------------------------------


def test_start_up_refuses_two_clients_without_tenants(
    tmp_path: Path, signing_keys: tuple[SigningKey, SigningKey]
) -> None:
    key_a, key_b = signing_keys
    path = write_clients(
        tmp_path,
        [client_config(ISS_A, "US", (key_a,)), client_config(ISS_B, "US", (key_b,), tenant="b")],
    )
    message = f"client {ISS_A}: 'tenant' is required when more than one client is configured"
    with pytest.raises(SettingsError) as caught:
        load_settings(cds_clients_file=path, public_base_url=BASE)
    assert str(caught.value) == f"ISOCDS_CDS_CLIENTS_FILE: {message}"
    with pytest.raises(ValueError, match="'tenant' is required"):
        create_app(settings(cds_clients_file=path, public_base_url=BASE))


@pytest.mark.parametrize("tenant", ["clinic a", "", 7, "x" * 65])
def test_a_tenant_that_is_not_a_simple_name_is_refused(
    tmp_path: Path, signing_keys: tuple[SigningKey, SigningKey], tenant: Any
) -> None:
    path = write_clients(tmp_path, [client_config(ISS_A, "US", (signing_keys[0],), tenant=tenant)])
    with pytest.raises(SettingsError, match=f"client {ISS_A}: 'tenant' must be 1–64 letters"):
        load_settings(cds_clients_file=path, public_base_url=BASE)


def test_a_single_client_without_a_tenant_is_in_tenant_default(
    tmp_path: Path, signing_keys: tuple[SigningKey, SigningKey]
) -> None:
    path = write_clients(tmp_path, [client_config(ISS_A, "US", (signing_keys[0],))])
    app: FastAPI = create_app(
        settings(cds_clients_file=path, public_base_url=BASE, database_url=fresh_sqlite_url())
    )
    assert app.state.cds_clients[ISS_A].tenant == DEFAULT_TENANT
    # With authentication disabled, an anonymous call is tenant default's too.
    assert anonymous_client().tenant == DEFAULT_TENANT
