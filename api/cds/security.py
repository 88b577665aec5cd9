"""JWT verification of CDS Hooks calls (CDS Hooks 2.0 "Trusting CDS Clients").

``Authorization: Bearer <JWT>`` on every call (discovery, service, feedback): ES384 or RS384 only
(``none`` and HMAC are refused); ``iss`` must be a configured client; ``kid`` must name one of its
keys; ``aud`` must equal the exact URL called, built from ``ISOCDS_PUBLIC_BASE_URL`` and never from
the request's ``Host`` header (which the caller chooses: a token minted for another CDS service
would pass); start-up refuses CDS clients without that setting. ``exp``, ``iat`` and ``jti`` are
required, with 60 s of clock-skew leeway, and a token may live at most ``MAX_LIFETIME_S``
(``exp - iat`` of 5 minutes, what the CDS Hooks sandbox issues); a ``jti`` already accepted is
refused until the token would have expired (the replay cache is a database table, so it holds
across workers and replicas). Every failure is a 401 with no detail. The token is never logged
or stored; ``iss`` and ``jti`` may be.

Keys come only from the client's configuration (:mod:`api.cds.clients`). A token's ``jku`` header
is never fetched: for a client configured with a ``jku`` it must equal that URL; for a client with
an inline JWK Set it is ignored (logged at debug), since nothing is fetched for such a client.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from fastapi import Request
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from api.cds.clients import ALGORITHMS, Client, anonymous_client
from api.database import db_call, transaction
from api.deps import Services
from db.tables import JwtReplay

logger = logging.getLogger(__name__)

LEEWAY_S = 60
MAX_LIFETIME_S = 300
"""The longest ``exp - iat`` accepted (seconds); a token without ``iat`` is refused anyway."""
PURGE_EVERY_S = 600.0
_purged_at = time.monotonic()


class Unauthorized(Exception):  # noqa: N818  # an HTTP outcome, not a bug: answered as 401
    """The call is not authenticated (answered as 401 with no detail)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who called: the client, and the claims of its token (``None`` when auth is disabled)."""

    client: Client
    claims: dict[str, Any] | None


def expected_audience(services: Services, request: Request) -> str:
    """The exact URL called, as the token's ``aud`` must name it: ``ISOCDS_PUBLIC_BASE_URL`` and
    the path. Never the ``Host`` header; without the setting no audience matches (start-up
    refuses CDS clients without it, unless authentication is disabled)."""
    base = services.settings.public_base_url
    if not base:
        raise Unauthorized("no ISOCDS_PUBLIC_BASE_URL to check aud against")
    return base + request.url.path


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(services: Services, request: Request, clients: dict[str, Client]) -> Caller:
    """Verify the call's JWT and return its client (raises :class:`Unauthorized`)."""
    token = _bearer(request)
    if services.settings.auth == "disabled":
        iss = None
        if token:
            try:
                iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
            except jwt.PyJWTError:
                iss = None
        known = clients.get(iss) if isinstance(iss, str) else None
        return _identified(request, Caller(known or anonymous_client(), None))
    if token is None:
        raise Unauthorized("no bearer token")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Unauthorized("malformed token") from None
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ALGORITHMS or not isinstance(kid, str) or not kid:
        raise Unauthorized("algorithm or kid")
    typ = header.get("typ")
    if typ is not None and str(typ).upper() != "JWT":
        raise Unauthorized("typ")
    iss = unverified.get("iss")
    client = clients.get(iss) if isinstance(iss, str) else None
    if client is None:
        raise Unauthorized("unknown issuer")
    jku = header.get("jku")
    if jku is not None and jku != client.jku:
        if client.jku is not None:
            raise Unauthorized("jku not the client's")
        # Inline keys: nothing is fetched, so the token's jku names nothing the check uses (the
        # CDS Hooks sandbox always sends one). Only the URL is logged, never the token.
        logger.debug(
            "token jku ignored: the client's keys are configured inline",
            extra={"iss": client.iss, "jku": str(jku)[:300]},
        )
    key = await client.key(kid, services.settings.fhir_timeout_s)
    if key is None or key.algorithm_name != alg:
        raise Unauthorized("unknown key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            audience=expected_audience(services, request),
            issuer=client.iss,
            leeway=LEEWAY_S,
            options={"require": ["iss", "aud", "exp", "iat", "jti"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(type(exc).__name__) from None
    if not _short_lived(claims["exp"], claims["iat"]):
        raise Unauthorized("lifetime")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 200:
        raise Unauthorized("jti")
    try:
        expires = datetime.fromtimestamp(float(claims["exp"]), UTC) + timedelta(seconds=LEEWAY_S)
    except (OverflowError, OSError, ValueError):
        raise Unauthorized("exp out of range") from None
    if not await db_call(services, _remember, services, client.iss, jti, expires):
        raise Unauthorized("replayed jti")
    return _identified(request, Caller(client, claims))


def _short_lived(exp: Any, iat: Any) -> bool:
    """Whether ``exp`` and ``iat`` are numbers with ``0 <= exp - iat <= MAX_LIFETIME_S``."""
    numbers = (int, float)
    if isinstance(exp, bool) or isinstance(iat, bool):
        return False
    if not isinstance(exp, numbers) or not isinstance(iat, numbers):
        return False
    lifetime = exp - iat
    return 0 <= lifetime <= MAX_LIFETIME_S


def _identified(request: Request, caller: Caller) -> Caller:
    """Name the caller in the request log (``iss`` and ``tenant``; never the token)."""
    request.state.cds_iss = caller.client.iss
    request.state.tenant = caller.client.tenant
    return caller


def _remember(services: Services, iss: str, jti: str, expires: datetime) -> bool:
    """Record ``jti``; ``False`` when it was already accepted (a replay).

    One statement: insert, or take over the row of an earlier token with the same id that has
    expired. Expired ids are purged at start-up and then every ``PURGE_EVERY_S``.
    """
    global _purged_at  # one timestamp per process
    now = datetime.now(UTC)
    if time.monotonic() - _purged_at > PURGE_EVERY_S:
        _purged_at = time.monotonic()
        purge_replays(services)
    with transaction(services) as session:
        dialect = session.get_bind().dialect.name
        insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        table = JwtReplay.__table__  # type: ignore[attr-defined]  # SQLModel's table
        statement = (
            insert(table)
            .values(iss=iss, jti=jti, expires_at=expires)
            .on_conflict_do_update(
                index_elements=["iss", "jti"],
                set_={"expires_at": expires},
                where=table.c.expires_at < now,
            )
        )
        # RETURNING, not rowcount: psycopg reports -1 for an upsert with RETURNING.
        return session.execute(statement.returning(table.c.id)).first() is not None


def purge_replays(services: Services) -> None:
    """Forget ``jti`` values whose tokens have expired."""
    with transaction(services) as session:
        session.execute(delete(JwtReplay).where(col(JwtReplay.expires_at) < datetime.now(UTC)))
