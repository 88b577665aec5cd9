"""``GET /health`` (process alive) and ``GET /ready`` (ready to serve); both unauthenticated."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from pydantic import Field

from api.database import db_call
from api.deps import ServicesDep, json_response
from api.problems import problem_response, problem_responses
from api.schemas.common import Wire
from db.migrate import schema_at_head

router = APIRouter(tags=["operations"])
logger = logging.getLogger(__name__)


class Health(Wire):
    """The process is alive."""

    status: str = Field(description="`ok`.")


class Ready(Wire):
    """The service is ready to serve."""

    status: str = Field(description="`ready`.")
    ruleset_version: str = Field(description="Rule-set version loaded.")
    catalogue_hash: str = Field(description="Catalogue hash.")
    rules: int = Field(description="Number of rules loaded.")
    schema_revision: str = Field(description="The database schema revision (at head).")


@router.get("/health", summary="Process alive", response_model=Health)
async def health() -> Health:
    """Always 200 while the process runs (no database access)."""
    return Health(status="ok")


@router.get(
    "/ready", summary="Ready to serve", response_model=Ready, responses=problem_responses(503)
)
async def ready(request: Request, services: ServicesDep) -> Response:
    """200 when the catalogue is loaded, the database answers and its schema is at head."""
    try:
        at_head = await db_call(services, schema_at_head, services.read_engine, services.head)
    except Exception as exc:  # unreachable, timed out, refused: all mean "not ready"
        logger.warning("not ready: database unavailable", extra={"error": type(exc).__name__})
        return problem_response(
            request, 503, "the database is unavailable", headers={"Retry-After": "5"}
        )
    if not at_head:
        return problem_response(
            request, 503, "the database schema is not at head: run the migrations (make migrate)"
        )
    catalog = services.catalog
    return json_response(
        Ready(
            status="ready",
            ruleset_version=catalog.version,
            catalogue_hash=catalog.hash,
            rules=len(catalog.rules),
            schema_revision=services.head,
        )
    )
