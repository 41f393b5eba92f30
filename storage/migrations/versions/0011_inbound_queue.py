"""inbound queue for worker processes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 05:00:00.000000

On PostgreSQL with `FRONTDESK_WORKERS`, the process that receives updates stores them here
and several worker processes take them chat by chat; a row goes once it is handled.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("chat_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "external_id"),
    )
    op.create_index("ix_inbound_queue_chat", "inbound_queue", ["channel", "chat_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbound_queue_chat", table_name="inbound_queue")
    op.drop_table("inbound_queue")
