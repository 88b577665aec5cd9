"""Shared request helpers: the app's services, and "today" in ``ISOCDS_TIMEZONE``."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy import Engine

from api.settings import Settings
from db.audit import AuditWriter
from domain.rules import Catalog
from domain.settings import EvaluationSettings


@dataclass(frozen=True, slots=True)
class Services:
    """What routes need, built once in ``create_app``.

    Attributes:
        settings: The service settings.
        evaluation: The clinical settings handed to the domain.
        catalog: The rule catalogue.
        engine: The database engine (writes).
        read_engine: The engine for read-only transactions (the same one on PostgreSQL).
        write_lock: SQLite's in-process writer lock (``None`` on PostgreSQL).
        audit: The group-commit audit writer.
        hmac_key: The audit HMAC key.
        head: The migration revision the code expects.
    """

    settings: Settings
    evaluation: EvaluationSettings
    catalog: Catalog
    engine: Engine
    read_engine: Engine
    write_lock: threading.Lock | None
    audit: AuditWriter
    hmac_key: bytes
    head: str

    def today(self) -> date:
        """Today's date in ``ISOCDS_TIMEZONE`` (RULES §0.5)."""
        return datetime.now(self.settings.zone()).date()


async def services(request: Request) -> Services:
    """The app's services (async: FastAPI would run a sync dependency in a worker thread)."""
    s: Services = request.app.state.services
    return s


ServicesDep = Annotated[Services, Depends(services)]


def json_response(
    model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Serialise ``model`` once, in pydantic's core, and skip FastAPI's re-validation.

    The route still declares ``response_model`` so the OpenAPI document describes the body.
    """
    return Response(
        model.model_dump_json(),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )
