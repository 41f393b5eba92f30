"""When a finished repair is revisited (回访), by the office's rules.

Safety-facility repairs within 2 days; water-leak repairs within 3 days after the leak
test (试漏); every other repair within 2 days. Every finished repair gets one revisit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

SAFETY_DAYS = 2
LEAK_DAYS_AFTER_TEST = 3
OTHER_DAYS = 2
LEAK_CATEGORIES = frozenset({"water"})


def needs_leak_test(category: str) -> bool:
    return category in LEAK_CATEGORIES


def revisit_due(category: str, done_at: datetime, leak_test_at: datetime | None) -> datetime | None:
    """When the revisit is due; None while a leak repair still waits for its leak test."""
    if needs_leak_test(category):
        if leak_test_at is None:
            return None
        return leak_test_at + timedelta(days=LEAK_DAYS_AFTER_TEST)
    if category == "safety":
        return done_at + timedelta(days=SAFETY_DAYS)
    return done_at + timedelta(days=OTHER_DAYS)


def is_bad(satisfaction: int, fixed: bool) -> bool:
    """A revisit that sends the job back to the repair group as rework."""
    return not fixed or satisfaction <= 2
