"""renovation

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 08:30:54.416643

Renovations (the application, its review, permit and fee), the workers\' passes the
gate checks, and the checks and violations recorded during the work.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "renovation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("applicant_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("starts", sa.Date(), nullable=False),
        sa.Column("ends", sa.Date(), nullable=False),
        sa.Column("contractor", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("foreman", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("foreman_phone", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=False),
        sa.Column("plan", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("structural", sa.Boolean(), nullable=False),
        sa.Column("load_increase", sa.Boolean(), nullable=False),
        sa.Column("agreement_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("permit_number", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("fee", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("fee_receipt", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("submitted_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("reviews", sa.JSON(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["applicant_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["unit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("renovation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_renovation_community_id"), ["community_id"], unique=False
        )
        batch_op.create_index("ix_renovation_open", ["unit_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_renovation_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "renovation_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("renovation_id", sa.Integer(), nullable=False),
        sa.Column("at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("violation", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["renovation_id"],
            ["renovation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("renovation_check", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_renovation_check_renovation_id"), ["renovation_id"], unique=False
        )

    op.create_table(
        "worker_pass",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("renovation_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["renovation_id"],
            ["renovation.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("worker_pass", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_worker_pass_renovation_id"), ["renovation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("worker_pass", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_worker_pass_renovation_id"))

    op.drop_table("worker_pass")
    with op.batch_alter_table("renovation_check", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_renovation_check_renovation_id"))

    op.drop_table("renovation_check")
    with op.batch_alter_table("renovation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_renovation_ticket_id"))
        batch_op.drop_index("ix_renovation_open")
        batch_op.drop_index(batch_op.f("ix_renovation_community_id"))

    op.drop_table("renovation")
