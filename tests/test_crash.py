"""Crashes: the real `frontdesk run`, SIGKILLed at random moments while residents are in
the middle of repair requests and a technician presses card buttons, restarted, and in
the end checked against the database and what Telegram (the emulator) saw.

Nothing lost, nothing doubled: every confirmed update is one stored update; each
finished request is one ticket with its answers (kept across the kills: conversations
resume where they were); every card reached the group once; every finished repair has
one revisit job. On SQLite and on PostgreSQL, at least 12 kills each.

Sized to that: six residents and a technician keep the bot busy without a pause (each
types the moment the last answer arrives), so a kill at a random moment of the bot's
life, up to a second after it is back, lands in the middle of something: an update
stored but not handled, a transaction, a claimed outbox row, a card edit, a flow half
way, a finished repair's revisit job. The sends keep Telegram's budgets five times
faster (crashkit.BotProcess): at the real ones the run is mostly waiting for the
group's 20 a minute, and no more kills land in it. Kills happen until the scripts are done
and at least KILLS of them; nearly all land while the scripts run (the line printed
says how many).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, func, select

from storage.db import Database
from storage.migrate import upgrade
from storage.models import InboundUpdate, Job, Outbox, Ticket
from tests.crashkit import REPAIR_GROUP, WANG, BotProcess, GatedEmulator, Zygote, seed, until
from tests.telegram_emulator import Message

KILLS = 12
# Telegram user id -> (person on the demo roster, their unit, their phone).
PEOPLE = {
    6001: ("陈静", "1栋1单元101", "13800000005"),
    6002: ("黄强", "1栋2单元1502", "13800000009"),
    6003: ("周杰", "2栋1单元201", "13800000010"),
    6004: ("吴敏", "2栋1单元802", "13800000011"),
    6005: ("孙涛", "2栋2单元1804", "13800000014"),
    6006: ("胡军", "3栋1单元501", "13800000015"),
}
RESIDENTS = list(PEOPLE)
FINISHED = 2  # repairs the technician takes to the end, each confirmed by its resident
STEP = 60.0  # seconds one step may take across kills and restarts
TZ = ZoneInfo("Asia/Shanghai")


def request(n: int) -> list[str]:
    """What resident n types, step by step, to report a repair."""
    name, unit, phone = PEOPLE[n]
    return [
        "/repair",
        unit,
        "电路",
        f"客厅插座没电，编号 R{n}",
        "跳过",
        "明天上午",
        name,
        phone,
        "确认提交",
    ]


@dataclass
class Run:
    """The emulator, the bot process and the store, and what the scripts achieved."""

    emulator: GatedEmulator
    bot: BotProcess
    db: Database
    finished: list[int] = field(default_factory=list)  # card message ids in the group
    kills_while_busy: int = 0  # kills before the scripts were done

    def said(self, chat_id: int) -> str:
        return "\n".join(m.text or "" for m in self.emulator.messages(chat_id))

    async def type(self, chat_id: int, user_id: int, text: str) -> None:
        """Type, and wait for the bot's answer, however many restarts it takes."""
        before = len(self.emulator.messages(chat_id))
        kind = "private" if chat_id > 0 else "group"
        self.emulator.send_text(chat_id, user_id, text, chat_type=kind)
        await until(
            lambda: len(self.emulator.messages(chat_id)) > before,
            f"an answer to {text!r} in {chat_id}",
            STEP,
        )

    def press(self, chat_id: int, user_id: int, shown: Message, label: str) -> None:
        data = next(b["callback_data"] for row in shown.buttons for b in row if label in b["text"])
        kind = "private" if chat_id > 0 else "group"
        self.emulator.press(chat_id, user_id, shown.message_id, data, chat_type=kind)

    def group_message(self, message_id: int) -> Message:
        return next(m for m in self.emulator.messages(REPAIR_GROUP) if m.message_id == message_id)


async def resident(run: Run, user_id: int) -> None:
    for text in request(user_id):
        await run.type(user_id, user_id, text)
    await until(lambda: "报修已受理" in run.said(user_id), "the request accepted", STEP)


async def technician(run: Run) -> None:
    """王师傅 accepts every card as it comes; the first FINISHED repairs he also finishes."""
    accepted: list[int] = []

    def waiting() -> list[Message]:
        return [
            m
            for m in run.emulator.messages(REPAIR_GROUP)
            if m.message_id not in accepted and "接单" in m.labels
        ]

    while len(accepted) < len(RESIDENTS):
        shown = (await until(waiting, "a card to accept", STEP * 3))[0]
        run.press(REPAIR_GROUP, WANG, shown, "接单")
        await until(lambda s=shown: "开始处理" in s.labels, "the card accepted", STEP)
        accepted.append(shown.message_id)
    for message_id in accepted[:FINISHED]:
        await finish(run, message_id)


async def finish(run: Run, message_id: int) -> None:
    shown = run.group_message(message_id)
    run.press(REPAIR_GROUP, WANG, shown, "开始处理")
    await until(lambda: "完成" in shown.labels, "the work started", STEP)
    before = len(run.emulator.messages(REPAIR_GROUP))
    run.press(REPAIR_GROUP, WANG, shown, "完成")
    await until(lambda: len(run.emulator.messages(REPAIR_GROUP)) > before, "the form", STEP)
    for text in ("更换了插座面板", "跳过", "60", "确认提交"):
        await run.type(REPAIR_GROUP, WANG, text)
    await until(lambda: "已完成" in (shown.text or ""), "the card finished", STEP)
    run.finished.append(message_id)


