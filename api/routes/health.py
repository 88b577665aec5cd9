"""``GET /health`` (process alive) and ``GET /ready`` (ready to serve); both unauthenticated."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from api.deps import ServicesDep
from api.problems import problem_responses
from api.schemas.common import Wire

router = APIRouter(tags=["operations"])


class Health(Wire):
    """The process is alive."""

    status: str = Field(description="`ok`.")


class Ready(Wire):
    """The service is ready to serve."""

    status: str = Field(description="`ready`.")
    ruleset_version: str = Field(description="Rule-set version loaded.")
    catalogue_hash: str = Field(description="Catalogue hash.")
    rules: int = Field(description="Number of rules loaded.")


@router.get("/health", summary="Process alive", response_model=Health)
async def health() -> Health:
    """Always 200 while the process runs."""
    return Health(status="ok")


@router.get(
    "/ready", summary="Ready to serve", response_model=Ready, responses=problem_responses(503)
)
async def ready(services: ServicesDep) -> Ready:
    """200 when the catalogue is loaded."""
    catalog = services.catalog
    return Ready(
        status="ready",
        ruleset_version=catalog.version,
        catalogue_hash=catalog.hash,
        rules=len(catalog.rules),
    )
