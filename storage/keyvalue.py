"""Small shared values in the `key_value` table: read, write, and cached access tokens.

Every worker of every process sees the same values: the choices last shown to a WeChat
resident, the console's clock offset, and the platforms' access tokens, which are
fetched once for all workers (a new token retires the old one, and each platform issues
a limited number a day).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import Database
from storage.models import KeyValue
from storage.upsert import insert

# A token is renewed this long before the platform says it expires (clocks drift, calls
# take time).
TOKEN_MARGIN = timedelta(minutes=5)

TokenFetch = Callable[[], Awaitable[tuple[str, int]]]


async def read(session: AsyncSession, key: str) -> str | None:
    """The value stored under `key`; None when there is none."""
    row = await session.get(KeyValue, key)
    return row.value if row is not None else None


async def write(session: AsyncSession, key: str, value: str) -> None:
    """Store `value` under `key`, replacing what was there (one statement, no race)."""
    await session.exec(
        insert(session, KeyValue)
        .values(key=key, value=value)
        .on_conflict_do_update(index_elements=["key"], set_={"value": value})
    )


async def cached_token(db: Database, key: str, now: datetime, fetch: TokenFetch) -> str:
    """The live token stored under `key`; fetched (once for all workers) when missing or old.

    A refresh happens under a row lock (PostgreSQL) or the write lock (SQLite), so two
    workers finding the token expired fetch it once.
    """
    async with db.transaction() as session:
        row = await session.get(KeyValue, key)
        if _fresh(row, now):
            assert row is not None
            return row.value
    async with db.transaction() as session:
        # Make sure a row exists to lock, then lock it: a second worker waits here and
        # finds the token the first one fetched.
        await session.exec(
            insert(session, KeyValue)
            .values(key=key, value="", expires_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        stmt = select(KeyValue).where(KeyValue.key == key)
        if db.dialect == "postgresql":
            stmt = stmt.with_for_update()
        row = (await session.exec(stmt.execution_options(populate_existing=True))).one()
        if _fresh(row, now):
            return row.value
        token, expires_in = await fetch()
        row.value = token
        row.expires_at = now + timedelta(seconds=expires_in) - TOKEN_MARGIN
        session.add(row)
        return token


async def forget_token(db: Database, key: str, token: str) -> None:
    """Drop a token the platform refused, unless another worker already replaced it."""
    async with db.transaction() as session:
        row = await session.get(KeyValue, key)
        if row is not None and row.value == token:
            row.value, row.expires_at = "", None
            session.add(row)


def _fresh(row: KeyValue | None, now: datetime) -> bool:
    return bool(row and row.value and row.expires_at and row.expires_at > now)
