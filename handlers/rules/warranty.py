"""Free or paid (有偿服务): decided by what is broken and whether it is under warranty."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

CATEGORIES = ("water", "electrical", "gas", "doors", "public", "lift", "safety", "other")
# Shared parts of the community are the property office's to keep up: never charged.
COMMON_CATEGORIES = frozenset({"public", "lift", "safety"})


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    days_in = [
        31,
        29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return date(year, month, min(day.day, days_in))


def warranty_end(handover: date | None, category: str, months: Mapping[str, int]) -> date | None:
    """The last day a unit's repairs of this category are covered, or None if unknown."""
    if handover is None:
        return None
    return add_months(handover, months.get(category, 0))


def is_paid(
    *,
    category: str,
    common_area: bool,
    handover: date | None,
    today: date,
    months: Mapping[str, int],
) -> bool:
    """A repair inside a unit after its warranty is paid; common areas are always free.

    With no handover date on record nothing is charged: staff may still mark it paid.
    """
    if common_area or category in COMMON_CATEGORIES:
        return False
    end = warranty_end(handover, category, months)
    return end is not None and today > end
