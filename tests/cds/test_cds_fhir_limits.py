"""FHIR fallback limits (issue 11, findings 2 and 3): bounded responses, and URLs that stay on the
EHR's FHIR server.

* Finding 2: a FHIR response over ``ISOCDS_FHIR_MAX_BYTES`` (declared by ``Content-Length``,
  chunked, ended by closing the connection, or a gzip bomb) is given up while it streams, and the
  key is unknown and named on the "Information needed" card, like an unreachable one.
* Finding 3: ``context.patientId`` must be a FHIR id (else 400, nothing fetched), values are
  percent-encoded into the templates, and a Bundle ``next`` link is followed only when it stays
  under the FHIR base (scheme, host, port, path prefix, after normalisation); otherwise the key is
  unknown and named, and the bearer token goes nowhere else.

Every call goes through the real app with signed JWTs, against the real loopback FHIR server of
``tests/cds/fhir_server.py``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from api.cds.prefetch import (
    ResponseTooLargeError,
    coding_query,
    is_fhir_id,
    prefetch_query,
    read_capped,
    same_server,
)
from tests.api.conftest import settings
from tests.cds.fhir_server import FhirServer
from tests.cds.support import (
    ISOTRETINOIN_40,
    VIEW_SERVICE,
    Cds,
    bundle,
    days_ago,
    dispense,
    full_prefetch,
    hcg,
    hook_request,
    information_card,
    medication_request,
)
from tests.cds.test_cds_protocol import (
    BEARER,
    access,
    can_become_pregnant,
    fired,
    info,
    iso_active,
    query,
    unavailable,
)
from tests.database import fresh_sqlite_url

MakeCds = Callable[..., Cds]
MB = 1024 * 1024
SMALL_CAP = 256 * 1024
PREGNANCY = "contraindication.pregnancy"


@pytest.fixture
def fhir() -> Iterator[FhirServer]:
    """A FHIR test server on 127.0.0.1."""
    with FhirServer() as server:
        yield server


def service(make_cds: MakeCds, fhir: FhirServer, **overrides: Any) -> Cds:
    """A signed US client whose allow-list holds ``fhir``, on a fresh database."""
    return make_cds(us={"fhir_servers": [fhir.base]}, database_url=fresh_sqlite_url(), **overrides)


def padded(resource: dict[str, Any], size: int) -> bytes:
    """A valid searchset Bundle holding ``resource``, padded with whitespace to ``size`` bytes: a
    reader without a limit reads it and finds ``resource``."""
    text = json.dumps(bundle(resource)).encode()
    return text[:-1] + b" " * max(0, size - len(text)) + b"}"


def exposed(**overrides: Any) -> dict[str, Any]:
    """A prefetch with isotretinoin exposure and the pregnancy-potential category, without the
    pregnancy tests (so that they are fetched)."""
    values: dict[str, Any] = {
        "medRequests": bundle(iso_active()),
        "pregnancyPotential": can_become_pregnant(),
        "pregnancyTests": None,
    }
    values.update(overrides)
    return full_prefetch(**values)


def view(fhir: FhirServer, prefetch: dict[str, Any]) -> dict[str, Any]:
    """A patient-view request with FHIR access to ``fhir``."""
    return hook_request("patient-view", prefetch, **access(fhir))


# --- finding 2: response size -------------------------------------------------------------------


def test_the_fhir_response_limit_is_5_mb_by_default() -> None:
    assert settings().fhir_max_bytes == 5 * MB


def test_an_oversized_fhir_response_is_unknown_and_named(
    make_cds: MakeCds, fhir: FhirServer
) -> None:
    """6 MB with a true Content-Length, over the default 5 MB: refused from the header."""
    cds = service(make_cds, fhir)
    fhir.route(query("pregnancyTests"), raw=padded(hcg(days_ago(2), positive=True), 6 * MB))

    cards = cds.cards(VIEW_SERVICE, view(fhir, exposed()))

    assert fhir.paths() == [query("pregnancyTests")]
    assert PREGNANCY not in fired(cards)
    assert "pregnancyTests" in unavailable(info(cards))


def test_a_declared_length_over_the_limit_is_refused_before_the_body(
    make_cds: MakeCds, fhir: FhirServer
) -> None:
    """The body would stall after 64 KB for 10 s: refused at once, from ``Content-Length``."""
    cds = service(make_cds, fhir, fhir_timeout_s=2.0)
    fhir.route(
        query("pregnancyTests"), raw=padded(hcg(days_ago(2), positive=True), 6 * MB), stall_s=10
    )

    started = time.monotonic()
    cards = cds.cards(VIEW_SERVICE, view(fhir, exposed()))
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert "pregnancyTests" in unavailable(info(cards))


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_an_undeclared_oversized_response_is_cut_while_streaming(
    make_cds: MakeCds, fhir: FhirServer, framing: Any
) -> None:
    """No Content-Length (chunked, or ended by closing): 40 MB is cut at the limit, unread."""
    cds = service(make_cds, fhir, fhir_max_bytes=SMALL_CAP)
    target = query("pregnancyTests")
    size = 40 * MB
    fhir.route(target, raw=padded(hcg(days_ago(2), positive=True), size), framing=framing)

    cards = cds.cards(VIEW_SERVICE, view(fhir, exposed()))

    assert PREGNANCY not in fired(cards)
    assert "pregnancyTests" in unavailable(info(cards))
    assert fhir.written(target) < size // 2  # the service stopped reading


def test_a_content_length_lying_low_never_reads_past_it(
    make_cds: MakeCds, fhir: FhirServer
) -> None:
    """A Content-Length under the limit, then 40 MB: only the declared bytes are read (and they
    are not the whole JSON document, so the key is unknown)."""
    cds = service(make_cds, fhir, fhir_max_bytes=SMALL_CAP)
    target = query("pregnancyTests")
    fhir.route(target, raw=padded(hcg(days_ago(2), positive=True), 40 * MB), declared=1000)

    cards = cds.cards(VIEW_SERVICE, view(fhir, exposed()))

    assert "pregnancyTests" in unavailable(info(cards))


def test_a_gzip_bomb_is_cut_while_decompressing(make_cds: MakeCds, fhir: FhirServer) -> None:
    """40 KB of gzip inflating to 40 MB: the decompressed bytes count against the limit."""
    cds = service(make_cds, fhir, fhir_max_bytes=SMALL_CAP)
    bomb = gzip.compress(padded(hcg(days_ago(2), positive=True), 40 * MB))
    assert len(bomb) < SMALL_CAP
    fhir.route(query("pregnancyTests"), raw=bomb, encoding="gzip")

    cards = cds.cards(VIEW_SERVICE, view(fhir, exposed()))

    assert PREGNANCY not in fired(cards)
    assert "pregnancyTests" in unavailable(info(cards))


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_gzip_response_within_the_limit_is_read(
    make_cds: MakeCds, fhir: FhirServer, framing: Any
) -> None:
    cds = service(make_cds, fhir, fhir_max_bytes=SMALL_CAP)
    body = gzip.compress(json.dumps(bundle(hcg(days_ago(2), positive=True))).encode())
    fhir.route(query("pregnancyTests"), raw=body, encoding="gzip", framing=framing)

    cards = cds.cards(VIEW_SERVICE, view(fhir, exposed()))

    assert PREGNANCY in fired(cards)


def test_a_response_just_under_the_limit_is_read(make_cds: MakeCds, fhir: FhirServer) -> None:
    cds = service(make_cds, fhir, fhir_max_bytes=SMALL_CAP)
    fhir.route(query("pregnancyTests"), raw=padded(hcg(days_ago(2), positive=True), SMALL_CAP - 10))

    cards = cds.cards(VIEW_SERVICE, view(fhir, exposed()))

    assert PREGNANCY in fired(cards)


def test_an_oversized_next_page_makes_the_key_unknown(make_cds: MakeCds, fhir: FhirServer) -> None:
    cds = service(make_cds, fhir, fhir_max_bytes=SMALL_CAP)
    first = bundle(hcg(days_ago(40)), next_url=f"{fhir.base}/_page/big")
    fhir.route(query("pregnancyTests"), first)
    fhir.route("_page/big", raw=padded(hcg(days_ago(2), positive=True), MB), framing="chunked")

    cards = cds.cards(VIEW_SERVICE, view(fhir, exposed()))

    assert fhir.paths() == [query("pregnancyTests"), "_page/big"]
    assert "pregnancyTests" in unavailable(info(cards))


def test_read_capped_stops_reading_past_the_limit() -> None:
    """The reader holds at most the limit and one chunk of an endless stream."""
    consumed = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal consumed
        while True:
            consumed += 1
            yield b"x" * 65536

    with pytest.raises(ResponseTooLargeError):
        asyncio.run(read_capped(endless(), SMALL_CAP))
    assert consumed == SMALL_CAP // 65536 + 1


def test_read_capped_bounds_what_one_gzip_chunk_inflates_to() -> None:
    bomb = gzip.compress(b"0" * (64 * MB))

    async def one_chunk() -> AsyncIterator[bytes]:
        yield bomb

    with pytest.raises(ResponseTooLargeError):
        asyncio.run(read_capped(one_chunk(), SMALL_CAP, "gzip"))


# --- finding 3: URLs -----------------------------------------------------------------------------

TRAVERSAL = "p1/../../b/secret"
INJECTION = "p1&_count=100000"


@pytest.mark.parametrize(
    "patient_id",
    [
        TRAVERSAL,
        INJECTION,
        "p1?x=1",
        "p1#x",
        "p 1",
        "p1%2F..",
        "pä",
        "x" * 65,
        "..",
        ".",
        "p1\n",
        "",
    ],
)
def test_a_patient_id_that_is_not_a_fhir_id_is_400_and_nothing_is_fetched(
    make_cds: MakeCds, fhir: FhirServer, patient_id: str
) -> None:
    cds = service(make_cds, fhir)
    fhir.route("b/secret", {"resourceType": "Binary", "id": "secret"})
    body = hook_request("patient-view", full_prefetch(patient=None), patient_id=patient_id)
    body.update(access(fhir))

    r = cds.call(VIEW_SERVICE, body)

    assert r.status_code == 400, r.text
    issue = r.json()["issue"][0]
    assert issue["expression"] == ["context.patientId"]
    assert fhir.seen == []


@pytest.mark.parametrize("patient_id", ["pat-1", "A.b-9", "x" * 64, "123"])
def test_fhir_ids_are_accepted(patient_id: str) -> None:
    assert is_fhir_id(patient_id)


def test_a_patient_id_is_fetched_under_its_own_path(make_cds: MakeCds, fhir: FhirServer) -> None:
    cds = service(make_cds, fhir)
    pid = "Pat.9-x"
    fhir.route(f"Patient/{pid}", {"resourceType": "Patient", "id": pid, "birthDate": "2006-06-01"})
    body = hook_request("patient-view", full_prefetch(patient=None), patient_id=pid)
    body.update(access(fhir))

    r = cds.call(VIEW_SERVICE, body)

    assert r.status_code == 200, r.text
    assert fhir.paths() == [f"Patient/{pid}"]


def test_values_are_percent_encoded_into_the_templates() -> None:
    """Whatever reached a template stays one value: no parameter and no path segment is added."""
    q = prefetch_query("medRequests", INJECTION)
    params = parse_qs(urlsplit(q).query)
    assert params["patient"] == [INJECTION]
    assert params["_count"] == ["100"]
    path = prefetch_query("patient", TRAVERSAL)
    assert path.count("/") == 1
    assert path == "Patient/p1%2F..%2F..%2Fb%2Fsecret"
    own = coding_query("http://ehr.example.org/rows?a=1&_count=9", "X&_count=9", "pat-1")
    params = parse_qs(urlsplit(own).query)
    assert params["code"] == ["http://ehr.example.org/rows?a=1&_count=9|X&_count=9"]
    assert params["_count"] == ["1"]
    assert params["patient"] == ["pat-1"]


def evil_links(base: str) -> list[str]:
    """``next`` links that leave the FHIR base ``http://127.0.0.1:<port>/fhir``."""
    origin = base.removesuffix("/fhir")
    port = origin.rsplit(":", 1)[1]
    return [
        f"{base}/../../admin/export?all=1",
        f"{base}/./../admin/export",
        f"{base}/_page/../../admin",
        f"{base}/%2e%2e/%2e%2e/admin/export",
        f"{base}/..%2Fadmin",
        f"{base}/..\\..\\admin",
        f"{origin}/fhirx/secret",
        f"{origin}/admin/export",
        f"http://localhost:{port}/fhir/_page/2",
        f"http://127.0.0.1:{int(port) + 1}/fhir/_page/2",
        f"https://127.0.0.1:{port}/fhir/_page/2",
        f"http://user:pw@127.0.0.1:{port}/fhir/_page/2",
        "/fhir/_page/2",
        "_page/2",
    ]


