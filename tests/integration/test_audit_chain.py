"""The audit chain (issue 11): every record links to the previous one of its tenant, and
``python -m api audit verify`` finds an edited or deleted record, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlmodel import Session

from api.examples import A1_REQUEST
from api.main import create_app
from db.audit_chain import verify
from tests.api.conftest import key_entry, settings
from tests.database import HMAC_KEY, create_pg_database, fresh_sqlite_url

ROOT = Path(__file__).resolve().parents[2]
A_SECRET = "clinic-a-secret-0123456789"  # noqa: S105  # test keys
B_SECRET = "clinic-b-secret-0123456789"  # noqa: S105


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database of each engine."""
    return fresh_sqlite_url() if request.param == "sqlite" else create_pg_database()


@pytest.fixture
def app_client(database_url: str) -> Iterator[TestClient]:
    keys = ",".join([key_entry("a", A_SECRET, "clinic-a"), key_entry("b", B_SECRET, "clinic-b")])
    app = create_app(settings(database_url=database_url, api_keys=SecretStr(keys)))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _assess(client: TestClient, secret: str, n: int) -> None:
    for i in range(n):
        body = copy.deepcopy(A1_REQUEST)
        body["profile"]["age_years"] = 19 + i % 5
        r = client.post("/v1/assessments", json=body, headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 200, r.text


def _reports(database_url: str) -> dict[str, tuple[int, str | None]]:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return {r.tenant: (r.records, r.broken) for r in verify(session, HMAC_KEY.encode())}
    finally:
        engine.dispose()


def _sql(database_url: str, statement: str, **params: object) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        engine.dispose()


def _ids(database_url: str, tenant: str) -> list[int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id FROM audit_record WHERE tenant = :t ORDER BY chain_seq"),
                {"t": tenant},
            )
            return [r[0] for r in rows]
    finally:
        engine.dispose()


def test_each_tenant_has_an_intact_chain(app_client: TestClient, database_url: str) -> None:
    _assess(app_client, A_SECRET, 4)
    _assess(app_client, B_SECRET, 3)
    assert _reports(database_url) == {"clinic-a": (4, None), "clinic-b": (3, None)}


def test_concurrent_writers_build_one_unbroken_chain(
    app_client: TestClient, database_url: str
) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda s: _assess(app_client, s, 5), [A_SECRET, B_SECRET] * 4))
    assert _reports(database_url) == {"clinic-a": (20, None), "clinic-b": (20, None)}


def test_an_edited_record_is_found(app_client: TestClient, database_url: str) -> None:
    _assess(app_client, A_SECRET, 4)
    _assess(app_client, B_SECRET, 2)
    target = _ids(database_url, "clinic-a")[2]
    _sql(
        database_url, "UPDATE audit_record SET decision = 'do-not-start' WHERE id = :id", id=target
    )
    reports = _reports(database_url)
    assert reports["clinic-b"] == (2, None)
    records, broken = reports["clinic-a"]
    assert broken is not None
    assert f"record {target} " in broken
    assert "changed" in broken
    assert records == 2  # the two records before it verified


def test_a_deleted_record_is_found(app_client: TestClient, database_url: str) -> None:
    _assess(app_client, A_SECRET, 4)
    ids = _ids(database_url, "clinic-a")
    _sql(database_url, "DELETE FROM audit_record WHERE id = :id", id=ids[1])
    broken = _reports(database_url)["clinic-a"][1]
    assert broken is not None
    assert "missing" in broken


def test_deleting_the_last_records_is_found(app_client: TestClient, database_url: str) -> None:
    _assess(app_client, A_SECRET, 3)
    ids = _ids(database_url, "clinic-a")
    _sql(database_url, "DELETE FROM audit_record WHERE id = :id", id=ids[-1])
    broken = _reports(database_url)["clinic-a"][1]
    assert broken is not None
    assert "deleted" in broken


def test_a_record_moved_to_another_tenant_is_found(
    app_client: TestClient, database_url: str
) -> None:
    _assess(app_client, A_SECRET, 2)
    _assess(app_client, B_SECRET, 2)
    ids = _ids(database_url, "clinic-a")
    _sql(
        database_url,
        "UPDATE audit_record SET tenant = 'clinic-b', chain_seq = 3 WHERE id = :id",
        id=ids[1],
    )
    reports = _reports(database_url)
    assert reports["clinic-a"][1] is not None
    assert reports["clinic-b"][1] is not None


def _cli(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ISOCDS_DATABASE_URL": database_url,
        "ISOCDS_AUDIT_HMAC_KEY": HMAC_KEY,
        "ISOCDS_API_KEYS": "",
    }
    return subprocess.run(  # our own CLI
        [sys.executable, "-m", "api", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_reports_intact_chains_and_the_first_broken_link(
    app_client: TestClient, database_url: str
) -> None:
    _assess(app_client, A_SECRET, 3)
    _assess(app_client, B_SECRET, 1)
    ok = _cli(database_url)
    assert ok.returncode == 0, ok.stderr
    assert "tenant clinic-a: 3 records: intact" in ok.stdout
    assert "tenant clinic-b: 1 records: intact" in ok.stdout
    target = _ids(database_url, "clinic-a")[1]
    _sql(database_url, "UPDATE audit_record SET caller = 'someone-else' WHERE id = :id", id=target)
    bad = _cli(database_url)
    assert bad.returncode == 1
    assert f"tenant clinic-a: 1 records: BROKEN at record {target} " in bad.stdout
    assert "tenant clinic-b: 1 records: intact" in bad.stdout


def test_records_from_before_the_chain_are_reported_not_chained(
    app_client: TestClient, database_url: str
) -> None:
    _assess(app_client, A_SECRET, 2)
    _sql(
        database_url,
        "INSERT INTO audit_record (recorded_at, request_id, caller, endpoint, tenant, as_of, "
        "jurisdiction, epoch, ruleset_version, catalogue_hash, findings, input_hmac) VALUES "
        "('2026-11-01 00:00:00', 'r', 'old', '/v1/assessments', 'clinic-a', '2026-11-01', 'US', "
        "'US/ipledge-2026', '2026.1', 'h', '[]', 'x')",
    )
    out = _cli(database_url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 records, 1 written before the chain (not verifiable): intact" in out.stdout
