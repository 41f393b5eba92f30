"""Dates as people type them (handlers/rules/dates.py), read against a fixed "today".

Each table gives what a resident types and the day they mean, seen from one day of the
calendar: a Thursday (the demo's 2026-11-26), a Saturday and a Sunday (the weekend itself),
the last day of a month, the last day of the year, and a month end before a short month.
"""

from __future__ import annotations

from datetime import date

import pytest

from handlers.rules.dates import When, examples, read_day, read_when

THURSDAY = date(2026, 11, 26)
SATURDAY = date(2026, 11, 28)
SUNDAY = date(2026, 11, 29)
MONTH_END = date(2026, 11, 30)  # a Monday
YEAR_END = date(2026, 12, 31)  # a Thursday
JANUARY_END = date(2027, 1, 31)  # a Sunday, before a 28-day February


@pytest.mark.parametrize(
    ("said", "day"),
    [
        # absolute, as before
        ("2026-12-05", date(2026, 12, 5)),
        ("2026/12/5", date(2026, 12, 5)),
        ("2026年12月5日", date(2026, 12, 5)),
        ("２０２６－１２－０１", date(2026, 12, 1)),
        ("12/5", date(2026, 12, 5)),
        ("12月5日", date(2026, 12, 5)),
        ("十二月五号", date(2026, 12, 5)),
        ("11/28（周六）", date(2026, 11, 28)),
        ("Dec 5", date(2026, 12, 5)),
        ("5th of December", date(2026, 12, 5)),
        ("1/5", date(2027, 1, 5)),  # January is next year's
        ("11/20", date(2026, 11, 20)),  # in the past: the caller refuses it
        ("15号", date(2026, 12, 15)),  # the 15th has passed this month
        ("the 28th", date(2026, 11, 28)),
        # relative
        ("今天", THURSDAY),
        ("明天", date(2026, 11, 27)),
        ("tomorrow", date(2026, 11, 27)),
        ("后天之前", date(2026, 11, 28)),
        ("大后天", date(2026, 11, 29)),
        ("下周一", date(2026, 11, 30)),
        ("下下周一", date(2026, 12, 7)),
        ("周五前", date(2026, 11, 27)),
        ("本周二", date(2026, 11, 24)),  # past: refused by the caller
        ("请在下周一之前解决", date(2026, 11, 30)),
        ("这个周末之前", date(2026, 11, 27)),  # before the weekend starts
        ("周末前", date(2026, 11, 27)),
        ("by the weekend", date(2026, 11, 27)),
        ("周末", SATURDAY),
        ("this weekend", SATURDAY),
        ("下周末", date(2026, 12, 5)),
        ("月底", MONTH_END),
        ("月底前", MONTH_END),
        ("end of month", MONTH_END),
        ("by the end of the month", MONTH_END),
        ("下个月底", date(2026, 12, 31)),
        ("下个月5号", date(2026, 12, 5)),
        ("本月28日", date(2026, 11, 28)),
        ("3天内", date(2026, 11, 29)),
        ("三天之内", date(2026, 11, 29)),
        ("3日内", date(2026, 11, 29)),  # days, not the 3rd
        ("3日", date(2026, 12, 3)),  # the 3rd
        ("两周内", date(2026, 12, 10)),
        ("一个月内", date(2026, 12, 26)),
        ("within 3 days", date(2026, 11, 29)),
        ("in a week", date(2026, 12, 3)),
        ("next Monday", date(2026, 11, 30)),
        ("next friday", date(2026, 11, 27)),  # the first Friday after today
        ("by Friday", date(2026, 11, 27)),
        # not days
        ("2/30", None),
        ("soon", None),
        ("下周", None),
        ("下午", None),
        ("某天", None),
        ("", None),
    ],
)
def test_what_a_resident_means_on_a_thursday(said, day):
    assert read_day(said, THURSDAY) == day


