"""CDS Hooks 2.0 services: discovery, the isotretinoin services, and feedback.

* ``isotretinoin-patient-view`` (``patient-view``): for patients with isotretinoin exposure, what is
  due or overdue now and any lab or symptom finding; otherwise ``{"cards": []}``.
* ``isotretinoin-order-select`` (``order-select``) and ``isotretinoin-order-sign``
  (``order-sign``): when a selected or draft order is isotretinoin, or an interacting product for
  a patient with exposure. ``order-sign`` adds the dose per kg, the supply and refills, and the
  pregnancy-test recency of the order.

Every hook has its own service ID: clients (the CDS Hooks sandbox among them) key the services of
discovery by ID, so two hooks sharing one ID would leave one of them never called. The ID both
order hooks shared before, ``isotretinoin-order`` (``LEGACY_ORDER``), still answers ``order-select``
and ``order-sign`` (by the request's ``hook``) and takes feedback, for clients configured with it,
but discovery no longer lists it.

Exposure: an isotretinoin MedicationRequest that is ``active`` or ``on-hold``; an isotretinoin
MedicationRequest, MedicationDispense or MedicationStatement dated within the 90 days before
``as_of``; an active course in the service's database, or one ended within the last 60 days (both
windows ``local-policy``). Every call is audited with the JWT ``iss`` as the caller.

Everything stored is the calling client's tenant's: the courses a call looks up by patient ID,
the cards it issues, the feedback it sends (feedback on a card issued to another tenant is stored
``unmatched``) and its audit record, which names the stored course that drove it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api.audit import audit_row, canonical, input_hmac
from api.cds import cards as card_module
from api.cds.clients import Client
from api.cds.fhir import (
    Problems,
    as_list,
    daily_mg,
    product_of,
    read_record,
    resources,
    strength_of,
    supply,
)
from api.cds.outcome import outcome
from api.cds.prefetch import PREFETCH, is_fhir_id, resolve
from api.cds.reasons import service_reason
from api.cds.security import Caller, Unauthorized, authenticate
from api.database import db_call, transaction
from api.deps import Services, ServicesDep
from api.history import history_of
from api.logging import request_id_var
from db.repositories import CourseRepository, FeedbackRepository
from db.tables import CdsFeedback, Course
from domain.catalog import build_catalog
from domain.context import epoch_for
from domain.course import CourseHistory, history_facts
from domain.engine import evaluate
from domain.errors import InputError
from domain.products import PRODUCTS
from domain.vocab import Status, VisitType

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/cds-services", tags=["cds-hooks"], include_in_schema=False)

PATIENT_VIEW = "isotretinoin-patient-view"
ORDER_SELECT = "isotretinoin-order-select"
ORDER_SIGN = "isotretinoin-order-sign"
HOOKS = {PATIENT_VIEW: "patient-view", ORDER_SELECT: "order-select", ORDER_SIGN: "order-sign"}
"""The services of discovery: one hook per service ID, every ID once."""
LEGACY_ORDER = "isotretinoin-order"
"""The ID both order hooks shared before each hook had its own: still answered, never listed."""
ANSWERS: dict[str, tuple[str, ...]] = {
    **{service_id: (hook,) for service_id, hook in HOOKS.items()},
    LEGACY_ORDER: ("order-select", "order-sign"),
}
"""The hooks each service ID answers (the legacy ID: both order hooks, by the request's hook)."""
USAGE = (
    "The EHR grants read access to Patient, MedicationRequest, MedicationDispense, "
    "MedicationStatement, Condition, AllergyIntolerance and Observation for the patient (or sends "
    "the prefetch). The jurisdiction of every evaluation is the one configured for the calling "
    "client. Pregnancy potential is read from an Observation coded urn:isocds:codesystem "
    "pregnancy-potential (or the client's configured coding), never from sex or gender."
)
DESCRIPTIONS = {
    "patient-view": "For a patient taking isotretinoin: what is due or overdue now (pregnancy test, "
    "prescription window, labs, mood screen) and any lab or symptom finding, with cited sources.",
    "order-select": "When isotretinoin, or a product that interacts with it, is selected: "
    "contraindications, interactions, missing pregnancy-prevention steps and the indication.",
    "order-sign": "Before an isotretinoin order (or an interacting one) is signed: the full check, "
    "including the dose per kg against the maximum, the supply and refills, and pregnancy-test "
    "recency against the prescription window.",
}


def discovery_document() -> dict[str, Any]:
    """The discovery response (the same templates for every client)."""
    services = [
        {
            "hook": hook,
            "id": service_id,
            "title": f"Isotretinoin ({hook})",
            "description": DESCRIPTIONS[hook],
            "prefetch": dict(PREFETCH),
            "usageRequirements": USAGE,
        }
        for service_id, hook in HOOKS.items()
    ]
    return {"services": services}


class CdsError(Exception):
    """A CDS Hooks error answered with an OperationOutcome."""

    def __init__(self, status: int, diagnostics: str, expression: str | None = None) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.expression = expression


def install(app: Any) -> None:
    """Answer CDS errors and authentication failures with OperationOutcome bodies."""

    async def on_cds_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CdsError)  # noqa: S101  # registered for CdsError only
        return JSONResponse(
            outcome(exc.status, exc.diagnostics, expression=exc.expression), status_code=exc.status
        )

    async def on_unauthorized(_: Request, exc: Exception) -> JSONResponse:
        logger.info("cds call refused", extra={"reason": str(exc)})
        return JSONResponse(outcome(401), status_code=401, headers={"WWW-Authenticate": "Bearer"})

    app.add_exception_handler(CdsError, on_cds_error)
    app.add_exception_handler(Unauthorized, on_unauthorized)


