"""CDS Hooks test support: real signing keys and JWTs, a clients file, FHIR R4 builders, and the
``cds-resp-*`` invariants, checked on every response the helpers receive.

Dates in the vignettes are relative to their ``as_of``; the hooks evaluate "today", so
:func:`shift` moves a vignette date by the same distance (intervals are kept).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from fhir.resources.R4B.servicerequest import ServiceRequest
from httpx2 import Response

from api.cds.fhir import INTERPRETATION
from domain.codes import ISOCDS, LOINC, RXNORM, SNOMED

BASE = "http://testserver"
"""The public base URL of the test apps (``ISOCDS_PUBLIC_BASE_URL``): every JWT ``aud`` starts so."""
ISS_US = "https://ehr-us.example.org"
ISS_EU = "https://ehr-eu.example.org"
PATIENT_ID = "pat-1"
VIEW_SERVICE = "isotretinoin-patient-view"
SELECT_SERVICE = "isotretinoin-order-select"
SIGN_SERVICE = "isotretinoin-order-sign"
SERVICES = {
    "patient-view": VIEW_SERVICE,
    "order-select": SELECT_SERVICE,
    "order-sign": SIGN_SERVICE,
}
"""The service ID of each hook (one hook per ID)."""
LEGACY_ORDER_SERVICE = "isotretinoin-order"
"""The ID both order hooks shared before: still answered, no longer in discovery."""
FORBIDDEN_WORDS = ("safe", "cleared", "ok to prescribe")


@dataclass(frozen=True)
class SigningKey:
    """A private key with its public JWK."""

    kid: str
    alg: str
    private: Any
    public_jwk: dict[str, Any]


def _jwk(public: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.get_algorithm_by_name(alg)
    data: dict[str, Any] = json.loads(algorithm.to_jwk(public))
    data.update(kid=kid, use="sig", alg=alg)
    return data


def es384_key(kid: str = "es-1") -> SigningKey:
    """A new EC P-384 key (ES384)."""
    private = ec.generate_private_key(ec.SECP384R1())
    return SigningKey(kid, "ES384", private, _jwk(private.public_key(), kid, "ES384"))


def rs384_key(kid: str = "rs-1") -> SigningKey:
    """A new 2048-bit RSA key (RS384)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(kid, "RS384", private, _jwk(private.public_key(), kid, "RS384"))


def token(
    key: SigningKey,
    aud: str | list[str],
    *,
    iss: str = ISS_US,
    exp_in: float = 300,
    iat_offset: float = 0,
    jti: str | None = None,
    headers: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    """A signed CDS Hooks JWT (``drop`` removes claims, to test that they are required)."""
    now = time.time()
    payload: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "exp": int(now + exp_in),
        "iat": now + iat_offset,
        "jti": jti or str(uuid.uuid4()),
    }
    payload.update(claims or {})
    for name in drop:
        payload.pop(name, None)
    head = {"kid": key.kid, "typ": "JWT", **(headers or {})}
    return jwt.encode(payload, key.private, algorithm=key.alg, headers=head)


def client_config(
    iss: str = ISS_US, jurisdiction: str = "US", keys: tuple[SigningKey, ...] = (), **extra: Any
) -> dict[str, Any]:
    """One entry of the clients file (inline JWK Set unless ``jku`` is given)."""
    entry: dict[str, Any] = {"iss": iss, "jurisdiction": jurisdiction}
    if "jku" not in extra:
        entry["jwks"] = {"keys": [k.public_jwk for k in keys]}
    entry.update(extra)
    return entry


def write_clients(folder: Path, clients: list[dict[str, Any]]) -> Path:
    """Write a clients file and return its path."""
    path = folder / f"clients-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(clients), encoding="utf-8")
    return path


# --- dates -----------------------------------------------------------------------------------

VIGNETTE_AS_OF = date(2026, 3, 1)


def today() -> date:
    """Today in UTC (the test apps run with ``ISOCDS_TIMEZONE=UTC``)."""
    return datetime.now(UTC).date()


