"""Medications as written, through the REST API: brands fire the interaction, unknown drugs are
listed under ``unrecognised_medications`` (assessment, checklist, course assessment) and change no
decision (RULES §13)."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient

from api.examples import A1_REQUEST
from tests.api.conftest import AUTH


def _a1_with(*meds: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(A1_REQUEST)
    body["profile"]["medications"] = list(meds)
    return body


def _rule(body: dict[str, Any], rule_id: str) -> dict[str, Any] | None:
    return next((f for f in body["findings"] if f["rule_id"] == rule_id), None)


def test_a_brand_written_as_free_text_fires_the_interaction(client: TestClient) -> None:
    r = client.post(
        "/v1/assessments", json=_a1_with({"text": "Terramycin 250 mg tablets"}), headers=AUTH
    )
    assert r.status_code == 200, r.text
    body = r.json()
    finding = _rule(body, "interaction.tetracyclines")
    assert finding is not None
    assert finding["status"] == "applies"
    assert finding["match_basis"] == "brand"
    assert body["decision"] != "start"
    assert body["unrecognised_medications"] == []


def test_an_unknown_drug_is_listed_and_the_decision_stays_start(client: TestClient) -> None:
    r = client.post(
        "/v1/assessments",
        json=_a1_with({"text": "Zorblaxin 10 mg"}, {"text": "Retinyl palmitate 10,000 IU"}),
        headers=AUTH,
    )
    body = r.json()
    assert body["unrecognised_medications"] == ["Zorblaxin 10 mg"]
    assert _rule(body, "interaction.vitamin-a") is not None
    alone = client.post("/v1/assessments", json=_a1_with({"text": "Zorblaxin 10 mg"}), headers=AUTH)
    assert alone.json()["decision"] == "start"
    assert alone.json()["unrecognised_medications"] == ["Zorblaxin 10 mg"]


def test_the_checklist_lists_unrecognised_medications(client: TestClient) -> None:
    r = client.post("/v1/checklists", json=_a1_with({"text": "Zorblaxin 10 mg"}), headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["unrecognised_medications"] == ["Zorblaxin 10 mg"]
    without = client.post("/v1/checklists", json=_a1_with(), headers=AUTH)
    assert without.json()["unrecognised_medications"] == []


def test_the_course_assessment_lists_unrecognised_medications(client: TestClient) -> None:
    course = client.post(
        "/v1/courses",
        json={"patient_ref": "p-meds", "jurisdiction": "US", "product": "generic"},
        headers=AUTH,
    )
    assert course.status_code == 201, course.text
    cid = course.json()["id"]
    body = {
        "as_of": A1_REQUEST["as_of"],
        "profile": {"medications": [{"text": "Zorblaxin 10 mg"}, {"text": "Minocin MR 100 mg"}]},
    }
    r = client.post(f"/v1/courses/{cid}/assessments", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["unrecognised_medications"] == ["Zorblaxin 10 mg"]
    assert _rule(out, "interaction.tetracyclines")["status"] == "applies"  # type: ignore[index]
