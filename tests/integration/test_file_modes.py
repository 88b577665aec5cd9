"""File modes of what the service creates (issue 11, finding 5): the SQLite database and its WAL
and SHM files 0600, their folder and the audit key's folder 0700, whatever the umask.

Each test runs on a fresh temporary path with a permissive umask (0), under which the old code
created a world-readable database (0644) in a world-writable folder (0777).
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from api.audit import load_hmac_key
from db.engine import make_engine
from db.migrate import upgrade
from db.settings import DbSettings
from tests.api.conftest import settings


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 0 for the test (restored after)."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    """The permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("permissive_umask")
def test_a_new_sqlite_database_its_wal_and_shm_and_its_folder_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "deploy" / "var"
    db = folder / "isocds.db"
    url = f"sqlite:///{db}"

    upgrade(url)  # the migrations create the database, as `python -m api` does at start
    engine = make_engine(DbSettings(database_url=SecretStr(url)))
    try:
        with engine.begin() as conn:  # a write, with the connection open: -wal and -shm exist
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS mode_probe (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO mode_probe VALUES (1)")
            wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
            assert wal.exists()
            assert shm.exists()
            assert oct(mode(db)) == oct(0o600)
            assert oct(mode(wal)) == oct(0o600)
            assert oct(mode(shm)) == oct(0o600)
        assert oct(mode(folder)) == oct(0o700)
    finally:
        engine.dispose()


@pytest.mark.usefixtures("permissive_umask")
def test_an_existing_readable_database_is_left_as_it_is_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "old.db"
    db.touch(mode=0o644)
    with caplog.at_level(logging.WARNING, logger="db.engine"):
        engine = make_engine(DbSettings(database_url=SecretStr(f"sqlite:///{db}")))
    engine.dispose()
    assert oct(mode(db)) == oct(0o644)
    assert any("readable by other users" in r.getMessage() for r in caplog.records)


@pytest.mark.usefixtures("permissive_umask")
def test_the_generated_audit_key_and_its_folder_are_private(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "audit-hmac.key"

    key = load_hmac_key(settings(audit_hmac_key=None), key_file)

    assert len(key) == 64
    assert oct(mode(key_file)) == oct(0o600)
    assert oct(mode(key_file.parent)) == oct(0o700)
