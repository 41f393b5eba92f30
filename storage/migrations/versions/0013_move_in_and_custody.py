"""move-in and custody

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 07:32:41.504835

A unit's life (its stage and the history of changes), the move-in checklist, meter
readings, custody of empty flats, the office's key register and private papers. A unit
with a handover date on record is taken as handed over.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.models

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custody",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("starts", sa.Date(), nullable=False),
        sa.Column("ends", sa.Date(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("opened_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("opened_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["unit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("custody", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custody_community_id"), ["community_id"], unique=False)
        batch_op.create_index("ix_custody_open", ["unit_id", "status"], unique=False)

    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("file_ref", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("stored_path", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("added_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["unit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_community_id"), ["community_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_document_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_subject"), ["subject"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "meter_reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("meter", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("value", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("read_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["unit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("meter_reading", schema=None) as batch_op:
        batch_op.create_index("ix_meter_reading_unit", ["unit_id", "meter", "at"], unique=False)

    op.create_table(
        "office_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("received_from", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("received_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("returned_to", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("returned_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["unit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("office_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_office_key_community_id"), ["community_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_office_key_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "unit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("from_stage", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("to_stage", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["unit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("unit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unit_event_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "move_in",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("delegate_id", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("inspection_ticket_id", sa.Integer(), nullable=True),
        sa.Column("reinspect_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("signed_off_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("signed_off_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("invite_code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("opened_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("opened_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.ForeignKeyConstraint(
            ["delegate_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["inspection_ticket_id"],
            ["ticket.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["unit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("move_in", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_move_in_community_id"), ["community_id"], unique=False)
        batch_op.create_index("ix_move_in_open", ["unit_id", "status"], unique=False)

    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "stage",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="not_handed_over",
            )
        )
    op.execute("UPDATE unit SET stage = 'handed_over' WHERE handover_date IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.drop_column("stage")

    with op.batch_alter_table("move_in", schema=None) as batch_op:
        batch_op.drop_index("ix_move_in_open")
        batch_op.drop_index(batch_op.f("ix_move_in_community_id"))

    op.drop_table("move_in")
    with op.batch_alter_table("unit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unit_event_unit_id"))

    op.drop_table("unit_event")
    with op.batch_alter_table("office_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_office_key_unit_id"))
        batch_op.drop_index(batch_op.f("ix_office_key_community_id"))

    op.drop_table("office_key")
    with op.batch_alter_table("meter_reading", schema=None) as batch_op:
        batch_op.drop_index("ix_meter_reading_unit")

    op.drop_table("meter_reading")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_unit_id"))
        batch_op.drop_index(batch_op.f("ix_document_subject"))
        batch_op.drop_index(batch_op.f("ix_document_person_id"))
        batch_op.drop_index(batch_op.f("ix_document_community_id"))

    op.drop_table("document")
    with op.batch_alter_table("custody", schema=None) as batch_op:
        batch_op.drop_index("ix_custody_open")
        batch_op.drop_index(batch_op.f("ix_custody_community_id"))

    op.drop_table("custody")
