"""The course views never hide a stop rule (RULES §15): the course checklist's ``findings`` and
``alert``, ``suspended`` items, the timeline's marks and ``suspended`` entry, symptoms that persist
between visits, and the course assessment's plan product.

Every test runs against both SQLite and PostgreSQL through the real app (the fixtures and helpers
of ``test_courses.py``); nothing of ours is mocked. Dates are fixed in the past (events may not be
dated after today) and every view is asked ``as_of`` a given date.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import AUTH
from tests.api.test_courses import (
    ENGINES,
    Apps,
    append,
    assert_invalid,
    course_assessment,
    course_checklist,
    create_course,
    finding,
    item,
    new_database,
)
from tests.api.test_courses_checklist import BASELINE

SUSPENDED_ITEMS = ("monitoring.pregnancy-test.monthly", "prescription.window")


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


# --- helpers ---------------------------------------------------------------------------------


def timeline(api: TestClient, course_id: str, as_of: str) -> list[dict[str, Any]]:
    """``GET /v1/courses/{id}/timeline?as_of=…``; assert 200 and return its entries."""
    r = api.get(f"/v1/courses/{course_id}/timeline", params={"as_of": as_of}, headers=AUTH)
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = r.json()["entries"]
    return entries


def can_become_pregnant_course(api: TestClient) -> str:
    """A US course (generic, 60 kg) with a complete baseline, started 2026-01-05, and a follow-up
    visit on 2026-02-01 with a negative mood screen and no symptoms."""
    course = create_course(api, weight_at_start_kg=60, product="generic", start_date="2026-01-05")
    cid: str = course["id"]
    for route, body in BASELINE:
        append(api, cid, route, body)
    append(
        api,
        cid,
        "dispensings",
        {"dispensed_on": "2026-01-05", "mg_per_day": 40, "days_supplied": 30},
    )
    append(api, cid, "visits", visit("2026-02-01"))
    return cid


def cannot_become_pregnant_course(api: TestClient) -> str:
    """A US course (generic, 60 kg) for a patient who cannot become pregnant, started 2026-01-05,
    with baseline labs and a first visit."""
    course = create_course(api, weight_at_start_kg=60, product="generic", start_date="2026-01-05")
    cid: str = course["id"]
    cannot = {"recorded_on": "2025-12-01", "category": "cannot-become-pregnant", "reason": "other"}
    append(api, cid, "pregnancy-potential", cannot)
    for route, body in BASELINE:
        if route in ("labs", "visits"):
            append(api, cid, route, body)
    append(
        api,
        cid,
        "dispensings",
        {"dispensed_on": "2026-01-05", "mg_per_day": 40, "days_supplied": 30},
    )
    return cid


def visit(day: str, **fields: Any) -> dict[str, Any]:
    """A visit with a weight, a negative PHQ-9 and no symptoms, unless ``fields`` say otherwise."""
    body: dict[str, Any] = {
        "visit_date": day,
        "weight": {"value": 60, "unit": "kg"},
        "mood_screen": {"instrument": "phq-9", "total": 2, "item_9": 0},
        "reported_symptoms": [],
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def shown(out: dict[str, Any], rule_id: str) -> dict[str, Any]:
    """The checklist view's finding of ``rule_id``."""
    found: list[dict[str, Any]] = [f for f in out["findings"] if f["rule_id"] == rule_id]
    assert len(found) == 1, (rule_id, [f["rule_id"] for f in out["findings"]])
    return found[0]


def event_entry(entries: list[dict[str, Any]], kind: str, on: str) -> dict[str, Any]:
    """The single event entry of ``kind`` on ``on``."""
    found = [e for e in entries if e["type"] == "event" and e["kind"] == kind and e["on"] == on]
    assert len(found) == 1, (kind, on, entries)
    return found[0]