def _clients(request: Request) -> dict[str, Client]:
    clients: dict[str, Client] = request.app.state.cds_clients
    return clients


@router.get("")
async def discovery(request: Request, services: ServicesDep) -> JSONResponse:
    """``GET /cds-services``."""
    await authenticate(services, request, _clients(request))
    return JSONResponse(discovery_document())


# Far deeper than any FHIR resource or CDS Hooks request nests; deeper bodies are refused before
# anything walks them recursively (encoding them for the audit, validating them).
MAX_DEPTH = 64


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects and arrays more than ``limit`` levels (no recursion)."""
    level: list[Any] = [value]
    for _ in range(limit):
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, RecursionError):
        raise CdsError(400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise CdsError(400, "the body must be a JSON object")
    if _depth_exceeds(body, MAX_DEPTH):
        raise CdsError(400, f"the body nests deeper than {MAX_DEPTH} levels")
    try:
        # Escaped lone surrogates ("\\ud800") parse, but are not text: refuse them here.
        json.dumps(body, ensure_ascii=False).encode()
    except (UnicodeEncodeError, RecursionError):
        raise CdsError(400, "the body holds text that is not valid Unicode") from None
    return body


def _check_request(service_id: str, body: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    hook, instance, context = body.get("hook"), body.get("hookInstance"), body.get("context")
    if not isinstance(hook, str) or not hook:
        raise CdsError(400, "hook is required", "hook")
    if hook not in ANSWERS[service_id]:
        raise CdsError(400, f"the service {service_id} does not answer {hook}", "hook")
    if not isinstance(instance, str) or not instance or len(instance) > 200:
        raise CdsError(400, "hookInstance is required", "hookInstance")
    if not isinstance(context, dict):
        raise CdsError(400, "context is required", "context")
    patient = context.get("patientId")
    if not isinstance(patient, str) or not patient or len(patient) > 200:
        raise CdsError(400, "context.patientId is required", "context.patientId")
    if not is_fhir_id(patient):
        # It is put into FHIR URLs: a FHIR id only ("p1/../x" or "p1&_count=1" never reach one).
        raise CdsError(
            400,
            "context.patientId must be a FHIR id: 1 to 64 letters, digits, '-' or '.'",
            "context.patientId",
        )
    if hook in ("order-select", "order-sign") and not isinstance(context.get("draftOrders"), dict):
        raise CdsError(400, "context.draftOrders is required at order hooks", "context.draftOrders")
    return hook, patient, context


def _course_for(
    services: Services, tenant: str, patient_id: str, as_of: date
) -> tuple[Course, CourseHistory] | None:
    """The patient's active course in ``tenant``, or one ended within the exposure window (local
    policy). Another tenant's patient of the same ID is another patient."""
    days = services.evaluation.local_policy.course_ended_lookback_days
    with transaction(services, write=False) as session:
        repo = CourseRepository(session)
        courses = repo.by_patient(tenant, patient_id)
        live = [c for c in courses if c.status == "active"]
        recent = [
            c
            for c in courses
            if c.status in ("completed", "stopped")
            and c.end_date
            and as_of - c.end_date <= timedelta(days=days)
        ]
        chosen = (live or sorted(recent, key=lambda c: c.end_date or date.min))[-1:] or None
        if not chosen:
            return None
        course = chosen[0]
        return course, history_of(course, repo.events(tenant, course.id))


