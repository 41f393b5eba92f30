"""Group commit: the updates of one poll share a transaction, and one that fails costs the
others nothing.

`Database.batch` on both databases, then the Telegram channel polling a run of updates in
which one breaks the handler (a bug, injected): the others are answered, the broken one is
kept unhandled for someone to look at, and Telegram is not asked for it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, func, select

from storage.db import BatchFailed, Database
from storage.models import Community, InboundUpdate
from tests.telegram_emulator import BotAPIEmulator
from tests.test_telegram import TOKEN, Scene, running, until

RATE = Decimal("2.50")


async def communities(db: Database) -> list[str]:
    async with db.transaction() as s:
        return sorted((await s.exec(select(Community.code))).all())


async def test_a_batch_commits_its_blocks_together(database: Database) -> None:
    async with database.batch():
        for code in ("A", "B", "C"):
            async with database.transaction() as s:
                s.add(Community(code=code, name=code, management_rate=RATE))
    assert await communities(database) == ["A", "B", "C"]


async def test_one_failing_block_rolls_the_whole_batch_back(database: Database) -> None:
    with pytest.raises(BatchFailed):
        async with database.batch():
            async with database.transaction() as s:
                s.add(Community(code="A", name="A", management_rate=RATE))
            with pytest.raises(ValueError):
                async with database.transaction() as s:
                    s.add(Community(code="B", name="B", management_rate=RATE))
                    raise ValueError("a handler's bug")
            with pytest.raises(BatchFailed):  # nothing more is written in a doomed batch
                async with database.transaction() as s:
                    s.add(Community(code="C", name="C", management_rate=RATE))
    assert await communities(database) == []
    async with database.transaction() as s:  # and the database is fine afterwards
        s.add(Community(code="D", name="D", management_rate=RATE))
    assert await communities(database) == ["D"]


async def test_a_busy_writer_does_not_starve_a_short_transaction_on_sqlite(
    sqlite_database: Database,
) -> None:
    """One task writes back to back, holding SQLite's write lock 50 ms a time (a poll of slow
    updates, batch after batch); another wants one short transaction (marking a message
    sent). It gets the next turn, not whatever gap SQLite's busy handler happens to hit:
    that wait once ran past the 30 s busy timeout and a delivered message was sent again."""
    db = sqlite_database
    turns = 40
    writing = asyncio.Event()

    async def busy() -> None:
        for n in range(turns):
            async with db.transaction() as s:
                s.add(Community(code=f"B{n:02}", name="busy", management_rate=RATE))
                await s.flush()
                writing.set()
                await asyncio.sleep(0.05)

    task = asyncio.create_task(busy())
    await writing.wait()
    async with db.transaction() as s:
        s.add(Community(code="SHORT", name="short", management_rate=RATE))
        before = (await s.exec(select(func.count()).select_from(Community))).one()
    await task
    # In at the second turn at the latest (the busy one may have queued its next already).
    assert before <= 2, f"the short transaction waited for {before} of {turns} busy ones"
    assert len(await communities(db)) == turns + 1


@pytest.fixture
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
    emulator = BotAPIEmulator(TOKEN, enforce_limits=False)
    await emulator.start()
    try:
        async for ready in running(tmp_path, emulator, webhook=False, real_pace=False):
            yield ready
    finally:
        await emulator.stop()


async def test_a_broken_update_in_a_poll_costs_the_others_nothing(scene: Scene, caplog) -> None:
    engine = scene.app.engine
    route = engine._route

    async def breaks_on_a_bomb(ctx: Any, state: Any) -> Any:
        # A bug in a handler, for one message, midway through its transaction.
        if ctx.msg.text == "💣":
            raise RuntimeError("injected handler bug")
        return await route(ctx, state)

    engine._route = breaks_on_a_bomb  # type: ignore[method-assign]
    emulator = scene.emulator
    users = [6001, 6002, 6003, 6004, 6005]
    # Queued before the bot polls again, so they come in one getUpdates, one batch.
    ids = [emulator.send_text(user, user, "💣" if user == 6003 else "/start") for user in users]

    async def all_stored() -> bool:
        async with scene.app.db.transaction() as s:
            stored = await s.exec(
                select(func.count())
                .select_from(InboundUpdate)
                .where(col(InboundUpdate.external_id).in_([f"tg:{i}" for i in ids]))
            )
            return stored.one() == len(ids)

    await until(all_stored, "all five updates to be stored")
    for user in users:
        if user != 6003:
            await until(lambda u=user: emulator.messages(u), f"an answer to {user}")
    rows = {
        row.external_id: row
        for row in await scene.rows(
            InboundUpdate, col(InboundUpdate.external_id).in_([f"tg:{i}" for i in ids])
        )
    }
    broken = rows[f"tg:{ids[2]}"]
    assert broken.handled_at is None and broken.payload  # kept, for someone to look at
    assert all(rows[f"tg:{i}"].handled_at is not None for i in ids if i != ids[2])
    assert emulator.messages(6003) == []
    assert "a batch of 5 updates failed" in caplog.text  # they did come in one batch

    # Acknowledged all the same: the next poll moves past it and the bot goes on.
    later = emulator.send_text(6001, 6001, "/help")
    await scene.settled(later)
    gets = [params for method, params in emulator.calls if method == "getUpdates"]
    assert any(int(p.get("offset") or 0) > ids[-1] for p in gets)
