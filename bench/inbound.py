"""Inbound: updates a second and latency through the whole pipeline, with two floors.

The pipeline is the product as `frontdesk run` starts it: Telegram (the test emulator, in a
process of its own) → aiogram long polling → the engine → the database → the outbox, with
the delivery loop running beside it. Residents, each bound to a unit, file a repair the way
people do: a command, button presses and typed answers (9 updates each), all residents
mid-way at once. Latency is what Telegram sees: from an update being available to its
acknowledgement, which the bot sends only after the update is stored and handled.

Floors, in the same run: aiogram dispatching the same updates to a handler that does nothing
(the cost of Telegram and aiogram alone), and a plain loop writing what each update writes
(the inbound row, the dialog state, an outbox row) one transaction per update.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message
from sqlalchemy import insert, update
from sqlmodel import col, func, select

from bench.common import Section, percentile, pg_database, sqlite_database
from bench.telegram_child import TOKEN
from bot.app import App
from bot.channels import telegram, telegram_buttons
from bot.settings import Settings
from storage.db import Database
from storage.models import (
    Binding,
    Building,
    ChatIdentity,
    Community,
    DialogState,
    InboundUpdate,
    Outbox,
    Person,
    StaffGroup,
    Ticket,
    Unit,
)

FIRST_CHAT = 800_000
# The code before the latest changes to the inbound path, side by side with today's: a
# cursor's close was a hop to aiosqlite's thread, and a chat's order was kept by the sender's
# memory, not by the outbox. (Earlier: 7d8dafc, every statement a hop, 70 updates/s where
# 1cf7eb5 did 109; f9b784c, before group commit, 15 where 7d8dafc did 22.)
BEFORE = "1cf7eb5"
TARGET_RATE = 1_000  # updates/s
TARGET_P99 = 0.050  # seconds
# Replies leave at Telegram's 30 messages a second at most, about one an update: above
# that rate they queue whatever the bot does. What a resident sees is measured below it.
QUIET_RATE = 20  # updates/s
QUIET_RESIDENTS = 100


# ---- the residents and what they send -------------------------------------------------


def repair_script(unit_id: int) -> list[tuple[str, str]]:
    """What one resident sends to file a repair: (kind, text or the button's value)."""
    return [
        ("text", "/repair"),
        ("press", f"unit:{unit_id}"),
        ("press", "water"),
        ("text", "厨房水槽下水管漏水，柜子里都是水"),
        ("press", "=skip"),  # no photos
        ("press", "time:tomorrow_am"),
        ("press", "=keep"),  # the name from the binding
        ("press", "=keep"),  # the phone from the binding
        ("press", "=confirm"),
    ]


async def seed(db: Database, residents: int) -> list[list[Any]]:
    """A community of `residents` bound residents and its repair group; returns the script
    (steps interleaved across residents, each resident's own in order) with every pressed
    value replaced by the button token the bot would have shown that chat."""
    now = datetime.now(UTC)
    async with db.transaction() as s:
        community = Community(code="BEN", name="基准小区", management_rate=Decimal("2.50"))
        s.add(community)
        await s.flush()
        assert community.id is not None
        building = Building(community_id=community.id, name="1栋")
        s.add(building)
        await s.flush()
        assert building.id is not None
        s.add(
            StaffGroup(
                community_id=community.id, department="repair", channel="telegram", chat_id="-2001"
            )
        )
        units = [
            Unit(
                community_id=community.id,
                building_id=building.id,
                label=f"1栋{n // 100 + 1}单元{n % 100 + 101}",
                area_m2=Decimal("89.50"),
            )
            for n in range(residents)
        ]
        people = [
            Person(name=f"住户{n}", phone=f"138{n:08d}", created_at=now) for n in range(residents)
        ]
        s.add_all([*units, *people])
        await s.flush()
        scripts: list[list[tuple[str, str]]] = []
        for n, (unit, person) in enumerate(zip(units, people, strict=True)):
            assert unit.id is not None and person.id is not None
            chat = str(FIRST_CHAT + n)
            s.add(
                Binding(person_id=person.id, unit_id=unit.id, verified_by="roster", created_at=now)
            )
            s.add(ChatIdentity(channel="telegram", external_user_id=chat, person_id=person.id))
            steps = repair_script(unit.id)
            tokens = {
                v: await telegram_buttons.token_for(s, chat, v, now=now)
                for k, v in steps
                if k == "press"
            }
            scripts.append([(k, tokens[v] if k == "press" else v) for k, v in steps])
    return [
        [FIRST_CHAT + n, *scripts[n][step]]
        for step in range(len(scripts[0]))
        for n in range(residents)
    ]


# ---- Telegram in another process ---------------------------------------------------------


@dataclass
class Timings:
    released: list[float]
    acked: list[float]
    replied: list[float]

    @property
    def rate(self) -> float:
        return len(self.acked) / (max(self.acked) - min(self.released))

    def latency(self, p: float) -> float:
        """Released → acknowledged (what Telegram sees), percentile `p`."""
        return percentile([a - r for r, a in zip(self.released, self.acked, strict=True)], p)

    def reply_latency(self, p: float) -> float:
        """Released → the reply sent to the resident (what the resident sees)."""
        return percentile([a - r for r, a in zip(self.released, self.replied, strict=True)], p)


@contextlib.asynccontextmanager
async def telegram_process(
    script: list[list[Any]], rate: float, replies: bool = True
) -> AsyncIterator[tuple[str, Callable[[], Awaitable[Timings]]]]:
    """Start the emulator child; yields its base url and a wait for the timings."""
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-tg-") as tmp:
        paths = [Path(tmp) / name for name in ("script.json", "ready", "out.json")]
        paths[0].write_text(json.dumps(script))
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.telegram_child",
                *map(str, paths),
                str(rate),
                "replies" if replies else "no-replies",
            ],
            stdin=subprocess.PIPE,
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            while not paths[1].exists() or not paths[1].read_text():
                if child.poll() is not None:
                    raise RuntimeError("the Telegram emulator process ended early")
                await asyncio.sleep(0.05)

            async def timings() -> Timings:
                while not paths[2].exists():
                    if child.poll() is not None:
                        raise RuntimeError("the Telegram emulator process ended early")
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.05)  # let the write finish
                data = json.loads(paths[2].read_text())
                return Timings(data["released"], data["acked"], data["replied"])

            yield paths[1].read_text(), timings
        finally:
            assert child.stdin is not None
            child.stdin.close()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


