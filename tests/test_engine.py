"""Whole conversations through the engine: controls, bad input, expiry, restarts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlmodel import select

from bot.app import App
from bot.settings import Settings
from dialogs import repair
from dialogs.flow import Step
from storage.models import (
    Binding,
    Building,
    ChatIdentity,
    Community,
    DialogState,
    Person,
    StaffGroup,
    Ticket,
    TicketEvent,
    Unit,
)
from tests.harness import Chat, texts


async def seed(app: App) -> None:
    """One community, one bound resident, a repair group on the console."""
    async with app.db.transaction() as s:
        community = Community(code="XFL", name="幸福里", management_rate=Decimal("2.50"))
        s.add(community)
        await s.flush()
        building = Building(community_id=community.id, name="3栋")
        s.add(building)
        await s.flush()
        unit = Unit(
            community_id=community.id,
            building_id=building.id,
            label="3栋2单元1201",
            area_m2=Decimal("89.50"),
            handover_date=date(2020, 5, 1),
        )
        person = Person(
            name="张伟", phone="13800000001", created_at=datetime(2026, 11, 1, tzinfo=UTC)
        )
        s.add_all([unit, person])
        await s.flush()
        s.add(
            Binding(
                person_id=person.id, unit_id=unit.id, role="owner", created_at=person.created_at
            )
        )
        s.add(ChatIdentity(channel="console", external_user_id="zw", person_id=person.id))
        s.add(
            StaffGroup(
                community_id=community.id,
                department="repair",
                channel="console",
                chat_id="group:repair",
            )
        )
        s.add(
            StaffGroup(
                community_id=community.id,
                department="service",
                channel="console",
                chat_id="group:service",
            )
        )


@pytest.fixture
async def app(tmp_path, clock):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db")
    application = await App.start(settings, clock=clock)
    await seed(application)
    yield application
    await application.close()


async def fill_repair_until_summary(resident: Chat) -> None:
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    await resident.press("水管")
    await resident.say("厨房水槽下水管漏水")
    await resident.press("跳过")
    await resident.press("明天上午")
    await resident.press("张伟")
    said = await resident.press("13800000001")
    assert "请核对报修信息" in texts(said)


async def test_whole_repair_request_reaches_the_repair_group(app):
    resident = Chat(app, "zw")
    said = await resident.say("/start")
    assert "您好" in said[0].text and said[-1].buttons
    said = await resident.press("报修")
    assert "哪里" in texts(said)
    said = await resident.press("3栋2单元1201")
    assert "哪一类" in texts(said)
    await resident.press("水管")
    said = await resident.say("厨房水槽下水管漏水")
    assert "照片" in texts(said)
    said = await resident.photo("file-1")
    assert "共 1 张" in texts(said)
    await resident.photo("file-2")
    said = await resident.press("完成")
    assert "什么时间" in texts(said)
    said = await resident.say("周六上午")
    assert "就用：张伟" in said[-1].buttons[0]["label"]
    await resident.press("张伟")
    said = await resident.press("13800000001")
    summary = texts(said)
    assert "厨房水槽下水管漏水" in summary and "周六上午" in summary and "2 张" in summary
    said = await resident.press("确认提交")
    assert "R-261126-0001" in texts(said)

    group = Chat(app, "wang", chat_id="group:repair", kind="group")
    card = await group.inbox()
    assert len(card) == 1
    assert "R-261126-0001" in card[0].text and "138****0001" in card[0].text
    assert "13800000001" not in card[0].text
    async with app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
        assert ticket.category == "water" and ticket.contact_phone == "13800000001"
        assert ticket.details["photos"] == ["file-1", "file-2"]
        assert ticket.paid is True  # handed over in 2020: outside the 24-month warranty
        events = (await s.exec(select(TicketEvent))).all()
        assert [(e.action, e.to_status) for e in events] == [("created", "new")]


async def test_cancel_mid_flow_submits_nothing(app):
    resident = Chat(app, "zw")
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    said = await resident.say("取消")
    assert "已取消" in texts(said)
    said = await resident.say("你好")  # back at the menu, not inside the flow
    assert "哪一类" not in texts(said) and "请选择一项" in texts(said)
    async with app.db.transaction() as s:
        assert (await s.exec(select(Ticket))).all() == []
        state = await s.get(DialogState, ("console", "zw", "zw"))
        assert state is not None and state.mode == "menu" and state.answers == {}


async def test_back_goes_to_the_previous_step_and_keeps_later_answers(app):
    resident = Chat(app, "zw")
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    await resident.press("水管")
    said = await resident.say("返回")
    assert "哪一类" in texts(said)
    said = await resident.press("电路")
    assert "描述" in texts(said)
    await resident.say("客厅插座没电")
    await resident.press("跳过")
    said = await resident.say("/back")
    assert "照片" in texts(said)


async def test_bad_input_is_explained_and_earlier_answers_kept(app):
    resident = Chat(app, "zw")
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    said = await resident.say("随便写点什么")
    assert "请从下面的选项中选择" in texts(said)
    await resident.press("水管")
    said = await resident.photo("file-x")
    assert "需要文字" in texts(said)
    said = await resident.say("漏" * 5000)
    assert "太长" in texts(said) and "5000" in texts(said)
    await resident.say("厨房漏水")
    await resident.press("跳过")
    await resident.press("明天上午")
    await resident.say("张伟")
    said = await resident.say("12345")
    assert "不像是有效的电话号码" in texts(said)
    said = await resident.say("139 1234 5678")
    assert "13912345678" in texts(said) and "厨房漏水" in texts(said)


async def test_typed_number_of_cancel_cancels(app):
    resident = Chat(app, "zw")
    said = await resident.say("/repair")
    cancel = next(i for i, b in enumerate(said[-1].buttons, 1) if b["label"] == "取消")
    said = await resident.say(str(cancel))
    assert "已取消" in texts(said)


async def test_forged_or_stale_button_changes_nothing(app):
    resident = Chat(app, "zw")
    await resident.say("/repair")
    said = await resident.send(option="unit:999")
    assert "失效" in texts(said)
    said = await resident.send(option="act:accept:1")
    assert "失效" in texts(said)
    said = await resident.press("3栋2单元1201")
    assert "哪一类" in texts(said)


async def test_idle_conversation_expires_and_can_resume(app, clock):
    resident = Chat(app, "zw")
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    clock.advance(minutes=45)
    assert await app.engine.expire_idle() == 1
    said = await resident.inbox()
    assert "暂停" in texts(said) and "报修" in texts(said)
    said = await resident.press("接着填写")
    assert "哪一类" in texts(said)


async def test_idle_conversation_noticed_on_arrival_can_restart(app, clock):
    resident = Chat(app, "zw")
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    clock.advance(hours=2)
    said = await resident.say("水管")
    assert "暂停" in texts(said)
    said = await resident.press("重新开始")
    assert "哪里" in texts(said)


async def test_restart_in_the_middle_keeps_the_answers(app, tmp_path, clock):
    resident = Chat(app, "zw")
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    await resident.press("水管")
    await app.close()

    again = await App.start(app.settings, clock=clock)
    try:
        resident = Chat(again, "zw")
        said = await resident.say("卫生间顶上渗水")
        assert "照片" in texts(said)
        await resident.press("跳过")
        await resident.press("明天上午")
        await resident.press("张伟")
        said = await resident.press("13800000001")
        assert "水管/漏水" in texts(said) and "卫生间顶上渗水" in texts(said)
    finally:
        await again.close()


async def test_changed_flow_definition_keeps_fitting_answers(app, monkeypatch):
    resident = Chat(app, "zw")
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    await resident.press("水管")
    extra = Step("floor", "repair.location.prompt")
    changed = replace(
        repair.REPAIR, steps=(*repair.REPAIR.steps[:2], extra, *repair.REPAIR.steps[2:])
    )
    monkeypatch.setitem(app.engine.flows, "repair", changed)
    said = await resident.say("厨房漏水")
    assert "调整" in texts(said) and "具体位置" in texts(said)
    await resident.say("12楼")
    said = await resident.say("厨房漏水")
    assert "照片" in texts(said)


async def test_help_language_and_talk_to_a_person(app):
    resident = Chat(app, "zw")
    said = await resident.say("帮助")
    assert "返回" in texts(said)
    said = await resident.say("/lang en")
    assert "English" in texts(said)
    said = await resident.say("/repair")
    assert "Where is the repair needed" in texts(said)
    said = await resident.say("human")
    assert "H-261126-0001" in texts(said)
    desk = Chat(app, "li", chat_id="group:service", kind="group")
    assert "H-261126-0001" in texts(await desk.inbox())
    await resident.say("my kitchen is flooding")
    assert "my kitchen is flooding" in texts(await desk.inbox())
    said = await resident.say("/lang zh_CN")
    assert "中文" in texts(said)


async def test_duplicate_delivery_has_one_effect(app):
    from handlers.core.messages import Incoming

    msg = Incoming(
        channel="console",
        chat_id="zw",
        user_id="zw",
        at=app.clock.now(),
        message_id="same-1",
        text="/start",
    )
    first = await app.engine.handle(msg)
    second = await app.engine.handle(msg)
    assert first and second == []


async def test_a_resident_who_types_english_is_answered_in_english(app):
    resident = Chat(app, "zw")
    assert "English" in texts(await resident.say("English"))
    said = await resident.say("/repair")
    assert "Where is the repair needed" in texts(said)
    await resident.say("/cancel")
    said = await resident.say("中文")
    assert "中文" in texts(said)
    assert "请问需要维修的是哪里" in texts(await resident.say("/repair"))
