"""OperationOutcome bodies for every non-2xx answer under ``/cds-services`` (CDS Hooks 2.0; 3.0
SHOULD). A 401's issue has ``code = login`` and no diagnostics."""

from __future__ import annotations

from typing import Any

CDS_PREFIX = "/cds-services"

# HTTP status → FHIR issue type (http://hl7.org/fhir/issue-type).
ISSUE_CODES = {
    400: "structure",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "processing",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    431: "too-long",
    500: "exception",
    503: "transient",
}


def is_cds(path: str) -> bool:
    """Whether ``path`` is a CDS Hooks path (answered with OperationOutcome, not problem+json)."""
    return path == CDS_PREFIX or path.startswith(CDS_PREFIX + "/")


def outcome(
    status: int, diagnostics: str | None = None, *, expression: str | None = None
) -> dict[str, Any]:
    """An OperationOutcome for ``status``; 401 carries no diagnostics."""
    issue: dict[str, Any] = {"severity": "error", "code": ISSUE_CODES.get(status, "exception")}
    if diagnostics and status != 401:
        issue["diagnostics"] = diagnostics
    if expression and status != 401:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}
