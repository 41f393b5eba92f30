"""The daily inspection round's rules (日常巡查): the areas a round looks at and the
department answerable for each, the seed's default checklist, a checklist as managers type
it, where a round stands, and when a nonconformity slip (不合格单) must be answered.

Plain functions over data: the caller gives the area and department names (from the
catalogs) and the time; nothing here reads the store or the clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

# The seed's round (楼宇的日常巡查): hygiene, the common facilities, the notice board, the
# security's patrol sheets and log book; greening is looked after the same way.
AREAS = ("hygiene", "facilities", "notice_board", "patrol_logs", "greening")
DEPARTMENT_OF = {
    "hygiene": "cleaning",
    "facilities": "repair",
    "notice_board": "service",
    "patrol_logs": "security",
    "greening": "greening",
}
DEPARTMENTS = ("repair", "security", "cleaning", "greening", "service")

# The default checklist when a community has none of its own: (area, catalog key of the item).
DEFAULT = (
    ("hygiene", "inspect.default.lobby"),
    ("hygiene", "inspect.default.stairs"),
    ("hygiene", "inspect.default.bins"),
    ("facilities", "inspect.default.lifts"),
    ("facilities", "inspect.default.lights"),
    ("facilities", "inspect.default.fire"),
    ("notice_board", "inspect.default.board"),
    ("patrol_logs", "inspect.default.patrol_sheet"),
    ("patrol_logs", "inspect.default.logbook"),
    ("greening", "inspect.default.plants"),
)

# Once a community has begun doing rounds, the desk is reminded at this local time on a day
# with none yet (the office's afternoon: a round still fits in the working day).
REMIND_AT = time(15, 0)

MOST_ITEMS = 60
ITEM_LENGTH = 100
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


class ChecklistError(Exception):
    """A checklist as typed that cannot be kept; `reason` names the catalog's explanation
    (`inspect.checklist.error.<reason>`), `line` the line at fault (1-based), if any."""

    def __init__(self, reason: str, line: int = 0, text: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.text = text


def item(area: str, text: str, department: str | None = None) -> dict[str, str]:
    return {"area": area, "item": text, "department": department or DEPARTMENT_OF[area]}


SEPARATORS = re.compile(r"\s*[|｜]\s*")


def read_checklist(
    text: str, areas: Mapping[str, str], departments: Mapping[str, str]
) -> list[dict[str, str]]:
    """A checklist typed one item a line, `区域 | 检查项目 [| 责任部门]`: `areas` and
    `departments` map each name people may type (lower case, either language) to its
    value. Blank lines are skipped; the department defaults to the area's own."""
    found: list[dict[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = SEPARATORS.split(line)
        if len(parts) not in (2, 3) or not parts[1]:
            raise ChecklistError("shape", number, line[:40])
        area = areas.get(parts[0].strip().lower())
        if area is None:
            raise ChecklistError("area", number, parts[0][:20])
        department = DEPARTMENT_OF[area]
        if len(parts) == 3 and parts[2]:
            named = departments.get(parts[2].strip().lower())
            if named is None:
                raise ChecklistError("department", number, parts[2][:20])
            department = named
        if len(parts[1]) > ITEM_LENGTH:
            raise ChecklistError("long", number, parts[1][:40])
        found.append(item(area, parts[1], department))
    if not found:
        raise ChecklistError("empty")
    if len(found) > MOST_ITEMS:
        raise ChecklistError("many", len(found))
    return found


def checklist_lines(
    items: Sequence[Mapping[str, Any]],
    area_name: Mapping[str, str],
    department_name: Mapping[str, str],
) -> str:
    """The checklist as the editor shows it (what `read_checklist` reads back)."""
    lines = []
    for one in items:
        area = str(one.get("area", ""))
        department = str(one.get("department") or DEPARTMENT_OF.get(area, ""))
        parts = [area_name.get(area, area), str(one.get("item", ""))]
        if department != DEPARTMENT_OF.get(area):
            parts.append(department_name.get(department, department))
        lines.append(" | ".join(parts))
    return "\n".join(lines)


@dataclass(frozen=True)
class Standing:
    """Where a round stands: how many items passed, failed, were left unchecked, and the
    next item to look at (None once every item has an outcome)."""

    passed: int
    failed: int
    unchecked: int
    next_index: int | None


def standing(items: Sequence[Any], results: Sequence[Mapping[str, Any]]) -> Standing:
    outcome = {int(r["index"]): r.get("result") for r in results}
    passed = sum(1 for r in outcome.values() if r == PASSED)
    failed = sum(1 for r in outcome.values() if r == FAILED)
    left = [i for i in range(len(items)) if i not in outcome]
    return Standing(passed, failed, len(left), left[0] if left else None)


def slip_due(now: datetime, hours: int) -> datetime:
    """When a slip (or a reopened one) must be answered: `inspection_slip_hours` from now."""
    return now + timedelta(hours=hours)


def next_reminder(now: datetime, tz: tzinfo) -> datetime:
    """The next `REMIND_AT`, local time, after `now`."""
    local = now.astimezone(tz)
    due = local.replace(hour=REMIND_AT.hour, minute=REMIND_AT.minute, second=0, microsecond=0)
    return due if due > local else due + timedelta(days=1)
