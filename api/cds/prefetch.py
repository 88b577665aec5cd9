"""Prefetch templates, and fetching what the EHR did not send from its FHIR server.

Sorted keys ask for the newest records first, so one page is enough; a Bundle's ``next`` link is
followed only with FHIR access. Missing keys are fetched concurrently from ``fhirServer`` (with
``fhirAuthorization`` when given), each call within ``ISOCDS_FHIR_TIMEOUT_S`` and all within
2.5 s, and only from base URLs on the client's ``fhir_servers`` allow-list (https; http on
loopback only). The bearer token is never logged or stored.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import httpx2

from api.cds.clients import Client
from api.cds.fhir import CLIENT_POTENTIAL, Problems, as_dict, as_list
from api.settings import is_loopback
from domain import codes as c

logger = logging.getLogger(__name__)

P = "{{context.patientId}}"
TOTAL_DEADLINE_S = 2.5
MAX_PAGES = 3


def _observations(codes: list[str], count: int, patient: str = P) -> str:
    return f"Observation?patient={patient}&code={','.join(codes)}&_sort=-date&_count={count}"


def _loinc(*codes: str) -> list[str]:
    return [f"{c.LOINC}|{code}" for code in codes]


PREFETCH: dict[str, str] = {
    "patient": f"Patient/{P}",
    "medRequests": f"MedicationRequest?patient={P}&_sort=-authoredon&_count=100",
    "medDispenses": f"MedicationDispense?patient={P}&_sort=-whenhandedover&_count=50",
    "medStatements": f"MedicationStatement?patient={P}&status=active",
    "conditions": f"Condition?patient={P}",
    "allergies": f"AllergyIntolerance?patient={P}",
    "pregnancyPotential": _observations([f"{c.ISOCDS}|pregnancy-potential"], 1),
    "homeTesting": _observations([f"{c.ISOCDS}|home-testing-permitted"], 1),
    "pregnancyStatus": _observations(_loinc(c.PREGNANCY_STATUS), 1),
    "pregnancyTests": _observations(_loinc(*c.HCG_LOINCS), 10),
    "lipids": _observations(_loinc(*c.LIPID_LOINCS), 20),
    "liver": _observations(_loinc(*c.LIVER_LOINCS), 10),
    "weight": _observations(_loinc(c.BODY_WEIGHT), 1),
    "mood": _observations(_loinc(c.PHQ9_TOTAL, c.PHQA_TOTAL, c.PHQ2_TOTAL), 5),
}

# Which facts each key feeds (for the "Information needed" card).
FEEDS = {
    "patient": "age",
    "medRequests": "current medications and isotretinoin orders",
    "medDispenses": "isotretinoin dispensed (treatment start, exposure)",
    "medStatements": "current medications",
    "conditions": "conditions",
    "allergies": "allergies",
    "pregnancyPotential": "the pregnancy-potential category",
    "homeTesting": "home-test permission",
    "pregnancyStatus": "pregnancy status",
    "pregnancyTests": "pregnancy tests",
    "lipids": "lipid results",
    "liver": "liver results",
    "weight": "weight",
    "mood": "mood screens",
}


def _is_outcome(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


def fhir_access(request: dict[str, Any], client: Client) -> tuple[str, dict[str, str]] | None:
    """The FHIR base URL and headers to use, if the call gives allowed FHIR access."""
    server = request.get("fhirServer")
    if not isinstance(server, str) or not client.allows_fhir_server(server):
        return None
    parts = urlsplit(server)
    if parts.scheme != "https" and not (
        parts.scheme == "http" and is_loopback(parts.hostname or "")
    ):
        return None
    headers = {"Accept": "application/fhir+json"}
    auth = request.get("fhirAuthorization")
    if isinstance(auth, dict) and isinstance(auth.get("access_token"), str):
        headers["Authorization"] = f"Bearer {auth['access_token']}"
    return server.rstrip("/"), headers


async def resolve(
    request: dict[str, Any], client: Client, patient_id: str, timeout_s: float
) -> tuple[dict[str, Any], Problems]:
    """The data of every key: sent by the EHR, or fetched; what could not be had is listed.

    A key whose value is absent, ``null`` or an OperationOutcome is not satisfied. With FHIR
    access, the unsatisfied keys are fetched and every Bundle's ``next`` links followed, all
    within one deadline of ``TOTAL_DEADLINE_S``.
    """
    problems = Problems()
    sent = as_dict(request.get("prefetch"))
    values: dict[str, Any] = {}
    missing: list[str] = []
    for key in PREFETCH:
        value = sent.get(key)
        if isinstance(value, dict) and not _is_outcome(value):
            values[key] = value
        else:
            missing.append(key)
    access = fhir_access(request, client)
    if access is not None:
        base, headers = access
        queries = {k: PREFETCH[k].replace(P, patient_id) for k in missing}
        own = client.pregnancy_potential_coding
        if own is not None:
            queries[CLIENT_POTENTIAL] = _observations([f"{own.system}|{own.code}"], 1, patient_id)
        fetched = await _fetch(base, headers, queries, values, timeout_s)
        for key, value in fetched.items():
            values[key] = value
            if key in missing:
                missing.remove(key)
    problems.unavailable.update(missing)
    return values, problems


async def _fetch(
    base: str,
    headers: dict[str, str],
    queries: dict[str, str],
    sent: dict[str, Any],
    timeout_s: float,
) -> dict[str, Any]:
    """Fetch ``queries`` and the next pages of every Bundle (sent or fetched), within one deadline;
    what did not arrive in time is left out."""
    results: dict[str, Any] = {}
    async with httpx2.AsyncClient(
        timeout=timeout_s, headers=headers, follow_redirects=False
    ) as http:

        async def get(url: str, key: str) -> Any:
            try:
                response = await http.get(url)
                if response.status_code == 404:
                    return None
                response.raise_for_status()
                body = response.json()
            except (httpx2.HTTPError, ValueError) as exc:
                logger.warning("FHIR fetch failed", extra={"key": key, "error": type(exc).__name__})
                return None
            return body if isinstance(body, dict) and not _is_outcome(body) else None

        async def one(key: str, query: str | None) -> None:
            value = sent.get(key) if query is None else await get(f"{base}/{query}", key)
            if not isinstance(value, dict):
                return
            if value.get("resourceType") == "Bundle":
                value = await _pages(value, base, key, get)
            results[key] = value

        jobs = [one(k, q) for k, q in queries.items()]
        jobs += [one(k, None) for k, v in sent.items() if k not in queries and _next_link(v, base)]
        tasks = [asyncio.ensure_future(job) for job in jobs]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=TOTAL_DEADLINE_S)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
                logger.warning("FHIR fetches timed out", extra={"keys": len(pending)})
    return results


def _next_link(bundle: Any, base: str) -> str | None:
    """The Bundle's ``next`` link, if it points at the same FHIR server."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return None
    for link in as_list(bundle.get("link")):
        url = as_dict(link).get("url")
        if as_dict(link).get("relation") == "next" and isinstance(url, str):
            return url if url.startswith(base + "/") else None
    return None


async def _pages(bundle: dict[str, Any], base: str, key: str, get: Any) -> dict[str, Any]:
    """``bundle`` with the entries of its next pages (at most ``MAX_PAGES``) joined in."""
    entries = list(as_list(bundle.get("entry")))
    current: Any = bundle
    for _ in range(MAX_PAGES):
        link = _next_link(current, base)
        if link is None:
            break
        current = await get(link, key)
        if not isinstance(current, dict):
            break
        entries += as_list(current.get("entry"))
    return {**bundle, "entry": entries}
