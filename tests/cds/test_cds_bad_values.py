"""Values that parse as JSON but no measurement can hold, found by the fuzz run (issue 6):
numbers too large for a float, NaN and infinities, wrong JSON types where text belongs, times
that leave the calendar once moved to UTC, IDs beyond 64 bits, JWT expiries beyond the clock.

Each was a 500 before; each must be answered: the FHIR reader treats the value as unreadable
(unknown, never a default), the request checks refuse it with a 4xx in the route's own format.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from api.cds.prefetch import FEEDS
from tests.api.conftest import AUTH
from tests.cds.support import (
    ISOTRETINOIN_40,
    ISS_EU,
    SIGN_SERVICE,
    VIEW_SERVICE,
    Cds,
    bundle,
    card_for,
    check_outcome,
    check_response,
    days_ago,
    full_prefetch,
    hcg,
    hook_request,
    information_card,
    medication_request,
    patient,
    quantity,
)
from tests.database import fresh_sqlite_url

MakeCds = Callable[..., Cds]
Body = dict[str, Any]
HUGE = 10**400  # a valid JSON number that no float holds


@pytest.fixture
def svc(make_cds: MakeCds) -> Cds:
    """A signed US client on a fresh database."""
    return make_cds(database_url=fresh_sqlite_url())


def post_raw(svc: Cds, service: str, body: Body) -> Any:
    """POST ``body`` written with NaN and Infinity as Python's JSON writes them."""
    path = f"/cds-services/{service}"
    content = json.dumps(body, allow_nan=True).encode()
    headers = {**svc.headers(path), "Content-Type": "application/json"}
    return svc.http.post(path, content=content, headers=headers)


def draft_order() -> Body:
    return medication_request(
        *ISOTRETINOIN_40, status="draft", mg_per_dose=40, per_day=1, days_supply=30, refills=0
    )


