"""RFC 9457 problem details for every 4xx/5xx of ``/v1`` (and the service's own routes).

An unexpected exception is answered by :class:`api.middleware.RequestLog`, where the request ID
is still known.

Problem types are absolute URNs, ``urn:isocds:problem:<slug>``, each documented in the README
(section "Errors"). No stack trace or internal name ever reaches a client: an unexpected exception
is a 500 problem carrying the request ID that is also in the log.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.cds.outcome import is_cds, outcome
from api.logging import request_id_var
from api.schemas.common import Problem
from domain.errors import DomainError, InputError, RuleNotFoundError

logger = logging.getLogger(__name__)

PROBLEM_BASE = "urn:isocds:problem:"
PROBLEM_JSON = "application/problem+json"

# status → (slug, title) for problems raised as HTTP errors.
STATUS_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Malformed request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Invalid input"),
    428: ("precondition-required", "Precondition required"),
    500: ("internal-error", "Internal error"),
    503: ("service-unavailable", "Service unavailable"),
}

# Domain errors in one table (style.md §8); a test checks every DomainError subclass has a row.
DOMAIN_PROBLEMS: dict[type[DomainError], tuple[int, str, str]] = {
    InputError: (422, "validation-error", "Invalid input"),
    RuleNotFoundError: (404, "rule-not-found", "Rule not found"),
}


class ProblemError(Exception):
    """Raise to answer with a problem of ``status`` (and optional extension members)."""

    def __init__(
        self, status: int, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
        self.extensions = extensions


def problem_body(
    status: int,
    detail: str | None = None,
    *,
    path: str | None = None,
    slug: str | None = None,
    title: str | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    """The members of a problem: ``type``, ``title``, ``status``, ``detail``, ``instance``,
    ``request_id`` (while a request is being served) and any extension members."""
    default_slug, default_title = STATUS_PROBLEMS.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or default_slug),
        "title": title or default_title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if path is not None:
        body["instance"] = path
    rid = request_id_var.get()
    if rid:
        body["request_id"] = rid
    body.update({k: v for k, v in extensions.items() if v is not None})
    return body


def problem_response(
    request: Request | None,
    status: int,
    detail: str | None = None,
    *,
    slug: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """A problem+json response (an OperationOutcome under ``/cds-services``)."""
    path = None if request is None else request.url.path
    if path is not None and is_cds(path):
        return JSONResponse(outcome(status, detail), status_code=status, headers=headers)
    body = problem_body(status, detail, path=path, slug=slug, title=title, **extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def json_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a JSON path: ``$.profile.labs[0].unit``, ``?as_of``."""
    if loc and loc[0] == "query":
        return "?" + ".".join(str(p) for p in loc[1:])
    if loc and loc[0] in ("path", "header"):
        return f"{loc[0]}:" + ".".join(str(p) for p in loc[1:])
    parts = loc[1:] if loc and loc[0] == "body" else loc
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _reason(err: dict[str, Any]) -> str:
    message = str(err.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring these problem statuses as ``application/problem+json``."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        _, title = STATUS_PROBLEMS[status]
        out[status] = {
            "description": title,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out


def install(app: FastAPI) -> None:
    """Register the problem handlers on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem_response(request, 400, "the body is not valid JSON")
        params = [
            {"path": json_path(tuple(e.get("loc", ()))), "reason": _reason(e)} for e in errors
        ]
        return problem_response(request, 422, f"{len(params)} field(s) are invalid", errors=params)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail: str | None = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.url.path}"
        return problem_response(
            request, exc.status_code, detail, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.detail, headers=exc.headers, **exc.extensions
        )

    @app.exception_handler(DomainError)
    async def on_domain(request: Request, exc: DomainError) -> JSONResponse:
        status, slug, title = DOMAIN_PROBLEMS.get(
            type(exc), (500, "internal-error", "Internal error")
        )
        if isinstance(exc, InputError):
            mapper = getattr(request.state, "input_path", None) or (lambda p: p)
            errors = [{"path": mapper(i.path), "reason": i.reason} for i in exc.issues]
            return problem_response(
                request,
                status,
                f"{len(errors)} field(s) are invalid",
                slug=slug,
                title=title,
                errors=errors,
            )
        if status >= 500:
            logger.error("domain error", extra={"error": type(exc).__name__})
            return problem_response(request, status, "an unexpected error occurred")
        return problem_response(request, status, _domain_detail(exc), slug=slug, title=title)


def _domain_detail(exc: DomainError) -> str:
    if isinstance(exc, RuleNotFoundError):
        return f"no rule with ID {exc}"
    return str(exc)


def problem_schema() -> dict[str, Any]:
    """The JSON schema of :class:`Problem` for the OpenAPI components."""
    return Problem.model_json_schema(ref_template="#/components/schemas/{model}")
