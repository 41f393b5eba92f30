"""A unit's stage and its history (UnitEvent): every change says who and when."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.rules import unit_life as rules
from storage import audit
from storage.models import Unit, UnitEvent, UnitStage


class StageRefused(Exception):
    """The unit cannot go from its stage to the one asked for."""

    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"{current} -> {wanted}")
        self.current = current
        self.wanted = wanted


async def move(
    session: AsyncSession,
    unit: Unit,
    to: UnitStage,
    *,
    actor: str,
    now: datetime,
    note: str = "",
) -> UnitEvent:
    """Move `unit` to stage `to`, recorded and audited; refused if its life forbids it."""
    if not rules.may_move(unit.stage, to):
        raise StageRefused(unit.stage, to)
    assert unit.id is not None
    event = UnitEvent(
        unit_id=unit.id, at=now, actor=actor, from_stage=unit.stage, to_stage=to, note=note
    )
    unit.stage = to
    session.add(unit)
    session.add(event)
    await audit.record(
        session,
        actor=actor,
        action="unit.stage",
        target=f"unit:{unit.id}",
        detail={"from": event.from_stage, "to": str(to), "note": note},
        now=now,
    )
    return event


async def history(session: AsyncSession, unit_id: int) -> list[UnitEvent]:
    """The unit's changes of stage, oldest first."""
    rows = await session.exec(
        select(UnitEvent).where(UnitEvent.unit_id == unit_id).order_by(col(UnitEvent.id))
    )
    return list(rows.all())


async def stage_before(session: AsyncSession, unit_id: int, stage: UnitStage) -> str | None:
    """The stage the unit was at before it last entered `stage` (custody ends back there)."""
    rows = await session.exec(
        select(UnitEvent)
        .where(UnitEvent.unit_id == unit_id, UnitEvent.to_stage == stage)
        .order_by(col(UnitEvent.id).desc())
        .limit(1)
    )
    last = rows.first()
    return last.from_stage if last else None


async def move_back(
    session: AsyncSession,
    unit: Unit,
    leaving: UnitStage,
    *,
    otherwise: UnitStage,
    actor: str,
    now: datetime,
    note: str = "",
) -> UnitEvent | None:
    """End a custody or a renovation: a unit at `leaving` goes back to the stage it was at
    before it (`otherwise` when no change was recorded, as for units older than the record);
    a unit no longer at `leaving` stays where it is."""
    if unit.stage != leaving:
        return None
    assert unit.id is not None
    before = await stage_before(session, unit.id, leaving)
    back = UnitStage(before) if before and before != leaving else otherwise
    return await move(session, unit, back, actor=actor, now=now, note=note)
