"""Prefetch templates, and fetching what the EHR did not send from its FHIR server.

Sorted keys ask for the newest records first, so one page is enough; a Bundle's ``next`` link is
followed only with FHIR access. Missing keys are fetched concurrently from ``fhirServer`` (with
``fhirAuthorization`` when given), each call within ``ISOCDS_FHIR_TIMEOUT_S`` and all within
2.5 s, and only from base URLs on the client's ``fhir_servers`` allow-list (https; http on
loopback only). The bearer token is never logged or stored.

Every URL is built, never concatenated from what a caller sent: ``context.patientId`` must be a
FHIR id (checked before anything is fetched) and is percent-encoded into the templates, like the
client's own coding. A ``next`` link is followed only when, normalised (dot segments, default
port, case of scheme and host), it has the scheme, host and port of the FHIR base and a path under
it. A response is read as a stream and given up past ``ISOCDS_FHIR_MAX_BYTES`` (its declared
``Content-Length`` first, then the bytes received, then the bytes decompressed). A key whose data
cannot be had whole (unreachable, too large, unreadable, a page missing or off the server) is
unknown, and named on the "Information needed" card.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx2

from api.cds.clients import Client
from api.cds.fhir import CLIENT_POTENTIAL, Problems, as_dict, as_list
from api.cds.fhir import is_fhir_id as is_fhir_id  # re-exported: the routes check ids with it
from api.settings import is_loopback
from domain import codes as c

logger = logging.getLogger(__name__)

P = "{{context.patientId}}"
TOTAL_DEADLINE_S = 2.5
MAX_PAGES = 3
# What the reader decodes, bounded (httpx2's own decoders would inflate a whole read at once).
WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
DEFAULT_PORTS = {"http": 80, "https": 443}
# Percent-encoded dots, slashes and backslashes in a path may be decoded by a server into
# traversal after our normalisation: such a link is never followed.
_ENCODED_PATH_TRICKS = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)
_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


def _value(text: str) -> str:
    """``text`` percent-encoded as one query value or path segment."""
    return quote(text, safe="")


def _observations(codes: list[str], count: int, patient: str = P) -> str:
    return f"Observation?patient={patient}&code={','.join(codes)}&_sort=-date&_count={count}"


def prefetch_query(key: str, patient_id: str) -> str:
    """The FHIR query of prefetch ``key`` for ``patient_id`` (percent-encoded into the template)."""
    return PREFETCH[key].replace(P, _value(patient_id))


def coding_query(system: str, code: str, patient_id: str) -> str:
    """The query of the newest Observation coded ``system|code`` (a client's own coding)."""
    return _observations([f"{_value(system)}|{_value(code)}"], 1, _value(patient_id))


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
    request: dict[str, Any],
    client: Client,
    patient_id: str,
    timeout_s: float,
    max_bytes: int = 5 * 1024 * 1024,
) -> tuple[dict[str, Any], Problems]:
    """The data of every key: sent by the EHR, or fetched; what could not be had is listed.

    A key whose value is absent, ``null`` or an OperationOutcome is not satisfied. With FHIR
    access, the unsatisfied keys are fetched and every Bundle's ``next`` links followed, all
    within one deadline of ``TOTAL_DEADLINE_S``, each response within ``max_bytes``. A key with a
    next page that could not be had (failed, too large, cut by the deadline, or a link off the
    FHIR server) is unsatisfied, even when its first page was sent.
    """
    if not is_fhir_id(patient_id):
        raise ValueError("context.patientId is not a FHIR id")  # checked by the route before
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
        queries = {k: prefetch_query(k, patient_id) for k in missing}
        own = client.pregnancy_potential_coding
        if own is not None:
            queries[CLIENT_POTENTIAL] = coding_query(own.system, own.code, patient_id)
        fetched, incomplete = await _fetch(base, headers, queries, values, timeout_s, max_bytes)
        for key, value in fetched.items():
            values[key] = value
            if key in missing:
                missing.remove(key)
        for key in incomplete:
            values.pop(key, None)  # a first page without the rest is not the record
            if key in PREFETCH and key not in missing:
                missing.append(key)
    problems.unavailable.update(missing)
    return values, problems


class ResponseTooLargeError(Exception):
    """A FHIR response over ``ISOCDS_FHIR_MAX_BYTES`` (declared, received or decompressed)."""


async def read_capped(chunks: AsyncIterator[bytes], max_bytes: int, encoding: str = "") -> bytes:
    """The body streamed in ``chunks``, decoded (``gzip``, ``deflate`` or none), given up with
    :class:`ResponseTooLargeError` as soon as the bytes received or decoded pass ``max_bytes``.

    At most ``max_bytes`` and one chunk are ever held. An unknown content coding is a
    ``ValueError``.
    """
    coding = encoding.strip().lower()
    decoder = None
    if coding not in ("", "identity"):
        if coding not in WBITS:
            raise ValueError("unsupported content encoding")
        decoder = zlib.decompressobj(WBITS[coding])
    body = bytearray()
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > max_bytes:
            raise ResponseTooLargeError
        if decoder is None:
            body += chunk
            continue
        data = chunk
        while data:
            body += decoder.decompress(data, max_bytes + 1 - len(body))
            if len(body) > max_bytes:
                raise ResponseTooLargeError
            data = decoder.unconsumed_tail
    if decoder is not None:
        body += decoder.flush(max_bytes + 1 - len(body))
        if len(body) > max_bytes:
            raise ResponseTooLargeError
    return bytes(body)