@pytest.mark.parametrize(
    ("said", "when"),
    [
        ("明天上午", When(date(2026, 11, 27), "morning")),
        ("明早", When(date(2026, 11, 27), "morning")),
        ("后天下午", When(date(2026, 11, 28), "afternoon")),
        ("明天下午3点", When(date(2026, 11, 27), "afternoon")),
        ("明天15:00", When(date(2026, 11, 27), "afternoon")),
        ("明天3点", When(date(2026, 11, 27), None)),  # 3 am or pm: not said
        ("周六傍晚", When(SATURDAY, "evening")),
        ("下周一上午9点左右", When(date(2026, 11, 30), "morning")),
        ("tomorrow morning", When(date(2026, 11, 27), "morning")),
        ("tomorrow at 3pm", When(date(2026, 11, 27), "afternoon")),
        ("tonight", When(THURSDAY, "evening")),
        ("12月5日中午", When(date(2026, 12, 5), None)),
    ],
)
def test_a_time_of_day_gives_the_day_and_keeps_the_part(said, when):
    assert read_when(said, THURSDAY) == when


@pytest.mark.parametrize(
    ("said", "on_saturday", "on_sunday"),
    [
        ("周末", SATURDAY, SUNDAY),  # the weekend is already here: today
        ("周末前", SATURDAY, SUNDAY),
        ("by the weekend", SATURDAY, SUNDAY),
        ("下周末", date(2026, 12, 5), date(2026, 12, 5)),
        ("下周一", date(2026, 11, 30), date(2026, 11, 30)),  # on a Sunday: tomorrow
        ("周五", date(2026, 12, 4), date(2026, 12, 4)),  # the coming one
        ("next friday", date(2026, 12, 4), date(2026, 12, 4)),
        ("明天", SUNDAY, MONTH_END),
    ],
)
def test_said_at_the_weekend(said, on_saturday, on_sunday):
    assert read_day(said, SATURDAY) == on_saturday
    assert read_day(said, SUNDAY) == on_sunday


@pytest.mark.parametrize(
    ("said", "day"),
    [
        ("月底", MONTH_END),  # today
        ("end of month", MONTH_END),
        ("明天", date(2026, 12, 1)),
        ("下个月5号", date(2026, 12, 5)),
        ("下个月底", date(2026, 12, 31)),
        ("这个周末之前", date(2026, 12, 4)),
        ("周末", date(2026, 12, 5)),
        ("3天内", date(2026, 12, 3)),
        ("15号", date(2026, 12, 15)),
        ("30号", MONTH_END),
    ],
)
def test_said_on_the_last_day_of_a_month(said, day):
    assert read_day(said, MONTH_END) == day


@pytest.mark.parametrize(
    ("said", "day"),
    [
        ("明天", date(2027, 1, 1)),
        ("后天下午", date(2027, 1, 2)),
        ("下个月5号", date(2027, 1, 5)),
        ("月底", YEAR_END),
        ("1/2", date(2027, 1, 2)),
        ("1月2日", date(2027, 1, 2)),
        ("12/30", date(2026, 12, 30)),  # yesterday, not next December
        ("2号", date(2027, 1, 2)),
        ("下周一", date(2027, 1, 4)),
        ("next friday", date(2027, 1, 1)),
        ("周末前", date(2027, 1, 1)),
    ],
)
def test_said_on_the_last_day_of_the_year(said, day):
    assert read_day(said, YEAR_END) == day


@pytest.mark.parametrize(
    ("said", "day"),
    [
        ("下个月5号", date(2027, 2, 5)),
        ("下个月底", date(2027, 2, 28)),
        ("一个月内", date(2027, 2, 28)),  # no 31 February: its last day
        ("下个月30号", None),
        ("12/1", date(2026, 12, 1)),  # the December just gone, not next December
        ("周末", JANUARY_END),  # a Sunday
    ],
)
def test_said_at_the_end_of_january(said, day):
    assert read_day(said, JANUARY_END) == day


def test_examples_are_written_the_ways_the_reader_takes():
    assert examples(date(2026, 11, 27)) == {"example": "2026-11-27", "example_short": "11/27"}
    for written in examples(date(2027, 1, 3)).values():
        assert read_day(written, YEAR_END) == date(2027, 1, 3)
