"""The engine, built from :class:`DbSettings` at start-up (never at import).

SQLite runs in WAL mode with ``synchronous=FULL`` (an acknowledged write survives power loss, not
only a killed process), foreign keys on, and a busy timeout of ``ISOCDS_DB_TIMEOUT_S``. PostgreSQL
gets the same timeout as its connect and statement timeout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from db.settings import DbSettings


def make_engine(settings: DbSettings, *, reads: bool = False) -> Engine:
    """A sync engine for the configured database (the SQLite folder is created).

    With ``reads=True`` (SQLite only) transactions begin DEFERRED: a reader in WAL mode never waits
    for a writer. Otherwise they begin IMMEDIATE, taking the write lock up front.
    """
    url = make_url(settings.database_url.get_secret_value())
    timeout = settings.db_timeout_s
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": timeout, "check_same_thread": False},
            pool_size=8,
            max_overflow=8,
            pool_timeout=timeout,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_deferred if reads else _sqlite_begin)
        return engine
    ms = int(timeout * 1000)
    return create_engine(
        url,
        connect_args={
            "connect_timeout": max(1, int(timeout)),
            "options": f"-c statement_timeout={ms} -c lock_timeout={ms}",
        },
        pool_size=10,
        max_overflow=10,
        pool_timeout=timeout,
        pool_pre_ping=True,
    )


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    # pysqlite's own transaction handling is switched off: BEGIN is issued in _sqlite_begin, so
    # SQLAlchemy decides the transaction boundaries (and writers take the lock up front).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin_deferred(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE: take the write lock at BEGIN, so two writers queue on the busy timeout instead of
    # failing later with "database is locked" when one upgrades a read lock.
    conn.exec_driver_sql("BEGIN IMMEDIATE")
