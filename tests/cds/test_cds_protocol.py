"""CDS Hooks 2.0 protocol (issue 5): discovery, the hooks, prefetch and the FHIR fallback, data
handling, triggers, feedback, the audit, and the answers to malformed or weird requests.

Every call goes through the real app with real signed JWTs (``tests/cds/support.py``); FHIR
fetching is tested against a real HTTP server on 127.0.0.1 (``tests/cds/fhir_server.py``). Each
test runs on a fresh migrated SQLite database, so courses, feedback and audit records of other
tests never leak in. Every 200 answer is checked against the ``cds-resp-*`` invariants and every
error against the OperationOutcome rules by :class:`tests.cds.support.Cds`.
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from api.cds.prefetch import FEEDS
from tests.api.conftest import AUTH
from tests.cds.fhir_server import FhirServer
from tests.cds.support import (
    DOXYCYCLINE,
    ISOTRETINOIN_40,
    PATIENT_ID,
    SELECT_SERVICE,
    SERVICES,
    SIGN_SERVICE,
    VIEW_SERVICE,
    Cds,
    age_birth,
    bundle,
    card_for,
    checklist_card,
    days_ago,
    dispense,
    full_prefetch,
    hcg,
    hook_request,
    information_card,
    medication_request,
    patient,
    pregnancy_potential,
    rule_ids,
    weight,
)
from tests.database import fresh_sqlite_url

MakeCds = Callable[..., Cds]
Body = dict[str, Any]

# --- the prefetch templates, as the issue writes them ----------------------------------------

T = "{{context.patientId}}"
ISSUE_PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "medRequests": "MedicationRequest?patient={{context.patientId}}&_sort=-authoredon&_count=100",
    "medDispenses": (
        "MedicationDispense?patient={{context.patientId}}&_sort=-whenhandedover&_count=50"
    ),
    "medStatements": "MedicationStatement?patient={{context.patientId}}&status=active",
    "conditions": "Condition?patient={{context.patientId}}",
    "allergies": "AllergyIntolerance?patient={{context.patientId}}",
    "pregnancyPotential": (
        "Observation?patient={{context.patientId}}"
        "&code=urn:isocds:codesystem|pregnancy-potential&_sort=-date&_count=1"
    ),
    "homeTesting": (
        "Observation?patient={{context.patientId}}"
        "&code=urn:isocds:codesystem|home-testing-permitted&_sort=-date&_count=1"
    ),
    "pregnancyStatus": (
        "Observation?patient={{context.patientId}}&code=http://loinc.org|82810-3&_sort=-date&_count=1"
    ),
    "pregnancyTests": (
        "Observation?patient={{context.patientId}}&code=http://loinc.org|2118-8,"
        "http://loinc.org|2110-5,http://loinc.org|19080-1,http://loinc.org|21198-7,"
        "http://loinc.org|2106-3,http://loinc.org|2112-1,http://loinc.org|80384-1,"
        "http://loinc.org|80385-8&_sort=-date&_count=10"
    ),
    "lipids": (
        "Observation?patient={{context.patientId}}&code=http://loinc.org|2571-8,"
        "http://loinc.org|2093-3,http://loinc.org|2085-9,http://loinc.org|13457-7,"
        "http://loinc.org|18262-6&_sort=-date&_count=20"
    ),
    "liver": (
        "Observation?patient={{context.patientId}}&code=http://loinc.org|1742-6,"
        "http://loinc.org|1920-8&_sort=-date&_count=10"
    ),
    "weight": (
        "Observation?patient={{context.patientId}}&code=http://loinc.org|29463-7&_sort=-date&_count=1"
    ),
    "mood": (
        "Observation?patient={{context.patientId}}&code=http://loinc.org|44261-6,"
        "http://loinc.org|89204-2,http://loinc.org|55758-7&_sort=-date&_count=5"
    ),
}


def query(key: str, patient_id: str = PATIENT_ID) -> str:
    """The FHIR query of prefetch ``key`` for ``patient_id``, as the server should receive it."""
    return ISSUE_PREFETCH[key].replace(T, patient_id)


FHIR_TOKEN = "fhir-access-token-for-tests"  # noqa: S105  # a test FHIR access token
BEARER = f"Bearer {FHIR_TOKEN}"
OWN_SYSTEM = "http://ehr.example.org/flowsheet-rows"
OWN_CODE = "PREG-POT-7"


def access(server: FhirServer | str) -> Body:
    """The ``fhirServer`` and ``fhirAuthorization`` of a call."""
    base = server if isinstance(server, str) else server.base
    return {
        "fhirServer": base,
        "fhirAuthorization": {
            "access_token": FHIR_TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "isocds",
            "patient": PATIENT_ID,
        },
    }


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def svc(make_cds: MakeCds) -> Cds:
    """A signed US client on a fresh database, without FHIR access."""
    return make_cds(database_url=fresh_sqlite_url())


@pytest.fixture
def fhir() -> Iterator[FhirServer]:
    """A FHIR test server on 127.0.0.1."""
    with FhirServer() as server:
        yield server


@pytest.fixture
def fhir_svc(make_cds: MakeCds, fhir: FhirServer) -> Cds:
    """A signed US client whose allow-list holds the test FHIR server."""
    return make_cds(us={"fhir_servers": [fhir.base]}, database_url=fresh_sqlite_url())


# --- data ------------------------------------------------------------------------------------


def iso_active() -> dict[str, Any]:
    """An active isotretinoin MedicationRequest authored 10 days ago."""
    return medication_request(*ISOTRETINOIN_40, status="active", authored=days_ago(10))


def iso_draft(**kw: Any) -> dict[str, Any]:
    """An isotretinoin draft order."""
    return medication_request(*ISOTRETINOIN_40, status="draft", **kw)


def doxy_draft() -> dict[str, Any]:
    """A doxycycline draft order."""
    return medication_request(*DOXYCYCLINE, status="draft")


def can_become_pregnant() -> dict[str, Any]:
    """The prescriber's category, recorded 30 days ago."""
    return bundle(pregnancy_potential("can-become-pregnant", days_ago(30)))


