"""The worker processes `frontdesk run` starts with `FRONTDESK_WORKERS` (PostgreSQL).

Each is `frontdesk worker` (`python -m bot.cli worker`) with the same environment and
working directory, so the same settings. One that ends while the bot runs is started
again, after a pause that grows while they keep failing; when the bot stops, each is asked
to stop (SIGTERM: it finishes the updates in hand, which are committed or rolled back
whole) and killed if it has not within `GRACE` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

log = logging.getLogger(__name__)

GRACE = 15.0  # seconds a worker gets to stop before it is killed
RESTART_FIRST, RESTART_MAX = 1.0, 60.0  # seconds before a worker that ended is started again
STEADY = 60.0  # a worker that ran this long had no start-up problem: the pause starts over

WORKER = (sys.executable, "-m", "bot.cli", "worker")


async def supervise(count: int, stop: asyncio.Event, command: Sequence[str] = WORKER) -> None:
    """Keep `count` worker processes running until `stop` is set, then stop them."""
    await asyncio.gather(*(_keep_running(n, stop, command) for n in range(1, count + 1)))


async def _keep_running(n: int, stop: asyncio.Event, command: Sequence[str]) -> None:
    loop = asyncio.get_running_loop()
    pause = RESTART_FIRST
    while not stop.is_set():
        started = loop.time()
        child = await asyncio.create_subprocess_exec(*command)
        log.info("worker %d started (pid %d)", n, child.pid)
        ended = asyncio.ensure_future(child.wait())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({ended, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not ended.done():
            await _stop(child, ended)
            return
        if loop.time() - started >= STEADY:
            pause = RESTART_FIRST
        status = child.returncode
        log.error("worker %d ended with status %s; started again in %.0f s", n, status, pause)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
        pause = min(pause * 2, RESTART_MAX)


async def _stop(child: asyncio.subprocess.Process, ended: asyncio.Future[int]) -> None:
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(ended), GRACE)
    except TimeoutError:
        log.warning("worker pid %d did not stop in %.0f s; killed", child.pid, GRACE)
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await ended
