"""The audit chain: every audit record is linked to the previous one of its tenant.

Each record stores its place in its tenant's chain (``chain_seq``, 1, 2, 3…), the previous
record's link (``prev_hmac``, empty for the first) and its own link (``row_hmac``): HMAC-SHA-256,
keyed with the audit key (``ISOCDS_AUDIT_HMAC_KEY``), over the record's content and the previous
link. The ``audit_chain_head`` table holds each tenant's last sequence number and link.

Editing a record changes its content, so its link no longer verifies; deleting one leaves a gap in
the sequence and a ``prev_hmac`` that names a link that is not there; deleting the last records
leaves the head pointing past the end. :func:`verify` reports the first broken link of each tenant
(``python -m api audit verify``).

Writers take the chain head of each tenant in the same transaction as the records they add
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's writers already hold the database write lock), so
replicas writing at once still build one chain per tenant. Records written before the chain
existed have no ``chain_seq``; they are counted, and reported as not chained.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from db.tables import AuditChainHead, AuditRecord

# The fields a link covers: everything the record says, and its place in the chain.
CHAINED = (
    "recorded_at",
    "request_id",
    "caller",
    "endpoint",
    "course_id",
    "hook_instance",
    "tenant",
    "as_of",
    "jurisdiction",
    "epoch",
    "ruleset_version",
    "catalogue_hash",
    "decision",
    "findings",
    "input_hmac",
    "chain_seq",
)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def link(key: bytes, row: dict[str, Any], prev: str) -> str:
    """The link of a record: HMAC-SHA-256 over its chained fields and the previous link."""
    content = {name: _canonical(row.get(name)) for name in CHAINED}
    payload = json.dumps(
        {"record": content, "prev": prev}, sort_keys=True, separators=(",", ":"), default=str
    ).encode()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def _lock_heads(session: Session, tenants: set[str]) -> dict[str, AuditChainHead]:
    """The chain heads of ``tenants``, created when missing, locked for this transaction."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    for tenant in sorted(tenants):  # a fixed order: two writers never wait on each other
        session.execute(
            insert(AuditChainHead)
            .values(tenant=tenant, seq=0, row_hmac="")
            .on_conflict_do_nothing(index_elements=["tenant"])
        )
    query = (
        select(AuditChainHead)
        .where(col(AuditChainHead.tenant).in_(sorted(tenants)))
        .order_by(col(AuditChainHead.tenant))
        .with_for_update()
    )
    return {h.tenant: h for h in session.scalars(query)}


def chain(session: Session, key: bytes, rows: list[dict[str, Any]]) -> None:
    """Give ``rows`` (about to be inserted, in order) their chain fields, and move the heads."""
    if not rows:
        return
    heads = _lock_heads(session, {r["tenant"] for r in rows})
    for row in rows:
        head = heads[row["tenant"]]
        row["chain_seq"] = head.seq + 1
        row["prev_hmac"] = head.row_hmac
        row["row_hmac"] = link(key, row, head.row_hmac)
        head.seq, head.row_hmac = row["chain_seq"], row["row_hmac"]
    for head in heads.values():
        session.add(head)


@dataclass(frozen=True, slots=True)
class TenantReport:
    """What :func:`verify` found for one tenant.

    Attributes:
        tenant: The tenant.
        records: Chained records checked.
        unchained: Records written before the chain existed (not verifiable).
        broken: The first broken link, in words (``None``: the chain holds).
    """

    tenant: str
    records: int
    unchained: int
    broken: str | None


def _record_dict(r: AuditRecord) -> dict[str, Any]:
    return {name: getattr(r, name) for name in CHAINED}


def verify(session: Session, key: bytes, batch: int = 1000) -> list[TenantReport]:
    """Walk every tenant's chain in order; report the first broken link of each."""
    tenants = set(session.scalars(select(col(AuditRecord.tenant)).distinct()))
    heads = {h.tenant: h for h in session.scalars(select(AuditChainHead))}
    reports: list[TenantReport] = []
    for tenant in sorted(tenants | set(heads)):
        unchained = session.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(col(AuditRecord.tenant) == tenant, col(AuditRecord.chain_seq).is_(None))
        )
        expected_seq, prev, checked, broken = 1, "", 0, None
        after = 0
        while broken is None:
            rows = session.scalars(
                select(AuditRecord)
                .where(col(AuditRecord.tenant) == tenant, col(AuditRecord.chain_seq) > after)
                .order_by(col(AuditRecord.chain_seq))
                .limit(batch)
            ).all()
            if not rows:
                break
            for r in rows:
                seq = r.chain_seq or 0
                if seq != expected_seq:
                    broken = (
                        f"record {r.id}: sequence {seq}, expected {expected_seq} "
                        f"(records {expected_seq}–{seq - 1} are missing)"
                    )
                    break
                if r.prev_hmac != prev:
                    broken = f"record {r.id} (sequence {seq}): does not link to the record before"
                    break
                if not hmac.compare_digest(r.row_hmac or "", link(key, _record_dict(r), prev)):
                    broken = f"record {r.id} (sequence {seq}): its content was changed"
                    break
                prev, expected_seq, checked = r.row_hmac or "", seq + 1, checked + 1
            after = expected_seq - 1
        head = heads.get(tenant)
        if broken is None and head is not None and head.seq != expected_seq - 1:
            broken = (
                f"the chain ends at sequence {expected_seq - 1}, but {head.seq} records were "
                "written: the last ones were deleted"
            )
        if broken is None and head is not None and head.row_hmac != prev:
            broken = "the last record's link does not match the chain head"
        reports.append(TenantReport(tenant, checked, unchained or 0, broken))
    return reports
