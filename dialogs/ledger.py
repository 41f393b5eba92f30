"""The desk's cash ledger in chat (钱款录入, 日结): `/cash` shows today's page, `/cash 收 …`
and `/cash 支 …` take an entry in one line, `/cash 更正 …` corrects one, `/cash 日结 …`
closes the day with the cash counted and the bank deposit, `/cash 重开 …` (supervisors)
reopens a closed day; the supervisor's 审核锁定 button locks a closed day.

Who may: the community's service desk and its managers (handlers/ledger.py).
"""

from __future__ import annotations

from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from handlers import ledger
from handlers.core.roles import STAFF_ROLES

FEATURE = Feature(
    name="ledger",
    commands=[Command("cash", ledger.cash_command, roles=STAFF_ROLES)],
    actions={ledger.LockDay: ledger.lock_day},
    for_staff=[StaffEntry(STAFF_ROLES, "ledger.help.desk")],
)
