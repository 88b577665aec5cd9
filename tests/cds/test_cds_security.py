"""CDS Hooks security: JWT verification (algorithms, iss, kid, aud, exp/iat/jti, replay, jku),
``ISOCDS_AUTH=disabled``, CORS preflights, the clients file, and that tokens never reach the logs.

Keys and JWKS are real: tokens are signed with the session keys, and a ``jku`` is served by a real
HTTP server on 127.0.0.1 started here. Token strings are never printed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from httpx2 import Response
from pydantic import SecretStr

from api.cds import clients as cds_clients
from api.cds.clients import ANONYMOUS_ISS
from api.settings import SettingsError, load_settings
from tests.api.conftest import AUTH, KEY_ID, SECRET, key_entry
from tests.cds.support import (
    BASE,
    ISOTRETINOIN_40,
    ISS_EU,
    ISS_US,
    SELECT_SERVICE,
    VIEW_SERVICE,
    Cds,
    SigningKey,
    age_birth,
    bundle,
    card_for,
    client_config,
    days_ago,
    es384_key,
    full_prefetch,
    hook_request,
    medication_request,
    patient,
    pregnancy_potential,
    token,
    write_clients,
)
from tests.database import fresh_sqlite_url, pg_url

DISCOVERY = "/cds-services"
VIEW = f"/cds-services/{VIEW_SERVICE}"
ORDER = f"/cds-services/{SELECT_SERVICE}"
ISS_JKU = "https://ehr-jku.example.org"
ORIGIN = "https://ehr.example.org"
TETRACYCLINES = "interaction.tetracyclines"

MakeCds = Callable[..., Cds]


# --- a real JSON (JWKS / FHIR) server on 127.0.0.1 ---------------------------------------------


class JsonServer:
    """Answers every GET with ``body`` as JSON; records each request's path and Authorization."""

    def __init__(self, body: Any) -> None:
        self.body = body
        self.seen: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def hits(self) -> int:
        """How many requests arrived."""
        with self._lock:
            return len(self.seen)

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the http.server hook name
                with owner._lock:
                    owner.seen.append((self.path, self.headers.get("Authorization")))
                    data = json.dumps(owner.body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                """Silent (request lines would carry the Authorization-free path only)."""

        return Handler


@pytest.fixture
def serve() -> Iterator[Callable[[Any], JsonServer]]:
    """Start JSON servers on 127.0.0.1 (stopped at teardown)."""
    started: list[JsonServer] = []

    def start(body: Any) -> JsonServer:
        server = JsonServer(body)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


# --- tokens and requests -----------------------------------------------------------------------


def bearer(jwt_text: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {jwt_text}"}


def claims(aud: str, iss: str = ISS_US) -> dict[str, Any]:
    """Valid claims for ``aud``."""
    now = int(time.time())
    return {"iss": iss, "aud": aud, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())


def unsigned_token(payload: dict[str, Any], kid: str) -> str:
    """An ``alg: none`` token."""
    return _segments({"alg": "none", "typ": "JWT", "kid": kid}, payload) + "."


def hmac_token(alg: str, secret: bytes, payload: dict[str, Any], kid: str) -> str:
    """An HS256/HS384 token signed with ``secret`` (built by hand: PyJWT refuses PEM secrets)."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384}[alg]
    signing_input = _segments({"alg": alg, "typ": "JWT", "kid": kid}, payload)
    signature = hmac.new(secret, signing_input.encode(), digest).digest()
    return signing_input + "." + _b64(signature)


def public_pem(key: SigningKey) -> bytes:
    """The PEM of ``key``'s public half (what an HMAC key-confusion attack signs with)."""
    data: bytes = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


def view_body() -> dict[str, Any]:
    """A valid patient-view call (no exposure: ``{"cards": []}``)."""
    return hook_request("patient-view", full_prefetch())


def post_view(http: TestClient, headers: dict[str, str]) -> Response:
    """``POST`` the patient-view service."""
    return http.post(VIEW, json=view_body(), headers=headers)


def minocycline_order_body() -> dict[str, Any]:
    """Vignette B1 at order-select: a draft isotretinoin order, active oral minocycline."""
    draft = medication_request(*ISOTRETINOIN_40, status="draft", mg_per_dose=40)
    prefetch = full_prefetch(
        patient=patient(age_birth(24)),
        medRequests=bundle(medication_request(None, "minocycline 100 MG Oral Capsule")),
        pregnancyPotential=bundle(pregnancy_potential("cannot-become-pregnant", days_ago(10))),
    )
    return hook_request("order-select", prefetch, draft=[draft])


def assert_unauthorized(response: Response) -> None:
    """A 401 with ``WWW-Authenticate: Bearer`` and an OperationOutcome (login, no diagnostics)."""
    assert response.status_code == 401, response.status_code
    assert response.headers.get("www-authenticate") == "Bearer"
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert len(body["issue"]) == 1
    issue = body["issue"][0]
    assert issue["severity"] == "error"
    assert issue["code"] == "login"
    assert "diagnostics" not in issue
    assert "expression" not in issue


def audit_records(http: TestClient, instance: str) -> list[dict[str, Any]]:
    """The audit records of one ``hookInstance`` (the app must use a fresh database)."""
    response = http.get("/v1/audit", params={"limit": 1000}, headers=AUTH)
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return [r for r in records if r["hook_instance"] == instance]


def tetracycline_card(response: Response) -> dict[str, Any]:
    """The interaction card of a B1 answer."""
    assert response.status_code == 200, response.text
    card = card_for(response.json()["cards"], TETRACYCLINES)
    assert card is not None
    return card


# --- 1. valid tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES384", "RS384"])
def test_valid_token_is_accepted_on_discovery_service_and_feedback(
    make_cds: MakeCds, es_key: SigningKey, rs_key: SigningKey, alg: str
) -> None:
    cds = make_cds(key=es_key if alg == "ES384" else rs_key)
    assert cds.key is not None
    assert cds.key.alg == alg
    assert cds.discover().status_code == 200
    cards = cds.cards(SELECT_SERVICE, minocycline_order_body())
    card = tetracycline_card_from(cards)
    item = {
        "card": card["uuid"],
        "outcome": "accepted",
        "outcomeTimestamp": datetime.now(UTC).isoformat(),
    }
    response = cds.feedback(SELECT_SERVICE, {"feedback": [item]})
    assert response.status_code == 200, response.text


def tetracycline_card_from(cards: list[dict[str, Any]]) -> dict[str, Any]:
    """The interaction card among ``cards``."""
    card = card_for(cards, TETRACYCLINES)
    assert card is not None
    return card


def test_every_endpoint_refuses_a_call_without_a_token(make_cds: MakeCds) -> None:
    http = make_cds(signed=False).http
    assert_unauthorized(http.get(DISCOVERY))
    assert_unauthorized(post_view(http, {}))
    item = {"card": str(uuid.uuid4()), "outcome": "accepted", "outcomeTimestamp": "2026-01-01"}
    assert_unauthorized(http.post(f"{ORDER}/feedback", json={"feedback": [item]}))


# --- 2. expiry -----------------------------------------------------------------------------------


def test_token_expired_beyond_the_leeway_is_refused(cds: Cds, es_key: SigningKey) -> None:
    old = token(es_key, BASE + VIEW, exp_in=-120, iat_offset=-420)
    assert_unauthorized(post_view(cds.http, bearer(old)))


def test_token_expired_within_the_leeway_is_accepted(cds: Cds, es_key: SigningKey) -> None:
    recent = token(es_key, BASE + VIEW, exp_in=-30, iat_offset=-330)
    response = post_view(cds.http, bearer(recent))
    assert response.status_code == 200, response.text


# --- 3. audience ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "aud",
    [
        "https://other.example.org/cds-services/isotretinoin-patient-view",
        BASE + DISCOVERY,
        BASE + ORDER,
        BASE + VIEW + "/",
        [BASE + DISCOVERY, BASE + ORDER],
    ],
    ids=["other-host", "discovery-url", "other-service", "trailing-slash", "array-without-url"],
)
def test_wrong_audience_is_refused(cds: Cds, es_key: SigningKey, aud: str | list[str]) -> None:
    assert_unauthorized(post_view(cds.http, bearer(token(es_key, aud))))


def test_audience_array_holding_the_exact_url_is_accepted(cds: Cds, es_key: SigningKey) -> None:
    aud = ["https://other.example.org/cds-services", BASE + VIEW]
    response = post_view(cds.http, bearer(token(es_key, aud)))
    assert response.status_code == 200, response.text


def test_discovery_needs_its_own_url_as_audience(cds: Cds, es_key: SigningKey) -> None:
    assert_unauthorized(cds.http.get(DISCOVERY, headers=bearer(token(es_key, BASE + VIEW))))
    ok = cds.http.get(DISCOVERY, headers=bearer(token(es_key, BASE + DISCOVERY)))
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("public", ["https://cds.example.org", "https://cds.example.org/isocds/"])
def test_audience_follows_the_public_base_url(
    make_cds: MakeCds, es_key: SigningKey, public: str
) -> None:
    http = make_cds(public_base_url=public).http
    base = public.rstrip("/")
    assert_unauthorized(post_view(http, bearer(token(es_key, BASE + VIEW))))
    response = post_view(http, bearer(token(es_key, base + VIEW)))
    assert response.status_code == 200, response.text
    found = http.get(DISCOVERY, headers=bearer(token(es_key, base + DISCOVERY)))
    assert found.status_code == 200, found.text


# --- 4. issuer, key, algorithm, claims, header ---------------------------------------------------


def test_unknown_issuer_is_refused(cds: Cds, es_key: SigningKey) -> None:
    signed = token(es_key, BASE + VIEW, iss="https://rogue.example.org")
    assert_unauthorized(post_view(cds.http, bearer(signed)))


def test_issuer_of_another_client_with_this_key_is_refused(cds: Cds, es_key: SigningKey) -> None:
    # The US key under the EU issuer: the EU client's key set does not hold this kid.
    assert_unauthorized(post_view(cds.http, bearer(token(es_key, BASE + VIEW, iss=ISS_EU))))


def test_unknown_kid_is_refused(cds: Cds, es_key: SigningKey) -> None:
    signed = token(es_key, BASE + VIEW, headers={"kid": "not-a-known-kid"})
    assert_unauthorized(post_view(cds.http, bearer(signed)))


def test_missing_kid_is_refused(cds: Cds, es_key: SigningKey) -> None:
    signed = jwt.encode(claims(BASE + VIEW), es_key.private, algorithm="ES384")
    assert "kid" not in jwt.get_unverified_header(signed)
    assert_unauthorized(post_view(cds.http, bearer(signed)))


def test_alg_none_is_refused(cds: Cds, es_key: SigningKey) -> None:
    forged = unsigned_token(claims(BASE + VIEW), es_key.kid)
    assert_unauthorized(post_view(cds.http, bearer(forged)))


@pytest.mark.parametrize(
    ("alg", "source"),
    [("HS384", "es-pem"), ("HS256", "es-pem"), ("HS384", "rs-pem"), ("HS256", "plain")],
)
def test_hmac_token_is_refused(
    cds: Cds, es_key: SigningKey, rs_key: SigningKey, alg: str, source: str
) -> None:
    key = rs_key if source == "rs-pem" else es_key
    raw = b"any-shared-secret" if source == "plain" else public_pem(key)
    forged = hmac_token(alg, raw, claims(BASE + VIEW), key.kid)
    assert_unauthorized(post_view(cds.http, bearer(forged)))


def test_hmac_token_signed_with_the_jwk_text_is_refused(cds: Cds, es_key: SigningKey) -> None:
    raw = json.dumps(es_key.public_jwk).encode()
    forged = hmac_token("HS384", raw, claims(BASE + VIEW), es_key.kid)
    assert_unauthorized(post_view(cds.http, bearer(forged)))


def test_token_signed_by_another_key_under_a_known_kid_is_refused(
    cds: Cds, es_key: SigningKey, eu_key: SigningKey
) -> None:
    impostor = SigningKey(es_key.kid, "ES384", eu_key.private, eu_key.public_jwk)
    assert_unauthorized(post_view(cds.http, bearer(token(impostor, BASE + VIEW))))


def test_es384_signature_under_an_rsa_kid_is_refused(
    cds: Cds, rs_key: SigningKey, eu_key: SigningKey
) -> None:
    confused = SigningKey(rs_key.kid, "ES384", eu_key.private, eu_key.public_jwk)
    assert_unauthorized(post_view(cds.http, bearer(token(confused, BASE + VIEW))))


def test_other_asymmetric_algorithm_is_refused(cds: Cds, rs_key: SigningKey) -> None:
    # RS256 with the configured RSA key: only ES384 and RS384 are accepted.
    other = SigningKey(rs_key.kid, "RS256", rs_key.private, rs_key.public_jwk)
    assert_unauthorized(post_view(cds.http, bearer(token(other, BASE + VIEW))))


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "aud", "iss"])
def test_missing_required_claim_is_refused(cds: Cds, es_key: SigningKey, claim: str) -> None:
    signed = token(es_key, BASE + VIEW, drop=(claim,))
    assert_unauthorized(post_view(cds.http, bearer(signed)))


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-jwt",
        "Bearer abc.def.ghi",
        "Bearer ",
        "Bearer",
        "Basic dXNlcjpwYXNzd29yZA==",
        "eyJhbGciOiJFUzM4NCJ9",
    ],
    ids=["garbage", "three-garbage-segments", "empty", "scheme-only", "basic", "no-scheme"],
)
def test_malformed_authorization_is_refused(cds: Cds, authorization: str) -> None:
    assert_unauthorized(post_view(cds.http, {"Authorization": authorization}))


