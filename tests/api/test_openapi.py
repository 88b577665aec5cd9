"""The committed OpenAPI document equals the app's, and it tells the truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.examples import ASSESSMENT_EXAMPLES, CHECKLIST_EXAMPLES, DOSING_EXAMPLES
from api.openapi import document
from tests.api.conftest import AUTH

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_openapi_document_is_current() -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(document())), (
        "run `make openapi` and commit the result"
    )


def _walk(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, node in schema["components"]["schemas"].items():
        out.append((name, node))
        for field, sub in node.get("properties", {}).items():
            out.append((f"{name}.{field}", sub))
    return out


def test_every_schema_and_field_is_described() -> None:
    missing = [name for name, node in _walk(document()) if not node.get("description")]
    assert missing == []


def test_every_v1_operation_declares_its_problems() -> None:
    doc = document()
    for path, ops in doc["paths"].items():
        if not path.startswith("/v1"):
            continue
        for method, op in ops.items():
            for status in ("401", "500"):
                content = op["responses"][status]["content"]
                assert "application/problem+json" in content, (method, path, status)
            if op.get("parameters") or op.get("requestBody"):
                assert "422" in op["responses"], (method, path)
            assert "HTTPValidationError" not in json.dumps(op["responses"]), (method, path)


def test_enum_values_are_each_described() -> None:
    schemas = document()["components"]["schemas"]
    for name in (
        "Jurisdiction",
        "PregnancyPotential",
        "TestSetting",
        "ContraceptionMethod",
        "Symptom",
        "Product",
    ):
        node = schemas[name]
        assert set(node["x-enum-descriptions"]) == set(node["enum"]), name


def test_every_example_works_when_sent(client: TestClient) -> None:
    for route, examples in (
        ("/v1/assessments", ASSESSMENT_EXAMPLES),
        ("/v1/checklists", CHECKLIST_EXAMPLES),
        ("/v1/dosing-plans", DOSING_EXAMPLES),
    ):
        for name, example in examples.items():
            r = client.post(route, json=example["value"], headers=AUTH)
            assert r.status_code == 200, (route, name, r.text)


def test_the_assessment_example_is_the_complete_a1_profile(client: TestClient) -> None:
    body = ASSESSMENT_EXAMPLES["a1"]["value"]
    r = client.post("/v1/assessments", json=body, headers=AUTH)
    out = r.json()
    assert out["decision"] == "start"
    assert out["indication"]["status"] == "labelled"
    assert out["not_assessed"]  # A1 still leaves some non-gating attestations unknown
    assert len(body["profile"]) >= 20