def marks(entry: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """An entry's marks: rule ID → (severity, status)."""
    return {m["rule_id"]: (m["severity"], m["status"]) for m in entry["marks"]}


def assert_sorted_critical_first(findings: list[dict[str, Any]]) -> None:
    """Findings by severity, then status (applies first), then rule ID: the engine's order."""
    rank = {"critical": 0, "warning": 1, "info": 2}
    keys = [(rank[f["severity"]], f["status"] != "applies", f["rule_id"]) for f in findings]
    assert keys == sorted(keys)


def assert_suspended(out: dict[str, Any], stops: set[str]) -> None:
    """The window and the next pregnancy tests are suspended by exactly ``stops``."""
    for rule_id in SUSPENDED_ITEMS:
        entry = item(out["checklist"], rule_id)
        assert entry["state"] == "suspended", entry
        assert set(entry["suspended_by"]) == stops, entry
        assert all(s in entry["reason"] for s in stops), entry
        assert (entry["due_from"], entry["due_by"]) == (None, None), entry
    assert out["prescription_window"]["state"] == "suspended"
    assert out["pregnancy_tests_due"], out["pregnancy_tests_due"]
    for entry in out["pregnancy_tests_due"]:
        assert entry["state"] == "suspended", entry
    # Nothing reads as routine: no window or next test is due anywhere in the checklist view.
    routine = [
        c for c in out["checklist"] if c["rule_id"] in SUSPENDED_ITEMS and c["state"] == "due"
    ]
    assert routine == []


def assert_projections_suspended(entries: list[dict[str, Any]], stops: set[str]) -> None:
    """No projection and no scheduled window or next test: one ``suspended`` entry instead."""
    assert [e for e in entries if e["type"] == "projection"] == []
    scheduled = {e["kind"] for e in entries if e["type"] == "scheduled"}
    assert not scheduled & set(SUSPENDED_ITEMS), scheduled
    suspended = [e for e in entries if e["type"] == "suspended"]
    assert len(suspended) == 1, suspended
    entry = suspended[0]
    assert set(marks(entry)) == stops, entry
    assert entry["rule_id"] in stops
    assert (entry["severity"], entry["status"]) == ("critical", "applies")
    assert all(s in entry["summary"] for s in stops), entry


# --- a positive pregnancy test after the first dispensing ------------------------------------


def test_a_stored_positive_pregnancy_test_is_never_hidden(api: TestClient) -> None:
    cid = can_become_pregnant_course(api)
    positive = {"specimen_date": "2026-02-03", "result": "positive", "setting": "medical-lab"}
    append(api, cid, "pregnancy-tests", positive)

    out = course_checklist(api, cid, "2026-02-04")

    for rule_id in ("contraindication.pregnancy", "stop.pregnancy"):
        f = shown(out, rule_id)
        assert (f["status"], f["severity"]) == ("applies", "critical"), f
        assert any("2026-02-03" in t for t in f["triggers"]), f
        assert f["sources"], f
        assert f["text"], f
    assert_sorted_critical_first(out["findings"])
    assert out["alert"]["rule_id"] == "stop.pregnancy"
    assert out["alert"]["severity"] == "critical"
    assert "2026-02-03" in out["alert"]["summary"]
    assert "\n" not in out["alert"]["summary"]
    assert_suspended(out, {"stop.pregnancy"})
    assert "decision" not in out

    entries = timeline(api, cid, "2026-02-04")
    test = next(e for e in entries if e["kind"] == "pregnancy-test" and e["on"] == "2026-02-03")
    assert test["rule_id"] in ("stop.pregnancy", "contraindication.pregnancy")
    assert (test["severity"], test["status"]) == ("critical", "applies")
    assert marks(test) == {
        "stop.pregnancy": ("critical", "applies"),
        "contraindication.pregnancy": ("critical", "applies"),
    }
    negative = event_entry(entries, "pregnancy-test", "2026-01-02")
    assert negative["marks"] == []
    assert negative["rule_id"] is None
    assert_projections_suspended(entries, {"stop.pregnancy"})

    # The assessment with an empty profile says the same.
    assessed = course_assessment(api, cid, {"as_of": "2026-02-04"})
    assert assessed["decision"] == "do-not-start"
    for rule_id in ("contraindication.pregnancy", "stop.pregnancy"):
        assert finding(assessed, rule_id)["status"] == "applies"
        assert finding(assessed, rule_id) == shown(out, rule_id)


def test_the_checklist_findings_are_the_assessments(api: TestClient) -> None:
    cid = can_become_pregnant_course(api)
    append(
        api,
        cid,
        "pregnancy-tests",
        {"specimen_date": "2026-02-03", "result": "indeterminate", "setting": "home"},
    )

    out = course_checklist(api, cid, "2026-02-04")
    assessed = course_assessment(api, cid, {"as_of": "2026-02-04"})

    expected = [f for f in assessed["findings"] if f["status"] == "applies" or f["gating"]]
    assert out["findings"] == expected
    # An indeterminate latest test: the pregnancy rules are unknown (gating), not applying.
    assert shown(out, "contraindication.pregnancy")["status"] == "unknown"
    assert out["alert"]["rule_id"] != "contraindication.pregnancy"
    entries = timeline(api, cid, "2026-02-04")
    test = event_entry(entries, "pregnancy-test", "2026-02-03")
    assert marks(test)["contraindication.pregnancy"] == ("critical", "unknown")


# --- a stop symptom at a visit ---------------------------------------------------------------


def test_a_stop_symptom_keeps_its_stop_rule_until_a_later_visit_records_symptoms(
    api: TestClient,
) -> None:
    cid = cannot_become_pregnant_course(api)
    append(api, cid, "visits", visit("2026-02-01", reported_symptoms=["tinnitus"]))

    # Between visits: the symptom of the latest visit stands.
    out = course_checklist(api, cid, "2026-02-10")
    stop = shown(out, "stop.hearing")
    assert (stop["status"], stop["severity"]) == ("applies", "critical"), stop
    assert out["alert"]["rule_id"] == "stop.hearing"
    assert "tinnitus" in out["alert"]["summary"]
    window = out["prescription_window"]
    assert window["state"] == "suspended", window
    assert window["suspended_by"] == ["stop.hearing"]
    assert (
        finding(course_assessment(api, cid, {"as_of": "2026-02-10"}), "stop.hearing")["status"]
        == "applies"
    )
    entries = timeline(api, cid, "2026-02-10")
    reported = event_entry(entries, "visit", "2026-02-01")
    assert (reported["rule_id"], reported["severity"], reported["status"]) == (
        "stop.hearing",
        "critical",
        "applies",
    )
    assert_projections_suspended(entries, {"stop.hearing"})

    # A visit that does not ask about symptoms clears nothing, and the review is due again.
    append(api, cid, "visits", visit("2026-02-12", reported_symptoms=None))
    later = course_checklist(api, cid, "2026-02-14")
    assert shown(later, "stop.hearing")["status"] == "applies"
    review = item(later["checklist"], "monitoring.symptom-review")
    assert review["state"] == "due", review
    assert any("2026-02-01" in n for n in review["notes"]), review

    # A later visit that records symptoms again ends it; the schedule comes back.
    append(api, cid, "visits", visit("2026-02-20"))
    cleared = course_checklist(api, cid, "2026-02-21")
    assert "stop.hearing" not in {f["rule_id"] for f in cleared["findings"]}
    assert cleared["prescription_window"]["state"] in ("due", "overdue")
    assert cleared["prescription_window"]["suspended_by"] == []
    assert item(cleared["checklist"], "monitoring.symptom-review")["state"] == "done"
    entries = timeline(api, cid, "2026-02-21")
    old = event_entry(entries, "visit", "2026-02-01")
    assert marks(old) == {"stop.hearing": ("critical", None)}  # no longer holds
    assert [e for e in entries if e["type"] == "suspended"] == []
    assert [e for e in entries if e["type"] == "projection"]


def test_a_stop_symptom_reported_on_the_day_is_seen_by_the_checklist(api: TestClient) -> None:
    cid = cannot_become_pregnant_course(api)
    append(api, cid, "visits", visit("2026-02-01", reported_symptoms=["depression"]))

    out = course_checklist(api, cid, "2026-02-01")

    assert shown(out, "stop.mood")["status"] == "applies"
    assert out["alert"]["rule_id"] == "stop.mood"
    assert out["prescription_window"]["state"] == "suspended"


# --- a positive mood screen ------------------------------------------------------------------


def test_a_positive_item_9_mood_screen_is_the_alert_and_marked_on_the_timeline(
    api: TestClient,
) -> None:
    cid = cannot_become_pregnant_course(api)
    screen = {"instrument": "phq-9", "total": 12, "item_9": 1}
    append(api, cid, "visits", visit("2026-02-01", mood_screen=screen))

    out = course_checklist(api, cid, "2026-02-04")

    now = shown(out, "precaution.suicidal-ideation-now")
    assert (now["status"], now["severity"]) == ("applies", "critical"), now
    history = shown(out, "precaution.psychiatric-history")
    assert (history["status"], history["severity"]) == ("applies", "warning"), history
    assert out["alert"]["rule_id"] == "precaution.suicidal-ideation-now"
    assert out["alert"]["severity"] == "critical"
    # Not a stop rule: the schedule stands.
    assert out["prescription_window"]["state"] != "suspended"
    assert not [c for c in out["checklist"] if c["state"] == "suspended"]

    entries = timeline(api, cid, "2026-02-04")
    screened = event_entry(entries, "visit", "2026-02-01")
    assert (screened["rule_id"], screened["severity"], screened["status"]) == (
        "precaution.suicidal-ideation-now",
        "critical",
        "applies",
    )
    assert marks(screened)["precaution.psychiatric-history"] == ("warning", "applies")
    baseline = event_entry(entries, "visit", "2026-01-02")  # a negative screen
    assert baseline["marks"] == []
    assert [e for e in entries if e["type"] == "projection"]
    assert [e for e in entries if e["type"] == "suspended"] == []


# --- a critical lab --------------------------------------------------------------------------


def test_a_critical_lab_is_the_alert_and_only_its_result_is_marked(api: TestClient) -> None:
    cid = cannot_become_pregnant_course(api)
    tg = {"loinc": "2571-8", "unit": "mg/dL", "fasting": True}
    append(api, cid, "labs", {**tg, "value": 600, "collected_on": "2026-01-20"})
    append(api, cid, "labs", {**tg, "value": 900, "collected_on": "2026-02-02"})
    alt = {"loinc": "1742-6", "value": 130, "unit": "U/L", "collected_on": "2026-02-02", "uln": 40}
    append(api, cid, "labs", alt)

    out = course_checklist(api, cid, "2026-02-04")

    severe = shown(out, "lab.triglycerides.severe")
    assert (severe["status"], severe["severity"]) == ("applies", "critical"), severe
    assert shown(out, "lab.liver.elevated")["severity"] == "warning"
    assert "lab.triglycerides.elevated" not in {f["rule_id"] for f in out["findings"]}
    assert severe in out["lab_findings"]
    assert out["alert"]["rule_id"] == "lab.triglycerides.severe"
    assert "900" in out["alert"]["summary"]

    entries = timeline(api, cid, "2026-02-04")
    labs = {(e["on"], e["summary"]): e for e in entries if e["kind"] == "lab"}
    latest = labs[("2026-02-02", "lab 2571-8: 900 mg/dL")]
    assert (latest["rule_id"], latest["severity"], latest["status"]) == (
        "lab.triglycerides.severe",
        "critical",
        "applies",
    )
    liver = labs[("2026-02-02", "lab 1742-6: 130 U/L")]
    assert (liver["rule_id"], liver["severity"]) == ("lab.liver.elevated", "warning")
    earlier = labs[("2026-01-20", "lab 2571-8: 600 mg/dL")]
    assert earlier["marks"] == []  # history: the rules read the most recent result
    baseline = labs[("2026-01-02", "lab 2571-8: 100 mg/dL")]
    assert baseline["marks"] == []


# --- the normal case -------------------------------------------------------------------------


def test_without_a_stop_rule_the_items_are_due_and_the_end_is_projected(api: TestClient) -> None:
    cid = can_become_pregnant_course(api)
    negative = {"specimen_date": "2026-02-03", "result": "negative", "setting": "medical-lab"}
    append(api, cid, "pregnancy-tests", negative)

    out = course_checklist(api, cid, "2026-02-04")

    assert not [f for f in out["findings"] if f["rule_id"].startswith("stop.")]
    window = out["prescription_window"]
    assert (window["state"], window["due_from"], window["due_by"]) == (
        "due",
        "2026-02-03",
        "2026-02-09",
    )
    assert (window["suspended_by"], window["reason"]) == ([], None)
    assert not [c for c in out["checklist"] if c["state"] == "suspended"]
    assert item(out["checklist"], "monitoring.lipids")["state"] == "due"
    assert out["alert"] is not None
    assert out["alert"]["rule_id"] == out["findings"][0]["rule_id"]

    entries = timeline(api, cid, "2026-02-04")
    assert [e for e in entries if e["type"] == "suspended"] == []
    scheduled = {e["kind"]: e for e in entries if e["type"] == "scheduled"}
    assert scheduled["prescription.window"]["state"] == "due"
    projection = [e for e in entries if e["type"] == "projection"]
    assert len(projection) == 1
    assert projection[0]["kind"] == "dosing.cumulative-target"
    assert all(e["marks"] == [] for e in entries if e["type"] == "event")


# --- the course assessment's plan ------------------------------------------------------------


def test_a_course_assessment_takes_the_plans_product_from_the_course(api: TestClient) -> None:
    course = create_course(api, weight_at_start_kg=60, product="claravis", start_date="2026-01-05")
    cid = course["id"]
    append(api, cid, "visits", visit("2026-02-01"))

    out = course_assessment(api, cid, {"as_of": "2026-02-04", "plan": {"planned_mg_per_day": 60}})

    assert out["dosing"]["product"] == "claravis"
    assert out["dosing"]["planned_mg_per_day"] == pytest.approx(60)
    assert out["dosing"]["planned_mg_per_kg_day"] == pytest.approx(1.0)

    # A product in the plan is this visit's: it wins over the course's.
    given = {"planned_mg_per_day": 60, "product": "amnesteem"}
    assert (
        course_assessment(api, cid, {"as_of": "2026-02-04", "plan": given})["dosing"]["product"]
        == "amnesteem"
    )


def test_a_planned_dose_without_any_product_is_refused(api: TestClient) -> None:
    course = create_course(api, weight_at_start_kg=60, start_date="2026-01-05")
    body = {"as_of": "2026-02-04", "plan": {"planned_mg_per_day": 60}}

    r = api.post(f"/v1/courses/{course['id']}/assessments", json=body, headers=AUTH)

    assert_invalid(r, "$.plan.product")
