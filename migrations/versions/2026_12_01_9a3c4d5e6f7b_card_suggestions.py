"""card suggestions: the rule IDs behind each suggestion of an issued card

Revision ID: 9a3c4d5e6f7b
Revises: 8f2b3d4e5c6a
Create Date: 2026-12-01 18:00:00.000000

Adds the ``cds_card_suggestion`` table (a suggestion's uuid and one rule ID behind it, a row per
rule, with its card and tenant), so that an accepted suggestion is credited to its own rules and
not to every rule on its card, and the index ``ix_cds_card_tenant_issued_at`` the feedback summary
reads cards by. Cards issued before this revision have no suggestion rows: the mapping was never
stored, so their accepted suggestions stay unattributed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "9a3c4d5e6f7b"
down_revision: str | None = "8f2b3d4e5c6a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cds_card_suggestion",
        sa.Column("uuid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("rule_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("card_uuid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("tenant", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_uuid"], ["cds_card.uuid"], name="fk_cds_card_suggestion_card_uuid_cds_card"
        ),
        sa.PrimaryKeyConstraint("uuid", "rule_id", name=op.f("pk_cds_card_suggestion")),
    )
    with op.batch_alter_table("cds_card_suggestion", schema=None) as batch_op:
        batch_op.create_index("ix_cds_card_suggestion_card_uuid", ["card_uuid"], unique=False)
    with op.batch_alter_table("cds_card", schema=None) as batch_op:
        batch_op.create_index("ix_cds_card_tenant_issued_at", ["tenant", "issued_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cds_card", schema=None) as batch_op:
        batch_op.drop_index("ix_cds_card_tenant_issued_at")
    with op.batch_alter_table("cds_card_suggestion", schema=None) as batch_op:
        batch_op.drop_index("ix_cds_card_suggestion_card_uuid")
    op.drop_table("cds_card_suggestion")
