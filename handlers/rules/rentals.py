"""The rules of letting (招租): when a contract's rents fall due, which reminder or overdue
step a rent has come to, a venue's fee and whether a booking clashes, and what the desk
types when it registers something to let. Plain functions over a policy and the time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from handlers.rules.dates import month_end

KINDS = ("ad_space", "storeroom", "venue")
VENUE = "venue"

# The steps a rent due takes, in order; each is recorded on `RentDue.step` once.
REMINDED = "reminded"
OVERDUE = "overdue"
SUPERVISOR = "supervisor"
STEPS = ("", REMINDED, OVERDUE, SUPERVISOR)
VOID = "void"  # a due after the contract ended early: nothing more is asked

MOST_MONTHS = 120  # a contract of ten years at most
MOST_HOURS = 12  # a venue booked for half a day at most in one booking


class RentalRuleError(ValueError):
    """Something typed or asked that the rules refuse; `reason` names it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RentPolicy:
    remind_days: int = 7
    escalate_days: int = 15


def add_months(day: date, months: int, anchor: int) -> date:
    month = day.month - 1 + months
    first = date(day.year + month // 12, month % 12 + 1, 1)
    return first.replace(day=min(anchor, month_end(first).day))


def due_dates(starts: date, ends: date, every_months: int) -> list[date]:
    """The days rent falls due: the start, then every `every_months` months on the same
    day of the month (the month's last day when it is shorter), while before the end."""
    if ends <= starts:
        raise RentalRuleError("ends_before_start")
    if not 1 <= every_months <= 12:
        raise RentalRuleError("every_months")
    if (ends.year - starts.year) * 12 + ends.month - starts.month > MOST_MONTHS:
        raise RentalRuleError("too_long")
    found: list[date] = []
    step = 0
    day = starts
    while day < ends:
        found.append(day)
        step += every_months
        day = add_months(starts, step, starts.day)
    return found


def months_between(starts: date, day: date) -> int:
    return (day.year - starts.year) * 12 + day.month - starts.month


def amount_for(rent: Decimal, every_months: int, due: date, ends: date) -> Decimal:
    """What one due asks: the month's rent for each month it covers, the last one only
    for the months left (a part month counted whole)."""
    left = months_between(due, ends) + (1 if ends.day > due.day else 0)
    months = max(1, min(every_months, left))
    return (rent * months).quantize(Decimal("0.01"))


def rent_steps(due: date, today: date, step: str, policy: RentPolicy) -> list[str]:
    """The steps an unpaid rent has come to and not yet taken, in order: a reminder
    `remind_days` before, the overdue notice on the day it falls due still unpaid, the
    supervisor `escalate_days` after the due day. A sweep that missed days takes what it
    missed at once, but a reminder no longer makes sense once due."""
    if step == VOID:
        return []
    done = STEPS.index(step) if step in STEPS else 0
    came: list[str] = []
    if due - timedelta(days=policy.remind_days) <= today < due:
        came.append(REMINDED)
    if today >= due:
        came.append(OVERDUE)
    if today >= due + timedelta(days=policy.escalate_days):
        came.append(SUPERVISOR)
    return [s for s in came if STEPS.index(s) > done]


def days_late(due: date, today: date) -> int:
    return max(0, (today - due).days)


# ---- venues ----------------------------------------------------------------------------


def hours_of(starts: datetime, ends: datetime) -> Decimal:
    """A booking's hours, by the half hour."""
    seconds = int((ends - starts).total_seconds())
    if seconds <= 0:
        raise RentalRuleError("ends_before_start")
    if seconds % 1800:
        raise RentalRuleError("half_hours")
    hours = Decimal(seconds) / Decimal(3600)
    if hours > MOST_HOURS:
        raise RentalRuleError("too_long")
    return hours


def venue_fee(starts: datetime, ends: datetime, hourly: Decimal) -> Decimal:
    """The venue management fee: the hours booked times the venue's hourly rent."""
    return (hours_of(starts, ends) * hourly).quantize(Decimal("0.01"))


def clashes(starts: datetime, ends: datetime, taken: list[tuple[datetime, datetime]]) -> bool:
    return any(s < ends and starts < e for s, e in taken)


def free_times(
    day_start: datetime, day_end: datetime, taken: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The gaps of the day's opening hours that no confirmed booking takes."""
    gaps: list[tuple[datetime, datetime]] = []
    cursor = day_start
    for s, e in sorted(taken):
        if e <= cursor or s >= day_end:
            continue
        if s > cursor:
            gaps.append((cursor, s))
        cursor = max(cursor, e)
    if cursor < day_end:
        gaps.append((cursor, day_end))
    return gaps


_SPAN = re.compile(
    r"(?P<h1>\d{1,2})(?:[:：点](?P<m1>\d{2}|半)?)?\s*(?:-|–|~|～|到|至|to)\s*"
    r"(?P<h2>\d{1,2})(?:[:：点](?P<m2>\d{2}|半)?)?\s*(?:点)?"
)
_PM = re.compile(r"下午|晚上|pm|傍晚")


def read_span(text: str) -> tuple[tuple[int, int], tuple[int, int], str] | None:
    """`14:00-16:00`, `下午2点到4点`, `19-21点`: the hours and minutes of the start and the
    end, and what was typed before them (the day); None when no span is said."""
    found = _SPAN.search(text)
    if found is None:
        return None

    def minutes(raw: str | None) -> int:
        return 30 if raw == "半" else int(raw or 0)

    h1, h2 = int(found["h1"]), int(found["h2"])
    before = text[: found.start()]
    if _PM.search(before.lower()) and h1 < 12:
        h1 += 12
        h2 = h2 + 12 if h2 < 12 else h2
    elif h2 <= h1 and h2 < 12:
        h2 += 12  # 10-2 said of the day is ten to two in the afternoon
    if not (0 <= h1 <= 23 and 0 <= h2 <= 24):
        return None
    day = _PM.sub("", before).replace("上午", "").strip()
    return (h1, minutes(found["m1"])), (h2, minutes(found["m2"])), day
