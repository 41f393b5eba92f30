"""`/duty`: a supervisor takes the duty for their community (emergencies reach them first)."""

from __future__ import annotations

from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from handlers import duty
from handlers.core.messages import Choice
from handlers.core.roles import MANAGERS

FEATURE = Feature(
    name="duty",
    commands=[Command("duty", duty.duty_command, roles=MANAGERS, private_only=True)],
    for_staff=[
        StaffEntry(MANAGERS, help="duty.help", menu=Choice("cmd:duty who", "duty.menu")),
    ],
)
