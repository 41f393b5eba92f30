"""A unit's life: the stages that may follow each other, and the record of each change."""

from __future__ import annotations

import pytest
from sqlmodel import select

from handlers import unit_life
from handlers.rules.unit_life import is_handed_over, may_move
from storage.models import AuditLog, Unit, UnitStage


@pytest.mark.parametrize(
    ("current", "to", "allowed"),
    [
        ("not_handed_over", "handing_over", True),
        ("not_handed_over", "occupied", False),  # keys are given by the move-in only
        ("not_handed_over", "custody", False),
        ("handing_over", "handed_over", True),
        ("handing_over", "not_handed_over", True),  # a move-in cancelled
        ("handed_over", "renovating", True),
        ("renovating", "occupied", True),
        ("occupied", "custody", True),
        ("custody", "occupied", True),
        ("custody", "custody", False),
        ("occupied", "not_handed_over", False),
        ("nonsense", "occupied", False),
    ],
)
def test_which_stage_may_follow_which(current: str, to: str, allowed: bool) -> None:
    assert may_move(current, to) is allowed


def test_the_warranty_runs_from_the_handover_on() -> None:
    assert not is_handed_over("handing_over")
    assert all(is_handed_over(s) for s in ("handed_over", "renovating", "occupied", "custody"))


async def test_a_change_is_recorded_with_who_and_when(demo_app, clock) -> None:
    async with demo_app.db.transaction() as session:
        unit = (await session.exec(select(Unit))).first()
        assert unit is not None and unit.id is not None
        unit.stage = UnitStage.not_handed_over
        await unit_life.move(
            session, unit, UnitStage.handing_over, actor="staff:1", now=clock.now()
        )
        with pytest.raises(unit_life.StageRefused):
            await unit_life.move(
                session, unit, UnitStage.occupied, actor="staff:1", now=clock.now()
            )
        events = await unit_life.history(session, unit.id)
        audits = (await session.exec(select(AuditLog).where(AuditLog.action == "unit.stage"))).all()
    assert [(e.from_stage, e.to_stage, e.actor) for e in events] == [
        ("not_handed_over", "handing_over", "staff:1")
    ]
    assert events[0].at == clock.now() and len(audits) == 1
    assert unit.stage == "handing_over"


async def test_a_custody_ends_back_where_the_unit_was(demo_app, clock) -> None:
    async with demo_app.db.transaction() as session:
        unit = (await session.exec(select(Unit).where(Unit.stage == "occupied"))).first()
        assert unit is not None and unit.id is not None
        now = clock.now()
        await unit_life.move(session, unit, UnitStage.custody, actor="staff:1", now=now)
        await unit_life.move_back(
            session,
            unit,
            UnitStage.custody,
            otherwise=UnitStage.handed_over,
            actor="staff:1",
            now=now,
        )
        assert unit.stage == "occupied"  # as before the custody, not the fallback
        # A unit no longer renovating is left where it is.
        assert (
            await unit_life.move_back(
                session,
                unit,
                UnitStage.renovating,
                otherwise=UnitStage.occupied,
                actor="staff:1",
                now=now,
            )
            is None
        )
        assert unit.stage == "occupied"
