"""Inbound updates: each chat update is stored before it is acknowledged.

Chat platforms redeliver when they miss an acknowledgement (WeChat retries three
times, Telegram re-sends after a restart); the unique (channel, external_id)
makes the second delivery a no-op instead of a second ticket.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundUpdate
from storage.upsert import insert


async def accept(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    chat_id: str,
    payload: dict[str, Any],
    now: datetime,
    handled: bool = False,
) -> bool:
    """Store the update; False when (channel, external_id) was seen before.

    `handled`: the caller handles it in the same transaction, so it is stored handled
    (one write instead of an insert and an update).
    """
    stmt = (
        insert(session, InboundUpdate)
        .values(
            channel=channel,
            external_id=external_id,
            chat_id=chat_id,
            payload=payload,
            received_at=now,
            handled_at=now if handled else None,
        )
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        # RETURNING tells "inserted" from "skipped" the same way on both drivers.
        .returning(col(InboundUpdate.id))
    )
    return (await session.exec(stmt)).scalar_one_or_none() is not None


async def mark_handled(
    session: AsyncSession, channel: str, external_id: str, now: datetime
) -> None:
    await session.exec(
        update(InboundUpdate)
        .where(col(InboundUpdate.channel) == channel, col(InboundUpdate.external_id) == external_id)
        .values(handled_at=now)
    )
