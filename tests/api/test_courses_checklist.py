"""The course checklist from the stored history (vignettes F1 and F2), course assessments
(the history merged with a profile of current facts) and the timeline, over HTTP.

Every test runs against both SQLite and PostgreSQL through the real app (see ``test_courses.py``
for the fixtures' design and the helpers); nothing of ours is mocked.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.examples import A1_PROFILE
from tests.api.conftest import AUTH
from tests.api.test_courses import (
    ENGINES,
    EVENT_BODIES,
    PREGNANCY_TEST_ITEMS,
    Apps,
    append,
    assert_invalid,
    course_assessment,
    course_checklist,
    create_course,
    events,
    finding,
    get_course,
    item,
    new_database,
)


@pytest.fixture(scope="module", params=ENGINES)
def apps(request: pytest.FixtureRequest) -> Iterator[Apps]:
    """Apps on a fresh migrated database of each engine (one per engine for this module)."""
    a = Apps(request.param, new_database(request.param))
    yield a
    a.close()


@pytest.fixture(scope="module")
def api(apps: Apps) -> TestClient:
    """A client of the app with default settings (US lab profile ``label``, zone UTC)."""
    return apps.client()


@pytest.fixture(scope="module")
def evidence_api(apps: Apps) -> TestClient:
    """A client of an app with ``ISOCDS_LAB_PROFILE_US=evidence`` on the same database."""
    return apps.client(lab_profile_us="evidence")


# A complete US baseline for a patient who can become pregnant, all before 2026-01-05.
BASELINE: list[tuple[str, dict[str, Any]]] = [
    ("pregnancy-potential", {"recorded_on": "2025-12-01", "category": "can-become-pregnant"}),
    ("contraception", {"method": "combined-pill", "start_date": "2025-11-01"}),
    ("contraception", {"method": "male-condom", "start_date": "2025-11-01"}),
    ("counselling", {"topic": "pregnancy-prevention", "given_on": "2025-12-10"}),
    ("documentation", {"kind": "rems-enrolment", "recorded_on": "2025-12-10"}),
    (
        "pregnancy-tests",
        {"specimen_date": "2025-12-10", "result": "negative", "setting": "medical-lab"},
    ),
    (
        "pregnancy-tests",
        {
            "specimen_date": "2026-01-02",
            "result": "negative",
            "setting": "medical-lab",
            "clia_certified": True,
        },
    ),
    (
        "labs",
        {
            "loinc": "2571-8",
            "value": 100,
            "unit": "mg/dL",
            "collected_on": "2026-01-02",
            "fasting": True,
        },
    ),
    (
        "labs",
        {
            "loinc": "1742-6",
            "value": 20,
            "unit": "U/L",
            "collected_on": "2026-01-02",
            "fasting": True,
            "uln": 40,
        },
    ),
    (
        "visits",
        {
            "visit_date": "2026-01-02",
            "weight": {"value": 60, "unit": "kg"},
            "mood_screen": {"instrument": "phq-9", "total": 2, "item_9": 0},
            "reported_symptoms": [],
        },
    ),
]
BASELINE_ITEMS = (
    "monitoring.lipids",
    "monitoring.liver",
    "monitoring.pregnancy-test.screening",
    "monitoring.pregnancy-test.confirmation",
    "monitoring.contraception",
    "monitoring.mood",
    "monitoring.weight",
)


# --- the course checklist --------------------------------------------------------------------


def test_vignette_f1_cumulative_dose(api: TestClient) -> None:
    course = create_course(api, weight_at_start_kg=60)
    append(api, course["id"], "dispensings", {**EVENT_BODIES["dispensings"]("2026-01-05")})
    append(
        api,
        course["id"],
        "dispensings",
        {"dispensed_on": "2026-02-04", "mg_per_day": 60, "days_supplied": 30},
    )

    out = course_checklist(api, course["id"], "2026-03-06")

    c = out["cumulative"]
    assert c["mg"] == pytest.approx(3000)
    assert c["mg_per_kg"] == pytest.approx(50)
    assert c["weight_kg"] == pytest.approx(60)
    assert c["target_mg_per_kg"]["low"] == pytest.approx(120)
    assert c["target_mg"]["low"] == pytest.approx(7200)
    assert c["remaining_mg"]["low"] == pytest.approx(4200)
    assert c["daily_mg"] == pytest.approx(60)
    assert c["days_remaining"]["low"] == pytest.approx(70)
    assert out["course_id"] == course["id"]
    assert "decision" not in out


def test_vignette_f2_lipids_overdue(evidence_api: TestClient) -> None:
    api = evidence_api
    course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
    for loinc, value, unit in (
        ("2571-8", 110, "mg/dL"),  # triglycerides
        ("2093-3", 170, "mg/dL"),  # cholesterol
        ("1742-6", 22, "U/L"),  # ALT
    ):
        body = {
            "loinc": loinc,
            "value": value,
            "unit": unit,
            "collected_on": "2026-01-02",
            "fasting": True,
        }
        if loinc == "1742-6":
            body["uln"] = 40
        append(api, course["id"], "labs", body)  # before the start date: the baseline

    out = course_checklist(api, course["id"], "2026-03-20")

    assert out["lab_profile"] == "evidence"
    assert out["visit_type"] == "follow-up"
    for rule_id in ("monitoring.lipids", "monitoring.liver"):
        entry = item(out["checklist"], rule_id)
        assert entry["state"] == "overdue", entry
        assert (entry["due_from"], entry["due_by"]) == ("2026-02-23", "2026-03-16"), entry
    stale = [f for f in out["lab_findings"] if f["rule_id"] == "lab.stale"]
    assert len(stale) == 1, out["lab_findings"]
    assert stale[0]["status"] == "applies"
    assert stale[0]["severity"] == "warning"
    assert "decision" not in out


def test_the_course_checklist_has_no_decision_and_lists_what_it_cannot_assess(
    api: TestClient,
) -> None:
    course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
    for route, body in BASELINE:
        append(api, course["id"], route, body)

    out = course_checklist(api, course["id"], "2026-02-04")

    assert "decision" not in out
    assert "decision_basis" not in out
    not_assessed = {n["rule_id"]: n["missing"] for n in out["not_assessed"]}
    assert "medications" in not_assessed["interaction.tetracyclines"]
    assert "breastfeeding" in not_assessed["contraindication.breastfeeding"]
    for rule_id in ("interaction.tetracyclines", "contraindication.breastfeeding"):
        assert rule_id not in {c["rule_id"] for c in out["checklist"]}
    for key in (
        "as_of",
        "jurisdiction",
        "epoch",
        "ruleset_version",
        "catalogue_hash",
        "checklist",
        "cumulative",
        "prescription_window",
        "pregnancy_tests_due",
        "lab_findings",
        "supply_limit",
    ):
        assert key in out, key
    assert out["as_of"] == "2026-02-04"
    assert out["jurisdiction"] == "US"


def test_a_baseline_recorded_before_the_start_date_makes_the_baseline_items_done(
    api: TestClient,
) -> None:
    # A planned course: the baseline visit's checklist comes from the stored history.
    course = create_course(api, weight_at_start_kg=60, product="generic")
    for route, body in BASELINE:
        append(api, course["id"], route, body)
    baseline = course_checklist(api, course["id"], "2026-01-04")
    assert baseline["visit_type"] == "baseline"
    for rule_id in BASELINE_ITEMS:
        assert item(baseline["checklist"], rule_id)["state"] == "done", rule_id

    # The first dispensing sets the start date: every baseline record now predates it.
    append(api, course["id"], "dispensings", EVENT_BODIES["dispensings"]("2026-01-05"))
    started, _ = get_course(api, course["id"])
    assert started["start_date"] == "2026-01-05"
    day0 = course_checklist(api, course["id"], "2026-01-05")
    for rule_id in ("monitoring.lipids", "monitoring.liver"):
        assert item(day0["checklist"], rule_id)["state"] == "done", rule_id

    # The baseline visit assessed on the course still counts them.
    out = course_assessment(api, course["id"], {"as_of": "2026-01-05", "visit_type": "baseline"})
    for rule_id in BASELINE_ITEMS:
        assert finding(out, rule_id)["item"]["state"] == "done", rule_id


def test_a_course_created_with_its_start_date_counts_the_earlier_baseline(
    api: TestClient,
) -> None:
    course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
    for route, body in BASELINE:
        append(api, course["id"], route, body)  # all before start_date: 201

    day0 = course_checklist(api, course["id"], "2026-01-05")
    for rule_id in ("monitoring.lipids", "monitoring.liver", "monitoring.weight"):
        assert item(day0["checklist"], rule_id)["state"] == "done", rule_id
    out = course_assessment(api, course["id"], {"as_of": "2026-01-05", "visit_type": "baseline"})
    for rule_id in BASELINE_ITEMS:
        assert finding(out, rule_id)["item"]["state"] == "done", rule_id


def test_a_60_day_dispensing_is_stored_and_fires_the_supply_limit(api: TestClient) -> None:
    course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
    body = {"dispensed_on": "2026-01-05", "mg_per_day": 40, "days_supplied": 60}

    ev = append(api, course["id"], "dispensings", body)

    assert ev["data"]["days_supplied"] == 60
    assert [e["data"]["days_supplied"] for e in events(api, course["id"])] == [60]
    out = course_checklist(api, course["id"], "2026-01-20")
    assert [f["rule_id"] for f in out["supply_limit"]] == ["prescription.supply-limit"]
    assert out["supply_limit"][0]["status"] == "applies"
    # It counts in full in the cumulative dose.
    assert out["cumulative"]["mg"] == pytest.approx(2400)


@pytest.mark.parametrize(
    ("jurisdiction", "category", "fires"),
    [
        ("US", "cannot-become-pregnant", True),  # US: every patient
        ("EU", "can-become-pregnant", True),
        ("EU", "unknown", True),
        ("EU", "cannot-become-pregnant", False),
        ("UK", "can-become-pregnant", True),
        ("UK", "cannot-become-pregnant", False),
    ],
)
def test_the_supply_limit_by_jurisdiction_and_category(
    api: TestClient, jurisdiction: str, category: str, fires: bool
) -> None:
    course = create_course(
        api, jurisdiction=jurisdiction, weight_at_start_kg=60, start_date="2026-01-05"
    )
    potential: dict[str, Any] = {"recorded_on": "2026-01-01", "category": category}
    if category == "cannot-become-pregnant":
        potential["reason"] = "hysterectomy"
    append(api, course["id"], "pregnancy-potential", potential)
    append(
        api,
        course["id"],
        "dispensings",
        {"dispensed_on": "2026-01-05", "mg_per_day": 40, "days_supplied": 31},
    )

    out = course_checklist(api, course["id"], "2026-01-20")

    applying = [f for f in out["supply_limit"] if f["status"] == "applies"]
    assert bool(applying) is fires, out["supply_limit"]


def test_a_30_day_dispensing_does_not_fire_the_supply_limit(api: TestClient) -> None:
    course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
    append(api, course["id"], "dispensings", EVENT_BODIES["dispensings"]("2026-01-05"))
    out = course_checklist(api, course["id"], "2026-01-20")
    assert [f for f in out["supply_limit"] if f["status"] == "applies"] == []


def test_a_pregnancy_potential_category_applies_from_its_date_on(api: TestClient) -> None:
    course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
    cid = course["id"]
    append(api, cid, "pregnancy-potential", EVENT_BODIES["pregnancy-potential"]("2026-01-01"))
    append(api, cid, "dispensings", EVENT_BODIES["dispensings"]("2026-01-05"))
    append(api, cid, "dispensings", EVENT_BODIES["dispensings"]("2026-02-04"))

    def pregnancy_items(as_of: str) -> tuple[list[str], list[dict[str, Any]]]:
        out = course_checklist(api, cid, as_of)
        ids = [c["rule_id"] for c in out["checklist"] if c["category"] == "pregnancy-test"]
        assert all(i.startswith(PREGNANCY_TEST_ITEMS) for i in ids), ids
        return ids, out["pregnancy_tests_due"]

    ids, due = pregnancy_items("2026-02-20")
    assert "monitoring.pregnancy-test.monthly" in ids
    assert [d["rule_id"] for d in due] == ["monitoring.pregnancy-test.monthly"]

    # Recorded later: cannot become pregnant from 2026-02-25 on.
    append(
        api,
        cid,
        "pregnancy-potential",
        {"recorded_on": "2026-02-25", "category": "cannot-become-pregnant", "reason": "other"},
    )

    for before in ("2026-02-20", "2026-02-24"):
        ids, due = pregnancy_items(before)
        assert "monitoring.pregnancy-test.monthly" in ids, before
        assert due, before
    for after in ("2026-02-25", "2026-03-03"):
        ids, due = pregnancy_items(after)
        assert ids == [], after
        assert due == [], after


# --- course assessments ----------------------------------------------------------------------


def test_a_course_assessment_merges_the_profile_with_the_history(api: TestClient) -> None:
    course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05", product="generic")
    cid = course["id"]
    cannot = {"recorded_on": "2025-12-01", "category": "cannot-become-pregnant", "reason": "other"}
    append(api, cid, "pregnancy-potential", cannot)
    for route, body in BASELINE:
        if route in ("labs", "visits"):
            append(api, cid, route, body)
    append(api, cid, "dispensings", EVENT_BODIES["dispensings"]("2026-01-05"))
    append(api, cid, "visits", EVENT_BODIES["visits"]("2026-02-04"))
    # The facts a course does not store, from A1's complete profile.
    stored_kinds = ("pregnancy_potential", "pregnancy_tests", "contraception", "labs", "weight")
    profile = {k: v for k, v in copy.deepcopy(A1_PROFILE).items() if k not in stored_kinds}
    doxycycline = {"text": "Doxycycline hyclate 100 MG Oral Tablet", "route": "oral"}

    with_doxy = course_assessment(
        api,
        cid,
        {"as_of": "2026-02-04", "profile": {**profile, "medications": [doxycycline]}},
    )
    without = course_assessment(api, cid, {"as_of": "2026-02-04", "profile": profile})

    assert finding(with_doxy, "interaction.tetracyclines")["status"] == "applies"
    assert "interaction.tetracyclines" in {b["rule_id"] for b in with_doxy["decision_basis"]}
    assert "interaction.tetracyclines" not in {f["rule_id"] for f in without["findings"]}
    for out in (with_doxy, without):
        assert out["decision"] in ("start", "start-with-precautions", "needs-information")
        # The stored history is there: the category, the dispensing, the stored weight.
        assert out["visit_type"] == "follow-up"
        assert out["as_of"] == "2026-02-04"
        assert out["dosing"]["cumulative"]["mg"] == pytest.approx(1200)
        assert not [f for f in out["findings"] if f["rule_id"].startswith(PREGNANCY_TEST_ITEMS)]
        assert finding(out, "monitoring.weight")["item"]["state"] == "done"
        for key in ("decision_basis", "findings", "checklist", "dosing", "not_assessed"):
            assert key in out, key


def test_a_stored_pregnancy_test_wins_over_a_profile_test_on_the_same_date(
    api: TestClient,
) -> None:
    course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
    cid = course["id"]
    append(api, cid, "pregnancy-potential", EVENT_BODIES["pregnancy-potential"]("2026-01-01"))
    append(api, cid, "dispensings", EVENT_BODIES["dispensings"]("2026-01-05"))
    stored = {"specimen_date": "2026-02-02", "result": "negative", "setting": "home"}
    append(api, cid, "pregnancy-tests", stored)
    given = {
        "specimen_date": "2026-02-02",
        "result": "negative",
        "setting": "medical-lab",
        "clia_certified": True,
    }

    out = course_assessment(
        api, cid, {"as_of": "2026-02-04", "profile": {"pregnancy_tests": [given]}}
    )

    monthly = finding(out, "monitoring.pregnancy-test.monthly")["item"]
    assert monthly["satisfied_by"] is not None, monthly
    assert "home" in monthly["satisfied_by"], monthly
    assert "medical-lab" not in monthly["satisfied_by"], monthly
    # A profile test on another date is merged in.
    other = {**given, "specimen_date": "2026-02-03"}
    merged = course_assessment(
        api, cid, {"as_of": "2026-02-04", "profile": {"pregnancy_tests": [other]}}
    )
    satisfied = finding(merged, "monitoring.pregnancy-test.monthly")["item"]["satisfied_by"]
    assert "2026-02-03" in satisfied


def test_a_course_assessment_is_refused_for_an_invalid_profile(api: TestClient) -> None:
    course = create_course(api, start_date="2026-01-05")
    lab = {**EVENT_BODIES["labs"]("2026-01-02"), "unit": "foo"}
    body = {"as_of": "2026-02-04", "profile": {"labs": [lab]}}
    r = api.post(f"/v1/courses/{course['id']}/assessments", json=body, headers=AUTH)
    assert_invalid(r, "$.profile.labs[0].unit")


# --- the timeline ----------------------------------------------------------------------------


def test_the_timeline_orders_events_and_scheduled_items(evidence_api: TestClient) -> None:
    api = evidence_api
    course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
    cid = course["id"]
    recorded = [
        append(api, cid, "dispensings", EVENT_BODIES["dispensings"]("2026-02-04")),
        append(api, cid, "labs", EVENT_BODIES["labs"]("2026-01-02")),
        append(api, cid, "dispensings", EVENT_BODIES["dispensings"]("2026-01-05")),
        append(api, cid, "visits", EVENT_BODIES["visits"]("2026-02-04")),
    ]

    r = api.get(f"/v1/courses/{cid}/timeline", params={"as_of": "2026-03-20"}, headers=AUTH)

    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["course_id"], out["as_of"]) == (cid, "2026-03-20")
    entries = out["entries"]
    dated = [e["on"] for e in entries if e["on"] is not None]
    assert dated == sorted(dated)
    first_undated = next((i for i, e in enumerate(entries) if e["on"] is None), len(entries))
    assert all(e["on"] is None for e in entries[first_undated:])
    happened = [e for e in entries if e["type"] == "event"]
    assert sorted((e["on"], e["kind"]) for e in happened) == sorted(
        (ev["event_date"], ev["kind"]) for ev in recorded
    )
    scheduled = {e["kind"]: e for e in entries if e["type"] == "scheduled"}
    lipids = scheduled["monitoring.lipids"]
    assert (lipids["on"], lipids["due_by"], lipids["state"]) == (
        "2026-02-23",
        "2026-03-16",
        "overdue",
    )
    assert all(e["state"] in ("due", "overdue") for e in scheduled.values())
    # The events come before the overdue lipid window; the projection after it.
    projection = [e for e in entries if e["type"] == "projection"]
    assert len(projection) == 1
    # 60 kg × 120 mg/kg = 7,200 mg; 2,400 mg taken; 4,800 mg at 40 mg/day = 120 days.
    assert projection[0]["on"] == (date(2026, 3, 20) + timedelta(days=120)).isoformat()
    for e in entries:
        assert e["summary"], e
