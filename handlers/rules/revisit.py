"""When a finished repair is revisited (回访), by the office's rules.

Safety-facility repairs within 2 days; water-leak repairs within 3 days after the leak
test (试漏); every other repair within 2 days (DOMAIN.md §1). "Within" means done inside
the window, phone call included: the resident is asked early (the morning after the fix
has had a night to prove itself), and if they do not answer, the desk gets the phone
task with enough of the window left to call. A leak repair's test is itself due a day
after the work. The numbers are a policy, from the settings, with the seed's as defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from handlers.rules.quiet import release_time

LEAK_CATEGORIES = frozenset({"water"})


@dataclass(frozen=True)
class RevisitPolicy:
    safety_days: float = 2
    leak_days: float = 3  # counted from the leak test
    other_days: float = 2
    ask_at: time = time(10, 0)  # the resident is asked at this local time …
    settle_hours: float = 12  # … once the fix has had this long to prove itself
    answer_hours: float = 6  # the resident's time to answer before the desk phones
    call_hours: float = 8  # the desk gets at least this much of the window to call
    leak_test_hours: float = 24  # a leak repair is tested within this after the work
    quiet_start: time = time(22, 0)
    quiet_end: time = time(7, 0)


@dataclass(frozen=True)
class RevisitPlan:
    """When to ask the resident, when the desk phones instead, and the window's end."""

    ask_at: datetime
    phone_at: datetime
    deadline: datetime


def needs_leak_test(category: str) -> bool:
    return category in LEAK_CATEGORIES


def window_days(category: str, policy: RevisitPolicy) -> float:
    if needs_leak_test(category):
        return policy.leak_days
    if category == "safety":
        return policy.safety_days
    return policy.other_days


def _next_local(moment: datetime, at: time, tz: tzinfo) -> datetime:
    """The first `at` o'clock (local) at or after `moment`."""
    local = moment.astimezone(tz)
    found = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return found if found >= local else found + timedelta(days=1)


def plan(
    category: str,
    done_at: datetime,
    leak_test_at: datetime | None,
    policy: RevisitPolicy,
    tz: tzinfo,
) -> RevisitPlan | None:
    """The revisit of a repair finished at `done_at`; None while a leak repair still waits
    for its leak test (the window only starts then)."""
    if needs_leak_test(category) and leak_test_at is None:
        return None
    start = leak_test_at if needs_leak_test(category) and leak_test_at else done_at
    deadline = start + timedelta(days=window_days(category, policy))
    latest_ask = deadline - timedelta(hours=policy.call_hours + policy.answer_hours)
    awake = release_time(start, tz, policy.quiet_start, policy.quiet_end) or start
    candidates = (
        _next_local(start + timedelta(hours=policy.settle_hours), policy.ask_at, tz),
        _next_local(start, policy.ask_at, tz),  # a short window: this morning's hour
    )
    ask_at = next((c for c in candidates if c <= latest_ask), max(awake, start))
    phone_at = min(
        ask_at + timedelta(hours=policy.answer_hours),
        deadline - timedelta(hours=policy.call_hours),
    )
    return RevisitPlan(ask_at, max(phone_at, ask_at), deadline)


def leak_test_due(done_at: datetime, policy: RevisitPolicy) -> datetime:
    return done_at + timedelta(hours=policy.leak_test_hours)


def is_bad(satisfaction: int, fixed: bool) -> bool:
    """A revisit that sends the job back to the repair group as rework."""
    return not fixed or satisfaction <= 2
