"""Commands about people and groups: who am I, bind a group to a department, manage staff."""

from __future__ import annotations

from dialogs.engine import Command, StaffEntry
from handlers import handoff, people

STAFF_ROLES = ("staff", "supervisor", "director")
MANAGERS = ("supervisor", "director")

COMMANDS = [
    Command("whoami", people.whoami),
    Command("reply", handoff.reply_command, roles=STAFF_ROLES),
    Command("bind", people.bind_group, roles=MANAGERS),
    Command("staff", people.staff_command, roles=MANAGERS, private_only=True),
]

FOR_STAFF = [
    StaffEntry(STAFF_ROLES, "people.help.reply"),
    StaffEntry(MANAGERS, "people.help.bind"),
    StaffEntry(MANAGERS, "people.help.staff"),
    StaffEntry(STAFF_ROLES, "people.help.whoami"),
]
