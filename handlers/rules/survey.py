"""The annual owners' opinion survey's rules (业主意见征询表): the service areas asked about,
when it closes, who is due a reminder, what counts as a low score, and the analysis —
the response rate and the mean scores per area, overall and per building.

Numbers are `Decimal`, rounded half up as the office rounds by hand: a mean score to two
places (4.33), a response rate as a percentage to one place (66.7). Nothing here reads the
store or the clock: a rule is given the policy and the time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# The service areas the seed's form asks about, in the order the form asks them.
AREAS = ("repairs", "security", "cleaning", "greening", "desk", "fees")
SCORES = (1, 2, 3, 4, 5)  # 很不满意 … 非常满意
COMMENT_LIMIT = 500  # characters of one comment
QUESTION_LIMIT = 200  # characters of a question the office words itself
# A low score is followed up within two days, as a repair's revisit is (seed: 2天内回访).
FOLLOW_UP_DAYS = 2

MEAN_PLACES = Decimal("0.01")
RATE_PLACES = Decimal("0.1")


@dataclass(frozen=True)
class SurveyPolicy:
    """How long a survey stays open, how often owners who have not answered are reminded,
    and the score at or below which an answer is followed up (the settings' defaults)."""

    days: int = 30
    remind_days: int = 7
    low_score: int = 2


# ---- the questions --------------------------------------------------------------------


def default_questions() -> list[dict[str, Any]]:
    """Every area, each worded by the catalogs' default question (`text` empty)."""
    return [{"area": area, "text": ""} for area in AREAS]


def clean_questions(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The questions as stored: known areas only, each once, in the form's order, with the
    office's own wording (trimmed, bounded) or none."""
    given: dict[str, str] = {}
    for item in items:
        area = str(item.get("area") or "")
        if area in AREAS and area not in given:
            given[area] = " ".join(str(item.get("text") or "").split())[:QUESTION_LIMIT]
    return [{"area": area, "text": given[area]} for area in AREAS if area in given]


def areas_of(questions: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    return tuple(q["area"] for q in clean_questions(questions))


# ---- times ----------------------------------------------------------------------------


def closes_at(opened: datetime, policy: SurveyPolicy) -> datetime:
    return opened + timedelta(days=policy.days)


def reminder_slot(sent_at: datetime, now: datetime, policy: SurveyPolicy) -> int:
    """Which reminder is due by now: 0 before the first `remind_days` have passed, then
    1, 2 … — a slot is reminded once, however late the reminder runs."""
    if now < sent_at:
        return 0
    return (now - sent_at) // timedelta(days=policy.remind_days)


def reminder_due(
    sent_at: datetime,
    reminded: int,
    answered: bool,
    now: datetime,
    closes: datetime | None,
    policy: SurveyPolicy,
) -> int | None:
    """The slot to remind an invitation for now, or None: not when its unit has answered,
    not once the survey has closed, never twice for the same slot."""
    if answered or (closes is not None and now >= closes):
        return None
    slot = reminder_slot(sent_at, now, policy)
    return slot if slot > reminded else None


def next_reminder(opened: datetime, now: datetime, policy: SurveyPolicy) -> datetime:
    """When the next round of reminders is due after `now` (by the survey's opening)."""
    return opened + timedelta(days=policy.remind_days) * (reminder_slot(opened, now, policy) + 1)


# ---- answers --------------------------------------------------------------------------


def valid_score(value: Any) -> int | None:
    """A score of 1 to 5, from a chosen `score:N` or a typed digit; None otherwise."""
    text = str(value).strip()
    if text.startswith("score:"):
        text = text[6:]
    if len(text) == 1 and text.isdigit() and int(text) in SCORES:
        return int(text)
    return None


def low_areas(scores: Mapping[str, int], policy: SurveyPolicy) -> list[str]:
    """The areas scored at or below the policy's low score, in the form's order."""
    return [a for a in AREAS if a in scores and scores[a] <= policy.low_score]


# ---- the analysis ---------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """One unit's answer as the analysis sees it."""

    unit: str
    building: str
    scores: Mapping[str, int]
    comments: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Analysis:
    """What the survey found: how many units were asked and answered, the mean score per
    area overall and per building, how the scores spread, and the comments by area."""

    areas: tuple[str, ...]
    invited: int
    answered: int
    rate: Decimal | None  # per cent of the units asked that answered, one place
    overall: Decimal | None  # the mean of every score given
    means: dict[str, Decimal | None]
    buildings: dict[str, int]  # units answered per building
    by_building: dict[str, dict[str, Decimal | None]]
    distribution: dict[str, dict[int, int]]  # area -> score -> how many
    comments: dict[str, list[tuple[str, str]]]  # area -> (unit, comment)
    low: int  # answers with at least one low score


def mean(scores: Sequence[int]) -> Decimal | None:
    if not scores:
        return None
    return (Decimal(sum(scores)) / Decimal(len(scores))).quantize(MEAN_PLACES, ROUND_HALF_UP)


def rate(answered: int, invited: int) -> Decimal | None:
    if invited <= 0:
        return None
    return (Decimal(answered) * 100 / Decimal(invited)).quantize(RATE_PLACES, ROUND_HALF_UP)


def _natural(name: str) -> tuple[Any, ...]:
    """`2栋` before `10栋`."""
    digits = "".join(ch if ch.isdigit() else " " for ch in name).split()
    return (int(digits[0]) if digits else 0, name)


def analyse(
    areas: Sequence[str], invited: int, answers: Sequence[Answered], policy: SurveyPolicy
) -> Analysis:
    """The analysis of the answers of `invited` units asked about `areas`."""
    buildings = sorted({a.building for a in answers}, key=_natural)
    means = {area: mean([a.scores[area] for a in answers if area in a.scores]) for area in areas}
    by_building = {
        b: {
            area: mean([a.scores[area] for a in answers if a.building == b and area in a.scores])
            for area in areas
        }
        for b in buildings
    }
    distribution = {
        area: {s: sum(1 for a in answers if a.scores.get(area) == s) for s in SCORES}
        for area in areas
    }
    comments = {
        area: [(a.unit, a.comments[area]) for a in answers if a.comments.get(area)]
        for area in areas
    }
    every = [a.scores[area] for a in answers for area in areas if area in a.scores]
    return Analysis(
        areas=tuple(areas),
        invited=invited,
        answered=len(answers),
        rate=rate(len(answers), invited),
        overall=mean(every),
        means=means,
        buildings={b: sum(1 for a in answers if a.building == b) for b in buildings},
        by_building=by_building,
        distribution=distribution,
        comments=comments,
        low=sum(1 for a in answers if low_areas(a.scores, policy)),
    )
