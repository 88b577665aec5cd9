"""One service ID per hook (issue 12, part 1).

Clients key the services of discovery by ID (the CDS Hooks sandbox among them): when order-select
and order-sign shared ``isotretinoin-order``, the second entry replaced the first and order-select
never fired. Every hook now has its own ID; the old ID still answers both order hooks (by the
request's ``hook``) for clients configured with it, and takes feedback, but is not discovered.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api.conftest import AUTH
from tests.cds.support import (
    LEGACY_ORDER_SERVICE,
    SELECT_SERVICE,
    SERVICES,
    SIGN_SERVICE,
    VIEW_SERVICE,
    Cds,
    bundle,
    full_prefetch,
    hook_request,
)
from tests.cds.test_cds_protocol import iso_active, iso_draft
from tests.database import fresh_sqlite_url

HOOKS = ("patient-view", "order-select", "order-sign")


@pytest.fixture
def svc(make_cds: Any) -> Cds:
    """A signed US client on a database of its own (the audit is read back)."""
    cds: Cds = make_cds(database_url=fresh_sqlite_url())
    return cds


def exposed(hook: str) -> dict[str, Any]:
    """A request of ``hook`` for a patient with an active isotretinoin order (cards are due)."""
    return hook_request(hook, full_prefetch(medRequests=bundle(iso_active())), draft=[iso_draft()])


def audit_endpoint(svc: Cds, body: dict[str, Any]) -> str:
    r = svc.http.get("/v1/audit", params={"limit": 1000}, headers=AUTH)
    assert r.status_code == 200, r.text
    [record] = [x for x in r.json()["records"] if x["hook_instance"] == body["hookInstance"]]
    endpoint: str = record["endpoint"]
    return endpoint


def test_no_two_discovery_entries_share_an_id(svc: Cds) -> None:
    services = svc.discover().json()["services"]

    ids = Counter(s["id"] for s in services)
    assert [i for i, n in ids.items() if n > 1] == []
    assert {s["hook"]: s["id"] for s in services} == {
        "patient-view": "isotretinoin-patient-view",
        "order-select": "isotretinoin-order-select",
        "order-sign": "isotretinoin-order-sign",
    }
    assert tuple(SERVICES[h] for h in HOOKS) == (VIEW_SERVICE, SELECT_SERVICE, SIGN_SERVICE)


def test_discovery_keyed_by_id_like_the_sandbox_keeps_every_hook(svc: Cds) -> None:
    # What a client that stores services by id ends up with: one entry per hook.
    kept = {s["id"]: s for s in svc.discover().json()["services"]}
    assert sorted(s["hook"] for s in kept.values()) == sorted(HOOKS)


def test_the_old_shared_id_is_not_discovered(svc: Cds) -> None:
    ids = {s["id"] for s in svc.discover().json()["services"]}
    assert LEGACY_ORDER_SERVICE not in ids


@pytest.mark.parametrize("hook", HOOKS)
def test_each_hook_is_reachable_by_its_discovered_id(svc: Cds, hook: str) -> None:
    [entry] = [s for s in svc.discover().json()["services"] if s["hook"] == hook]
    body = exposed(hook)

    cards = svc.cards(entry["id"], body)

    assert any(c["source"].get("topic", {}).get("code") == "checklist" for c in cards)
    assert audit_endpoint(svc, body) == f"/cds-services/{entry['id']} ({hook})"


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("service", [VIEW_SERVICE, SELECT_SERVICE, SIGN_SERVICE])
def test_a_service_answers_its_own_hook_only(svc: Cds, service: str, hook: str) -> None:
    r = svc.call(service, exposed(hook))

    if SERVICES[hook] == service:
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 400, r.text
        assert f"does not answer {hook}" in r.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_the_old_shared_id_still_answers_both_order_hooks(svc: Cds, hook: str) -> None:
    body = exposed(hook)

    legacy = svc.cards(LEGACY_ORDER_SERVICE, body)
    current = svc.cards(SERVICES[hook], {**body, "hookInstance": str(uuid.uuid4())})

    # The same cards as the hook's own service (each with its own uuids).
    assert [c["summary"] for c in legacy] == [c["summary"] for c in current]
    assert audit_endpoint(svc, body) == f"/cds-services/{LEGACY_ORDER_SERVICE} ({hook})"


def test_the_old_shared_id_does_not_answer_patient_view(svc: Cds) -> None:
    r = svc.call(LEGACY_ORDER_SERVICE, exposed("patient-view"))

    assert r.status_code == 400, r.text


@pytest.mark.parametrize(
    "service", [VIEW_SERVICE, SELECT_SERVICE, SIGN_SERVICE, LEGACY_ORDER_SERVICE]
)
def test_every_service_id_takes_feedback(svc: Cds, service: str) -> None:
    item = {
        "card": str(uuid.uuid4()),
        "outcome": "overridden",
        "outcomeTimestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }

    r = svc.feedback(service, {"feedback": [item]})

    assert r.status_code == 200, r.text


@pytest.mark.parametrize("name", ["isotretinoin-order-", "ISOTRETINOIN-ORDER-SIGN", "order-sign"])
def test_unknown_service_ids_are_404(svc: Cds, name: str) -> None:
    r = svc.call(name, exposed("order-sign"))

    assert r.status_code == 404, r.text


def test_the_request_log_names_the_service_and_the_hook(
    svc: Cds, caplog: pytest.LogCaptureFixture
) -> None:
    # An operator reads each hook's status from the log (the route template alone does not say
    # which service was called); an unknown ID is never echoed into the log.
    caplog.set_level(logging.INFO, logger="api.request")
    for hook in HOOKS:
        assert svc.call(SERVICES[hook], exposed(hook)).status_code == 200
    assert svc.call("no-such-service", exposed("order-sign")).status_code == 404
    fields = [vars(r) for r in caplog.records if r.name == "api.request"]
    logged = [(f["service"], f["hook"], f["status"]) for f in fields if f["method"] == "POST"]
    assert logged == [(SERVICES[h], h, 200) for h in HOOKS] + [(None, None, 404)]
