"""``POST /v1/dosing-plans`` for ``eu-uk-generic`` without ``available_strengths_mg`` (RULES §8).

The product has no built-in strengths: "without it the plan gives mg/day and mg/kg/day, no
capsules". The dosing-plan route answers that plan, as ``/v1/assessments`` does, never a 422.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import AUTH

EU_BODY: dict[str, Any] = {
    "jurisdiction": "EU",
    "as_of": "2026-03-01",
    "weight": {"value": 64, "unit": "kg"},
    "product": "eu-uk-generic",
    "target_mg_per_kg_day": 0.5,
}
NO_STRENGTHS_NOTE = "no capsule strengths for this product: send available_strengths_mg"


def _post(client: TestClient, route: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(route, json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


@pytest.mark.parametrize("jurisdiction", ["EU", "UK"])
def test_eu_generic_without_strengths_gives_the_mg_plan_without_capsules(
    client: TestClient, jurisdiction: str
) -> None:
    body = {**copy.deepcopy(EU_BODY), "jurisdiction": jurisdiction}
    dosing = _post(client, "/v1/dosing-plans", body)["dosing"]

    assert dosing["product"] == "eu-uk-generic"
    assert dosing["capsule_plan"] is None
    assert dosing["range_mg_per_kg_day"] == {"low": 0.5, "high": 1.0}
    assert dosing["range_mg_per_day"] == {"low": 32.0, "high": 64.0}
    assert dosing["target_mg_per_day"] == 32.0  # 64 kg × 0.5 mg/kg/day
    assert dosing["maximum"]["mg_per_kg_day"] == 1.0
    assert dosing["maximum"]["mg_per_day"] == 64.0
    assert NO_STRENGTHS_NOTE in dosing["notes"]


def test_eu_generic_planned_dose_without_strengths_gives_its_mg_per_kg(
    client: TestClient,
) -> None:
    body = copy.deepcopy(EU_BODY)
    del body["target_mg_per_kg_day"]
    body["planned_mg_per_day"] = 40
    out = _post(client, "/v1/dosing-plans", body)

    assert out["dosing"]["capsule_plan"] is None
    assert out["dosing"]["planned_mg_per_day"] == 40
    assert out["dosing"]["planned_mg_per_kg_day"] == 0.62  # 40 / 64, two decimals
    assert {f["kind"] for f in out["findings"]} == {"dosing"}
    assert "dosing.daily-range" in {f["rule_id"] for f in out["findings"]}


def test_dosing_plan_agrees_with_the_assessment_without_strengths(client: TestClient) -> None:
    plan = _post(client, "/v1/dosing-plans", copy.deepcopy(EU_BODY))["dosing"]
    assessment = _post(
        client,
        "/v1/assessments",
        {
            "jurisdiction": "EU",
            "as_of": "2026-03-01",
            "profile": {"weight": {"value": 64, "unit": "kg"}},
            "plan": {"product": "eu-uk-generic", "target_mg_per_kg_day": 0.5},
        },
    )["dosing"]

    for key in (
        "capsule_plan",
        "range_mg_per_day",
        "range_mg_per_kg_day",
        "maximum",
        "target_mg_per_day",
    ):
        assert plan[key] == assessment[key], key
    assert NO_STRENGTHS_NOTE in assessment["notes"]


def test_eu_generic_with_strengths_still_gives_capsules(client: TestClient) -> None:
    body = {**copy.deepcopy(EU_BODY), "available_strengths_mg": [10, 20]}
    plan = _post(client, "/v1/dosing-plans", body)["dosing"]["capsule_plan"]

    assert plan is not None
    assert plan["mg_per_day"] == 30  # the nearest to 32 mg without exceeding the cap
    assert {cap for dose in plan["doses"] for cap in dose["capsules_mg"]} <= {10, 20}


def test_an_empty_strength_list_is_still_refused(client: TestClient) -> None:
    body = {**copy.deepcopy(EU_BODY), "available_strengths_mg": []}
    r = client.post("/v1/dosing-plans", json=body, headers=AUTH)

    assert r.status_code == 422, r.text
    assert any(e["path"] == "$.available_strengths_mg" for e in r.json()["errors"])
