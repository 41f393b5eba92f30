"""Visitors (访客): what the gate says of a code, the daily limit, the free parking time,
and the times and counts people type when they register a visitor.

A pre-registered visit has a window: it opens `early_minutes` before the expected arrival
and closes at the expected departure (`leaves_by`). A code opens the gate only inside that
window and only while the visit is expected; every other state says why not. A walk-in is
asked of the resident (`asking`) until the first answer; unanswered for `confirm_minutes`,
the gate phones them.

Statuses are the values of `storage.models.VisitStatus`, spelled out here because rules
do not touch storage. Times are aware datetimes given by the caller; nothing here reads
the clock.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from handlers.rules.dates import chinese_number, read_when
from handlers.rules.slip import ALPHABET, Invalid

PENDING, EXPECTED, ASKING, ARRIVED = "pending", "expected", "asking", "arrived"
LEFT, REFUSED, CANCELLED, EXPIRED = "left", "refused", "cancelled", "expired"
STATUSES = (PENDING, EXPECTED, ASKING, ARRIVED, LEFT, REFUSED, CANCELLED, EXPIRED)
# Visits that still count against the unit's daily limit (not called off, not refused).
COUNTED = (PENDING, EXPECTED, ASKING, ARRIVED, LEFT, EXPIRED)
# Visits the resident may still call off.
CANCELLABLE = (PENDING, EXPECTED)
# Visits the gate still waits for (today's list).
WAITING = (PENDING, EXPECTED, ASKING)

# What the gate is told of a code, as catalog key suffixes (`visitor.verdict.<v>`).
VALID, TOO_EARLY, PAST_WINDOW, INSIDE = "valid", "too_early", "past_window", "inside"
VERDICTS = (
    VALID,
    TOO_EARLY,
    PAST_WINDOW,
    PENDING,
    ASKING,
    REFUSED,
    CANCELLED,
    INSIDE,
    LEFT,
    EXPIRED,
)

CODE_LENGTH = 7  # a slip's code has 6 characters, a worker's pass 8
QR_PREFIX = "FDVISIT:"
MAX_DAYS_AHEAD = 30
MAX_STAY = timedelta(days=3)
DEFAULT_STAY = timedelta(hours=4)
MAX_COMPANIONS = 20
# A time a few minutes gone ("now", typed slowly) is still taken as now.
GRACE = timedelta(minutes=10)
# The hour a part of the day stands for when no clock time was typed with it.
PART_HOURS = {"morning": 9, "afternoon": 14, "evening": 18, None: 9}


@dataclass(frozen=True)
class Policy:
    """A community's visitor rules (its settings, `visitor_*`)."""

    approval: bool = False
    daily_limit: int = 5
    free_parking_minutes: int = 120
    confirm_minutes: int = 5
    early_minutes: int = 120


# ---- codes ------------------------------------------------------------------------------


def normalise_code(text: str) -> str:
    return text.strip().upper().removeprefix(QR_PREFIX).strip()[:12]


def looks_like_visit(text: str) -> bool:
    """Whether a code typed or scanned at the gate is a visitor's (not a slip's or a pass's)."""
    raw = text.strip().upper()
    code = normalise_code(raw)
    return raw.startswith(QR_PREFIX) or (
        len(code) == CODE_LENGTH and all(ch in ALPHABET for ch in code)
    )


# ---- the gate ---------------------------------------------------------------------------


def opens_at(expected_at: datetime, policy: Policy) -> datetime:
    return expected_at - timedelta(minutes=policy.early_minutes)


def verdict(
    status: str, expected_at: datetime, leaves_by: datetime, now: datetime, policy: Policy
) -> str:
    """What the gate is told of a visit's code now: `valid`, or why not."""
    if status == ARRIVED:
        return INSIDE
    if status != EXPECTED:
        return status  # pending, asking, refused, cancelled, left, expired
    if now < opens_at(expected_at, policy):
        return TOO_EARLY
    if now > leaves_by:
        return PAST_WINDOW
    return VALID


def may_enter(found: str) -> bool:
    """The guard may let the visitor in: a valid code, or a walk-in the guard confirmed
    (by phone) while the resident's answer is still awaited."""
    return found in (VALID, ASKING)


def expires(status: str, leaves_by: datetime, now: datetime) -> bool:
    """A visit nobody came for by the end of its window expires."""
    return status in (PENDING, EXPECTED) and now > leaves_by


def overstaying(status: str, leaves_by: datetime, now: datetime) -> bool:
    return status == ARRIVED and now > leaves_by


def minutes_over(arrived_at: datetime, left_at: datetime, policy: Policy) -> int:
    """Minutes parked beyond the free time (whole minutes, rounded up); 0 within it."""
    stayed = (left_at - arrived_at).total_seconds() / 60
    return max(0, math.ceil(stayed - policy.free_parking_minutes))


def within_limit(registered: int, policy: Policy) -> bool:
    """Whether a unit with `registered` visits that day may register one more."""
    return registered < policy.daily_limit


