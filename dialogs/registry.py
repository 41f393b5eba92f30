"""The list of every flow, command and button action the front desk offers."""

from __future__ import annotations

from collections.abc import Mapping

from dialogs.engine import Command, Handler, Router
from dialogs.flow import Flow
from handlers import handoff, people
from storage.jobs import JobHandler

STAFF_ROLES = ("staff", "supervisor", "director")


def all_flows() -> list[Flow]:
    from dialogs import repair

    return [repair.FLOW]


def all_commands() -> list[Command]:
    return [
        Command("whoami", people.whoami),
        Command("reply", handoff.reply_command, roles=STAFF_ROLES),
    ]


def all_actions() -> Mapping[str, Handler]:
    return {}


def intent_router() -> Router | None:
    return None


def all_jobs() -> Mapping[str, JobHandler]:
    """Scheduled work by job kind (revisits, warnings, reminders …)."""
    return {}
