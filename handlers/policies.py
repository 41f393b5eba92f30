"""The office's policies as the rules take them, read from the settings in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers.rules.escalation import Ladder
from handlers.rules.revisit import RevisitPolicy

if TYPE_CHECKING:
    from bot.settings import Settings


def revisit_policy(settings: Settings) -> RevisitPolicy:
    return RevisitPolicy(
        safety_days=settings.revisit_safety_days,
        leak_days=settings.revisit_leak_days,
        other_days=settings.revisit_other_days,
        ask_at=settings.revisit_ask_time,
        settle_hours=settings.revisit_settle_hours,
        answer_hours=settings.revisit_answer_hours,
        call_hours=settings.revisit_call_hours,
        leak_test_hours=settings.leak_test_hours,
        quiet_start=settings.quiet_hours_start,
        quiet_end=settings.quiet_hours_end,
    )


def ladder(settings: Settings) -> Ladder:
    return Ladder(
        settings.deadline_warning_hours,
        settings.escalate_supervisor_hours,
        settings.escalate_director_hours,
    )
