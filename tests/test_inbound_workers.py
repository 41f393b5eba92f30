"""Worker processes on PostgreSQL (`FRONTDESK_WORKERS`): the receiving process only stores
Telegram's updates in the inbound queue, workers handle them chat by chat.

The receiver polls the Bot API emulator and delivers the outbox, as `frontdesk run` does;
two workers (each an `App` of its own, as a `frontdesk worker` process has) take the queue.
A resident's whole repair goes through them; many chats at once are each handled in the
order they wrote, once; a chat another worker holds waits while the others go on; an update
that breaks its handler costs the rest of the lot nothing; and SQLite refuses the setting.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlmodel import col, func, select

from bot import channels, ops
from bot.app import App
from bot.channels import telegram, telegram_worker
from bot.channels.telegram_send import Pacer
from bot.http import serve_http
from bot.settings import Settings
from storage import queue
from storage.db import Database
from storage.models import InboundUpdate, QueuedUpdate, Ticket, TicketEvent
from tests.commandline import frontdesk
from tests.crashkit import alive
from tests.telegram_emulator import BotAPIEmulator
from tests.test_telegram import (
    LIU,
    REPAIR_GROUP,
    RESIDENT,
    SECRET,
    TOKEN,
    WANG,
    ZHOU,
    Scene,
    TickingClock,
    file_repair,
    free_port,
    seed_telegram,
    texts,
    until,
)

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@dataclass
class Crew(Scene):
    workers: list[App] = field(default_factory=list)

    async def queued(self) -> int:
        async with self.app.db.transaction() as s:
            return await queue.waiting(s)


@pytest.fixture
async def crew(request, pg_database: Database) -> AsyncIterator[Crew]:
    """Polling, unless the test asks for the webhook (`indirect` parametrization)."""
    webhook = getattr(request, "param", "polling") == "webhook"
    emulator = BotAPIEmulator(TOKEN, enforce_limits=False)
    await emulator.start()
    port = free_port()
    settings = Settings(
        database_url=pg_database.url,
        telegram_token=TOKEN,
        telegram_api_url=emulator.base_url,
        telegram_supervisors=str(ZHOU),
        workers=2,
        http_port=port,
        telegram_webhook_url=f"http://127.0.0.1:{port}/telegram" if webhook else None,
        telegram_webhook_secret=SECRET if webhook else None,
    )
    clock = TickingClock(START)
    app = await App.start(settings, clock=clock, migrate_schema=False)
    await seed_telegram(app)
    workers = [await App.start(settings, clock=clock, migrate_schema=False) for _ in range(2)]
    stop = asyncio.Event()
    fast = Pacer(0.0, 10_000, 60.0, 10_000, margin=0.0)
    tasks = [asyncio.create_task(telegram.serve(app, stop, pacer=fast))]
    tasks += [asyncio.create_task(telegram_worker.work(w, stop, idle=0.2)) for w in workers]
    if webhook:
        routes = channels.http_routes(["telegram"], app)
        tasks.append(asyncio.create_task(serve_http(app, routes, stop)))
    try:
        await until(
            lambda: emulator.webhook_url if webhook else "getUpdates" in dict(emulator.calls),
            "the bot to start listening",
        )
        yield Crew(app, emulator, workers)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=15)
        for each in (app, *workers):
            await each.close()
        await emulator.stop()


@pytest.mark.parametrize("crew", ["polling", "webhook"], indirect=True)
async def test_a_repair_goes_through_the_workers(crew: Crew) -> None:
    resident = crew.person(RESIDENT, name="张伟")
    ticket = await file_repair(resident)
    wang = crew.person(WANG, REPAIR_GROUP, kind="group", name="王师傅")
    liu = crew.person(LIU, REPAIR_GROUP, kind="group", name="刘师傅")
    card = (await until(lambda: wang.shown(), "the card in the repair group"))[-1]
    accept = crew.emulator.button(REPAIR_GROUP, "接单")
    await wang.press("接单")
    edited = next(m for m in wang.shown() if m.message_id == card.message_id)
    assert "已接单" in (edited.text or "") and "王师傅" in (edited.text or "")
    said = await liu.press_data(*accept)  # the same button, a moment too late
    assert "已由 王师傅 接单" in texts(said)
    # The button stopped spinning for both: answered once their lot was committed.
    answered = [p for m, p in crew.emulator.calls if m == "answerCallbackQuery"]
    assert len(answered) == 6 + 2  # the resident's six presses, and the two here
    (stored,) = await crew.rows(Ticket)
    assert stored.number == ticket.number and stored.status == "accepted"
    assert len(await crew.rows(TicketEvent, TicketEvent.action == "accept")) == 1
    assert await crew.queued() == 0  # every update taken, handled and removed


async def test_many_chats_at_once_each_in_order_and_once(crew: Crew) -> None:
    emulator = crew.emulator
    chats = [7000 + n for n in range(24)]
    sent: dict[int, list[int]] = {chat: [] for chat in chats}
    for step in ("/start", "/help", "你好", "/start", "/help"):  # interleaved, as they come
        for chat in chats:
            sent[chat].append(emulator.send_text(chat, chat, step, first_name=f"U{chat}"))
    total = sum(len(ids) for ids in sent.values())

    async def handled() -> bool:
        async with crew.app.db.transaction() as s:
            done = await s.exec(
                select(func.count())
                .select_from(InboundUpdate)
                .where(col(InboundUpdate.handled_at).is_not(None))
            )
            return done.one() == total

    await until(handled, f"{total} updates handled", within=60)
    assert await crew.queued() == 0
    rows = await crew.rows(InboundUpdate)
    assert len(rows) == total  # none twice
    for chat in chats:
        # Handled (stored by the engine) in the order the resident wrote them.
        mine = [r for r in sorted(rows, key=lambda r: r.id or 0) if r.chat_id == str(chat)]
        assert [r.external_id for r in mine] == [f"tg:{i}" for i in sent[chat]]
        await until(lambda c=chat: len(emulator.messages(c)) >= 5, f"answers in {chat}")


async def test_a_chat_held_by_another_worker_waits_while_the_others_go_on(crew: Crew) -> None:
    emulator = crew.emulator
    held, free = 7101, 7102
    # Another worker in the middle of a lot on `held`: its chat lock, taken as claim takes it.
    async with crew.app.db.engine.connect() as other:
        await other.execute(
            text("SELECT pg_advisory_xact_lock(:k, hashtext('telegram:' || :chat))"),
            {"k": queue.CHAT_LOCKS, "chat": str(held)},
        )
        first = emulator.send_text(held, held, "/start")
        emulator.send_text(free, free, "/start")
        await until(lambda: emulator.messages(free), "the free chat answered")
        await asyncio.sleep(0.5)  # a few rounds of both workers
        assert emulator.messages(held) == []
        waiting = await crew.rows(QueuedUpdate)
        assert [r.external_id for r in waiting] == [f"tg:{first}"]
        assert (await ops.collect(crew.app.db, crew.app.clock.now())).updates_queued == 1
        then = emulator.send_text(held, held, "/help")  # queued behind it, still in order
        await other.rollback()  # that worker is done with it
    await until(lambda: len(emulator.messages(held)) >= 2, "the held chat answered")
    rows = await crew.rows(InboundUpdate, col(InboundUpdate.chat_id) == str(held))
    assert [r.external_id for r in sorted(rows, key=lambda r: r.id or 0)] == [
        f"tg:{first}",
        f"tg:{then}",
    ]


async def test_a_broken_update_costs_the_rest_of_the_lot_nothing(crew: Crew, caplog) -> None:
    for worker in crew.workers:
        route = worker.engine._route

        async def breaks_on_a_bomb(ctx: Any, state: Any, route: Any = route) -> Any:
            if ctx.msg.text == "💣":  # a bug in a handler, for one message
                raise RuntimeError("injected handler bug")
            return await route(ctx, state)

        worker.engine._route = breaks_on_a_bomb  # type: ignore[method-assign]
    emulator = crew.emulator
    users = [6101, 6102, 6103, 6104, 6105]
    ids = [emulator.send_text(u, u, "💣" if u == 6103 else "/start") for u in users]
    for user in users:
        if user != 6103:
            await until(lambda u=user: emulator.messages(u), f"an answer to {user}")
    await until(_queue_empty(crew), "the queue to empty")
    rows = {r.external_id: r for r in await crew.rows(InboundUpdate)}
    broken = rows[f"tg:{ids[2]}"]
    assert broken.handled_at is None and broken.payload  # kept, for someone to look at
    assert all(rows[f"tg:{i}"].handled_at is not None for i in ids if i != ids[2])
    assert emulator.messages(6103) == []
    assert "queued updates failed; one by one" in caplog.text


def _queue_empty(crew: Crew) -> Any:
    async def empty() -> bool:
        return await crew.queued() == 0

    return empty


def test_sqlite_refuses_worker_processes(tmp_path) -> None:
    for command in ("run", "worker"):
        result = frontdesk(tmp_path, command, FRONTDESK_WORKERS="2")
        assert result.returncode == 2
        assert "FRONTDESK_WORKERS needs PostgreSQL" in result.stderr
    result = frontdesk(tmp_path, "worker")
    assert result.returncode == 2 and "FRONTDESK_WORKERS is 0" in result.stderr


# ---- the real processes -----------------------------------------------------------------


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


async def test_a_worker_killed_midway_is_replaced_and_loses_nothing(
    pg_database: Database, tmp_path: Path
) -> None:
    """`frontdesk run` with two workers, as deployed; one worker is SIGKILLed while the
    queue is being worked: `frontdesk run` starts another, and every update is handled
    once, each chat's in order."""
    emulator = BotAPIEmulator(TOKEN, enforce_limits=False)
    await emulator.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(
        PYTHONPATH=str(ROOT),
        FRONTDESK_DATABASE_URL=pg_database.url,
        FRONTDESK_TELEGRAM_TOKEN=TOKEN,
        FRONTDESK_TELEGRAM_API_URL=emulator.base_url,
        FRONTDESK_WORKERS="2",
        FRONTDESK_HTTP_PORT=str(free_port()),
        FRONTDESK_DATA_DIR=str(tmp_path / "data"),
    )
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=tmp_path, env=env, stderr=subprocess.DEVNULL
    )
    try:
        await until(lambda: len(children(bot.pid)) == 2, "two workers started", 60)
        first = set(children(bot.pid))
        chats = [7200 + n for n in range(30)]
        sent: dict[int, list[int]] = {chat: [] for chat in chats}
        for step in ("/start", "/help", "你好", "/start", "/help"):
            for chat in chats:
                sent[chat].append(emulator.send_text(chat, chat, step))
        total = 5 * len(chats)

        async def handled() -> int:
            async with pg_database.transaction() as s:
                done = await s.exec(
                    select(func.count())
                    .select_from(InboundUpdate)
                    .where(col(InboundUpdate.handled_at).is_not(None))
                )
                return int(done.one())

        await until(handled, "the workers to start on the queue", 60)
        victim = sorted(first)[0]
        os.kill(victim, signal.SIGKILL)
        await until(lambda: await_count(handled, total), f"{total} updates handled", 90)
        await until(
            lambda: len(children(bot.pid)) == 2 and victim not in children(bot.pid),
            "the killed worker replaced",
            30,
        )
        async with pg_database.transaction() as s:
            rows = list((await s.exec(select(InboundUpdate).order_by(col(InboundUpdate.id)))).all())
            assert await queue.waiting(s) == 0
        assert len(rows) == total  # none lost, none twice
        for chat in chats:
            mine = [r.external_id for r in rows if r.chat_id == str(chat)]
            assert mine == [f"tg:{i}" for i in sent[chat]]
        workers = children(bot.pid)
        bot.send_signal(signal.SIGTERM)  # stops the workers too, and exits cleanly
        assert await asyncio.wait_for(bot.wait(), 30) == 0
        assert not any(alive(pid) for pid in workers)
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
        await emulator.stop()


async def await_count(probe: Any, total: int) -> bool:
    return bool(await probe() >= total)
