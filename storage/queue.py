"""The inbound queue: updates stored by the receiving process, handled by worker processes.

With `FRONTDESK_WORKERS` on PostgreSQL, the process that polls Telegram (or receives its
webhook) only stores each update here, in the transaction that acknowledges it, and the
worker processes handle them. A chat's updates must be handled in the order they came and
by one worker at a time, while different chats go to different workers: a worker takes a
few chats at once, each under a transaction-scoped advisory lock that another worker's
`pg_try_advisory_xact_lock` skips, handles every update those chats have waiting, in order,
and deletes them before it commits, which releases the locks. A worker that dies rolls
back: its chats' updates are still here, and the next worker takes them.

Ordering holds because a chat's updates are only ever read by the lock's holder, and a
statement run after taking the lock sees everything committed before it (READ COMMITTED):
what an earlier holder handled is gone, what arrived meanwhile is there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import QueuedUpdate
from storage.upsert import insert

# The first key of the two-key advisory locks on chats ("FD" + 1): keeps them apart from
# any other advisory lock taken on the same database.
CHAT_LOCKS = 0x46440001
# How many chats with updates waiting a worker looks at to find ones nobody holds.
SCAN = 200

_CLAIM = text(
    """
    WITH waiting AS MATERIALIZED (
        SELECT chat_id, min(id) AS first FROM inbound_queue
        WHERE channel = :channel GROUP BY chat_id ORDER BY first LIMIT :scan
    )
    SELECT chat_id FROM waiting
    WHERE pg_try_advisory_xact_lock(:locks, hashtext(CAST(:channel AS text) || ':' || chat_id))
    LIMIT :chats
    """
)
_LOCK = text(
    "SELECT pg_advisory_xact_lock("
    ":locks, hashtext(CAST(:channel AS text) || ':' || CAST(:chat AS text)))"
)
# The LIMIT stops the scan as soon as enough chats are locked: the materialized list is
# read in order and the lock is tried row by row, so no chat is locked and left unused.


async def put(
    session: AsyncSession,
    channel: str,
    updates: Sequence[tuple[str, str, dict[str, Any]]],
    now: datetime,
) -> None:
    """Store (external id, chat id, payload) updates for the workers, in the order given;
    one already waiting (a redelivery) is not stored twice."""
    if not updates:
        return
    rows = [
        {
            "channel": channel,
            "external_id": external_id,
            "chat_id": chat_id,
            "payload": payload,
            "received_at": now,
        }
        for external_id, chat_id, payload in updates
    ]
    stmt = insert(session, QueuedUpdate).on_conflict_do_nothing(
        index_elements=["channel", "external_id"]
    )
    await session.exec(stmt, params=rows)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Queued:
    """A queued update as read, kept as plain values (a rolled-back lot is redone from it)."""

    id: int
    channel: str
    chat_id: str
    payload: dict[str, Any]


async def claim(session: AsyncSession, channel: str, chats: int) -> list[Queued]:
    """Lock up to `chats` chats that have updates waiting and that no other worker holds,
    oldest first, and return all their waiting updates in order. The locks last until the
    session's transaction ends; delete what was handled (`done`) before it commits."""
    locked = (
        await session.exec(
            _CLAIM,  # type: ignore[call-overload]
            params={"channel": channel, "scan": SCAN, "locks": CHAT_LOCKS, "chats": chats},
        )
    ).all()
    if not locked:
        return []
    found = await session.exec(
        select(QueuedUpdate.id, QueuedUpdate.chat_id, QueuedUpdate.payload)
        .where(
            col(QueuedUpdate.channel) == channel,
            col(QueuedUpdate.chat_id).in_([row[0] for row in locked]),
        )
        .order_by(col(QueuedUpdate.id))
    )
    return [Queued(int(id or 0), channel, chat, dict(payload)) for id, chat, payload in found.all()]


async def take(session: AsyncSession, update: Queued) -> bool:
    """Lock the update's chat (waiting for a worker that holds it) and remove the update;
    False when another worker handled it meanwhile. For handling updates one at a time."""
    await session.exec(
        _LOCK,  # type: ignore[call-overload]
        params={"locks": CHAT_LOCKS, "channel": update.channel, "chat": update.chat_id},
    )
    removed = await session.exec(
        delete(QueuedUpdate)
        .where(col(QueuedUpdate.id) == update.id)
        .returning(col(QueuedUpdate.id))  # type: ignore[arg-type]
    )
    return removed.first() is not None


async def done(session: AsyncSession, ids: Sequence[int]) -> None:
    """Remove handled updates (in the transaction that handled them)."""
    if ids:
        await session.exec(delete(QueuedUpdate).where(col(QueuedUpdate.id).in_(ids)))


async def waiting(session: AsyncSession) -> int:
    """How many updates wait for a worker."""
    return int((await session.exec(select(func.count()).select_from(QueuedUpdate))).one())
