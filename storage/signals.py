"""Wake-ups between processes: PostgreSQL's LISTEN/NOTIFY.

A worker process that queued replies tells the process that delivers them; the process that
receives updates tells the workers. A notice sent inside a transaction goes out when it
commits, so nobody is woken for work they cannot see yet. A notice may be lost (a listener
reconnecting): everyone also looks on their own every second or so, and a notice only
makes that sooner. On SQLite (one process) these do nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import Database

log = logging.getLogger(__name__)

INBOUND = "frontdesk_inbound"  # updates are waiting in the inbound queue
OUTBOX = "frontdesk_outbox"  # replies are waiting in the outbox

_NOTIFY = text("SELECT pg_notify(:name, '')")


async def notify(session: AsyncSession, name: str) -> None:
    """Wake the listeners of `name` once this session's transaction commits."""
    if session.get_bind().dialect.name == "postgresql":
        await session.exec(_NOTIFY, params={"name": name})  # type: ignore[call-overload]


@contextlib.asynccontextmanager
async def listening(db: Database, name: str, wake: Callable[[], None]) -> AsyncIterator[None]:
    """Call `wake` whenever `name` is notified, while inside the block (PostgreSQL)."""
    if db.dialect != "postgresql":
        yield
        return
    import asyncpg  # the driver the engine already uses

    dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def heard(*_: Any) -> None:
        wake()

    connection: Any = None
    try:
        connection = await asyncpg.connect(dsn)
        await connection.add_listener(name, heard)
    except (OSError, asyncpg.PostgresError) as exc:  # woken by the clock alone, then
        log.warning("cannot listen for %s (%s); looking every second instead", name, exc)
    try:
        yield
    finally:
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)