def _dose(value: Any) -> Callable[[Body], None]:
    def apply(order: Body) -> None:
        order["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = value

    return apply


def _frequency(value: Any) -> Callable[[Body], None]:
    def apply(order: Body) -> None:
        order["dosageInstruction"][0]["timing"]["repeat"]["frequency"] = value

    return apply


def _supply(value: Any) -> Callable[[Body], None]:
    def apply(order: Body) -> None:
        order["dispenseRequest"]["expectedSupplyDuration"]["value"] = value

    return apply


def _refills(value: Any) -> Callable[[Body], None]:
    def apply(order: Body) -> None:
        order["dispenseRequest"]["numberOfRepeatsAllowed"] = value

    return apply


def _display(value: Any) -> Callable[[Body], None]:
    def apply(order: Body) -> None:
        order["medicationCodeableConcept"]["coding"][0]["display"] = value

    return apply


BROKEN_ORDERS: dict[str, Callable[[Body], None]] = {
    "dose-beyond-float": _dose(HUGE),
    "dose-nan": _dose(math.nan),
    "dose-infinite": _dose(math.inf),
    "dose-true": _dose(True),
    "dose-zero": _dose(0),
    "frequency-beyond-float": _frequency(HUGE),
    "frequency-infinite": _frequency(-math.inf),
    "period-tiny": lambda order: order["dosageInstruction"][0]["timing"]["repeat"].update(
        period=5e-324
    ),
    "supply-infinite": _supply(math.inf),
    "supply-beyond-float": _supply(HUGE),
    "supply-negative": _supply(-30),
    "refills-beyond-float": _refills(HUGE),
    "refills-text": _refills("0"),
    "period-unit-array": lambda order: order["dosageInstruction"][0]["timing"]["repeat"].update(
        periodUnit=["d"]
    ),
    "display-object": _display({"text": "isotretinoin"}),
    "display-array": _display(["isotretinoin"]),
}


@pytest.mark.parametrize("case", list(BROKEN_ORDERS))
def test_broken_number_or_text_in_a_draft_order_is_answered_with_cards(svc: Cds, case: str) -> None:
    order = draft_order()
    BROKEN_ORDERS[case](order)
    body = hook_request("order-sign", full_prefetch(), draft=[order])

    r = post_raw(svc, SIGN_SERVICE, body)

    assert r.status_code == 200, r.text
    check_response(r.json())
    assert r.json()["cards"], "an isotretinoin order always gets at least the checklist"


@pytest.mark.parametrize(
    ("case", "what"),
    [("refills-beyond-float", "number of refills"), ("supply-infinite", "supply duration")],
)
def test_unreadable_supply_is_reported_not_read_as_a_default(
    svc: Cds, case: str, what: str
) -> None:
    """An unreadable refill count is never passed as "no refills": the clinician is told."""
    order = draft_order()
    BROKEN_ORDERS[case](order)

    r = post_raw(svc, SIGN_SERVICE, hook_request("order-sign", full_prefetch(), draft=[order]))

    assert r.status_code == 200, r.text
    card = information_card(r.json()["cards"])
    assert card is not None
    assert f"{what} could not be read" in card["detail"]


OBSERVATION_DEFECTS: dict[str, Body] = {
    "weight-beyond-float": quantity("29463-7", 1, "kg", days_ago(3))
    | {"valueQuantity": {"value": HUGE, "unit": "kg", "code": "kg"}},
    "weight-nan": quantity("29463-7", 1, "kg", days_ago(3))
    | {"valueQuantity": {"value": math.nan, "unit": "kg", "code": "kg"}},
    "hcg-range-infinite": hcg(days_ago(1))
    | {
        "interpretation": [],
        "valueQuantity": {"value": 3, "unit": "m[IU]/mL", "code": "m[IU]/mL"},
        "referenceRange": [{"high": {"value": math.inf}}],
    },
    "hcg-primitive-extension-a-number": hcg(days_ago(1), True) | {"_status": 3.5},
    "alt-range-beyond-float": quantity("1742-6", 30, "U/L", days_ago(5))
    | {"referenceRange": [{"high": {"value": HUGE}}]},
}


@pytest.mark.parametrize("case", list(OBSERVATION_DEFECTS))
def test_broken_number_in_an_observation_is_answered(svc: Cds, case: str) -> None:
    obs = OBSERVATION_DEFECTS[case]
    key = {"weight": "weight", "hcg": "pregnancyTests", "alt": "liver"}[case.split("-")[0]]
    prefetch = full_prefetch(**{key: bundle(obs)})
    body = hook_request("order-sign", prefetch, draft=[draft_order()])

    r = post_raw(svc, SIGN_SERVICE, body)

    assert r.status_code == 200, r.text
    check_response(r.json())


@pytest.mark.parametrize("value", [HUGE, math.nan, -math.inf])
@pytest.mark.parametrize(
    ("key", "loinc", "unit"), [("weight", "29463-7", "kg"), ("liver", "1742-6", "U/L")]
)
def test_measurement_that_no_number_holds_is_named_as_unreadable(
    svc: Cds, key: str, loinc: str, unit: str, value: float
) -> None:
    obs = quantity(loinc, 1, unit, days_ago(3)) | {
        "id": "odd-value",
        "valueQuantity": {"value": value, "unit": unit, "code": unit},
    }
    body = hook_request("order-sign", full_prefetch(**{key: bundle(obs)}), draft=[draft_order()])

    r = post_raw(svc, SIGN_SERVICE, body)

    assert r.status_code == 200, r.text
    card = information_card(r.json()["cards"])
    assert card is not None
    # NaN and infinities already fail the FHIR model ("could not be read"); a number beyond a
    # float passes it and is caught by the reader ("has a value that could not be read").
    line = next(x for x in card["detail"].splitlines() if "Observation/odd-value" in x)
    feed = FEEDS[key]  # the line names the data by what it feeds, not by its prefetch key
    assert f"{feed[:1].upper()}{feed[1:]}: Observation/odd-value" in line
    assert "could not be read" in line


def test_birth_date_giving_an_impossible_age_is_unreadable(svc: Cds) -> None:
    prefetch = full_prefetch(patient=patient(birth="1900-01-01"))
    body = hook_request("order-sign", prefetch, draft=[draft_order()])

    r = post_raw(svc, SIGN_SERVICE, body)

    assert r.status_code == 200, r.text
    card = information_card(r.json()["cards"])
    assert card is not None
    assert "birth date could not be read" in card["detail"]


@pytest.mark.parametrize("exp", [10**20, 1e300])
def test_jwt_expiry_beyond_the_clock_is_401(svc: Cds, exp: float) -> None:
    path = f"/cds-services/{VIEW_SERVICE}"
    headers = svc.headers(path, claims={"exp": exp})

    r = svc.http.post(path, json=hook_request("patient-view", full_prefetch()), headers=headers)
    d = svc.http.get("/cds-services", headers=svc.headers("/cds-services", claims={"exp": exp}))

    for response in (r, d):
        assert response.status_code == 401, response.text
        check_outcome(response)


@pytest.mark.parametrize("when", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_feedback_time_that_leaves_the_calendar_in_utc_is_400(svc: Cds, when: str) -> None:
    item = {"card": "c0ffee00-0000-4000-8000-000000000000", "outcome": "accepted"}
    r = svc.feedback(VIEW_SERVICE, {"feedback": [item | {"outcomeTimestamp": when}]})

    assert r.status_code == 400, r.text
    check_outcome(r)
    assert "outcomeTimestamp" in r.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/audit", {"since": "0001-01-01T00:30:00+01:00"}, "since"),
        ("/v1/audit", {"until": "9999-12-31T23:30:00-01:00"}, "until"),
        ("/v1/audit", {"after_id": str(2**63)}, "after_id"),
        ("/v1/feedback/summary", {"since": "0001-01-01T00:30:00+01:00"}, "since"),
        ("/v1/feedback/summary", {"until": "9999-12-31T23:30:00-01:00"}, "until"),
    ],
)
def test_v1_reads_refuse_times_and_ids_beyond_range_with_422(
    svc: Cds, path: str, params: dict[str, str], field: str
) -> None:
    r = svc.http.get(path, params=params, headers=AUTH)

    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.text


