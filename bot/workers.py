"""Background work: due jobs (revisits, deadlines, reminders) and pausing idle conversations.

Every worker process may run this loop; the store makes sure each job runs once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from dialogs import registry
from storage import jobs

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)


async def run_once(app: App) -> int:
    """Run the jobs that are due and pause idle conversations; returns the jobs done."""
    all_jobs = getattr(registry, "all_jobs", None)
    handlers = dict(all_jobs()) if all_jobs is not None else {}
    done = await jobs.run_due(app.db, app.clock.now(), handlers)
    await app.engine.expire_idle()
    return done


async def run_workers(app: App, stop: asyncio.Event, interval: float = 1.0) -> None:
    """Loop until `stop` is set; an error is logged and the next round goes ahead."""
    while not stop.is_set():
        try:
            await run_once(app)
        except Exception:
            log.exception("worker round failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