@router.post("/{service_id}")
async def call_service(service_id: str, request: Request, services: ServicesDep) -> Response:
    """``POST /cds-services/{id}``: the cards."""
    if service_id not in ANSWERS:
        raise CdsError(404, f"no CDS service {service_id}")
    request.state.cds_service = service_id  # a known ID: the request log names it
    caller = await authenticate(services, request, _clients(request))
    body = await _body(request)
    hook, patient_id, context = _check_request(service_id, body)
    request.state.cds_hook = hook  # one of the hooks this service answers
    client = caller.client
    as_of = services.today()
    values, problems = await resolve(
        body, client, patient_id, services.settings.fhir_timeout_s, services.settings.fhir_max_bytes
    )
    patients = resources(values.get("patient"), "patient", problems)
    if not patients or patients[0].get("resourceType") != "Patient":
        raise CdsError(
            412,
            "the Patient could not be obtained or read: send the 'patient' prefetch or FHIR access",
            "patient",
        )
    values["patient"] = patients[0]
    sent_id = patients[0].get("id")
    if isinstance(sent_id, str) and sent_id != patient_id:
        raise CdsError(
            400, "the Patient sent or fetched is not context.patientId", "prefetch.patient"
        )
    policy = services.evaluation.local_policy
    found = await db_call(services, _course_for, services, client.tenant, patient_id, as_of)
    course_id = found[0].id if found is not None else None
    selections = [s for s in as_list(context.get("selections")) if isinstance(s, str)]
    draft = context.get("draftOrders") if hook != "patient-view" else None
    record = read_record(
        values,
        problems,
        client=client,
        policy=policy,
        as_of=as_of,
        draft_orders=draft,
        selections=selections,
        exposure_days=policy.exposure_lookback_days,
    )
    exposure = list(record.exposure)
    if found is not None:
        exposure.append(f"course {found[0].id} ({found[0].status})")
    if hook == "patient-view":
        fires = bool(exposure)
    else:
        fires = any(o.isotretinoin for o in record.orders) or (
            bool(exposure) and any(o.interacting for o in record.orders)
        )
    if not fires and not exposure and _exposure_unseen(problems):
        needs_exposure = hook == "patient-view" or any(o.interacting for o in record.orders)
        if needs_exposure:
            card = card_module.exposure_unknown_card(problems)
            row = _card_row(card, service_id, hook, body["hookInstance"], client)
            await _audit_only(services, caller, service_id, hook, body, as_of, [row])
            return JSONResponse({"cards": [card]})
    if not fires:
        await _audit_only(services, caller, service_id, hook, body, as_of, course_id=course_id)
        return JSONResponse({"cards": []})
    facts = record.facts
    order = record.isotretinoin_order
    plan = facts.plan
    if order is not None:
        plan = replace(plan, product=product_of(order.medication, client.jurisdiction))
        if hook == "order-sign":
            days, refills = supply(order.raw, problems)
            plan = replace(
                plan,
                planned_mg_per_day=daily_mg(order.raw, strength_of(order.medication)),
                planned_days_supply=days,
                planned_refills=refills,
            )
    start = (
        found[1].start_date
        if found is not None and found[1].start_date
        else record.facts.treatment_start_date
    )
    facts = replace(
        facts,
        plan=plan,
        treatment_start_date=start if start and start <= as_of else None,
        visit_type=VisitType.FOLLOW_UP if start and start <= as_of else VisitType.BASELINE,
    )
    if found is not None:
        facts = history_facts(found[1], as_of, facts)
    product = facts.plan.product
    if product is not None and client.jurisdiction not in PRODUCTS[product].markets:
        # A course recorded for another market (its product is not sold here): the product is
        # unknown for this client and the clinician is told; the other rules still run.
        problems.unreadable.append(
            f"the product {product.value} is not marketed in {client.jurisdiction.value}: "
            "product unknown"
        )
        facts = replace(facts, plan=replace(facts.plan, product=None))
    settings, catalog = services.evaluation, services.catalog
    if client.lab_profile is not None:
        settings = replace(settings, lab_profile_us=client.lab_profile)
        catalog = build_catalog(settings)
    try:
        ev = evaluate(facts, as_of, client.jurisdiction, settings, catalog=catalog)
    except InputError as exc:
        # The reader turns what it cannot read into "unknown"; a value that still fails the
        # domain's checks is refused with the fields named, never answered as a guess.
        issues = "; ".join(f"{i.path}: {i.reason}" for i in exc.issues)
        raise CdsError(
            422, f"the record holds values the rules cannot evaluate ({issues})"
        ) from None
    if record.treatment_start_approximate and found is None:
        problems.unreadable.append(
            "treatment start approximated from an isotretinoin order's authoredOn (no dispense or statement)"
        )
    cards = card_module.cards_for(ev, hook, patient_id, problems, record, course=found is not None)
    rows = [_card_row(card, service_id, hook, body["hookInstance"], client) for card in cards]
    row = audit_row(
        ev,
        key=services.hmac_key,
        caller=client.iss,
        tenant=client.tenant,
        endpoint=f"/cds-services/{service_id} ({hook})",
        payload=_payload(service_id, hook, body, as_of),
        course_id=course_id,
        hook_instance=body["hookInstance"],
    )
    await services.audit.record(row, rows)
    request.state.rules_fired = [x.rule_id for x in ev.findings if x.status is Status.APPLIES]
    return JSONResponse({"cards": cards})