def test_truncated_signature_is_refused(cds: Cds, es_key: SigningKey) -> None:
    signed = token(es_key, BASE + VIEW)
    assert_unauthorized(post_view(cds.http, bearer(signed[:-8])))


def test_tampered_payload_is_refused(cds: Cds, es_key: SigningKey) -> None:
    head, _, signature = token(es_key, BASE + VIEW, iss=ISS_US).split(".")
    payload = _b64(json.dumps(claims(BASE + VIEW, iss=ISS_US)).encode())
    assert_unauthorized(post_view(cds.http, bearer(f"{head}.{payload}.{signature}")))


@pytest.mark.parametrize("typ", ["at+jwt", "JWE", "dpop+jwt"])
def test_typ_other_than_jwt_is_refused(cds: Cds, es_key: SigningKey, typ: str) -> None:
    signed = token(es_key, BASE + VIEW, headers={"typ": typ})
    assert_unauthorized(post_view(cds.http, bearer(signed)))


def test_extra_claims_epic_sends_are_accepted(cds: Cds, es_key: SigningKey) -> None:
    now = time.time()
    extra = {"sub": "cds-client-1", "nbf": int(now - 300), "tenant": "tenant-a"}
    response = post_view(cds.http, bearer(token(es_key, BASE + VIEW, claims=extra)))
    assert response.status_code == 200, response.text


