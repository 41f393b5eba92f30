"""Complaints (投诉): proposed kind and severity, urgency, deadlines, and the resident's own date.

The office's rules (DOMAIN.md section 2): a *major* complaint reaches the office director
the same day, the resident gets a clear answer within 2 days and it is solved within 10;
an *important* one reaches the department supervisor within 1 hour and is solved within 3
days; a *minor* one is solved within 2 days or by the resident's own deadline. Damage still
happening (a burst pipe, smoke, gas) is urgent: it is pushed at once. The numbers are a
policy (`ComplaintPolicy`), the seed's by default, which the settings or a community change.

The keyword lists live in the catalogs (both languages); they are passed in, so these stay
plain functions over data.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import NamedTuple

KINDS = ("valid", "help_seeking", "inquiry", "venting")
SEVERITIES = ("major", "important", "minor")
DEPARTMENTS = ("repair", "security", "cleaning", "greening", "service")
DEFAULT_DEPARTMENT = "service"

# A resident's own deadline further away than this is almost surely a typo.
OWN_DEADLINE_MAX = timedelta(days=366)


@dataclass(frozen=True)
class ComplaintPolicy:
    major_answer: timedelta = timedelta(days=2)  # the resident has a clear answer by then
    major_solve: timedelta = timedelta(days=10)
    important_escalate: timedelta = timedelta(hours=1)  # the supervisor is told by then
    important_solve: timedelta = timedelta(days=3)
    minor_solve: timedelta = timedelta(days=2)  # unless the resident named their own date


class Classification(NamedTuple):
    kind: str
    severity: str
    urgent: bool


class Deadlines(NamedTuple):
    escalate_by: datetime | None  # director (major) or supervisor (important) told by then
    answer_by: datetime  # the resident has an answer by then
    solve_by: datetime  # the complaint is solved by then


def _found(word: str, text: str) -> bool:
    if not re.match(r"[a-z]", word):
        return word in text  # Chinese, marks like `!!`
    # English words whole, with their endings: `leak` finds `leaking`, `sue` not `issue`.
    return (
        re.search(rf"(?<![a-z]){re.escape(word)}(?:s|es|d|ed|ing|er|ers|y)?(?![a-z])", text)
        is not None
    )


def hits(text: str, words: Collection[str]) -> int:
    """How many of `words` occur in `text`, ignoring case."""
    low = text.lower()
    return sum(1 for word in words if word and _found(word.lower(), low))


def classify(text: str, words: Mapping[str, Collection[str]], urgent: bool) -> Classification:
    """Propose a kind and a severity from keyword lists; `urgent` (damage still happening,
    decided by handlers/rules/urgency.py) makes it at least important.

    `words` maps `major`, `important` and each kind but `valid`'s default to its words.
    A staff member confirms or changes the proposal.
    """
    if hits(text, words.get("major", ())):
        severity = "major"
    elif urgent or hits(text, words.get("important", ())):
        severity = "important"
    else:
        severity = "minor"
    # A complaint is valid unless its words say it is mostly asking, wondering or venting;
    # ties keep the earlier kind, so the stricter reading wins.
    scores = {kind: hits(text, words.get(kind, ())) for kind in KINDS}
    kind = max(KINDS, key=lambda k: (scores[k], -KINDS.index(k)))
    if scores[kind] == 0:
        kind = "valid"
    return Classification(kind, severity, urgent)


def department_for(text: str, words: Mapping[str, Collection[str]]) -> str:
    """The department whose words the text names most; the service desk when none."""
    scores = {dept: hits(text, words.get(dept, ())) for dept in DEPARTMENTS}
    best = max(DEPARTMENTS, key=lambda d: (scores[d], -DEPARTMENTS.index(d)))
    return best if scores[best] else DEFAULT_DEPARTMENT


def end_of_day(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(23, 59), tzinfo=tz)


def deadlines(
    severity: str,
    created_at: datetime,
    own_deadline: date | None,
    tz: tzinfo,
    contact_within: timedelta | None = None,
    policy: ComplaintPolicy = ComplaintPolicy(),
) -> Deadlines:
    """Escalation, answer and solution deadlines of a complaint made at `created_at`.

    `contact_within` is for damage still happening: the department gets in touch within
    minutes (seed: 第一时间), whatever the severity gives for solving it.
    """
    found = _by_severity(severity, created_at, own_deadline, tz, policy)
    if contact_within is None:
        return found
    contact = created_at + contact_within
    return Deadlines(found.escalate_by, min(found.answer_by, contact), found.solve_by)


def _by_severity(
    severity: str,
    created_at: datetime,
    own_deadline: date | None,
    tz: tzinfo,
    policy: ComplaintPolicy,
) -> Deadlines:
    if severity == "major":
        return Deadlines(
            escalate_by=end_of_day(created_at.astimezone(tz).date(), tz),
            answer_by=created_at + policy.major_answer,
            solve_by=created_at + policy.major_solve,
        )
    if severity == "important":
        solve = created_at + policy.important_solve
        return Deadlines(created_at + policy.important_escalate, solve, solve)
    if severity != "minor":
        raise ValueError(f"unknown severity {severity!r}")
    solve = end_of_day(own_deadline, tz) if own_deadline else created_at + policy.minor_solve
    return Deadlines(None, solve, solve)
