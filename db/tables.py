"""SQLModel tables (``table=True`` classes only). The wire contract lives in ``api/schemas``.

Naming: singular snake_case tables; ``*_at`` for timezone-aware datetimes, ``*_on``/``*_date`` for
calendar dates. A naming convention on the metadata gives every constraint a stable name, so
migrations are reviewable and reversible on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    MetaData,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every engine (SQLite stores no offset: it is UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        """Store UTC."""
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        """Read back as aware UTC."""
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def _ts(nullable: bool = False) -> Any:
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable))


TENANT_LENGTH = 64


def _tenant() -> Any:
    """The tenant a row belongs to (an API key's or a CDS client's): every query filters on it."""
    return Field(max_length=TENANT_LENGTH)


class Course(SQLModel, table=True):
    """An isotretinoin course of one patient (the EHR's opaque patient reference only)."""

    __tablename__ = "course"
    __table_args__ = (
        Index("ix_course_tenant_patient_ref", "tenant", "patient_ref"),
        # The target of the events' (course_id, tenant) foreign key.
        UniqueConstraint("id", "tenant", name="uq_course_id_tenant"),
    )

    id: str = Field(primary_key=True, max_length=36)
    tenant: str = _tenant()
    patient_ref: str = Field(max_length=200)
    jurisdiction: str = Field(max_length=2)
    product: str | None = Field(default=None, max_length=40)
    start_date: date | None = None
    weight_at_start_kg: float | None = None
    target_cumulative_mg_per_kg: float | None = None
    status: str = Field(max_length=20)
    stop_reason: str | None = Field(default=None, max_length=500)
    end_date: date | None = None
    version: int = 1
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    created_by: str = Field(max_length=64)


class CourseEvent(SQLModel, table=True):
    """Something recorded on a course, with its date; ``data`` holds the validated wire body.

    Its tenant is its course's: the foreign key is (course_id, tenant), so no event can be
    attached to another tenant's course.
    """

    __tablename__ = "course_event"
    __table_args__ = (
        Index("ix_course_event_course_id_event_date", "course_id", "event_date"),
        ForeignKeyConstraint(
            ["course_id", "tenant"],
            ["course.id", "course.tenant"],
            name="fk_course_event_course_id_course",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    course_id: str = Field(max_length=36)
    tenant: str = _tenant()
    kind: str = Field(max_length=40)
    event_date: date
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts()
    created_by: str = Field(max_length=64)


class AuditRecord(SQLModel, table=True):
    """One record per evaluation the service answered; the input only as a keyed HMAC."""

    __tablename__ = "audit_record"
    __table_args__ = (
        Index("ix_audit_record_recorded_at", "recorded_at"),
        Index("ix_audit_record_tenant_id", "tenant", "id"),
        UniqueConstraint("tenant", "chain_seq", name="uq_audit_record_tenant_chain_seq"),
    )

    id: int | None = Field(default=None, primary_key=True)
    recorded_at: datetime = _ts()
    request_id: str = Field(max_length=64)
    caller: str = Field(max_length=300)
    endpoint: str = Field(max_length=200)
    course_id: str | None = Field(default=None, index=True, max_length=36)
    hook_instance: str | None = Field(default=None, max_length=200)
    # The caller's tenant (wider than the others: it held the CDS client's label before).
    tenant: str = Field(max_length=200)
    as_of: date
    jurisdiction: str = Field(max_length=2)
    epoch: str = Field(max_length=40)
    ruleset_version: str = Field(max_length=40)
    catalogue_hash: str = Field(max_length=64)
    decision: str | None = Field(default=None, max_length=40)
    findings: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    input_hmac: str = Field(max_length=64)
    # The audit chain (``db.audit_chain``); null only on records written before it existed.
    chain_seq: int | None = None
    prev_hmac: str | None = Field(default=None, max_length=64)
    row_hmac: str | None = Field(default=None, max_length=64)


class AuditChainHead(SQLModel, table=True):
    """The last record of each tenant's audit chain: its sequence number and link."""

    __tablename__ = "audit_chain_head"

    tenant: str = Field(primary_key=True, max_length=200)
    seq: int
    row_hmac: str = Field(max_length=64)


class IdempotencyKey(SQLModel, table=True):
    """An ``Idempotency-Key`` of a caller: the request it came with and the answer it got."""

    __tablename__ = "idempotency_key"
    __table_args__ = (
        UniqueConstraint("tenant", "caller", "key", name="uq_idempotency_key_tenant_caller_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = _tenant()
    caller: str = Field(max_length=64)
    key: str = Field(max_length=200)
    fingerprint: str = Field(max_length=64)
    state: str = Field(max_length=20)
    status_code: int | None = None
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    location: str | None = Field(default=None, max_length=300)
    etag: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts()


class CdsCard(SQLModel, table=True):
    """A card the service issued: its rules, so that feedback joins to them (the feedback of
    the tenant it was issued to only)."""

    __tablename__ = "cds_card"
    __table_args__ = (Index("ix_cds_card_tenant_issued_at", "tenant", "issued_at"),)

    uuid: str = Field(primary_key=True, max_length=36)
    tenant: str = _tenant()
    service_id: str = Field(max_length=100)
    hook: str = Field(max_length=40)
    hook_instance: str = Field(max_length=200)
    caller: str = Field(max_length=300)
    rules: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    issued_at: datetime = _ts()


class CdsCardSuggestion(SQLModel, table=True):
    """A suggestion of an issued card and one rule ID behind it (a row per rule): an accepted
    suggestion is credited to its own rules only, not to every rule on its card."""

    __tablename__ = "cds_card_suggestion"
    __table_args__ = (
        Index("ix_cds_card_suggestion_card_uuid", "card_uuid"),
        ForeignKeyConstraint(
            ["card_uuid"], ["cds_card.uuid"], name="fk_cds_card_suggestion_card_uuid_cds_card"
        ),
    )

    uuid: str = Field(primary_key=True, max_length=36)
    rule_id: str = Field(primary_key=True, max_length=100)
    card_uuid: str = Field(max_length=36)
    tenant: str = _tenant()


class CdsFeedback(SQLModel, table=True):
    """Feedback on a card: accepted or overridden, with the reason; ``matched`` when the card
    was issued to the tenant that sends the feedback."""

    __tablename__ = "cds_feedback"
    __table_args__ = (Index("ix_cds_feedback_tenant_received_at", "tenant", "received_at"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = _tenant()
    card_uuid: str = Field(index=True, max_length=200)
    matched: bool
    service_id: str = Field(max_length=100)
    caller: str = Field(max_length=300)
    outcome: str = Field(max_length=20)
    accepted_suggestions: list[str] = Field(sa_column=Column(JSON, nullable=False))
    override_reason: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    outcome_timestamp: datetime = _ts()
    received_at: datetime = _ts()


class JwtReplay(SQLModel, table=True):
    """A JWT ``jti`` already accepted, kept until the token would have expired."""

    __tablename__ = "jwt_replay"
    __table_args__ = (UniqueConstraint("iss", "jti", name="uq_jwt_replay_iss_jti"),)

    id: int | None = Field(default=None, primary_key=True)
    iss: str = Field(max_length=300)
    jti: str = Field(max_length=200)
    expires_at: datetime = _ts()
