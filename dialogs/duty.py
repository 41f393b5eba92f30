"""`/duty`: a supervisor takes the duty for their community (emergencies reach them first)."""

from __future__ import annotations

from dialogs.engine import Command, StaffEntry
from handlers import duty
from handlers.messages import Choice

MANAGERS = ("supervisor", "director")

COMMANDS = [Command("duty", duty.duty_command, roles=MANAGERS, private_only=True)]
FOR_STAFF = [
    StaffEntry(MANAGERS, help="duty.help", menu=Choice("cmd:duty who", "duty.menu")),
]
