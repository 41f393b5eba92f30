"""Recording a unit's meter readings (water, electricity, gas), each never below the last."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.rules import readings as rules
from storage.models import MeterReading


async def last_reading(session: AsyncSession, unit_id: int, meter: str) -> MeterReading | None:
    """The meter's latest reading for the unit, if any."""
    rows = await session.exec(
        select(MeterReading)
        .where(MeterReading.unit_id == unit_id, MeterReading.meter == meter)
        .order_by(col(MeterReading.at).desc(), col(MeterReading.id).desc())
        .limit(1)
    )
    return rows.first()


async def record(
    session: AsyncSession,
    *,
    unit_id: int,
    meter: str,
    value: Decimal,
    purpose: str,
    read_by: str,
    now: datetime,
) -> tuple[MeterReading, Decimal]:
    """Store a reading and return it with the units used since the previous one.

    Raises `rules.ReadingError("below_previous")` when it is lower than the last.
    """
    if meter not in rules.METERS:
        raise ValueError(f"unknown meter {meter!r}")
    previous = await last_reading(session, unit_id, meter)
    before = previous.value if previous else None
    rules.check_reading(value, before)
    reading = MeterReading(
        unit_id=unit_id, meter=meter, value=value, purpose=purpose, read_by=read_by, at=now
    )
    session.add(reading)
    await session.flush()
    return reading, rules.used(before, value)


async def readings_of(session: AsyncSession, unit_id: int) -> list[MeterReading]:
    """All of a unit's readings, oldest first."""
    rows = await session.exec(
        select(MeterReading)
        .where(MeterReading.unit_id == unit_id)
        .order_by(col(MeterReading.at), col(MeterReading.id))
    )
    return list(rows.all())
