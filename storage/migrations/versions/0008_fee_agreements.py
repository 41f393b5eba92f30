"""fee agreements

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 09:00:00.000000

What the desk agreed about a unit's fees (a dispute under review, an instalment plan),
with its dates: the arrears ladder reads it to wait or to remind by instalment.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fee_agreement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("total", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("months", sa.JSON(), nullable=False),
        sa.Column("instalments", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("opened_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("resolution", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fee_agreement", schema=None) as batch_op:
        batch_op.create_index("ix_fee_agreement_open", ["unit_id", "closed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_fee_agreement_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fee_agreement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fee_agreement_ticket_id"))
        batch_op.drop_index("ix_fee_agreement_open")
    op.drop_table("fee_agreement")
