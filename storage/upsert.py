"""Dialect-specific INSERT for `ON CONFLICT` clauses, on SQLite and PostgreSQL alike.

Both dialects spell upserts the same way (`on_conflict_do_nothing/do_update`), but
SQLAlchemy keeps them in separate modules; this picks the one the session talks to.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert(session: AsyncSession, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` that understands `on_conflict_*` on the session's backend."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for {dialect}")
