"""The application factory: ``uvicorn --factory api.main:create_app`` (nothing happens at import)."""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api import database, problems
from api.audit import load_hmac_key
from api.cds import routes as cds
from api.cds.clients import Client
from api.cds.security import purge_replays
from api.database import purge_keys
from api.deps import Services
from api.limits import HeaderGuard
from api.logging import configure_logging
from api.middleware import AuthOffHeader, BodyGuard, Cors, RequestLog
from api.routes import audit, courses, docs, evaluations, feedback, health, rules
from api.schemas.common import document_enums
from api.security import key_table
from api.settings import Settings, load_settings, require_public_base_url
from db.audit import AuditWriter
from db.engine import make_engine
from db.migrate import head_revision
from domain.catalog import build_catalog

logger = logging.getLogger(__name__)

VERSION = "0.1.0"
# Worker threads (database work) hand the GIL back to the event loop sooner than the 5 ms
# default: a request waiting on a short query is not held behind another thread's computation.
SWITCH_INTERVAL_S = 0.001
DESCRIPTION = """
Clinical decision support for oral isotretinoin. Every statement carries its cited source, the
rule ID, version and variant (jurisdiction and epoch) it came from, and a verification flag.

**Knownness.** Missing data is *unknown*, never *safe*. A list that is absent was not asked (the
rules that read it come back `unknown`); `[]` means asked, none. Records of things done (pregnancy
tests, counselling, REMS steps, forms, contraception methods, dispensings) that are absent mean
not done.

**Authentication.** Every `/v1` route needs an API key: `Authorization: Bearer <secret>` or
`X-API-Key: <secret>`. A key belongs to one tenant and sees only that tenant's courses, audit
records and feedback (another tenant's course is a 404, like a missing one); each route needs a
scope of the key (`evaluate`, `courses:read`, `courses:write`, `audit:read`, `feedback:read`),
and a key without it gets a 403 problem naming the scope.

**Errors.** Every 4xx/5xx is `application/problem+json` (RFC 9457) with a `urn:isocds:problem:*`
type; 422 problems list the offending fields with JSON paths.

Decision support for clinicians, not a substitute for their judgement. Rules marked `unverified`
or `local-policy` need the clinical owner's review before clinical use.
""".strip()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app from ``settings`` (default: read from the environment now)."""
    settings = settings or load_settings()
    require_public_base_url(settings, settings.cds_clients())
    configure_logging(settings.log_level)
    evaluation = settings.evaluation()
    engine = make_engine(settings.db)
    sqlite = settings.db.is_sqlite
    write_lock = threading.Lock() if sqlite else None
    hmac_key = load_hmac_key(settings)
    services = Services(
        settings=settings,
        evaluation=evaluation,
        catalog=build_catalog(evaluation),
        engine=engine,
        read_engine=make_engine(settings.db, reads=True) if sqlite else engine,
        write_lock=write_lock,
        audit=AuditWriter(engine, settings.db.db_timeout_s, write_lock, chain_key=hmac_key),
        hmac_key=hmac_key,
        head=head_revision(),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Everything built so far (catalogue, app, schemas) lives as long as the process: keep it
        # out of the cyclic collector's scans, which otherwise show up as tail latency.
        gc.collect()
        gc.freeze()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        services.audit.start()
        try:
            purge_keys(services)
            purge_replays(services)
        except Exception as exc:  # the database may be down at start: /ready says so
            logger.warning(
                "could not purge expired idempotency keys and JWT ids",
                extra={"error": type(exc).__name__},
            )
        if not settings.timezone_set:
            logger.warning("ISOCDS_TIMEZONE is not set: 'today' is the UTC date")
        if settings.auth == "disabled":
            # On every start, at a level the configured ISOCDS_LOG_LEVEL never filters out.
            logger.log(
                max(logging.WARNING, logging.getLogger().getEffectiveLevel()),
                "ISOCDS_AUTH=disabled: no authentication; loopback only, local trials only",
            )
        elif not app.state.api_keys:
            logger.warning("no API keys configured (ISOCDS_API_KEYS): every /v1 call gets 401")
        logger.info(
            "started",
            extra={
                "ruleset_version": services.catalog.version,
                "catalogue_hash": services.catalog.hash,
                "rules": len(services.catalog.rules),
                "api_keys": sorted(app.state.api_keys),
                "cds_clients": sorted(app.state.cds_clients),
            },
        )
        yield
        services.audit.stop()
        engine.dispose()
        services.read_engine.dispose()
        logger.info(
            "stopped",
            extra={
                "audit_commits": services.audit.commits,
                "audit_records": services.audit.records,
            },
        )

    app = FastAPI(
        title="Isotretinoin decision support",
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.api_keys = key_table(settings.keys())
    app.state.cds_clients = {c["iss"]: Client.from_config(c) for c in settings.cds_clients()}

    problems.install(app)
    database.install(app)
    cds.install(app)
    app.include_router(health.router)
    app.include_router(evaluations.router)
    app.include_router(courses.router)
    app.include_router(rules.router)
    app.include_router(audit.router)
    app.include_router(feedback.router)
    app.include_router(cds.router)
    docs.install(app)

    app.add_middleware(
        BodyGuard, max_bytes=settings.max_body_bytes, prefixes=("/v1", "/cds-services")
    )
    origins = settings.origins()
    if origins:
        app.add_middleware(
            Cors,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "PATCH", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-API-Key",
                "Idempotency-Key",
                "If-Match",
            ],
            expose_headers=["ETag", "X-Request-ID", "Location", "X-Isocds-Auth"],
        )
    # Just inside the request log (which reads no header): sizes checked before any decoding.
    app.add_middleware(HeaderGuard, max_header_bytes=settings.max_header_bytes)
    app.add_middleware(RequestLog)
    if settings.auth == "disabled":
        app.add_middleware(AuthOffHeader)  # outermost: on every response, errors included

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem = problems.problem_schema()
        for name, sub in problem.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components["Problem"] = problem
        document_enums(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # the documented FastAPI customisation
    return app
