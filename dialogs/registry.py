"""Every flow, command, button action and scheduled job the front desk offers.

Each feature module in `FEATURES` may define `FLOWS`, `COMMANDS`, `ACTIONS` (button
actions by name: a button value `act:<name>:<argument>`) and `JOBS` (by job kind).
Adding a feature is one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

from dialogs.engine import Command, Handler, JobWork, Router, Sweep
from dialogs.flow import Flow
from handlers.messages import Choice

FEATURES = (
    "dialogs.repair",
    "dialogs.my",
    "dialogs.tasks",
    "dialogs.people",
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
    """Free text at the menu routed to a flow (set by the intent feature when present)."""
    for module in _features():
        router = getattr(module, "ROUTER", None)
        if router is not None:
            return router  # type: ignore[no-any-return]
    return None


def menu_extras() -> list[Choice]:
    """Menu entries that are not flows (e.g. "my tickets")."""
    return [c for module in _features() for c in getattr(module, "MENU", [])]


def start_hook() -> Handler | None:
    """What `/start <argument>` does (identity binding by invitation code)."""
    for module in _features():
        hook = getattr(module, "ON_START", None)
        if hook is not None:
            return hook  # type: ignore[no-any-return]
    return None
