"""Deadlines climb the ladder as the clock moves: warning, group, supervisor, director."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from dialogs.registry import all_sweeps
from handlers.rules.escalation import Ladder, steps_due
from storage.models import Ticket, TicketEvent
from tests.harness import Chat, texts


def test_ladder_steps_come_in_order_each_once():
    created = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    due = created + timedelta(hours=24)
    ladder = Ladder(warning=2, supervisor=4, director=20)
    assert steps_due(ladder, created, due, due - timedelta(hours=3), []) == []
    assert steps_due(ladder, created, due, due - timedelta(hours=2), []) == ["warning"]
    assert steps_due(ladder, created, due, due, ["warning"]) == ["group"]
    late = due + timedelta(hours=30)
    assert steps_due(ladder, created, due, late, ["warning"]) == ["group", "supervisor", "director"]
    # a short window never warns before a quarter of it is left
    short = created + timedelta(hours=4)
    assert steps_due(ladder, created, short, created + timedelta(hours=2), []) == []
    assert steps_due(ladder, created, short, created + timedelta(hours=3), []) == ["warning"]


async def sweep(app) -> None:
    for check in all_sweeps():
        await app.engine.sweep(check)


async def test_a_late_repair_climbs_step_by_step(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    await resident.press("电路")  # electrical: 24 hours to finish
    await resident.say("客厅插座没电")
    await resident.press("跳过")
    await resident.press("明天上午")
    await resident.press("张伟")
    await resident.press("13800000001")
    await resident.press("确认提交")
    group = Chat(demo_app, "wang", chat_id="group:XFL:repair", kind="group")
    await group.inbox()
    await group.press("接单")
    wang, zhou, chen = Chat(demo_app, "wang"), Chat(demo_app, "zhou"), Chat(demo_app, "chen")
    await wang.inbox()

    clock.advance(hours=21)  # 3 hours before the deadline
    await sweep(demo_app)
    assert await wang.inbox() == []
    clock.advance(hours=1, minutes=1)
    await sweep(demo_app)
    assert "即将超时" in texts(await wang.inbox())
    await sweep(demo_app)
    assert await wang.inbox() == []  # once only
    clock.advance(hours=2)
    await sweep(demo_app)
    assert "已超时" in texts(await group.inbox())
    assert await zhou.inbox() == []
    clock.advance(hours=4)
    await sweep(demo_app)
    assert "请主管跟进" in texts(await zhou.inbox())
    clock.advance(hours=20)
    await sweep(demo_app)
    assert "请主任关注" in texts(await chen.inbox())
    async with demo_app.db.transaction() as s:
        steps = (await s.exec(select(TicketEvent).where(TicketEvent.action == "escalated"))).all()
    assert [e.data["step"] for e in steps] == ["warning", "group", "supervisor", "director"]


async def test_finished_tickets_stop_climbing(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    await resident.press("电路")
    await resident.say("客厅插座没电")
    await resident.press("跳过")
    await resident.press("明天上午")
    await resident.press("张伟")
    await resident.press("13800000001")
    await resident.press("确认提交")
    await resident.say("/my")
    await resident.press("R-261126-0001")
    await resident.press("取消工单")
    clock.advance(days=3)
    await sweep(demo_app)
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
        assert "escalated" not in ticket.details