def shift(day: str, as_of: date = VIGNETTE_AS_OF) -> str:
    """A vignette date moved so that its ``as_of`` becomes today."""
    return (date.fromisoformat(day) + (today() - as_of)).isoformat()


def days_ago(n: int) -> str:
    """The date ``n`` days before today."""
    return (today() - timedelta(days=n)).isoformat()


# --- FHIR R4 builders ------------------------------------------------------------------------


def bundle(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    """A searchset Bundle."""
    out: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }
    if not resources:
        del out["entry"]
    if next_url:
        out["link"] = [{"relation": "next", "url": next_url}]
    return out


def patient(birth: str = "2006-06-01", pid: str = PATIENT_ID) -> dict[str, Any]:
    """A Patient."""
    return {"resourceType": "Patient", "id": pid, "birthDate": birth}


def age_birth(years: int) -> str:
    """A birth date making the patient ``years`` old today (birthday 100 days ago)."""
    t = today() - timedelta(days=100)
    return t.replace(year=t.year - years).isoformat()


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def observation(
    system: str,
    code: str,
    day: str,
    *,
    oid: str | None = None,
    status: str = "final",
    **value: Any,
) -> dict[str, Any]:
    """An Observation with any ``value[x]`` and extra elements given as keywords."""
    return {
        "resourceType": "Observation",
        "id": oid or f"obs-{uuid.uuid4().hex[:8]}",
        "status": status,
        "code": {"coding": [_coding(system, code)]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": day,
        **value,
    }


def pregnancy_potential(category: str, day: str) -> dict[str, Any]:
    """The RULES §14 pregnancy-potential Observation."""
    return observation(
        ISOCDS,
        "pregnancy-potential",
        day,
        valueCodeableConcept={"coding": [_coding(ISOCDS, category)]},
    )


def home_testing(permitted: bool, day: str) -> dict[str, Any]:
    """The RULES §14 home-testing-permitted Observation."""
    return observation(ISOCDS, "home-testing-permitted", day, valueBoolean=permitted)


def hcg(
    day: str, positive: bool = False, *, loinc: str = "2118-8", lab: bool = True, **kw: Any
) -> dict[str, Any]:
    """A qualitative hCG test read through ``interpretation`` (laboratory unless ``lab=False``)."""
    extra: dict[str, Any] = {
        "interpretation": [{"coding": [_coding(INTERPRETATION, "POS" if positive else "NEG")]}],
    }
    if lab:
        extra["category"] = [
            {
                "coding": [
                    _coding(
                        "http://terminology.hl7.org/CodeSystem/observation-category", "laboratory"
                    )
                ]
            }
        ]
    extra.update(kw)
    return observation(LOINC, loinc, day, **extra)


def quantity(
    loinc: str, value: float, unit: str, day: str, *, high: float | None = None
) -> dict[str, Any]:
    """A lab, weight or score Observation with a UCUM ``valueQuantity``."""
    extra: dict[str, Any] = {
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        }
    }
    if high is not None:
        extra["referenceRange"] = [
            {
                "high": {
                    "value": high,
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit,
                }
            }
        ]
    return observation(LOINC, loinc, day, **extra)


def weight(kg: float, day: str) -> dict[str, Any]:
    """A body weight in kg."""
    return quantity("29463-7", kg, "kg", day)


def phq9(total: int, day: str) -> dict[str, Any]:
    """A PHQ-9 total score."""
    return observation(LOINC, "44261-6", day, valueInteger=total)


def condition(
    system: str, code: str, display: str | None = None, clinical: str = "active"
) -> dict[str, Any]:
    """A Condition."""
    return {
        "resourceType": "Condition",
        "id": f"cond-{uuid.uuid4().hex[:8]}",
        "clinicalStatus": {
            "coding": [
                _coding("http://terminology.hl7.org/CodeSystem/condition-clinical", clinical)
            ]
        },
        "code": {"coding": [_coding(system, code, display)], "text": display},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }


