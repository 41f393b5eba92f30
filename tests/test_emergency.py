"""Emergencies at night: urgency decided once, the short path, on-duty pushes, nothing held."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from handlers.core.i18n import Catalogs
from handlers.rules.urgency import EMERGENCIES, IGNORE, NOT_NOW, URGENT, urgency
from storage.models import Outbox, Ticket
from tests.conversations import file_repair, repair_group
from tests.harness import Chat, texts

TZ = ZoneInfo("Asia/Shanghai")
NIGHT = datetime(2026, 11, 27, 3, 48, tzinfo=TZ)


def words() -> dict[str, set[str]]:
    catalogs = Catalogs.load("zh_CN", TZ)
    return {
        k: catalogs.words(f"emergency.words.{k}") for k in (*EMERGENCIES, NOT_NOW, URGENT, IGNORE)
    }


@pytest.mark.parametrize(
    ("category", "text", "urgent", "emergency"),
    [
        ("water", "卫生间天花板一直在滴水，地上都是水", True, "flood"),
        ("water", "水管爆了，厨房淹了", True, "flood"),
        ("water", "厨房水槽下水管漏水", True, None),  # a leak: urgent, no short path
        ("water", "上次漏水修好了吗", False, None),  # another time: not now
        ("electrical", "客厅插座没电", False, None),
        ("electrical", "整栋楼突然停电了", True, "power"),
        ("other", "明天小区停电吗", False, None),
        ("electrical", "插座冒火花了", True, "electric"),
        ("lift", "电梯按钮按了没反应", True, None),  # a lift is urgent by its category
        ("lift", "电梯坏了，有人被困在里面了！", True, "trapped"),
        ("gas", "灶台点不着火", True, None),  # anything with gas is urgent
        ("other", "厨房里有很重的煤气味", True, "gas"),
        ("other", "楼道里冒烟了", True, "fire"),
        ("other", "有人正在撬楼下停的车", True, "security"),
        ("public", "外墙的瓷砖掉下来了，差点砸到人", True, "collapse"),
        ("other", "someone is trapped in the lift", True, "trapped"),
        ("other", "there is a strong smell of gas in the kitchen", True, "gas"),
        ("water", "the bathroom tap is leaking", True, None),
        ("water", "my flat is flooded", True, "flood"),
        ("other", "is there a power cut planned tomorrow", False, None),
        ("doors", "the bedroom door handle is loose", False, None),
        ("other", "有人在楼道里抽烟，烟味很大", False, None),  # a complaint, not a fire
        ("other", "someone is smoking in the stairwell", False, None),
    ],
)
def test_urgency_is_decided_once_from_category_and_words(category, text, urgent, emergency):
    found = urgency(category, text, words())
    assert (found.urgent, found.emergency) == (urgent, emergency)


async def delivered(app, chat_id: str) -> list[Outbox]:
    async with app.db.transaction() as s:
        return list((await s.exec(select(Outbox).where(Outbox.chat_id == chat_id))).all())


async def only_ticket(app) -> Ticket:
    async with app.db.transaction() as s:
        return (await s.exec(select(Ticket))).one()


async def test_a_leak_at_night_takes_the_short_path_and_nothing_waits_for_the_morning(
    demo_app, clock
):
    clock.set(NIGHT)
    resident = Chat(demo_app, "resident")
    said = await resident.say("卫生间天花板一直在滴水，地上都是水")
    assert "紧急情况" in texts(said) and "位置" in texts(said)
    said = await resident.press("3栋2单元1201")  # the phone is known: no more questions
    told = texts(said)
    assert "已立即通知维修部和值班主管" in told
    assert "进水总阀" in told  # what to do now, for a flood
    assert "0571-88880000" in told  # the duty phone
    ticket = await only_ticket(demo_app)
    assert ticket.urgent and ticket.category == "water" and ticket.details["emergency"] == "flood"
    assert ticket.description == "卫生间天花板一直在滴水，地上都是水"

    wang = repair_group(demo_app, "wang")
    card = texts(await wang.inbox())  # at 03:48, not 07:00
    assert ticket.number in card and "紧急" in card
    duty = texts(await Chat(demo_app, "zhou").inbox())  # the supervisor, in private
    assert ticket.number in duty and "13800000001" in duty

    # The resident's urge and added note are not held either.
    await resident.say("/my")
    await resident.press(ticket.number)
    await resident.press("催单")
    assert "催" in texts(await wang.inbox())
    await resident.press("补充")
    await resident.say("水已经流到客厅了")
    await resident.press("确认")
    assert "水已经流到客厅了" in texts(await wang.inbox())


async def test_someone_trapped_in_a_lift_is_not_an_eight_step_form(demo_app, clock):
    clock.set(NIGHT)
    resident = Chat(demo_app, "resident")
    said = await resident.say("电梯坏了，有人被困在里面了！")
    assert "有人被困" in texts(said)
    said = await resident.say("3栋2单元电梯")  # the place, typed
    told = texts(said)
    assert "不要扒门" in told and "119" in told
    ticket = await only_ticket(demo_app)
    assert (ticket.category, ticket.department, ticket.urgent) == ("lift", "repair", True)
    assert ticket.details["location"] == "3栋2单元电梯"
    assert "3栋2单元电梯" in texts(await repair_group(demo_app, "wang").inbox())


async def test_an_emergency_described_in_the_repair_flow_takes_the_short_path(demo_app, clock):
    clock.set(NIGHT)
    resident = Chat(demo_app, "resident")
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    await resident.press("燃气")
    said = await resident.say("厨房里有很重的煤气味")
    # No photos, no visiting time: the unit and the phone are known, so it is filed at once.
    assert "关闭燃气总阀" in texts(said) and "已立即通知维修部" in texts(said)
    ticket = await only_ticket(demo_app)
    assert (ticket.category, ticket.urgent, ticket.unit_id is not None) == ("gas", True, True)


async def test_a_leak_reported_in_the_repair_flow_is_urgent_but_keeps_its_questions(
    demo_app, clock
):
    clock.set(NIGHT)
    resident = Chat(demo_app, "resident")
    await file_repair(resident, "水管/漏水", "厨房水槽下水管漏水")
    assert "紧急报修" in texts(resident.last)
    assert "R-261127-0001" in texts(await repair_group(demo_app, "wang").inbox())


async def test_the_urgent_line_opens_the_card_until_the_work_is_done(demo_app, clock):
    clock.set(NIGHT)
    await file_repair(Chat(demo_app, "resident"), "水管/漏水", "厨房水槽下水管漏水")
    wang = repair_group(demo_app, "wang")
    assert "🚨紧急：请立即处理" in texts(await wang.inbox())
    await wang.say("接单 R-261127-0001")
    started = await wang.say("开始 R-261127-0001")
    assert "🚨紧急：请立即处理" in texts(started)  # still open: still urgent
    said = await wang.say("完成 R-261127-0001 更换了下水管 金额 80")
    cards = [m.text for m in said + await wang.inbox() if "【报修】R-261127-0001" in m.text]
    assert "已完成" in cards[-1] and "🚨" not in cards[-1]  # done: nothing left to rush


async def test_an_ordinary_repair_at_night_waits_for_the_morning(demo_app, clock):
    clock.set(NIGHT)
    await file_repair(Chat(demo_app, "resident"))  # 客厅插座没电
    wang = repair_group(demo_app, "wang")
    assert await wang.inbox() == []
    assert await Chat(demo_app, "zhou").inbox() == []
    clock.set(datetime(2026, 11, 27, 7, 0, tzinfo=TZ))
    assert "R-261127-0001" in texts(await wang.inbox())


async def test_the_supervisor_on_duty_gets_the_emergency_and_the_others_do_not(demo_app, clock):
    from handlers.people import add_staff
    from storage.models import Community

    async with demo_app.db.transaction() as s:
        xfl = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        await add_staff(
            s,
            channel="console",
            user_id="sun",
            name="孙主管",
            role="supervisor",
            department=None,
            community_id=xfl.id,
        )
    sun, zhou = Chat(demo_app, "sun"), Chat(demo_app, "zhou")
    assert "没有人接班" in texts(await sun.say("/duty who"))
    assert "您已接班" in texts(await sun.say("/duty"))
    clock.set(NIGHT)
    resident = Chat(demo_app, "resident")
    await resident.say("楼道里冒烟了，好像着火了")
    await resident.press("小区公共区域")
    await resident.say("3栋1楼楼道")
    assert "着火" in texts(await sun.inbox())
    assert await zhou.inbox() == []
    ticket = await only_ticket(demo_app)
    assert ticket.department == "security"  # the guards go to a fire first
    assert "当前值班：孙主管" in texts(await zhou.say("/duty who"))
    assert "您现在不在值班" in texts(await zhou.say("/duty off"))
    assert "您已交班" in texts(await sun.say("/duty off"))


async def test_asking_for_a_complaint_in_so_many_words_is_a_complaint_not_the_short_path(
    demo_app,
):
    resident = Chat(demo_app, "resident")
    said = await resident.say("我要投诉：楼上漏水淹到我家了")
    assert "什么时候发生" in texts(said) and "紧急情况" not in texts(said)


async def test_a_question_about_a_planned_outage_is_no_emergency(demo_app):
    said = await Chat(demo_app, "resident").say("明天小区停电吗")
    assert "紧急情况" not in texts(said)