# ---- the three things measured ---------------------------------------------------------


async def pipeline(db: Database, residents: int, rate: float) -> Timings:
    """The product: polling → engine → database → outbox; checks every repair was filed."""
    script = await seed(db, residents)
    async with telegram_process(script, rate) as (base_url, timings):
        settings = Settings(database_url=db.url, telegram_token=TOKEN, telegram_api_url=base_url)
        app = await App.start(settings)
        stop = asyncio.Event()
        serving = asyncio.create_task(telegram.serve(app, stop))
        try:
            found = await timings()
        finally:
            stop.set()
            await asyncio.wait_for(serving, timeout=30)
            await app.close()
    async with db.transaction() as s:
        tickets = (await s.exec(select(func.count()).select_from(Ticket))).one()
        handled = (
            await s.exec(
                select(func.count())
                .select_from(InboundUpdate)
                .where(col(InboundUpdate.handled_at).is_not(None))
            )
        ).one()
    if tickets != residents or handled != len(script):
        raise AssertionError(f"{tickets} tickets, {handled} updates handled of {len(script)}")
    return found


async def echo_floor(script: list[list[Any]]) -> Timings:
    """aiogram polling the same updates into handlers that do nothing."""
    async with telegram_process(script, 0, replies=False) as (base_url, timings):
        bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))
        dispatcher = Dispatcher()

        @dispatcher.message()
        async def on_message(message: Message) -> None:
            _ = message.text

        @dispatcher.callback_query()
        async def on_press(query: CallbackQuery) -> None:
            _ = query.data

        polling = asyncio.create_task(
            dispatcher.start_polling(bot, handle_as_tasks=False, handle_signals=False)
        )
        try:
            found = await timings()
        finally:
            await dispatcher.stop_polling()
            await polling
    return found


async def plain_loop(db: Database, script: list[list[Any]]) -> float:
    """The same writes as the pipeline, one transaction per update; returns updates/s."""
    started = time.perf_counter()
    for n, (chat, kind, value) in enumerate(script):
        now = datetime.now(UTC)
        chat_id = str(chat)
        async with db.transaction() as s:
            await s.execute(
                insert(InboundUpdate).values(
                    channel="telegram",
                    external_id=f"plain:{n}",
                    chat_id=chat_id,
                    payload={"kind": kind, "value": value},
                    received_at=now,
                )
            )
            state = await s.get(DialogState, ("telegram", chat_id, chat_id))
            if state is None:
                state = DialogState(
                    channel="telegram", chat_id=chat_id, user_id=chat_id, updated_at=now
                )
                s.add(state)
            state.step = f"step {n}"
            state.answers = {**state.answers, str(n): value}
            state.updated_at = now
            await s.execute(
                insert(Outbox).values(
                    channel="telegram",
                    chat_id=chat_id,
                    payload={"text": "好的，请继续。", "locale": "zh_CN"},
                    created_at=now,
                    not_before=now,
                )
            )
            await s.execute(
                update(InboundUpdate)
                .where(
                    col(InboundUpdate.channel) == "telegram",
                    col(InboundUpdate.external_id) == f"plain:{n}",
                )
                .values(handled_at=now)
            )
    return len(script) / (time.perf_counter() - started)


# ---- before and after ---------------------------------------------------------------------

BEFORE_SCRIPT = """
import asyncio, sys
from bench.common import sqlite_database
from bench import inbound

async def main():
    async with sqlite_database() as db:
        print((await inbound.pipeline(db, int(sys.argv[1]), 0)).rate)

asyncio.run(main())
"""


