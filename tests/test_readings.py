"""Meter readings as people type them, never below the last one for the same meter."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from handlers import readings
from handlers.rules.readings import ReadingError, check_reading, parse_reading, used
from storage.models import Unit


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("1234", "1234"),
        ("1234.5", "1234.5"),
        ("１２３４", "1234"),
        ("1,234 度", "1234"),
        ("56.78吨", "56.78"),
        (" 0 ", "0"),
    ],
)
def test_a_reading_as_typed(typed: str, value: str) -> None:
    assert parse_reading(typed) == Decimal(value)


@pytest.mark.parametrize("typed", ["", "abc", "-5", "1e3", "1.234", "12.3.4", "99999999"])
def test_what_is_not_a_reading(typed: str) -> None:
    with pytest.raises(ReadingError) as refused:
        parse_reading(typed)
    assert refused.value.reason == "not_a_number"


def test_a_meter_only_counts_up() -> None:
    assert check_reading(Decimal("120"), Decimal("100")) == Decimal("120")
    assert check_reading(Decimal("100"), Decimal("100")) == Decimal("100")
    assert check_reading(Decimal("5"), None) == Decimal("5")
    with pytest.raises(ReadingError) as refused:
        check_reading(Decimal("99.5"), Decimal("100"))
    assert refused.value.reason == "below_previous" and refused.value.previous == Decimal("100")
    assert used(Decimal("100"), Decimal("106.5")) == Decimal("6.5")
    assert used(None, Decimal("100")) == Decimal("0")


async def test_readings_are_kept_per_meter(demo_app, clock) -> None:
    async with demo_app.db.transaction() as session:
        unit = (await session.exec(select(Unit))).first()
        assert unit is not None and unit.id is not None
        _, first = await readings.record(
            session,
            unit_id=unit.id,
            meter="water",
            value=Decimal("100"),
            purpose="movein",
            read_by="staff:1",
            now=clock.now(),
        )
        await readings.record(
            session,
            unit_id=unit.id,
            meter="power",
            value=Decimal("5000"),
            purpose="movein",
            read_by="staff:1",
            now=clock.now(),
        )
        later = clock.now() + timedelta(days=30)
        _, month = await readings.record(
            session,
            unit_id=unit.id,
            meter="water",
            value=Decimal("104.5"),
            purpose="monthly",
            read_by="staff:1",
            now=later,
        )
        with pytest.raises(ReadingError):
            await readings.record(
                session,
                unit_id=unit.id,
                meter="water",
                value=Decimal("90"),
                purpose="monthly",
                read_by="staff:1",
                now=later,
            )
        kept = await readings.readings_of(session, unit.id)
    assert first == Decimal("0") and month == Decimal("4.5")
    assert [(r.meter, r.value) for r in kept] == [
        ("water", Decimal("100")),
        ("power", Decimal("5000")),
        ("water", Decimal("104.5")),
    ]
