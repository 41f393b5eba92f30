"""Emergencies raised by staff (突发事件): which departments each kind calls out, whether
residents are told urgently by default, the steps of an incident's timeline, and when an
incident nobody has marked controlled reminds the duty supervisor again, then the director.

Plain data and functions over the time: the store and the clock stay with the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

FIRE, FLOOD, LIFT, GAS, POWER, SECURITY, INJURY = (
    "fire",
    "flood",
    "lift",
    "gas",
    "power",
    "security",
    "injury",
)
KINDS = (FIRE, FLOOD, LIFT, GAS, POWER, SECURITY, INJURY)

# The department groups each kind needs at once (the duty supervisor and the director
# always hear of it): fire, gas and security are the guards'; water, lifts and power need
# the repair technicians and the guards; an injury the guards and the desk (calls, family).
DEPARTMENTS: dict[str, tuple[str, ...]] = {
    FIRE: ("security",),
    GAS: ("security",),
    SECURITY: ("security",),
    FLOOD: ("repair", "security"),
    LIFT: ("repair", "security"),
    POWER: ("repair", "security"),
    INJURY: ("security", "service"),
}

# Residents must act now (leave, keep off the lift, turn off the water): their notice goes
# out at once, quiet hours or not, unless the office chooses otherwise.
URGENT_FOR_RESIDENTS = frozenset({FIRE, GAS, FLOOD, LIFT})

# The steps of a timeline, in the order they usually come.
RAISED, TAKEN, ARRIVED, PROGRESS, CONTROLLED, RESIDENTS, REMINDED, CLOSED = (
    "raised",
    "taken",
    "arrived",
    "progress",
    "controlled",
    "residents",
    "reminded",
    "closed",
)
STEPS = (RAISED, TAKEN, ARRIVED, PROGRESS, CONTROLLED, RESIDENTS, REMINDED, CLOSED)

# Who an uncontrolled incident reminds, in order.
SUPERVISOR, DIRECTOR = "supervisor", "director"
REMINDERS = (SUPERVISOR, DIRECTOR)

# The parts of the closing report, each a line the office writes.
REPORT_PARTS = ("happened", "cause", "actions", "losses")


@dataclass(frozen=True)
class IncidentPolicy:
    """Minutes after raising with nobody marking it controlled: the duty supervisor is
    reminded, then (as many minutes later again) the director."""

    remind_minutes: int = 30
    director_minutes: int = 60


def departments_for(kind: str) -> tuple[str, ...]:
    return DEPARTMENTS.get(kind, ("security",))


def residents_urgent(kind: str) -> bool:
    """Whether the residents' notice goes out at once by default."""
    return kind in URGENT_FOR_RESIDENTS


def reminders_due(
    raised_at: datetime, now: datetime, sent: set[str], policy: IncidentPolicy
) -> list[str]:
    """The reminders that have come and were not sent yet, in order; each is sent once."""
    due = {
        SUPERVISOR: raised_at + timedelta(minutes=policy.remind_minutes),
        DIRECTOR: raised_at + timedelta(minutes=policy.director_minutes),
    }
    return [who for who in REMINDERS if who not in sent and now >= due[who]]


def age_minutes(raised_at: datetime, now: datetime) -> int:
    return max(0, int((now - raised_at).total_seconds() // 60))


def missing_report_parts(parts: dict[str, str]) -> list[str]:
    """The report's parts left empty (losses may be a single word: 无)."""
    return [
        name
        for name in REPORT_PARTS
        if len((parts.get(name) or "").strip()) < (1 if name == "losses" else 2)
    ]
