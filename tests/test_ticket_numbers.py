"""Ticket numbers: one per ticket, gap-free per community, kind and local day, under load."""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import select

from handlers.core.clock import ManualClock
from storage.db import Database
from storage.models import TicketCounter
from storage.tickets import PREFIXES, create_ticket, get_by_number, next_number
from tests.factories import make_community

SHANGHAI = ZoneInfo("Asia/Shanghai")
NUMBER = re.compile(rf"^[{''.join(PREFIXES.values())}]-\d{{6}}-\d{{4,}}$")


async def _communities(db: Database, *codes: str) -> list[int]:
    ids = []
    async with db.transaction() as session:
        for code in codes:
            community = await make_community(session, code=code, name=code)
            assert community.id is not None
            ids.append(community.id)
    return ids


async def _new_repair(db: Database, community_id: int, now: datetime, kind: str = "repair") -> str:
    async with db.transaction() as session:
        ticket = await create_ticket(
            session,
            community_id=community_id,
            kind=kind,
            department="repair",
            actor="resident:1",
            now=now,
            tz=SHANGHAI,
            description="水管漏水",
        )
        return ticket.number


async def test_fifty_concurrent_creators_get_distinct_numbers(
    database: Database, clock: ManualClock
) -> None:
    (xfl,) = await _communities(database, "XFL")
    numbers = await asyncio.gather(*(_new_repair(database, xfl, clock.now()) for _ in range(50)))
    assert sorted(numbers) == [f"R-261126-{n:04d}" for n in range(1, 51)]
    async with database.transaction() as session:
        found = await get_by_number(session, xfl, "R-261126-0050")
        assert found is not None and found.description == "水管漏水"
        assert await get_by_number(session, xfl, "R-261126-0051") is None


async def test_sequence_restarts_per_community_kind_and_day(
    database: Database, clock: ManualClock
) -> None:
    xfl, hyy = await _communities(database, "XFL", "HYY")
    assert await _new_repair(database, xfl, clock.now()) == "R-261126-0001"
    assert await _new_repair(database, xfl, clock.now()) == "R-261126-0002"
    assert await _new_repair(database, hyy, clock.now()) == "R-261126-0001"
    assert await _new_repair(database, xfl, clock.now(), kind="complaint") == "C-261126-0001"
    clock.advance(days=1)
    assert await _new_repair(database, xfl, clock.now()) == "R-261127-0001"


async def test_day_is_the_community_local_day(database: Database) -> None:
    (xfl,) = await _communities(database, "XFL")
    # 23:30 and 00:30 in Shanghai are the same UTC day (15:30 and 16:30 on the 26th).
    late = datetime(2026, 11, 26, 23, 30, tzinfo=SHANGHAI)
    after_midnight = datetime(2026, 11, 27, 0, 30, tzinfo=SHANGHAI)
    assert await _new_repair(database, xfl, late) == "R-261126-0001"
    assert await _new_repair(database, xfl, after_midnight) == "R-261127-0001"


async def test_number_format_grows_past_four_digits(database: Database) -> None:
    (xfl,) = await _communities(database, "XFL")
    async with database.transaction() as session:
        session.add(TicketCounter(community_id=xfl, prefix="F", day="261126", last=9998))
    async with database.transaction() as session:
        day = date(2026, 11, 26)
        assert await next_number(session, xfl, "fee", day) == "F-261126-9999"
        assert await next_number(session, xfl, "fee", day) == "F-261126-10000"
        counter = (
            await session.exec(select(TicketCounter).where(TicketCounter.prefix == "F"))
        ).one()
        assert counter.last == 10000
        for kind in PREFIXES:
            assert NUMBER.match(await next_number(session, xfl, kind, day))
