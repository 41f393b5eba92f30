"""The arrears ladder (催缴), DOMAIN.md section 3, and what the desk agreed that reshapes it.

A unit with months overdue gets a reminder (amount, months, a deadline to pay), repeated
monthly; still unpaid 3 months after the first reminder, the service desk sends a formal
dunning letter (催缴函) by express mail; a month later, a home visit; long, unjustified
refusal after that goes to the supervisor to consider legal channels. Paying leaves the
ladder at once.

What the desk agreed changes that: while a dispute of the amount is open the ladder waits
(its clock stops, so the time paused does not count towards the letter); under an
instalment plan each instalment is reminded before its date instead, and an instalment
still unpaid `instalment_grace_days` after its date breaks the plan and the ladder resumes.
Whether an instalment is paid follows from the money received since the plan was agreed,
counted against the instalments in order.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from handlers.rules.warranty import add_months

STEPS = ("reminder", "letter", "visit", "legal")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ArrearsPolicy:
    letter_after_months: int = 3  # after the first reminder, as the office's rules say
    visit_after_months: int = 1  # after the letter
    legal_after_months: int = 3  # after the visit
    remind_every_days: int = 30
    pay_within_days: int = 15
    # Instalment plans (分期): one reminder this many days before each instalment's date,
    # one the day after it if unpaid, and the plan is broken this many days after it.
    instalment_remind_days_before: int = 3
    instalment_grace_days: int = 7
    max_instalments: int = 12
    first_instalment_within_days: int = 62  # the first date the desk may agree
    first_instalment_proposed_days: int = 7  # the date offered to the desk by default


def _after(moment: datetime, months: int) -> datetime:
    shifted = add_months(moment.date(), months)
    return moment.replace(year=shifted.year, month=shifted.month, day=shifted.day)


def next_step(
    step: str | None, opened_at: datetime, step_at: datetime, now: datetime, policy: ArrearsPolicy
) -> str | None:
    """The step a unit still in arrears climbs to now, or None to stay where it is.

    `step_at` is when the current step began, moved on by any time the ladder was paused
    (for the reminder step it starts as the first reminder, `opened_at`).
    """
    if step is None:
        return "reminder"
    if step == "reminder" and now >= _after(step_at, policy.letter_after_months):
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


def resumed_step_at(step_at: datetime, paused_at: datetime, now: datetime) -> datetime:
    """A paused ladder resumes where it stood: its step began later by the time paused."""
    return step_at + max(now - paused_at, timedelta(0))


# ---- instalment plans --------------------------------------------------------------------


@dataclass(frozen=True)
class Instalment:
    number: int  # 1, 2, …
    due: date
    amount: Decimal


def split_evenly(total: Decimal, count: int) -> tuple[Decimal, ...]:
    """`total` in `count` parts that differ by one fen at most; the odd fens go first."""
    share = (total / count).quantize(CENT, rounding=ROUND_DOWN)
    extra = int((total - share * count) / CENT)
    return tuple(share + (CENT if n < extra else Decimal("0")) for n in range(count))


def schedule(first: date, amounts: Sequence[Decimal]) -> tuple[Instalment, ...]:
    """One instalment a month from `first` (the 31st falls on a shorter month's last day)."""
    return tuple(
        Instalment(n + 1, add_months(first, n), amount) for n, amount in enumerate(amounts)
    )


def first_day_allowed(day: date, today: date, policy: ArrearsPolicy) -> bool:
    return today <= day <= today + timedelta(days=policy.first_instalment_within_days)


def proposed_first_day(today: date, policy: ArrearsPolicy) -> date:
    return today + timedelta(days=policy.first_instalment_proposed_days)


@dataclass(frozen=True)
class PlanProgress:
    """A plan against the money received since it was agreed."""

    instalments: tuple[Instalment, ...]
    paid: Decimal

    @property
    def total(self) -> Decimal:
        return sum((i.amount for i in self.instalments), Decimal("0"))

    @property
    def complete(self) -> bool:
        return self.paid >= self.total

    def owed(self, instalment: Instalment) -> Decimal:
        """What is still to pay of one instalment (earlier ones are paid first)."""
        before = sum((i.amount for i in self.instalments[: instalment.number - 1]), Decimal("0"))
        return min(instalment.amount, max(before + instalment.amount - self.paid, Decimal("0")))

    @property
    def current(self) -> Instalment | None:
        """The first instalment not paid in full, or None when the plan is paid."""
        return next((i for i in self.instalments if self.owed(i) > 0), None)


def plan_broken(progress: PlanProgress, today: date, policy: ArrearsPolicy) -> bool:
    """An instalment still owed `instalment_grace_days` after its date breaks the plan."""
    current = progress.current
    return current is not None and today > current.due + timedelta(
        days=policy.instalment_grace_days
    )


def instalment_notice(
    progress: PlanProgress, today: date, policy: ArrearsPolicy, sent: Collection[str]
) -> tuple[str, Instalment] | None:
    """The reminder due today, if any: `before` an instalment's date, or `overdue` after it
    (while the grace lasts); each once per instalment (`sent` holds `before:2` …)."""
    current = progress.current
    if current is None or plan_broken(progress, today, policy):
        return None
    if today > current.due:
        kind = "overdue"
    elif today >= current.due - timedelta(days=policy.instalment_remind_days_before):
        kind = "before"
    else:
        return None
    return None if f"{kind}:{current.number}" in sent else (kind, current)


def grace_end(instalment: Instalment, policy: ArrearsPolicy) -> date:
    return instalment.due + timedelta(days=policy.instalment_grace_days)
