"""The CDS Hooks sandbox's tokens and inline keys (issue 12, part 2).

The sandbox always sends a ``jku`` JWT header. For a client configured with an inline JWK Set
nothing is ever fetched, so the token's ``jku`` is ignored (logged at debug, never with the
token); a client configured with a ``jku`` still needs that exact URL. The JWK Sets are served by
:class:`tests.cds.fhir_server.FhirServer` on 127.0.0.1, which records every request: an empty
record proves nothing was fetched. Token strings are never printed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from tests.cds.fhir_server import FhirServer
from tests.cds.support import (
    BASE,
    ISS_US,
    SELECT_SERVICE,
    VIEW_SERVICE,
    Cds,
    SigningKey,
    client_config,
    es384_key,
    token,
)
from tests.cds.test_cds_security import (
    assert_unauthorized,
    bearer,
    minocycline_order_body,
    post_view,
)

MakeCds = Callable[..., Cds]

VIEW = f"/cds-services/{VIEW_SERVICE}"
DISCOVERY = "/cds-services"
ISS_JKU = "https://ehr-jku.example.org"
JWKS = "jwks.json"


@pytest.fixture
def keys() -> Iterator[FhirServer]:
    """A loopback server for JWK Sets (``{base}/jwks.json`` and others); it records each fetch."""
    with FhirServer(prefix="/keys") as server:
        yield server


def sandbox_token(key: SigningKey, path: str, jku: str, iss: str = ISS_US) -> str:
    """A token as the sandbox signs it: ES384, ``typ`` JWT, a ``jku`` header, ``iat`` a little in
    the future."""
    return token(key, BASE + path, iss=iss, iat_offset=0.4, headers={"jku": jku})


def test_inline_jwks_client_accepts_a_token_naming_a_foreign_jku_and_fetches_nothing(
    cds: Cds, es_key: SigningKey, keys: FhirServer
) -> None:
    keys.route(JWKS, {"keys": [es_key.public_jwk]})
    jku = f"{keys.base}/{JWKS}"

    response = post_view(cds.http, bearer(sandbox_token(es_key, VIEW, jku)))

    assert response.status_code == 200, response.text
    assert keys.seen == []


def test_inline_jwks_client_with_a_sandbox_jku_reaches_discovery_cards_and_feedback(
    cds: Cds, es_key: SigningKey, keys: FhirServer
) -> None:
    jku = f"{keys.base}/sandbox/.well-known/jwks.json"
    http = cds.http
    found = http.get(DISCOVERY, headers=bearer(sandbox_token(es_key, DISCOVERY, jku)))
    assert found.status_code == 200, found.text
    path = f"/cds-services/{SELECT_SERVICE}"
    called = http.post(
        path, json=minocycline_order_body(), headers=bearer(sandbox_token(es_key, path, jku))
    )
    assert called.status_code == 200, called.text
    assert called.json()["cards"]
    item = {
        "card": called.json()["cards"][0]["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    feedback = f"{path}/feedback"
    answered = http.post(
        feedback, json={"feedback": [item]}, headers=bearer(sandbox_token(es_key, feedback, jku))
    )
    assert answered.status_code == 200, answered.text
    assert keys.seen == []


def test_a_key_published_only_at_the_tokens_jku_is_not_trusted(cds: Cds, keys: FhirServer) -> None:
    # The attacker's key sits at the jku the token names: the client's inline keys decide.
    attacker = es384_key("us-es384")  # even under the kid of the client's own key
    keys.route(JWKS, {"keys": [attacker.public_jwk]})

    forged = sandbox_token(attacker, VIEW, f"{keys.base}/{JWKS}")

    assert_unauthorized(post_view(cds.http, bearer(forged)))
    assert keys.seen == []


def test_a_token_naming_a_foreign_jku_still_needs_every_other_check(
    cds: Cds, es_key: SigningKey, keys: FhirServer
) -> None:
    jku = f"{keys.base}/{JWKS}"
    wrong_audience = token(es_key, BASE + DISCOVERY, headers={"jku": jku})
    replayed_jti = str(uuid.uuid4())
    first = token(es_key, BASE + VIEW, jti=replayed_jti, headers={"jku": jku})

    assert_unauthorized(post_view(cds.http, bearer(wrong_audience)))
    assert post_view(cds.http, bearer(first)).status_code == 200
    assert_unauthorized(post_view(cds.http, bearer(first)))
    assert keys.seen == []


def test_jku_client_refuses_a_token_naming_a_different_jku_and_fetches_neither(
    make_cds: MakeCds, keys: FhirServer
) -> None:
    key = es384_key("jku-own")
    keys.route(JWKS, {"keys": [key.public_jwk]})
    keys.route("other.json", {"keys": [key.public_jwk]})
    cds = make_cds(
        clients=[client_config(ISS_JKU, "US", jku=f"{keys.base}/{JWKS}")], key=key, iss=ISS_JKU
    )

    other = sandbox_token(key, VIEW, f"{keys.base}/other.json", iss=ISS_JKU)

    assert_unauthorized(post_view(cds.http, bearer(other)))
    assert keys.paths() == []  # refused before any key is looked up
    own = sandbox_token(key, VIEW, f"{keys.base}/{JWKS}", iss=ISS_JKU)
    response = post_view(cds.http, bearer(own))
    assert response.status_code == 200, response.text
    assert keys.paths() == [JWKS]


def test_the_ignored_jku_is_logged_at_debug_without_the_token(
    cds: Cds, es_key: SigningKey, keys: FhirServer, caplog: pytest.LogCaptureFixture
) -> None:
    jku = f"{keys.base}/{JWKS}"
    signed = sandbox_token(es_key, VIEW, jku)
    caplog.set_level(logging.DEBUG, logger="api.cds.security")

    assert post_view(cds.http, bearer(signed)).status_code == 200

    [record] = [r for r in caplog.records if r.name == "api.cds.security"]
    assert record.levelno == logging.DEBUG
    assert record.__dict__["jku"] == jku
    assert record.__dict__["iss"] == ISS_US
    for r in caplog.records:
        assert signed not in r.getMessage()
        assert signed not in repr(r.__dict__)
