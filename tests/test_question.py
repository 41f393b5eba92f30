"""Questions (咨询): common topics answered at once; other questions answered by staff."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import select

from handlers.rules.question import monthly_charges, next_working_day, reply_by
from storage.models import AuditLog, DialogState, Ticket, TicketEvent
from tests.harness import Chat, texts

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_reply_by_the_end_of_the_next_working_day():
    thursday = datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)
    assert reply_by(thursday, SHANGHAI) == datetime(2026, 11, 27, 18, 0, tzinfo=SHANGHAI)
    friday_night = datetime(2026, 11, 27, 23, 0, tzinfo=SHANGHAI)
    assert reply_by(friday_night, SHANGHAI) == datetime(2026, 11, 30, 18, 0, tzinfo=SHANGHAI)
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)
    assert next_working_day(saturday.date()).isoformat() == "2026-11-30"


def test_monthly_charges_add_the_public_energy_share():
    assert monthly_charges(Decimal("2.50"), Decimal("89.50")) == (
        Decimal("223.75"),
        Decimal("26.85"),
        Decimal("250.60"),
    )


async def test_common_topics_answered_from_the_menu(demo_app):
    resident = Chat(demo_app, "resident")
    await resident.say("/start")
    said = await resident.press("咨询")
    assert "想了解哪方面" in texts(said)
    said = await resident.press("办公时间")
    assert "08:30-18:00" in texts(said) and "0571-88880000" in texts(said)
    assert "想了解哪方面" in said[-1].text  # the topics again, for the next question
    said = await resident.press("物业费收费标准")
    answer = texts(said)
    assert "¥2.50" in answer and "¥0.30" in answer
    assert "3栋2单元1201" in answer and "¥250.60" in answer  # her own flat: 89.5 m²
    said = await resident.say("快递放哪里了")  # typed instead of picked
    assert "代收快递" in texts(said)
    said = await resident.say("菜单")
    assert "请问有什么可以帮您" in texts(said)
    async with demo_app.db.transaction() as s:
        assert (await s.exec(select(Ticket))).all() == []  # answers need no ticket


async def test_a_question_typed_at_the_menu_is_answered_at_once(demo_app):
    resident = Chat(demo_app, "resident")
    said = await resident.say("请问物业几点下班？")
    assert "办公时间是 08:30-18:00" in texts(said)
    assert "咨询其他问题" in [b["label"] for b in said[-1].buttons]
    async with demo_app.db.transaction() as s:
        state = await s.get(DialogState, ("console", "resident", "resident"))
        assert state is not None and state.mode == "menu"
    said = await resident.press("咨询其他问题")
    assert "想了解哪方面" in texts(said)


async def test_other_question_answered_by_staff_and_relayed(demo_app):
    resident = Chat(demo_app, "resident")
    await resident.say("/question")
    said = await resident.press("其他问题")
    assert "写下您想咨询的问题" in texts(said)
    said = await resident.say("小区游泳池冬天开放吗？")
    assert "请确认您的问题" in texts(said)
    said = await resident.press("确认提交")
    assert "Q-261126-0001" in texts(said) and "2026-11-27 18:00" in texts(said)

    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    card = texts(await desk.inbox())
    assert "小区游泳池冬天开放吗" in card and "/answer Q-261126-0001" in card

    said = await desk.say("/answer Q-261126-0001 冬天游泳池暂停开放，明年5月重新开放。")
    assert "已把答复转给住户" in texts(said)
    relayed = texts(await resident.inbox())
    assert "关于您的咨询 Q-261126-0001" in relayed
    assert "冬天游泳池暂停开放，明年5月重新开放。" in relayed and "李敏" in relayed
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
        events = (await s.exec(select(TicketEvent).where(TicketEvent.action == "answered"))).all()
        audits = (await s.exec(select(AuditLog).where(AuditLog.action == "question_answer"))).all()
    assert ticket.kind == "question" and ticket.status == "closed"
    assert ticket.due_at == datetime(2026, 11, 27, 18, 0, tzinfo=SHANGHAI)
    assert [e.note for e in events] == ["冬天游泳池暂停开放，明年5月重新开放。"]
    assert [a.target for a in audits] == ["Q-261126-0001"]

    said = await desk.say("/answer Q-261126-0001 再补充一句")
    assert "已经答复并关闭" in texts(said)


async def test_english_question_gets_the_answer_in_an_english_wrapper(demo_app):
    resident = Chat(demo_app, "resident")
    await resident.say("/lang en")
    said = await resident.say("Is there a spare key service for the bike room?")
    assert "Please confirm your question" in texts(said)  # routed, the question filled in
    said = await resident.press("Submit")
    assert "recorded as Q-261126-0001" in texts(said)
    assert "by 2026-11-27 18:00" in texts(said)

    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await desk.inbox()
    await desk.say("/answer q-261126-0001 可以，带身份证到客服中心登记借用。")
    relayed = texts(await resident.inbox())
    assert "here is the answer to your question Q-261126-0001" in relayed
    assert "可以，带身份证到客服中心登记借用。" in relayed


async def test_english_common_topics(demo_app):
    resident = Chat(demo_app, "resident")
    await resident.say("/lang en")
    await resident.say("/question")
    said = await resident.press("Pets")
    assert "leash" in texts(said)
    said = await resident.say("when is the next water cut?")
    assert "notice board" in texts(said) and "0571-88880000" in texts(said)
    said = await resident.press("Renovation")
    assert "housing authority" in texts(said)


async def test_only_staff_answer_and_only_known_questions(demo_app):
    resident = Chat(demo_app, "resident")
    said = await resident.say("/answer Q-261126-0001 hello")
    assert "没有权限" in texts(said)
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    said = await desk.say("/answer")
    assert "用法" in texts(said)
    said = await desk.say("/answer Q-261126-0099 不存在的单")
    assert "没有找到" in texts(said)