# --- 5. replay -----------------------------------------------------------------------------------


def test_replayed_jti_is_refused(cds: Cds, es_key: SigningKey) -> None:
    signed = token(es_key, BASE + VIEW)
    first = post_view(cds.http, bearer(signed))
    assert first.status_code == 200, first.text
    assert_unauthorized(post_view(cds.http, bearer(signed)))
    other = post_view(cds.http, bearer(token(es_key, BASE + VIEW)))
    assert other.status_code == 200, other.text


def test_jti_reused_in_a_new_token_is_refused(cds: Cds, es_key: SigningKey) -> None:
    jti = str(uuid.uuid4())
    first = post_view(cds.http, bearer(token(es_key, BASE + VIEW, jti=jti)))
    assert first.status_code == 200, first.text
    assert_unauthorized(post_view(cds.http, bearer(token(es_key, BASE + VIEW, jti=jti))))


def test_replay_on_another_endpoint_is_refused(cds: Cds, es_key: SigningKey) -> None:
    jti = str(uuid.uuid4())
    first = cds.http.get(DISCOVERY, headers=bearer(token(es_key, BASE + DISCOVERY, jti=jti)))
    assert first.status_code == 200, first.text
    assert_unauthorized(post_view(cds.http, bearer(token(es_key, BASE + VIEW, jti=jti))))


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_replay_is_refused_across_workers(
    make_cds: MakeCds, es_key: SigningKey, database: str
) -> None:
    url = fresh_sqlite_url() if database == "sqlite" else pg_url()
    one = make_cds(database_url=url).http
    two = make_cds(database_url=url).http
    signed = token(es_key, BASE + VIEW)
    first = post_view(one, bearer(signed))
    assert first.status_code == 200, first.text
    assert_unauthorized(post_view(two, bearer(signed)))
    fresh = post_view(two, bearer(token(es_key, BASE + VIEW)))
    assert fresh.status_code == 200, fresh.text


