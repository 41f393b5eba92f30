"""Deadlines and escalation: a warning before, then the group, the supervisor, the director.

A warning goes to the assignee some hours before the deadline; at the deadline the
department's group is told; if still open later, the supervisor; later still, the
director. Each step is sent once; a ticket that is finished stops climbing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

STEPS = ("warning", "group", "supervisor", "director")


@dataclass(frozen=True)
class Ladder:
    """How far before and after a deadline each step comes, in hours."""

    warning: float = 2
    supervisor: float = 4
    director: float = 20

    def times(self, created_at: datetime, due_at: datetime) -> dict[str, datetime]:
        # A warning never comes before the work could reasonably start: at most
        # a quarter of the whole window ahead of the deadline.
        window = due_at - created_at
        lead = min(timedelta(hours=self.warning), window / 4)
        supervisor = due_at + timedelta(hours=self.supervisor)
        return {
            "warning": due_at - lead,
            "group": due_at,
            "supervisor": supervisor,
            "director": supervisor + timedelta(hours=self.director),
        }


def steps_due(
    ladder: Ladder, created_at: datetime, due_at: datetime, now: datetime, sent: Collection[str]
) -> list[str]:
    """The steps that have come by `now` and were not sent yet, in order."""
    times = ladder.times(created_at, due_at)
    return [step for step in STEPS if step not in sent and times[step] <= now]


def worth_sending(steps: list[str]) -> list[str]:
    """Of the steps that came together (after downtime), the ones still worth saying: a
    warning that the deadline is near is moot once the group hears it has passed."""
    if "group" in steps:
        return [step for step in steps if step != "warning"]
    return steps


def reopened_due(start: datetime, due_at: datetime, now: datetime) -> datetime:
    """A reopened job's new deadline: as long from the reopening as it first had."""
    return now + (due_at - start)


def target_due(created_at: datetime, hours: float | None) -> datetime | None:
    """A ticket's deadline from a target in hours; None where no target is set."""
    if hours is None:
        return None
    return created_at + timedelta(hours=hours)
