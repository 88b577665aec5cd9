"""``GET /v1/audit``: the audit records of answered evaluations, of the caller's tenant only
(scope ``audit:read``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.database import db_call, transaction
from api.deps import ServicesDep, json_response
from api.problems import problem_responses
from api.schemas.common import Instant
from api.schemas.courses import AuditList, AuditOut
from api.security import AuditReader
from db.repositories import AuditRepository
from db.tables import AuditRecord

router = APIRouter(prefix="/v1", tags=["audit"])
# Record IDs are 64-bit signed integers on both engines.
MAX_RECORD_ID = 2**63 - 1


@router.get(
    "/audit",
    summary="Audit records",
    response_model=AuditList,
    responses=problem_responses(401, 403, 422, 500, 503),
)
async def list_audit(
    services: ServicesDep,
    caller: AuditReader,
    course_id: Annotated[
        str | None, Query(max_length=36, description="Only this course's records.")
    ] = None,
    since: Annotated[
        Instant | None, Query(description="Recorded at or after this time (ISO 8601).")
    ] = None,
    until: Annotated[
        Instant | None, Query(description="Recorded before this time (ISO 8601).")
    ] = None,
    after_id: Annotated[
        int | None,
        Query(ge=0, le=MAX_RECORD_ID, description="Continue after this record ID (paging)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many records.")] = 100,
) -> Response:
    """The audit records of the key's tenant, oldest first; page with `after_id`."""

    def read() -> list[AuditRecord]:
        with transaction(services, write=False) as session:
            return AuditRepository(session).find(
                caller.tenant,
                course_id=course_id,
                since=since,
                until=until,
                after_id=after_id,
                limit=limit,
            )

    rows = await db_call(services, read)
    records = [AuditOut.model_validate(r.model_dump()) for r in rows]
    next_after = records[-1].id if len(records) == limit else None
    return json_response(AuditList(records=records, next_after_id=next_after))
