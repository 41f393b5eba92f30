"""The key register's rules (钥匙借用): when a loan is due back, what an overdue loan calls
for now, whose consent a loan needs, and a new key or a loan as the desk types them.

Plain functions: each is given the policy and the time. A loan is due back after the
community's `key_loan_hours` unless a time is typed (`18:00`, `明天上午`, `3小时`, `明天下午5点`,
`tomorrow 9:00`); an overdue loan reminds its borrower at once, and tells the supervisor
`key_escalate_hours` after it fell due; a unit's key goes out only with its owner's consent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from handlers.core.ids import number
from handlers.rules.dates import chinese_number, read_when
from handlers.rules.movein import parse_appointment
from handlers.rules.phone import normalise_phone
from handlers.rules.units import parse as parse_unit

KINDS = ("unit", "common", "equipment")
# Where a key is: in the office, lent out, or given back to its owner for good.
HELD, LENT, RETURNED = "held", "lent", "returned"
# The steps of an overdue loan, each taken once.
REMIND, SUPERVISOR = "remind", "supervisor"
# How the owner agreed to lend their unit's key: in chat (their button), or as the desk
# records it (a phone call, a signed note).
CONSENT_CHAT, CONSENT_PHONE, CONSENT_WRITTEN = "chat", "phone", "written"
RECORDED_CONSENT = (CONSENT_PHONE, CONSENT_WRITTEN)
# A part of the day named without a clock time: the key is due at its end.
PART_ENDS = {"morning": time(12, 0), "afternoon": time(18, 0), "evening": time(21, 0)}
DAY_ENDS = time(18, 0)  # a day named alone: the end of the office's day
LONGEST = timedelta(days=90)


@dataclass(frozen=True)
class KeyPolicy:
    loan_hours: int = 8
    escalate_hours: int = 24


class KeyRuleError(ValueError):
    """Text a rule cannot take; `reason` names the catalog key `keys.error.<reason>`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def needs_consent(kind: str) -> bool:
    """A unit's key is the owner's: it goes out only with their consent recorded."""
    return kind == "unit"


# ---- when a loan is due back ------------------------------------------------------------

_HOURS = re.compile(
    r"^(?:in\s+|for\s+)?(\d{1,3}|[零一二两三四五六七八九十]{1,3}|an?|one|two|three|four|five|six)"
    r"\s*(?:个)?\s*(半)?\s*(?:小时|钟头|h|hrs?|hours?)(?:后|以后|之后|内|以内)?$",
    re.IGNORECASE,
)
_EN_HOURS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_UNTIL = re.compile(r"^(?:until|till|by|到|至|还|归还|截止)\s*", re.IGNORECASE)


def default_due(now: datetime, policy: KeyPolicy) -> datetime:
    return now + timedelta(hours=policy.loan_hours)


def due_at(text: str | None, now: datetime, tz: tzinfo, policy: KeyPolicy) -> datetime:
    """When a key lent now is due back: the policy's hours when nothing is typed, else the
    time typed: hours from now (`3小时`, `2h`), a clock time today or on a day
    (`18:00`, `明天下午3点`), or a day or part of a day (`明天上午`: its noon; `明天`: 18:00).
    Raises `KeyRuleError` ("due_unclear", "due_past", "due_far")."""
    words = _UNTIL.sub("", (text or "").strip()).strip()
    if not words:
        return default_due(now, policy)
    due = _read_due(words, now, tz)
    if due is None:
        raise KeyRuleError("due_unclear")
    if due <= now:
        raise KeyRuleError("due_past")
    if due - now > LONGEST:
        raise KeyRuleError("due_far")
    return due


def _read_due(words: str, now: datetime, tz: tzinfo) -> datetime | None:
    hours = _HOURS.match(words)
    if hours:
        raw = hours.group(1).lower()
        count = _EN_HOURS.get(raw) or chinese_number(raw)
        if count is None:
            return None
        return now + timedelta(hours=count, minutes=30 if hours.group(2) else 0)
    today: date = now.astimezone(tz).date()
    appointment = parse_appointment(words, today)
    if appointment is not None:
        return datetime.combine(appointment.day, appointment.at, tzinfo=tz)
    when = read_when(words, today)
    if when is None:
        return None
    return datetime.combine(when.day, PART_ENDS.get(when.part or "", DAY_ENDS), tzinfo=tz)


# ---- an overdue loan --------------------------------------------------------------------


