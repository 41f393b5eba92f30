"""The month-end analysis (月度回访小结与问题分析), by the office's rules: the month's revisit
summary and the recurring problems ("对类似问题出现较多的，写成统计分析报告").

Plain functions over plain data: the caller reads the month's requests, revisits and
planned visits from the store and gives them here with the policy and the time zone.
A recurring problem is one of:

- the same unit with `unit_repeat` (2) or more repairs of the same category;
- the same building with `building_repeat` (3) or more repairs of the same category;
- a request reopened (sent back as not fixed, or after a bad revisit);
- a complaint theme: complaints of the same kind, or naming the same theme (noise,
  parking, leaks, …: word lists the caller gives), `theme_repeat` (2) or more times.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

REVIEW_AT = time(8, 0)  # the review is made on the 1st at this local time


@dataclass(frozen=True)
class ReviewPolicy:
    unit_repeat: int = 2
    building_repeat: int = 3
    theme_repeat: int = 2
    satisfied_score: int = 4  # a revisit scored this or more counts as satisfied
    top: int = 5  # findings named in the chat message (all are in the file and page)


@dataclass(frozen=True)
class Case:
    """A repair or complaint of the month."""

    number: str
    kind: str  # repair, complaint
    unit: str  # the unit's label, "" for a common area
    building: str  # the building's name, "" when unknown
    category: str
    text: str = ""
    complaint_kind: str = ""


@dataclass(frozen=True)
class Revisit:
    """A revisit recorded in the month."""

    number: str
    by: str  # resident, phone
    satisfaction: int
    fixed: bool
    late: bool


@dataclass(frozen=True)
class Visit:
    """A planned visit (走访) due in the month."""

    number: str
    done: bool
    late: bool  # done after its day, or still not done past it
    outcome: str = ""  # satisfied, unsatisfied, follow_up


# ---- when ---------------------------------------------------------------------------------


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def previous_month(moment: datetime, tz: tzinfo) -> str:
    """The month that ended before `moment` (local): on 1 December, "2026-11"."""
    first = moment.astimezone(tz).date().replace(day=1)
    return month_label(first - timedelta(days=1))


def month_bounds(month: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """The local start of `month` and of the month after it."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=tz)
    after = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return start, after


def next_review(now: datetime, tz: tzinfo) -> datetime:
    """The next review time: the 1st of the coming month at `REVIEW_AT` (today's, if it is
    the 1st and the hour has not come)."""
    local = now.astimezone(tz)
    this = datetime.combine(local.date().replace(day=1), REVIEW_AT, tzinfo=tz)
    if this > local:
        return this
    _, after = month_bounds(month_label(local.date()), tz)
    return datetime.combine(after.date(), REVIEW_AT, tzinfo=tz)


# ---- the summary --------------------------------------------------------------------------


def revisit_summary(
    revisits: Sequence[Revisit], unanswered: int, visits: Sequence[Visit], policy: ReviewPolicy
) -> dict[str, int]:
    """The month's revisits and planned visits in numbers."""
    return {
        "revisits": len(revisits),
        "on_time": sum(1 for r in revisits if not r.late),
        "satisfied": sum(
            1 for r in revisits if r.fixed and r.satisfaction >= policy.satisfied_score
        ),
        "by_phone": sum(1 for r in revisits if r.by == "phone"),
        "by_resident": sum(1 for r in revisits if r.by != "phone"),
        "unanswered": unanswered,
        "visits": len(visits),
        "visits_done": sum(1 for v in visits if v.done),
        "visits_late": sum(1 for v in visits if v.late),
        "visits_satisfied": sum(1 for v in visits if v.outcome == "satisfied"),
        "visits_follow_up": sum(1 for v in visits if v.outcome == "follow_up"),
    }


# ---- recurring problems -------------------------------------------------------------------


def _finding(kind: str, where: str, what: str, numbers: Iterable[str]) -> dict[str, Any]:
    listed = sorted(set(numbers))
    return {"kind": kind, "where": where, "what": what, "count": len(listed), "tickets": listed}


def recurring(
    cases: Sequence[Case],
    reopened: Mapping[str, int],
    themes: Mapping[str, set[str]],
    policy: ReviewPolicy,
) -> list[dict[str, Any]]:
    """The month's recurring problems, most repeated first. `reopened` is each reopened
    request's number and how often it was reopened in the month; `themes` each complaint
    theme's words (lower case)."""
    found: list[dict[str, Any]] = []
    repairs = [c for c in cases if c.kind == "repair" and c.category]
    by_unit: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_building: dict[tuple[str, str], list[str]] = defaultdict(list)
    for case in repairs:
        if case.unit:
            by_unit[(case.unit, case.category)].append(case.number)
        if case.building:
            by_building[(case.building, case.category)].append(case.number)
    found += [
        _finding("unit", unit, category, numbers)
        for (unit, category), numbers in by_unit.items()
        if len(numbers) >= policy.unit_repeat
    ]
    found += [
        _finding("building", building, category, numbers)
        for (building, category), numbers in by_building.items()
        if len(numbers) >= policy.building_repeat
    ]
    found += [
        {**_finding("reopened", "", "", [number]), "count": count}
        for number, count in reopened.items()
        if count > 0
    ]
    complaints = [c for c in cases if c.kind == "complaint"]
    by_kind: dict[str, list[str]] = defaultdict(list)
    for case in complaints:
        if case.complaint_kind:
            by_kind[case.complaint_kind].append(case.number)
    found += [
        _finding("complaint_kind", "", kind, numbers)
        for kind, numbers in by_kind.items()
        if len(numbers) >= policy.theme_repeat
    ]
    for theme, words in themes.items():
        numbers = [c.number for c in complaints if any(w in c.text.lower() for w in words)]
        if len(numbers) >= policy.theme_repeat:
            found.append(_finding("theme", "", theme, numbers))
    order = {"unit": 0, "building": 1, "theme": 2, "complaint_kind": 3, "reopened": 4}
    return sorted(found, key=lambda f: (-f["count"], order[f["kind"]], f["where"], f["what"]))