def confirm_due(asked_at: datetime, policy: Policy) -> datetime:
    """When an unanswered walk-in's resident is phoned instead."""
    return asked_at + timedelta(minutes=policy.confirm_minutes)


def day_span(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The office's local day as an aware start (inclusive) and end (exclusive)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start, start + timedelta(days=1)


def cancellable(status: str) -> bool:
    return status in CANCELLABLE


# ---- what people type -------------------------------------------------------------------

_NOW = re.compile(r"^(?:现在|马上|立刻|立即|刚到|已到|now|right now|asap)$", re.IGNORECASE)
_CLOCK = re.compile(r"(?<![\d:])(\d{1,2})\s*[:：]\s*(\d{2})(?![\d:])")
_CN_NUM = r"\d{1,2}|[零〇一二两三四五六七八九十]{1,3}"
_CLOCK_CN = re.compile(rf"({_CN_NUM})\s*[点點时](?:\s*(半|一刻|三刻|({_CN_NUM})\s*分?))?(?:钟)?")
_CLOCK_EN = re.compile(r"(?<![\d:])(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?(?![a-z])")
_PM = re.compile(r"下午|午后|傍晚|晚上|晚间|夜里|今晚|明晚|\b(?:afternoon|evening|night|tonight)\b")
_AM = re.compile(r"上午|早上|早晨|清晨|今早|明早|\bmorning\b")
_NOON = re.compile(r"中午|\bnoon\b")
# "半小时后", "2个小时以后", "四十分钟后", "in 2 hours", "in half an hour": from now.
_LATER = re.compile(
    rf"^(?:大概|大约|约)?\s*({_CN_NUM}|\d{{1,3}}|半)\s*(?:个)?\s*(半)?\s*(小时|钟头|分钟|分)"
    r"\s*(?:后|以后|之后)(?:到|左右)?$"
)
_LATER_EN = re.compile(r"^in\s+(\d{1,3}|half an?|an?)\s*(hours?|hrs?|minutes?|mins?)$")
_AT_EN = re.compile(r"\bat\s+(\d{1,2})(?::(\d{2}))?\b")
_PART_ONLY = re.compile(r"^(?:上午|早上|早晨|下午|午后|傍晚|晚上|中午|morning|afternoon|evening)$")


def _clock(text: str) -> time | None:
    """The clock time in the text, read with its part of the day (`下午3点` is 15:00)."""
    words = text.lower()
    hour: int | None = None
    minute = 0
    half: str | None = None
    if (found := _CLOCK_EN.search(words)) is not None:
        hour, minute, half = int(found[1]), int(found[2] or 0), found[3]
    elif (found := _CLOCK.search(words)) is not None:
        hour, minute = int(found[1]), int(found[2])
    elif (found := _CLOCK_CN.search(words)) is not None:
        hour = chinese_number(found[1])
        extra = found[2] or ""
        minute = {"半": 30, "一刻": 15, "三刻": 45}.get(extra, 0)
        if found[3]:
            minute = chinese_number(found[3]) or 0
    elif (found := _AT_EN.search(words)) is not None:  # "tonight at 7"
        hour, minute = int(found[1]), int(found[2] or 0)
    if hour is None or hour > 24 or minute > 59:
        return None
    if half == "p" or (half is None and _PM.search(words) and hour < 12):
        hour += 12 if hour < 12 else 0
    elif half == "a" and hour == 12:
        hour = 0
    elif _NOON.search(words) and hour < 6:
        hour += 12
    if hour == 24:
        return time(23, 59)
    return time(hour, minute)


def _only_time(text: str) -> bool:
    """Text naming a time of day and no day (`15:00`, `下午3点`): today is meant."""
    rest = _CLOCK_EN.sub(" ", text.lower())
    rest = _CLOCK.sub(" ", rest)
    rest = _CLOCK_CN.sub(" ", rest)
    rest = _AT_EN.sub(" ", rest)
    rest = re.sub(r"tonight|this (?:morning|afternoon|evening)|around|about|\bat\b", " ", rest)
    rest = re.sub(r"上午|早上|早晨|下午|午后|傍晚|晚上|今晚|中午|左右|大概|大约|\s", "", rest)
    return rest == ""


def _later(words: str) -> timedelta | None:
    """A wait from now: `半小时后`, `两个半小时后`, `40分钟后`, `in 2 hours`."""
    if (found := _LATER.match(words)) is not None:
        count = 0.5 if found[1] == "半" else chinese_number(found[1])
        if count is None:
            return None
        count += 0.5 if found[2] else 0
        unit = timedelta(hours=1) if found[3] in ("小时", "钟头") else timedelta(minutes=1)
        return unit * count
    if (found := _LATER_EN.match(words)) is not None:
        amount = found[1]
        count = 0.5 if amount.startswith("half") else 1 if amount in ("a", "an") else int(amount)
        unit = timedelta(hours=1) if found[2].startswith("h") else timedelta(minutes=1)
        return unit * count
    return None


def read_moment(text: str, now: datetime, tz: tzinfo) -> datetime | None:
    """A moment as people type it, in the office's time zone: `明天下午3点`, `今天18:00`,
    `周六上午` (its usual hour), `15:00` (today), `现在`; None when unclear."""
    words = " ".join(text.split())
    local = now.astimezone(tz)
    if _NOW.match(words):
        return local
    later = _later(words.lower())
    if later is not None:
        return local + later
    clock = _clock(words)
    if clock is not None and _only_time(words):
        today = datetime.combine(local.date(), clock, tzinfo=tz)
        if today < local and 0 < clock.hour < 8 and not _AM.search(words.lower()):
            today += timedelta(hours=12)  # "3点" said at 10:35 is this afternoon, not 3 a.m.
        return today
    found = read_when(words, local.date())
    if found is None:
        if _PART_ONLY.match(words.lower()):
            part = "morning" if _AM.search(words.lower()) else "afternoon"
            part = "evening" if re.search(r"傍晚|晚上|evening", words) else part
            return datetime.combine(local.date(), time(PART_HOURS[part]), tzinfo=tz)
        return None
    if clock is None:
        clock = time(12) if _NOON.search(words) else time(PART_HOURS[found.part])
        if found.day == local.date() and found.part is None and not _NOON.search(words):
            return local  # "今天": from now
    return datetime.combine(found.day, clock, tzinfo=tz)


def arrival(text: str, now: datetime, tz: tzinfo) -> datetime:
    """The expected arrival: now or later (a few minutes gone count as now), within
    `MAX_DAYS_AHEAD` days."""
    found = read_moment(text, now, tz)
    if found is None:
        raise Invalid("visitor.error.arrival", value=text.strip()[:20])
    if found < now - GRACE:
        raise Invalid("visitor.error.past", when=found)
    if found > now + timedelta(days=MAX_DAYS_AHEAD):
        raise Invalid("visitor.error.too_far", days=MAX_DAYS_AHEAD)
    return max(found, now)


_HOURS = re.compile(
    rf"^(?:(?:大概|大约|约|待|停留|呆)\s*)?({_CN_NUM}|半)\s*(?:个)?\s*(?:半)?\s*(?:小时|钟头|h|hours?)"
    r"(?:左右|以内|内)?$",
    re.IGNORECASE,
)


def departure(text: str, arrives: datetime, now: datetime, tz: tzinfo) -> datetime:
    """The expected departure: `3小时`, `两个半小时`, `17:00` (the day of arrival), `明天上午10点`
    (a day named is read against today, as the resident means it); after the arrival and
    at most `MAX_STAY` later."""
    words = " ".join(text.split())
    found = _HOURS.match(words)
    leaves: datetime | None = None
    if found is not None:
        count = 0.5 if found[1] == "半" else chinese_number(found[1])
        if count is not None:
            extra = 0.5 if "半" in words[found.end(1) :] else 0
            leaves = arrives + timedelta(hours=count + extra)
    if leaves is None:
        local = arrives.astimezone(tz)
        clock = _clock(words)
        if clock is not None and _only_time(words):
            leaves = datetime.combine(local.date(), clock, tzinfo=tz)
        else:
            leaves = read_moment(words, now, tz)
    if leaves is None:
        raise Invalid("visitor.error.departure", value=text.strip()[:20])
    if leaves <= arrives:
        raise Invalid("visitor.error.before_arrival", when=arrives)
    if leaves - arrives > MAX_STAY:
        raise Invalid("visitor.error.too_long", days=MAX_STAY.days)
    return leaves


def default_departure(arrives: datetime) -> datetime:
    return arrives + DEFAULT_STAY


_NONE = re.compile(r"^(?:无|没有|没|不带|就一个人|就我|一个人|本人|0|零|none|no|alone|nobody)$")
_COUNT = re.compile(
    rf"^(?:带|还有|另有|共|加)?\s*({_CN_NUM})\s*(?:个|位|名)?\s*(?:人|同伴|朋友|孩子)?$"
)


def companions(text: str) -> int:
    """How many people come with the visitor: `2`, `两个`, `3人`, `无`."""
    words = "".join(text.split()).lower().rstrip("。.!！")
    if _NONE.match(words):
        return 0
    found = _COUNT.match(words)
    count = chinese_number(found[1]) if found else None
    if count is None:
        raise Invalid("visitor.error.companions", value=text.strip()[:20])
    if count > MAX_COMPANIONS:
        raise Invalid("visitor.error.too_many", limit=MAX_COMPANIONS)
    return count


def history_entry(what: str, by: str, at: datetime, **more: Any) -> dict[str, Any]:
    """One line of a visit's history: a check, a decision or a passage, with who and when."""
    return {"at": at.isoformat(), "by": by, "what": what, **more}
