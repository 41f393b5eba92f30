"""Every flow, command, button action and scheduled job the front desk offers.

Each feature module in `FEATURES` may define `FLOWS`, `COMMANDS`, `ACTIONS` (button
actions by name: a button value `act:<name>:<argument>`), `JOBS` (by job kind),
`SWEEPS`, `ROUTER` and `DETOUR` (where typed words go), `MENU` (residents' menu entries
that are no flow), `FOR_STAFF` (staff menu entries and /help lines, by role) and
`PRIVATE_ACTIONS` (actions on a resident's own business: never in a group chat).
Adding a feature is one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, tzinfo
from types import ModuleType

from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.engine import Command, Handler, JobWork, Router, StaffEntry, Sweep
from dialogs.flow import Detour, DetourCheck, Flow
from handlers.context import Context
from handlers.messages import Choice

# Called once at start with (session, now, time zone).
Startup = Callable[[AsyncSession, datetime, tzinfo], Awaitable[None]]

FEATURES = (
    "dialogs.emergency",
    "dialogs.repair",
    "dialogs.my",
    "dialogs.tasks",
    "dialogs.people",
    "dialogs.arrears",
    "dialogs.retention",
    "dialogs.binding",
    "dialogs.fees",
    "dialogs.slip",
    "dialogs.supervisor",
    "dialogs.announce",
    "dialogs.duty",
    "dialogs.complaint",
    "dialogs.complaint_answer",
    "dialogs.question",
    "dialogs.intent",
)


def _features() -> list[ModuleType]:
    return [importlib.import_module(name) for name in FEATURES]


def all_flows() -> list[Flow]:
    return [flow for module in _features() for flow in getattr(module, "FLOWS", [])]


def all_commands() -> list[Command]:
    return [c for module in _features() for c in getattr(module, "COMMANDS", [])]


def all_actions() -> Mapping[str, Handler]:
    actions: dict[str, Handler] = {}
    for module in _features():
        actions.update(getattr(module, "ACTIONS", {}))
    return actions


def all_jobs() -> Mapping[str, JobWork]:
    """Scheduled work by job kind (revisits, reminders …)."""
    jobs: dict[str, JobWork] = {}
    for module in _features():
        jobs.update(getattr(module, "JOBS", {}))
    return jobs


def all_sweeps() -> list[Sweep]:
    """Periodic checks run by every worker round (deadlines, escalations, ladders)."""
    return [check for module in _features() for check in getattr(module, "SWEEPS", [])]


def intent_router() -> Router | None:
    """Free text at the menu routed to a flow: each feature's `ROUTER` in `FEATURES` order
    (an invitation code before the keyword scoring), the first that knows wins."""
    routers: list[Router] = [
        module.ROUTER for module in _features() if getattr(module, "ROUTER", None) is not None
    ]
    if not routers:
        return None

    async def route(ctx: Context, text: str) -> tuple[str, str] | None:
        for router in routers:
            routed = await router(ctx, text)
            if routed is not None:
                return routed
        return None

    return route


def detour_check() -> DetourCheck | None:
    """Words typed inside a resident's flow that belong to another flow: each feature's
    `DETOUR` in `FEATURES` order (an emergency before an explicit request)."""
    checks: list[DetourCheck] = [
        module.DETOUR for module in _features() if getattr(module, "DETOUR", None) is not None
    ]
    if not checks:
        return None

    async def check(ctx: Context, flow: str, text: str) -> Detour | None:
        for one in checks:
            found = await one(ctx, flow, text)
            if found is not None:
                return found
        return None

    return check


def private_actions() -> set[str]:
    """Button actions on a resident's own business, answered in private chats only."""
    return {name for module in _features() for name in getattr(module, "PRIVATE_ACTIONS", ())}


def staff_entries() -> list[StaffEntry]:
    """What staff are offered in their menu and /help, feature by feature."""
    return [entry for module in _features() for entry in getattr(module, "FOR_STAFF", [])]


def menu_extras() -> list[Choice]:
    """Menu entries that are not flows (e.g. "my tickets")."""
    return [c for module in _features() for c in getattr(module, "MENU", [])]


def all_startup() -> list[Startup]:
    """What each feature needs in the store before the first round (e.g. a daily job)."""
    return [hook for module in _features() for hook in getattr(module, "STARTUP", [])]


def start_hook() -> Handler | None:
    """What `/start <argument>` does (identity binding by invitation code)."""
    for module in _features():
        hook = getattr(module, "ON_START", None)
        if hook is not None:
            return hook  # type: ignore[no-any-return]
    return None
