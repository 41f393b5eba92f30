"""Arrears casework (欠费催缴个案): the words the desk records and when a promise is due.

Each call, visit, letter or message to a unit in arrears is kept with whether the payer was
reached, the reason they gave (找出原因) and any date and amount they promised to pay. A
promise is kept once the unit has paid at least the promised amount since it was made; it
is broken when that has not happened by the promised day plus the community's grace days
(`arrears_promise_grace_days`). Cases are worked latest step first, oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

METHODS = ("call", "visit", "letter", "message")
REASONS = ("forgot", "hardship", "dispute", "absent", "refuses", "other")
DISPUTE = "dispute"
# The ladder's steps, the later ones first: the order the desk works them in.
STEP_ORDER = ("legal", "visit", "letter", "reminder")
KEPT, BROKEN = "kept", "broken"
# How far ahead a promised day may be: beyond that it is no promise to follow up.
PROMISE_WITHIN_DAYS = 92


@dataclass(frozen=True)
class PromisePolicy:
    grace_days: int = 1


def promise_day_allowed(day: date, today: date) -> bool:
    return today <= day <= today + timedelta(days=PROMISE_WITHIN_DAYS)


def follow_up_day(promised_on: date, policy: PromisePolicy) -> date:
    """The last day the promised money may come in; the day after, the promise is broken."""
    return promised_on + timedelta(days=policy.grace_days)


def promise_verdict(
    promised_on: date,
    promised: Decimal | None,
    paid_since: Decimal,
    today: date,
    policy: PromisePolicy,
) -> str | None:
    """`kept` once the promised amount (or, with none named, any money) has come in since
    the promise; `broken` past the grace; None while it is still time."""
    if paid_since > 0 and paid_since >= (promised or Decimal("0")):
        return KEPT
    if today > follow_up_day(promised_on, policy):
        return BROKEN
    return None


def step_rank(step: str) -> int:
    return STEP_ORDER.index(step) if step in STEP_ORDER else len(STEP_ORDER)
