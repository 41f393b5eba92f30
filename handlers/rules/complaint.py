"""Complaints (投诉): proposed kind and severity, urgency, deadlines, and the resident's own date.

The office's rules (DOMAIN.md section 2): a *major* complaint reaches the office director
the same day, the resident gets a clear answer within 2 days and it is solved within 10;
an *important* one reaches the department supervisor within 1 hour and is solved within 3
days; a *minor* one is solved within 2 days or by the resident's own deadline. Damage still
happening (a burst pipe, smoke, gas) is urgent: it is pushed at once.

The keyword lists live in the catalogs (both languages); they are passed in, so these stay
plain functions over data.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from typing import NamedTuple

from handlers.ids import number

KINDS = ("valid", "help_seeking", "inquiry", "venting")
SEVERITIES = ("major", "important", "minor")
DEPARTMENTS = ("repair", "security", "cleaning", "greening", "service")
DEFAULT_DEPARTMENT = "service"

MAJOR_ANSWER = timedelta(days=2)
MAJOR_SOLVE = timedelta(days=10)
IMPORTANT_ESCALATE = timedelta(hours=1)
IMPORTANT_SOLVE = timedelta(days=3)
MINOR_SOLVE = timedelta(days=2)
# A resident's own deadline further away than this is almost surely a typo.
OWN_DEADLINE_MAX = timedelta(days=366)


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


def classify(text: str, words: Mapping[str, Collection[str]]) -> Classification:
    """Propose a kind and a severity, and flag damage still happening, from keyword lists.

    `words` maps `major`, `important`, `urgent` and each kind but `valid`'s default to
    its words. A staff member confirms or changes the proposal.
    """
    urgent = hits(text, words.get("urgent", ())) > 0
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
    severity: str, created_at: datetime, own_deadline: date | None, tz: tzinfo
) -> Deadlines:
    """Escalation, answer and solution deadlines of a complaint made at `created_at`."""
    if severity == "major":
        return Deadlines(
            escalate_by=end_of_day(created_at.astimezone(tz).date(), tz),
            answer_by=created_at + MAJOR_ANSWER,
            solve_by=created_at + MAJOR_SOLVE,
        )
    if severity == "important":
        solve = created_at + IMPORTANT_SOLVE
        return Deadlines(created_at + IMPORTANT_ESCALATE, solve, solve)
    if severity != "minor":
        raise ValueError(f"unknown severity {severity!r}")
    solve = end_of_day(own_deadline, tz) if own_deadline else created_at + MINOR_SOLVE
    return Deadlines(None, solve, solve)


# ---- the resident's own deadline ------------------------------------------------------

_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_EN_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_EN_NUMBERS |= {"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "fourteen": 14}
_WEEKDAYS_CN = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_WEEKDAYS_EN = {"monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2}
_WEEKDAYS_EN |= {"wed": 2, "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4}
_WEEKDAYS_EN |= {"fri": 4, "saturday": 5, "sat": 5, "sunday": 6, "sun": 6}
_RELATIVE = {
    "今天": 0,
    "今日": 0,
    "today": 0,
    "tonight": 0,
    "明天": 1,
    "明日": 1,
    "tomorrow": 1,
    "后天": 2,
    "day after tomorrow": 2,
    "the day after tomorrow": 2,
    "大后天": 3,
}
_AROUND = re.compile(
    r"^(?:请|希望|最好|最迟|最晚|务必|在|by|before|no later than|until|within)+\s*"
    r"|\s*(?:之前|以前|前|为止|之内|以内|内|解决|处理好?|完成|搞定|please)+$"
)


def _number(word: str) -> int | None:
    """`3`, `三`, `十五`, `两` or `three` as a number; None otherwise."""
    if (value := number(word)) is not None:
        return value
    if word in _EN_NUMBERS:
        return _EN_NUMBERS[word]
    if word and all(ch in _CN_DIGITS or ch == "十" for ch in word):
        if "十" not in word:
            return _CN_DIGITS[word] if len(word) == 1 else None
        tens, _, ones = word.partition("十")
        return (_CN_DIGITS.get(tens, 0) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0))
    return None


def _month_day(month: int, day: int, today: date) -> date | None:
    """A date given without its year: this year's, or next year's when long gone."""
    try:
        found = date(today.year, month, day)
    except ValueError:
        return None
    # "1/5" said in late November means next January; "11/20" is a past date to refuse.
    if found < today - timedelta(days=180):
        found = found.replace(year=today.year + 1)
    return found


def _in_days(text: str) -> int | None:
    cn = re.fullmatch(r"(\d+|[零一二两三四五六七八九十]+)\s*(?:个)?\s*(天|日|周|星期|礼拜)", text)
    if cn:
        count = _number(cn.group(1))
        if count is None:
            return None
        return count * (1 if cn.group(2) in ("天", "日") else 7)
    en = re.fullmatch(r"(?:in\s+)?(\d+|[a-z]+)\s+(day|days|week|weeks)", text)
    if en:
        count = _number(en.group(1))
        if count is None:
            return None
        return count * (7 if en.group(2).startswith("week") else 1)
    if text in ("一周", "一个星期", "a week", "one week"):
        return 7
    return None


def _weekday(text: str, today: date) -> date | None:
    """`下周一`, `周五`, `本周三`, `周末`, `next monday`, `this friday`, `fri`."""
    cn = re.fullmatch(r"(下个?|这个?|本)?(?:周|星期|礼拜)([一二三四五六日天末])", text)
    en = re.fullmatch(r"(?:(next|this) )?([a-z]+)", text)
    monday = today - timedelta(days=today.weekday())
    if cn:
        prefix, target = cn.group(1) or "", _WEEKDAYS_CN[cn.group(2)]
        if prefix.startswith("下"):
            return monday + timedelta(days=7 + target)
        if prefix:
            return monday + timedelta(days=target)
    elif en and en.group(2) in _WEEKDAYS_EN:
        target = _WEEKDAYS_EN[en.group(2)]
        if en.group(1) == "next":  # the first one after today
            return today + timedelta(days=(target - today.weekday() - 1) % 7 + 1)
        if en.group(1) == "this":
            return monday + timedelta(days=target)
    else:
        return None
    # A bare weekday is the coming one; today counts.
    return today + timedelta(days=(target - today.weekday()) % 7)


def _end_of_month(today: date) -> date:
    first_next = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_next - timedelta(days=1)


def parse_day(text: str, today: date) -> date | None:
    """The day a resident means: `2026-12-05`, `12/5`, `12月5日`, `15号`, `明天`, `下周一`,
    `3天内`, `in 3 days`, `next friday`, `月底`. None when it is not a day we understand.
    """
    words = (
        text.strip().lower().translate(str.maketrans("０１２３４５６７８９／－", "0123456789/-"))
    )
    words = re.sub(r"\s+", " ", words)
    for _ in range(3):  # "请在下周一之前" has words on both sides
        words = _AROUND.sub("", words).strip()
    if words in _RELATIVE:
        return today + timedelta(days=_RELATIVE[words])
    if words in ("月底", "本月底", "这个月底", "end of month", "end of the month"):
        return _end_of_month(today)
    full = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?", words)
    if full:
        try:
            return date(int(full.group(1)), int(full.group(2)), int(full.group(3)))
        except ValueError:
            return None
    short = re.fullmatch(r"(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?", words)
    if short:
        return _month_day(int(short.group(1)), int(short.group(2)), today)
    day_only = re.fullmatch(r"(\d{1,2})\s*[日号]", words)
    if day_only:
        day = int(day_only.group(1))
        month, year = (today.month, today.year)
        if day < today.day:  # "15号" said on the 26th: next month's
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
        try:
            return date(year, month, day)
        except ValueError:
            return None
    days = _in_days(words)
    if days is not None:
        return today + timedelta(days=days)
    return _weekday(words, today)
