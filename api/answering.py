"""Answering an evaluation: at most once per ``Idempotency-Key``, and never before its audit
record is committed (the courses issue, "Audit before answer")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from pydantic import BaseModel

from api.audit import audit_row, canonical
from api.database import Claim, begin, complete, db_call, idempotency_key, release, transaction
from api.deps import Services, json_response
from api.security import Principal
from domain.engine import Evaluation
from domain.vocab import Status


def _finish(services: Services, claim: Claim, response: Response) -> None:
    with transaction(services) as session:
        complete(session, claim, response)


async def answer(
    services: Services,
    request: Request,
    caller: Principal,
    body: BaseModel | None,
    endpoint: str,
    compute: Callable[[], Awaitable[tuple[Evaluation, BaseModel]]],
    *,
    decision: bool = True,
    course_id: str | None = None,
) -> Response:
    """Evaluate with ``compute``, commit the audit record, then answer.

    The audit record is committed (in a group commit shared with concurrent requests) before the
    response exists; if it cannot be, the caller gets 503 and not the evaluation.
    """
    claimed: Claim | None = None
    if idempotency_key(request) is not None:
        outcome = await db_call(services, begin, services, request, caller, body)
        if isinstance(outcome, Response):
            return outcome
        claimed = outcome
    try:
        ev, out = await compute()
        request.state.rules_fired = [f.rule_id for f in ev.findings if f.status is Status.APPLIES]
        response = json_response(out)
        payload = canonical(endpoint, body, as_of=ev.as_of.isoformat(), course_id=course_id)
        await services.audit.record(
            audit_row(
                ev,
                key=services.hmac_key,
                caller=caller.key_id,
                tenant=caller.tenant,
                endpoint=endpoint,
                payload=payload,
                decision=decision,
                course_id=course_id,
            )
        )
        if claimed is not None:
            await db_call(services, _finish, services, claimed, response)
        return response
    except BaseException:
        if claimed is not None:
            await db_call(services, release, services, claimed)
        raise
