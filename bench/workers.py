"""Workers: inbound updates shared among worker processes on PostgreSQL.

The product as deployed: `frontdesk run` (`python -m bot.cli run`, a process of its own)
polls Telegram (the test emulator, in another process), and with `FRONTDESK_WORKERS=N`
stores each update in the inbound queue and delivers the outbox, while the N
`frontdesk worker` processes it starts handle the queue chat by chat. With 0 it handles
what it polls itself, as a single process does today. The residents and their repairs
are the inbound part's (9 updates each, all released at once, a backlog).

Rate: updates handled a second, from the first handled to the last (the stored
`handled_at` of each), so the workers' start-up does not count. Every repair must be
filed and every update handled exactly once. The processes share the machine's cores
with PostgreSQL and the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from sqlmodel import col, func, select

from bench.common import Section, free_port, pg_database
from bench.inbound import seed, telegram_process
from bench.telegram_child import TOKEN
from storage.db import Database
from storage.models import InboundUpdate, Ticket

ROOT = Path(__file__).resolve().parent.parent
COUNTS = (0, 1, 2, 4)  # worker processes; 0: `frontdesk run` handles the updates itself
TARGET = 1.6  # 2 workers against 1
WITHIN = 600.0  # seconds a run may take at most


async def _handled(db: Database) -> tuple[int, float, float]:
    """(updates handled, first and last handled_at as epoch seconds)."""
    async with db.transaction() as s:
        count, first, last = (
            await s.exec(
                select(
                    func.count(),
                    func.min(InboundUpdate.handled_at),
                    func.max(InboundUpdate.handled_at),
                ).where(col(InboundUpdate.handled_at).is_not(None))
            )
        ).one()
    if not count or first is None or last is None:
        return 0, 0.0, 0.0
    return int(count), first.timestamp(), last.timestamp()


async def handled_rate(workers: int, residents: int) -> float:
    """Updates handled a second by `frontdesk run` with `workers` worker processes."""
    async with pg_database() as db:
        script = await seed(db, residents)
        async with telegram_process(script, 0, replies=False) as (base_url, acked):
            with tempfile.TemporaryDirectory(prefix="frontdesk-bench-workers-") as tmp:
                env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
                env.update(
                    PYTHONPATH=str(ROOT),
                    FRONTDESK_DATABASE_URL=db.url,
                    FRONTDESK_TELEGRAM_TOKEN=TOKEN,
                    FRONTDESK_TELEGRAM_API_URL=base_url,
                    FRONTDESK_WORKERS=str(workers),
                    FRONTDESK_HTTP_PORT=str(free_port()),
                    FRONTDESK_DATA_DIR=str(Path(tmp) / "data"),
                    FRONTDESK_LOG_LEVEL="WARNING",
                )
                bot = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot.cli", "run", cwd=tmp, env=env
                )
                try:
                    await acked()  # stored (queued, or handled by the single process)
                    deadline = time.monotonic() + WITHIN
                    while (found := await _handled(db))[0] < len(script):
                        if bot.returncode is not None or time.monotonic() > deadline:
                            raise RuntimeError(f"{found[0]} of {len(script)} updates handled")
                        await asyncio.sleep(0.2)
                finally:
                    with contextlib.suppress(ProcessLookupError):
                        bot.send_signal(signal.SIGINT)
                    try:
                        await asyncio.wait_for(bot.wait(), 30)
                    except TimeoutError:
                        bot.kill()
                        await bot.wait()
        async with db.transaction() as s:
            tickets = (await s.exec(select(func.count()).select_from(Ticket))).one()
            stored = (await s.exec(select(func.count()).select_from(InboundUpdate))).one()
    if tickets != residents or stored != len(script):
        raise AssertionError(f"{tickets} repairs filed, {stored} updates stored of {len(script)}")
    count, first, last = found
    return (count - 1) / (last - first)


async def run(quick: bool = False) -> Section:
    residents = 40 if quick else 600
    counts = (0, 2) if quick else COUNTS
    section = Section("Workers: inbound shared among processes on PostgreSQL")
    section.add(
        f"{residents} residents each file a repair ({residents * 9} updates, all released "
        "at once). `frontdesk run` as a process of its own polls the emulator; with "
        "`FRONTDESK_WORKERS=N` it stores each update in the inbound queue and delivers "
        "the outbox, and the N `frontdesk worker` processes it starts take the queue chat "
        "by chat. Updates handled a second, first to last handled; every repair filed and "
        "every update handled once. Everything shares the machine's cores with PostgreSQL."
    )
    section.add()
    rates: dict[int, float] = {}
    for workers in counts:
        rates[workers] = await handled_rate(workers, residents)
        print(f"workers={workers}: {rates[workers]:,.0f} updates/s", flush=True)
    one = rates.get(1) or rates.get(0) or 1.0
    section.table(
        ["worker processes", "updates/s handled", "against 1 worker"],
        [
            [
                "none (`frontdesk run` handles them)" if n == 0 else str(n),
                f"{rate:,.0f}",
                f"{rate / one:.2f}×",
            ]
            for n, rate in rates.items()
        ],
    )
    if 1 in rates and 2 in rates:
        section.target(
            f"2 workers on PostgreSQL ≥ {TARGET}× one: {rates[2]:,.0f} vs {rates[1]:,.0f} "
            f"updates/s ({rates[2] / rates[1]:.2f}×)",
            rates[2] >= TARGET * rates[1],
        )
    return section
