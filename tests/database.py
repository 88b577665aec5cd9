"""Real test databases: a migrated SQLite file, and a fresh PostgreSQL database per test session.

PostgreSQL must be running on 127.0.0.1:5432 (``.ci/run`` starts it): the tests that need it fail,
never skip, when it is not.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from functools import lru_cache
from pathlib import Path

import psycopg

from db.migrate import upgrade

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@lru_cache(maxsize=1)
def sqlite_url() -> str:
    """A migrated SQLite database file, shared by the tests of this process."""
    folder = Path(tempfile.mkdtemp(prefix="isocds-test-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    url = f"sqlite:///{folder}/test.db"
    upgrade(url)
    return url


def fresh_sqlite_url() -> str:
    """A new, migrated SQLite database file."""
    folder = Path(tempfile.mkdtemp(prefix="isocds-test-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    url = f"sqlite:///{folder}/test.db"
    upgrade(url)
    return url


def create_pg_database(migrate: bool = True) -> str:
    """A new PostgreSQL database (dropped at exit), migrated unless asked not to."""
    name = f"isocds_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    atexit.register(drop_pg_database, name)
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    if migrate:
        upgrade(url)
    return url


def drop_pg_database(name: str) -> None:
    """Drop a test database (closing its connections first)."""
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass


@lru_cache(maxsize=1)
def pg_url() -> str:
    """A migrated PostgreSQL database shared by the tests of this process."""
    return create_pg_database()


HMAC_KEY = "test-audit-hmac-key-0123456789abcdef0123"