def allergy(display: str, system: str = SNOMED, code: str = "0") -> dict[str, Any]:
    """An active AllergyIntolerance named ``display``."""
    return {
        "resourceType": "AllergyIntolerance",
        "id": f"alg-{uuid.uuid4().hex[:8]}",
        "clinicalStatus": {
            "coding": [
                _coding(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active"
                )
            ]
        },
        "code": {"coding": [_coding(system, code, display)], "text": display},
        "patient": {"reference": f"Patient/{PATIENT_ID}"},
    }


def medication_request(
    rxnorm: str | None,
    display: str,
    *,
    rid: str | None = None,
    status: str = "active",
    authored: str | None = None,
    mg_per_dose: float | None = None,
    per_day: int = 1,
    days_supply: int | None = None,
    refills: int | None = None,
    intent: str = "order",
) -> dict[str, Any]:
    """A MedicationRequest (a draft order with ``status="draft"``)."""
    concept: dict[str, Any] = {"text": display}
    if rxnorm:
        concept["coding"] = [_coding(RXNORM, rxnorm, display)]
    out: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": rid or f"mr-{uuid.uuid4().hex[:8]}",
        "status": status,
        "intent": intent,
        "medicationCodeableConcept": concept,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    if authored:
        out["authoredOn"] = authored
    if mg_per_dose is not None:
        out["dosageInstruction"] = [
            {
                "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
                "route": {"text": "oral"},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": mg_per_dose,
                            "unit": "mg",
                            "system": "http://unitsofmeasure.org",
                            "code": "mg",
                        }
                    }
                ],
            }
        ]
    if days_supply is not None or refills is not None:
        request: dict[str, Any] = {}
        if days_supply is not None:
            request["expectedSupplyDuration"] = {
                "value": days_supply,
                "unit": "days",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            }
        if refills is not None:
            request["numberOfRepeatsAllowed"] = refills
        out["dispenseRequest"] = request
    return out


def dispense(rxnorm: str, display: str, day: str) -> dict[str, Any]:
    """A completed MedicationDispense handed over on ``day``."""
    return {
        "resourceType": "MedicationDispense",
        "id": f"md-{uuid.uuid4().hex[:8]}",
        "status": "completed",
        "medicationCodeableConcept": {
            "coding": [_coding(RXNORM, rxnorm, display)],
            "text": display,
        },
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "whenHandedOver": day,
    }


ISOTRETINOIN_40 = ("197845", "isotretinoin 40 MG Oral Capsule")
ISOTRETINOIN_20 = ("197844", "isotretinoin 20 MG Oral Capsule")
DOXYCYCLINE = ("3640", "doxycycline")


def full_prefetch(**overrides: Any) -> dict[str, Any]:
    """Every prefetch key, empty except the Patient; ``overrides`` replace keys (``None`` drops)."""
    values: dict[str, Any] = {
        "patient": patient(age_birth(19)),
        "medRequests": bundle(),
        "medDispenses": bundle(),
        "medStatements": bundle(),
        "conditions": bundle(),
        "allergies": bundle(),
        "pregnancyPotential": bundle(),
        "homeTesting": bundle(),
        "pregnancyStatus": bundle(),
        "pregnancyTests": bundle(),
        "lipids": bundle(),
        "liver": bundle(),
        "weight": bundle(),
        "mood": bundle(),
    }
    for key, value in overrides.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return values


def hook_request(
    hook: str,
    prefetch: dict[str, Any] | None,
    *,
    draft: list[dict[str, Any]] | None = None,
    selections: list[str] | None = None,
    patient_id: str = PATIENT_ID,
    **extra: Any,
) -> dict[str, Any]:
    """A CDS Hooks request body."""
    context: dict[str, Any] = {"userId": "Practitioner/doc-1", "patientId": patient_id}
    if hook != "patient-view":
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in draft or []],
        }
        if hook == "order-select":
            context["selections"] = selections or [
                f"MedicationRequest/{r['id']}" for r in draft or []
            ]
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if prefetch is not None:
        body["prefetch"] = prefetch
    body.update(extra)
    return body


# --- calling the service, with the invariants checked on every answer -------------------------