def overdue_step(
    due: datetime, now: datetime, reminders: int, escalated: bool, policy: KeyPolicy
) -> str | None:
    """The next step an open loan calls for now: remind the borrower (once it is due),
    tell the supervisor (`escalate_hours` after it fell due, after the reminder), or
    nothing (None). Each step is recorded once taken, so asking again gives the next."""
    if now < due:
        return None
    if reminders == 0:
        return REMIND
    if not escalated and now >= due + timedelta(hours=policy.escalate_hours):
        return SUPERVISOR
    return None


def overdue_steps(
    due: datetime, now: datetime, reminders: int, escalated: bool, policy: KeyPolicy
) -> list[str]:
    """Every step that has come, in order (a sweep that missed a day takes both)."""
    steps: list[str] = []
    step = overdue_step(due, now, reminders, escalated, policy)
    while step is not None:
        steps.append(step)
        reminders += step == REMIND
        escalated |= step == SUPERVISOR
        step = overdue_step(due, now, reminders, escalated, policy)
    return steps


def is_overdue(due: datetime, now: datetime) -> bool:
    return now >= due


# ---- a new key, a loan, as typed -------------------------------------------------------

_KIND_WORDS = {
    "unit": "unit",
    "房屋": "unit",
    "住户": "unit",
    "业主": "unit",
    "房门": "unit",
    "common": "common",
    "公共": "common",
    "公区": "common",
    "equipment": "equipment",
    "设备": "equipment",
}
_COUNT = re.compile(
    r"^(?:[x×*](\d{1,2})|(\d{1,2}|[一二两三四五六七八九十]{1,2})\s*(?:把|条|枚|个))$"
)
_PLACE = re.compile(r"^(?:柜|箱|钩|架|place:|位置[:：]?)\S*$|^[A-Za-z]{1,2}\d{0,2}-\d{1,3}$")


@dataclass(frozen=True)
class NewKey:
    """A key to add to the register as typed: `/keys add 天台门钥匙 公共 柜A-12 2把`."""

    label: str
    kind: str
    unit: str = ""  # the unit typed, for a unit's key
    place: str = ""
    count: int = 1


def parse_new_key(text: str) -> NewKey:
    """The label, kind (公共/设备/房屋 or common/equipment/unit), place (`柜A-12`, `A-12`),
    unit (`2-1-802`: a unit's key) and count (`2把`, `x2`), in any order; the rest is the
    label. Raises `KeyRuleError` ("add_label", "add_kind")."""
    kind = ""
    unit = place = ""
    count = 1
    label: list[str] = []
    for word in text.split():
        low = word.lower()
        counted = _COUNT.match(low)
        if low in _KIND_WORDS and not kind:
            kind = _KIND_WORDS[low]
        elif counted:
            count = number(counted.group(1) or "") or chinese_number(counted.group(2) or "") or 1
        elif not place and _PLACE.match(word):
            place = re.sub(r"^(?:place:|位置[:：]?)", "", word)[:60]
        elif not unit and parse_unit(word) is not None:
            unit = word
        else:
            label.append(word)
    if not label:
        raise KeyRuleError("add_label")
    kind = kind or ("unit" if unit else "common")
    if kind == "unit" and not unit:
        raise KeyRuleError("add_unit")
    if kind != "unit" and unit:
        label.append(unit)  # "2-1 配电间": part of a common room's name, not a flat
        unit = ""
    return NewKey(" ".join(label)[:100], kind, unit, place, max(1, min(count, 99)))


@dataclass(frozen=True)
class LendLine:
    """`/lend <key> <borrower> [phone] [until …]` as typed."""

    key: str
    borrower: str
    phone: str = ""
    due: str = ""


def parse_lend_line(text: str) -> LendLine:
    """The key (its place, unit or number), the borrower's name, their phone if given,
    and the due time if given (`until 18:00`, `到明天上午`, or the time alone)."""
    words = text.split()
    if len(words) < 2:
        raise KeyRuleError("lend_usage")
    key, borrower, rest = words[0], words[1], words[2:]
    phone = ""
    if rest and normalise_phone(rest[0]) is not None:
        phone = normalise_phone(rest[0]) or ""
        rest = rest[1:]
    return LendLine(key[:60], borrower[:100], phone, " ".join(rest)[:40])


def key_number(text: str) -> int | None:
    """A key's number as typed: `12`, `#12`, `＃12`."""
    return number(text.strip().lstrip("#＃"))
