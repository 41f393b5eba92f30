"""web workspace accounts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 06:00:00.000000

Passwords (argon2 hashes) for the desk's web workspace, with the count of wrong ones in a
row and the time signing in is refused until after them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.models

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_account",
        sa.Column("login", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("password_set_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("login"),
    )


def downgrade() -> None:
    op.drop_table("web_account")