# --- 6. issued-at in the future -------------------------------------------------------------------


def test_iat_half_a_second_ahead_is_accepted(cds: Cds, es_key: SigningKey) -> None:
    response = post_view(cds.http, bearer(token(es_key, BASE + VIEW, iat_offset=0.5)))
    assert response.status_code == 200, response.text


def test_iat_ten_minutes_ahead_is_refused(cds: Cds, es_key: SigningKey) -> None:
    signed = token(es_key, BASE + VIEW, iat_offset=600, exp_in=900)
    assert_unauthorized(post_view(cds.http, bearer(signed)))


# --- 7. jku --------------------------------------------------------------------------------------


def jku_cds(make_cds: MakeCds, jwks_url: str, key: SigningKey) -> Cds:
    """An app whose extra client ``ISS_JKU`` has its keys at ``jwks_url``."""
    return make_cds(clients=[client_config(ISS_JKU, "US", jku=jwks_url)], key=key, iss=ISS_JKU)


def test_jku_client_keys_are_fetched_from_the_configured_url(
    make_cds: MakeCds, serve: Callable[[Any], JsonServer]
) -> None:
    key = es384_key("jku-1")
    jwks = serve({"keys": [key.public_jwk]})
    url = jwks.base + "/jwks.json"
    cds = jku_cds(make_cds, url, key)
    assert jwks.hits == 0
    assert cds.discover().status_code == 200
    assert [path for path, _ in jwks.seen] == ["/jwks.json"]
    named = token(key, BASE + VIEW, iss=ISS_JKU, headers={"jku": url})
    response = post_view(cds.http, bearer(named))
    assert response.status_code == 200, response.text
    assert jwks.hits == 1  # cached


