"""The application factory: ``uvicorn --factory api.main:create_app`` (nothing happens at import)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.logging import configure_logging
from api.settings import Settings, load_settings
from domain.catalog import build_catalog

logger = logging.getLogger(__name__)

VERSION = "0.1.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app from ``settings`` (default: read from the environment now)."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    catalog = build_catalog(settings.evaluation())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not settings.timezone_set:
            logger.warning("ISOCDS_TIMEZONE is not set: 'today' is the UTC date")
        if settings.auth == "disabled":
            logger.warning(
                "ISOCDS_AUTH=disabled: no authentication; loopback only, local trials only"
            )
        logger.info(
            "started",
            extra={
                "ruleset_version": catalog.version,
                "catalogue_hash": catalog.hash,
                "rules": len(catalog.rules),
            },
        )
        yield

    app = FastAPI(title="Isotretinoin decision support", version=VERSION, lifespan=lifespan)

    @app.get("/health", tags=["operations"], summary="Process alive")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
