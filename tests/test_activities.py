"""Community activities (社区文化活动) as conversations: the supervisor plans one, the
departments get their tasks, it is announced to the residents, who sign up up to the
places (one over the limit politely refused, a cancellation freeing places for the next),
are reminded the day before, and the organiser records it with photos afterwards. A
resident cannot plan one.

The demo (2026-11-26 09:00): 周主管 ("zhou") supervises 幸福里 (XFL); 张伟 ("resident")
owns 3栋2单元1201, 刘洋 ("tenant") rents 3栋2单元1202.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import col, select

from dialogs.registry import all_jobs
from handlers.rules import activities as rules
from storage.models import Activity, ActivitySignup, AuditLog, Photo, Ticket
from tests.harness import Chat, texts


def test_activity_rules() -> None:
    assert rules.read_count("3") == 3 and rules.read_count("２人") == 2
    assert rules.read_count("0") is None and rules.read_count("很多") is None
    start = rules.read_start("12月20日 14:00", date(2026, 11, 26))
    assert start == datetime(2026, 12, 20, 14, 0)
    assert rules.read_start("12月20日", date(2026, 11, 26)) is None  # no time of day
    assert rules.read_end("16:30", datetime(2026, 12, 20, 14, 0)) == datetime(2026, 12, 20, 16, 30)
    assert rules.read_end("13:00", datetime(2026, 12, 20, 14, 0)) is None
    assert rules.signup_problem(3, 2, 1) is None
    assert rules.signup_problem(3, 2, 2) == rules.FULL
    assert rules.signup_problem(None, 500, 9) is None
    assert rules.signup_problem(None, 0, 3, per_household=2) == rules.HOUSEHOLD
    assert rules.signup_problem(10, 0, 1, per_household=2, household_others=2) == rules.HOUSEHOLD


async def plan(zhou: Chat, capacity: str = "3") -> list[Any]:
    """周主管 plans the New Year garden party in chat, with repair and security involved."""
    said = texts(await zhou.say("/activity"))
    assert "活动主题" in said, said
    await zhou.say("元旦游园会")
    await zhou.say("猜灯谜、套圈、亲子手工")
    await zhou.say("¥1,200.50")
    await zhou.say("中心广场")
    refused = texts(await zhou.say("12月20日"))
    assert "没能读懂开始时间" in refused  # a day without a time is asked again
    await zhou.say("12月20日 14:00")
    assert "需晚于开始时间" in texts(await zhou.say("13:00"))
    await zhou.say("16:30")
    await zhou.say("业主及家属")
    await zhou.say(capacity)
    await zhou.press("跳过")  # no limit per household
    await zhou.say("14:00 签到，14:30 开始，16:00 颁奖")
    await zhou.press("维修部")
    await zhou.press("安护部")
    await zhou.press("完成")
    summary = texts(await zhou.say("纪念品、购物卡"))
    assert "元旦游园会" in summary and "1,200.50" in summary and "维修部" in summary, summary
    return await zhou.press("确认提交")


async def latest(app: Any) -> Activity:
    async with app.db.transaction() as s:
        found = (await s.exec(select(Activity).order_by(col(Activity.id).desc()))).first()
    assert found is not None
    return found


async def signed(app: Any) -> dict[str, int]:
    async with app.db.transaction() as s:
        rows = (
            await s.exec(select(ActivitySignup).where(col(ActivitySignup.cancelled_at).is_(None)))
        ).all()
    return {str(r.person_id): r.people for r in rows}


async def test_an_activity_from_plan_to_record(demo_app, clock) -> None:
    zhou = Chat(demo_app, "zhou")
    resident = Chat(demo_app, "resident")
    tenant = Chat(demo_app, "tenant")
    repair = Chat(demo_app, "wang", chat_id="group:XFL:repair", kind="group")
    security = Chat(demo_app, "zhao", chat_id="group:XFL:security", kind="group")
    for chat in (resident, tenant, repair, security):
        await chat.inbox()

    said = texts(await plan(zhou))
    activity = await latest(demo_app)
    assert "已保存" in said and activity.status == "planned"
    assert activity.cost == Decimal("1200.50") and activity.capacity == 3
    assert activity.departments == ["repair", "security"]
    assert activity.starts_at == datetime(2026, 12, 20, 14, 0, tzinfo=demo_app.settings.tz)
    async with demo_app.db.transaction() as s:
        tasks = (await s.exec(select(Ticket).where(Ticket.kind == "task"))).all()
    prepared = {t.department: t for t in tasks if t.details.get("activity") == activity.id}
    assert set(prepared) == {"repair", "security"}
    assert prepared["repair"].due_at == datetime(2026, 12, 19, 14, 0, tzinfo=demo_app.settings.tz)
    assert "元旦游园会" in texts(await repair.inbox())
    assert "元旦游园会" in texts(await security.inbox())
    assert await resident.inbox() == []  # nothing to residents before it is announced

    # Announced with the button: the residents get the notice with a sign-up button.
    said = texts(await zhou.press("发布活动通知"))
    assert "住户" in said
    notice = await resident.inbox()
    assert "元旦游园会" in texts(notice) and "剩余 3 个名额" in texts(notice)
    assert "我要报名" in [b["label"] for b in notice[-1].buttons]
    assert "元旦游园会" in texts(await tenant.inbox())
    async with demo_app.db.transaction() as s:
        logged = (
            await s.exec(select(AuditLog).where(AuditLog.action == "activity_announce"))
        ).all()
    assert [a.target for a in logged] == [f"activity:{activity.id}"]
    assert logged[0].actor.startswith("staff:")  # 周主管's staff record
    again = texts(await zhou.press("发布活动通知"))
    assert "已经发布过" in again and await resident.inbox() == []

    # 张伟 signs up two; 刘洋 asks for two more than the one place left: politely refused,
    # offered the waiting list or fewer; he waits.
    await resident.press("我要报名")
    ok = texts(await resident.say("2"))
    assert "报名成功" in ok and "2 人" in ok
    asked = texts(await tenant.press("我要报名"))
    assert "剩余 1 个名额" in asked
    full = texts(await tenant.say("2"))
    assert "名额不足" in full and "报名成功" not in full
    offer = tenant.keyboard
    assert offer is not None and "改为 1 人以内报名" in [b["label"] for b in offer.buttons]
    waits = texts(await tenant.press("登记候补"))
    assert "排第 1 位" in waits
    assert sorted((await signed(demo_app)).values()) == [2]
    tenant.keyboard = offer
    assert "候补名单" in texts(await tenant.press("登记候补"))  # once is enough

    # 张伟 cancels: his places free up and 刘洋, first in line, is signed up and told.
    assert "已为您取消" in texts(await resident.press("取消报名"))
    promoted = texts(await tenant.inbox())
    assert "好消息" in promoted and "2 人" in promoted
    assert sorted((await signed(demo_app)).values()) == [2]
    # 张伟 asks again for two: one place is left; he takes it with "fewer".
    await resident.say("/activities")
    await resident.press("报名：元旦游园会")
    assert "名额不足" in texts(await resident.say("2"))
    await resident.press("改为 1 人以内报名")
    assert "报名成功" in texts(await resident.say("1"))
    assert sorted((await signed(demo_app)).values()) == [1, 2]
    resident.keyboard = notice[-1]  # the notice's button pressed again
    assert "已报名" in texts(await resident.press("我要报名"))

    # The day before, at ten, both are reminded.
    clock.set(datetime(2026, 12, 19, 9, 59, tzinfo=demo_app.settings.tz))
    await demo_app.engine.run_jobs(all_jobs())
    assert "温馨提醒" not in texts(await resident.inbox())
    clock.set(datetime(2026, 12, 19, 10, 1, tzinfo=demo_app.settings.tz))
    await demo_app.engine.run_jobs(all_jobs())
    reminded = texts(await resident.inbox())
    assert "温馨提醒" in reminded and "元旦游园会" in reminded and "1 人" in reminded
    assert "温馨提醒" in texts(await tenant.inbox())

    # Too early to record; after it, the organiser records it with photos.
    await zhou.inbox()
    listing = texts(await zhou.say("/activities"))
    assert "元旦游园会" in listing and "报名 3 人" in listing
    clock.set(datetime(2026, 12, 20, 17, 0, tzinfo=demo_app.settings.tz))
    await zhou.say("/activities")
    prompt = texts(await zhou.press("记录：元旦游园会"))
    assert "举办情况" in prompt
    await zhou.say("到场 40 余人，猜灯谜最受欢迎；明年增加儿童项目")
    await zhou.photo("party-1")
    await zhou.photo("party-2")
    await zhou.press("完成")
    done = texts(await zhou.press("确认提交"))
    assert "已存档" in done and "照片 2 张" in done
    activity = await latest(demo_app)
    assert activity.status == "done" and "猜灯谜最受欢迎" in activity.record
    async with demo_app.db.transaction() as s:
        photos = [await s.get(Photo, int(ref)) for ref in activity.photos]
    assert [p.file_ref for p in photos if p is not None] == ["party-1", "party-2"]
    # Signing up after it has started is closed.
    assert "已经开始" in texts(await tenant.press("取消报名"))


async def test_a_resident_cannot_plan_and_a_household_limit_holds(demo_app) -> None:
    resident = Chat(demo_app, "resident")
    assert "没有权限" in texts(await resident.say("/activity"))
    async with demo_app.db.transaction() as s:
        assert (await s.exec(select(Activity))).all() == []


@pytest.mark.parametrize("typed", ["很多", "0"])
async def test_a_count_that_is_no_count_is_asked_again(demo_app, typed) -> None:
    zhou = Chat(demo_app, "zhou")
    await plan(zhou, capacity="10")
    await zhou.press("发布活动通知")
    resident = Chat(demo_app, "resident")
    await resident.inbox()
    await resident.press("我要报名")
    assert "请输入人数" in texts(await resident.say(typed))
    assert await signed(demo_app) == {}


async def test_signing_up_and_waiting_on_sqlite_and_postgresql(demo_both) -> None:
    app = demo_both
    zhou, resident, tenant = Chat(app, "zhou"), Chat(app, "resident"), Chat(app, "tenant")
    await plan(zhou, capacity="2")
    await zhou.press("发布活动通知")
    for chat, people in ((resident, "2"), (tenant, "1")):
        await chat.inbox()
        await chat.press("我要报名")
        await chat.say(people)
    assert "排第 1 位" in texts(await tenant.press("登记候补"))
    await resident.press("取消报名")
    assert "好消息" in texts(await tenant.inbox())
    assert sorted((await signed(app)).values()) == [1]


async def test_an_announcement_at_night_waits_for_the_morning(demo_app, clock) -> None:
    zhou, resident = Chat(demo_app, "zhou"), Chat(demo_app, "resident")
    await resident.inbox()
    clock.set(datetime(2026, 11, 26, 22, 30, tzinfo=demo_app.settings.tz))
    await plan(zhou)
    said = texts(await zhou.press("发布活动通知"))
    assert "免打扰" in said and "2026-11-27 07:00" in said, said
    assert await resident.inbox() == []
    clock.set(datetime(2026, 11, 27, 7, 1, tzinfo=demo_app.settings.tz))
    assert "元旦游园会" in texts(await resident.inbox())
