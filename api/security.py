"""API-key authentication and scopes for ``/v1``: ``Authorization: Bearer <secret>`` or
``X-API-Key``.

Secrets are compared in constant time against every configured key. A key names its caller: a
:class:`Principal` with the key ID (the only part ever logged or audited), the key's tenant (every
query is scoped to it) and its scopes (each route needs one: a missing scope is a 403 problem).
With ``ISOCDS_AUTH=disabled`` (loopback only) the caller is ``anonymous`` in tenant ``default``
with every scope.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.problems import ProblemError
from api.settings import DEFAULT_TENANT, SCOPES, ApiKey

bearer = HTTPBearer(
    auto_error=False, description="`Authorization: Bearer <secret>` with an API key secret."
)
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key secret.")

ANONYMOUS = "anonymous"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="isocds"'}

EVALUATE = "evaluate"
COURSES_READ = "courses:read"
COURSES_WRITE = "courses:write"
AUDIT_READ = "audit:read"
FEEDBACK_READ = "feedback:read"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who called: the key ID (logged and audited), its tenant and its scopes."""

    key_id: str
    tenant: str
    scopes: frozenset[str]


ANONYMOUS_PRINCIPAL = Principal(ANONYMOUS, DEFAULT_TENANT, frozenset(SCOPES))


def key_table(keys: dict[str, ApiKey]) -> dict[str, tuple[bytes, Principal]]:
    """Key ID → (secret bytes, the principal the secret names), built once at start-up."""
    return {
        key_id: (key.secret.get_secret_value().encode(), Principal(key_id, key.tenant, key.scopes))
        for key_id, key in keys.items()
    }


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> Principal:
    """The caller (401 problem when the key is missing or wrong)."""
    state = request.app.state
    if state.services.settings.auth == "disabled":
        return _identified(request, ANONYMOUS_PRINCIPAL)
    secret = credentials.credentials if credentials is not None else api_key
    if not secret:
        raise ProblemError(
            401,
            "send an API key: Authorization: Bearer <secret> or X-API-Key",
            headers=CHALLENGE,
        )
    given = secret.encode()
    found: Principal | None = None
    table: dict[str, tuple[bytes, Principal]] = state.api_keys
    for expected, principal in table.values():  # every key, whichever matches
        if hmac.compare_digest(given, expected) and found is None:
            found = principal
    if found is None:
        raise ProblemError(401, "the API key is not valid", headers=CHALLENGE)
    return _identified(request, found)


def _identified(request: Request, principal: Principal) -> Principal:
    """Name the caller in the request log: its key ID and tenant (never the secret)."""
    request.state.key_id = principal.key_id
    request.state.tenant = principal.tenant
    return principal


def requires(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, which must hold ``scope`` (403 problem naming it otherwise)."""

    async def scoped(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        if scope not in principal.scopes:
            raise ProblemError(
                403,
                f"this API key lacks the scope {scope}",
                slug="forbidden",
                title="Scope required",
                headers={
                    "WWW-Authenticate": f'Bearer realm="isocds", error="insufficient_scope", '
                    f'scope="{scope}"'
                },
                required_scope=scope,
            )
        return principal

    scoped.__name__ = f"requires_{scope.replace(':', '_')}"
    return scoped


Caller = Annotated[Principal, Depends(caller)]
"""Any valid key (no scope needed)."""
Evaluator = Annotated[Principal, Depends(requires(EVALUATE))]
"""Stateless evaluations and the rule catalogue."""
CourseReader = Annotated[Principal, Depends(requires(COURSES_READ))]
"""Reading the tenant's courses, their events and the evaluations of them."""
CourseWriter = Annotated[Principal, Depends(requires(COURSES_WRITE))]
"""Creating and changing the tenant's courses and appending events."""
AuditReader = Annotated[Principal, Depends(requires(AUDIT_READ))]
"""The tenant's audit records."""
FeedbackReader = Annotated[Principal, Depends(requires(FEEDBACK_READ))]
"""The tenant's CDS Hooks feedback summary."""
