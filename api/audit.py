"""Audit records of evaluations: who, what, when, which rules, and an HMAC of the input.

The input itself is never stored: a plain hash of a small clinical profile could be brute-forced,
so the record keeps HMAC-SHA-256(canonical input) keyed with ``ISOCDS_AUDIT_HMAC_KEY``. Without
that setting a random key is created on first start in ``var/audit-hmac.key`` (mode 0600) with a
warning; production sets it, the same on every replica.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from api.logging import request_id_var
from api.settings import Settings
from db.engine import private_folder
from domain.engine import Evaluation

logger = logging.getLogger(__name__)

KEY_FILE = Path("var") / "audit-hmac.key"


def load_hmac_key(settings: Settings, key_file: Path = KEY_FILE) -> bytes:
    """The audit HMAC key: the setting, else the generated key file (created once)."""
    if settings.audit_hmac_key is not None:
        return settings.audit_hmac_key.get_secret_value().encode()
    private_folder(key_file.parent)  # 0700 when created here, like the SQLite folder
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text(encoding="utf-8").strip().encode()
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key)
    logger.warning(
        "ISOCDS_AUDIT_HMAC_KEY is not set: a key was generated in var/audit-hmac.key; set the "
        "same key on every replica in production (it is lost without a volume)"
    )
    return key.encode()


def canonical(endpoint: str, body: BaseModel | dict[str, Any] | None, **context: Any) -> bytes:
    """The canonical input of an evaluation: endpoint, context and body as sorted, compact JSON."""
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    payload = {"endpoint": endpoint, "context": context, "input": data}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def input_hmac(key: bytes, payload: bytes) -> str:
    """HMAC-SHA-256 of ``payload`` under ``key``, hex."""
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def audit_row(
    ev: Evaluation,
    *,
    key: bytes,
    caller: str,
    tenant: str,
    endpoint: str,
    payload: bytes,
    decision: bool = True,
    course_id: str | None = None,
    hook_instance: str | None = None,
) -> dict[str, Any]:
    """The audit record of an answered evaluation (rule set and catalogue hash: those that
    evaluated it), in the caller's tenant (only that tenant's ``/v1/audit`` lists it)."""
    return {
        "recorded_at": datetime.now(UTC),
        "request_id": request_id_var.get() or "",
        "caller": caller,
        "endpoint": endpoint,
        "course_id": course_id,
        "hook_instance": hook_instance,
        "tenant": tenant,
        "as_of": ev.as_of,
        "jurisdiction": ev.jurisdiction.value,
        "epoch": ev.epoch,
        "ruleset_version": ev.ruleset_version,
        "catalogue_hash": ev.catalogue_hash,
        "decision": ev.decision.value if decision else None,
        "findings": [
            {
                "rule_id": f.rule_id,
                "version": f.rule_version,
                "variant": f.variant,
                "status": f.status.value,
            }
            for f in ev.findings
        ],
        "input_hmac": input_hmac(key, payload),
    }
