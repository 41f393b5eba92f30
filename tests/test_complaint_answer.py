"""A complaint is answered when an answer reached the resident; damage now is called back
within minutes, in one consistent message."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from storage.models import Ticket, TicketEvent
from tests.harness import Chat, texts
from tests.test_escalation import climb, file_complaint, sweep


async def only_complaint(app) -> Ticket:
    async with app.db.transaction() as s:
        return (await s.exec(select(Ticket).where(Ticket.kind == "complaint"))).one()


async def test_damage_happening_now_is_one_message_with_a_contact_time_in_minutes(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await resident.say("我要投诉：楼上漏水淹到我家了，水一直往下流")
    await resident.press("刚刚/正在发生")
    await resident.press("3栋2单元1201")
    await resident.press("维修部")
    await resident.press("尽快")  # what they want: have it fixed
    await resident.press("跳过")
    await resident.press("跳过")
    await resident.press("张伟")
    await resident.press("13800000001")
    said = await resident.press("确认提交")
    told = texts(said)
    assert len(said) == 1  # one message, not "at once" and then "in 3 days"
    assert "30 分钟内" in told and "2026-11-26 09:30" in told
    assert "进水总阀" in told  # what to do now, for a flood
    ticket = await only_complaint(demo_app)
    assert ticket.urgent and ticket.details["answer_by"].startswith("2026-11-26T09:30")

    # Nobody calls back: half an hour later the department, supervisors and duty hear of it.
    group = Chat(demo_app, "wang", chat_id="group:XFL:repair", kind="group")
    await group.inbox()
    clock.advance(minutes=29)
    await sweep(demo_app)
    assert "未答复" not in texts(await group.inbox())
    await climb(demo_app, clock, clock.now() + timedelta(minutes=2), group, "未答复")


async def test_a_major_complaint_accepted_but_not_answered_still_climbs(demo_app, clock):
    ticket = await file_complaint(demo_app, "major")
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await desk.send(option=f"act:t_accept:{ticket.id}")  # taken up; the resident heard nothing
    chen = Chat(demo_app, "chen")
    await chen.inbox()
    await climb(demo_app, clock, ticket.created_at + timedelta(days=2), chen, "未答复")


async def test_an_answer_relayed_from_the_card_counts_and_reaches_the_resident(demo_app, clock):
    ticket = await file_complaint(demo_app, "major")
    resident = Chat(demo_app, "resident")
    await resident.inbox()
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await desk.send(option=f"flow:complaint_answer:{ticket.id}")  # the card's button
    await desk.press("发消息")
    await desk.say("已联系施工队，今晚起22点后停止施工，明天上午再上门沟通。")
    said = await desk.press("确认提交")
    assert "转告住户" in texts(said)
    assert "22点后停止施工" in texts(await resident.inbox())
    async with demo_app.db.transaction() as s:
        actions = [e.action for e in (await s.exec(select(TicketEvent))).all()]
    assert "answered" in actions
    chen = Chat(demo_app, "chen")
    await chen.inbox()
    clock.set(ticket.created_at + timedelta(days=2, minutes=1))
    await sweep(demo_app)
    assert "未答复" not in texts(await chen.inbox())


async def test_a_phone_call_recorded_with_answer_counts_and_slash_answer_relays(demo_app, clock):
    ticket = await file_complaint(demo_app, "major")
    resident = Chat(demo_app, "resident")
    await resident.inbox()
    li = Chat(demo_app, "li")
    said = await li.say(f"/answer {ticket.number} 已安排明天上午与施工方当面协调。")
    assert "转告住户" in texts(said)
    assert "当面协调" in texts(await resident.inbox())
    assert (await only_complaint(demo_app)).status == "new"  # answered, not closed

    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    card = [s for s in await desk.inbox() if s.payload.get("card") == f"ticket:{ticket.id}"][-1]
    assert "答复住户" in [b["label"] for b in card.buttons]  # the card was drawn again
    await desk.send(option=card.button("答复住户"))
    await desk.press("电话")
    await desk.say("电话沟通，住户同意明天上午协调。")
    said = await desk.press("确认提交")
    assert "电话沟通已记录" in texts(said)
    assert await resident.inbox() == []  # a call is not sent as a message
