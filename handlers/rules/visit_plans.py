"""The supervisor's visit plan (走访计划), by the office's rules: which units a plan names as
people type them, over which days, when each visit is due, and how far the plan has got.

A plan names units one by one (`2-1-802`, `3栋2单元1201`), several at once (separated by
commas, 、 or spaces) or a whole building (`3栋`); the days are one day (`12月3日`,
`明天`) or a range (`12月1日至12月5日`). Each visit is due at the end of the plan's last
day. Plain functions: the caller gives today and the time zone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from handlers.rules import units
from handlers.rules.dates import read_day

MOST_UNITS = 200  # visits one plan may hold (a whole building of a large estate)
LONGEST_DAYS = 62  # a plan spans at most about two months
DUE_AT = time(23, 59)  # a visit is due by the end of its day

_CHUNKS = re.compile(r"[，,、；;\n]+")
_RANGE = re.compile(r"\s*(?:至|到|~|～|—|–|--)\s*")
_BUILDING_ONLY = re.compile(r"^([0-9]{1,3}|[A-Z]{1,2}[0-9]{0,2})(?:号楼|栋|幢|座|楼|#)$")


@dataclass(frozen=True)
class Target:
    """One thing a plan names: a unit as typed, or a whole building (its number)."""

    text: str
    building: str | None = None  # set when the whole building is meant

    @property
    def whole_building(self) -> bool:
        return self.building is not None


def building_of(text: str) -> str | None:
    """`3栋`, `3号楼`, `３幢` → `3`; None when the text is not a building alone."""
    found = _BUILDING_ONLY.match(units.fold(text))
    if found is None:
        return None
    part = found.group(1)
    return str(int(part)) if part.isdigit() else part


def read_targets(text: str) -> list[Target]:
    """The units and buildings a typed line names, in order, each once. A chunk between
    commas that reads as one unit (`2栋1单元 802`) is one; else its words are read apart."""
    found: list[Target] = []
    for chunk in _CHUNKS.split(unicodedata.normalize("NFKC", text)):
        chunk = chunk.strip()
        if not chunk:
            continue
        pieces = [chunk] if _one(chunk) else chunk.split()
        for piece in pieces:
            building = building_of(piece)
            target = Target(piece, building) if building is not None else Target(piece)
            if target not in found:
                found.append(target)
    return found


def _one(chunk: str) -> bool:
    return " " not in chunk or units.parse(chunk) is not None or building_of(chunk) is not None


class WindowError(ValueError):
    """Days a plan cannot take; `reason` names the polite explanation."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_window(text: str, today: date) -> tuple[date, date]:
    """The first and last day of the visits: one day, or a range `A至B`. Raises
    `WindowError` ("unclear", "past", "backwards", "too_long")."""
    parts = [p for p in _RANGE.split(text.strip(), maxsplit=1) if p.strip()]
    if not parts:
        raise WindowError("unclear")
    first = read_day(parts[0], today)
    last = read_day(parts[1], today) if len(parts) > 1 else first
    if first is None or last is None:
        raise WindowError("unclear")
    if first < today:
        raise WindowError("past")
    if last < first:
        raise WindowError("backwards")
    if (last - first).days > LONGEST_DAYS:
        raise WindowError("too_long")
    return first, last


def visit_due(last: date, tz: tzinfo) -> datetime:
    """When a visit of a plan ending on `last` is due: the end of that day, local time."""
    return datetime.combine(last, DUE_AT, tzinfo=tz)


@dataclass(frozen=True)
class Progress:
    """How far a plan has got: visits done (and of those, after their day), still due,
    and late (past their day, not done)."""

    total: int
    done: int
    done_late: int
    due: int
    late: int
    closed: int = 0  # cancelled or not possible: no longer to do

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.done + self.closed == self.total


OPEN = frozenset({"new", "accepted", "in_progress"})
DONE = frozenset({"done", "closed", "revisit"})


def progress(
    visits: Iterable[tuple[str, datetime | None, datetime | None]], now: datetime
) -> Progress:
    """Each visit as (status, due_at, done_at)."""
    total = done = done_late = due = late = closed = 0
    for status, due_at, done_at in visits:
        total += 1
        if status in DONE:
            done += 1
            if due_at is not None and done_at is not None and done_at > due_at:
                done_late += 1
        elif status in OPEN:
            if due_at is not None and now > due_at:
                late += 1
            else:
                due += 1
        else:
            closed += 1
    return Progress(total, done, done_late, due, late, closed)


def followup_due(now: datetime, hours: float = 48) -> datetime:
    """A follow-up found on a visit is due two days later, like other repairs."""
    return now + timedelta(hours=hours)