def test_token_jku_naming_another_url_is_refused_and_never_fetched(
    make_cds: MakeCds, serve: Callable[[Any], JsonServer]
) -> None:
    key = es384_key("jku-1")
    attacker = es384_key("attacker-1")
    jwks = serve({"keys": [key.public_jwk]})
    rogue = serve({"keys": [attacker.public_jwk, key.public_jwk]})
    cds = jku_cds(make_cds, jwks.base + "/jwks.json", key)
    forged = token(attacker, BASE + VIEW, iss=ISS_JKU, headers={"jku": rogue.base + "/jwks"})
    assert_unauthorized(post_view(cds.http, bearer(forged)))
    legit_key = token(key, BASE + VIEW, iss=ISS_JKU, headers={"jku": rogue.base + "/jwks"})
    assert_unauthorized(post_view(cds.http, bearer(legit_key)))
    assert rogue.hits == 0


def test_token_jku_for_an_inline_jwks_client_is_never_fetched(
    cds: Cds, es_key: SigningKey, serve: Callable[[Any], JsonServer]
) -> None:
    attacker = es384_key("attacker-2")
    rogue = serve({"keys": [attacker.public_jwk]})
    forged = token(attacker, BASE + VIEW, headers={"jku": rogue.base + "/jwks"})
    assert_unauthorized(post_view(cds.http, bearer(forged)))
    # Signed with the client's own inline key: the jku is ignored (issue 12), never fetched.
    named = token(es_key, BASE + VIEW, headers={"jku": rogue.base + "/jwks"})
    response = post_view(cds.http, bearer(named))
    assert response.status_code == 200, response.text
    assert rogue.hits == 0


def test_unknown_kids_do_not_make_a_fetch_per_request(
    make_cds: MakeCds, serve: Callable[[Any], JsonServer]
) -> None:
    key = es384_key("jku-1")
    jwks = serve({"keys": [key.public_jwk]})
    cds = jku_cds(make_cds, jwks.base + "/jwks.json", key)
    assert cds.discover().status_code == 200
    for n in range(5):
        stray = token(key, BASE + VIEW, iss=ISS_JKU, headers={"kid": f"stray-{n}"})
        assert_unauthorized(post_view(cds.http, bearer(stray)))
    assert jwks.hits <= 2


