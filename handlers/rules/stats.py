"""Figures for supervisors: periods, medians, rates and the roll-up of aggregate rows.

The queries (handlers/stats.py) return small aggregate rows — one per kind, status,
category and department — and these plain functions turn them into the figures a
supervisor reads in `/stats` and in the monthly workbook, so both always agree.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal

OPEN_STATUSES = ("new", "accepted", "in_progress")
# Every ticket event action `/ticket` names in words; others are shown as recorded.
HISTORY_ACTIONS = (
    "created",
    "accept",
    "handover",
    "transfer",
    "start",
    "done",
    "cannot",
    "cancel",
    "cancelled",
    "fixed",
    "not_fixed",
    "revisit_asked",
    "revisit_by_phone",
    "revisit_ok",
    "revisit_bad",
    "close",
    "closed",
    "leak_test",
    "urged",
    "note",
    "escalated",
    "answered",
    "contacted",
    "complaint_kind",
    "complaint_severity",
    "sent_to_owner",
    "sent_to_desk",
    "auto_approved",
    "owner_approved",
    "owner_denied",
    "desk_approved",
    "desk_denied",
    "used",
    "plan",
)


class PeriodError(ValueError):
    """A period that cannot be read (the supervisor is shown the forms that work)."""


@dataclass(frozen=True)
class Period:
    """Local days `first`..`last` (inclusive), as aware instants `[start, end)`."""

    first: date
    last: date
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        """`2026-11` for a whole month, else `2026-11-01..2026-11-15` (file names, audit)."""
        if is_month(self):
            return self.first.strftime("%Y-%m")
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


TODAY = frozenset({"today", "今天", "今日"})
WEEK = frozenset({"week", "本周", "这周"})
MONTH = frozenset({"", "month", "本月", "这个月"})
LAST_MONTH = frozenset({"lastmonth", "last", "上月", "上个月"})
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_RANGE = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2})(?:\.\.|~|至|到)(\d{4}-\d{1,2}-\d{1,2})$")
_DAY = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
MAX_DAYS = 400  # longer ranges are a typo, and would scan years of tickets


def month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def days_period(first: date, last: date, tz: tzinfo) -> Period:
    if last < first:
        raise PeriodError("end before start")
    if (last - first).days >= MAX_DAYS:
        raise PeriodError("too long")
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    return Period(first, last, start, end)


def month_period(year: int, month: int, tz: tzinfo) -> Period:
    if not (1 <= month <= 12 and 2000 <= year <= 2100):
        raise PeriodError("no such month")
    first = date(year, month, 1)
    return days_period(first, month_end(first), tz)


def _day(text: str) -> date:
    try:
        year, month, day = (int(part) for part in text.split("-"))
        return date(year, month, day)
    except ValueError:
        raise PeriodError(f"no such day {text}") from None


def parse_period(text: str, today: date, tz: tzinfo) -> Period:
    """`today`, `week` (since Monday), `month` (default), `2026-11`, `2026-11-01..2026-11-15`."""
    word = "".join(text.split()).lower()
    if word in TODAY:
        return days_period(today, today, tz)
    if word in WEEK:
        return days_period(today - timedelta(days=today.weekday()), today, tz)
    if word in MONTH:
        return month_period(today.year, today.month, tz)
    if word in LAST_MONTH:
        previous = today.replace(day=1) - timedelta(days=1)
        return month_period(previous.year, previous.month, tz)
    if found := _MONTH.match(word):
        return month_period(int(found[1]), int(found[2]), tz)
    if found := _RANGE.match(word):
        return days_period(_day(found[1]), _day(found[2]), tz)
    if _DAY.match(word):
        day = _day(word)
        return days_period(day, day, tz)
    raise PeriodError(f"unknown period {text!r}")


# ---- numbers -------------------------------------------------------------------------


def median(values: Sequence[float]) -> float | None:
    """The middle of sorted `values` (the mean of the two middle ones when even)."""
    if not values:
        return None
    middle = len(values) // 2
    if len(values) % 2:
        return float(values[middle])
    return (values[middle - 1] + values[middle]) / 2


def middle_offset(count: int) -> tuple[int, int]:
    """Where the median sits in `count` sorted values: (offset, how many to average)."""
    return (count - 1) // 2, 2 - count % 2


def to_minutes(seconds: float | None) -> int | None:
    if seconds is None:
        return None
    return int((Decimal(str(seconds)) / 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent(part: int, whole: int) -> Decimal | None:
    """`part` of `whole` in per cent with one decimal; None when there is nothing to rate."""
    if whole <= 0:
        return None
    return (Decimal(100 * part) / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def average(total: int, count: int) -> Decimal | None:
    if count <= 0:
        return None
    return (Decimal(total) / count).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def hours_minutes(minutes: int) -> tuple[int, int]:
    return divmod(minutes, 60)


def days_hours(seconds: float) -> tuple[int, int, int]:
    """A lateness as (days, hours, minutes), whole minutes rounded down."""
    whole = max(int(seconds // 60), 0)
    days, rest = divmod(whole, 24 * 60)
    hours, minutes = divmod(rest, 60)
    return days, hours, minutes


# ---- roll-up ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """One aggregate row: tickets of one kind, status, category and department."""

    kind: str
    status: str
    category: str
    department: str
    count: int
    finished: int = 0  # reached "done" at least once
    reopened: int = 0
    revisited: int = 0
    satisfaction_sum: int = 0
    overdue_open: int = 0
    finished_late: int = 0
    revisited_late: int = 0  # revisited after the window's end
    revisit_overdue: int = 0  # the window has ended and no revisit is recorded


@dataclass(frozen=True)
class Group:
    """Figures of one slice (a category, a department, or everything)."""

    count: int = 0
    open: int = 0
    finished: int = 0
    reopened: int = 0
    revisited: int = 0
    satisfaction_sum: int = 0
    overdue_open: int = 0
    finished_late: int = 0
    revisited_late: int = 0
    revisit_overdue: int = 0

    def add(self, bucket: Bucket) -> Group:
        return Group(
            count=self.count + bucket.count,
            open=self.open + (bucket.count if bucket.status in OPEN_STATUSES else 0),
            finished=self.finished + bucket.finished,
            reopened=self.reopened + bucket.reopened,
            revisited=self.revisited + bucket.revisited,
            satisfaction_sum=self.satisfaction_sum + bucket.satisfaction_sum,
            overdue_open=self.overdue_open + bucket.overdue_open,
            finished_late=self.finished_late + bucket.finished_late,
            revisited_late=self.revisited_late + bucket.revisited_late,
            revisit_overdue=self.revisit_overdue + bucket.revisit_overdue,
        )

    @property
    def revisits_owed(self) -> int:
        """Revisits that should be done by now: done (on time or late), or window over."""
        return self.revisited + self.revisit_overdue

    @property
    def revisit_rate(self) -> Decimal | None:
        """Revisits done within their window, of those owed by now (the seed asks 100 %);
        finished work whose window is still open is not counted yet."""
        return percent(self.revisited - self.revisited_late, self.revisits_owed)

    @property
    def revisits_pending(self) -> int:
        """Finished work whose revisit window is still open (or a leak awaiting its test)."""
        return max(self.finished - self.revisits_owed, 0)

    @property
    def satisfaction(self) -> Decimal | None:
        return average(self.satisfaction_sum, self.revisited)

    @property
    def reopen_rate(self) -> Decimal | None:
        return percent(self.reopened, self.finished)


def rollup(buckets: Iterable[Bucket], key: str, kind: str | None = None) -> dict[str, Group]:
    """Buckets summed by one of their fields (`category`, `department`), largest first."""
    groups: dict[str, Group] = defaultdict(Group)
    for bucket in buckets:
        if kind is None or bucket.kind == kind:
            name = getattr(bucket, key)
            groups[name] = groups[name].add(bucket)
    return dict(sorted(groups.items(), key=lambda item: (-item[1].count, item[0])))


@dataclass(frozen=True)
class Figures:
    """What `/stats` says and the workbook's summary sheet holds for a period."""

    total: int
    by_kind: dict[str, int]
    by_status: dict[str, int]
    by_category: dict[str, int]
    median_accept: int | None  # minutes, created → accepted
    median_finish: int | None  # minutes, created → done
    overdue_open: int
    finished_late: int
    finished: int  # tickets of every kind that reached done
    repairs_finished: int
    revisited: int
    revisit_rate: Decimal | None  # within the window, of those owed by now
    revisits_owed: int
    revisits_pending: int  # window still open
    revisited_late: int  # done after the window's end
    revisit_overdue: int  # window ended, none done
    satisfaction: Decimal | None
    reopened: int
    reopen_rate: Decimal | None
    categories: dict[str, Group] = field(default_factory=dict)
    departments: dict[str, Group] = field(default_factory=dict)


