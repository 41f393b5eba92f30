"""Supervisors' commands, in private chats only: `/stats`, `/overdue`, `/report` and
`/ticket` (a ticket's history, which its department's staff may read too)."""

from __future__ import annotations

from dialogs.engine import Command
from handlers import report, stats

MANAGERS = ("supervisor", "director")
STAFF_ROLES = ("staff", "supervisor", "director")

COMMANDS = [
    Command("stats", stats.stats_command, roles=MANAGERS, private_only=True),
    Command("overdue", stats.overdue_command, roles=MANAGERS, private_only=True),
    Command("report", report.report_command, roles=MANAGERS, private_only=True),
    Command("ticket", stats.ticket_command, roles=STAFF_ROLES, private_only=True),
]
