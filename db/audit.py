"""Group commit of audit records: every answered evaluation's record is committed first.

A request hands its record to :meth:`AuditWriter.record` and waits. Each record is linked into its
tenant's audit chain in the same transaction (:mod:`db.audit_chain`). One writer thread takes every
record waiting, inserts them in one transaction and commits, then wakes each request. Concurrent
requests share a commit; none is answered before its record is durable, and there is no
fire-and-forget queue. If the commit fails (or takes longer than ``ISOCDS_DB_TIMEOUT_S``) each
waiting request gets :class:`AuditUnavailableError`, which the API answers with 503.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from db.audit_chain import chain
from db.repositories import AuditRepository

logger = logging.getLogger(__name__)

MAX_BATCH = 512


class AuditUnavailableError(Exception):
    """The audit record could not be committed: the evaluation must not be answered."""


@dataclass(slots=True)
class _Pending:
    row: dict[str, Any]
    cards: list[dict[str, Any]]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


class AuditWriter:
    """The group-commit writer (one thread per process)."""

    def __init__(
        self,
        engine: Engine,
        timeout_s: float,
        write_lock: threading.Lock | None = None,
        *,
        chain_key: bytes,
    ) -> None:
        self.engine = engine
        self.chain_key = chain_key
        self.timeout_s = timeout_s
        self.write_lock = write_lock
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.commits = 0
        self.records = 0

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Write what is waiting, then stop the thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout_s)
        self._thread = None

    async def record(self, row: dict[str, Any], cards: list[dict[str, Any]] | None = None) -> None:
        """Commit ``row`` (sharing the commit with concurrent records); raise if it cannot be.

        ``cards`` are the CDS Hooks cards the audited call issues (``cds_card`` rows): they are
        committed in the same transaction as its audit record.
        """
        if self._thread is None:
            raise AuditUnavailableError("the audit writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put(_Pending(row, cards or [], loop, future))
        try:
            await asyncio.wait_for(asyncio.shield(future), self.timeout_s)
        except TimeoutError:
            # Nobody waits any more: read the outcome when it comes, so it is not reported as an
            # exception never retrieved.
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            raise AuditUnavailableError("the audit commit timed out") from None

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            with (
                held(self.write_lock, self.timeout_s),
                Session(self.engine) as session,
                session.begin(),
            ):
                repo = AuditRepository(session)
                rows = [dict(p.row) for p in batch]
                chain(session, self.chain_key, rows)  # links each record to its tenant's chain
                repo.add_many(rows)
                repo.add_cards([c for p in batch for c in p.cards])
            self.commits += 1
            self.records += len(batch)
        except Exception as exc:  # every database failure means: not audited
            error = exc
            logger.error(
                "audit commit failed",
                extra={"records": len(batch), "error": type(exc).__name__},
            )
        for p in batch:
            p.loop.call_soon_threadsafe(_settle, p.future, error)
        if error is None:
            logger.debug(
                "audit commit",
                extra={
                    "records": len(batch),
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )


@contextmanager
def held(lock: threading.Lock | None, timeout_s: float) -> Iterator[None]:
    """Hold ``lock`` (SQLite's in-process writer lock) for the block, if there is one."""
    if lock is None:
        yield
        return
    if not lock.acquire(timeout=timeout_s):
        raise WriteLockTimeoutError("the database writer lock was not free in time")
    try:
        yield
    finally:
        lock.release()


class WriteLockTimeoutError(Exception):
    """SQLite's in-process writer lock was held longer than ``ISOCDS_DB_TIMEOUT_S``."""


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(AuditUnavailableError("the audit record could not be committed"))
