"""History: what one Telegram send reads when the outbox holds months of delivered messages.

Before each message goes out, `TelegramSender` reads the chat's last delivered message
(is a share-contact keyboard to be removed?) and, for a card, the message showing it (to
edit in place). The outbox keeps delivered rows, so after months it holds hundreds of
thousands. Both reads are timed through the sender's own code, for a chat that has had
messages and for a chat that is new, on SQLite and PostgreSQL, with the chat index of
migration 0007 dropped (before) and in place (now), side by side on the same store.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from sqlalchemy import insert, text

from bench.common import Section, percentile, pg_database, sqlite_database
from bot.channels.telegram_send import CHANNEL, TelegramSender
from handlers.core.clock import ManualClock
from handlers.core.i18n import Catalogs
from storage.db import Database
from storage.models import Outbox

START = datetime(2026, 5, 1, tzinfo=UTC)
CHATS = 20_000
ASKS = 50  # each send's reads, timed this many times


def _rows(count: int, offset: int) -> list[dict[str, Any]]:
    """Delivered messages, a few a minute over months, spread over `CHATS` chats."""
    rows = []
    for n in range(offset, offset + count):
        at = START + timedelta(seconds=n * 20)
        rows.append(
            {
                "channel": CHANNEL,
                "chat_id": str(100_000 + n % CHATS),
                "payload": {"text": "您好，请问有什么可以帮您？"},
                "card": f"ticket:{n}" if n % 10 == 0 else None,
                "urgent": False,
                "bulk": False,
                "created_at": at,
                "not_before": at,
                "attempts": 0,
                "sent_at": at,
                "external_message_id": str(n),
            }
        )
    return rows


async def _fill(db: Database, count: int) -> None:
    for offset in range(0, count, 20_000):
        async with db.transaction() as session:
            connection = await session.connection()
            await connection.execute(insert(Outbox), _rows(min(20_000, count - offset), offset))


async def _time_reads(sender: TelegramSender, chat_id: str) -> float:
    """p50 milliseconds for what a send of a card to `chat_id` reads before it goes out."""
    now = datetime.now(UTC)
    row = Outbox(
        channel=CHANNEL,
        chat_id=chat_id,
        payload={"text": "x", "card": "ticket:1"},
        created_at=now,
        not_before=now,
    )
    times = []
    for _ in range(ASKS):
        started = time.perf_counter()
        await sender.prepare(row)
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 50)


@contextlib.asynccontextmanager
async def _without_index(db: Database) -> AsyncIterator[None]:
    async with db.transaction() as session:
        await session.exec(text("DROP INDEX ix_outbox_chat"))  # type: ignore[call-overload]
    try:
        yield
    finally:
        async with db.transaction() as session:
            await session.exec(
                text("CREATE INDEX ix_outbox_chat ON outbox (channel, chat_id, sent_at)")  # type: ignore[call-overload]
            )


async def run(quick: bool = False) -> Section:
    count = 20_000 if quick else 300_000
    section = Section("History: one send's reads with months of delivered messages")
    section.add(
        f"{count:,} delivered messages in the outbox over {CHATS:,} chats; the two reads a "
        "Telegram send makes before it goes out (the chat's last message, the card's "
        f"message), p50 of {ASKS}, in one transaction as the sender does."
    )
    section.add()
    table = []
    catalogs = Catalogs.load("zh_CN", ZoneInfo("Asia/Shanghai"))
    bot = Bot("123456:bench")  # never called: only the store is read
    for name, opened in (("SQLite", sqlite_database), ("PostgreSQL", pg_database)):
        async with opened() as db:
            await _fill(db, count)
            async with db.transaction() as session:  # fresh statistics for the planner
                await session.exec(text("ANALYZE"))  # type: ignore[call-overload]
            sender = TelegramSender(bot, db, catalogs, ManualClock(START))
            for who, chat_id in (("a chat with messages", "100005"), ("a new chat", "999999")):
                async with _without_index(db):
                    before = await _time_reads(sender, chat_id)
                now = await _time_reads(sender, chat_id)
                table.append([name, who, f"{before:.2f}", f"{now:.2f}", f"{before / now:,.0f}×"])
    await bot.session.close()
    section.table(["database", "sending to", "before ms", "now ms", "faster"], table)
    return section
