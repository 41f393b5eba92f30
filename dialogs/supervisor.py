"""Supervisors' commands, in private chats only: `/stats`, `/overdue`, `/report` and
`/ticket` (a ticket's history, which its department's staff may read too)."""

from __future__ import annotations

from dialogs.engine import Command, ReadFirst, StaffEntry
from dialogs.feature import Feature
from handlers import report, stats
from handlers.core.messages import Choice
from handlers.core.roles import MANAGERS, STAFF_ROLES

FEATURE = Feature(
    name="supervisor",
    commands=[
        Command("stats", stats.stats_command, roles=MANAGERS, private_only=True),
        Command("overdue", stats.overdue_command, roles=MANAGERS, private_only=True),
        Command("report", report.report_command, roles=MANAGERS, private_only=True),
        Command("ticket", stats.ticket_command, roles=STAFF_ROLES, private_only=True),
    ],
    for_staff=[
        StaffEntry(MANAGERS, "supervisor.help.stats", Choice("cmd:stats", "supervisor.menu.stats")),
        StaffEntry(
            MANAGERS, "supervisor.help.overdue", Choice("cmd:overdue", "supervisor.menu.overdue")
        ),
        StaffEntry(
            MANAGERS, "supervisor.help.report", Choice("cmd:report", "supervisor.menu.report")
        ),
        StaffEntry(STAFF_ROLES, "supervisor.help.ticket"),
    ],
    jobs={report.JOB: ReadFirst(report.read_report, report.send_report)},
)
