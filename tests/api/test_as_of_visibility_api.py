"""RULES §0.5 over HTTP: records dated after ``as_of`` are invisible to every rule.

"This holds for REST profiles, course histories and FHIR data." Each part sends the same facts
with and without records dated after ``as_of`` and expects the same answer, then moves the
records to ``as_of`` (or ``as_of`` to them) and expects them to be used.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.examples import A1_REQUEST
from api.main import create_app
from tests.api.conftest import AUTH, settings
from tests.api.test_courses import (
    ENGINES,
    EVENT_BODIES,
    Apps,
    append,
    course_assessment,
    course_checklist,
    create_course,
    finding,
    item,
    new_database,
)
from tests.cds.support import (
    BASE,
    ISOTRETINOIN_40,
    ISS_US,
    PATIENT_ID,
    VIEW_SERVICE,
    Cds,
    age_birth,
    bundle,
    checklist_card,
    client_config,
    days_ago,
    dispense,
    es384_key,
    full_prefetch,
    hcg,
    home_testing,
    hook_request,
    medication_request,
    patient,
    pregnancy_potential,
    rule_ids,
    today,
    write_clients,
)
from tests.database import fresh_sqlite_url

AS_OF = "2026-03-01"
AFTER = "2026-03-02"


def _assess(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/v1/assessments", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _rule_ids(out: dict[str, Any], status: str = "applies") -> set[str]:
    return {f["rule_id"] for f in out["findings"] if f["status"] == status}


# --- REST profiles -------------------------------------------------------------------------


def _with_records(day: str) -> dict[str, Any]:
    """A1 plus records of every dated kind, each dated ``day`` (each would change the answer)."""
    body = copy.deepcopy(A1_REQUEST)
    p = body["profile"]
    p["pregnancy_tests"].append({"specimen_date": day, "result": "positive", "setting": "home"})
    p["pregnancy_status"] = [{"recorded_on": day, "value": "pregnant"}]
    p["labs"].append(
        {"loinc": "2571-8", "value": 900, "unit": "mg/dL", "collected_on": day, "fasting": True}
    )
    p["mood_screens"].append({"instrument": "phq-9", "total": 12, "item_9": 2, "screened_on": day})
    p["dispensings"] = [{"dispensed_on": day, "mg_per_day": 60, "days_supplied": 30}]
    p["counselling"].append({"topic": "counselling.sun", "given_on": day})
    p["previous_courses"] = [{"start": day}]
    return body


def test_a_rest_profile_s_records_after_as_of_change_nothing(client: TestClient) -> None:
    a1 = _assess(client, copy.deepcopy(A1_REQUEST))
    with_later = _assess(client, _with_records(AFTER))

    assert with_later == a1
    assert a1["decision"] == "start"


def test_a_rest_profile_s_records_up_to_as_of_are_used(client: TestClient) -> None:
    out = _assess(client, _with_records(AS_OF))

    assert out["decision"] == "do-not-start"
    assert {
        "contraindication.pregnancy",
        "lab.triglycerides.severe",
        "precaution.suicidal-ideation-now",
    } <= _rule_ids(out)
    assert out["visit_type"] == "follow-up"  # the dispensing on as_of started the treatment
    assert "indication.retreatment-interval" in _rule_ids(out, "unknown")


def test_a_later_weight_is_not_used_for_dosing(client: TestClient) -> None:
    body = copy.deepcopy(A1_REQUEST)
    body["profile"]["weight"] = {"value": 80, "unit": "kg", "measured_on": AFTER}
    without = copy.deepcopy(A1_REQUEST)
    del without["profile"]["weight"]

    assert _assess(client, body) == _assess(client, without)
    body["profile"]["weight"]["measured_on"] = AS_OF
    assert _assess(client, body)["dosing"]["weight_kg"] == 80


def test_a_previous_course_ending_after_as_of_is_seen_without_its_end(client: TestClient) -> None:
    ended_later = copy.deepcopy(A1_REQUEST)
    ended_later["profile"]["previous_courses"] = [{"start": "2025-09-01", "end": AFTER}]
    ongoing = copy.deepcopy(A1_REQUEST)
    ongoing["profile"]["previous_courses"] = [{"start": "2025-09-01"}]

    out = _assess(client, ended_later)

    assert out == _assess(client, ongoing)
    assert out["decision"] == "needs-information"  # RULES §0.4: gating at baseline
    f = next(f for f in out["findings"] if f["rule_id"] == "indication.retreatment-interval")
    assert f["status"] == "unknown"
    assert f["gating"] is True


# --- course histories ----------------------------------------------------------------------

COURSE_AS_OF = "2026-02-01"
LATER = "2026-02-10"  # after COURSE_AS_OF, before today


@pytest.fixture(scope="module", params=ENGINES)
def apps(request: pytest.FixtureRequest) -> Iterator[Apps]:
    """Apps on a fresh migrated database of each engine."""
    a = Apps(request.param, new_database(request.param))
    yield a
    a.close()


@pytest.fixture(scope="module")
def api(apps: Apps) -> TestClient:
    """A client of the app with default settings."""
    return apps.client()


def _started_course(api: TestClient) -> str:
    """A US course: a complete baseline before 2026-01-05, the first dispensing then."""
    course = create_course(api, weight_at_start_kg=60, product="generic")
    cid: str = course["id"]
    append(api, cid, "pregnancy-potential", EVENT_BODIES["pregnancy-potential"]("2025-12-01"))
    for route in ("contraception", "counselling", "documentation", "labs"):
        append(api, cid, route, EVENT_BODIES[route]("2025-12-10"))
    append(api, cid, "pregnancy-tests", EVENT_BODIES["pregnancy-tests"]("2025-12-10"))
    append(api, cid, "pregnancy-tests", EVENT_BODIES["pregnancy-tests"]("2026-01-02"))
    append(api, cid, "visits", EVENT_BODIES["visits"]("2026-01-02"))
    append(api, cid, "dispensings", EVENT_BODIES["dispensings"]("2026-01-05"))
    return cid


LATER_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("pregnancy-tests", {"specimen_date": LATER, "result": "positive", "setting": "medical-lab"}),
    (
        "labs",
        {"loinc": "2571-8", "value": 900, "unit": "mg/dL", "collected_on": LATER, "fasting": True},
    ),
    (
        "visits",
        {
            "visit_date": LATER,
            "weight": {"value": 75, "unit": "kg"},
            "mood_screen": {"instrument": "phq-9", "total": 14, "item_9": 2},
            "reported_symptoms": ["suicidal-ideation"],
            "sexual_function_assessed": True,
        },
    ),
    ("dispensings", {"dispensed_on": LATER, "mg_per_day": 60, "days_supplied": 60}),
    ("contraception", {"method": "iud-copper", "start_date": LATER, "confirmed_on": LATER}),
    ("counselling", {"topic": "counselling.sun", "given_on": LATER}),
    ("documentation", {"kind": "rems-monthly-confirmation", "recorded_on": LATER}),
    (
        "pregnancy-potential",
        {"recorded_on": LATER, "category": "cannot-become-pregnant", "reason": "other"},
    ),
]


def _without_ids(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if k != "course_id"}


def test_a_course_s_later_events_change_nothing_in_a_past_checklist(api: TestClient) -> None:
    plain = _started_course(api)
    later = _started_course(api)
    for route, body in LATER_EVENTS:
        append(api, later, route, body)

    before = course_checklist(api, plain, COURSE_AS_OF)
    seen_from_past = course_checklist(api, later, COURSE_AS_OF)

    assert _without_ids(seen_from_past) == _without_ids(before)
    assert before["visit_type"] == "follow-up"
    assert before["alert"] is None or before["alert"]["rule_id"] != "contraindication.pregnancy"


def test_a_course_s_later_events_are_used_once_as_of_reaches_them(api: TestClient) -> None:
    later = _started_course(api)
    for route, body in LATER_EVENTS:
        append(api, later, route, body)

    out = course_checklist(api, later, LATER)

    applying = {f["rule_id"] for f in out["findings"] if f["status"] == "applies"}
    assert {"contraindication.pregnancy", "stop.pregnancy", "lab.triglycerides.severe"} <= applying
    assert "precaution.suicidal-ideation-now" in applying
    assert out["cumulative"]["mg"] == pytest.approx(1200 + 60 * 60)
    assert item(out["checklist"], "counselling.sun")["state"] == "done"


def test_a_past_course_assessment_ignores_later_events(api: TestClient) -> None:
    plain = _started_course(api)
    later = _started_course(api)
    for route, body in LATER_EVENTS:
        append(api, later, route, body)

    body = {"as_of": COURSE_AS_OF}
    assert course_assessment(api, later, body) == course_assessment(api, plain, body)
    seen = course_assessment(api, later, {"as_of": LATER})
    assert seen["decision"] == "do-not-start"
    assert finding(seen, "contraindication.pregnancy")["status"] == "applies"


def test_a_later_profile_weight_does_not_displace_the_course_s_weight(api: TestClient) -> None:
    cid = _started_course(api)
    later_weight = {"weight": {"value": 75, "unit": "kg", "measured_on": LATER}}

    with_later = course_assessment(api, cid, {"as_of": COURSE_AS_OF, "profile": later_weight})
    without = course_assessment(api, cid, {"as_of": COURSE_AS_OF})

    assert with_later == without
    assert without["dosing"]["weight_kg"] == 60  # weighed at the visit of 2026-01-02


def test_a_later_stored_form_does_not_displace_the_profile_s(api: TestClient) -> None:
    course = create_course(api, jurisdiction="EU", weight_at_start_kg=60)
    cid = course["id"]
    append(api, cid, "documentation", {"kind": "eu-acknowledgement", "recorded_on": LATER})
    signed = {"acknowledgement_forms": [{"form": "eu-acknowledgement", "signed_on": "2026-01-20"}]}

    out = course_assessment(api, cid, {"as_of": COURSE_AS_OF, "profile": signed})

    form = finding(out, "documentation.eu-acknowledgement")["item"]
    assert form["state"] == "done"
    assert form["satisfied_by"] == "eu-acknowledgement signed on 2026-01-20"


# --- CDS Hooks (FHIR data; the hooks evaluate today) ------------------------------------------


def in_days(n: int) -> str:
    """The date ``n`` days from today."""
    return (today() + timedelta(days=n)).isoformat()


@pytest.fixture
def cds(tmp_path: Path) -> Iterator[Cds]:
    """A signed US client of an app on a database of its own (no course for the patient)."""
    key = es384_key("as-of-es384")
    clients = write_clients(tmp_path, [client_config(ISS_US, "US", (key,))])
    app = create_app(
        settings(cds_clients_file=clients, public_base_url=BASE, database_url=fresh_sqlite_url())
    )
    with TestClient(app, raise_server_exceptions=False) as http:
        yield Cds(http=http, key=key)


def _home_test_prefetch(permissions: tuple[tuple[bool, str], ...]) -> dict[str, Any]:
    """US follow-up: dispensed 150 and 29 days ago, this month's test a home test yesterday."""
    home_test = hcg(days_ago(1), lab=False, performer=[{"reference": f"Patient/{PATIENT_ID}"}])
    return full_prefetch(
        patient=patient(age_birth(19)),
        pregnancyPotential=bundle(pregnancy_potential("can-become-pregnant", days_ago(200))),
        medDispenses=bundle(
            dispense(*ISOTRETINOIN_40, days_ago(150)), dispense(*ISOTRETINOIN_40, days_ago(29))
        ),
        pregnancyTests=bundle(
            hcg(days_ago(160), lab=False, performer=[{"reference": "Practitioner/doc-1"}]),
            hcg(days_ago(140)),
            home_test,
        ),
        homeTesting=bundle(*(home_testing(value, day) for value, day in permissions)),
    )


