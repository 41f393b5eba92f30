"""Supervisors' commands, in private chats only: `/stats`, `/overdue`, `/report` and
`/ticket` (a ticket's history, which its department's staff may read too)."""

from __future__ import annotations

from dialogs.engine import Command, StaffEntry
from handlers import report, stats
from handlers.messages import Choice

MANAGERS = ("supervisor", "director")
STAFF_ROLES = ("staff", "supervisor", "director")

COMMANDS = [
    Command("stats", stats.stats_command, roles=MANAGERS, private_only=True),
    Command("overdue", stats.overdue_command, roles=MANAGERS, private_only=True),
    Command("report", report.report_command, roles=MANAGERS, private_only=True),
    Command("ticket", stats.ticket_command, roles=STAFF_ROLES, private_only=True),
]

FOR_STAFF = [
    StaffEntry(MANAGERS, "supervisor.help.stats", Choice("cmd:stats", "supervisor.menu.stats")),
    StaffEntry(
        MANAGERS, "supervisor.help.overdue", Choice("cmd:overdue", "supervisor.menu.overdue")
    ),
    StaffEntry(MANAGERS, "supervisor.help.report", Choice("cmd:report", "supervisor.menu.report")),
    StaffEntry(STAFF_ROLES, "supervisor.help.ticket"),
]
