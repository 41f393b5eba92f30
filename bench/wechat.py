"""WeChat: passive replies when 200 residents write at the same moment.

WeChat waits 5 seconds for the answer to a callback and then shows the resident an error;
the bot answers within its budget with the reply itself, or with `success` and the reply
afterwards as a customer-service message. Here 200 callbacks arrive at once on the real
`/wechat` listener (plaintext mode, signed as WeChat signs them, each from its own
resident) and each is timed from the request to the answer; then it is checked that every
message was stored and answered, passively or afterwards. Beside it, a floor: the same
messages through the engine alone, one after another in one transaction, with no HTTP, no
nonce and no passive reply: the least time the burst can take in this one process.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from aiohttp import ClientSession, TCPConnector, web
from sqlalchemy import func
from sqlmodel import col, select

from bench.common import Section, percentile, pg_database, sqlite_database
from bot.app import App
from bot.channels import wechat
from bot.http import make_web_app
from bot.settings import Settings
from handlers.core.clock import SystemClock
from handlers.core.messages import Incoming
from storage.models import InboundUpdate
from tests.wechat_emulator import APPID, WeChatEmulator, mp_request, mp_xml

TOKEN = "frontdesk-bench-token"
RESIDENTS = 200
SAYS = ("你好", "物业费怎么交")  # the menu, and a question answered at once
TARGET_P99 = 1.0  # seconds
LIMIT = 5.0  # WeChat's own


async def burst(database_url: str, residents: int) -> tuple[list[float], int, int]:
    """(seconds per callback, messages stored, answered passively); every one answered."""
    seconds, stored, passive, refused = await burst_counted(database_url, residents)
    assert refused == 0, f"{refused} answered 503"
    return seconds, stored, passive


async def burst_counted(database_url: str, residents: int) -> tuple[list[float], int, int, int]:
    """(seconds per callback, messages stored, answered passively, answered 503: kept
    nowhere in time, so WeChat sends them again)."""
    emulator = WeChatEmulator()
    await emulator.start()
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-wx-") as tmp:
        settings = Settings(
            database_url=database_url,
            data_dir=Path(tmp),
            wechat_appid=APPID,
            wechat_secret="SECRET",
            wechat_token=TOKEN,
            wechat_api_url=emulator.url,
        )
        app = await App.start(settings, clock=SystemClock())
        callback = wechat.WeChatCallback(app)
        runner_app = make_web_app(callback.routes())
        runner = web.AppRunner(runner_app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        requests = [
            mp_request(
                mp_xml(
                    "text",
                    f"oBench{n:022d}",
                    create_time=int(time.time()),
                    Content=SAYS[n % 2],
                    MsgId=50_000_000 + n,
                ),
                TOKEN,
                None,
                APPID,
            )
            for n in range(residents)
        ]
        seconds: list[float] = []
        passive = refused = 0
        try:
            async with ClientSession(connector=TCPConnector(limit=0)) as client:

                async def one(request: object) -> None:
                    nonlocal passive, refused
                    started = time.perf_counter()
                    async with client.post(
                        f"http://127.0.0.1:{port}/wechat",
                        params=request.params,  # type: ignore[attr-defined]
                        data=request.body,  # type: ignore[attr-defined]
                    ) as response:
                        body = await response.text()
                    seconds.append(time.perf_counter() - started)
                    if response.status == 503:
                        refused += 1
                        return
                    assert response.status == 200, body
                    passive += body != "success"

                await asyncio.gather(*(one(r) for r in requests))
            await callback.idle()  # the slow ones, answered afterwards
            async with app.db.transaction() as session:
                stored = (
                    await session.exec(
                        select(func.count())
                        .select_from(InboundUpdate)
                        .where(col(InboundUpdate.handled_at).is_not(None))
                    )
                ).one()
        finally:
            await runner.cleanup()
            await app.close()
            await emulator.stop()
    return seconds, int(stored), passive, refused


async def engine_floor(database_url: str, residents: int) -> float:
    """Seconds the engine alone takes for the burst's messages, one after another."""
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-wx-") as tmp:
        settings = Settings(database_url=database_url, data_dir=Path(tmp))
        app = await App.start(settings, clock=SystemClock())
        try:
            messages = [
                Incoming(
                    channel=wechat.CHANNEL,
                    chat_id=f"oFloor{n:022d}",
                    user_id=f"oFloor{n:022d}",
                    at=app.clock.now(),
                    message_id=f"wx:{60_000_000 + n}",
                    text=SAYS[n % 2],
                )
                for n in range(residents)
            ]
            started = time.perf_counter()
            async with app.db.batch():
                for msg in messages:
                    await app.engine.handle(msg)
            return time.perf_counter() - started
        finally:
            await app.close()


async def run(quick: bool = False) -> Section:
    residents = 40 if quick else RESIDENTS
    section = Section("WeChat: passive replies under a burst")
    section.add(
        f"{residents} residents write at the same moment (half say 你好, half ask 物业费怎么交), "
        "each callback posted to the real `/wechat` listener in this process and timed from "
        "request to answer. WeChat gives up after 5 s."
    )
    section.add()
    rows = []
    floors = []
    for name, database in (("SQLite", sqlite_database), ("PostgreSQL", pg_database)):
        async with database() as db:
            url = db.engine.url.render_as_string(hide_password=False)
            seconds, stored, passive, refused = await burst_counted(url, residents)
        async with database() as db:
            url = db.engine.url.render_as_string(hide_password=False)
            floor = await engine_floor(url, residents)
        floors.append(f"{floor * 1000:.0f} ms on {name} ({floor / residents * 1000:.1f} ms each)")
        p50, p99, worst = percentile(seconds, 50), percentile(seconds, 99), max(seconds)
        rows.append(
            [
                name,
                f"{p50 * 1000:.0f} / {p99 * 1000:.0f} / {worst * 1000:.0f}",
                f"{sum(s > 1 for s in seconds)}",
                f"{sum(s > LIMIT for s in seconds)}",
                f"{passive} of {residents}",
                f"{refused}",
                f"{stored} of {residents}",
            ]
        )
        section.target(
            f"passive reply p99 ≤ 1 s with {residents} at once on {name}: {p99 * 1000:.0f} ms",
            p99 <= TARGET_P99,
        )
        section.target(
            f"none past 5 s or refused, and every message stored and handled, on {name}: "
            f"{sum(s > LIMIT for s in seconds)} past 5 s, {refused} refused, "
            f"{stored} of {residents} handled",
            max(seconds) <= LIMIT and not refused and stored == residents,
        )
    section.table(
        [
            "database",
            "answer p50 / p99 / worst ms",
            "over 1 s",
            "over 5 s",
            "answered passively",
            "503 (sent again)",
            "stored and handled",
        ],
        rows,
    )
    section.add(
        f"Floor: the engine alone, the {residents} messages one after another in one "
        f"transaction (no HTTP, no nonce, no passive reply): {'; '.join(floors)}."
    )
    section.add()
    return section