def _exposure_unseen(problems: Problems) -> bool:
    """No medication data at all could be had (exposure cannot be known from the record)."""
    return all(key in problems.unavailable for key in card_module.EXPOSURE_KEYS)


def _card_row(
    card: dict[str, Any], service_id: str, hook: str, instance: str, client: Client
) -> dict[str, Any]:
    """The ``cds_card`` row of an issued card: its rules, so that feedback joins to them, and
    the tenant it was issued to (whose feedback alone is matched to it); ``suggestions`` maps each
    suggestion's uuid to the rule IDs behind it (``cds_card_suggestion`` rows).

    The rule IDs are taken off the card's suggestions here: they are stored, never sent."""
    suggestions: dict[str, list[str]] = {}
    for suggestion in card.get("suggestions", []):
        rule_ids = suggestion.pop(card_module.SUGGESTION_RULES, [])
        suggestions[suggestion["uuid"]] = [str(r) for r in rule_ids]
    return {
        "uuid": card["uuid"],
        "tenant": client.tenant,
        "service_id": service_id,
        "hook": hook,
        "hook_instance": instance,
        "caller": client.iss,
        "rules": card.get("extension", {}).get("org.isocds.rules", {}).get("rules", []),
        "issued_at": datetime.now(UTC),
        "suggestions": suggestions,
    }


def _payload(service_id: str, hook: str, body: dict[str, Any], as_of: date) -> bytes:
    """The canonical input of a call (its HMAC is audited)."""
    return canonical(f"/cds-services/{service_id}", body, as_of=as_of.isoformat(), hook=hook)


