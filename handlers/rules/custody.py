"""Custody of an empty flat (房屋托管): its fee, its meters' limits, its patrols, its keys.

The seed: the management fee is 70 % of the full fee for the custody months; during
custody a month uses at most 5 units of water and 20 of electricity (more is an alarm:
a leak, a tap left running, someone inside); an outside patrol every week and before and
after heavy rain. A month counts as a custody month when custody covers any day of it,
so the start's month and the end's month are both charged at the custody rate and the
months after the end at the full rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")

# What an outside patrol looks at, in order (the checklist's items).
CHECKLIST = ("doors_windows", "leaks", "smell", "meters", "outside")

# Why a patrol is made: the weekly round, or before and after heavy rain.
WEEKLY, RAIN_BEFORE, RAIN_AFTER = "weekly", "rain_before", "rain_after"


@dataclass(frozen=True)
class CustodyPolicy:
    fee_rate: Decimal = Decimal("0.70")
    water_limit: Decimal = Decimal("5")
    power_limit: Decimal = Decimal("20")
    patrol_days: int = 7


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def in_custody(month: str, starts: date, ends: date | None) -> bool:
    """Whether `month` ("2026-12") is a custody month of a custody from `starts` to `ends`
    (open-ended while `ends` is None)."""
    return month_of(starts) <= month and (ends is None or month <= month_of(ends))


def custody_management(full: Decimal, rate: Decimal) -> Decimal:
    """The month's management charge in custody: the full one at `rate`, to the fen."""
    return (full * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def over_limit(meter: str, used: Decimal, policy: CustodyPolicy) -> bool:
    """More used in a month than an empty flat should: water and electricity only."""
    limit = {"water": policy.water_limit, "power": policy.power_limit}.get(meter)
    return limit is not None and used > limit


def next_patrol(last: datetime, now: datetime, policy: CustodyPolicy) -> datetime:
    """The next patrol after the one due at `last`: a week on, and after `now` (a worker
    that was down does not make up the missed weeks at once)."""
    due = last + timedelta(days=policy.patrol_days)
    while due <= now:
        due += timedelta(days=policy.patrol_days)
    return due


def first_of_next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


_KEY = re.compile(r"^(?P<label>.*?)\s*[x×*]?\s*(?P<count>[0-9０-９]+)\s*(?:把|枚|个|keys?)?$")
_KEY_SPLIT = re.compile(r"[,，、;；\n]+")


class KeysError(ValueError):
    """Keys that cannot be read: `reason` is "empty" or "count" (1 to 20 of each, at most
    10 kinds)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_keys(text: str) -> list[tuple[str, int]]:
    """Keys as typed: `大门钥匙2把，信箱钥匙1把` → [("大门钥匙", 2), ("信箱钥匙", 1)]; a
    label without a count is one key."""
    found: list[tuple[str, int]] = []
    for part in _KEY_SPLIT.split(text):
        part = part.strip()
        if not part:
            continue
        match = _KEY.match(part)
        if match and match["label"].strip():
            count = int(
                match["count"].translate(str.maketrans("０１２３４５６７８９", "0123456789"))
            )
            found.append((match["label"].strip()[:100], count))
        else:
            found.append((part[:100], 1))
    if not found:
        raise KeysError("empty")
    if len(found) > 10 or any(count < 1 or count > 20 for _, count in found):
        raise KeysError("count")
    return found
