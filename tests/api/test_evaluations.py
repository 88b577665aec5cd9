"""The REST API over HTTP: every route's happy path and problems, the vignettes, the catalogue.

Everything goes through the real app (``create_app``) with its real middleware, over
``fastapi.testclient.TestClient``; nothing of ours is mocked. Authentication, CORS, the request
log and the 500 problem are in ``test_security_and_logs.py``.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from api.examples import A1_PROFILE, A1_REQUEST
from tests.api.conftest import AUTH, SECRET

PROBLEM_JSON = "application/problem+json"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UK_SECOND_PRESCRIBER = "precaution.uk-under-18-second-prescriber"
CONFIRMATION = "monitoring.pregnancy-test.confirmation"

# --- helpers -------------------------------------------------------------------------------


def assert_problem(r: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    """``r`` is an RFC 9457 problem of ``status``; return its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].split(";")[0].strip() == PROBLEM_JSON, r.headers
    body: dict[str, Any] = r.json()
    assert isinstance(body.get("type"), str), body
    assert body["type"].startswith("urn:isocds:problem:"), body
    if slug is not None:
        assert body["type"] == f"urn:isocds:problem:{slug}", body
    assert isinstance(body.get("title"), str), body
    assert body["title"], body
    assert body.get("status") == status, body
    assert isinstance(body.get("detail"), str), body
    assert body["detail"], body
    assert "Traceback" not in r.text
    return body


def assert_validation_problem(r: Any, *paths: str) -> list[dict[str, Any]]:
    """``r`` is a 422 problem whose ``errors`` name one of ``paths``; return the errors."""
    body = assert_problem(r, 422, "validation-error")
    errors: list[dict[str, Any]] = body.get("errors") or []
    assert errors, body
    for e in errors:
        assert isinstance(e.get("path"), str), e
        assert e["path"], e
        assert isinstance(e.get("reason"), str), e
        assert e["reason"], e
    named = [e["path"] for e in errors]
    assert any(p in paths for p in named), f"expected one of {paths}, got {named}"
    return errors


def a1() -> dict[str, Any]:
    """A deep copy of the A1 request (vignette A1, US, as_of 2026-03-01)."""
    return copy.deepcopy(A1_REQUEST)


