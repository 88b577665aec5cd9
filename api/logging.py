"""JSON-lines logging on stdout, configured once from ``create_app``.

Never log patient facts, tokens or API-key secrets: log rule IDs, counts, timings, key IDs.
An exception is logged as its type and the file, line and function of each frame, never its
message (which may quote a value, a URL or a query): :func:`exception_fields` for our own error
lines, and the same for any record logged with ``exc_info`` (uvicorn's, a library's).
"""

from __future__ import annotations

import json
import logging
import logging.config
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_RESERVED = frozenset(vars(logging.makeLogRecord({})).keys()) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request ID and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid is not None:
            payload["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            payload["exception"] = safe_traceback(record.exc_info[1])
        return json.dumps(payload, default=str, ensure_ascii=False)


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def safe_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` (and of the exceptions it was raised from or during) without any
    message or source text: each frame's file, line and function, and each exception's type."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    lines: list[str] = []
    for i, item in enumerate(reversed(chain)):
        if i:
            lines.append("then:\n")
        lines.append("Traceback (most recent call last):\n")
        for frame, lineno in traceback.walk_tb(item.__traceback__):
            code = frame.f_code
            lines.append(f'  File "{code.co_filename}", line {lineno}, in {code.co_name}\n')
        lines.append(f"{_type_name(item)} (message not logged)\n")
    return "".join(lines)


def exception_fields(exc: BaseException) -> dict[str, Any]:
    """The fields of an error line about ``exc``: its type and message-free traceback."""
    return {"error": type(exc).__name__, "traceback": safe_traceback(exc)}


def configure_logging(level: str) -> None:
    """Configure the root logger; the uvicorn access log is off (one request line is ours)."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": JsonFormatter}},
            "handlers": {
                "stdout": {
                    "class": "logging.StreamHandler",
                    "formatter": "json",
                    "stream": "ext://sys.stdout",
                }
            },
            "root": {"handlers": ["stdout"], "level": level.upper()},
            "loggers": {
                "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
                "uvicorn.error": {"level": level.upper()},
                # HTTP client logs carry URLs with patient references: never at info.
                "httpx": {"level": "WARNING"},
                "httpx2": {"level": "WARNING"},
                "httpcore": {"level": "WARNING"},
                # httpx2's transport (loggers httpcore2.http11, .http2, .connection, .proxy,
                # .socks): at debug it logs response headers and connection details.
                "httpcore2": {"level": "WARNING"},
            },
        }
    )
