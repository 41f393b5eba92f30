"""Builds the application from settings: database, catalogs, engine, workers.

This is the one place where the pieces are put together; nothing is built at import.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.settings import Settings
from dialogs.engine import Engine
from dialogs.registry import (
    all_actions,
    all_commands,
    all_flows,
    all_startup,
    detour_check,
    intent_router,
    menu_extras,
    staff_entries,
    start_hook,
    typed_reader,
)
from handlers.core.clock import Clock, SystemClock
from handlers.core.i18n import Catalogs
from handlers.people import ensure_first_supervisors
from storage import migrate
from storage.db import Database

log = logging.getLogger(__name__)

# Fetches a photo kept by a channel's file reference into a path (Telegram keeps only a
# file id); returns the path written.
PhotoSource = Callable[[str, Path], Awaitable[Path]]


@dataclass
class App:
    """Everything a channel or a worker needs."""

    settings: Settings
    db: Database
    catalogs: Catalogs
    clock: Clock
    engine: Engine
    # The running channels that fetch a photo by its file reference, by channel name: set
    # while the channel serves (the desk's pages fetch a Telegram photo on first view).
    photo_sources: dict[str, PhotoSource] = field(default_factory=dict)

    @classmethod
    async def start(
        cls, settings: Settings, clock: Clock | None = None, migrate_schema: bool = True
    ) -> App:
        db = Database(settings.database_url)
        if migrate_schema:
            await migrate.upgrade(db.engine)
        clock = clock or SystemClock()
        catalogs = Catalogs.load(settings.default_locale, settings.tz)
        engine = Engine(
            db=db,
            settings=settings,
            catalogs=catalogs,
            clock=clock,
            flows=all_flows(),
            commands=all_commands(),
            actions=all_actions(),
            router=intent_router(),
            on_start=start_hook(),
            menu_extras=menu_extras(),
            detour=detour_check(),
            staff_entries=staff_entries(),
            typed=typed_reader(),
        )
        async with db.transaction() as session:
            await ensure_first_supervisors(session, settings)
            for hook in all_startup():
                await hook(session, clock.now(), settings.tz)
        return cls(settings=settings, db=db, catalogs=catalogs, clock=clock, engine=engine)

    async def close(self) -> None:
        await self.db.dispose()