def test_jku_key_rotation_is_picked_up_on_an_unknown_kid(
    make_cds: MakeCds, serve: Callable[[Any], JsonServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cds_clients, "REFRESH_AT_MOST_EVERY_S", 1.0)  # 30 s in service
    old, new = es384_key("jku-old"), es384_key("jku-new")
    jwks = serve({"keys": [old.public_jwk]})
    cds = jku_cds(make_cds, jwks.base + "/jwks.json", old)
    fetched = time.monotonic()
    assert cds.discover().status_code == 200
    assert jwks.hits == 1
    jwks.body = {"keys": [new.public_jwk]}
    # The service may throttle refetches; once its interval has passed, the new kid is fetched.
    time.sleep(max(0.0, fetched + cds_clients.REFRESH_AT_MOST_EVERY_S + 0.2 - time.monotonic()))
    response = post_view(cds.http, bearer(token(new, BASE + VIEW, iss=ISS_JKU)))
    assert response.status_code == 200, response.text
    assert jwks.hits == 2


# --- 8. ISOCDS_AUTH=disabled ---------------------------------------------------------------------


def test_auth_disabled_without_token_evaluates_as_anonymous_us(make_cds: MakeCds) -> None:
    http = make_cds(auth="disabled", signed=False, database_url=fresh_sqlite_url()).http
    assert http.get(DISCOVERY).status_code == 200
    body = minocycline_order_body()
    card = tetracycline_card(http.post(ORDER, json=body))
    assert card["indicator"] == "warning"
    assert card["extension"]["org.isocds.rules"]["rules"][0]["variant"] == "US"
    assert "Jurisdiction US" in card["detail"]
    [record] = audit_records(http, body["hookInstance"])
    assert record["caller"] == ANONYMOUS_ISS
    assert record["jurisdiction"] == "US"


@pytest.mark.parametrize("forgery", ["alg-none", "unknown-key"])
def test_auth_disabled_uses_the_client_named_by_iss(
    make_cds: MakeCds, eu_key: SigningKey, forgery: str
) -> None:
    http = make_cds(auth="disabled", signed=False, database_url=fresh_sqlite_url()).http
    if forgery == "alg-none":
        sent = unsigned_token(claims(BASE + ORDER, iss=ISS_EU), eu_key.kid)
    else:
        sent = token(es384_key("nobody"), "https://elsewhere.example.org", iss=ISS_EU, exp_in=-900)
    body = minocycline_order_body()
    card = tetracycline_card(http.post(ORDER, json=body, headers=bearer(sent)))
    assert card["indicator"] == "critical"
    assert card["extension"]["org.isocds.rules"]["rules"][0]["variant"] == "EU/UK"
    assert "Jurisdiction EU" in card["detail"]
    [record] = audit_records(http, body["hookInstance"])
    assert record["caller"] == ISS_EU
    assert record["jurisdiction"] == "EU"


def test_auth_disabled_is_refused_off_loopback(tmp_path: Path) -> None:
    path = write_clients(tmp_path, [client_config(ISS_US, "US", jku="https://k.example.org/j")])
    with pytest.raises(SettingsError, match="ISOCDS_AUTH=disabled"):
        load_settings(auth="disabled", host="0.0.0.0", cds_clients_file=path)  # noqa: S104


def test_same_b1_order_is_critical_for_the_eu_client_and_warning_for_us(
    cds: Cds, cds_eu: Cds
) -> None:
    us = tetracycline_card_from(cds.cards(SELECT_SERVICE, minocycline_order_body()))
    eu = tetracycline_card_from(cds_eu.cards(SELECT_SERVICE, minocycline_order_body()))
    assert us["indicator"] == "warning"
    assert eu["indicator"] == "critical"


# --- 9. CORS -------------------------------------------------------------------------------------


def preflight(http: TestClient, path: str, origin: str) -> Response:
    """An OPTIONS preflight for a POST with Authorization and Content-Type."""
    return http.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )


