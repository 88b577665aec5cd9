"""API-key authentication for ``/v1``: ``Authorization: Bearer <secret>`` or ``X-API-Key``.

Secrets are compared in constant time against every configured key; only the key ID is ever
logged or audited. With ``ISOCDS_AUTH=disabled`` (loopback only) the caller is ``anonymous``.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.problems import ProblemError

bearer = HTTPBearer(
    auto_error=False, description="`Authorization: Bearer <secret>` with an API key secret."
)
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key secret.")

ANONYMOUS = "anonymous"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="isocds"'}


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> str:
    """The key ID of the caller (401 problem when missing or wrong)."""
    state = request.app.state
    if state.services.settings.auth == "disabled":
        request.state.key_id = ANONYMOUS
        return ANONYMOUS
    secret = credentials.credentials if credentials is not None else api_key
    if not secret:
        raise ProblemError(
            401,
            "send an API key: Authorization: Bearer <secret> or X-API-Key",
            headers=CHALLENGE,
        )
    given = secret.encode()
    found: str | None = None
    for key_id, expected in state.api_keys.items():
        if hmac.compare_digest(given, expected) and found is None:
            found = key_id
    if found is None:
        raise ProblemError(401, "the API key is not valid", headers=CHALLENGE)
    request.state.key_id = found
    return found


Caller = Annotated[str, Depends(caller)]
