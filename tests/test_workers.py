"""Two workers on one PostgreSQL store: scheduled work is done once, and survives restarts."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from bot.app import App
from bot.demo import seed_demo
from bot.settings import Settings
from bot.workers import run_once
from storage.models import Outbox
from tests.conversations import file_repair, finish_repair
from tests.harness import Chat, texts


async def finished_repair(app: App) -> None:
    await file_repair(Chat(app, "resident"))
    await finish_repair(app)


async def test_two_workers_send_the_revisit_once(pg_database, clock):
    settings = Settings(database_url=pg_database.url)
    first = await App.start(settings, clock=clock)
    second = await App.start(settings, clock=clock)
    try:
        async with first.db.transaction() as s:
            await seed_demo(s, clock.now().astimezone(settings.tz).date(), settings.tz)
        await finished_repair(first)
        clock.advance(days=2, minutes=5)
        for _ in range(3):
            await asyncio.gather(run_once(first), run_once(second))
        async with first.db.transaction() as s:
            prompts = (await s.exec(select(Outbox).where(Outbox.chat_id == "resident"))).all()
        revisits = [p for p in prompts if "回访" in p.payload["text"]]
        assert len(revisits) == 1
    finally:
        await first.close()
        await second.close()


async def test_a_restart_keeps_the_scheduled_revisit(demo_app, clock):
    await finished_repair(demo_app)
    await demo_app.close()
    clock.advance(days=2, minutes=5)
    again = await App.start(demo_app.settings, clock=clock)
    try:
        await run_once(again)
        assert "回访" in texts(await Chat(again, "resident").inbox())
    finally:
        await again.close()
