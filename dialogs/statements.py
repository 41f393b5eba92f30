"""Publishing the accounts (收支情况公示): `/statement <period>` makes or refreshes a
community's draft statement for a month, a quarter or a year; its button publishes it to
the owners (handlers/statements.py)."""

from __future__ import annotations

from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from handlers import statements
from handlers.core.roles import MANAGERS

FEATURE = Feature(
    name="statements",
    commands=[Command("statement", statements.statement_command, roles=MANAGERS)],
    actions={statements.Publish: statements.publish},
    for_staff=[StaffEntry(MANAGERS, "statements.help")],
)