def test_v1_reads_accept_times_with_offsets_inside_the_range(svc: Cds) -> None:
    r = svc.http.get(
        "/v1/audit",
        params={"since": "2026-01-01T00:00:00+05:30", "after_id": str(2**63 - 1)},
        headers=AUTH,
    )

    assert r.status_code == 200, r.text
    assert r.json()["records"] == []


def test_course_product_of_another_market_is_unknown_for_the_client_not_a_refusal(
    make_cds: MakeCds,
) -> None:
    """A US course (Claravis) seen by an EU client: cards still come, the product is unknown."""
    eu = make_cds(iss=ISS_EU, database_url=fresh_sqlite_url())
    pid = "pat-us-course"
    r = eu.http.post(
        "/v1/courses",
        json={
            "patient_ref": pid,
            "jurisdiction": "US",
            "product": "claravis",
            "start_date": days_ago(10),
        },
        headers=AUTH,
    )
    assert r.status_code == 201, r.text
    prefetch = full_prefetch(
        patient=patient(pid=pid), pregnancyTests=bundle(hcg(days_ago(1), True))
    )
    body = hook_request("patient-view", prefetch, patient_id=pid)

    cards = eu.cards(VIEW_SERVICE, body)

    assert card_for(cards, "contraindication.pregnancy") is not None
    info = information_card(cards)
    assert info is not None
    assert "claravis is not marketed in EU" in info["detail"]


def test_audit_records_the_catalogue_that_evaluated_a_client_with_its_own_lab_profile(
    make_cds: MakeCds,
) -> None:
    """A client's lab profile builds its own catalogue: the audit names that one, as the cards do."""
    own = make_cds(us={"lab_profile": "evidence"}, database_url=fresh_sqlite_url())
    default = make_cds(database_url=fresh_sqlite_url())
    iso = medication_request(*ISOTRETINOIN_40, status="active", authored=days_ago(10))
    hashes = []
    for cds in (own, default):
        cards = cds.cards(
            VIEW_SERVICE, hook_request("patient-view", full_prefetch(medRequests=bundle(iso)))
        )
        (card_hash,) = {c["extension"]["org.isocds.rules"]["catalogueHash"] for c in cards}
        r = cds.http.get("/v1/audit", headers=AUTH)
        assert r.status_code == 200, r.text
        (record,) = r.json()["records"]
        assert record["catalogue_hash"] == card_hash
        hashes.append(card_hash)
    assert hashes[0] != hashes[1]  # the lab profile is part of the catalogue


@pytest.mark.parametrize(("levels", "status"), [(40, 200), (60, 400), (400, 400)])
def test_deeply_nested_body_is_refused_before_it_is_walked(
    svc: Cds, levels: int, status: int
) -> None:
    """Found by the fuzz run: 950 nested objects passed the parser and overflowed the stack
    when the input was encoded for the audit."""
    nested: Body = {}
    inner = nested
    for _ in range(levels):
        inner["x"] = {}
        inner = inner["x"]
    obs = hcg(days_ago(1)) | {"code": {"coding": [{"system": "urn:x", "code": "c", "ext": nested}]}}
    body = hook_request("order-sign", full_prefetch(lipids=bundle(obs)), draft=[draft_order()])

    r = post_raw(svc, SIGN_SERVICE, body)

    assert r.status_code == status, r.text
    if status == 400:
        check_outcome(r)
        assert "nests deeper than 64 levels" in r.json()["issue"][0]["diagnostics"]
