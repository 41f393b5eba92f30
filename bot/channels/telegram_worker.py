"""A worker process's share of Telegram: the updates the receiving process queued.

`frontdesk worker` (started by `frontdesk run` with `FRONTDESK_WORKERS`, PostgreSQL only)
takes a few chats at a time from the inbound queue (`storage.queue.claim`: chats no other
worker holds, oldest first) and feeds their updates, in order, through the same `Updates`
and aiogram dispatcher as a single process does, in one transaction that also deletes them
from the queue: one commit for the lot, and a crash loses none. Buttons pressed are
answered once it commits, and the receiving process, which delivers the outbox, is told
that replies wait.

If one update of the lot fails, the lot is rolled back and done again one update at a
time (each taking its chat's lock first), so the others are kept and the failing one is
stored for a look, as in a single process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from aiogram import Bot, Dispatcher
from aiogram.types import Update

from bot.channels.telegram import BATCH_HOLD, CHANNEL, Updates, make_bot
from storage import queue, signals
from storage.db import BatchFailed
from storage.queue import Queued

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

# Chats taken at once, and updates handled in one transaction at most. Kept small: a lot
# holds the row locks its updates take until it commits, and some rows are shared by many
# chats (the community's ticket counter, taken by every repair filed), so a long lot makes
# the other workers wait for it; the commit itself costs little beside an update's handling.
CHATS = 4
LOT = 8
IDLE = 1.0  # seconds between looks at the queue when no notice comes
RETRY = 5.0  # seconds to wait after the database failed


class _Worker:
    def __init__(self, app: App, bot: Bot) -> None:
        self.app = app
        self.bot = bot
        self.replied = False  # set by `Updates` when an update queued replies
        self.updates = Updates(app, bot, self._replies_queued, patient=True)
        self.dispatcher: Dispatcher = self.updates.dispatcher()

    def _replies_queued(self) -> None:
        self.replied = True

    async def _feed(self, row: Queued) -> None:
        update = Update.model_validate(row.payload, context={"bot": self.bot})
        await self.dispatcher.feed_update(self.bot, update)

    async def round(self) -> int:
        """Handle the waiting updates of a few chats; returns how many were taken."""
        db = self.app.db
        self.replied = False
        self.updates.answers = []
        claimed: list[Queued] = []
        try:
            async with db.batch():
                async with db.transaction() as session:
                    claimed = await queue.claim(session, CHANNEL, CHATS)
                started = time.monotonic()
                handled: list[int] = []
                for row in claimed:
                    await self._feed(row)
                    handled.append(row.id)
                    # The rest stays queued for the next round (or another worker once
                    # the locks go), in order.
                    if len(handled) >= LOT or time.monotonic() - started > BATCH_HOLD:
                        break
                async with db.transaction() as session:
                    await queue.done(session, handled)
                    if self.replied:
                        await signals.notify(session, signals.OUTBOX)
        except BatchFailed:
            log.warning("telegram: a lot of %d queued updates failed; one by one", len(claimed))
            await self._one_by_one(claimed)
        finally:
            await self._answer_buttons()
        return len(claimed)

    async def _one_by_one(self, claimed: list[Queued]) -> None:
        db = self.app.db
        for row in claimed:
            self.replied = False
            try:
                async with db.batch():
                    async with db.transaction() as session:
                        if not await queue.take(session, row):
                            continue  # another worker handled it meanwhile
                    await self._feed(row)
                    async with db.transaction() as session:
                        if self.replied:
                            await signals.notify(session, signals.OUTBOX)
            except BatchFailed:
                # This one fails on its own: `Updates` stores it unhandled for a look.
                await self._answer_buttons()
                self.updates.answers = None
                try:
                    await self._feed(row)
                finally:
                    self.updates.answers = []
                async with db.transaction() as session:
                    await queue.done(session, [row.id])
            await self._answer_buttons()

    async def _answer_buttons(self) -> None:
        with contextlib.suppress(Exception):  # an answer that cannot go changes nothing
            await self.updates.send_answers()


async def work(app: App, stop: asyncio.Event, *, idle: float = IDLE) -> None:
    """Handle queued Telegram updates until `stop` is set."""
    bot = make_bot(app.settings)
    worker = _Worker(app, bot)
    arrived = asyncio.Event()
    try:
        async with signals.listening(app.db, signals.INBOUND, arrived.set):
            while not stop.is_set():
                arrived.clear()
                try:
                    taken = await worker.round()
                except Exception:  # the database is away: nothing is lost, try again
                    log.exception("telegram: handling queued updates failed")
                    taken, wait = 0, RETRY
                else:
                    wait = idle
                if taken:
                    continue  # more may be waiting
                waiters = [asyncio.ensure_future(e.wait()) for e in (stop, arrived)]
                try:
                    await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
    finally:
        await bot.session.close()
