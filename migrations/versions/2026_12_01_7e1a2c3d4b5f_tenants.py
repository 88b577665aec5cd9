"""tenants: every course, event, audit record, idempotency key, card and feedback has one

Revision ID: 7e1a2c3d4b5f
Revises: 3f7ef5101618
Create Date: 2026-12-01 09:00:00.000000

Existing rows belong to tenant ``default`` (an audit record's tenant, until now the CDS client's
label, is kept where it was set). The columns are NOT NULL after the backfill, with no server
default: the code names the tenant of every row it writes.

Events reference their course by (course_id, tenant), so an event cannot be attached to another
tenant's course. On SQLite, changing ``course`` recreates the table, which foreign keys on would
refuse while events reference it: the events' foreign key is dropped first and made again after.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "7e1a2c3d4b5f"
down_revision: str | None = "3f7ef5101618"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_TENANT = "default"
NEW = ("course", "course_event", "idempotency_key", "cds_card", "cds_feedback")
EVENT_FK = "fk_course_event_course_id_course"


def _tenant(nullable: bool) -> sa.Column[str]:
    return sa.Column("tenant", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=nullable)


def upgrade() -> None:
    for table in NEW:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(_tenant(nullable=True))
    for table in (*NEW, "audit_record"):
        op.execute(
            sa.text(f"UPDATE {table} SET tenant = :tenant WHERE tenant IS NULL").bindparams(  # noqa: S608  # table names of this file
                tenant=DEFAULT_TENANT
            )
        )

    with op.batch_alter_table("course_event", schema=None) as batch_op:
        batch_op.drop_constraint(EVENT_FK, type_="foreignkey")

    with op.batch_alter_table("course", schema=None) as batch_op:
        batch_op.alter_column("tenant", existing_type=_tenant(True).type, nullable=False)
        batch_op.create_unique_constraint("uq_course_id_tenant", ["id", "tenant"])
        batch_op.drop_index("ix_course_patient_ref")
        batch_op.create_index("ix_course_tenant_patient_ref", ["tenant", "patient_ref"])

    with op.batch_alter_table("course_event", schema=None) as batch_op:
        batch_op.alter_column("tenant", existing_type=_tenant(True).type, nullable=False)
        batch_op.create_foreign_key(EVENT_FK, "course", ["course_id", "tenant"], ["id", "tenant"])

    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.alter_column("tenant", existing_type=sa.String(length=200), nullable=False)
        batch_op.create_index("ix_audit_record_tenant_id", ["tenant", "id"])

    with op.batch_alter_table("idempotency_key", schema=None) as batch_op:
        batch_op.alter_column("tenant", existing_type=_tenant(True).type, nullable=False)
        batch_op.drop_constraint("uq_idempotency_key_caller_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_idempotency_key_tenant_caller_key", ["tenant", "caller", "key"]
        )

    with op.batch_alter_table("cds_card", schema=None) as batch_op:
        batch_op.alter_column("tenant", existing_type=_tenant(True).type, nullable=False)

    with op.batch_alter_table("cds_feedback", schema=None) as batch_op:
        batch_op.alter_column("tenant", existing_type=_tenant(True).type, nullable=False)
        batch_op.create_index("ix_cds_feedback_tenant_received_at", ["tenant", "received_at"])


def downgrade() -> None:
    with op.batch_alter_table("cds_feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_cds_feedback_tenant_received_at")
        batch_op.drop_column("tenant")

    with op.batch_alter_table("cds_card", schema=None) as batch_op:
        batch_op.drop_column("tenant")

    # Keys of one caller in two tenants would break the old (caller, key) constraint: keep the
    # first of each (the others are a cache of answers kept 48 hours).
    op.execute(
        "DELETE FROM idempotency_key WHERE id NOT IN "
        "(SELECT MIN(id) FROM idempotency_key GROUP BY caller, key)"
    )
    with op.batch_alter_table("idempotency_key", schema=None) as batch_op:
        batch_op.drop_constraint("uq_idempotency_key_tenant_caller_key", type_="unique")
        batch_op.create_unique_constraint("uq_idempotency_key_caller_key", ["caller", "key"])
        batch_op.drop_column("tenant")

    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_record_tenant_id")
        batch_op.alter_column("tenant", existing_type=sa.String(length=200), nullable=True)

    with op.batch_alter_table("course_event", schema=None) as batch_op:
        batch_op.drop_constraint(EVENT_FK, type_="foreignkey")
        batch_op.drop_column("tenant")

    with op.batch_alter_table("course", schema=None) as batch_op:
        batch_op.drop_index("ix_course_tenant_patient_ref")
        batch_op.create_index("ix_course_patient_ref", ["patient_ref"])
        batch_op.drop_constraint("uq_course_id_tenant", type_="unique")
        batch_op.drop_column("tenant")

    with op.batch_alter_table("course_event", schema=None) as batch_op:
        batch_op.create_foreign_key(EVENT_FK, "course", ["course_id"], ["id"])
