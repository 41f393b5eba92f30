"""Background work: due jobs (revisits, deadlines, reminders) and pausing idle conversations.

Every worker process may run this loop; the store makes sure each job runs once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from dialogs import registry

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)


async def run_once(app: App) -> int:
    """Run due jobs and periodic checks, pause idle conversations; returns the jobs done."""
    done = await app.engine.run_jobs(registry.all_jobs())
    for check in registry.all_sweeps():
        await app.engine.sweep(check)
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
