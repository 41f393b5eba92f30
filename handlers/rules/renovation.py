"""Renovation rules: the permitted working hours, what may be approved, and whether a
worker's temporary pass lets its holder in at a given moment.

Hours are written as the office says them, `08:00-12:00,14:00-18:00` (a community may
keep its own). A change to the main structure or a marked increase in load is approved
only with the housing authority's approval document (seed 第一篇 三.2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-~–～至到]\s*(\d{1,2}):(\d{2})\s*$")

Hours = tuple[tuple[time, time], ...]

# Why a pass is refused at the gate (`gate_refusal`), as catalog key suffixes.
NOT_YET = "not_yet"  # before its first day
EXPIRED = "expired"  # after its last day
OUT_OF_HOURS = "out_of_hours"
NOT_ACTIVE = "not_active"  # revoked, or the renovation is no longer approved


def parse_hours(text: str) -> Hours:
    """`08:00-12:00,14:00-18:00` → the spans, each start before its end; ValueError else."""
    spans = []
    for part in re.split(r"[,，;；]", text):
        if not part.strip():
            continue
        found = _SPAN.match(part)
        if not found:
            raise ValueError(f"not a span of hours: {part.strip()!r}")
        h1, m1, h2, m2 = (int(g) for g in found.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"not a time of day: {part.strip()!r}")
        start = time(h1, m1)
        end = time(23, 59, 59) if h2 == 24 else time(h2, m2)
        if end <= start:
            raise ValueError(f"ends before it starts: {part.strip()!r}")
        spans.append((start, end))
    if not spans:
        raise ValueError("no hours given")
    return tuple(sorted(spans))


def within_hours(hours: Hours, moment: time) -> bool:
    return any(start <= moment < end for start, end in hours)


@dataclass(frozen=True)
class Plan:
    """What the reviewers look at to decide whether a plan may be approved."""

    structural: bool
    load_increase: bool
    has_authority_approval: bool


def approval_blocked(plan: Plan) -> str | None:
    """Why the plan cannot be approved yet, or None: structure or load without the
    authority's document."""
    if (plan.structural or plan.load_increase) and not plan.has_authority_approval:
        return "needs_authority_approval"
    return None


def gate_refusal(
    *, active: bool, valid_from: date, valid_to: date, hours: Hours, local_now: datetime
) -> str | None:
    """Why a worker's pass does not let its holder in now (local time), or None."""
    if not active:
        return NOT_ACTIVE
    today = local_now.date()
    if today < valid_from:
        return NOT_YET
    if today > valid_to:
        return EXPIRED
    if not within_hours(hours, local_now.time()):
        return OUT_OF_HOURS
    return None