def _audit_row(
    services: Services,
    caller: Caller,
    service_id: str,
    hook: str,
    body: dict[str, Any],
    as_of: date,
    course_id: str | None = None,
) -> dict[str, Any]:
    """The audit record of a call answered without an evaluation (no decision, no findings)."""
    payload = _payload(service_id, hook, body, as_of)
    catalog = services.catalog
    client = caller.client
    return {
        "recorded_at": datetime.now(UTC),
        "request_id": request_id_var.get() or "",
        "caller": client.iss,
        "endpoint": f"/cds-services/{service_id} ({hook})",
        "course_id": course_id,
        "hook_instance": body["hookInstance"],
        "tenant": client.tenant,
        "as_of": as_of,
        "jurisdiction": client.jurisdiction.value,
        "epoch": epoch_for(client.jurisdiction, as_of, services.evaluation),
        "ruleset_version": catalog.version,
        "catalogue_hash": catalog.hash,
        "decision": None,
        "findings": [],
        "input_hmac": input_hmac(services.hmac_key, payload),
    }


async def _audit_only(
    services: Services,
    caller: Caller,
    service_id: str,
    hook: str,
    body: dict[str, Any],
    as_of: date,
    cards: list[dict[str, Any]] | None = None,
    *,
    course_id: str | None = None,
) -> None:
    """Audit a call answered without an evaluation (and store the cards it issues)."""
    row = _audit_row(services, caller, service_id, hook, body, as_of, course_id)
    await services.audit.record(row, cards)


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise CdsError(400, "outcomeTimestamp is required")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise CdsError(400, "outcomeTimestamp must be an RFC 3339 time") from None


def _feedback_rows(service_id: str, client: Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("feedback")
    if not isinstance(items, list) or not items:
        raise CdsError(400, "feedback must be a non-empty array", "feedback")
    rows = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise CdsError(400, f"feedback[{i}] must be an object")
        card, result = item.get("card"), item.get("outcome")
        if not isinstance(card, str) or not card or len(card) > 200:
            raise CdsError(400, f"feedback[{i}].card is required", f"feedback[{i}].card")
        if result not in ("accepted", "overridden"):
            raise CdsError(
                400,
                f"feedback[{i}].outcome must be accepted or overridden",
                f"feedback[{i}].outcome",
            )
        accepted = [
            str(s.get("id"))
            for s in as_list(item.get("acceptedSuggestions"))
            if isinstance(s, dict) and s.get("id")
        ]
        reason = item.get("overrideReason")
        reason_row: dict[str, Any] | None = None
        if isinstance(reason, dict):
            coding = reason.get("reason") if isinstance(reason.get("reason"), dict) else None
            code = coding.get("code") if coding else None
            system = coding.get("system") if coding else None
            display = coding.get("display") if coding else None
            if not display:
                # Clients (the CDS Hooks sandbox) send a reason without its display: the
                # service's own list names the reasons it offered.
                offered = service_reason(system, code)
                display = offered["display"] if offered else None
            reason_row = {
                "code": code,
                "system": system,
                "display": display,
                "userComment": reason.get("userComment")
                if isinstance(reason.get("userComment"), str)
                else None,
            }
        rows.append(
            {
                "card_uuid": card,
                "tenant": client.tenant,
                "service_id": service_id,
                "caller": client.iss,
                "outcome": result,
                "accepted_suggestions": accepted,
                "override_reason": reason_row,
                "outcome_timestamp": _timestamp(item.get("outcomeTimestamp")),
            }
        )
    return rows


def _store_feedback(services: Services, rows: list[dict[str, Any]]) -> None:
    """Store feedback, ``matched`` only to a card issued to the sender's own tenant: feedback on
    another tenant's card (or an unknown one) is kept ``unmatched``, answered the same 200."""
    now = datetime.now(UTC)
    with transaction(services) as session:
        repo = FeedbackRepository(session)
        for r in rows:
            matched = repo.card(r["tenant"], r["card_uuid"]) is not None
            session.add(CdsFeedback(**r, matched=matched, received_at=now))


@router.post("/{service_id}/feedback")
async def feedback(service_id: str, request: Request, services: ServicesDep) -> Response:
    """``POST /cds-services/{id}/feedback``: stored, joined to the card's rules when known."""
    if service_id not in ANSWERS:
        raise CdsError(404, f"no CDS service {service_id}")
    caller = await authenticate(services, request, _clients(request))
    rows = _feedback_rows(service_id, caller.client, await _body(request))
    await db_call(services, _store_feedback, services, rows)
    return Response(status_code=200)
