"""What the logs never carry (issue 11, finding 4), even at ``ISOCDS_LOG_LEVEL=debug``.

* The HTTP client library of the FHIR fallback (httpx2 over httpcore2) logs response headers and
  connection details at debug: its loggers are capped at warning, like httpx's and httpcore's.
* A 500's log line carries the exception type, its frames and the request ID, never the
  exception's message; any record logged with ``exc_info`` is formatted the same way.

The real app, the real FHIR test server on 127.0.0.1 and the service's JSON formatter.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.logging import JsonFormatter
from api.main import create_app
from tests.api.conftest import AUTH, settings
from tests.api.test_security_and_logs import Capture, add_failing_routes
from tests.cds.fhir_server import FhirServer
from tests.cds.support import (
    BASE,
    ISS_US,
    VIEW_SERVICE,
    Cds,
    bundle,
    client_config,
    es384_key,
    full_prefetch,
    hcg,
    hook_request,
    write_clients,
)

FHIR_TOKEN = "fhir-token-Zq7-never-logged"  # noqa: S105  # a test FHIR access token
FAILURE_TEXT = "patient P-98765 at https://ehr.example.org/fhir/Patient/P-98765 hunter2"


@pytest.fixture
def logged() -> Iterator[Callable[..., tuple[TestClient, Capture]]]:
    """Build an app at debug level, then capture every record on the root logger."""
    root = logging.getLogger()
    opened: list[tuple[TestClient, Capture]] = []

    def build(
        routes: Callable[[FastAPI], None] | None = None, **overrides: Any
    ) -> tuple[TestClient, Capture]:
        app = create_app(settings(log_level="debug", **overrides))
        if routes is not None:
            routes(app)
        capture = Capture()
        root.addHandler(capture)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        opened.append((client, capture))
        return client, capture

    yield build
    for client, capture in opened:
        client.__exit__(None, None, None)
        root.removeHandler(capture)
    logging.getLogger().setLevel(logging.INFO)


def test_the_fhir_client_libraries_log_nothing_at_debug(
    logged: Callable[..., tuple[TestClient, Capture]], tmp_path: Path
) -> None:
    key = es384_key("log-hygiene")
    with FhirServer() as fhir:
        fhir.route(
            "Observation?patient=pat-1&code=http://loinc.org|2118-8,http://loinc.org|2110-5,"
            "http://loinc.org|19080-1,http://loinc.org|21198-7,http://loinc.org|2106-3,"
            "http://loinc.org|2112-1,http://loinc.org|80384-1,http://loinc.org|80385-8"
            "&_sort=-date&_count=10",
            bundle(hcg("2026-01-01")),
        )
        entry = client_config(ISS_US, "US", (key,), fhir_servers=[fhir.base], tenant="default")
        client, capture = logged(
            cds_clients_file=write_clients(tmp_path, [entry]), public_base_url=BASE
        )
        cds = Cds(http=client, key=key)
        body = hook_request(
            "patient-view",
            full_prefetch(pregnancyTests=None),
            fhirServer=fhir.base,
            fhirAuthorization={"access_token": FHIR_TOKEN, "token_type": "Bearer"},
        )

        r = cds.call(VIEW_SERVICE, body)

        assert r.status_code == 200, r.text
        assert len(fhir.seen) == 1  # the fetch happened (and was logged by nobody)
    names = {record.name for record in capture.records}
    assert "api.request" in names  # debug capture works
    assert not [n for n in names if n.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2")]
    everything = capture.everything()
    assert FHIR_TOKEN not in everything
    assert "BaseHTTP" not in everything  # the FHIR server's Server response header
    assert "fhir+json" not in everything  # its Content-Type response header


def test_a_500_log_line_has_the_type_and_request_id_never_the_message(
    logged: Callable[..., tuple[TestClient, Capture]],
) -> None:
    client, capture = logged(routes=add_failing_routes)

    r = client.get("/v1/explode", headers=AUTH)

    assert r.status_code == 500
    rid = r.headers["x-request-id"]
    errors = [
        json.loads(line)
        for record, line in zip(capture.records, capture.lines, strict=True)
        if record.levelno >= logging.ERROR
    ]
    assert len(errors) == 1, errors
    line = errors[0]
    assert line["request_id"] == rid
    assert line["error"] == "LeakyInternalError"
    assert "test_security_and_logs.py" in line["traceback"]  # the frames, for the operator
    assert "in explode" in line["traceback"]
    everything = capture.everything()
    for leak in ("hunter2", "db password", "/srv/isocds/internal.py"):
        assert leak not in everything, leak


class SecretError(RuntimeError):
    """An exception whose message must stay out of the log."""


def test_any_record_with_exc_info_is_formatted_without_messages() -> None:
    """uvicorn's "Exception in ASGI application" or a library's ``logger.exception`` included,
    with the exceptions it was raised from."""
    record: logging.LogRecord | None = None

    class Keep(logging.Handler):
        def emit(self, r: logging.LogRecord) -> None:
            nonlocal record
            record = r

    logger = logging.getLogger("tests.log_hygiene")
    handler = Keep()
    logger.addHandler(handler)
    try:
        try:
            try:
                known: dict[str, str] = {}
                known["P-98765"]  # a KeyError quoting a patient reference
            except KeyError as exc:
                raise SecretError(FAILURE_TEXT) from exc
        except SecretError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)

    assert record is not None
    line = json.loads(JsonFormatter().format(record))
    assert "P-98765" not in json.dumps(line)
    assert "hunter2" not in json.dumps(line)
    assert "KeyError (message not logged)" in line["exception"]
    assert "SecretError (message not logged)" in line["exception"]
    assert "test_log_hygiene.py" in line["exception"]