@pytest.mark.parametrize("path", [DISCOVERY, ORDER, f"{ORDER}/feedback"])
def test_cors_preflight_is_answered_without_a_jwt(make_cds: MakeCds, path: str) -> None:
    http = make_cds(cors_origins=ORIGIN, signed=False).http
    response = preflight(http, path, ORIGIN)
    assert 200 <= response.status_code < 300, response.status_code
    assert response.headers.get("access-control-allow-origin") == ORIGIN
    allowed = response.headers.get("access-control-allow-headers", "")
    names = {h.strip().lower() for h in allowed.split(",")}
    assert "authorization" in names
    assert "content-type" in names
    assert "POST" in response.headers.get("access-control-allow-methods", "")


@pytest.mark.parametrize("path", [DISCOVERY, ORDER])
def test_cors_preflight_from_a_disallowed_origin_gets_no_allow_origin(
    make_cds: MakeCds, path: str
) -> None:
    http = make_cds(cors_origins=ORIGIN, signed=False).http
    response = preflight(http, path, "https://evil.example.org")
    assert "access-control-allow-origin" not in response.headers
    assert response.status_code != 401


def test_cors_actual_call_carries_allow_origin_only_for_the_allowed_origin(
    make_cds: MakeCds,
) -> None:
    cds = make_cds(cors_origins=ORIGIN)
    allowed = cds.http.get(DISCOVERY, headers={**cds.headers(DISCOVERY), "Origin": ORIGIN})
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers.get("access-control-allow-origin") == ORIGIN
    refused = cds.http.get(
        DISCOVERY, headers={**cds.headers(DISCOVERY), "Origin": "https://evil.example.org"}
    )
    assert "access-control-allow-origin" not in refused.headers


# --- 10. clients file validation -----------------------------------------------------------------

GOOD_JWKS: dict[str, Any] = {"keys": []}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ([{"jurisdiction": "US", "jwks": GOOD_JWKS}], "'iss' is required"),
        ([{"iss": ISS_US, "jwks": GOOD_JWKS}], "'jurisdiction' must be US, EU or UK"),
        (
            [{"iss": ISS_US, "jurisdiction": "CA", "jwks": GOOD_JWKS}],
            "'jurisdiction' must be US, EU or UK",
        ),
        ([{"iss": ISS_US, "jurisdiction": "US"}], "exactly one of 'jwks' or 'jku'"),
        (
            [
                {
                    "iss": ISS_US,
                    "jurisdiction": "US",
                    "jwks": GOOD_JWKS,
                    "jku": "https://keys.example.org/jwks",
                }
            ],
            "exactly one of 'jwks' or 'jku'",
        ),
        (
            [{"iss": ISS_US, "jurisdiction": "US", "jku": "http://keys.example.org/jwks"}],
            "'jku': must be https",
        ),
        (
            [
                {
                    "iss": ISS_US,
                    "jurisdiction": "US",
                    "jwks": GOOD_JWKS,
                    "fhir_servers": ["http://fhir.example.org/r4"],
                }
            ],
            "fhir_servers[0]: must be https",
        ),
        (
            [{"iss": ISS_EU, "jurisdiction": "EU", "jwks": GOOD_JWKS, "lab_profile": "evidence"}],
            "'lab_profile' is US only",
        ),
        ("[{not json", "not valid JSON"),
        ({"iss": ISS_US, "jurisdiction": "US", "jwks": GOOD_JWKS}, "must be a JSON array"),
    ],
    ids=[
        "missing-iss",
        "missing-jurisdiction",
        "bad-jurisdiction",
        "no-key-source",
        "both-key-sources",
        "http-jku",
        "http-fhir-server",
        "eu-lab-profile",
        "not-json",
        "not-array",
    ],
)
def test_bad_clients_file_stops_start_up(tmp_path: Path, content: Any, reason: str) -> None:
    path = tmp_path / "clients.json"
    text = content if isinstance(content, str) else json.dumps(content)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(cds_clients_file=path)
    message = str(caught.value)
    assert "ISOCDS_CDS_CLIENTS_FILE" in message
    assert reason in message


