"""Community life's rules (社区文化): the notice board renewed every two weeks, and an
activity's times, places, deadlines and reminder. Plain functions over numbers and times;
the caller gives the policy (`notice_board_days`) and the time."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

from handlers.rules.movein import parse_appointment

# The seed's "每两周更换"; the company and a community may set their own
# (`notice_board_days`). Used only before the settings are at hand (the first booking at
# start-up); each reminder checks the community's policy when it comes due.
NOTICE_BOARD_DAYS = 14
RENEW_WITHIN = timedelta(days=2)  # a reminder's task is due two days after it is given
CHECK_AGAIN = timedelta(days=1)  # while the board's task is open, looked at daily
PREPARE_BEFORE = timedelta(days=1)  # departments are ready the day before the activity
REMIND_AT = time(10, 0)  # those signed up are reminded the day before, at ten
MOST_PEOPLE = 999  # a capacity or a party larger than this is a typing slip
COST_MOST = 10_000_000  # yuan

# Why a sign-up is refused (`signup_problem`).
FULL = "full"
HOUSEHOLD = "household"

_WIDE = str.maketrans("０１２３４５６７８９", "0123456789")
_COUNT = re.compile(r"(\d{1,4})\s*(?:人|位|名|个人|people|persons?)?")


def next_renewal(last: datetime, days: int) -> datetime:
    """When the board is next due: `days` after it was last renewed (or first counted)."""
    return last + timedelta(days=days)


def renewal_due(reminded: datetime) -> datetime:
    """The deadline of the renewal task given at `reminded`."""
    return reminded + RENEW_WITHIN


def read_count(text: str) -> int | None:
    """A number of people as typed: `3`, `３人`, `3位`; None when it is not one (1 to 999)."""
    found = _COUNT.fullmatch(text.strip().translate(_WIDE).lower())
    if found is None:
        return None
    value = int(found.group(1))
    return value if 1 <= value <= MOST_PEOPLE else None


def read_start(text: str, today: date) -> datetime | None:
    """An activity's start as typed (`12月20日 14:00`, `下周六上午9点`), as naive local time;
    None when the day or the time is missing or past."""
    found = parse_appointment(text, today)
    return datetime.combine(found.day, found.at) if found else None


def read_end(text: str, start: datetime) -> datetime | None:
    """The end: a time of the start's day (`16:30`) or a day and time; None unless after
    the start."""
    found = parse_appointment(text, start.date())
    if found is None:
        return None
    end = datetime.combine(found.day, found.at)
    return end if end > start else None


def places_left(capacity: int | None, taken: int) -> int | None:
    """Places still free; None without a limit."""
    return None if capacity is None else max(capacity - taken, 0)


def signup_problem(
    capacity: int | None,
    taken_by_others: int,
    wanted: int,
    per_household: int | None = None,
    household_others: int = 0,
) -> str | None:
    """Why `wanted` people cannot sign up (`HOUSEHOLD`: with those already signed up from
    the same flat, more than a household may bring; `FULL`: more than the places left), or
    None when they can. The sign-up's own earlier count is not among the others."""
    if per_household is not None and household_others + wanted > per_household:
        return HOUSEHOLD
    left = places_left(capacity, taken_by_others)
    if left is not None and wanted > left:
        return FULL
    return None


def preparation_due(starts_at: datetime, now: datetime) -> datetime:
    """The departments' tasks are due the day before; an activity planned at short notice,
    by its start."""
    before = starts_at - PREPARE_BEFORE
    return before if before > now else starts_at


def reminder_at(starts_at: datetime, tz: tzinfo, now: datetime) -> datetime | None:
    """The day-before reminder at ten, local time; None when that moment has passed."""
    day = starts_at.astimezone(tz).date() - timedelta(days=1)
    at = datetime.combine(day, REMIND_AT, tzinfo=tz)
    return at if at > now else None
