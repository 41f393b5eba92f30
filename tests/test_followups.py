"""A follow-up task (`T-…`) a register hands a department: its card reaches the group,
it is worked with the task buttons, nobody outside the office is told, and it climbs the
ladder like any ticket when its deadline passes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select

from dialogs.registry import all_sweeps
from dialogs.sending import send
from handlers.followups import open_task
from storage.models import Community, Department, Outbox, Ticket
from tests.harness import Chat, texts
from tests.test_renovation_passes import staff_context


async def opened(app: Any, due_hours: float = 2) -> Ticket:
    """The desk (李娜) opens a follow-up for security: phone a resident at the gate."""
    async with app.db.transaction() as s:
        community = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        ctx = await staff_context(s, app, "li")
        ticket, cards = await open_task(
            ctx,
            community_id=community.id or 0,
            department=Department.security,
            description="访客王五在东门等候，住户未在聊天中答复：请电话联系住户确认是否放行",
            due_at=app.clock.now() + timedelta(hours=due_hours),
            contact_name="张伟",
            contact_phone="13800000001",
            details={"visit": 1},
        )
        await send(s, cards, catalogs=app.catalogs, settings=app.settings, now=ctx.now)
        return ticket


async def test_a_follow_up_goes_to_its_group_and_is_worked_as_a_task(demo_app: Any) -> None:
    resident = Chat(demo_app, "resident")
    await resident.inbox()
    ticket = await opened(demo_app)
    assert ticket.number.startswith("T-") and ticket.kind == "task"
    guards = Chat(demo_app, "zhao", chat_id="group:XFL:security", kind="group")
    card = texts(await guards.inbox())
    assert ticket.number in card and "请电话联系住户" in card and "跟进事务" in card
    assert "上门时间" not in card and "收费" not in card  # not a repair: no visit, no charge
    assert "13800000001" not in card  # masked in the group
    await guards.press("接单")
    private = texts(await Chat(demo_app, "zhao").inbox())
    assert "13800000001" in private  # the full number to the one who took it
    assert "请电话联系住户" in private and "上门前" not in private
    await guards.press("开始处理")
    await guards.press("完成")
    await guards.say("已电话联系，住户同意放行")
    await guards.press("跳过")
    said = texts(await guards.press("确认提交"))
    assert ticket.number in said
    async with demo_app.db.transaction() as s:
        done = await s.get(Ticket, ticket.id)
        told = (await s.exec(select(Outbox).where(Outbox.chat_id == "resident"))).all()
    assert done is not None and done.status == "done"
    assert told == [] and await resident.inbox() == []  # the office's own work


async def test_an_unworked_follow_up_climbs_the_ladder(demo_app: Any, clock: Any) -> None:
    ticket = await opened(demo_app, due_hours=1)
    clock.advance(hours=6)
    for check in all_sweeps():
        await demo_app.engine.sweep(check)
    async with demo_app.db.transaction() as s:
        pushed = (await s.exec(select(Outbox))).all()
    late = [row for row in pushed if ticket.number in str(row.payload.get("text", ""))]
    steps = {(row.chat_id, row.payload.get("key")) for row in late}
    assert ("group:XFL:security", "escalation.overdue") in steps  # the group is told
    assert ("zhou", "escalation.supervisor") in steps  # then the supervisor on duty