def own_potential(category: str = "can-become-pregnant") -> dict[str, Any]:
    """A pregnancy-potential Observation under the client's own coding."""
    return {
        "resourceType": "Observation",
        "id": "own-potential",
        "status": "final",
        "code": {"coding": [{"system": OWN_SYSTEM, "code": OWN_CODE}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": days_ago(5),
        "valueCodeableConcept": {"coding": [{"system": "urn:isocds:codesystem", "code": category}]},
    }


def sent(*keys: str, **values: Any) -> Body:
    """A prefetch holding only ``keys`` (empty Bundles, Patient for ``patient``) and ``values``."""
    full = full_prefetch(**values)
    return {k: full[k] for k in (*keys, *values)}


def unavailable(card: dict[str, Any]) -> set[str]:
    """The prefetch keys the "Information needed" card lists as not obtained: its last line names
    them for the EHR team, and each is listed in words (what it feeds) for the clinician."""
    detail = card.get("detail", "")
    named = re.search(r"prefetch keys not obtained: (.*)\._$", detail, flags=re.MULTILINE)
    keys = set(re.findall(r"`(\w+)`", named.group(1))) if named else set()
    for key in keys:
        assert f"- {FEEDS[key]}" in detail.splitlines(), (key, detail)
    return keys


def info(cards: list[dict[str, Any]]) -> dict[str, Any]:
    """The "Information needed" card, which must be there."""
    card = information_card(cards)
    assert card is not None, [c["summary"] for c in cards]
    return card


def fired(cards: list[dict[str, Any]]) -> set[str]:
    """The rule IDs of the single-rule cards."""
    return {c["source"]["topic"]["code"] for c in cards if "topic" in c["source"]}


def api_get(cds: Cds, path: str, **params: str) -> Any:
    """A ``/v1`` read with the API key; assert 200."""
    r = cds.http.get(path, params=params, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()


# --- 1. discovery ----------------------------------------------------------------------------


def test_discovery_lists_exactly_the_services_of_the_issue(svc: Cds) -> None:
    r = svc.discover()

    assert r.status_code == 200, r.text
    services = r.json()["services"]
    assert sorted((s["id"], s["hook"]) for s in services) == [
        ("isotretinoin-order-select", "order-select"),
        ("isotretinoin-order-sign", "order-sign"),
        ("isotretinoin-patient-view", "patient-view"),
    ]


def test_discovery_prefetch_templates_are_exactly_those_of_the_issue(svc: Cds) -> None:
    services = svc.discover().json()["services"]

    for service in services:
        assert service["prefetch"] == ISSUE_PREFETCH, service["hook"]


def test_discovery_services_carry_title_description_and_usage_requirements(svc: Cds) -> None:
    services = svc.discover().json()["services"]

    for service in services:
        for name in ("title", "description", "usageRequirements"):
            assert isinstance(service[name], str), (service["hook"], name)
            assert service[name].strip(), (service["hook"], name)
        for resource in ("Patient", "MedicationRequest", "Observation"):
            assert resource in service["usageRequirements"], resource


# --- 2. each hook with full prefetch ---------------------------------------------------------


def test_patient_view_with_full_prefetch_answers_cards(svc: Cds) -> None:
    body = hook_request("patient-view", full_prefetch(medRequests=bundle(iso_active())))

    cards = svc.cards(VIEW_SERVICE, body)

    assert cards
    checklist = checklist_card(cards)
    assert checklist is not None
    assert "monitoring.pregnancy-test.monthly" in rule_ids(checklist)


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_order_hooks_with_full_prefetch_answer_cards(svc: Cds, hook: str) -> None:
    prefetch = full_prefetch(
        pregnancyPotential=can_become_pregnant(),
        pregnancyTests=bundle(hcg(days_ago(3))),
        weight=bundle(weight(60, days_ago(3))),
    )
    body = hook_request(hook, prefetch, draft=[iso_draft(mg_per_dose=80, per_day=2)])

    cards = svc.cards(SERVICES[hook], body)

    assert "contraindication.ppp-not-met" in fired(cards)
    # 160 mg/day for 60 kg: the dose check belongs to order-sign only.
    assert ("dosing.above-maximum" in fired(cards)) is (hook == "order-sign")


# --- 3. partial prefetch and the FHIR fallback -----------------------------------------------


def test_missing_keys_are_fetched_with_the_bearer_token(fhir: FhirServer, fhir_svc: Cds) -> None:
    fhir.route(query("pregnancyTests"), bundle(hcg(days_ago(2), positive=True)))
    prefetch = sent(
        "patient", medRequests=bundle(iso_active()), pregnancyPotential=can_become_pregnant()
    )
    body = hook_request("patient-view", prefetch, **access(fhir))

    cards = fhir_svc.cards(VIEW_SERVICE, body)

    missing = set(ISSUE_PREFETCH) - {"patient", "medRequests", "pregnancyPotential"}
    assert set(fhir.paths()) == {query(k) for k in missing}
    assert len(fhir.paths()) == len(missing)
    assert all(s.authorization == BEARER for s in fhir.seen)
    assert "contraindication.pregnancy" in fired(cards)


def test_without_fhir_access_the_same_partial_prefetch_misses_the_pregnancy_test(
    fhir: FhirServer, fhir_svc: Cds
) -> None:
    fhir.route(query("pregnancyTests"), bundle(hcg(days_ago(2), positive=True)))
    prefetch = sent(
        "patient", medRequests=bundle(iso_active()), pregnancyPotential=can_become_pregnant()
    )

    cards = fhir_svc.cards(VIEW_SERVICE, hook_request("patient-view", prefetch))

    assert fhir.seen == []
    assert "contraindication.pregnancy" not in fired(cards)
    assert "pregnancyTests" in unavailable(info(cards))


def test_next_link_of_a_prefetch_bundle_is_followed_with_fhir_access(
    fhir: FhirServer, fhir_svc: Cds
) -> None:
    fhir.route("_page/meds-2", bundle(iso_active()))
    first = bundle(medication_request("5640", "ibuprofen"), next_url=f"{fhir.base}/_page/meds-2")
    body = hook_request(
        "order-select", full_prefetch(medRequests=first), draft=[doxy_draft()], **access(fhir)
    )

    cards = fhir_svc.cards(SELECT_SERVICE, body)

    assert fhir.paths() == ["_page/meds-2"]
    assert fhir.seen[0].authorization == BEARER
    assert "interaction.tetracyclines" in fired(cards)


def test_next_link_is_not_followed_without_fhir_access(fhir: FhirServer, fhir_svc: Cds) -> None:
    fhir.route("_page/meds-2", bundle(iso_active()))
    first = bundle(medication_request("5640", "ibuprofen"), next_url=f"{fhir.base}/_page/meds-2")
    body = hook_request("order-select", full_prefetch(medRequests=first), draft=[doxy_draft()])

    cards = fhir_svc.cards(SELECT_SERVICE, body)

    assert fhir.seen == []
    assert cards == []


def test_pages_of_a_fetched_bundle_are_followed(fhir: FhirServer, fhir_svc: Cds) -> None:
    later = fhir.paged(
        query("pregnancyTests"),
        [[hcg(days_ago(40), oid="old-negative")], [hcg(days_ago(2), positive=True)]],
    )
    prefetch = full_prefetch(
        medRequests=bundle(iso_active()),
        pregnancyPotential=can_become_pregnant(),
        pregnancyTests=None,
    )
    body = hook_request("patient-view", prefetch, **access(fhir))

    cards = fhir_svc.cards(VIEW_SERVICE, body)

    assert fhir.paths() == [query("pregnancyTests"), *later]
    assert "contraindication.pregnancy" in fired(cards)


def test_fhir_server_not_on_the_allow_list_is_never_contacted(
    fhir: FhirServer, fhir_svc: Cds
) -> None:
    with FhirServer() as other:
        other.route(query("pregnancyTests"), bundle(hcg(days_ago(2), positive=True)))
        prefetch = full_prefetch(
            medRequests=bundle(iso_active()),
            pregnancyPotential=can_become_pregnant(),
            pregnancyTests=None,
            lipids=None,
        )
        body = hook_request("patient-view", prefetch, **access(other))

        cards = fhir_svc.cards(VIEW_SERVICE, body)

        assert other.seen == []
    assert fhir.seen == []
    assert "contraindication.pregnancy" not in fired(cards)
    assert unavailable(info(cards)) == {"pregnancyTests", "lipids"}


def test_slow_fhir_server_is_cut_at_the_total_deadline(make_cds: MakeCds, fhir: FhirServer) -> None:
    cds = make_cds(
        us={"fhir_servers": [fhir.base]}, database_url=fresh_sqlite_url(), fhir_timeout_s=10
    )
    fhir.route(query("pregnancyTests"), bundle(hcg(days_ago(2), positive=True)), delay_s=10)
    prefetch = full_prefetch(
        medRequests=bundle(iso_active()),
        pregnancyPotential=can_become_pregnant(),
        pregnancyTests=None,
    )
    body = hook_request("patient-view", prefetch, **access(fhir))

    started = time.monotonic()
    cards = cds.cards(VIEW_SERVICE, body)
    elapsed = time.monotonic() - started

    assert elapsed < 3.0
    assert fhir.paths() == [query("pregnancyTests")]
    assert "contraindication.pregnancy" not in fired(cards)
    assert "pregnancyTests" in unavailable(info(cards))


def test_slow_next_page_is_cut_at_the_total_deadline(make_cds: MakeCds, fhir: FhirServer) -> None:
    cds = make_cds(
        us={"fhir_servers": [fhir.base]}, database_url=fresh_sqlite_url(), fhir_timeout_s=3.2
    )
    fhir.route("_page/slow-2", bundle(iso_active()), delay_s=10)
    first = bundle(medication_request("5640", "ibuprofen"), next_url=f"{fhir.base}/_page/slow-2")
    body = hook_request(
        "order-select", full_prefetch(medRequests=first), draft=[doxy_draft()], **access(fhir)
    )

    started = time.monotonic()
    r = cds.call(SELECT_SERVICE, body)
    elapsed = time.monotonic() - started

    assert r.status_code == 200, r.text
    assert fhir.paths() == ["_page/slow-2"]
    assert elapsed < 3.0


def test_each_fhir_call_is_cut_at_the_configured_timeout(
    make_cds: MakeCds, fhir: FhirServer
) -> None:
    cds = make_cds(
        us={"fhir_servers": [fhir.base]}, database_url=fresh_sqlite_url(), fhir_timeout_s=0.4
    )
    fhir.route(query("pregnancyTests"), bundle(hcg(days_ago(2), positive=True)), delay_s=10)
    fhir.route(query("weight"), bundle(weight(61, days_ago(2))))
    prefetch = full_prefetch(
        medRequests=bundle(iso_active()),
        pregnancyPotential=can_become_pregnant(),
        pregnancyTests=None,
        weight=None,
    )
    body = hook_request("patient-view", prefetch, **access(fhir))

    started = time.monotonic()
    cards = cds.cards(VIEW_SERVICE, body)
    elapsed = time.monotonic() - started

    assert elapsed < 2.0  # the per-call timeout, well before the 2.5 s total deadline
    assert unavailable(info(cards)) == {"pregnancyTests"}


def test_operation_outcome_prefetch_value_is_fetched_with_fhir_access(
    fhir: FhirServer, fhir_svc: Cds
) -> None:
    fhir.route(query("pregnancyTests"), bundle(hcg(days_ago(2), positive=True)))
    failed = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    prefetch = full_prefetch(
        medRequests=bundle(iso_active()),
        pregnancyPotential=can_become_pregnant(),
        pregnancyTests=failed,
    )

    cards = fhir_svc.cards(VIEW_SERVICE, hook_request("patient-view", prefetch, **access(fhir)))

    assert fhir.paths() == [query("pregnancyTests")]
    assert "contraindication.pregnancy" in fired(cards)


def test_operation_outcome_prefetch_value_without_fhir_access_is_missing(svc: Cds) -> None:
    failed = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]}
    prefetch = full_prefetch(medRequests=bundle(iso_active()), medStatements=failed)

    cards = svc.cards(VIEW_SERVICE, hook_request("patient-view", prefetch))

    assert unavailable(info(cards)) == {"medStatements"}


def test_null_prefetch_value_is_fetched_with_fhir_access(fhir: FhirServer, fhir_svc: Cds) -> None:
    fhir.route(query("pregnancyTests"), bundle(hcg(days_ago(2), positive=True)))
    fhir.route(query("patient"), patient(age_birth(19)))
    prefetch = full_prefetch(
        medRequests=bundle(iso_active()), pregnancyPotential=can_become_pregnant()
    )
    prefetch["pregnancyTests"] = None
    prefetch["patient"] = None

    r = fhir_svc.call(VIEW_SERVICE, hook_request("patient-view", prefetch, **access(fhir)))

    assert r.status_code == 200, r.text
    assert set(fhir.paths()) == {query("pregnancyTests"), query("patient")}
    assert "contraindication.pregnancy" in fired(r.json()["cards"])


def test_null_prefetch_value_without_fhir_access_is_missing(svc: Cds) -> None:
    prefetch = full_prefetch(medRequests=bundle(iso_active()))
    prefetch["medStatements"] = None

    cards = svc.cards(VIEW_SERVICE, hook_request("patient-view", prefetch))

    assert unavailable(info(cards)) == {"medStatements"}


def test_client_pregnancy_potential_coding_is_read_through_the_fhir_server(
    make_cds: MakeCds, fhir: FhirServer
) -> None:
    coding = {"system": OWN_SYSTEM, "code": OWN_CODE}
    cds = make_cds(
        us={"fhir_servers": [fhir.base], "pregnancy_potential_coding": coding},
        database_url=fresh_sqlite_url(),
    )
    own_query = (
        f"Observation?patient={PATIENT_ID}&code={OWN_SYSTEM}|{OWN_CODE}&_sort=-date&_count=1"
    )
    body = hook_request(
        "patient-view", full_prefetch(medRequests=bundle(iso_active())), **access(fhir)
    )

    before = cds.cards(VIEW_SERVICE, body)
    fhir.route(own_query, bundle(own_potential()))
    after = cds.cards(VIEW_SERVICE, {**body, "hookInstance": str(uuid.uuid4())})

    assert fhir.paths() == [own_query, own_query]
    assert "documentation.pregnancy-potential" in fired(before)
    assert "documentation.pregnancy-potential" not in fired(after)


# --- 4. optional keys missing ----------------------------------------------------------------


def test_optional_keys_missing_without_fhir_access_give_information_needed(svc: Cds) -> None:
    prefetch = sent("patient", medRequests=bundle(iso_active()))

    r = svc.call(VIEW_SERVICE, hook_request("patient-view", prefetch))

    assert r.status_code == 200, r.text
    card = info(r.json()["cards"])
    assert unavailable(card) == set(ISSUE_PREFETCH) - {"patient", "medRequests"}
    assert card["summary"].startswith("Information needed for isotretinoin monitoring")


# --- 5. the Patient --------------------------------------------------------------------------


@pytest.mark.parametrize("with_prefetch", [True, False], ids=["prefetch-without-patient", "none"])
def test_no_patient_and_no_fhir_access_is_412_naming_patient(svc: Cds, with_prefetch: bool) -> None:
    prefetch = full_prefetch(medRequests=bundle(iso_active()), patient=None)
    body = hook_request("patient-view", prefetch if with_prefetch else None)

    r = svc.call(VIEW_SERVICE, body)

    assert r.status_code == 412, r.text
    issue = r.json()["issue"][0]
    named = " ".join([issue.get("diagnostics", ""), *issue.get("expression", [])])
    assert "patient" in named.lower()


def test_patient_the_fhir_server_does_not_have_is_412(fhir: FhirServer, fhir_svc: Cds) -> None:
    prefetch = full_prefetch(medRequests=bundle(iso_active()), patient=None)

    r = fhir_svc.call(VIEW_SERVICE, hook_request("patient-view", prefetch, **access(fhir)))

    assert r.status_code == 412, r.text
    assert fhir.paths() == [query("patient")]
    assert r.json()["issue"][0]["expression"] == ["patient"]


def test_patient_only_through_the_fhir_server_is_200(fhir: FhirServer, fhir_svc: Cds) -> None:
    fhir.route(query("patient"), patient(age_birth(19)))
    prefetch = full_prefetch(medRequests=bundle(iso_active()), patient=None)

    r = fhir_svc.call(VIEW_SERVICE, hook_request("patient-view", prefetch, **access(fhir)))

    assert r.status_code == 200, r.text
    assert fhir.paths() == [query("patient")]
    assert r.json()["cards"]


# --- 6. a resource that fails parsing --------------------------------------------------------

UNREADABLE: dict[str, Body] = {
    "bad-date": {"effectiveDateTime": "yesterday"},
    "wrong-type": {"interpretation": {"coding": "POS"}},
    "bogus-status": {"status": "bogus"},
}


@pytest.mark.parametrize("defect", list(UNREADABLE))
def test_unreadable_resource_is_skipped_and_reported(svc: Cds, defect: str) -> None:
    bad = {**hcg(days_ago(1), positive=True, oid="bad-hcg"), **UNREADABLE[defect]}
    good = hcg(days_ago(2), positive=True, oid="good-hcg")
    prefetch = full_prefetch(
        medRequests=bundle(iso_active()),
        pregnancyPotential=can_become_pregnant(),
        pregnancyTests=bundle(bad, good),
    )

    cards = svc.cards(VIEW_SERVICE, hook_request("patient-view", prefetch))

    detail = info(cards)["detail"]
    assert "Observation/bad-hcg" in detail
    assert "could not be read" in detail
    assert "Observation/good-hcg" not in detail
    assert "contraindication.pregnancy" in fired(cards)  # the good one is still read


# --- 7. the official sandbox's draft order ---------------------------------------------------


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_sandbox_shaped_draft_order_is_accepted(svc: Cds, hook: str) -> None:
    context: Body = {
        "patientId": PATIENT_ID,
        "userId": "Practitioner/example",
        "draftOrders": {
            "resourceType": "Bundle",
            "entry": [
                {
                    "resource": {
                        "resourceType": "MedicationRequest",
                        "id": "request-123",
                        "status": "draft",
                        "subject": {"reference": f"Patient/{PATIENT_ID}"},
                        "authoredOn": days_ago(0),
                    }
                }
            ],
        },
    }
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/request-123"]
    body = {
        "hookInstance": str(uuid.uuid4()),
        "hook": hook,
        "fhirServer": "https://sandbox.example.org/r4",
        "context": context,
        "prefetch": full_prefetch(),
    }

    r = svc.call(SERVICES[hook], body)

    assert r.status_code == 200, r.text
    assert r.json() == {"cards": []}


# --- 8. malformed requests -------------------------------------------------------------------


def _drop(*path: str) -> Callable[[Body], None]:
    def apply(body: Body) -> None:
        target = body
        for name in path[:-1]:
            target = target[name]
        del target[path[-1]]

    return apply


def _set(value: Any, *path: str) -> Callable[[Body], None]:
    def apply(body: Body) -> None:
        target = body
        for name in path[:-1]:
            target = target[name]
        target[path[-1]] = value

    return apply


MALFORMED: dict[str, tuple[str, str, Callable[[Body], None]]] = {
    "no-hook": (SELECT_SERVICE, "order-select", _drop("hook")),
    "no-hookInstance": (SELECT_SERVICE, "order-select", _drop("hookInstance")),
    "no-context": (SELECT_SERVICE, "order-select", _drop("context")),
    "no-patientId": (SELECT_SERVICE, "order-select", _drop("context", "patientId")),
    "order-select-without-draftOrders": (
        SELECT_SERVICE,
        "order-select",
        _drop("context", "draftOrders"),
    ),
    "order-sign-without-draftOrders": (
        SIGN_SERVICE,
        "order-sign",
        _drop("context", "draftOrders"),
    ),
    "patient-view-at-the-order-service": (
        SELECT_SERVICE,
        "order-select",
        _set("patient-view", "hook"),
    ),
    "order-sign-at-the-patient-view-service": (
        VIEW_SERVICE,
        "patient-view",
        _set("order-sign", "hook"),
    ),
    "order-sign-at-the-order-select-service": (
        SELECT_SERVICE,
        "order-sign",
        _set("order-sign", "hook"),
    ),
    "order-select-at-the-order-sign-service": (
        SIGN_SERVICE,
        "order-select",
        _set("order-select", "hook"),
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_request_is_400_operation_outcome(svc: Cds, case: str) -> None:
    service, hook, mutate = MALFORMED[case]
    body = hook_request(hook, full_prefetch(), draft=[iso_draft()])
    mutate(body)

    r = svc.call(service, body)

    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "raw", [b"{not json", b'[{"hook": "patient-view"}]', b'"patient-view"'], ids=str
)
def test_body_that_is_not_a_json_object_is_400(svc: Cds, raw: bytes) -> None:
    path = f"/cds-services/{VIEW_SERVICE}"
    headers = {**svc.headers(path), "Content-Type": "application/json"}

    r = svc.http.post(path, content=raw, headers=headers)

    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"


def test_unknown_service_is_404_operation_outcome(svc: Cds) -> None:
    r = svc.call("isotretinoin-unknown", hook_request("patient-view", full_prefetch()))

    assert r.status_code == 404, r.text
    assert r.json()["issue"][0]["code"] == "not-found"


def test_unknown_fields_are_accepted(svc: Cds) -> None:
    prefetch = full_prefetch(medRequests=bundle(iso_active()))
    plain = hook_request("patient-view", prefetch)
    extra = copy.deepcopy(plain)
    extra["hookInstance"] = str(uuid.uuid4())
    extra["extension"] = {"com.example.ehr": {"department": "dermatology"}}
    extra["context"]["encounterId"] = "enc-9"
    extra["context"]["extension"] = {"com.example.context": True}
    extra["prefetch"]["encounter"] = {"resourceType": "Encounter", "id": "enc-9"}
    extra["prefetch"]["condition"] = bundle()
    extra["fhirAuthorization"] = None
    extra["fhirVersion"] = "4.0.1"

    expected = svc.cards(VIEW_SERVICE, plain)
    r = svc.call(VIEW_SERVICE, extra)

    assert r.status_code == 200, r.text
    assert fired(r.json()["cards"]) == fired(expected)


# --- 9. triggers -----------------------------------------------------------------------------


def test_interacting_order_for_a_patient_on_isotretinoin_gives_the_interaction_card(
    svc: Cds,
) -> None:
    prefetch = full_prefetch(medRequests=bundle(iso_active()))

    cards = svc.cards(SELECT_SERVICE, hook_request("order-select", prefetch, draft=[doxy_draft()]))

    assert "interaction.tetracyclines" in fired(cards)


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_interacting_order_without_exposure_answers_no_cards(svc: Cds, hook: str) -> None:
    body = hook_request(hook, full_prefetch(), draft=[doxy_draft()])

    r = svc.call(SERVICES[hook], body)

    assert r.status_code == 200, r.text
    assert r.json() == {"cards": []}


def test_completed_isotretinoin_request_20_days_ago_fires_patient_view(svc: Cds) -> None:
    done = medication_request(*ISOTRETINOIN_40, status="completed", authored=days_ago(20))

    cards = svc.cards(
        VIEW_SERVICE, hook_request("patient-view", full_prefetch(medRequests=bundle(done)))
    )

    assert cards
    assert checklist_card(cards) is not None


def test_completed_isotretinoin_request_120_days_ago_alone_answers_no_cards(svc: Cds) -> None:
    done = medication_request(*ISOTRETINOIN_40, status="completed", authored=days_ago(120))
    body = hook_request("patient-view", full_prefetch(medRequests=bundle(done)))

    r = svc.call(VIEW_SERVICE, body)

    assert r.json() == {"cards": []}


def test_patient_without_exposure_at_patient_view_answers_no_cards(svc: Cds) -> None:
    other = medication_request("5640", "ibuprofen", authored=days_ago(3))
    body = hook_request("patient-view", full_prefetch(medRequests=bundle(other)))

    r = svc.call(VIEW_SERVICE, body)

    assert r.json() == {"cards": []}


def test_isotretinoin_dispense_within_90_days_counts_as_exposure(svc: Cds) -> None:
    handed = bundle(dispense(*ISOTRETINOIN_40, days_ago(30)))

    cards = svc.cards(
        VIEW_SERVICE, hook_request("patient-view", full_prefetch(medDispenses=handed))
    )

    assert cards
    assert checklist_card(cards) is not None


def test_active_course_in_the_service_counts_as_exposure(svc: Cds) -> None:
    pid = f"pat-course-{uuid.uuid4().hex[:8]}"
    body = hook_request(
        "patient-view", full_prefetch(patient=patient(age_birth(19), pid=pid)), patient_id=pid
    )
    assert svc.call(VIEW_SERVICE, body).json() == {"cards": []}

    r = svc.http.post(
        "/v1/courses",
        json={"patient_ref": pid, "jurisdiction": "US", "start_date": days_ago(10)},
        headers=AUTH,
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "active"
    cards = svc.cards(VIEW_SERVICE, {**body, "hookInstance": str(uuid.uuid4())})

    assert cards
    assert checklist_card(cards) is not None


# --- 10. code systems ------------------------------------------------------------------------

CDC_RACE = "urn:oid:2.16.840.1.113883.6.238"


@pytest.mark.parametrize(("system", "pregnant"), [(CDC_RACE, False), ("http://loinc.org", True)])
def test_cdc_race_code_2106_3_is_not_a_pregnancy_test(
    svc: Cds, system: str, pregnant: bool
) -> None:
    test = hcg(days_ago(2), positive=True, loinc="2106-3")
    test["code"] = {"coding": [{"system": system, "code": "2106-3"}]}
    prefetch = full_prefetch(
        medRequests=bundle(iso_active()),
        pregnancyPotential=can_become_pregnant(),
        pregnancyTests=bundle(test),
    )

    cards = svc.cards(VIEW_SERVICE, hook_request("patient-view", prefetch))

    assert ("contraindication.pregnancy" in fired(cards)) is pregnant


# --- 11. feedback ----------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _view_cards(cds: Cds) -> list[dict[str, Any]]:
    prefetch = full_prefetch(medRequests=bundle(iso_active()))
    return cds.cards(VIEW_SERVICE, hook_request("patient-view", prefetch))


def test_feedback_accepted_overridden_and_unknown_are_200_and_summarised(svc: Cds) -> None:
    cards = _view_cards(svc)
    checklist = checklist_card(cards)
    documentation = card_for(cards, "documentation.pregnancy-potential")
    assert checklist is not None
    assert documentation is not None
    # The suggestion ordering triglycerides (LOINC 2571-8): the lipids one.
    lipids = next(
        s
        for s in checklist["suggestions"]
        if any(c["code"] == "2571-8" for a in s["actions"] for c in a["resource"]["code"]["coding"])
    )
    accepted = {
        "card": checklist["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": lipids["uuid"]}],
        "outcomeTimestamp": _now(),
    }
    overridden = {
        "card": documentation["uuid"],
        "outcome": "overridden",
        "overrideReason": {
            "reason": {"code": "done-elsewhere", "system": "http://example.org/override"}
        },
        "outcomeTimestamp": _now(),
    }
    unknown = {**overridden, "card": str(uuid.uuid4())}

    answers = [svc.feedback(VIEW_SERVICE, {"feedback": [item]}) for item in (accepted, overridden)]
    answers.append(svc.feedback(VIEW_SERVICE, {"feedback": [unknown]}))

    assert [a.status_code for a in answers] == [200, 200, 200]
    summary = api_get(svc, "/v1/feedback/summary")
    rules = {r["rule_id"]: r for r in summary["rules"]}
    assert summary["unmatched"] >= 1
    doc = rules["documentation.pregnancy-potential"]
    assert [(x["code"], x["system"], x["count"]) for x in doc["override_reasons"]] == [
        ("done-elsewhere", "http://example.org/override", 1)
    ]
    # An accepted suggestion counts for the rule behind it only (issue 12); an override for every
    # rule on its card.
    for rule_id in {*rule_ids(checklist), *rule_ids(documentation)}:
        expected = (int(rule_id == "monitoring.lipids"), int(rule_id in rule_ids(documentation)))
        assert (rules[rule_id]["accepted"], rules[rule_id]["overridden"]) == expected, rule_id


MALFORMED_FEEDBACK: dict[str, Callable[[Body], None]] = {
    "no-outcome": _drop("outcome"),
    "bad-outcome": _set("dismissed", "outcome"),
    "no-outcomeTimestamp": _drop("outcomeTimestamp"),
    "bad-outcomeTimestamp": _set("yesterday", "outcomeTimestamp"),
    "no-card": _drop("card"),
}


@pytest.mark.parametrize("case", list(MALFORMED_FEEDBACK))
def test_malformed_feedback_is_400_operation_outcome(svc: Cds, case: str) -> None:
    item: Body = {
        "card": str(uuid.uuid4()),
        "outcome": "overridden",
        "overrideReason": {"userComment": "not relevant"},
        "outcomeTimestamp": _now(),
    }
    MALFORMED_FEEDBACK[case](item)

    r = svc.feedback(VIEW_SERVICE, {"feedback": [item]})

    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
    assert r.json()["issue"][0]["severity"] in ("error", "fatal")


# --- 12. the audit ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "hook", "exposed"),
    [
        (VIEW_SERVICE, "patient-view", True),
        (VIEW_SERVICE, "patient-view", False),
        (SELECT_SERVICE, "order-select", True),
        (SIGN_SERVICE, "order-sign", False),
    ],
)
def test_every_service_call_is_audited(svc: Cds, service: str, hook: str, exposed: bool) -> None:
    meds = bundle(iso_active()) if exposed else bundle()
    draft = [iso_draft()] if hook != "patient-view" and exposed else [doxy_draft()]
    body = hook_request(hook, full_prefetch(medRequests=meds), draft=draft)

    r = svc.call(service, body)

    assert r.status_code == 200, r.text
    assert bool(r.json()["cards"]) is exposed
    records = api_get(svc, "/v1/audit", limit="1000")["records"]
    mine = [x for x in records if x["hook_instance"] == body["hookInstance"]]
    assert len(mine) == 1, records
    assert mine[0]["caller"] == svc.iss
    assert service in mine[0]["endpoint"]
    assert hook in mine[0]["endpoint"]


# --- 13. the "pregnancy potential not documented" card ---------------------------------------


@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
def test_pregnancy_potential_card_offers_nothing_that_records_it(svc: Cds, hook: str) -> None:
    prefetch = full_prefetch(medRequests=bundle(iso_active()))
    body = hook_request(hook, prefetch, draft=[iso_draft()])
    service = SERVICES[hook]

    card = card_for(svc.cards(service, body), "documentation.pregnancy-potential")

    assert card is not None
    for suggestion in card.get("suggestions", []):
        for action in suggestion.get("actions", []):
            assert action.get("resource", {}).get("resourceType") != "Observation", suggestion
    detail = " ".join(card["detail"].lower().split())
    assert "pregnancy-prevention requirements apply until the prescriber records" in detail


# --- 14. the "Information needed" indicator --------------------------------------------------


@pytest.mark.parametrize(
    ("hook", "indicator"), [("order-sign", "critical"), ("order-select", "warning")]
)
def test_information_needed_is_critical_at_order_sign_for_programme_unknowns(
    svc: Cds, hook: str, indicator: str
) -> None:
    prefetch = full_prefetch(pregnancyPotential=None)
    body = hook_request(hook, prefetch, draft=[iso_draft()])

    card = info(svc.cards(SERVICES[hook], body))

    assert {"contraindication.pregnancy", "contraindication.ppp-not-met"} <= set(rule_ids(card))
    assert card["indicator"] == indicator


def test_information_needed_at_patient_view_is_a_warning(svc: Cds) -> None:
    prefetch = full_prefetch(medRequests=bundle(iso_active()), pregnancyPotential=None)

    card = info(svc.cards(VIEW_SERVICE, hook_request("patient-view", prefetch)))

    assert "contraindication.pregnancy" in rule_ids(card)
    assert card["indicator"] == "warning"


# --- 15. Checklist suggestions ---------------------------------------------------------------


def test_missing_lab_suggestions_are_valid_r4_service_requests(svc: Cds) -> None:
    checklist = checklist_card(_view_cards(svc))

    assert checklist is not None
    assert checklist["selectionBehavior"] in ("any", "at-most-one")
    labels = [s["label"] for s in checklist["suggestions"]]
    assert len(labels) >= 2, labels
    for suggestion in checklist["suggestions"]:
        uuid.UUID(suggestion["uuid"])
        for action in suggestion["actions"]:
            assert action["type"] == "create"
            assert action["description"]
            resource = action["resource"]
            ServiceRequest.model_validate(resource)
            assert resource["resourceType"] == "ServiceRequest"
            assert resource["status"] == "draft"
            assert resource["intent"] == "order"
            assert resource["subject"] == {"reference": f"Patient/{PATIENT_ID}"}
            codes = [(c["system"], c["code"]) for c in resource["code"]["coding"]]
            assert codes, resource
            assert all(system == "http://loinc.org" for system, _ in codes), codes


# --- 16. error bodies and weird JSON ---------------------------------------------------------


def test_oversized_body_is_413_operation_outcome(svc: Cds) -> None:
    body = hook_request("patient-view", full_prefetch())
    body["padding"] = "x" * 300_000

    r = svc.call(VIEW_SERVICE, body)

    assert r.status_code == 413, r.text
    assert r.json()["issue"][0]["code"] == "too-costly"


def _draft(body: Body) -> Body:
    resource: Body = body["context"]["draftOrders"]["entry"][0]["resource"]
    return resource


def _weird_draft(name: str, value: Any) -> Callable[[Body], None]:
    def apply(body: Body) -> None:
        _draft(body)[name] = value

    return apply


def _weird_reference(body: Body) -> None:
    del _draft(body)["medicationCodeableConcept"]
    _draft(body)["medicationReference"] = "Medication/1"


def _weird_coding(body: Body) -> None:
    _draft(body)["medicationCodeableConcept"]["coding"] = 7


def _weird_birth(value: Any) -> Callable[[Body], None]:
    def apply(body: Body) -> None:
        body["prefetch"]["patient"]["birthDate"] = value

    return apply


WEIRD: dict[str, tuple[str, Callable[[Body], None]]] = {
    "prefetch-value-a-string": ("order-select", _set("abc", "prefetch", "medRequests")),
    "prefetch-patient-a-string": ("order-select", _set("abc", "prefetch", "patient")),
    "prefetch-a-list": ("order-select", _set([1, 2], "prefetch")),
    "prefetch-bundle-entry-a-number": (
        "order-select",
        _set({"resourceType": "Bundle", "entry": 5}, "prefetch", "medRequests"),
    ),
    "prefetch-bundle-resource-a-string": (
        "order-select",
        _set({"resourceType": "Bundle", "entry": [{"resource": "x"}]}, "prefetch", "lipids"),
    ),
    "selections-a-number": ("order-select", _set(5, "context", "selections")),
    "selections-not-strings": ("order-select", _set([1, None, {}], "context", "selections")),
    "draftOrders-entry-a-number": ("order-select", _set(5, "context", "draftOrders", "entry")),
    "draftOrders-entry-a-string": ("order-select", _set("x", "context", "draftOrders", "entry")),
    "fhirServer-a-number": ("order-select", _set(5, "fhirServer")),
    "fhirAuthorization-a-string": ("order-select", _set("x", "fhirAuthorization")),
    "birthDate-a-number": ("order-select", _weird_birth(2006)),
    "birthDate-garbage": ("order-select", _weird_birth("20x6-1x")),
    "birthDate-year-0000": ("order-select", _weird_birth("0000")),
    "birthDate-9999-12": ("order-select", _weird_birth("9999-12")),
    "draft-medicationReference-a-string": ("order-select", _weird_reference),
    "draft-coding-a-number": ("order-select", _weird_coding),
    "draft-dosage-a-string": ("order-sign", _weird_draft("dosageInstruction", ["x"])),
    "draft-timing-a-string": (
        "order-sign",
        _weird_draft(
            "dosageInstruction",
            [{"timing": "daily", "doseAndRate": [{"doseQuantity": {"value": 40, "code": "mg"}}]}],
        ),
    ),
    "draft-dispenseRequest-a-string": ("order-sign", _weird_draft("dispenseRequest", "x")),
    "draft-supply-duration-a-string": (
        "order-sign",
        _weird_draft("dispenseRequest", {"expectedSupplyDuration": "30 days"}),
    ),
}


@pytest.mark.parametrize("case", list(WEIRD))
def test_weird_json_never_gets_a_500(svc: Cds, case: str) -> None:
    hook, mutate = WEIRD[case]
    body = hook_request(hook, full_prefetch(), draft=[iso_draft(mg_per_dose=40)])
    mutate(body)

    r = svc.call(SERVICES[hook], body)

    assert r.status_code in (200, 400, 412), r.text


def test_deeply_nested_json_never_gets_a_500(svc: Cds) -> None:
    path = f"/cds-services/{VIEW_SERVICE}"
    headers = {**svc.headers(path), "Content-Type": "application/json"}
    raw = b'{"hook": "patient-view", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"

    r = svc.http.post(path, content=raw, headers=headers)

    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"


def test_lone_surrogate_in_the_patient_id_never_gets_a_500(svc: Cds) -> None:
    path = f"/cds-services/{VIEW_SERVICE}"
    headers = {**svc.headers(path), "Content-Type": "application/json"}
    body = hook_request("patient-view", full_prefetch(medRequests=bundle(iso_active())))
    raw = json.dumps(body).replace(f'"{PATIENT_ID}"', '"p-\\ud800"').encode()

    r = svc.http.post(path, content=raw, headers=headers)

    assert r.status_code in (200, 400), r.text
