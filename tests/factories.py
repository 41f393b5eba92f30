"""Test data builders: a community and its units, flushed so ids are set."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Building, Community, Unit


async def make_community(
    session: AsyncSession, code: str = "XFL", name: str = "幸福里", rate: Decimal = Decimal("2.50")
) -> Community:
    community = Community(code=code, name=name, management_rate=rate)
    session.add(community)
    await session.flush()
    return community


async def make_unit(
    session: AsyncSession,
    community: Community,
    building: str = "3栋",
    label: str = "3栋2单元1201",
    area: Decimal = Decimal("89.50"),
) -> Unit:
    """A unit in `building`, which is created the first time it is named."""
    assert community.id is not None
    found = await session.exec(
        select(Building).where(Building.community_id == community.id, Building.name == building)
    )
    block = found.one_or_none()
    if block is None:
        block = Building(community_id=community.id, name=building)
        session.add(block)
        await session.flush()
    assert block.id is not None
    unit = Unit(community_id=community.id, building_id=block.id, label=label, area_m2=area)
    session.add(unit)
    await session.flush()
    return unit
