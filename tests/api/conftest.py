"""API test fixtures: the real app (real settings objects, real middleware) over the ASGI client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import create_app
from api.settings import Settings
from db.settings import DbSettings
from tests.database import HMAC_KEY, sqlite_url

KEY_ID = "ehr-test"
SECRET = "s3cret-for-tests-0123456789"  # noqa: S105  # a test key
AUTH = {"Authorization": f"Bearer {SECRET}"}
ALL_SCOPES = "evaluate+courses:read+courses:write+audit:read+feedback:read"
"""Every scope: the test key reads the audit trail and the feedback summary too."""


def key_entry(key_id: str, secret: str, tenant: str = "default", scopes: str = ALL_SCOPES) -> str:
    """An ``ISOCDS_API_KEYS`` entry: ``key_id:secret:tenant:scope+scope``."""
    return f"{key_id}:{secret}:{tenant}:{scopes}"


def settings(**overrides: Any) -> Settings:
    """Test settings: one API key (tenant ``default``, every scope), a migrated SQLite database,
    and anything overridden.

    ``database_url=...`` is a shortcut for the database setting.
    """
    url = overrides.pop("database_url", None) or sqlite_url()
    values: dict[str, Any] = {
        "api_keys": SecretStr(key_entry(KEY_ID, SECRET)),
        "timezone": "UTC",
        "audit_hmac_key": SecretStr(HMAC_KEY),
        "db": DbSettings(database_url=SecretStr(url)),
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Build a client for an app with the given settings overrides."""
    clients: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        app: FastAPI = create_app(settings(**overrides))
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    """A client for an app with one API key; send ``AUTH`` headers."""
    return make_client()
