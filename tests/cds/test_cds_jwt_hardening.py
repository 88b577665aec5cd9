"""CDS Hooks JWT hardening (issue 11): the audience never follows ``Host``, tokens live at most
5 minutes, and a client's ``jku`` is fetched at most once per interval, after a failure too.

Keys are real; the JWK Sets are served by :class:`tests.cds.fhir_server.FhirServer` on 127.0.0.1,
which counts every fetch. Token strings are never printed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.requests import Request

from api.cds import clients as cds_clients
from api.cds.security import MAX_LIFETIME_S, Unauthorized, expected_audience
from api.main import create_app
from tests.api.conftest import settings
from tests.cds.fhir_server import FhirServer
from tests.cds.support import BASE, VIEW_SERVICE, Cds, SigningKey, client_config, es384_key
from tests.cds.support import token as signed_token
from tests.cds.test_cds_security import assert_unauthorized, bearer, post_view

MakeCds = Callable[..., Cds]

VIEW = f"/cds-services/{VIEW_SERVICE}"
DISCOVERY = "/cds-services"
HOSPITAL_A = "https://cds.hospital-a.example"
HOSPITAL_B = "https://cds.hospital-b.example"
ISS_JKU = "https://ehr-jku.example.org"
JWKS = "jwks.json"
FAILURE = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]}


def token_for(key: SigningKey, aud: str, **claims: Any) -> str:
    """A token whose ``iat`` and ``exp`` are exactly the integers given in ``claims``."""
    return signed_token(key, aud, claims=claims)


# --- 1. the audience is ISOCDS_PUBLIC_BASE_URL, never the Host header -----------------------------


def test_token_for_another_service_sent_with_its_host_is_refused(
    make_cds: MakeCds, es_key: SigningKey
) -> None:
    http = make_cds(public_base_url=HOSPITAL_A).http
    foreign = signed_token(es_key, HOSPITAL_B + VIEW)
    host_b = {"Host": "cds.hospital-b.example"}
    assert_unauthorized(post_view(http, {**bearer(foreign), **host_b}))
    # The Host header changes nothing: a token for this service is accepted whatever it says.
    ours = signed_token(es_key, HOSPITAL_A + VIEW)
    response = post_view(http, {**bearer(ours), **host_b})
    assert response.status_code == 200, response.text
    found = http.get(
        DISCOVERY, headers={**bearer(signed_token(es_key, HOSPITAL_B + DISCOVERY)), **host_b}
    )
    assert_unauthorized(found)


def test_token_naming_the_test_host_is_refused_when_the_public_url_differs(
    make_cds: MakeCds, es_key: SigningKey
) -> None:
    # Before issue 11 the audience was the request's own URL when no public URL was set.
    http = make_cds(public_base_url=HOSPITAL_A).http
    assert_unauthorized(post_view(http, bearer(signed_token(es_key, BASE + VIEW))))


def test_expected_audience_never_comes_from_the_host_header() -> None:
    # Only ISOCDS_AUTH=disabled may run without a public URL: it then verifies no audience.
    app = create_app(settings(auth="disabled"))
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "scheme": "https",
        "server": ("cds.hospital-b.example", 443),
        "path": VIEW,
        "raw_path": VIEW.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"cds.hospital-b.example")],
    }
    with pytest.raises(Unauthorized):
        expected_audience(app.state.services, Request(scope))


# --- 2. token lifetime: exp - iat at most 5 minutes ----------------------------------------------


def test_ten_year_token_is_refused(cds: Cds, es_key: SigningKey) -> None:
    now = int(time.time())
    long_lived = token_for(es_key, BASE + VIEW, iat=now, exp=now + 10 * 365 * 86400)
    assert_unauthorized(post_view(cds.http, bearer(long_lived)))


def test_lifetime_one_second_over_five_minutes_is_refused(cds: Cds, es_key: SigningKey) -> None:
    now = int(time.time())
    signed = token_for(es_key, BASE + VIEW, iat=now, exp=now + MAX_LIFETIME_S + 1)
    assert_unauthorized(post_view(cds.http, bearer(signed)))


def test_lifetime_of_exactly_five_minutes_is_accepted(cds: Cds, es_key: SigningKey) -> None:
    # The sandbox's tokens: exp = iat + 300.
    assert MAX_LIFETIME_S == 300
    now = int(time.time())
    signed = token_for(es_key, BASE + VIEW, iat=now, exp=now + 300)
    response = post_view(cds.http, bearer(signed))
    assert response.status_code == 200, response.text


def test_old_iat_with_a_fresh_exp_is_refused(cds: Cds, es_key: SigningKey) -> None:
    now = int(time.time())
    signed = token_for(es_key, BASE + VIEW, iat=now - 3600, exp=now + 60)
    assert_unauthorized(post_view(cds.http, bearer(signed)))


def test_exp_before_iat_is_refused(cds: Cds, es_key: SigningKey) -> None:
    now = int(time.time())  # both within the leeway, but exp before iat
    signed = token_for(es_key, BASE + VIEW, iat=now + 20, exp=now + 10)
    assert_unauthorized(post_view(cds.http, bearer(signed)))


@pytest.mark.parametrize("which", ["iat", "exp"])
def test_lifetime_claims_given_as_strings_are_refused(
    cds: Cds, es_key: SigningKey, which: str
) -> None:
    now = int(time.time())
    values: dict[str, Any] = {"iat": now, "exp": now + 60}
    values[which] = str(values[which])  # PyJWT alone reads numeric strings as numbers
    assert_unauthorized(post_view(cds.http, bearer(token_for(es_key, BASE + VIEW, **values))))


def test_token_without_iat_is_refused(cds: Cds, es_key: SigningKey) -> None:
    # CDS Hooks requires iat; without it the lifetime cannot be bounded.
    signed = signed_token(es_key, BASE + VIEW, drop=("iat",))
    assert_unauthorized(post_view(cds.http, bearer(signed)))


def test_a_refused_long_lived_token_does_not_use_up_its_jti(cds: Cds, es_key: SigningKey) -> None:
    now, jti = int(time.time()), str(uuid.uuid4())
    long_lived = token_for(es_key, BASE + VIEW, iat=now, exp=now + 3600, jti=jti)
    assert_unauthorized(post_view(cds.http, bearer(long_lived)))
    fine = token_for(es_key, BASE + VIEW, iat=now, exp=now + 300, jti=jti)
    response = post_view(cds.http, bearer(fine))
    assert response.status_code == 200, response.text


# --- 3. jku: at most one fetch per interval, whatever the last fetch gave ------------------------


@pytest.fixture
def jwks_server() -> Iterator[FhirServer]:
    """A loopback server for a client's JWK Set at ``{base}/jwks.json``; it counts the fetches."""
    with FhirServer(prefix="/keys") as server:
        yield server


