"""Meter readings: what a reading may be, and how much was used between two.

A meter only counts up, so a reading below the previous one for the same meter is a
mistake (a digit dropped, the wrong meter) and is refused. Readings are `Decimal`
read from what people type (`1234.5`, `１２３４`, `1,234 度`).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

METERS = ("water", "power", "gas")

_WIDE = str.maketrans("０１２３４５６７８９．，", "0123456789.,")
_UNIT = re.compile(r"\s*(?:度|吨|方|m3|m³|kwh|units?)$", re.IGNORECASE)
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?", re.ASCII)
MAX_READING = Decimal("9999999.99")


class ReadingError(ValueError):
    """`reason`: "not_a_number" or "below_previous" (then `previous` is the figure)."""

    def __init__(self, reason: str, previous: Decimal | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.previous = previous


def parse_reading(text: str) -> Decimal:
    """A meter's figure as typed; at most two decimals, never negative."""
    cleaned = _UNIT.sub("", text.strip().translate(_WIDE)).replace(",", "").strip()
    if not _NUMBER.fullmatch(cleaned):
        raise ReadingError("not_a_number")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise ReadingError("not_a_number") from exc
    if value > MAX_READING:
        raise ReadingError("not_a_number")
    return value


def check_reading(value: Decimal, previous: Decimal | None) -> Decimal:
    """`value`, unless it is below the meter's previous reading."""
    if previous is not None and value < previous:
        raise ReadingError("below_previous", previous)
    return value


def used(previous: Decimal | None, current: Decimal) -> Decimal:
    """Units used since the previous reading (nothing known before: nothing used)."""
    return Decimal("0") if previous is None else current - previous
