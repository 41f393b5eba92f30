"""the back office

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 11:45:01.466238

The back office: services offered and their prices, the desk's cash ledger and its closed
days, things to let with their contracts, rents due and venue bookings, the contacts of
an arrears case (and its reason and legal file), and the published statements of account.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.models

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_statement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("starts", sa.Date(), nullable=False),
        sa.Column("ends", sa.Date(), nullable=False),
        sa.Column("income", sa.JSON(), nullable=False),
        sa.Column("expenses", sa.JSON(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("made_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("made_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("published_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("published_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("file", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("community_id", "period"),
    )
    op.create_table(
        "ledger_day",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("cash_expected", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("cash_counted", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("deposited", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("deposit_ref", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("difference", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("closed_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("closed_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("locked_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("community_id", "day"),
    )
    op.create_table(
        "rentable",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("place", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("size", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("terms", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("rent", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("deposit", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rentable", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rentable_community_id"), ["community_id"], unique=False
        )

    op.create_table(
        "service_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("per", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("service_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_item_community_id"), ["community_id"], unique=False
        )

    op.create_table(
        "rental_contract",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("rentable_id", sa.Integer(), nullable=False),
        sa.Column("tenant", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("starts", sa.Date(), nullable=False),
        sa.Column("ends", sa.Date(), nullable=False),
        sa.Column("rent", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("every_months", sa.Integer(), nullable=False),
        sa.Column("deposit", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("made_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("made_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["rentable_id"],
            ["rentable.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rental_contract", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rental_contract_community_id"), ["community_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_rental_contract_rentable_id"), ["rentable_id"], unique=False
        )

    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("receipt", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("payer", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("clerk", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("corrects_id", sa.Integer(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.ForeignKeyConstraint(
            ["corrects_id"],
            ["ledger_entry.id"],
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["unit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("community_id", "receipt"),
    )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_entry_day", ["community_id", "day"], unique=False)

    op.create_table(
        "rent_due",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("paid_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("receipt", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("reminded_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("step", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["rental_contract.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contract_id", "due"),
    )
    with op.batch_alter_table("rent_due", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rent_due_contract_id"), ["contract_id"], unique=False)

    op.create_table(
        "venue_booking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("rentable_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("starts_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("fee", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("receipt", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["rentable_id"],
            ["rentable.id"],
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["unit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("venue_booking", schema=None) as batch_op:
        batch_op.create_index("ix_venue_booking_time", ["rentable_id", "starts_at"], unique=False)

    op.create_table(
        "arrears_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("promised_on", sa.Date(), nullable=True),
        sa.Column("promised_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("followed_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("kept", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["arrears_case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("arrears_contact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_arrears_contact_case_id"), ["case_id"], unique=False)

    with op.batch_alter_table("arrears_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "reason",
                sqlmodel.sql.sqltypes.AutoString(length=40),
                server_default="",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "legal_file",
                sqlmodel.sql.sqltypes.AutoString(length=300),
                server_default="",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("legal_at", storage.models.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("arrears_case", schema=None) as batch_op:
        batch_op.drop_column("legal_at")
        batch_op.drop_column("legal_file")
        batch_op.drop_column("reason")

    with op.batch_alter_table("arrears_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_arrears_contact_case_id"))

    op.drop_table("arrears_contact")
    with op.batch_alter_table("venue_booking", schema=None) as batch_op:
        batch_op.drop_index("ix_venue_booking_time")

    op.drop_table("venue_booking")
    with op.batch_alter_table("rent_due", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rent_due_contract_id"))

    op.drop_table("rent_due")
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entry_day")

    op.drop_table("ledger_entry")
    with op.batch_alter_table("rental_contract", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rental_contract_rentable_id"))
        batch_op.drop_index(batch_op.f("ix_rental_contract_community_id"))

    op.drop_table("rental_contract")
    with op.batch_alter_table("service_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_item_community_id"))

    op.drop_table("service_item")
    with op.batch_alter_table("rentable", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rentable_community_id"))

    op.drop_table("rentable")
    op.drop_table("ledger_day")
    op.drop_table("account_statement")
