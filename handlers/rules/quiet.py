"""Quiet hours: non-urgent pushes wait until the morning; urgent ones go at once."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # spans midnight, e.g. 22:00-07:00


def release_time(now: datetime, tz: tzinfo, start: time, end: time) -> datetime | None:
    """When a push made at `now` may go out; None if it may go now."""
    local = now.astimezone(tz)
    if not in_quiet_hours(local.time(), start, end):
        return None
    release = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if release <= local:
        release += timedelta(days=1)
    return release