def post_ok(client: TestClient, route: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` with the test key; assert 200 JSON and return the body."""
    r = client.post(route, json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    out: dict[str, Any] = r.json()
    return out


def assess(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/assessments``."""
    return post_ok(client, "/v1/assessments", body)


def finding(out: dict[str, Any], rule_id: str) -> dict[str, Any]:
    """The finding of ``rule_id``; fails when there is none."""
    for f in out["findings"]:
        if f["rule_id"] == rule_id:
            found: dict[str, Any] = f
            return found
    raise AssertionError(f"no finding {rule_id}; have {[f['rule_id'] for f in out['findings']]}")


def status_of(out: dict[str, Any], rule_id: str) -> str | None:
    """``applies``, ``unknown`` or None (no finding)."""
    for f in out["findings"]:
        if f["rule_id"] == rule_id:
            status: str = f["status"]
            return status
    return None


def fires(out: dict[str, Any], rule_id: str) -> bool:
    """vignettes.md "must fire"."""
    return status_of(out, rule_id) == "applies"


def applying(out: dict[str, Any], prefix: str) -> list[str]:
    """IDs of applying findings that start with ``prefix``."""
    return [
        f["rule_id"]
        for f in out["findings"]
        if f["rule_id"].startswith(prefix) and f["status"] == "applies"
    ]


def item_state(out: dict[str, Any], rule_id: str) -> str:
    """The item state of a checklist finding."""
    item = finding(out, rule_id)["item"]
    assert item is not None, rule_id
    state: str = item["state"]
    return state


def words(f: dict[str, Any]) -> str:
    """Everything a finding says in words, lower-case."""
    return " | ".join([f["text"], *f["triggers"], *f["notes"], *f["missing"]]).lower()


def basis_ids(out: dict[str, Any]) -> dict[str, str]:
    """``decision_basis`` as rule ID → status."""
    return {b["rule_id"]: b["status"] for b in out["decision_basis"]}


# --- the declared responses ------------------------------------------------------------------

EVALUATION_STATUSES = {"200", "400", "401", "403", "409", "413", "415", "422", "500", "503"}
DECLARED: dict[tuple[str, str], set[str]] = {
    ("post", "/v1/assessments"): EVALUATION_STATUSES,
    ("post", "/v1/checklists"): EVALUATION_STATUSES,
    ("post", "/v1/dosing-plans"): EVALUATION_STATUSES,
    ("get", "/v1/rules"): {"200", "401", "403", "422", "500"},
    ("get", "/v1/rules/{rule_id}"): {"200", "401", "403", "404", "422", "500"},
    ("get", "/v1/sources"): {"200", "401", "403", "500"},
    ("get", "/health"): {"200"},
    ("get", "/ready"): {"200", "503"},
}
# 409 (an Idempotency-Key still in flight) and 503 (the audit record cannot be committed) of the
# evaluation routes are tested in tests/api/test_courses.py; 403 (a key without the `evaluate`
# scope) in tests/api/test_tenants.py.


def test_the_tests_cover_every_declared_status(client: TestClient) -> None:
    """The statuses tested here are those the OpenAPI document declares, route by route.

    A route that starts declaring a new status fails this test until a test is written for it.
    """
    doc = client.get("/openapi.json").json()
    declared = {
        (method, path): set(op["responses"])
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if (method, path) in DECLARED  # the course and audit routes have their own test module
    }
    assert declared == DECLARED
    for (method, path), statuses in declared.items():
        for status in statuses - {"200"}:
            content = doc["paths"][path][method]["responses"][status]["content"]
            assert list(content) == [PROBLEM_JSON], (method, path, status)


# --- happy paths -----------------------------------------------------------------------------

A1_DONE_ITEMS = (
    "monitoring.pregnancy-test.screening",
    CONFIRMATION,
    "monitoring.contraception",
    "monitoring.lipids",
    "monitoring.liver",
    "monitoring.mood",
    "documentation.ipledge",
)


def test_health(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r.headers.get("x-request-id")


def test_ready_reports_the_loaded_catalogue(client: TestClient) -> None:
    r = client.get("/ready")
    assert r.status_code == 200
    ready = r.json()
    assert ready["status"] == "ready"
    assert ready["rules"] >= 70
    out = assess(client, a1())
    assert ready["ruleset_version"] == out["ruleset_version"]
    assert ready["catalogue_hash"] == out["catalogue_hash"]
    assert len(ready["catalogue_hash"]) == 64


def test_ready_declares_503_as_a_problem(client: TestClient) -> None:
    """503 (not ready) cannot be provoked while the catalogue is loaded: its declaration is."""
    doc = client.get("/openapi.json").json()
    response = doc["paths"]["/ready"]["get"]["responses"]["503"]
    assert response["content"][PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_a1_textbook_start(client: TestClient) -> None:
    out = assess(client, a1())

    assert out["as_of"] == "2026-03-01"
    assert out["jurisdiction"] == "US"
    assert out["visit_type"] == "baseline"
    assert fires(out, "indication.labelled")
    for rule_id in A1_DONE_ITEMS:
        assert item_state(out, rule_id) == "done", rule_id
    assert item_state(out, "monitoring.cbc") == "not-required"
    window = finding(out, "prescription.window")["item"]
    assert window["state"] == "due"
    assert (window["due_from"], window["due_by"]) == ("2026-02-27", "2026-03-05")
    confirmation = finding(out, CONFIRMATION)["item"]
    assert confirmation["due_from"] == "2026-02-25"  # 2026-02-06 + 19 days

    assert applying(out, "contraindication.") == []
    assert applying(out, "interaction.") == []
    assert applying(out, "lab.") == []
    assert not fires(out, "precaution.suicidal-ideation-now")

    assert out["decision"] == "start"
    assert out["not_before"] is None
    assert out["indication"]["status"] == "labelled"
    assert out["epoch"] == "US/pre-2026"
    assert out["lab_profile"] == "label"
    assert out["ruleset_version"]
    assert len(out["catalogue_hash"]) == 64

    dosing = out["dosing"]
    assert dosing["product"] == "generic"
    assert dosing["weight_kg"] == 60
    assert dosing["range_mg_per_kg_day"] == {"low": 0.5, "high": 1.0}
    assert dosing["range_mg_per_day"] == {"low": 30, "high": 60}
    assert dosing["cumulative"]["target_mg_per_kg"] == {"low": 120, "high": 150}
    assert dosing["cumulative"]["target_mg"] == {"low": 7200, "high": 9000}

    # The checklist is the view of the findings that carry an item.
    with_items = {f["rule_id"]: f["item"]["state"] for f in out["findings"] if f["item"]}
    assert {c["rule_id"]: c["state"] for c in out["checklist"]} == with_items
    # Findings are sorted by severity, then status, then rule ID.
    order = {"critical": 0, "warning": 1, "info": 2}
    keys = [(order[f["severity"]], f["status"] != "applies", f["rule_id"]) for f in out["findings"]]
    assert keys == sorted(keys)


def test_checklist_a1(client: TestClient) -> None:
    out = post_ok(client, "/v1/checklists", a1())

    assert out["as_of"] == "2026-03-01"
    assert out["visit_type"] == "baseline"
    assert out["epoch"] == "US/pre-2026"
    assert out["lab_profile"] == "label"
    assert "decision" not in out
    assert "findings" not in out
    items = {c["rule_id"]: c for c in out["checklist"]}
    for rule_id in A1_DONE_ITEMS:
        assert items[rule_id]["state"] == "done", rule_id
        assert items[rule_id]["satisfied_by"], rule_id
        assert items[rule_id]["sources"], rule_id
    assert items["monitoring.cbc"]["state"] == "not-required"
    window = items["prescription.window"]
    assert (window["state"], window["due_from"], window["due_by"]) == (
        "due",
        "2026-02-27",
        "2026-03-05",
    )
    assert "2571-8" in items["monitoring.lipids"]["codes"]


def test_checklist_a1b_confirmation_due(client: TestClient) -> None:
    body = a1b()
    out = post_ok(client, "/v1/checklists", body)
    items = {c["rule_id"]: c for c in out["checklist"]}
    assert items[CONFIRMATION]["state"] == "due"
    assert items[CONFIRMATION]["due_from"] == "2026-03-18"
    assert items["documentation.ipledge"]["state"] == "due"


def test_dosing_plan_e1_claravis(client: TestClient) -> None:
    body = {
        "jurisdiction": "US",
        "as_of": "2026-03-01",
        "weight": {"value": 70, "unit": "kg"},
        "product": "claravis",
        "target_mg_per_kg_day": 1.0,
        "age_years": 24,
    }
    out = post_ok(client, "/v1/dosing-plans", body)

    assert out["as_of"] == "2026-03-01"
    assert out["jurisdiction"] == "US"
    dosing = out["dosing"]
    assert dosing["product"] == "claravis"
    plan = dosing["capsule_plan"]
    assert plan["mg_per_day"] == 70
    assert sorted(cap for dose in plan["doses"] for cap in dose["capsules_mg"]) == [30, 40]
    assert plan["mg_per_kg_day"] == 1.0
    assert dosing["cumulative"]["target_mg"] == {"low": 8400, "high": 10500}
    assert dosing["course_days"] == {"low": 120, "high": 150}
    # Only dosing findings come back.
    assert out["findings"]
    assert {f["kind"] for f in out["findings"]} == {"dosing"}


def test_dosing_plan_eu_generic_with_strengths(client: TestClient) -> None:
    body = {
        "jurisdiction": "EU",
        "as_of": "2026-03-01",
        "weight": {"value": 64, "unit": "kg"},
        "product": "eu-uk-generic",
        "target_mg_per_kg_day": 0.5,
        "available_strengths_mg": [10, 20],
    }
    out = post_ok(client, "/v1/dosing-plans", body)
    plan = out["dosing"]["capsule_plan"]
    assert plan is not None
    assert {cap for dose in plan["doses"] for cap in dose["capsules_mg"]} <= {10, 20}


def test_rules_list(client: TestClient) -> None:
    r = client.get("/v1/rules", headers=AUTH)
    assert r.status_code == 200
    out = r.json()
    rules = out["rules"]
    assert len(rules) >= 70
    ids = [rule["id"] for rule in rules]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert out["ruleset_version"]
    assert len(out["catalogue_hash"]) == 64
    assert not any(rule["retired"] for rule in rules)  # RULES §0.2: no rule is retired today


def test_rule_lookup(client: TestClient) -> None:
    r = client.get("/v1/rules/interaction.tetracyclines", headers=AUTH)
    assert r.status_code == 200
    rule = r.json()
    assert rule["id"] == "interaction.tetracyclines"
    assert rule["kind"] == "interaction"
    assert isinstance(rule["version"], int)
    assert rule["title"]
    labels = {v["label"]: v for v in rule["variants"]}
    jurisdictions = {j for v in rule["variants"] for j in v["jurisdictions"]}
    assert jurisdictions == {"US", "EU", "UK"}
    # RULES §0.4: interaction.tetracyclines is gating in every jurisdiction.
    assert all(v["gates_when_unknown"] for v in labels.values())


def test_sources_register(client: TestClient) -> None:
    r = client.get("/v1/sources", headers=AUTH)
    assert r.status_code == 200
    register = {s["id"]: s for s in r.json()["sources"]}
    assert set(register) == set(REGISTER_IDS)
    for source_id, url in REGISTER_URLS.items():
        assert register[source_id]["url"] == url, source_id
    for source_id in set(REGISTER_IDS) - set(REGISTER_URLS):
        assert register[source_id]["url"] is None, source_id
    for s in register.values():
        assert s["citation"], s


# RULES §1, the source register.
REGISTER_IDS = (
    "fda-label-absorica",
    "fda-label-generic",
    "fda-label-legacy",
    "fda-medguide",
    "ipledge-rems",
    "ipledge-2021",
    "ipledge-2023",
    "ipledge-2026",
    "aad-2024",
    "aad-2016",
    "peds-2013",
    "xia-2022",
    "hansen-2016",
    "barbieri-2020",
    "lee-2016",
    "opel-2017",
    "blasiak-2013",
    "tan-2015",
    "ema-2018",
    "eu-smpc",
    "mhra-ppp-reminder",
    "mhra-2023",
    "mhra-2025",
    "mhra-2026",
    "nice-ng198",
    "ctcae-5",
)
REGISTER_URLS = {
    "fda-label-absorica": "https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid=3ef0cff8-19c1-4441-b780-fca6c7ee1615",
    "ipledge-rems": "https://www.accessdata.fda.gov/scripts/cder/rems/index.cfm?event=RemsDetails.page&REMS=24",
    "ipledge-2026": "https://www.fda.gov/drugs/postmarket-drug-safety-information-patients-and-providers/ipledge-risk-evaluation-and-mitigation-strategy-rems",
    "aad-2024": "https://doi.org/10.1016/j.jaad.2023.12.017",
    "peds-2013": "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC3970835/",
    "xia-2022": "https://doi.org/10.1001/jamadermatol.2022.2044",
    "hansen-2016": "https://pubmed.ncbi.nlm.nih.gov/27189824/",
    "lee-2016": "https://pubmed.ncbi.nlm.nih.gov/26630323/",
    "opel-2017": "https://pubmed.ncbi.nlm.nih.gov/27893168/",
    "ema-2018": "https://www.ema.europa.eu/en/medicines/human/referrals/retinoid-containing-medicinal-products",
    "mhra-ppp-reminder": "https://www.gov.uk/drug-safety-update/oral-retinoids-pregnancy-prevention-reminder-of-measures-to-minimise-teratogenic-risk",
    "mhra-2023": "https://www.gov.uk/drug-safety-update/isotretinoin-roaccutanev-introduction-of-new-safety-measures-including-additional-oversight-of-the-initiation-of-treatment-for-patients-under-18-years-of-age",
    "mhra-2026": "https://www.gov.uk/drug-safety-update/isotretinoin-changes-to-prescribing-guidance-and-additional-risk-minimisation-measures",
    "nice-ng198": "https://www.nice.org.uk/guidance/ng198",
}


# --- problems: 400, 404, 413, 415, 422 ---------------------------------------------------------

POST_ROUTES = ("/v1/assessments", "/v1/checklists", "/v1/dosing-plans")
DOSING_BODY: dict[str, Any] = {
    "jurisdiction": "US",
    "as_of": "2026-03-01",
    "weight": {"value": 70, "unit": "kg"},
    "product": "claravis",
    "target_mg_per_kg_day": 1.0,
    "age_years": 24,
}


def valid_body(route: str) -> dict[str, Any]:
    """A body the route accepts."""
    return copy.deepcopy(DOSING_BODY) if route == "/v1/dosing-plans" else a1()


@pytest.mark.parametrize("route", POST_ROUTES)
def test_malformed_json_is_400(client: TestClient, route: str) -> None:
    r = client.post(
        route,
        content=b'{"jurisdiction": "US", "profile": {',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    body = assert_problem(r, 400, "bad-request")
    assert body["instance"] == route
    assert r.headers.get("x-request-id")


def test_unknown_rule_is_404(client: TestClient) -> None:
    r = client.get("/v1/rules/interaction.no-such-rule", headers=AUTH)
    body = assert_problem(r, 404, "rule-not-found")
    assert "interaction.no-such-rule" in body["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/no-such-route"), ("POST", "/v1/no-such-route"), ("GET", "/no-such-page")],
)
def test_unknown_route_is_404(client: TestClient, method: str, path: str) -> None:
    r = client.request(method, path, headers=AUTH, json={})
    assert_problem(r, 404, "not-found")


def padded_a1() -> dict[str, Any]:
    """A valid A1 request of more than 4 KB (twenty non-interacting medications)."""
    body = a1()
    body["profile"]["medications"] = [
        {"text": f"Cetirizine 10 MG Oral Tablet, bottle {i:02d} " + "." * 150, "route": "oral"}
        for i in range(20)
    ]
    return body


def test_the_padded_body_is_valid_under_the_default_limit(client: TestClient) -> None:
    body = padded_a1()
    assert len(json.dumps(body)) > 4096
    assert assess(client, body)["decision"] == "start"


@pytest.mark.parametrize("route", POST_ROUTES)
def test_body_over_the_limit_is_413(make_client: Callable[..., TestClient], route: str) -> None:
    small = make_client(max_body_bytes=2048)
    body = padded_a1() if route != "/v1/dosing-plans" else {**DOSING_BODY, "pad": "x" * 4000}
    r = small.post(route, json=body, headers=AUTH)
    assert int(r.request.headers["content-length"]) > 2048
    problem = assert_problem(r, 413, "payload-too-large")
    assert "2048" in problem["detail"]
    # A body under the limit still passes.
    assert small.post(route, json=valid_body(route), headers=AUTH).status_code == 200


def test_chunked_body_without_content_length_over_the_limit_is_413(
    make_client: Callable[..., TestClient],
) -> None:
    small = make_client(max_body_bytes=2048)
    payload = json.dumps(padded_a1()).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(payload), 500):
            yield payload[i : i + 500]

    r = small.post(
        "/v1/assessments",
        content=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert "content-length" not in r.request.headers
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert_problem(r, 413, "payload-too-large")


def test_streamed_body_is_cut_off_at_the_limit(make_client: Callable[..., TestClient]) -> None:
    """Raw ASGI: 100 chunks of 500 bytes, no content-length; reading stops once over the limit."""
    app = make_client(max_body_bytes=2048).app
    sent: list[Message] = []
    read = 0

    async def receive() -> Message:
        nonlocal read
        read += 1
        if read > 100:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b" " * 500, "more_body": read < 100}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/assessments",
        "raw_path": b"/v1/assessments",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {SECRET}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def call() -> None:
        await app(scope, receive, send)

    asyncio.run(call())

    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    headers = dict(start["headers"])
    assert headers[b"content-type"] == PROBLEM_JSON.encode()
    assert read <= 6  # 2048 bytes is passed at the fifth chunk
    body = json.loads(
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    )
    assert body["status"] == 413


@pytest.mark.parametrize("route", POST_ROUTES)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(
    client: TestClient, route: str, content_type: str | None
) -> None:
    headers = dict(AUTH)
    if content_type is not None:
        headers["Content-Type"] = content_type
    r = client.post(route, content=json.dumps(valid_body(route)).encode(), headers=headers)
    assert_problem(r, 415, "unsupported-media-type")


def _set(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    node: Any = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        body.pop(key)
    return body


INVALID_EVALUATIONS: list[tuple[str, Callable[[], dict[str, Any]], tuple[str, ...]]] = [
    (
        "weight 0",
        lambda: _set(a1(), ("profile", "weight", "value"), 0),
        ("$.profile.weight.value",),
    ),
    (
        "negative weight",
        lambda: _set(a1(), ("profile", "weight", "value"), -60),
        ("$.profile.weight.value",),
    ),
    (
        "700 kg",
        lambda: _set(a1(), ("profile", "weight", "value"), 700),
        ("$.profile.weight.value",),
    ),
    (
        "impossible as_of",
        lambda: _set(a1(), ("as_of",), "2026-02-30"),
        ("$.as_of",),
    ),
    (
        "impossible specimen date",
        lambda: _set(a1(), ("profile", "pregnancy_tests", 0, "specimen_date"), "2026-02-30"),
        ("$.profile.pregnancy_tests[0].specimen_date",),
    ),
    (
        "unknown jurisdiction",
        lambda: _set(a1(), ("jurisdiction",), "FR"),
        ("$.jurisdiction",),
    ),
    (
        "no jurisdiction",
        lambda: _without(a1(), "jurisdiction"),
        ("$.jurisdiction",),
    ),
    (
        "unknown product",
        lambda: _set(a1(), ("plan", "product"), "roaccutane-xl"),
        ("$.plan.product",),
    ),
    (
        "dose without a product",
        lambda: _set(a1(), ("plan",), {"planned_mg_per_day": 60}),
        ("$.plan.product", "$.plan.planned_mg_per_day"),
    ),
    (
        "US product in the EU",
        lambda: _set(a1(), ("jurisdiction",), "EU"),
        ("$.plan.product",),
    ),
    (
        "unknown field",
        lambda: _set(a1(), ("profile", "weight_kg"), 60),
        ("$.profile.weight_kg",),
    ),
]


@pytest.mark.parametrize("route", ["/v1/assessments", "/v1/checklists"])
@pytest.mark.parametrize(
    ("build", "paths"),
    [pytest.param(build, paths, id=case) for case, build, paths in INVALID_EVALUATIONS],
)
def test_invalid_evaluation_input_is_422(
    client: TestClient,
    route: str,
    build: Callable[[], dict[str, Any]],
    paths: tuple[str, ...],
) -> None:
    r = client.post(route, json=build(), headers=AUTH)
    assert_validation_problem(r, *paths)


@pytest.mark.parametrize("route", ["/v1/assessments", "/v1/checklists"])
def test_unknown_lab_unit_is_422_naming_the_field_and_unit(client: TestClient, route: str) -> None:
    """D4: triglycerides 7 "foo". The domain refuses it; the problem names the body path."""
    body = a1()
    body["profile"]["labs"][0].update({"value": 7, "unit": "foo"})
    errors = assert_validation_problem(
        client.post(route, json=body, headers=AUTH), "$.profile.labs[0].unit"
    )
    unit_error = next(e for e in errors if e["path"] == "$.profile.labs[0].unit")
    assert "foo" in unit_error["reason"]
    assert "mg/dL" in unit_error["reason"]  # says what is accepted instead of guessing


def test_a_us_product_in_the_eu_names_the_product(client: TestClient) -> None:
    body = a1()
    body["jurisdiction"] = "EU"
    errors = assert_validation_problem(
        client.post("/v1/assessments", json=body, headers=AUTH), "$.plan.product"
    )
    assert any("generic" in e["reason"] and "EU" in e["reason"] for e in errors)


INVALID_DOSING: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("weight 0", {"weight": {"value": 0, "unit": "kg"}}, ("$.weight.value",)),
    ("impossible date", {"as_of": "2026-02-30"}, ("$.as_of",)),
    ("unknown jurisdiction", {"jurisdiction": "XX"}, ("$.jurisdiction",)),
    ("unknown product", {"product": "isotretinoin-forte"}, ("$.product",)),
    ("US product in the EU", {"jurisdiction": "EU", "product": "claravis"}, ("$.product",)),
    (
        "both a target and a planned dose",
        {"planned_mg_per_day": 70},
        ("$.planned_mg_per_day", "$.target_mg_per_kg_day", "$"),
    ),
]


@pytest.mark.parametrize(
    ("changes", "paths"),
    [pytest.param(changes, paths, id=case) for case, changes, paths in INVALID_DOSING],
)
def test_invalid_dosing_input_is_422(
    client: TestClient, changes: dict[str, Any], paths: tuple[str, ...]
) -> None:
    body = {**copy.deepcopy(DOSING_BODY), **changes}
    assert_validation_problem(client.post("/v1/dosing-plans", json=body, headers=AUTH), *paths)


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("kind=no-such-kind", "?kind"),
        ("jurisdiction=FR", "?jurisdiction"),
        ("as_of=2026-02-30", "?as_of"),
        ("in_force=perhaps&jurisdiction=US", "?in_force"),
    ],
)
def test_invalid_rules_query_is_422(client: TestClient, query: str, path: str) -> None:
    r = client.get(f"/v1/rules?{query}", headers=AUTH)
    assert_validation_problem(r, path)


def test_invalid_rule_lookup_query_is_422(client: TestClient) -> None:
    r = client.get(f"/v1/rules/{UK_SECOND_PRESCRIBER}?as_of=2026-02-30", headers=AUTH)
    assert_validation_problem(r, "?as_of")


# --- vignettes through HTTP -------------------------------------------------------------------


def a1b() -> dict[str, Any]:
    """A1b: one pregnancy test only (2026-02-27, negative, medical laboratory), no counselling
    and no iPLEDGE records."""
    body = a1()
    profile = body["profile"]
    profile["pregnancy_tests"] = [
        {"specimen_date": "2026-02-27", "result": "negative", "setting": "medical-lab"}
    ]
    profile["counselling"] = []
    del profile["rems"]
    return body


def test_a1b_confirmation_test_still_to_come(client: TestClient) -> None:
    out = assess(client, a1b())

    ppp = finding(out, "contraindication.ppp-not-met")
    assert ppp["status"] == "applies"
    assert ppp["severity"] == "critical"
    unmet = " | ".join(ppp["triggers"]).lower()
    assert "confirmation" in unmet
    assert "counselling" in unmet
    assert "contraception" not in unmet

    assert fires(out, CONFIRMATION)
    confirmation = finding(out, CONFIRMATION)["item"]
    assert confirmation["state"] == "due"
    assert confirmation["due_from"] == "2026-03-18"
    assert fires(out, "documentation.ipledge")
    assert item_state(out, "documentation.ipledge") == "due"

    assert out["decision"] == "do-not-start"
    assert out["not_before"] == "2026-03-18"
    assert basis_ids(out).get("contraindication.ppp-not-met") == "applies"


def test_a2_pregnant(client: TestClient) -> None:
    body = a1()
    body["profile"]["pregnancy_tests"][1]["result"] = "positive"
    out = assess(client, body)

    pregnancy = finding(out, "contraindication.pregnancy")
    assert pregnancy["status"] == "applies"
    assert pregnancy["severity"] == "critical"
    assert out["decision"] == "do-not-start"


def test_a7_not_enough_information(client: TestClient) -> None:
    body = {
        "jurisdiction": "US",
        "as_of": "2026-03-01",
        "profile": {"age_years": 25, "acne": {"severity": "severe"}},
    }
    out = assess(client, body)

    assert out["decision"] == "needs-information"
    assert out["indication"]["status"] == "guideline-supported"
    assert status_of(out, "indication.labelled") == "unknown"
    missing = out["indication"]["labelled_missing"]
    assert any("nodul" in m for m in missing), missing
    assert "previous_therapies" in missing
    assert " ".join(finding(out, "indication.labelled")["missing"])

    assert fires(out, "documentation.pregnancy-potential")
    basis = basis_ids(out)
    for rule_id in (
        "contraindication.pregnancy",
        "contraindication.ppp-not-met",
        "contraindication.hypersensitivity",
        "contraindication.breastfeeding",
        "interaction.tetracyclines",
    ):
        f = finding(out, rule_id)
        assert f["status"] == "unknown", rule_id
        assert f["missing"], rule_id
        assert f["gating"], rule_id
        assert basis.get(rule_id) == "unknown", rule_id
    # Nothing says the patient is cleared.
    assert out["decision"] not in ("start", "start-with-precautions")


def minocycline_patient(jurisdiction: str) -> dict[str, Any]:
    """B1: 24 years, cannot become pregnant (attested), on oral minocycline 100 mg daily."""
    body = a1()
    body["jurisdiction"] = jurisdiction
    profile = body["profile"]
    profile["age_years"] = 24
    profile["pregnancy_potential"] = {"category": "cannot-become-pregnant"}
    profile["medications"] = [
        {
            "codings": [{"system": RXNORM, "code": "6980", "display": "minocycline"}],
            "text": "Minocycline 100 mg oral, once daily",
            "route": "oral",
        }
    ]
    if jurisdiction != "US":
        body["plan"] = {"product": "eu-uk-generic", "available_strengths_mg": [10, 20]}
    return body


def test_b1_minocycline_us(client: TestClient) -> None:
    out = assess(client, minocycline_patient("US"))

    tetracyclines = finding(out, "interaction.tetracyclines")
    assert tetracyclines["status"] == "applies"
    assert tetracyclines["severity"] == "warning"
    assert tetracyclines["match_basis"] in ("code", "name")
    assert out["decision"] == "start-with-precautions"
    assert basis_ids(out).get("interaction.tetracyclines") == "applies"


def test_b1_minocycline_eu(client: TestClient) -> None:
    out = assess(client, minocycline_patient("EU"))

    assert out["jurisdiction"] == "EU"
    assert out["epoch"] == "EU"
    tetracyclines = finding(out, "interaction.tetracyclines")
    assert tetracyclines["status"] == "applies"
    assert tetracyclines["severity"] == "critical"
    assert out["decision"] == "do-not-start"


def d1_body() -> dict[str, Any]:
    """D1: on treatment (first dose 2026-01-05), follow-up; baseline labs 2025-12-20, then
    triglycerides 9.5 mmol/L on 2026-02-26, fasting status not recorded."""
    body = a1()
    body["visit_type"] = "follow-up"
    body["profile"]["treatment_start_date"] = "2026-01-05"
    body["profile"]["labs"] = [
        {
            "loinc": "2571-8",
            "value": 120,
            "unit": "mg/dL",
            "collected_on": "2025-12-20",
            "fasting": True,
        },
        {
            "loinc": "1742-6",
            "value": 22,
            "unit": "U/L",
            "collected_on": "2025-12-20",
            "fasting": True,
            "uln": 40,
        },
        {"loinc": "2571-8", "value": 9.5, "unit": "mmol/L", "collected_on": "2026-02-26"},
    ]
    return body


def test_d1_triglycerides_in_mmol_per_l(client: TestClient) -> None:
    out = assess(client, d1_body())

    assert out["visit_type"] == "follow-up"
    severe = finding(out, "lab.triglycerides.severe")
    assert severe["status"] == "applies"
    assert severe["severity"] == "critical"
    assert not fires(out, "lab.triglycerides.elevated")
    data = severe["data"]
    assert data["value"] == 9.5
    assert data["unit"] == "mmol/L"
    assert data["value_mg_dl"] == 841.4  # 9.5 × 88.57
    assert data["fasting"] is None
    assert "800" in str(data["threshold"])
    assert "mg/dL" in str(data["threshold"])
    said = words(severe)
    assert "9.5 mmol/l" in said
    assert "841.4 mg/dl" in said
    assert "fasting not recorded" in said
    assert out["decision"] == "do-not-start"


# --- knownness, defaults ---------------------------------------------------------------------


def test_medications_absent_is_unknown(client: TestClient) -> None:
    body = a1()
    del body["profile"]["medications"]
    out = assess(client, body)

    tetracyclines = finding(out, "interaction.tetracyclines")
    assert tetracyclines["status"] == "unknown"
    assert any("medications" in m for m in tetracyclines["missing"])
    assert out["decision"] == "needs-information"
    assert basis_ids(out) == {"interaction.tetracyclines": "unknown"}


def test_medications_empty_is_asked_none(client: TestClient) -> None:
    body = a1()
    assert body["profile"]["medications"] == []
    out = assess(client, body)

    assert status_of(out, "interaction.tetracyclines") is None
    assert out["decision"] == "start"


@pytest.mark.parametrize("route", ["/v1/assessments", "/v1/checklists"])
@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "baseline"),
        ({"dispensings": []}, "baseline"),
        ({"treatment_start_date": "2026-02-01"}, "follow-up"),
        (
            {
                "dispensings": [
                    {
                        "dispensed_on": "2026-02-01",
                        "mg_per_day": 60,
                        "days_supplied": 28,
                        "product": "generic",
                    }
                ]
            },
            "follow-up",
        ),
    ],
    ids=["nothing", "no dispensing", "first dose", "a dispensing"],
)
def test_visit_type_default(
    client: TestClient, route: str, changes: dict[str, Any], expected: str
) -> None:
    body = a1()
    assert "visit_type" not in body
    assert "treatment_start_date" not in body["profile"]
    assert "dispensings" not in body["profile"]
    body["profile"].update(changes)
    assert post_ok(client, route, body)["visit_type"] == expected


def test_explicit_visit_type_is_used(client: TestClient) -> None:
    body = a1()
    body["visit_type"] = "follow-up"
    body["profile"]["treatment_start_date"] = "2026-02-01"
    assert assess(client, body)["visit_type"] == "follow-up"


def _as_of_in(zone: str, ask: Callable[[], str]) -> None:
    """The ``as_of`` that ``ask`` answers is today in ``zone`` (read before or after it)."""
    before = datetime.now(ZoneInfo(zone)).date()
    answer = date.fromisoformat(ask())
    after = datetime.now(ZoneInfo(zone)).date()
    assert answer in (before, after), (zone, answer, before)


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12", "UTC"])
def test_as_of_defaults_to_today_in_the_configured_zone(
    make_client: Callable[..., TestClient], zone: str
) -> None:
    client = make_client(timezone=zone)
    body = a1()
    del body["as_of"]
    dosing = copy.deepcopy(DOSING_BODY)
    del dosing["as_of"]

    def assessment() -> str:
        return str(post_ok(client, "/v1/assessments", body)["as_of"])

    def checklist() -> str:
        return str(post_ok(client, "/v1/checklists", body)["as_of"])

    def dosing_plan() -> str:
        return str(post_ok(client, "/v1/dosing-plans", dosing)["as_of"])

    def rules() -> str:
        return str(client.get("/v1/rules", headers=AUTH).json()["as_of"])

    for ask in (assessment, checklist, dosing_plan, rules):
        _as_of_in(zone, ask)


def test_the_zone_changes_the_default_date(make_client: Callable[..., TestClient]) -> None:
    """UTC+14 and UTC−12 are 26 hours apart: their dates always differ."""
    body = a1()
    del body["as_of"]
    east = assess(make_client(timezone="Pacific/Kiritimati"), body)["as_of"]
    west = assess(make_client(timezone="Etc/GMT+12"), body)["as_of"]
    assert date.fromisoformat(east) > date.fromisoformat(west)


# --- the catalogue -----------------------------------------------------------------------------


@pytest.mark.parametrize(("as_of", "expired"), [("2026-03-01", True), ("2025-06-01", False)])
def test_c1_second_prescriber_expired_not_retired(
    client: TestClient, as_of: str, expired: bool
) -> None:
    r = client.get(f"/v1/rules/{UK_SECOND_PRESCRIBER}?as_of={as_of}", headers=AUTH)
    assert r.status_code == 200, r.text
    rule = r.json()
    assert rule["id"] == UK_SECOND_PRESCRIBER
    assert rule["kind"] == "precaution"
    assert rule["retired"] is False
    assert rule["expired"] is expired
    assert [v["jurisdictions"] for v in rule["variants"]] == [["UK"]]
    assert max(v["effective_to"] for v in rule["variants"]) == "2026-01-21"
    listed = client.get(f"/v1/rules?as_of={as_of}", headers=AUTH).json()
    assert listed["as_of"] == as_of
    same = next(x for x in listed["rules"] if x["id"] == UK_SECOND_PRESCRIBER)
    assert same["expired"] is expired
    assert same["retired"] is False


def test_expired_changes_on_the_day_after_effective_to(client: TestClient) -> None:
    def expired(on: str) -> bool:
        r = client.get(f"/v1/rules/{UK_SECOND_PRESCRIBER}?as_of={on}", headers=AUTH)
        value: bool = r.json()["expired"]
        return value

    assert expired("2026-01-21") is False
    assert expired("2026-01-22") is True


def _rule_ids(client: TestClient, query: str) -> list[str]:
    r = client.get(f"/v1/rules?{query}", headers=AUTH)
    assert r.status_code == 200, r.text
    return [rule["id"] for rule in r.json()["rules"]]


def test_rules_filter_by_kind(client: TestClient) -> None:
    r = client.get("/v1/rules?kind=interaction", headers=AUTH)
    rules = r.json()["rules"]
    assert rules
    assert {rule["kind"] for rule in rules} == {"interaction"}
    assert all(rule["id"].startswith("interaction.") for rule in rules)
    assert "interaction.tetracyclines" in [rule["id"] for rule in rules]
    everything = _rule_ids(client, "")
    assert [i for i in everything if i.startswith("interaction.")] == [rule["id"] for rule in rules]


def test_rules_filter_by_jurisdiction(client: TestClient) -> None:
    uk = client.get("/v1/rules?jurisdiction=UK", headers=AUTH).json()["rules"]
    assert uk
    for rule in uk:
        assert any("UK" in v["jurisdictions"] for v in rule["variants"]), rule["id"]
    uk_ids = [rule["id"] for rule in uk]
    assert UK_SECOND_PRESCRIBER in uk_ids
    assert "documentation.ipledge" not in uk_ids
    us_ids = _rule_ids(client, "jurisdiction=US")
    assert "documentation.ipledge" in us_ids
    assert UK_SECOND_PRESCRIBER not in us_ids


def test_rules_filter_in_force(client: TestClient) -> None:
    in_2025 = _rule_ids(client, "jurisdiction=UK&in_force=true&as_of=2025-06-01")
    in_2026 = _rule_ids(client, "jurisdiction=UK&in_force=true&as_of=2026-03-01")
    assert UK_SECOND_PRESCRIBER in in_2025
    assert UK_SECOND_PRESCRIBER not in in_2026
    # Not in force, but still listed (expired, not retired).
    assert UK_SECOND_PRESCRIBER in _rule_ids(client, "jurisdiction=UK&as_of=2026-03-01")
    assert set(in_2026) <= set(_rule_ids(client, "jurisdiction=UK"))


def test_rules_filters_combine(client: TestClient) -> None:
    ids = _rule_ids(client, "kind=precaution&jurisdiction=UK")
    assert UK_SECOND_PRESCRIBER in ids
    assert all(i.startswith("precaution.") for i in ids)
    assert UK_SECOND_PRESCRIBER not in _rule_ids(client, "kind=precaution&jurisdiction=US")


VERIFICATION_ORDER = {"primary": 0, "secondary": 1, "unverified": 2}


def test_every_rule_shows_its_variants_sources_and_effects(client: TestClient) -> None:
    register = {s["id"]: s for s in client.get("/v1/sources", headers=AUTH).json()["sources"]}
    rules = client.get("/v1/rules", headers=AUTH).json()["rules"]
    for rule in rules:
        rid = rule["id"]
        assert rid.split(".")[0] == rule["kind"], rid
        assert rule["title"], rid
        assert isinstance(rule["version"], int), rid
        assert rule["variants"], rid
        cited: set[str] = set()
        for v in rule["variants"]:
            assert v["label"], rid
            assert set(v["jurisdictions"]) <= {"US", "EU", "UK"}, rid
            assert v["jurisdictions"], rid
            assert v["severity"] in ("critical", "warning", "info"), rid
            assert v["decision_effect"] in ("block", "caution", "none"), rid
            assert isinstance(v["gates_when_unknown"], bool), rid
            assert v["verification"] in VERIFICATION_ORDER, rid
            assert v["basis"], rid
            assert "effective_from" in v, rid
            assert "effective_to" in v, rid
            assert v["sources"], f"{rid} {v['label']} cites no source"
            for s in v["sources"]:
                assert s["id"] in register, (rid, s["id"])
                assert s["citation"] == register[s["id"]]["citation"], (rid, s["id"])
                assert s["url"] == register[s["id"]]["url"], (rid, s["id"])
                assert "section" in s, (rid, s["id"])
                cited.add(s["id"])
        # Top level: the union of the sources, the weakest verification (tiers included: a
        # tier is a severity a variant may take, e.g. the unverified US peanut-only warning).
        assert set(rule["sources"]) == cited, rid
        levels = [v["verification"] for v in rule["variants"]]
        levels += [t["verification"] for v in rule["variants"] for t in v["tiers"]]
        assert rule["verification"] == max(levels, key=VERIFICATION_ORDER.__getitem__), rid


def test_rule_lookup_shows_the_source_urls(client: TestClient) -> None:
    rule = client.get(f"/v1/rules/{UK_SECOND_PRESCRIBER}", headers=AUTH).json()
    sources = [s for v in rule["variants"] for s in v["sources"]]
    mhra = next(s for s in sources if s["id"] == "mhra-2023")
    assert mhra["url"] == REGISTER_URLS["mhra-2023"]
    assert mhra["citation"]


def test_a1_profile_is_the_documented_example() -> None:
    """The bodies above are built from the documented A1 example."""
    assert A1_REQUEST["profile"] is A1_PROFILE
    assert A1_REQUEST["jurisdiction"] == "US"
    assert A1_REQUEST["as_of"] == "2026-03-01"
