"""invitation codes kept only as hashes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 09:00:00.000000

An invitation code binds whoever sends it to a unit, so a copy of the store must not hold
usable codes: each code becomes its slow hash (handlers/rules/binding.py `code_key`), and
the code is taken out of the audit rows that recorded it when issued or used.
"""

import hashlib
import json
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Frozen copies of handlers/rules/binding.py as they are at this revision: a migration
# must do tomorrow what it does today.
_CODE = re.compile(r"^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}$")


def code_key(code: str) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", code.encode(), b"frontdesk invitation code", 20_000)
    return digest.hex()[:16]


def upgrade() -> None:
    bind = op.get_bind()
    codes = bind.execute(sa.text("SELECT code FROM invite_code")).scalars().all()
    for code in codes:
        if _CODE.match(code):  # a code as issued; a hash (16 hex digits) is left as it is
            bind.execute(
                sa.text("UPDATE invite_code SET code = :key WHERE code = :code"),
                {"key": code_key(code), "code": code},
            )
    audits = bind.execute(
        sa.text("SELECT id, detail FROM audit_log WHERE action IN ('invite', 'bind_invite')")
    ).all()
    for audit_id, detail in audits:
        found = json.loads(detail) if isinstance(detail, str) else dict(detail or {})
        if "code" in found:
            found.pop("code")
            bind.execute(
                sa.text("UPDATE audit_log SET detail = :detail WHERE id = :id").bindparams(
                    sa.bindparam("detail", type_=sa.JSON())
                ),
                {"detail": found, "id": audit_id},
            )


def downgrade() -> None:
    """The codes cannot be had back from their hashes; issue new ones."""
