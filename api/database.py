"""One transaction per request, database failures as 503 problems, and ``Idempotency-Key``.

Routes that touch the database are plain ``def`` routes (FastAPI runs them in its threadpool):
they open their transaction with :func:`transaction`, which commits before the response is
built, so a write is acknowledged only after its commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session

from api.deps import Services
from api.problems import ProblemError, problem_response
from api.security import Principal
from db.audit import AuditUnavailableError, WriteLockTimeoutError, held
from db.repositories import COMPLETED, KEEP_KEYS, IdempotencyRepository

logger = logging.getLogger(__name__)
T = TypeVar("T")

STALE_CLAIM = timedelta(seconds=30)  # an in-flight claim this old belongs to a request that died
IDEMPOTENCY_HEADER = "Idempotency-Key"


@contextmanager
def transaction(services: Services, *, write: bool = True) -> Iterator[Session]:
    """A session in one transaction: commit on success, roll back on any exception.

    SQLite has one writer at a time: write transactions of this process queue on an in-process
    lock (first come, first served) rather than poll SQLite's busy handler; read transactions use
    the read engine and never wait for a writer.
    """
    if not write:
        with Session(services.read_engine, expire_on_commit=False) as session, session.begin():
            yield session
        return
    lock = held(services.write_lock, services.settings.db.db_timeout_s)
    with lock, Session(services.engine, expire_on_commit=False) as session, session.begin():
        yield session


class DatabaseTimeoutError(Exception):
    """Database work did not finish within ``ISOCDS_DB_TIMEOUT_S`` (a hung database)."""


async def db_call(services: Services, fn: Callable[..., T], *args: Any) -> T:
    """Run blocking database work in a worker thread, answering within ``ISOCDS_DB_TIMEOUT_S``.

    A database that hangs (accepts, then never answers) is not bounded by the driver's timeouts
    on a connection already open: the deadline is kept here, and a thread still waiting on the
    database is abandoned (it finishes, or fails, when the database returns).
    """
    call = partial(fn, *args)
    try:
        return await asyncio.wait_for(
            anyio.to_thread.run_sync(call, abandon_on_cancel=True),
            services.settings.db.db_timeout_s,
        )
    except TimeoutError:
        raise DatabaseTimeoutError("database work timed out") from None


def install(app: FastAPI) -> None:
    """Answer database and audit failures with 503 problems."""

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        logger.error("database unavailable", extra={"error": type(exc).__name__})
        return problem_response(
            request, 503, "the database is unavailable; retry later", headers={"Retry-After": "5"}
        )

    async def conflict(request: Request, exc: Exception) -> JSONResponse:
        logger.warning("write conflict", extra={"error": type(exc).__name__})
        return problem_response(
            request, 409, "the write conflicts with data stored meanwhile; retry"
        )

    app.add_exception_handler(IntegrityError, conflict)
    for exc_type in (
        OperationalError,
        DBAPIError,
        PoolTimeoutError,
        AuditUnavailableError,
        WriteLockTimeoutError,
        DatabaseTimeoutError,
    ):
        app.add_exception_handler(exc_type, unavailable)


def fingerprint(request: Request, body: BaseModel | None) -> str:
    """What makes two requests "the same": method, route path and the validated body."""
    text = "" if body is None else body.model_dump_json()
    target = f"{request.method} {request.url.path}?{request.url.query}"
    return hashlib.sha256(f"{target}\n{text}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed key (of one caller in one tenant): complete it with the answer, in the
    transaction of the write."""

    tenant: str
    caller: str
    key: str


def idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key`` (1–200 printable characters), if any; only POSTs take one."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None or request.method != "POST":
        return None
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise ProblemError(422, "Idempotency-Key must be 1–200 printable characters")
    return key


def begin(
    services: Services, request: Request, caller: Principal, body: BaseModel | None
) -> Claim | Response | None:
    """Claim the request's key: a :class:`Claim` to proceed, a stored response to replay, or
    ``None`` when the request has no key. Raises 409 (still in flight) or 422 (reused key).

    Keys are scoped to the caller's tenant and key ID: no answer is ever replayed to another."""
    key = idempotency_key(request)
    if key is None:
        return None
    fp = fingerprint(request, body)
    now = datetime.now(UTC)
    claim = Claim(caller.tenant, caller.key_id, key)
    with transaction(services) as session:
        repo = IdempotencyRepository(session)
        existing = repo.claim(claim.tenant, claim.caller, key, fp, now)
        if existing is None:
            return claim
        if existing.fingerprint != fp:
            raise ProblemError(
                422,
                "this Idempotency-Key was used with another request body",
                slug="idempotency-key-reused",
            )
        if existing.state == COMPLETED:
            headers = {"Idempotent-Replayed": "true"}
            if existing.location:
                headers["Location"] = existing.location
            if existing.etag:
                headers["ETag"] = existing.etag
            return Response(
                existing.response_body or b"",
                status_code=existing.status_code or 200,
                media_type="application/json",
                headers=headers,
            )
        # Still in flight: take it over only if it is stale (its request died).
        if existing.id is not None and repo.take_over(existing.id, fp, now, now - STALE_CLAIM):
            return claim
    raise ProblemError(
        409, "a request with this Idempotency-Key is still in flight", slug="idempotency-in-flight"
    )


def complete(session: Session, claim: Claim | None, response: Response) -> None:
    """Store the answer of a claimed key, in the caller's transaction."""
    if claim is None:
        return
    IdempotencyRepository(session).complete(
        claim.tenant,
        claim.caller,
        claim.key,
        status_code=response.status_code,
        body=bytes(response.body),
        location=response.headers.get("Location"),
        etag=response.headers.get("ETag"),
    )


def release(services: Services, claim: Claim | None) -> None:
    """Drop a claim whose request failed, so that a retry may proceed."""
    if claim is None:
        return
    try:
        with transaction(services) as session:
            IdempotencyRepository(session).release(claim.tenant, claim.caller, claim.key)
    except (OperationalError, DBAPIError, PoolTimeoutError):
        logger.warning("could not release an idempotency claim; it expires after 60 s")


def run_write(
    services: Services,
    request: Request,
    caller: Principal,
    body: BaseModel | None,
    work: Callable[[Session], Response],
) -> Response:
    """Run a write once per ``Idempotency-Key``: the write and the stored answer commit together."""
    claimed = begin(services, request, caller, body)
    if isinstance(claimed, Response):
        return claimed
    try:
        with transaction(services) as session:
            response = work(session)
            complete(session, claimed, response)
        return response
    except BaseException:
        release(services, claimed)
        raise


def purge_keys(services: Services) -> None:
    """Forget idempotency keys older than 48 hours (they are kept at least 24)."""
    with transaction(services) as session:
        IdempotencyRepository(session).purge(datetime.now(UTC) - KEEP_KEYS)
