"""audit chain: each audit record links to the previous one of its tenant

Revision ID: 8f2b3d4e5c6a
Revises: 7e1a2c3d4b5f
Create Date: 2026-12-01 12:00:00.000000

Adds ``chain_seq``, ``prev_hmac`` and ``row_hmac`` to ``audit_record`` (unique per tenant and
sequence) and the ``audit_chain_head`` table. Records written before this revision keep null
chain fields: the links are keyed with the audit key, which a migration does not hold, and
``python -m api audit verify`` reports them as not chained.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "8f2b3d4e5c6a"
down_revision: str | None = "7e1a2c3d4b5f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_chain_head",
        sa.Column("tenant", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("row_hmac", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("tenant", name=op.f("pk_audit_chain_head")),
    )
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_seq", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("prev_hmac", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("row_hmac", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.create_unique_constraint(
            "uq_audit_record_tenant_chain_seq", ["tenant", "chain_seq"]
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_record_tenant_chain_seq", type_="unique")
        batch_op.drop_column("row_hmac")
        batch_op.drop_column("prev_hmac")
        batch_op.drop_column("chain_seq")
    op.drop_table("audit_chain_head")