async def confirm(run: Run) -> int:
    """Residents told their repair is done confirm it with the button; returns how many."""
    confirmed = 0
    for user_id in RESIDENTS:
        asked = [m for m in run.emulator.messages(user_id) if "已解决" in m.labels]
        if asked:
            run.press(user_id, user_id, asked[-1], "已解决")
            await until(lambda u=user_id: "感谢确认" in run.said(u), "the thanks", STEP)
            confirmed += 1
    return confirmed


async def scripts(run: Run) -> int:
    await asyncio.gather(technician(run), *(resident(run, r) for r in RESIDENTS))
    await until(
        lambda: (
            sum("已解决" in m.labels for r in RESIDENTS for m in run.emulator.messages(r))
            >= FINISHED
        ),
        "the residents asked to confirm",
        STEP,
    )
    return await confirm(run)


async def killing(run: Run, rng: random.Random, done: asyncio.Event) -> None:
    """Kill the bot at a random moment of its life, start it again; until the scripts are
    done and at least KILLS kills happened."""
    while run.bot.kills < KILLS or not done.is_set():
        await asyncio.sleep(rng.uniform(0.05, 1.0))
        await run.bot.kill(run.db)
        if not done.is_set():
            run.kills_while_busy = run.bot.kills
        await run.bot.start()


async def drained(db: Database) -> None:
    async def empty() -> bool:
        async with db.transaction() as s:
            pending = await s.exec(
                select(func.count())
                .select_from(Outbox)
                .where(
                    Outbox.channel == "telegram",
                    col(Outbox.sent_at).is_(None),
                    col(Outbox.failed_at).is_(None),
                    col(Outbox.not_before) <= datetime.now(TZ),
                )
            )
            unhandled = await s.exec(
                select(func.count())
                .select_from(InboundUpdate)
                .where(col(InboundUpdate.handled_at).is_(None))
            )
            return pending.one() == 0 and unhandled.one() == 0

    await until(empty, "the outbox drained", STEP)


async def check(run: Run, confirmed: int) -> int:
    """The invariants; returns the number of updates checked."""
    emulator = run.emulator
    await until(lambda: not emulator._queue, "every update confirmed", STEP)
    await drained(run.db)
    async with run.db.transaction() as s:
        stored = list((await s.exec(select(InboundUpdate))).all())
        tickets = list((await s.exec(select(Ticket))).all())
        revisits = list((await s.exec(select(Job).where(Job.kind == "revisit_ask"))).all())
        failed = (
            await s.exec(
                select(func.count())
                .select_from(Outbox)
                .where(Outbox.channel == "telegram", col(Outbox.failed_at).is_not(None))
            )
        ).one()
    ids = [row.external_id for row in stored if row.channel == "telegram"]
    assert sorted(ids) == sorted(f"tg:{u}" for u in emulator._updates), "updates lost or doubled"
    assert failed == 0

    # One ticket per resident, with every answer of its conversation.
    assert len(tickets) == len(RESIDENTS)
    assert len({t.number for t in tickets}) == len(tickets)
    for user_id in RESIDENTS:
        mine = [t for t in tickets if f"编号 R{user_id}" in (t.description or "")]
        assert len(mine) == 1, f"resident {user_id}: {len(mine)} tickets"
        ticket = mine[0]
        assert ticket.category == "electrical"
        assert ticket.number in run.said(user_id)
        # The card reached the group once (later changes are edits of that one message).
        cards = [m for m in emulator.messages(REPAIR_GROUP) if ticket.number in (m.text or "")]
        assert len([m for m in cards if (m.text or "").startswith("【")]) == 1, ticket.number

    done = [t for t in tickets if t.done_at is not None]
    assert len(done) == FINISHED == confirmed
    assert sorted(str(j.payload.get("ticket")) for j in revisits) == sorted(str(t.id) for t in done)
    return len(ids)


async def crash_run(zygote: Zygote, db: Database, url: str, workdir: Path, seed_value: int) -> None:
    emulator = GatedEmulator(enforce_limits=False)
    await emulator.start()
    await seed(db, {r: p[0] for r, p in PEOPLE.items()}, datetime.now(TZ).date(), TZ)
    run = Run(emulator, BotProcess(zygote, emulator, url, workdir), db)
    rng = random.Random(seed_value)
    began = time.monotonic()
    try:
        await run.bot.start()
        done = asyncio.Event()
        killer = asyncio.create_task(killing(run, rng, done))
        try:
            confirmed = await scripts(run)
            done.set()
            await killer
        finally:
            killer.cancel()
        checked = await check(run, confirmed)
    finally:
        await run.bot.stop()
        await emulator.stop()
    print(
        f"\ncrash[{db.dialect}]: {run.bot.kills} kills survived "
        f"({run.kills_while_busy} while the scripts ran), {checked} updates and "
        f"{len(emulator.sent)} sends checked, {len(RESIDENTS)} tickets, "
        f"{time.monotonic() - began:.0f} s"
    )
    assert run.bot.kills >= KILLS


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    forks = Zygote(tmp_path_factory.mktemp("zygote"))
    try:
        yield forks
    finally:
        forks.close()


@pytest.fixture
async def sqlite_file(tmp_path: Path) -> AsyncIterator[tuple[Database, str]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    db = Database(url)
    try:
        await upgrade(db.engine)
        yield db, url
    finally:
        await db.dispose()


async def test_sigkill_on_sqlite_loses_and_doubles_nothing(zygote, sqlite_file, tmp_path) -> None:
    db, url = sqlite_file
    await crash_run(zygote, db, url, tmp_path, seed_value=7)


async def test_sigkill_on_postgresql_loses_and_doubles_nothing(
    zygote, pg_database, tmp_path
) -> None:
    url = pg_database.engine.url.render_as_string(hide_password=False)
    await crash_run(zygote, pg_database, url, tmp_path, seed_value=11)