def fetches(server: FhirServer) -> int:
    """How many times the JWK Set was fetched."""
    return server.paths().count(JWKS)


def jku_cds(make_cds: MakeCds, server: FhirServer, key: SigningKey) -> Cds:
    """An app whose extra client ``ISS_JKU`` has its keys at ``server``'s ``jwks.json``."""
    entry = client_config(ISS_JKU, "US", jku=f"{server.base}/{JWKS}")
    return make_cds(clients=[entry], key=key, iss=ISS_JKU)


def view_calls(cds: Cds, key: SigningKey, n: int, kid: str | None = None) -> None:
    """``n`` patient-view calls signed by ``key`` (as ``kid``), each refused."""
    for i in range(n):
        headers = {"kid": f"{kid}-{i}"} if kid else None
        signed = signed_token(key, BASE + VIEW, iss=ISS_JKU, headers=headers)
        assert_unauthorized(post_view(cds.http, bearer(signed)))


def test_refresh_interval_is_thirty_seconds() -> None:
    assert cds_clients.REFRESH_AT_MOST_EVERY_S == 30.0


def test_failing_jwks_is_fetched_once_per_interval(
    make_cds: MakeCds, jwks_server: FhirServer
) -> None:
    key = es384_key("jku-fail")
    jwks_server.route(JWKS, FAILURE, status=500)
    cds = jku_cds(make_cds, jwks_server, key)
    view_calls(cds, key, 6)
    assert fetches(jwks_server) == 1


def test_unreachable_jwks_is_fetched_once_per_interval(
    make_cds: MakeCds, jwks_server: FhirServer
) -> None:
    key = es384_key("jku-slow")
    jwks_server.route(JWKS, {"keys": [key.public_jwk]}, delay_s=3)  # over the 1.5 s timeout
    cds = jku_cds(make_cds, jwks_server, key)
    view_calls(cds, key, 3)
    assert fetches(jwks_server) == 1


def test_empty_jwks_is_fetched_once_per_interval(
    make_cds: MakeCds, jwks_server: FhirServer
) -> None:
    key = es384_key("jku-empty")
    jwks_server.route(JWKS, {"keys": []})
    cds = jku_cds(make_cds, jwks_server, key)
    view_calls(cds, key, 6)
    assert fetches(jwks_server) == 1


def test_unknown_kids_after_a_good_fetch_cause_no_refetch(
    make_cds: MakeCds, jwks_server: FhirServer
) -> None:
    key = es384_key("jku-good")
    jwks_server.route(JWKS, {"keys": [key.public_jwk]})
    cds = jku_cds(make_cds, jwks_server, key)
    assert cds.discover().status_code == 200
    view_calls(cds, key, 6, kid="stray")
    assert fetches(jwks_server) == 1


def test_a_failed_fetch_is_retried_once_the_interval_has_passed(
    make_cds: MakeCds, jwks_server: FhirServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cds_clients, "REFRESH_AT_MOST_EVERY_S", 1.0)
    key = es384_key("jku-recover")
    jwks_server.route(JWKS, FAILURE, status=503)
    cds = jku_cds(make_cds, jwks_server, key)
    failed_at = time.monotonic()
    view_calls(cds, key, 3)
    assert fetches(jwks_server) == 1
    jwks_server.route(JWKS, {"keys": [key.public_jwk]})
    view_calls(cds, key, 1)  # still within the interval: no fetch
    assert fetches(jwks_server) == 1
    time.sleep(max(0.0, failed_at + 1.2 - time.monotonic()))
    response = post_view(cds.http, bearer(signed_token(key, BASE + VIEW, iss=ISS_JKU)))
    assert response.status_code == 200, response.text
    assert fetches(jwks_server) == 2


def test_the_interval_is_per_client(make_cds: MakeCds, jwks_server: FhirServer) -> None:
    one, two = es384_key("jku-one"), es384_key("jku-two")
    jwks_server.route(JWKS, FAILURE, status=500)
    jwks_server.route("two.json", {"keys": [two.public_jwk]})
    other = client_config("https://ehr-two.example.org", "US", jku=f"{jwks_server.base}/two.json")
    entry = client_config(ISS_JKU, "US", jku=f"{jwks_server.base}/{JWKS}")
    cds = make_cds(clients=[entry, other], key=one, iss=ISS_JKU)
    view_calls(cds, one, 2)
    signed = signed_token(two, BASE + VIEW, iss="https://ehr-two.example.org")
    response = post_view(cds.http, bearer(signed))
    assert response.status_code == 200, response.text
    assert jwks_server.paths() == [JWKS, "two.json"]
