"""a community's own policy

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:00:00.000000

A community may keep deadlines and revisit windows of its own (a leak revisit in 2 days
rather than 3): the settings it overrides, by name. Empty means the company's settings.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("community", schema=None) as batch_op:
        batch_op.add_column(sa.Column("policy", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("community", schema=None) as batch_op:
        batch_op.drop_column("policy")
