"""Visitors (访客), parcels (快递) and key loans (钥匙借用); keys get a kind and a place.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 10:50:31.069566
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.models

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "key_loan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("borrower", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("consent", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("lent_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("lent_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("due_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("returned_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("returned_to", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("escalated_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["office_key.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staffmember.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("key_loan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_key_loan_key_id"), ["key_id"], unique=False)
        batch_op.create_index("ix_key_loan_open", ["community_id", "returned_at"], unique=False)

    op.create_table(
        "parcel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("waybill", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("courier", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("valuable", sa.Boolean(), nullable=False),
        sa.Column("damaged", sa.Boolean(), nullable=False),
        sa.Column("photo", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("received_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("reminded_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("collected_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("collected_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("identity", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("handed_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
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
        sa.UniqueConstraint("community_id", "code"),
    )
    with op.batch_alter_table("parcel", schema=None) as batch_op:
        batch_op.create_index(
            "ix_parcel_community_status", ["community_id", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_parcel_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_parcel_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("plate", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("companions", sa.Integer(), nullable=False),
        sa.Column("expected_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("leaves_by", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("registered_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("arrived_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("left_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.ForeignKeyConstraint(
            ["host_id"],
            ["person.id"],
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
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.create_index(
            "ix_visit_community_expected", ["community_id", "expected_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_visit_host_id"), ["host_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visit_unit_id"), ["unit_id"], unique=False)

    with op.batch_alter_table("office_key", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                server_default="unit",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "place",
                sqlmodel.sql.sqltypes.AutoString(length=60),
                server_default="",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("office_key", schema=None) as batch_op:
        batch_op.drop_column("place")
        batch_op.drop_column("kind")

    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_unit_id"))
        batch_op.drop_index(batch_op.f("ix_visit_host_id"))
        batch_op.drop_index("ix_visit_community_expected")

    op.drop_table("visit")
    with op.batch_alter_table("parcel", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_parcel_unit_id"))
        batch_op.drop_index(batch_op.f("ix_parcel_person_id"))
        batch_op.drop_index("ix_parcel_community_status")

    op.drop_table("parcel")
    with op.batch_alter_table("key_loan", schema=None) as batch_op:
        batch_op.drop_index("ix_key_loan_open")
        batch_op.drop_index(batch_op.f("ix_key_loan_key_id"))

    op.drop_table("key_loan")
