"""The override reasons the service offers on its cards (``OVERRIDE_REASONS``), by code."""

from __future__ import annotations

from typing import Any

from api.cds.cards import OVERRIDE_REASONS


def service_reason(system: Any, code: Any) -> dict[str, str] | None:
    """The service's own reason of ``code``, when ``system`` is its system (or not sent)."""
    if not isinstance(code, str) or not (system is None or isinstance(system, str)):
        return None
    for reason in OVERRIDE_REASONS:
        if reason["code"] == code and system in (None, reason["system"]):
            return reason
    return None