EVIL_IDS = [
    "dotdot-admin",
    "dot-dotdot",
    "page-dotdot",
    "encoded-dots",
    "encoded-slash",
    "backslashes",
    "path-prefix",
    "other-path",
    "other-host",
    "other-port",
    "other-scheme",
    "userinfo",
    "relative-absolute",
    "relative",
]


@pytest.mark.parametrize("which", range(len(EVIL_IDS)), ids=EVIL_IDS)
def test_a_sent_bundle_whose_next_link_leaves_the_base_is_not_followed(
    make_cds: MakeCds, fhir: FhirServer, which: int
) -> None:
    cds = service(make_cds, fhir)
    link = evil_links(fhir.base)[which]
    fhir.route("admin/export?all=1", {"resourceType": "Bundle", "type": "searchset"})
    first = bundle(medication_request("5640", "ibuprofen"), next_url=link)
    handed = bundle(dispense(*ISOTRETINOIN_40, days_ago(30)))  # exposure, so that cards come
    prefetch = full_prefetch(medRequests=first, medDispenses=handed)

    cards = cds.cards(VIEW_SERVICE, view(fhir, prefetch))

    assert fhir.seen == []
    assert "medRequests" in unavailable(info(cards))


def test_a_fetched_bundle_whose_next_link_leaves_the_base_is_unknown(
    make_cds: MakeCds, fhir: FhirServer
) -> None:
    cds = service(make_cds, fhir)
    first = bundle(hcg(days_ago(40)), next_url=f"{fhir.base}/../../admin/export?all=1")
    fhir.route(query("pregnancyTests"), first)
    fhir.route("admin/export?all=1", bundle(hcg(days_ago(2), positive=True)))

    cards = cds.cards(VIEW_SERVICE, view(fhir, exposed()))

    assert fhir.paths() == [query("pregnancyTests")]
    assert "pregnancyTests" in unavailable(info(cards))