def _counts(buckets: Iterable[Bucket], key: str, kind: str | None = None) -> dict[str, int]:
    return {name: group.count for name, group in rollup(buckets, key, kind).items()}


def summarize(
    buckets: Sequence[Bucket], accept_seconds: float | None, finish_seconds: float | None
) -> Figures:
    everything = Group()
    for bucket in buckets:
        everything = everything.add(bucket)
    repairs = Group()
    for bucket in buckets:
        if bucket.kind == "repair":
            repairs = repairs.add(bucket)
    return Figures(
        total=everything.count,
        by_kind=_counts(buckets, "kind"),
        by_status=_counts(buckets, "status"),
        by_category=_counts(buckets, "category", kind="repair"),
        median_accept=to_minutes(accept_seconds),
        median_finish=to_minutes(finish_seconds),
        overdue_open=everything.overdue_open,
        finished_late=everything.finished_late,
        finished=everything.finished,
        repairs_finished=repairs.finished,
        revisited=repairs.revisited,
        revisit_rate=repairs.revisit_rate,
        revisits_owed=repairs.revisits_owed,
        revisits_pending=repairs.revisits_pending,
        revisited_late=repairs.revisited_late,
        revisit_overdue=repairs.revisit_overdue,
        satisfaction=repairs.satisfaction,
        reopened=everything.reopened,
        reopen_rate=everything.reopen_rate,
        categories=rollup(buckets, "category", kind="repair"),
        departments=rollup(buckets, "department"),
    )


_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9]{1,15}$")
PERIOD_WORDS = TODAY | WEEK | MONTH | LAST_MONTH


def is_community_code(word: str) -> bool:
    """A community code (`XFL`) as opposed to a period word (`month`) or a date."""
    return bool(_CODE.match(word)) and word.lower() not in PERIOD_WORDS


def is_month(period: Period) -> bool:
    return period.first.day == 1 and period.last == month_end(period.first)
