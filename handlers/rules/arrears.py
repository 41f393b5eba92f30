"""The arrears ladder (催缴), DOMAIN.md section 3.

A unit with months overdue gets a reminder (amount, months, a deadline to pay), repeated
monthly; still unpaid 3 months after the first reminder, the service desk sends a formal
dunning letter (催缴函) by express mail; a month later, a home visit; long, unjustified
refusal after that goes to the supervisor to consider legal channels. Paying leaves the
ladder at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.rules.warranty import add_months

STEPS = ("reminder", "letter", "visit", "legal")


@dataclass(frozen=True)
class ArrearsPolicy:
    letter_after_months: int = 3  # after the first reminder, as the office's rules say
    visit_after_months: int = 1  # after the letter
    legal_after_months: int = 3  # after the visit
    remind_every_days: int = 30
    pay_within_days: int = 15


def _after(moment: datetime, months: int) -> datetime:
    shifted = add_months(moment.date(), months)
    return moment.replace(year=shifted.year, month=shifted.month, day=shifted.day)


def next_step(
    step: str | None, opened_at: datetime, step_at: datetime, now: datetime, policy: ArrearsPolicy
) -> str | None:
    """The step a unit still in arrears climbs to now, or None to stay where it is."""
    if step is None:
        return "reminder"
    if step == "reminder" and now >= _after(opened_at, policy.letter_after_months):
        return "letter"
    if step == "letter" and now >= _after(step_at, policy.visit_after_months):
        return "visit"
    if step == "visit" and now >= _after(step_at, policy.legal_after_months):
        return "legal"
    return None


def remind_again(step: str, last_reminder: datetime, now: datetime, policy: ArrearsPolicy) -> bool:
    """While on the reminder step, the reminder is repeated every so often."""
    return step == "reminder" and now - last_reminder >= timedelta(days=policy.remind_every_days)


def pay_by(now: datetime, policy: ArrearsPolicy) -> datetime:
    return now + timedelta(days=policy.pay_within_days)
