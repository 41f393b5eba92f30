"""A feature declares itself once: its flows, commands, button actions, jobs and the rest.

Each module of `dialogs/` ends with one `FEATURE = Feature(...)`; `dialogs/registry.py` is
the list of them, and the engine, the workers, the menus and the command lists are all
derived from it. Nothing here runs at import.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.engine import (
    ActionHandler,
    Command,
    Handler,
    JobWork,
    ReadFirst,
    Router,
    StaffEntry,
    Sweep,
    TypedReader,
)
from dialogs.flow import DetourCheck, Flow
from handlers.core.actions import Action
from handlers.core.messages import Choice

# Called once at start with (session, now, time zone): e.g. book the first daily run.
Startup = Callable[[AsyncSession, datetime, tzinfo], Awaitable[None]]


@dataclass(frozen=True)
class Feature:
    """What one feature offers the front desk."""

    name: str
    flows: Sequence[Flow] = ()
    commands: Sequence[Command] = ()
    # A button's typed action and the use-case it runs (the class says if it is private).
    actions: Mapping[type[Action], ActionHandler] = field(default_factory=dict)
    jobs: Mapping[str, JobWork | ReadFirst] = field(default_factory=dict)  # scheduled work by kind
    sweeps: Sequence[Sweep] = ()  # checks every worker round (deadlines, escalations)
    startup: Sequence[Startup] = ()
    router: Router | None = None  # where free text at the menu goes
    detour: DetourCheck | None = None  # where words typed inside a resident's flow go
    on_start: Handler | None = None  # what `/start <argument>` does
    menu: Sequence[Choice] = ()  # residents' menu entries that are no flow
    for_staff: Sequence[StaffEntry] = ()  # staff menu entries and /help lines, by role
    typed: TypedReader | None = None  # lines typed without a slash (staff verbs)
