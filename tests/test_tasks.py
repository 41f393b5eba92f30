"""Staff take a repair from its card to the revisit: accept, start, done, confirm, revisit."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from storage.models import Job, Ticket, TicketEvent
from tests.conversations import file_repair, repair_group
from tests.harness import Chat, texts


async def ticket(app) -> Ticket:
    async with app.db.transaction() as s:
        return (await s.exec(select(Ticket))).one()


async def test_card_accept_start_done_confirm_and_revisit(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    wang = repair_group(demo_app, "wang")
    card = (await wang.inbox())[-1]
    assert "待接单" in card.text and "138****0001" in card.text
    assert [b["label"] for b in card.buttons] == ["接单", "转其他部门", "无法处理"]

    said = await wang.press("接单")
    assert "王师傅" in said[-1].text and "已接单" in said[-1].text  # the card, edited
    assert said[-1].payload["card"] == card.payload["card"]
    private = await Chat(demo_app, "wang").inbox()
    assert "13800000001" in texts(private)  # the full number, only in private
    assert "已由 王师傅 接单" in texts(await resident.inbox())

    said = await wang.press("开始处理")
    assert "处理中" in said[-1].text
    said = await wang.press("完成")
    assert "处理情况" in texts(said)
    await wang.say("更换了插座面板")
    await wang.press("跳过")
    said = await wang.say("60")  # out of warranty: a paid repair asks the amount
    assert "¥60.00" not in texts(said) and "60.00" in texts(said)
    said = await wang.press("确认提交")
    assert "已标记完成" in texts(said)
    told = await resident.inbox()
    assert "更换了插座面板" in texts(told) and "¥60.00" in texts(told)

    said = await resident.press("已解决")
    assert "感谢确认" in texts(said)
    assert (await ticket(demo_app)).status == "revisit"

    clock.advance(days=1)
    await demo_app.engine.run_jobs(__import__("dialogs.registry").registry.all_jobs())
    assert await resident.inbox() == []  # not due yet
    clock.advance(days=1, minutes=1)
    await demo_app.engine.run_jobs(__import__("dialogs.registry").registry.all_jobs())
    said = await resident.inbox()
    assert "回访" in texts(said)
    await resident.press("开始回访")
    await resident.press("5 分")
    await resident.press("解决了")
    await resident.press("跳过")
    said = await resident.press("确认提交")
    assert "感谢您的反馈" in texts(said)
    done = await ticket(demo_app)
    assert done.status == "closed" and done.details["revisit"]["satisfaction"] == 5
    async with demo_app.db.transaction() as s:
        events = (await s.exec(select(TicketEvent).order_by(TicketEvent.id))).all()
    assert [e.to_status for e in events if e.to_status] == [
        "new",
        "accepted",
        "in_progress",
        "done",
        "revisit",
        "closed",
    ]


def all_jobs():
    from dialogs.registry import all_jobs as jobs

    return jobs()


async def accepted_and_started(app, wang: Chat) -> None:
    await wang.inbox()
    await wang.press("接单")
    await wang.press("开始处理")


async def finish(wang: Chat, note: str = "已处理", amount: str | None = "50") -> None:
    await wang.press("完成")
    await wang.say(note)
    await wang.press("跳过")
    if amount is not None:
        await wang.say(amount)
    await wang.press("确认提交")


async def test_two_staff_racing_to_accept_first_press_wins(demo_app):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    wang, liu = repair_group(demo_app, "wang"), repair_group(demo_app, "liu")
    await wang.inbox()
    value = wang.last[-1].button("接单")
    results = await asyncio.gather(wang.send(option=value), liu.send(option=value))
    said = texts(results[0] + results[1])
    assert said.count("已由") == 1  # the loser is told who took it
    done = await ticket(demo_app)
    async with demo_app.db.transaction() as s:
        accepts = (await s.exec(select(TicketEvent).where(TicketEvent.action == "accept"))).all()
    assert len(accepts) == 1 and done.assignee_id is not None


async def test_leak_repair_revisited_three_days_after_the_leak_test(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await file_repair(resident, "水管", "厨房水槽下水管漏水")
    wang = repair_group(demo_app, "wang")
    await accepted_and_started(demo_app, wang)
    await finish(wang)
    said = texts(wang.last)
    assert "试漏后三天内" in said
    clock.advance(days=3)
    await demo_app.engine.run_jobs(all_jobs())
    assert "回访" not in texts(await resident.inbox())  # no leak test yet, no revisit
    said = await wang.press("已试漏")  # Sunday 09:00: the window runs to Wednesday 09:00
    assert "2026-12-02 09:00" in texts(said)
    clock.advance(hours=24, minutes=59)  # the morning after the leak test, at ten
    await demo_app.engine.run_jobs(all_jobs())
    assert "回访" not in texts(await resident.inbox())
    clock.advance(minutes=2)
    await demo_app.engine.run_jobs(all_jobs())
    assert "回访" in texts(await resident.inbox())


async def test_no_answer_goes_to_the_desk_by_phone_and_a_bad_revisit_is_rework(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    wang = repair_group(demo_app, "wang")
    await accepted_and_started(demo_app, wang)
    await finish(wang)
    clock.advance(days=2, minutes=1)
    await demo_app.engine.run_jobs(all_jobs())
    assert "回访" in texts(await resident.inbox())
    clock.advance(hours=24, minutes=1)
    await demo_app.engine.run_jobs(all_jobs())
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    said = await desk.inbox()
    assert "电话回访" in texts(said) and "13800000001" not in texts(said)
    await desk.press("我来回访")
    li = Chat(demo_app, "li")
    assert "13800000001" in texts(await li.inbox())
    await li.press("记录回访结果")
    await li.press("2 分")
    await li.press("没有解决")
    await li.say("插座还是没电")
    said = await li.press("确认提交")
    assert "回访已记录" in texts(said)
    rework = await wang.inbox()
    assert "返修" in texts(rework) and "插座还是没电" in texts(rework)
    again = await ticket(demo_app)
    assert again.status == "accepted" and again.reopen_count == 1
    assert again.details["last_revisit"]["by"] == "phone"
    # The resident's own revisit button is no longer valid once the desk recorded it.
    said = await resident.press("开始回访")
    assert "失效" in texts(said) or "已经回访" in texts(said)


async def test_not_yet_reopens_and_counts(demo_app):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    wang = repair_group(demo_app, "wang")
    await accepted_and_started(demo_app, wang)
    await finish(wang)
    await resident.inbox()
    said = await resident.press("还没解决")
    assert "重新派给师傅" in texts(said)
    assert "还没解决" in texts(await Chat(demo_app, "wang").inbox())
    reopened = await ticket(demo_app)
    assert reopened.status == "accepted" and reopened.reopen_count == 1
    async with demo_app.db.transaction() as s:
        assert (await s.exec(select(Job).where(Job.kind == "revisit_ask"))).all() == []
    await wang.inbox()
    await wang.press("开始处理")
    await finish(wang, "更换了整个插座")
    async with demo_app.db.transaction() as s:
        asks = (await s.exec(select(Job).where(Job.kind == "revisit_ask"))).all()
    assert len(asks) == 1  # still exactly one revisit for the repair


async def test_handover_transfer_and_cannot_do(demo_app):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    wang = repair_group(demo_app, "wang")
    await wang.inbox()
    await wang.press("接单")
    said = await wang.press("转交同事")
    said = await wang.press("刘师傅")
    assert "刘师傅" in said[-1].text
    assert "13800000001" in texts(await Chat(demo_app, "liu").inbox())
    liu = repair_group(demo_app, "liu")
    liu.keyboard = said[-1]
    said = await liu.press("转其他部门")
    said = await liu.press("环境部")
    assert "已转交 环境部（清洁）" in said[0].text
    cleaning = Chat(demo_app, "zhou", chat_id="group:XFL:cleaning", kind="group")
    card = (await cleaning.inbox())[-1]
    assert "待接单" in card.text
    moved = await ticket(demo_app)
    assert moved.department == "cleaning" and moved.assignee_id is None
    # repair staff no longer act on it; the supervisor does, and gives up with a reason
    said = await liu.send(option=f"act:t_accept:{moved.id}")
    assert "没有权限" in texts(said)
    await cleaning.press("无法处理")
    await cleaning.say("需要业主自行联系燃气公司")
    said = await cleaning.press("确认提交")
    assert "已记录" in texts(said)
    assert "需要业主自行联系燃气公司" in texts(await resident.inbox())
    assert (await ticket(demo_app)).status == "cannot_do"


async def test_residents_and_other_departments_cannot_press_staff_buttons(demo_app):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    job = await ticket(demo_app)
    for value in (
        f"act:t_accept:{job.id}",
        f"act:t_moveto:{job.id}:security",
        f"flow:task_done:{job.id}",
        f"act:rv_take:{job.id}",
    ):
        said = await resident.send(option=value)
        assert "没有权限" in texts(said) or "失效" in texts(said)
    guard = Chat(demo_app, "zhao", chat_id="group:XFL:security", kind="group")
    said = await guard.send(option=f"act:t_accept:{job.id}")
    assert "没有权限" in texts(said)
    assert (await ticket(demo_app)).status == "new"


async def test_quiet_hours_hold_pushes_until_morning(demo_app, clock):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from storage.models import Outbox

    clock.set(datetime(2026, 11, 26, 23, 30, tzinfo=ZoneInfo("Asia/Shanghai")))
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    wang = repair_group(demo_app, "wang")
    assert await wang.inbox() == []  # held back
    async with demo_app.db.transaction() as s:
        held = (await s.exec(select(Outbox).where(Outbox.chat_id == "group:XFL:repair"))).one()
    assert held.not_before.astimezone(ZoneInfo("Asia/Shanghai")).hour == 7
    clock.set(datetime(2026, 11, 27, 7, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert "R-261126-0001" in texts(await wang.inbox())


async def test_an_urgent_repair_goes_out_at_night(demo_app, clock):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    clock.set(datetime(2026, 11, 26, 23, 30, tzinfo=ZoneInfo("Asia/Shanghai")))
    resident = Chat(demo_app, "resident")
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    await resident.press("燃气")
    await resident.say("厨房里有很重的煤气味")  # an emergency: filed at once
    wang = repair_group(demo_app, "wang")
    assert "煤气味" in texts(await wang.inbox())
    assert (await ticket(demo_app)).urgent is True