def test_a_next_link_on_the_base_is_followed_after_normalisation(
    make_cds: MakeCds, fhir: FhirServer
) -> None:
    cds = service(make_cds, fhir)
    fhir.route("_page/meds-2", bundle(medication_request("5640", "ibuprofen")))
    link = fhir.base.replace("http://", "HTTP://") + "/x/../_page/./meds-2"
    first = bundle(iso_active(), next_url=link)

    cards = cds.cards(VIEW_SERVICE, view(fhir, full_prefetch(medRequests=first)))

    assert fhir.paths() == ["_page/meds-2"]
    assert fhir.seen[0].authorization == BEARER
    card = information_card(cards)
    assert card is None or "medRequests" not in unavailable(card)


@pytest.mark.parametrize(
    ("link", "base", "expected"),
    [
        (
            "https://EHR.example.org:443/fhir/p/2?x=1",
            "https://ehr.example.org/fhir",
            "https://ehr.example.org/fhir/p/2?x=1",
        ),
        (
            "http://ehr.example.org:80/r4/./p",
            "http://ehr.example.org/r4/",
            "http://ehr.example.org/r4/p",
        ),
        (
            "https://ehr.example.org:8443/fhir/p",
            "https://ehr.example.org:8443/fhir",
            "https://ehr.example.org:8443/fhir/p",
        ),
        (
            "https://ehr.example.org/fhir/a/../p#frag",
            "https://ehr.example.org/fhir",
            "https://ehr.example.org/fhir/p",
        ),
        (
            "https://ehr.example.org/fhir/p?code=http%3A%2F%2Floinc.org",
            "https://ehr.example.org/fhir",
            "https://ehr.example.org/fhir/p?code=http%3A%2F%2Floinc.org",
        ),
        ("https://ehr.example.org/fhir", "https://ehr.example.org/fhir", None),
        ("https://ehr.example.org/fhir/..", "https://ehr.example.org/fhir", None),
        ("https://ehr.example.org:444/fhir/p", "https://ehr.example.org/fhir", None),
        ("http://ehr.example.org/fhir/p", "https://ehr.example.org/fhir", None),
        ("https://ehr.example.org.evil.test/fhir/p", "https://ehr.example.org/fhir", None),
        ("https://ehr.example.org@evil.test/fhir/p", "https://ehr.example.org/fhir", None),
        ("https://ehr.example.org/fhir/p\r\nX: y", "https://ehr.example.org/fhir", None),
        ("https://ehr.example.org:99999/fhir/p", "https://ehr.example.org/fhir", None),
        ("ftp://ehr.example.org/fhir/p", "https://ehr.example.org/fhir", None),
    ],
)
def test_same_server_normalises_and_compares(link: str, base: str, expected: str | None) -> None:
    assert same_server(link, base) == expected
