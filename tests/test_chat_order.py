"""A chat's messages reach it in the order they were queued, whatever Telegram refuses.

The outbox gives out a chat's next message only when no message ahead of it is still on
its way: in flight, waiting out a 429's "retry after", or waiting to be tried again after a
network error. A message scheduled for later (the quiet hours) holds nobody up, and an
urgent one or a reply still goes before an announcement, as queued.

The end-to-end tests run the real delivery loop and aiogram against the Bot API emulator
with Telegram's limits four times faster (a quarter second between a chat's messages,
120 a second overall), in the emulator and the pacer alike: the clock the bot sees is the
real one, and a retry after 429 is Telegram's whole second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.app import App
from bot.channels.telegram_send import Pacer, run_delivery
from bot.settings import Settings
from handlers.core.clock import ManualClock
from storage import outbox
from storage.db import Database
from tests.telegram_emulator import BotAPIEmulator
from tests.test_telegram import TickingClock, until

RESIDENT = 5001
SCALE = 4  # Telegram's limits, four times faster
START = datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


# ---- which message of a chat the outbox gives out ---------------------------------------


async def queue(db: Database, now: datetime, text: str, chat: int = RESIDENT, **kw) -> int:
    async with db.transaction() as session:
        row = await outbox.enqueue(
            session, channel="telegram", chat_id=str(chat), payload={"text": text}, now=now, **kw
        )
        assert row is not None and row.id is not None
        return row.id


async def claimable(db: Database, now: datetime, chat: int = RESIDENT) -> list[str]:
    """The texts a sender would take from the chat now (given back at once)."""
    rows = await outbox.claim(db, "telegram", now, chat_ids=[str(chat)], in_order=True)
    await outbox.release(db, [row.id for row in rows if row.id is not None])
    return [str(row.payload["text"]) for row in rows]


async def test_a_later_message_waits_while_an_earlier_one_is_still_to_go(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    first = await queue(database, now, "您好")
    await queue(database, now, "菜单")
    assert await claimable(database, now) == ["您好", "菜单"]

    # 您好 is on its way: 菜单 is not given to anyone else meanwhile.
    [taken] = await outbox.claim(
        database, "telegram", now, limit=1, chat_ids=[str(RESIDENT)], in_order=True
    )
    assert taken.id == first
    assert await claimable(database, now) == []

    # Telegram said "retry after 1": nothing of the chat goes until 您好 does.
    await outbox.postpone(database, first, now + timedelta(seconds=1), "retry after 1")
    assert await claimable(database, now) == []
    assert await due_chats(database, now) == []
    later = now + timedelta(seconds=1)
    assert await claimable(database, later) == ["您好", "菜单"]

    # A network error: 您好 is tried again in 5 s, and 菜单 waits for it that long.
    await outbox.mark_failed(
        database, first, later, "network", retry_at=later + timedelta(seconds=5)
    )
    assert await claimable(database, later + timedelta(seconds=4)) == []
    assert await claimable(database, later + timedelta(seconds=5)) == ["您好", "菜单"]

    # Given up for good: the rest of the chat goes on.
    await outbox.mark_failed(database, first, later, "chat not found", retry_at=None)
    assert await claimable(database, later) == ["菜单"]


async def test_a_message_for_the_morning_holds_nobody_up(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    await queue(database, now, "明早提醒", not_before=now + timedelta(hours=10))
    await queue(database, now, "您的报修已受理。")
    assert await claimable(database, now) == ["您的报修已受理。"]
    assert await due_chats(database, now) == [(str(RESIDENT), 1, False)]


async def test_a_reply_still_goes_before_an_announcement_refused_in_the_same_chat(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        notice = outbox.Message("telegram", str(RESIDENT), {"text": "停水通知"})
        await outbox.enqueue_many(session, [notice], now=now, bulk=True)
    [announced] = await outbox.claim(database, "telegram", now, in_order=True)
    assert announced.id is not None
    await outbox.postpone(database, announced.id, now + timedelta(seconds=1), "retry after 1")
    reply = await queue(database, now, "您的报修已受理。")
    assert await claimable(database, now) == ["您的报修已受理。"]
    # And while the reply is refused, the announcement does not go past it either.
    await outbox.postpone(database, reply, now + timedelta(seconds=3), "retry after 3")
    assert await claimable(database, now + timedelta(seconds=2)) == []


async def due_chats(db: Database, now: datetime) -> list[tuple[str, int, bool]]:
    async with db.transaction() as session:
        return await outbox.due_chats(session, "telegram", now, 10)


# ---- end to end: the delivery loop and aiogram against the emulator ----------------------


@pytest.fixture
async def ticking(sqlite_database: Database) -> AsyncIterator[App]:
    """The application on a clock that runs as real time does."""
    settings = Settings(database_url=sqlite_database.url)
    app = await App.start(settings, clock=TickingClock(START), migrate_schema=False)
    try:
        yield app
    finally:
        await app.close()


@pytest.fixture
async def telegram() -> AsyncIterator[BotAPIEmulator]:
    """Telegram with its limits four times faster."""
    emulator = BotAPIEmulator(
        enforce_limits=True,
        per_chat_gap=1 / SCALE,
        group_window=60 / SCALE,
        overall_limit=30 * SCALE,
    )
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


class Delivering:
    """The delivery loop running with the pacer scaled as the emulator is."""

    def __init__(self, app: App, emulator: BotAPIEmulator) -> None:
        self.app, self.emulator = app, emulator
        self.stop, self.nudge = asyncio.Event(), asyncio.Event()
        self.bot = Bot(
            emulator.token,
            session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)),
        )
        pacer = Pacer(1 / SCALE, 20, 60 / SCALE, 30 * SCALE)
        self.task = asyncio.create_task(
            run_delivery(app, self.bot, self.stop, self.nudge, pacer=pacer, idle=0.05)
        )

    async def queue(self, text: str, chat: int = RESIDENT) -> None:
        await queue(self.app.db, self.app.clock.now(), text, chat)
        self.nudge.set()  # as the channel does after handling an update

    async def drained(self, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            async with self.app.db.transaction() as session:
                if not await outbox.pending_count(session, "telegram"):
                    return
            await asyncio.sleep(0.05)
        raise AssertionError("the outbox was not drained in time")

    async def close(self) -> None:
        self.stop.set()
        await self.task
        await self.bot.session.close()


@pytest.fixture
async def delivering(ticking: App, telegram: BotAPIEmulator) -> AsyncIterator[Delivering]:
    running = Delivering(ticking, telegram)
    try:
        yield running
    finally:
        await running.close()


def shown(emulator: BotAPIEmulator, chat: int = RESIDENT) -> list[str]:
    return [m.text or "" for m in emulator.messages(chat)]


async def test_a_reply_queued_while_the_chat_waits_out_a_429_comes_last(
    delivering: Delivering, telegram: BotAPIEmulator
) -> None:
    """The greeting is refused once ("retry after 1") and goes a second later; the menu,
    queued with it, is still to go when the resident's next answer is queued: the answer
    waits for the menu."""
    telegram.fail_next("sendMessage")  # 429, retry after 1
    await delivering.queue("您好")
    await delivering.queue("菜单")
    await until(lambda: shown(telegram) == ["您好"], "the greeting, retried", within=10)
    await delivering.queue("物业费可在线缴纳")
    await delivering.drained()
    assert shown(telegram) == ["您好", "菜单", "物业费可在线缴纳"]
    assert telegram.too_many == 0


async def test_every_chat_in_order_while_telegram_refuses_a_third_of_the_sends(
    delivering: Delivering, telegram: BotAPIEmulator
) -> None:
    """80 residents are each sent a greeting and a menu, and answer as soon as they see
    the greeting, while a third of all sends are refused with "retry after 1"."""
    chats = [600_000 + n for n in range(80)]
    telegram.flaky({"sendMessage"}, 1 / 3, seed=3)
    for chat in chats:
        await delivering.queue(f"{chat} 您好", chat)
        await delivering.queue(f"{chat} 菜单", chat)
    answered: set[int] = set()

    async def answer_on_seeing_the_greeting() -> bool:
        for chat in chats:
            if chat not in answered and shown(telegram, chat):
                answered.add(chat)
                await delivering.queue(f"{chat} 回答", chat)
        return len(answered) == len(chats)

    await until(answer_on_seeing_the_greeting, "every greeting", within=60)
    await delivering.drained()

    wrong = {
        chat: shown(telegram, chat)
        for chat in chats
        if shown(telegram, chat) != [f"{chat} 您好", f"{chat} 菜单", f"{chat} 回答"]
    }
    assert wrong == {}
    assert telegram.injected_429 >= 50
    assert telegram.too_many == 0