def _parts(url: str) -> tuple[str, str, int, str, str] | None:
    """Scheme, host, port, path and query of an absolute http(s) URL, normalised; ``None`` for
    anything else (no user info, no control characters, no encoded dots or slashes in the path)."""
    if _UNSAFE_URL_CHARS.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if _ENCODED_PATH_TRICKS.search(parts.path):
        return None
    path = _remove_dot_segments(parts.path)
    return scheme, host, port or DEFAULT_PORTS[scheme], path, parts.query


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 on an absolute path (``/fhir/../admin`` is ``/admin``)."""
    segments = path.split("/")
    out: list[str] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment in (".", ".."):
            if segment == ".." and len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/".join(out)


def same_server(link: str, base: str) -> str | None:
    """``link`` normalised, if it is on the FHIR server ``base`` (same scheme, host and port, a
    path under the base's); else ``None``."""
    target, root = _parts(link), _parts(base)
    if target is None or root is None or target[:3] != root[:3]:
        return None
    scheme, host, port, path, query = target
    if not path.startswith(root[3].rstrip("/") + "/"):
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, path, query, ""))


async def _fetch(
    base: str,
    headers: dict[str, str],
    queries: dict[str, str],
    sent: dict[str, Any],
    timeout_s: float,
    max_bytes: int,
) -> tuple[dict[str, Any], set[str]]:
    """Fetch ``queries`` and the next pages of every Bundle (sent or fetched), within one deadline.

    Returns what arrived whole, and the keys set out for that did not (failed, too large, cut by
    the deadline, or a page that could not be had).
    """
    results: dict[str, Any] = {}
    async with httpx2.AsyncClient(
        timeout=timeout_s,
        headers={**headers, "Accept-Encoding": "gzip, deflate"},  # what read_capped decodes
        follow_redirects=False,
    ) as http:

        async def get(url: str, key: str) -> dict[str, Any] | None:
            try:
                async with http.stream("GET", url) as response:
                    if response.status_code == 404:
                        return None
                    response.raise_for_status()
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise ResponseTooLargeError
                    raw = await read_capped(
                        response.aiter_raw(),
                        max_bytes,
                        response.headers.get("content-encoding", ""),
                    )
                body = json.loads(raw)
            except ResponseTooLargeError:
                logger.warning(
                    "FHIR response over the size limit", extra={"key": key, "limit": max_bytes}
                )
                return None
            except (httpx2.HTTPError, ValueError, RecursionError, zlib.error) as exc:
                logger.warning("FHIR fetch failed", extra={"key": key, "error": type(exc).__name__})
                return None
            return body if isinstance(body, dict) and not _is_outcome(body) else None

        async def one(key: str, query: str | None) -> None:
            value = sent.get(key) if query is None else await get(f"{base}/{query}", key)
            if not isinstance(value, dict):
                return
            if value.get("resourceType") == "Bundle":
                value = await _pages(value, base, key, get)
                if value is None:
                    return
            results[key] = value

        jobs = {k: one(k, q) for k, q in queries.items()}
        jobs |= {k: one(k, None) for k, v in sent.items() if k not in jobs and _next_link(v)}
        tasks = [asyncio.ensure_future(job) for job in jobs.values()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=TOTAL_DEADLINE_S)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
                logger.warning("FHIR fetches timed out", extra={"keys": len(pending)})
    return results, set(jobs) - set(results)


def _next_link(bundle: Any) -> str | None:
    """The ``next`` link of a Bundle, as written (checked by :func:`same_server` before use)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return None
    for link in as_list(bundle.get("link")):
        url = as_dict(link).get("url")
        if as_dict(link).get("relation") == "next" and isinstance(url, str):
            return url
    return None


async def _pages(
    bundle: dict[str, Any],
    base: str,
    key: str,
    get: Callable[[str, str], Awaitable[dict[str, Any] | None]],
) -> dict[str, Any] | None:
    """``bundle`` with the entries of its next pages (at most ``MAX_PAGES``) joined in; ``None``
    when a page cannot be had: it failed, is not a Bundle, or its link leaves the FHIR server
    (never followed, so the bearer token goes nowhere else)."""
    entries = list(as_list(bundle.get("entry")))
    current: dict[str, Any] = bundle
    for _ in range(MAX_PAGES):
        link = _next_link(current)
        if link is None:
            break
        url = same_server(link, base)
        if url is None:
            logger.warning(
                "a Bundle next link leaves the FHIR server: not followed", extra={"key": key}
            )
            return None
        page = await get(url, key)
        if page is None or page.get("resourceType") != "Bundle":
            return None
        current = page
        entries += as_list(current.get("entry"))
    return {**bundle, "entry": entries}