@dataclass
class Cds:
    """A test client for the CDS Hooks endpoints that signs each call with a fresh JWT."""

    http: TestClient
    key: SigningKey | None
    iss: str = ISS_US
    seen: list[dict[str, Any]] = field(default_factory=list)

    def headers(self, path: str, **kw: Any) -> dict[str, str]:
        """``Authorization`` for a call to ``path`` (none without a key)."""
        if self.key is None:
            return {}
        return {"Authorization": f"Bearer {token(self.key, BASE + path, iss=self.iss, **kw)}"}

    def discover(self) -> Response:
        """``GET /cds-services``."""
        return self.http.get("/cds-services", headers=self.headers("/cds-services"))

    def call(self, service: str, body: dict[str, Any], **kw: Any) -> Response:
        """``POST /cds-services/{service}``; a 200's cards are checked against the invariants."""
        path = f"/cds-services/{service}"
        response = self.http.post(path, json=body, headers=self.headers(path, **kw))
        if response.status_code == 200:
            check_response(response.json())
            self.seen.extend(response.json()["cards"])
        else:
            check_outcome(response)
        return response

    def cards(self, service: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The cards of a call that must succeed."""
        response = self.call(service, body)
        assert response.status_code == 200, response.text
        cards: list[dict[str, Any]] = response.json()["cards"]
        return cards

    def feedback(self, service: str, body: dict[str, Any]) -> Response:
        """``POST /cds-services/{service}/feedback``."""
        path = f"/cds-services/{service}/feedback"
        return self.http.post(path, json=body, headers=self.headers(path))


def check_outcome(response: Response) -> None:
    """A non-2xx answer carries an OperationOutcome (a 401's: ``login``, no diagnostics)."""
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    issue = body["issue"][0]
    assert issue["severity"] in ("error", "fatal")
    if response.status_code == 401:
        assert issue["code"] == "login"
        assert "diagnostics" not in issue


def _no_empty(value: Any, where: str) -> None:
    if isinstance(value, dict):
        assert value, f"{where} is an empty object"
        for k, v in value.items():
            assert v is not None, f"{where}.{k} is null"
            assert v != "", f"{where}.{k} is empty"
            _no_empty(v, f"{where}.{k}")
    elif isinstance(value, list):
        assert value, f"{where} is an empty array"
        for i, v in enumerate(value):
            _no_empty(v, f"{where}[{i}]")


def check_card(card: dict[str, Any]) -> None:
    """Every ``cds-resp-*`` invariant and our own card rules."""
    _no_empty(card, "card")
    assert isinstance(card["uuid"], str)
    uuid.UUID(card["uuid"])
    check_card_text(card)
    assert card["indicator"] in ("info", "warning", "critical")
    assert isinstance(card["source"]["label"], str)
    assert card["source"]["label"]
    topic = card["source"].get("topic")
    if topic is not None:
        assert topic["system"]
        assert topic["code"]
    text = (card["summary"] + " " + card.get("detail", "")).lower()
    for word in FORBIDDEN_WORDS:
        assert f" {word} " not in f" {text} ".replace(".", " ").replace(",", " "), (
            word,
            card["summary"],
        )
    suggestions = card.get("suggestions")
    if suggestions:
        # cds-resp-6: selectionBehavior whenever suggestions exist; a known value.
        assert card.get("selectionBehavior") in ("at-most-one", "any")
        if card["selectionBehavior"] == "at-most-one":
            # cds-resp-1
            assert sum(1 for s in suggestions if s.get("isRecommended")) <= 1
        for s in suggestions:
            assert s["label"]
            uuid.UUID(s["uuid"])
            for action in s.get("actions", []):
                assert action["type"] in ("create", "update", "delete")
                assert action["description"]  # cds-resp-5
                if action["type"] == "delete":
                    assert "resourceId" in action  # cds-resp-2
                if action["type"] in ("create", "update"):
                    resource = action["resource"]
                    if resource["resourceType"] == "ServiceRequest":
                        ServiceRequest.model_validate(resource)
                        assert resource["status"] == "draft"
                        assert resource["intent"] == "order"
    else:
        assert "selectionBehavior" not in card
    for reason in card.get("overrideReasons", []):
        # cds-resp-4
        assert reason["code"]
        assert reason["system"]
        assert reason["display"]
    for link in card.get("links", []):
        assert link["label"]
        assert link["url"]
        assert link["type"] in ("absolute", "smart")
        if "appContext" in link:
            assert link["type"] == "smart"  # cds-resp-3
    ext = card.get("extension", {}).get("org.isocds.rules")
    if ext is not None:
        assert ext["rulesetVersion"]
        assert ext["catalogueHash"]
        for rule in ext.get("rules", []):
            assert set(rule) == {"ruleId", "ruleVersion", "status", "variant"}


# What a card's detail never shows a clinician: the domain's field paths, FHIR element names,
# rule versions, variants and provenance remarks (they are in the extension), or live markup.
FIELD_PATHS = re.compile(
    r"\b[a-z_]+\[[\w.-]*\]"  # medications[0], conditions[2], labs[2571-8]
    r"|\b[a-z]+_[a-z0-9_]+\b"  # mood_screens, item_9, pregnancy_potential
    r"|\b(?:attestations|plan|acne|facts|rems|previous_courses|previous_therapies)\.[a-z]"
    r"|\b(?:authoredOn|effectiveDateTime|effectivePeriod|whenHandedOver|valueQuantity"
    r"|medicationCodeableConcept|medicationReference|dispenseRequest|dosageInstruction)\b"
)
PROVENANCE = re.compile(
    r"` v\d+|\bvariant\b|\bverification:|\bbasis:|local[ -]policy|\bGating\b",
    flags=re.IGNORECASE,
)
LIVE_MARKUP = re.compile(r"<(?!https?://)[A-Za-z/!?]|(?<!\\)\]\(|\bjavascript:", re.IGNORECASE)


def check_card_text(card: dict[str, Any]) -> None:
    """The summary is a whole written sentence of fewer than 140 characters (never a longer text
    cut short); the detail has no field paths, provenance lines or live markup."""
    summary = card["summary"]
    assert 0 < len(summary) < 140, summary
    assert "…" not in summary, summary
    assert "..." not in summary, summary
    assert summary == summary.strip(), summary
    assert summary.endswith((".", "!", "?")), summary
    assert "\n" not in summary, summary
    assert "isotretinoin" in summary.lower(), summary  # every card names the drug it is about
    detail = card.get("detail", "")
    for pattern in (FIELD_PATHS, PROVENANCE, LIVE_MARKUP):
        found = pattern.search(detail)
        assert found is None, (found.group(0), summary, detail)


def check_response(body: dict[str, Any]) -> None:
    """A service response: ``{"cards": [...]}`` (``[]`` allowed), every card valid."""
    assert set(body) <= {"cards", "systemActions"}
    assert isinstance(body["cards"], list)
    for card in body["cards"]:
        check_card(card)


def rule_ids(card: dict[str, Any]) -> list[str]:
    """The rule IDs a card carries."""
    return [
        r["ruleId"] for r in card.get("extension", {}).get("org.isocds.rules", {}).get("rules", [])
    ]


def card_for(cards: list[dict[str, Any]], rule_id: str) -> dict[str, Any] | None:
    """The single-rule card of ``rule_id``."""
    return next((c for c in cards if c["source"].get("topic", {}).get("code") == rule_id), None)


def _service_card(cards: list[dict[str, Any]], code: str) -> dict[str, Any] | None:
    return next((c for c in cards if c["source"].get("topic", {}).get("code") == code), None)


def information_card(cards: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The "Information needed" card (its ``source.topic`` is ``information-needed``)."""
    return _service_card(cards, "information-needed")


def checklist_card(cards: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The "Checklist" card (its ``source.topic`` is ``checklist``)."""
    return _service_card(cards, "checklist")


def iter_cards(responses: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every card of several responses."""
    for r in responses:
        yield from r.get("cards", [])
