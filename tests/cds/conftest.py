"""CDS Hooks fixtures: the real app with a real clients file, signing keys, and a signed client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import settings
from tests.cds.support import (
    BASE,
    ISS_EU,
    ISS_US,
    Cds,
    SigningKey,
    client_config,
    es384_key,
    rs384_key,
    write_clients,
)


@pytest.fixture(scope="session")
def es_key() -> SigningKey:
    """The US client's ES384 key."""
    return es384_key("us-es384")


@pytest.fixture(scope="session")
def rs_key() -> SigningKey:
    """The US client's RS384 key."""
    return rs384_key("us-rs384")


@pytest.fixture(scope="session")
def eu_key() -> SigningKey:
    """The EU client's ES384 key."""
    return es384_key("eu-es384")


@pytest.fixture
def make_cds(
    tmp_path: Path, es_key: SigningKey, rs_key: SigningKey, eu_key: SigningKey
) -> Iterator[Callable[..., Cds]]:
    """Build an app with a US client (ES384 and RS384 keys) and an EU client, plus ``clients``
    entries and settings overrides (``ISOCDS_PUBLIC_BASE_URL`` is ``BASE`` unless overridden);
    return a :class:`Cds` signing as ``iss`` with ``key``."""
    opened: list[TestClient] = []

    def build(
        *,
        clients: list[dict[str, Any]] | None = None,
        us: dict[str, Any] | None = None,
        key: SigningKey | None = None,
        iss: str = ISS_US,
        signed: bool = True,
        **overrides: Any,
    ) -> Cds:
        entries = [
            client_config(ISS_US, "US", (es_key, rs_key), **(us or {})),
            client_config(ISS_EU, "EU", (eu_key,)),
            *(clients or []),
        ]
        for entry in entries:  # several clients each need a tenant: the API key's by default
            entry.setdefault("tenant", "default")
        overrides.setdefault("cds_clients_file", write_clients(tmp_path, entries))
        overrides.setdefault("public_base_url", BASE)  # the JWT aud; start-up needs it
        http = TestClient(create_app(settings(**overrides)), raise_server_exceptions=False)
        http.__enter__()
        opened.append(http)
        chosen = key or (eu_key if iss == ISS_EU else es_key)
        return Cds(http=http, key=chosen if signed else None, iss=iss)

    yield build
    for http in opened:
        http.__exit__(None, None, None)


@pytest.fixture
def cds(make_cds: Callable[..., Cds]) -> Cds:
    """A signed US client (ES384)."""
    return make_cds()


@pytest.fixture
def cds_eu(make_cds: Callable[..., Cds]) -> Cds:
    """A signed EU client."""
    return make_cds(iss=ISS_EU)
