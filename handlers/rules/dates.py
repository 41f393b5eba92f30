"""Dates as people type them, read against the office's today.

One reader for every step that asks for a day (a complaint's own deadline, a release
slip's date): `2026-12-05`, `12/5`, `12月5日`, `15号`, `明天`, `后天下午`, `下周一`,
`周末前`, `月底`, `下个月5号`, `3天内`, `tomorrow morning`, `next friday`, `by the
weekend`, `end of month`, `Dec 5`. `today` is the office's local day (settings.tz); the
reader says which day is meant and, when one was named, the part of that day. Whether the
day is too early or too late is the caller's rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import NamedTuple

from handlers.core.ids import number

PARTS = ("morning", "afternoon", "evening")


class When(NamedTuple):
    day: date
    part: str | None = None  # morning, afternoon or evening when the text named one


# ---- numbers ---------------------------------------------------------------------------

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_EN_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_EN_NUMBERS |= {"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11}
_EN_NUMBERS |= {"twelve": 12, "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30}
_NUM = r"\d{1,3}|[零〇一二两三四五六七八九十]{1,3}"


def chinese_number(text: str) -> int | None:
    """Digits, or 一 … 九十九 (`两`, `十二`, `二十`); None for anything else."""
    if (value := number(text)) is not None:
        return value
    if "十" not in text:
        return _CN_DIGITS.get(text) if len(text) == 1 else None
    tens, _, units = text.partition("十")
    if len(tens) > 1 or len(units) > 1:
        return None
    high = _CN_DIGITS.get(tens) if tens else 1
    low = _CN_DIGITS.get(units) if units else 0
    if high is None or low is None:
        return None
    return high * 10 + low


def _count(word: str) -> int | None:
    return _EN_NUMBERS.get(word) if word in _EN_NUMBERS else chinese_number(word)


# ---- calendar helpers ------------------------------------------------------------------


def month_end(day: date) -> date:
    first_next = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_next - timedelta(days=1)


def _next_month(day: date) -> date:
    """The first of the month after `day`'s."""
    return month_end(day) + timedelta(days=1)


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    first = date(day.year + index // 12, index % 12 + 1, 1)
    return first.replace(day=min(day.day, month_end(first).day))


def _nearest(month: int, day: int, today: date) -> date | None:
    """A month and day without a year: the year that puts it nearest to today.

    `1/2` typed on 30 December is next January's; `11/20` typed on 26 November is this
    year's (already past, for the caller to refuse); `12/1` typed in early January is the
    December just gone, not one eleven months away.
    """
    found = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            found.append(date(year, month, day))
        except ValueError:
            continue
    return min(found, key=lambda d: abs((d - today).days)) if found else None


def _in_month(first: date, day: int) -> date | None:
    try:
        return first.replace(day=day)
    except ValueError:
        return None


def examples(day: date) -> dict[str, str]:
    """A day written the two ways the reader takes, for a prompt's examples."""
    return {"example": day.isoformat(), "example_short": f"{day.month}/{day.day}"}


# ---- the words around a day ------------------------------------------------------------

_FULLWIDTH = str.maketrans("０１２３４５６７８９／－：．　", "0123456789/-:. ")
_SHORTHANDS = (
    (re.compile(r"明早"), "明天上午"),
    (re.compile(r"明晚"), "明天晚上"),
    (re.compile(r"今早"), "今天上午"),
    (re.compile(r"今晚"), "今天晚上"),
    (re.compile(r"\btonight\b"), "today evening"),
    (re.compile(r"\bthis (morning|afternoon|evening)\b"), r"today \1"),
)
# Notes such as "11/28（周六）" add nothing to the date itself.
_ASIDE = re.compile(r"[（(][^）)]*[）)]")
_PART_WORDS = (
    (re.compile(r"上午|早上|早晨|清晨|一早|\b(?:in the )?morning\b"), "morning"),
    (re.compile(r"下午|午后|\b(?:in the )?afternoon\b"), "afternoon"),
    (re.compile(r"傍晚|晚上|晚间|夜里|\b(?:in the )?(?:evening|night)\b"), "evening"),
    (re.compile(r"中午|\bnoon\b|\bmidday\b"), None),
)
# Digits, not `\b`: CJK characters are word characters, so "明天15:00" has no boundary.
_CLOCK_24 = re.compile(r"(?<![\d:])(\d{1,2})\s*:\s*\d{2}(?![\d:])(?:\s*([ap])\.?m\.?(?![a-z]))?")
_CLOCK_EN = re.compile(r"(?:\bat\s+)?(?<![\d:])(\d{1,2})\s*([ap])\.?m\.?(?![a-z])")
_CLOCK_CN = re.compile(rf"(?:{_NUM})\s*[点时](?:半|一刻|三刻|钟|\s*(?:{_NUM})\s*分?)?")
_CONNECTORS = " 到至~～—-,，、"
_PREFIX = re.compile(
    r"^(?:请|希望|最好|最迟|最晚|务必|尽量|在|于|要|得|大概|大约|"
    r"(?:by|before|no later than|not later than|until|till|within|on|at|in|"
    r"around|about|for|the)\s+)+"
)
_SUFFIX = re.compile(
    r"(?:之前|以前|前|为止|之内|以内|内|左右|前后|那天|当天|解决|处理好?|完成|搞定|弄好|修好|"
    r"\s+(?:please|at the latest|latest))+$"
)
_BEFORE = re.compile(r"前|为止|\b(?:by|before|until|till|no later than|not later than)\b")
_WITHIN = re.compile(r"内|\b(?:within|in)\b")


def _clock_part(hour: int, half: str | None) -> str | None:
    """The part of the day of a clock time; a bare `3点` could be either, so says nothing."""
    if half == "p" and hour < 12:
        hour += 12
    elif half == "a":
        return "morning" if hour < 12 else None
    elif hour < 13:
        return None
    return "morning" if hour < 12 else "afternoon" if hour < 17 else "evening"


def _take_time(words: str) -> tuple[str, str | None]:
    """Remove the time of day from the text; returns the rest and the part named, if any."""
    part: str | None = None
    for pattern, name in _PART_WORDS:
        if pattern.search(words):
            part = part or name
            words = pattern.sub(" ", words)
    clock_part: str | None = None
    for clock in (_CLOCK_24, _CLOCK_EN):
        for found in clock.finditer(words):
            clock_part = clock_part or _clock_part(int(found[1]), found[2])
        words = clock.sub(" ", words)
    words = _CLOCK_CN.sub(" ", words)
    words = re.sub(r"\s+", " ", words).strip(_CONNECTORS)
    return words, part or clock_part


def _strip_around(words: str) -> tuple[str, bool, bool]:
    """Remove `请在…之前`, `by …`, `…以内`; says whether "before" or "within" was said."""
    before = within = False
    for _ in range(4):  # "请在下周一之前解决" has words on both sides, several deep
        changed = False
        for pattern in (_PREFIX, _SUFFIX):
            found = pattern.search(words)
            if found and found.group(0):
                said = found.group(0)
                before |= _BEFORE.search(said) is not None
                within |= _WITHIN.search(said) is not None
                words = (words[: found.start()] + words[found.end() :]).strip(_CONNECTORS)
                changed = True
        if not changed:
            break
    return words, before, within


# ---- the ways to name a day ------------------------------------------------------------

_RELATIVE = {
    "今天": 0,
    "今日": 0,
    "今儿": 0,
    "today": 0,
    "明天": 1,
    "明日": 1,
    "明儿": 1,
    "tomorrow": 1,
    "后天": 2,
    "day after tomorrow": 2,
    "大后天": 3,
    "昨天": -1,
    "昨日": -1,
    "yesterday": -1,
    "前天": -2,
}
_WEEKDAYS_CN = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEKDAYS_EN = {"monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2}
_WEEKDAYS_EN |= {"wed": 2, "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4}
_WEEKDAYS_EN |= {"fri": 4, "saturday": 5, "sat": 5, "sunday": 6, "sun": 6}
_MONTHS_EN = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7}
_MONTHS_EN |= {"aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
_WEEK = r"(?:周|星期|礼拜)"
_THIS, _NEXT = r"(?:这个?|本|this)", r"(?:下个?|next)"


class _Said(NamedTuple):
    words: str
    today: date
    before: bool  # "周末前", "by the weekend": the day before it starts
    within: bool  # "3日内": a number of days, not the 3rd


def _relative(said: _Said) -> date | None:
    offset = _RELATIVE.get(said.words)
    return None if offset is None else said.today + timedelta(days=offset)


def _weekend(said: _Said) -> date | None:
    """周末 / this weekend: its Saturday (today on a Sunday); 周末前 / by the weekend: the
    last day before it; 下周末 / next weekend: next week's Saturday."""
    found = re.fullmatch(rf"({_THIS}|{_NEXT})?\s*(?:{_WEEK}末|weekend)", said.words)
    if found is None:
        return None
    today = said.today
    monday = today - timedelta(days=today.weekday())
    saturday = 5 - (1 if said.before else 0)
    if found[1] and re.match(_NEXT, found[1]):
        return monday + timedelta(days=7 + saturday)
    if today.weekday() >= 5:
        return today  # already the weekend
    return monday + timedelta(days=saturday)


def _weekday(said: _Said) -> date | None:
    """`下周一`, `周五`, `本周三`, `next monday`, `this friday`, `fri`."""
    today = said.today
    monday = today - timedelta(days=today.weekday())
    cn = re.fullmatch(rf"(下下个?|{_NEXT}|{_THIS})?\s*{_WEEK}([一二三四五六日天])", said.words)
    if cn:
        prefix, target = cn[1] or "", _WEEKDAYS_CN[cn[2]]
        if prefix.startswith("下下"):
            return monday + timedelta(days=14 + target)
        if prefix.startswith("下"):
            return monday + timedelta(days=7 + target)
        if prefix:
            return monday + timedelta(days=target)
        return today + timedelta(days=(target - today.weekday()) % 7)  # the coming one
    en = re.fullmatch(r"(?:(next|this|coming)\s+)?([a-z]+)", said.words)
    if en is None or en[2] not in _WEEKDAYS_EN:
        return None
    target = _WEEKDAYS_EN[en[2]]
    if en[1] == "next":  # the first one after today
        return today + timedelta(days=(target - today.weekday() - 1) % 7 + 1)
    if en[1] == "this":
        return monday + timedelta(days=target)
    return today + timedelta(days=(target - today.weekday()) % 7)  # the coming one; today counts


def _month_end(said: _Said) -> date | None:
    """月底 / 本月底 / end of month; 下个月底 / end of next month."""
    words = said.words
    if re.fullmatch(
        rf"{_THIS}?\s*月[底末]|(?:the\s+)?(?:end of (?:the |this )?month|month end)", words
    ):
        return month_end(said.today)
    if re.fullmatch(rf"{_NEXT}\s*月[底末]|end of next month", words):
        return month_end(_next_month(said.today))
    return None


def _named_month_day(said: _Said) -> date | None:
    """下个月5号, 本月20日, 这个月15号, 下个月初."""
    found = re.fullmatch(rf"({_NEXT}|{_THIS})\s*月\s*(?:({_NUM})\s*[号日]|(初))", said.words)
    if found is None:
        return None
    first = said.today.replace(day=1)
    if found[1].startswith(("下", "next")):
        first = _next_month(said.today)
    if found[3]:
        return first
    day = chinese_number(found[2])
    return None if day is None else _in_month(first, day)


def _full_date(said: _Said) -> date | None:
    found = re.fullmatch(
        r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?", said.words
    )
    if found is None:
        return None
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None


def _month_and_day(said: _Said) -> date | None:
    """`12/5`, `12-5`, `12.5`, `12月5日`, `十二月五号`, `Dec 5`, `5th of December`."""
    numeric = re.fullmatch(rf"({_NUM})\s*(?:[-/.]|月)\s*({_NUM})\s*[日号]?", said.words)
    if numeric:
        month, day = chinese_number(numeric[1]), chinese_number(numeric[2])
        return None if month is None or day is None else _nearest(month, day, said.today)
    names = "|".join(_MONTHS_EN)
    en = re.fullmatch(
        rf"(?:({names})[a-z]*\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?"
        rf"|(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({names})[a-z]*\.?)(?:,?\s*(\d{{4}}))?",
        said.words,
    )
    if en is None:
        return None
    month = _MONTHS_EN[en[1] or en[4]]
    day = int(en[2] or en[3])
    if en[5]:
        try:
            return date(int(en[5]), month, day)
        except ValueError:
            return None
    return _nearest(month, day, said.today)


def _duration(said: _Said) -> date | None:
    """`3天内`, `三天`, `两周`, `一个月内`, `within 3 days`, `in a week`, `2 weeks`."""
    words = said.words
    cn = re.fullmatch(rf"({_NUM})\s*个?\s*(天|日|周|星期|礼拜|月)(?:后|以后|之后)?", words)
    en = re.fullmatch(r"(\d{1,3}|[a-z]+)\s+(day|week|month)s?(?:\s+(?:from now|later))?", words)
    if cn is None and en is None:
        return None
    if cn is not None:
        count, unit = _count(cn[1]), {"天": "day", "日": "day", "月": "month"}.get(cn[2], "week")
        if cn[2] == "日" and not said.within:
            return None  # "3日" alone is the 3rd of a month
    else:
        assert en is not None
        count, unit = _count(en[1]), en[2]
    if count is None or count > 400:
        return None
    if unit == "month":
        return _add_months(said.today, count)
    return said.today + timedelta(days=count * (7 if unit == "week" else 1))


def _day_of_month(said: _Said) -> date | None:
    """`15号`, `十五日`, `the 15th`: this month's, or next month's once it has passed."""
    found = re.fullmatch(rf"({_NUM})\s*[号日]|(\d{{1,2}})(?:st|nd|rd|th)", said.words)
    if found is None:
        return None
    day = chinese_number(found[1] or found[2])
    if day is None:
        return None
    today = said.today
    first = today.replace(day=1) if day >= today.day else _next_month(today)
    return _in_month(first, day)


_READERS: tuple[Callable[[_Said], date | None], ...] = (
    _relative,
    _weekend,
    _weekday,
    _month_end,
    _named_month_day,
    _full_date,
    _month_and_day,
    _duration,
    _day_of_month,
)


def read_when(text: str, today: date) -> When | None:
    """The day (and part of the day, if named) a person means; None when unclear."""
    words = text.strip().lower().translate(_FULLWIDTH).rstrip("。.!！?？~～")
    for pattern, replacement in _SHORTHANDS:
        words = pattern.sub(replacement, words)
    words = re.sub(r"\s+", " ", _ASIDE.sub(" ", words)).strip()
    words, part = _take_time(words)
    words, before, within = _strip_around(words)
    words = re.sub(r"\s+", " ", words).strip()
    if not words:
        return None
    said = _Said(words, today, before, within)
    readers = (_duration, *_READERS) if within else _READERS
    for reader in readers:
        day = reader(said)
        if day is not None:
            return When(day, part)
    return None


def read_day(text: str, today: date) -> date | None:
    """The day a person means, without the time of day; None when unclear."""
    found = read_when(text, today)
    return found.day if found else None
