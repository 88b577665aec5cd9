"""The engine, built from :class:`DbSettings` at start-up (never at import).

SQLite runs in WAL mode with ``synchronous=FULL`` (an acknowledged write survives power loss, not
only a killed process), foreign keys on, and a busy timeout of ``ISOCDS_DB_TIMEOUT_S``. PostgreSQL
gets the same timeout as its connect and statement timeout.

An SQLite database holds patient references and audit records: its folder is created 0700 and
its file 0600 before SQLite opens it, so that the ``-wal`` and ``-shm`` files SQLite creates next
to it (with the database file's permissions) are 0600 too, whatever the umask. Existing files are
left as they are, with a warning when other users can read them.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from db.settings import DbSettings

logger = logging.getLogger(__name__)

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


def private_folder(folder: Path) -> None:
    """Create ``folder`` readable by its owner only (0700), if it does not exist (its parents
    are created as usual)."""
    if folder.is_dir():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=PRIVATE_FOLDER)
    except FileExistsError:
        return  # created meanwhile by another process


def private_sqlite_file(path: Path) -> None:
    """Create the database file ``path`` empty and 0600 in a 0700 folder, unless it exists (an
    empty file is an empty SQLite database); warn when an existing one is readable by others."""
    private_folder(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            logger.warning(
                "the SQLite database file is readable by other users: chmod 600 it and its "
                "-wal and -shm files",
                extra={"mode": oct(stat.S_IMODE(mode))},
            )
        return
    os.close(fd)


def make_engine(settings: DbSettings, *, reads: bool = False) -> Engine:
    """A sync engine for the configured database (the SQLite folder and file created private).

    With ``reads=True`` (SQLite only) transactions begin DEFERRED: a reader in WAL mode never waits
    for a writer. Otherwise they begin IMMEDIATE, taking the write lock up front.
    """
    url = make_url(settings.database_url.get_secret_value())
    timeout = settings.db_timeout_s
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:" and not url.query.get("uri"):
            private_sqlite_file(Path(url.database).expanduser())
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
