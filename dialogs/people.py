"""Commands about people and groups: who am I, bind a group to a department, manage staff."""

from __future__ import annotations

from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from handlers import handoff, people
from handlers.core.roles import MANAGERS, STAFF_ROLES

FEATURE = Feature(
    name="people",
    commands=[
        Command("whoami", people.whoami),
        Command("reply", handoff.reply_command, roles=STAFF_ROLES),
        Command("bind", people.bind_group, roles=MANAGERS),
        Command("staff", people.staff_command, roles=MANAGERS, private_only=True),
    ],
    for_staff=[
        StaffEntry(STAFF_ROLES, "people.help.reply"),
        StaffEntry(MANAGERS, "people.help.bind"),
        StaffEntry(MANAGERS, "people.help.staff"),
        StaffEntry(STAFF_ROLES, "people.help.whoami"),
    ],
)
