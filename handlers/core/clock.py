"""Clocks: rules and handlers ask a clock for the time, never the wall directly."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class MovableClock(Clock, Protocol):
    """A clock that can be moved forward (tests, the demo's history, the console's `/clock`)."""

    def advance(self, **delta: float) -> datetime: ...


class SystemClock:
    """The real time, timezone-aware in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock the tests move by hand: `clock.advance(days=2)`."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


class OffsetClock:
    """Another clock (the real time by default) moved forward by an offset.

    For a demo or a trial in the console: `/clock +2d` makes it two days later, and the
    time keeps running from there. It only moves forward, so nothing that already
    happened ends up in the future.
    """

    def __init__(self, base: Clock | None = None, offset: timedelta = timedelta()) -> None:
        if offset < timedelta():
            raise ValueError("an offset clock only runs ahead")
        self.base = base or SystemClock()
        self.offset = offset

    def now(self) -> datetime:
        return self.base.now() + self.offset

    def advance(self, **delta: float) -> datetime:
        shift = timedelta(**delta)
        if shift < timedelta():
            raise ValueError("an offset clock only moves forward")
        self.offset += shift
        return self.now()


SHIFT_MAX = timedelta(days=366)
_SHIFT = re.compile(r"(\d+)\s*([wdhm])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_shift(text: str) -> timedelta | None:
    """`+2d`, `3h`, `+1d12h`, `90m`, `+1w` as a forward shift; None when it is not one."""
    words = text.strip().lower().replace(" ", "")
    if words.startswith("+"):
        words = words[1:]
    if not words or _SHIFT.sub("", words):
        return None  # empty, negative, or something that is not number+unit
    shift = timedelta()
    for amount, unit in _SHIFT.findall(words):
        shift += timedelta(**{_UNITS[unit]: int(amount)})
    if not timedelta() < shift <= SHIFT_MAX:
        return None
    return shift


async def move_forward(
    clock: MovableClock,
    by: timedelta,
    tick: Callable[[], Awaitable[object]],
    step: timedelta = timedelta(hours=1),
) -> None:
    """Move `clock` forward by `by` a step at a time, calling `tick` (a round of the
    workers) after each step, so what falls due on the way happens in order and on time
    (a revisit asked, then the desk's phone task a day later) rather than all at once."""
    left = by
    while left > timedelta():
        stride = min(step, left)
        clock.advance(seconds=stride.total_seconds())
        left -= stride
        await tick()
