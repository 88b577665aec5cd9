"""Trusted CDS Hooks clients (``ISOCDS_CDS_CLIENTS_FILE``) and their signing keys.

Each client names its JWT issuer, the jurisdiction of every evaluation made for it, and where its
public keys are: an inline JWK Set, or the one JWK Set URL (``jku``) the service may fetch. No
URL taken from a token is ever fetched (a token's ``jku`` must equal the configured one, and is
ignored for a client with inline keys, which are never fetched), and a client's ``jku`` is fetched
at most once every ``REFRESH_AT_MOST_EVERY_S`` (whatever the previous fetch gave: keys, an empty
set or a failure), so tokens naming unknown ``kid`` values cannot turn into a fetch each.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2
import jwt

from api.settings import DEFAULT_TENANT
from domain.facts import Coding
from domain.vocab import Jurisdiction, LabProfile

logger = logging.getLogger(__name__)

ALGORITHMS = ("ES384", "RS384")
REFRESH_AT_MOST_EVERY_S = 30.0
"""At most one fetch of a client's ``jku`` per this many seconds, after a failure too."""
ANONYMOUS_ISS = "anonymous"


@dataclass(slots=True)
class Client:
    """A trusted client.

    Attributes:
        iss: The JWT issuer.
        jurisdiction: The jurisdiction of every evaluation for this client.
        jwks: The inline JWK Set, if configured.
        jku: The JWK Set URL, if configured.
        tenant: The tenant whose stored courses, cards and feedback the client's calls use
            (recorded in the audit and logs; ``default`` for the one client of a file).
        lab_profile: US lab profile override (``None``: the service's).
        home_testing_permitted_default: US: the default when no Observation says (RULES §14).
        pregnancy_potential_coding: The client's own Observation coding for the category.
        fhir_servers: Allow-list of ``fhirServer`` base URLs (none: no FHIR fallback).
    """

    iss: str
    jurisdiction: Jurisdiction
    jwks: dict[str, Any] | None = None
    jku: str | None = None
    tenant: str = DEFAULT_TENANT
    lab_profile: LabProfile | None = None
    home_testing_permitted_default: bool = False
    pregnancy_potential_coding: Coding | None = None
    fhir_servers: tuple[str, ...] = ()
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    _fetched_at: float | None = None  # time.monotonic() of the last fetch (None: never)
    _lock: asyncio.Lock | None = None

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> Client:
        """A client from its (already checked) configuration object."""
        coding = data.get("pregnancy_potential_coding")
        profile = data.get("lab_profile")
        client = cls(
            iss=data["iss"],
            jurisdiction=Jurisdiction(data["jurisdiction"]),
            jwks=data.get("jwks"),
            jku=data.get("jku"),
            tenant=data.get("tenant") or DEFAULT_TENANT,
            lab_profile=None if profile is None else LabProfile(profile),
            home_testing_permitted_default=bool(data.get("home_testing_permitted_default", False)),
            pregnancy_potential_coding=None
            if coding is None
            else Coding(system=coding["system"], code=coding["code"]),
            fhir_servers=tuple(s.rstrip("/") for s in data.get("fhir_servers", [])),
        )
        if client.jwks is not None:
            client._keys = _parse_jwks(client.jwks)
        return client

    def allows_fhir_server(self, url: str) -> bool:
        """Whether ``url`` is one of the client's allow-listed FHIR base URLs (exactly)."""
        return url.rstrip("/") in self.fhir_servers

    async def key(self, kid: str, timeout_s: float) -> jwt.PyJWK | None:
        """The public key ``kid``; a configured ``jku`` is fetched (again) on an unknown kid.

        At most one fetch per ``REFRESH_AT_MOST_EVERY_S``, whether the last one gave keys, an
        empty set or failed: in between, an unknown ``kid`` is simply unknown.
        """
        found = self._keys.get(kid)
        if found is not None or self.jku is None:
            return found
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            found = self._keys.get(kid)
            if found is not None:
                return found
            now = time.monotonic()
            if self._fetched_at is not None and now - self._fetched_at < REFRESH_AT_MOST_EVERY_S:
                return None
            self._fetched_at = now
            try:
                async with httpx2.AsyncClient(timeout=timeout_s, follow_redirects=False) as http:
                    response = await http.get(self.jku)
                    response.raise_for_status()
                    self._keys = _parse_jwks(response.json())
            except (httpx2.HTTPError, ValueError) as exc:
                logger.warning(
                    "could not fetch a JWK Set",
                    extra={"iss": self.iss, "error": type(exc).__name__},
                )
                return None
        return self._keys.get(kid)


def _algorithm(raw: dict[str, Any]) -> str | None:
    """The one algorithm a JWK may verify: ES384 for an EC P-384 key, RS384 for an RSA key."""
    if raw.get("kty") == "EC" and raw.get("crv") == "P-384":
        return "ES384"
    if raw.get("kty") == "RSA":
        return "RS384"
    return None


def _parse_jwks(data: Any) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    for raw in data.get("keys", []) if isinstance(data, dict) else []:
        if not isinstance(raw, dict) or not isinstance(raw.get("kid"), str):
            continue
        alg = _algorithm(raw)
        if alg is None or raw.get("alg") not in (None, alg):
            continue
        try:
            keys[raw["kid"]] = jwt.PyJWK.from_dict(raw, algorithm=alg)
        except (jwt.exceptions.PyJWKError, jwt.exceptions.InvalidKeyError, ValueError, KeyError):
            continue
    return keys


def anonymous_client() -> Client:
    """The client of an unauthenticated call when authentication is disabled (loopback only)."""
    return Client(iss=ANONYMOUS_ISS, jurisdiction=Jurisdiction.US)
