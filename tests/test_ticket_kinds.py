"""Tickets of every kind look and read like themselves: cards, staff prompts, resident
messages, `/ticket`; a cancelled or reopened ticket says so; staff have their own menu
and help; `/tasks` brings any open card back."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from dialogs.registry import all_sweeps
from storage.models import Ticket
from tests.conversations import file_repair, finish_repair, repair_group
from tests.harness import Chat, texts
from tests.test_escalation import file_complaint


async def sweep(app) -> None:
    for check in all_sweeps():
        await app.engine.sweep(check)


async def ask_question(app) -> Ticket:
    resident = Chat(app, "resident")
    await resident.say("/question")
    await resident.press("其他问题")
    await resident.say("小区的电动车充电桩在哪里？")
    await resident.press("确认提交")
    async with app.db.transaction() as s:
        return (await s.exec(select(Ticket).where(Ticket.kind == "question"))).one()


async def test_accepting_a_complaint_keeps_its_own_card_and_words(demo_app):
    ticket = await file_complaint(demo_app, "important")
    resident = Chat(demo_app, "resident")
    await resident.inbox()
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    said = texts(await desk.send(option=f"act:t_accept:{ticket.id}"))
    assert "严重程度" in said and "上门时间" not in said and "免费维修" not in said
    told = texts(await resident.inbox())
    assert "您的投诉" in told and "师傅" not in told
    private = texts(await Chat(demo_app, "li").inbox())
    assert "给出明确答复" in private and "上门前" not in private


async def test_a_question_taken_from_tasks_keeps_the_question_card(demo_app):
    ticket = await ask_question(demo_app)
    li = Chat(demo_app, "li")
    listed = await li.say("/tasks")
    assert ticket.number in texts(listed)
    card = await li.press(f"打开 {ticket.number}")
    assert "电动车充电桩" in texts(card)
    said = texts(await li.send(option=f"act:t_accept:{ticket.id}"))
    assert "上门时间" not in said and "类别" not in said
    told = texts(await Chat(demo_app, "resident").inbox())
    assert "您的咨询" in told


async def test_accepting_a_cancelled_ticket_says_it_was_cancelled(demo_app):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    wang = repair_group(demo_app, "wang")
    await wang.inbox()
    accept = wang.last[-1].button("接单")
    await resident.say("/my")
    await resident.press("R-261126-0001")
    await resident.press("取消")
    said = texts(await wang.send(option=accept))
    assert "已取消" in said and "已由" not in said


async def test_a_reopened_repair_gets_a_new_deadline_and_does_not_escalate_at_once(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)  # electrical: 24 hours
    await finish_repair(demo_app)
    clock.advance(days=3)  # well past the first deadline
    await resident.inbox()
    await resident.press("还没解决")
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
    assert ticket.due_at == clock.now() + timedelta(hours=24)
    group, zhou = repair_group(demo_app, "wang"), Chat(demo_app, "zhou")
    await group.inbox(), await zhou.inbox()
    await sweep(demo_app)
    assert "超时" not in texts(await group.inbox()) + texts(await zhou.inbox())


async def test_after_downtime_no_warning_comes_after_the_overdue_notice(demo_app, clock):
    await file_repair(Chat(demo_app, "resident"))
    group = repair_group(demo_app, "wang")
    await group.inbox()
    await group.press("接单")
    wang = Chat(demo_app, "wang")
    await wang.inbox()
    clock.advance(hours=30)  # the bot was down through the warning and the deadline
    await sweep(demo_app)
    assert "即将超时" not in texts(await wang.inbox())
    assert "已超时" in texts(await group.inbox())


async def test_staff_have_their_own_menu_and_help(demo_app):
    wang = Chat(demo_app, "wang")
    menu = await wang.say("菜单")
    labels = [b["label"] for b in menu[-1].buttons]
    assert "我的任务" in labels and "待处理工单" in labels and "报修" not in labels
    help_text = texts(await wang.say("/help"))
    assert "/mytasks" in help_text and "/tasks" in help_text and "/stats" not in help_text
    zhou_help = texts(await Chat(demo_app, "zhou").say("/help"))
    assert "/stats" in zhou_help and "/duty" in zhou_help
    said = await wang.press("我的任务")
    assert "没有未完成的工单" in texts(said)


async def test_ticket_history_reads_as_words_with_the_complaints_kind_and_severity(demo_app):
    ticket = await file_complaint(demo_app, "major")
    said = texts(await Chat(demo_app, "zhou").say(f"/ticket {ticket.number}"))
    assert "complaint_" not in said and "· —" not in said
    assert "有效投诉 · 重大" in said
    assert "确认严重程度：轻微 → 重大" in said


async def test_accepting_an_instalment_request_keeps_the_fee_card(demo_app):
    tenant = Chat(demo_app, "tenant")  # 刘洋, 3栋2单元1202, one month due
    await tenant.say("/fees")
    await tenant.press("申请分期")
    await tenant.say("每月还一部分")
    await tenant.say("最近手头紧")
    await tenant.press("确认提交")
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket).where(Ticket.kind == "fee"))).one()
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await desk.inbox()
    said = texts(await desk.send(option=f"act:t_accept:{ticket.id}"))
    assert "分期" in said and "上门时间" not in said and "免费维修" not in said
    told = texts(await tenant.inbox())
    assert "您的申请" in told and "师傅" not in told


async def test_a_warning_still_queued_is_taken_back_by_the_overdue_notice(demo_app, clock):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    clock.set(datetime(2026, 11, 26, 0, 30, tzinfo=tz))
    await file_repair(Chat(demo_app, "resident"))  # electrical: due 27 Nov 00:30, nobody takes it
    clock.set(datetime(2026, 11, 26, 22, 31, tzinfo=tz))
    await sweep(demo_app)  # the warning, held for the quiet hours
    clock.set(datetime(2026, 11, 27, 0, 31, tzinfo=tz))
    await sweep(demo_app)  # the deadline passed while it still waited
    clock.set(datetime(2026, 11, 27, 7, 0, tzinfo=tz))
    said = texts(await repair_group(demo_app, "wang").inbox())
    assert "已超时" in said and "即将超时" not in said
