"""Every feature of the front desk, in one list; all the rest is derived from it.

Each feature module declares itself once, as `FEATURE = Feature(...)` (dialogs/feature.py).
The order matters twice: the residents' menu lists flows in this order, and free text is
offered to the features' routers in this order (an invitation code, then an emergency,
then the intent scores). Adding a feature is one line here.
"""

from __future__ import annotations

from collections.abc import Mapping

from dialogs import (
    activities,
    announce,
    arrears,
    arrears_work,
    binding,
    complaint,
    complaint_answer,
    custody,
    duty,
    emergency,
    fees,
    incidents,
    inspections,
    intent,
    keys,
    ledger,
    month_review,
    movein,
    my,
    parcels,
    people,
    question,
    renovation,
    renovation_watch,
    rentals,
    repair,
    retention,
    services,
    slip,
    statements,
    supervisor,
    survey,
    tasks,
    visit_plans,
    visitors,
)
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
from dialogs.feature import Feature, Startup
from dialogs.flow import Detour, DetourCheck, Flow
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply

FEATURES: list[Feature] = [
    emergency.FEATURE,
    repair.FEATURE,
    my.FEATURE,
    tasks.FEATURE,
    people.FEATURE,
    arrears.FEATURE,
    retention.FEATURE,
    binding.FEATURE,
    fees.FEATURE,
    slip.FEATURE,
    custody.FEATURE,
    movein.FEATURE,
    renovation.FEATURE,
    renovation_watch.FEATURE,
    supervisor.FEATURE,
    announce.FEATURE,
    duty.FEATURE,
    complaint.FEATURE,
    complaint_answer.FEATURE,
    question.FEATURE,
    parcels.FEATURE,
    visitors.FEATURE,
    keys.FEATURE,
    visit_plans.FEATURE,
    month_review.FEATURE,
    incidents.FEATURE,
    inspections.FEATURE,
    activities.FEATURE,
    survey.FEATURE,
    statements.FEATURE,
    ledger.FEATURE,
    rentals.FEATURE,
    arrears_work.FEATURE,
    services.FEATURE,
    intent.FEATURE,
]


def all_flows() -> list[Flow]:
    return [flow for feature in FEATURES for flow in feature.flows]


def all_commands() -> list[Command]:
    return [command for feature in FEATURES for command in feature.commands]


def all_actions() -> Mapping[type[Action], ActionHandler]:
    return {cls: run for feature in FEATURES for cls, run in feature.actions.items()}


def all_jobs() -> Mapping[str, JobWork | ReadFirst]:
    """Scheduled work by job kind (revisits, reminders …)."""
    return {kind: work for feature in FEATURES for kind, work in feature.jobs.items()}


def all_sweeps() -> list[Sweep]:
    """Periodic checks run by every worker round (deadlines, escalations, ladders)."""
    return [check for feature in FEATURES for check in feature.sweeps]


def all_startup() -> list[Startup]:
    """What each feature needs in the store before the first round (e.g. a daily job)."""
    return [hook for feature in FEATURES for hook in feature.startup]


def staff_entries() -> list[StaffEntry]:
    """What staff are offered in their menu and /help, feature by feature."""
    return [entry for feature in FEATURES for entry in feature.for_staff]


def menu_extras() -> list[Choice]:
    """Residents' menu entries that are not flows (e.g. "my tickets")."""
    return [choice for feature in FEATURES for choice in feature.menu]


def start_hook() -> Handler | None:
    """What `/start <argument>` does (identity binding by invitation code)."""
    return next((f.on_start for f in FEATURES if f.on_start is not None), None)


def intent_router() -> Router:
    """Free text at the menu: each feature's router in order; the first that knows wins."""
    routers = [feature.router for feature in FEATURES if feature.router is not None]

    async def route(ctx: Context, text: str) -> tuple[str, str] | None:
        for router in routers:
            routed = await router(ctx, text)
            if routed is not None:
                return routed
        return None

    return route


def detour_check() -> DetourCheck:
    """Words typed inside a resident's flow that belong to another flow: each feature's
    check in order (an emergency before an explicit request)."""
    checks = [feature.detour for feature in FEATURES if feature.detour is not None]

    async def check(ctx: Context, flow: str, text: str) -> Detour | None:
        for one in checks:
            found = await one(ctx, flow, text)
            if found is not None:
                return found
        return None

    return check


def typed_reader() -> TypedReader | None:
    """Lines typed without a slash that a feature reads as its own (staff verbs): each
    feature's reader in order; the first that knows the line wins."""
    readers = [feature.typed for feature in FEATURES if feature.typed is not None]
    if not readers:
        return None

    async def read(ctx: Context, text: str, busy: bool) -> str | list[Reply] | None:
        for reader in readers:
            found = await reader(ctx, text, busy)
            if found is not None:
                return found
        return None

    return read