def _monthly_test_due(cds: Cds, permissions: tuple[tuple[bool, str], ...]) -> bool:
    cards = cds.cards(VIEW_SERVICE, hook_request("patient-view", _home_test_prefetch(permissions)))
    listed = checklist_card(cards)
    assert listed is not None, [c["summary"] for c in cards]
    return "monitoring.pregnancy-test.monthly" in rule_ids(listed)


def test_cds_a_permission_withdrawn_after_today_is_not_seen(cds: Cds) -> None:
    granted = ((True, days_ago(30)),)
    withdrawn_tomorrow = (*granted, (False, in_days(1)))
    withdrawn_today = (*granted, (False, in_days(0)))

    assert _monthly_test_due(cds, granted) is False  # the home test counts
    assert _monthly_test_due(cds, withdrawn_tomorrow) is False  # as if not withdrawn
    assert _monthly_test_due(cds, withdrawn_today) is True  # withdrawn: it does not count


def test_cds_an_isotretinoin_order_authored_after_today_is_not_exposure(cds: Cds) -> None:
    def view(authored: str) -> list[dict[str, Any]]:
        order = medication_request(*ISOTRETINOIN_40, status="active", authored=authored)
        prefetch = full_prefetch(
            patient=patient(age_birth(19)),
            medRequests=bundle(order),
            pregnancyPotential=bundle(pregnancy_potential("can-become-pregnant", days_ago(10))),
        )
        return cds.cards(VIEW_SERVICE, hook_request("patient-view", prefetch))

    assert view(in_days(1)) == []  # no exposure as of today: no cards
    assert view(in_days(0)) != []  # authored today: the patient is exposed
