"""Renovation rules: working hours as the office writes them, approval, the gate."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from pydantic import ValidationError

from bot.settings import Settings
from handlers.rules.renovation import Plan, approval_blocked, gate_refusal, parse_hours

HOURS = parse_hours("08:00-12:00,14:00-18:00")


def test_hours_as_the_office_writes_them() -> None:
    assert HOURS == ((time(8), time(12)), (time(14), time(18)))
    assert parse_hours("14:00～18:00，8:30-11:30") == (
        (time(8, 30), time(11, 30)),
        (time(14), time(18)),
    )
    assert parse_hours("07:00-24:00")[0][1] == time(23, 59, 59)


@pytest.mark.parametrize("text", ["", "8-12", "12:00-08:00", "25:00-26:00", "08:00-12:00,x"])
def test_hours_that_do_not_read(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hours(text)


def test_a_community_cannot_set_hours_that_do_not_read() -> None:
    with pytest.raises(ValidationError):
        Settings(renovation_hours="all day")


@pytest.mark.parametrize(
    ("structural", "load", "document", "blocked"),
    [
        (False, False, False, None),
        (True, False, False, "needs_authority_approval"),
        (False, True, False, "needs_authority_approval"),
        (True, True, True, None),
    ],
)
def test_structure_and_load_need_the_authority(structural, load, document, blocked) -> None:
    assert approval_blocked(Plan(structural, load, document)) == blocked


@pytest.mark.parametrize(
    ("active", "at", "refusal"),
    [
        (True, datetime(2026, 12, 10, 9, 0), None),
        (True, datetime(2026, 12, 10, 12, 30), "out_of_hours"),  # the lunch break
        (True, datetime(2026, 12, 10, 18, 0), "out_of_hours"),
        (True, datetime(2026, 12, 7, 9, 0), "not_yet"),
        (True, datetime(2026, 12, 21, 9, 0), "expired"),
        (False, datetime(2026, 12, 10, 9, 0), "not_active"),
    ],
)
def test_a_worker_pass_at_the_gate(active, at, refusal) -> None:
    assert (
        gate_refusal(
            active=active,
            valid_from=date(2026, 12, 8),
            valid_to=date(2026, 12, 20),
            hours=HOURS,
            local_now=at,
        )
        == refusal
    )
