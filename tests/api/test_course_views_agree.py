"""One answer everywhere (RULES §15): for the same stored course and date, the course checklist,
the course timeline, a course assessment with an empty profile and the CDS Hooks ``order-sign``
service give every rule they report the same status.

Hypothesis draws stored histories (pregnancy tests of any result and setting, pregnancy-potential
entries, visits with weights, symptoms and mood screens, labs, dispensings) and records each one
through the real API on the real app (a migrated SQLite file); the CDS service finds the course by
its patient, as it does for an EHR. The CDS Hooks services evaluate "today", so every date is drawn
relative to today and every view is asked for today.

Besides equal statuses, the views must never hide a stop rule: the checklist, the timeline, the
assessment and the CDS cards show the same applying ``stop.*`` rules, and while one applies the
checklist suspends the prescription window and the timeline projects nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.main import create_app
from tests.api.conftest import AUTH
from tests.api.conftest import settings as app_settings
from tests.api.test_courses import today
from tests.cds.support import (
    BASE,
    ISS_EU,
    ISS_US,
    SIGN_SERVICE,
    Cds,
    age_birth,
    client_config,
    es384_key,
    full_prefetch,
    hook_request,
    medication_request,
    patient,
    write_clients,
)
from tests.database import fresh_sqlite_url

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
SYMPTOMS = (
    "depression",
    "suicidal-ideation",
    "tinnitus",
    "jaundice",
    "abdominal-pain",
    "visual-difficulty",
    "headache-with-nausea",
)


@dataclass
class Views:
    """A US and an EU CDS client (each signing its JWTs) of one app on one database."""

    http: TestClient
    us: Cds
    eu: Cds

    def __repr__(self) -> str:
        return "Views()"  # kept short: Hypothesis prints the arguments of a failing example


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Views]:
    """The real app on a fresh migrated SQLite file, with an API key and two CDS clients."""
    us_key, eu_key = es384_key("agree-us"), es384_key("agree-eu")
    clients = write_clients(
        tmp_path_factory.mktemp("cds"),
        [
            # Two clients each name their tenant: the API key's, whose courses they see.
            client_config(ISS_US, "US", (us_key,), tenant="default"),
            client_config(ISS_EU, "EU", (eu_key,), tenant="default"),
        ],
    )
    app = create_app(
        app_settings(
            cds_clients_file=clients, public_base_url=BASE, database_url=fresh_sqlite_url()
        )
    )
    http = TestClient(app, raise_server_exceptions=False)
    http.__enter__()
    yield Views(
        http, Cds(http=http, key=us_key, iss=ISS_US), Cds(http=http, key=eu_key, iss=ISS_EU)
    )
    http.__exit__(None, None, None)


# --- histories -------------------------------------------------------------------------------


@dataclass
class History:
    """A course to store: its fields and its events (route, body), dates relative to today."""

    jurisdiction: str
    product: str | None
    start_days_ago: int
    weight_at_start_kg: float | None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _day(days_ago: int) -> str:
    return (today() - timedelta(days=days_ago)).isoformat()


def _potential(days_ago: int, category: str) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"recorded_on": _day(days_ago), "category": category}
    if category == "cannot-become-pregnant":
        body["reason"] = "other"
    return "pregnancy-potential", body


def _test(days_ago: int, result: str, setting: str) -> tuple[str, dict[str, Any]]:
    return "pregnancy-tests", {
        "specimen_date": _day(days_ago),
        "result": result,
        "setting": setting,
    }


@st.composite
def _screen(draw: st.DrawFn) -> dict[str, Any]:
    instrument = draw(st.sampled_from(("phq-9", "phq-a", "phq-2")))
    if instrument == "phq-2":
        return {"instrument": instrument, "total": draw(st.integers(0, 6))}
    total = draw(st.sampled_from((0, 3, 9, 10, 15, 27)))
    out: dict[str, Any] = {"instrument": instrument, "total": total}
    item9 = draw(st.none() | st.integers(0, min(3, total)))
    if item9 is not None:
        out["item_9"] = item9
    return out


@st.composite
def _visit(draw: st.DrawFn, days_ago: int) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"visit_date": _day(days_ago)}
    if draw(st.booleans()):
        body["weight"] = {"value": draw(st.sampled_from((45, 60, 82.5))), "unit": "kg"}
    if draw(st.booleans()):
        body["mood_screen"] = draw(_screen())
    symptoms = draw(st.none() | st.lists(st.sampled_from(SYMPTOMS), max_size=2, unique=True))
    if symptoms is not None:
        body["reported_symptoms"] = symptoms
    return "visits", body


@st.composite
def _lab(draw: st.DrawFn, days_ago: int) -> tuple[str, dict[str, Any]]:
    loinc = draw(st.sampled_from(("2571-8", "1742-6", "1920-8")))
    body: dict[str, Any] = {"loinc": loinc, "collected_on": _day(days_ago)}
    if loinc == "2571-8":
        body.update(value=draw(st.sampled_from((120, 501, 650, 801, 950))), unit="mg/dL")
        fasting = draw(st.none() | st.booleans())
        if fasting is not None:
            body["fasting"] = fasting
    else:
        body.update(value=draw(st.sampled_from((20, 121, 130, 201, 400))), unit="U/L")
        if draw(st.booleans()):
            body["uln"] = 40
    return "labs", body


@st.composite
def histories(draw: st.DrawFn) -> History:
    """A stored course with up to a dozen events, all dated up to today."""
    jurisdiction = draw(st.sampled_from(("US", "US", "EU")))
    # An EU order names its product by the market (eu-uk-generic), so an EU course records it too:
    # the order's product and the course's must be the same facts for the views to be compared.
    if jurisdiction == "US":
        product = draw(st.none() | st.sampled_from(("generic", "claravis", "absorica-ld")))
    else:
        product = "eu-uk-generic"
    start = draw(st.integers(1, 120))
    h = History(jurisdiction, product, start, draw(st.none() | st.sampled_from((50.0, 70.0))))
    when = st.integers(0, start + 40)
    for _ in range(draw(st.integers(0, 2))):
        category = draw(
            st.sampled_from(("can-become-pregnant", "cannot-become-pregnant", "unknown"))
        )
        h.events.append(_potential(draw(when), category))
    for _ in range(draw(st.integers(0, 3))):
        result = draw(st.sampled_from(("negative", "negative", "positive", "indeterminate")))
        setting = draw(
            st.sampled_from(("medical-lab", "medical-point-of-care", "remote-supervised", "home"))
        )
        h.events.append(_test(draw(st.integers(0, start + 40)), result, setting))
    for _ in range(draw(st.integers(0, 3))):
        h.events.append(draw(_visit(draw(when))))
    for _ in range(draw(st.integers(0, 3))):
        h.events.append(draw(_lab(draw(when))))
    for _ in range(draw(st.integers(0, 2))):
        days = draw(st.sampled_from((28, 30, 31, 60)))
        mg = draw(st.sampled_from((20, 40, 60, 80)))
        dispensed = draw(st.integers(0, start))  # on or after the start
        h.events.append(
            (
                "dispensings",
                {"dispensed_on": _day(dispensed), "mg_per_day": mg, "days_supplied": days},
            )
        )
    return h


def _store(http: TestClient, h: History, pid: str) -> str:
    body: dict[str, Any] = {
        "patient_ref": pid,
        "jurisdiction": h.jurisdiction,
        "start_date": _day(h.start_days_ago),
    }
    if h.product is not None:
        body["product"] = h.product
    if h.weight_at_start_kg is not None:
        body["weight_at_start_kg"] = h.weight_at_start_kg
    r = http.post("/v1/courses", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    cid: str = r.json()["id"]
    for route, event in h.events:
        r = http.post(f"/v1/courses/{cid}/{route}", json=event, headers=AUTH)
        assert r.status_code == 201, (route, event, r.text)
    return cid


# --- what each view reports ------------------------------------------------------------------

Statuses = dict[str, set[str]]


def _add(out: Statuses, rule_id: str, status: str | None) -> None:
    if status is not None:
        out.setdefault(rule_id, set()).add(status)


def checklist_statuses(c: dict[str, Any]) -> Statuses:
    """Every rule the course checklist reports, with the statuses it gives it."""
    out: Statuses = {}
    for key in ("findings", "lab_findings", "supply_limit"):
        for f in c[key]:
            _add(out, f["rule_id"], f["status"])
    for entry in c["checklist"]:
        _add(out, entry["rule_id"], "applies")  # a checklist item is an applying finding
    for n in c["not_assessed"]:
        _add(out, n["rule_id"], "unknown")
    if c["alert"] is not None:
        _add(out, c["alert"]["rule_id"], "applies")
    return out


def timeline_statuses(entries: list[dict[str, Any]]) -> Statuses:
    """Every rule the timeline reports with a status (marks, scheduled items)."""
    out: Statuses = {}
    for e in entries:
        for m in e["marks"]:
            _add(out, m["rule_id"], m["status"])
        if e["rule_id"] is not None:
            _add(out, e["rule_id"], e["status"])
        if e["type"] == "scheduled":
            _add(out, e["kind"], "applies")
    return out


def assessment_statuses(a: dict[str, Any]) -> Statuses:
    """Every rule an assessment reports."""
    out: Statuses = {}
    for f in a["findings"]:
        _add(out, f["rule_id"], f["status"])
    for n in a["not_assessed"]:
        _add(out, n["rule_id"], "unknown")
    for b in a["decision_basis"]:
        _add(out, b["rule_id"], b["status"])
    return out


def cds_statuses(cards: list[dict[str, Any]]) -> Statuses:
    """Every rule the CDS cards carry (their ``org.isocds.rules`` extension)."""
    out: Statuses = {}
    for card in cards:
        for r in card.get("extension", {}).get("org.isocds.rules", {}).get("rules", []):
            _add(out, r["ruleId"], r["status"])
    return out


def _applying_stops(statuses: Statuses) -> set[str]:
    return {r for r, s in statuses.items() if r.startswith("stop.") and "applies" in s}


# --- the property ----------------------------------------------------------------------------


def _check(views: Views, h: History) -> None:
    http = views.http
    pid = f"pat-agree-{uuid.uuid4().hex[:12]}"
    cid = _store(http, h, pid)
    on = today().isoformat()

    r = http.get(f"/v1/courses/{cid}/checklist", params={"as_of": on}, headers=AUTH)
    assert r.status_code == 200, r.text
    checklist = r.json()
    r = http.get(f"/v1/courses/{cid}/timeline", params={"as_of": on}, headers=AUTH)
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    r = http.post(f"/v1/courses/{cid}/assessments", json={"as_of": on}, headers=AUTH)
    assert r.status_code == 200, r.text
    assessment = r.json()
    # Order-sign of an isotretinoin order named only by its ingredient (product: the course's),
    # without a dose or a supply (so that only stored facts decide).
    order = medication_request(None, "isotretinoin", status="draft")
    prefetch = full_prefetch(patient=patient(age_birth(19), pid=pid))
    body = hook_request("order-sign", prefetch, draft=[order], patient_id=pid)
    cds = views.us if h.jurisdiction == "US" else views.eu
    cards = cds.cards(SIGN_SERVICE, body)

    reported = {
        "checklist": checklist_statuses(checklist),
        "timeline": timeline_statuses(entries),
        "assessment": assessment_statuses(assessment),
        "cds": cds_statuses(cards),
    }

    # Each view gives each rule one status, and every view reporting a rule gives it the same.
    for name, statuses in reported.items():
        for rule_id, s in statuses.items():
            assert len(s) == 1, (name, rule_id, s)
    every = {r for statuses in reported.values() for r in statuses}
    for rule_id in sorted(every):
        seen = {name: st_[rule_id] for name, st_ in reported.items() if rule_id in st_}
        assert len(set().union(*seen.values())) == 1, (rule_id, seen)

    # The checklist's findings are the assessment's (applying and gating unknown), one
    # evaluation; the supply limit is judged on the stored dispensings by the checklist only.
    expected = [f for f in assessment["findings"] if f["status"] == "applies" or f["gating"]]
    shown = [f for f in checklist["findings"] if f["rule_id"] != "prescription.supply-limit"]
    assert shown == expected

    # No view hides a stop rule.
    stops = _applying_stops(reported["checklist"])
    for name in ("timeline", "assessment", "cds"):
        assert _applying_stops(reported[name]) == stops, name
    window = checklist["prescription_window"]
    suspended_entries = [e for e in entries if e["type"] == "suspended"]
    if stops:
        assert checklist["alert"] is not None
        assert checklist["alert"]["severity"] == "critical"
        if window is not None:
            assert window["state"] == "suspended", window
            assert set(window["suspended_by"]) == stops, window
        assert [e for e in entries if e["type"] == "projection"] == []
        assert len(suspended_entries) == 1, suspended_entries
        assert {m["rule_id"] for m in suspended_entries[0]["marks"]} == stops
        due = {"monitoring.pregnancy-test.monthly", "prescription.window"}
        assert not [e for e in entries if e["type"] == "scheduled" and e["kind"] in due]
    else:
        assert suspended_entries == []
        assert not [c for c in checklist["checklist"] if c["state"] == "suspended"]

    # The alert is the most severe applying finding still to act on.
    open_ = [
        f
        for f in checklist["findings"]
        if f["status"] == "applies"
        and (f["item"] is None or f["item"]["state"] in ("due", "overdue"))
    ]
    if open_:
        worst = min(SEVERITY_RANK[f["severity"]] for f in open_)
        assert checklist["alert"] is not None
        assert SEVERITY_RANK[checklist["alert"]["severity"]] == worst
        assert checklist["alert"]["rule_id"] in {f["rule_id"] for f in open_}
    else:
        assert checklist["alert"] is None


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(h=histories())
@example(  # a positive laboratory test after the first dispensing
    h=History(
        "US",
        "generic",
        40,
        60.0,
        [
            _potential(60, "can-become-pregnant"),
            _test(45, "negative", "medical-lab"),
            ("dispensings", {"dispensed_on": _day(40), "mg_per_day": 40, "days_supplied": 30}),
            _test(2, "positive", "medical-lab"),
        ],
    )
)
@example(  # a stop symptom at the latest visit, days before today
    h=History(
        "US",
        "claravis",
        35,
        70.0,
        [
            _potential(50, "cannot-become-pregnant"),
            ("dispensings", {"dispensed_on": _day(35), "mg_per_day": 60, "days_supplied": 30}),
            ("visits", {"visit_date": _day(3), "reported_symptoms": ["tinnitus"]}),
        ],
    )
)
def test_the_course_views_the_assessment_and_cds_agree(views: Views, h: History) -> None:
    _check(views, h)