def test_good_clients_file_loads(tmp_path: Path, es_key: SigningKey) -> None:
    entries = [
        client_config(ISS_US, "US", (es_key,), lab_profile="evidence", tenant="clinic-us"),
        client_config(
            ISS_JKU,
            "US",
            jku="http://127.0.0.1:9/jwks.json",
            fhir_servers=["http://localhost:8080/fhir", "https://fhir.example.org/r4"],
            tenant="clinic-us",
        ),
        client_config(ISS_EU, "EU", jku="https://keys.example.org/jwks", tenant="clinic-eu"),
    ]
    settings = load_settings(
        cds_clients_file=write_clients(tmp_path, entries), public_base_url="https://cds.example.org"
    )
    assert [c["iss"] for c in settings.cds_clients()] == [ISS_US, ISS_JKU, ISS_EU]


# --- 11. tokens never logged ---------------------------------------------------------------------


def test_tokens_are_never_logged(
    capsys: pytest.CaptureFixture[str],
    make_cds: MakeCds,
    es_key: SigningKey,
    serve: Callable[[Any], JsonServer],
) -> None:
    fhir = serve(bundle())
    access = f"fhir-access-{uuid.uuid4().hex}"
    cds = make_cds(log_level="debug", us={"fhir_servers": [fhir.base + "/fhir"]})

    def body() -> dict[str, Any]:
        return hook_request(
            "patient-view",
            full_prefetch(mood=None),
            fhirServer=fhir.base + "/fhir",
            fhirAuthorization={
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/Observation.read",
                "subject": "isotretinoin-cds",
            },
        )

    accepted = token(es_key, BASE + VIEW)
    ok = cds.http.post(VIEW, json=body(), headers=bearer(accepted))
    assert ok.status_code == 200, ok.text
    assert f"Bearer {access}" in [auth for _, auth in fhir.seen]  # the FHIR token was used
    wrong_aud = token(es_key, BASE + DISCOVERY)
    assert_unauthorized(cds.http.post(VIEW, json=body(), headers=bearer(wrong_aud)))
    assert_unauthorized(cds.http.post(VIEW, json=body(), headers=bearer(accepted)))  # replay
    captured = capsys.readouterr()
    logs = captured.out + captured.err
    lines = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
    statuses = [x.get("status") for x in lines if x.get("message") == "request"]
    assert statuses.count(401) == 2  # the log was captured: the refusals are in it
    for secret in (accepted, wrong_aud, access):
        assert secret not in logs
    for signed in (accepted, wrong_aud):
        assert signed.rsplit(".", 1)[1] not in logs
        assert signed.split(".")[1] not in logs


# --- 12. audit -----------------------------------------------------------------------------------


def test_audit_records_the_jwt_issuer_as_caller(make_cds: MakeCds) -> None:
    url = fresh_sqlite_url()
    us = make_cds(database_url=url)
    eu = make_cds(database_url=url, iss=ISS_EU)
    quiet = view_body()
    assert us.cards(VIEW_SERVICE, quiet) == []
    order = minocycline_order_body()
    assert eu.cards(SELECT_SERVICE, order)
    [first] = audit_records(us.http, quiet["hookInstance"])
    assert first["caller"] == ISS_US
    assert first["jurisdiction"] == "US"
    assert first["endpoint"] == f"{VIEW} (patient-view)"
    [second] = audit_records(us.http, order["hookInstance"])
    assert second["caller"] == ISS_EU
    assert second["jurisdiction"] == "EU"
    assert any(f["rule_id"] == TETRACYCLINES for f in second["findings"])


def test_the_client_tenant_is_recorded_in_the_audit_and_the_log(
    make_cds: MakeCds, capsys: pytest.CaptureFixture[str]
) -> None:
    # The API key that reads the audit is clinic-a's too: a tenant sees only its own records.
    cds = make_cds(
        database_url=fresh_sqlite_url(),
        us={"tenant": "clinic-a"},
        api_keys=SecretStr(key_entry(KEY_ID, SECRET, "clinic-a")),
    )
    body = minocycline_order_body()
    assert cds.cards(SELECT_SERVICE, body)
    [record] = audit_records(cds.http, body["hookInstance"])
    assert record["caller"] == ISS_US
    assert record["tenant"] == "clinic-a"
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    calls = [x for x in lines if x.get("route") == "/cds-services/{service_id}"]
    assert calls
    assert calls[-1]["iss"] == ISS_US
    assert calls[-1]["tenant"] == "clinic-a"