async def rate_before(residents: int) -> float | None:
    """The pipeline's updates/s on SQLite with the code of commit BEFORE (None: no git)."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="frontdesk-before-") as tmp:
        tree = Path(tmp) / "tree"
        made = subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(tree), BEFORE],
            cwd=root,
            capture_output=True,
        )
        if made.returncode != 0:
            return None
        try:
            # Today's benchmark and emulator, driving yesterday's bot.
            shutil.copytree(root / "bench", tree / "bench", dirs_exist_ok=True)
            shutil.copy(root / "tests" / "telegram_emulator.py", tree / "tests")
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                BEFORE_SCRIPT,
                str(residents),
                cwd=tree,
                env={**os.environ, "PYTHONPATH": str(tree)},
                stdout=subprocess.PIPE,
            )
            out, _ = await child.communicate()
            return float(out.decode().strip().splitlines()[-1])
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=root)


# ---- the section ---------------------------------------------------------------------------


async def run(quick: bool = False) -> Section:
    residents = 60 if quick else 600
    section = Section("Inbound: updates through the whole pipeline")
    section.add(
        f"{residents} residents each file a repair (9 updates: the command, one typed "
        f"answer, 7 button presses), {residents * 9} updates in all, all residents mid-way "
        "at once. Telegram runs in its own process. Throughput: every update released at "
        "once, updates/s until the last is acknowledged. Latency: updates released at a "
        "steady 80 % of that rate; acknowledged is what Telegram sees (the update stored "
        "and handled), replied is what the resident sees (the answer sent to the chat). "
        "Replies leave at Telegram's 30 messages a second at most, so above that rate they "
        f"queue whatever the bot does; the last column is {QUIET_RESIDENTS} residents at "
        f"{QUIET_RATE} updates/s, within what Telegram lets out."
    )
    section.add()
    rows: list[list[object]] = []

    async with sqlite_database() as db:
        script = await seed(db, residents)
    echo = await echo_floor(script)
    rows.append(["aiogram → handler doing nothing (floor)", "–", f"{echo.rate:,.0f}", *[""] * 4])

    results: dict[str, float] = {}
    for name, database in (("SQLite", sqlite_database), ("PostgreSQL", pg_database)):
        async with database() as db:
            plain = await plain_loop(db, script)
        rows.append(
            [f"plain loop, one transaction per update ({name})", name, f"{plain:,.0f}", *[""] * 4]
        )
        async with database() as db:
            backlog = await pipeline(db, residents, 0)
        steady = min(TARGET_RATE, 0.8 * backlog.rate)
        async with database() as db:
            paced = await pipeline(db, residents, steady)
        async with database() as db:
            quiet = await pipeline(db, min(residents, QUIET_RESIDENTS), QUIET_RATE)
        results[name] = backlog.rate
        results[f"{name} plain"] = plain
        rows.append(
            [
                f"Front Desk, 1 process ({name})",
                name,
                f"{backlog.rate:,.0f}",
                f"{steady:,.0f}/s",
                f"{paced.latency(50) * 1000:.0f} / {paced.latency(99) * 1000:.0f}",
                f"{paced.reply_latency(50) * 1000:.0f} / {paced.reply_latency(99) * 1000:.0f}",
                f"{quiet.reply_latency(50) * 1000:.0f} / {quiet.reply_latency(99) * 1000:.0f}",
            ]
        )
        if name == "SQLite":
            section.target(
                f"≥ {TARGET_RATE:,} updates/s in one process on SQLite: {backlog.rate:,.0f}",
                backlog.rate >= TARGET_RATE,
            )
            if steady >= TARGET_RATE:
                section.target(
                    f"reply p99 ≤ 50 ms at {TARGET_RATE:,}/s on SQLite: "
                    f"{paced.reply_latency(99) * 1000:.0f} ms",
                    paced.reply_latency(99) <= TARGET_P99,
                )
            else:
                section.target(
                    f"reply p99 ≤ 50 ms at {TARGET_RATE:,}/s on SQLite: not reachable, the "
                    f"pipeline does {backlog.rate:,.0f}/s; at {steady:,.0f}/s the reply p99 is "
                    f"{paced.reply_latency(99) * 1000:.0f} ms",
                    False,
                )
        section.target(
            f"at least as fast as the plain loop on {name}: "
            f"{backlog.rate:,.0f} vs {plain:,.0f} updates/s ({backlog.rate / plain:.2f}×)",
            backlog.rate >= plain,
        )

    section.table(
        [
            "what",
            "database",
            "updates/s (backlog)",
            "steady load",
            "acknowledged p50 / p99 ms",
            "replied p50 / p99 ms",
            f"replied at {QUIET_RATE}/s, p50 / p99 ms",
        ],
        rows,
    )
    section.add(
        "Spreading inbound over worker processes on PostgreSQL is measured in the next part "
        "(Workers)."
    )
    section.add()

    before = await rate_before(residents)
    if before is not None:
        section.add(
            f"Before and after: the same pipeline on SQLite with the code of {BEFORE} (a "
            f"cursor's close a hop to aiosqlite's thread, 17 hops an update; a chat's order "
            f"kept in the sender's memory, which let messages overtake) did {before:,.0f} "
            f"updates/s in this run; now {results['SQLite']:,.0f} "
            f"({results['SQLite'] / before:.2f}×)."
        )
    return section
