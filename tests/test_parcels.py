"""Parcels at the desk (快递代收): registered, told, reminded, handed over, returned.

The demo (today 2026-11-26 09:00): 吴敏 owns 2栋1单元802 (no chat account here until a
test gives her one); 张伟 ("resident") owns 3栋2单元1201 with 李娜; 李敏 ("li") is the
service desk, 赵强 ("zhao") security, 王师傅 ("wang") repair, 周主管 ("zhou") supervisor.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from dialogs.registry import all_jobs
from handlers.rules import parcels as rules
from storage.models import AuditLog, Parcel, Ticket
from tests.conversations import chat_as
from tests.harness import Chat, texts

UNIT = "3栋2单元1201"
SERVICE = "group:XFL:service"


# ---- the rules ---------------------------------------------------------------------


def test_reminder_timetable():
    p = rules.ParcelPolicy()
    came = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert rules.next_reminder(came, None, p) == came + timedelta(hours=24)
    assert not rules.reminder_due(came, None, came + timedelta(hours=23), p)
    assert rules.reminder_due(came, None, came + timedelta(hours=24), p)
    first = came + timedelta(hours=24)
    assert rules.next_reminder(came, first, p) == came + timedelta(hours=48)
    # sent late (a worker down): the next keeps to the timetable
    assert rules.next_reminder(came, came + timedelta(hours=30), p) == came + timedelta(hours=48)
    # down for three days: one reminder now, the next at the following slot, not a burst
    assert rules.next_reminder(came, came + timedelta(hours=97), p) == came + timedelta(hours=120)
    other = rules.ParcelPolicy(remind_hours=4, every_hours=12, task_days=2)
    assert rules.next_reminder(came, came + timedelta(hours=4), other) == came + timedelta(hours=16)
    assert rules.task_at(came, p) == came + timedelta(days=5)
    assert not rules.task_due(came, came + timedelta(days=4, hours=23), p)
    assert rules.task_due(came, came + timedelta(days=5), p)
    assert rules.next_check(came, None, False, p) == came + timedelta(hours=24)
    late = came + timedelta(days=4, hours=1)
    assert rules.next_check(came, late, False, p) == came + timedelta(days=5)
    assert rules.next_check(came, late, True, p) == came + timedelta(days=5)


def test_age_and_tone():
    p = rules.ParcelPolicy()
    came = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert rules.age(came, came + timedelta(hours=50, minutes=59)) == rules.Age(2, 2)
    assert rules.age(came, came - timedelta(hours=1)) == rules.Age(0, 0)
    assert rules.age(came, came + timedelta(hours=30)).total_hours == 30
    assert rules.tone(came, came + timedelta(hours=2), p) == "fresh"
    assert rules.tone(came, came + timedelta(hours=25), p) == "reminded"
    assert rules.tone(came, came + timedelta(days=6), p) == "overdue"


@pytest.mark.parametrize(
    ("typed", "waybill", "courier"),
    [
        ("SF1234567890", "SF1234567890", "sf"),
        ("sf 1234 5678 9012", "SF123456789012", "sf"),
        ("ＳＦ１２３４５６７８９０", "SF1234567890", "sf"),
        ("JDVA01234567890", "JDVA01234567890", "jd"),
        ("YT1234567890123", "YT1234567890123", "yto"),
        ("JT0001234567890", "JT0001234567890", "jt"),
        ("731234567890", "731234567890", "zto"),
        ("7712345678901", "7712345678901", "sto"),
        ("4312345678901", "4312345678901", "yunda"),
        ("DPK123456789", "DPK123456789", "deppon"),
        ("EA123456789CN", "EA123456789CN", "ems"),
        ("1123456789012", "1123456789012", "ems"),
        ("AB99887766", "AB99887766", None),
    ],
)
def test_waybills_and_couriers(typed, waybill, courier):
    assert rules.read_waybill(typed) == waybill
    assert rules.guess_courier(waybill) == courier


@pytest.mark.parametrize("typed", ["张伟", "13800000001", "12345", "ABCDEFGH", "易碎"])
def test_not_waybills(typed):
    assert rules.read_waybill(typed) is None


def test_codes():
    assert rules.pickup_code(lambda n: 0) == "100000"
    assert rules.pickup_code(lambda n: n - 1) == "999999"
    assert rules.read_code(" 123 456 ") == "123456"
    assert rules.read_code("１２３４５６") == "123456"
    assert rules.read_code("12345") is None
    assert rules.read_code("2-1-802") is None


VALUABLE = {"贵重", "valuable"}
DAMAGED = {"破损", "damaged"}


def test_one_line():
    line = rules.read_line("2号楼1单元802 张伟 SF1234567890 易碎", VALUABLE, DAMAGED)
    assert line == rules.Line("2号楼1单元802", "张伟", "SF1234567890", notes=("易碎",))
    line = rules.read_line("2栋1单元 802 SF1234567890 贵重 外包装破损", VALUABLE, DAMAGED)
    assert line is not None
    assert (line.unit, line.recipient, line.waybill) == ("2栋1单元802", "", "SF1234567890")
    assert line.valuable and line.damaged and line.note == "外包装破损"
    line = rules.read_line("2-1-802 吴敏 13800000011 damaged", VALUABLE, DAMAGED)
    assert line is not None
    assert (line.recipient, line.phone, line.damaged, line.note) == (
        "吴敏",
        "13800000011",
        True,
        "",
    )
    assert rules.read_line("   ", VALUABLE, DAMAGED) is None


def test_identity_is_kept_masked():
    assert rules.read_identity("身份证 330102199001011234").masked == "身份证 ****1234"
    assert rules.read_identity("身份证后四位 123X").masked == "身份证 ****123X"
    assert rules.read_identity("驾驶证：5678").masked == "驾驶证 ****5678"
    assert rules.read_identity("1234").masked == "****1234"
    assert rules.read_identity("身份证") is None
    assert rules.read_identity("ABCD") is None


# ---- conversations -----------------------------------------------------------------


async def parcel_of(app, code: str | None = None) -> Parcel:
    async with app.db.transaction() as s:
        query = select(Parcel).order_by(Parcel.id.desc())  # type: ignore[union-attr]
        if code is not None:
            query = query.where(Parcel.code == code)
        return (await s.exec(query)).first()


async def register(desk: Chat, line: str) -> tuple[str, Parcel]:
    said = await desk.say(f"/parcel {line}")
    parcel = await parcel_of(desk.app)
    assert parcel is not None and parcel.code in texts(said), texts(said)
    return texts(said), parcel


async def test_registered_in_one_line_told_reminded_and_tasked(demo_app, clock):
    app = demo_app
    desk = Chat(app, "li")
    resident = Chat(app, "resident")  # 张伟
    said, parcel = await register(desk, "3-2-1201 张伟 SF1234567890 易碎 破损")
    assert "顺丰" in said and "已在线上通知住户" in said
    assert "（到件时外包装破损、备注：易碎）" in said  # the marks on one line
    assert (parcel.recipient, parcel.waybill, parcel.courier) == ("张伟", "SF1234567890", "sf")
    assert parcel.damaged and not parcel.valuable and parcel.note == "易碎"
    assert parcel.person_id is not None and parcel.registered_by == "李敏"
    told = texts(await resident.inbox())
    assert parcel.code in told and "顺丰 SF1234567890" in told
    assert "外包装已破损" in told  # damage noted on arrival is said

    # a day passes: reminded once, however often the worker looks
    clock.advance(hours=23)
    await app.engine.run_jobs(all_jobs())
    assert await resident.inbox() == []
    clock.advance(hours=1)
    await app.engine.run_jobs(all_jobs())
    await app.engine.run_jobs(all_jobs())
    reminded = await resident.inbox()
    assert (
        len(reminded) == 1 and "存放 1 天" in reminded[0].text and parcel.code in reminded[0].text
    )
    clock.advance(hours=12)
    await app.engine.run_jobs(all_jobs())
    assert await resident.inbox() == []
    clock.advance(hours=12)
    await app.engine.run_jobs(all_jobs())
    await app.engine.run_jobs(all_jobs())
    assert len(await resident.inbox()) == 1
    after = await parcel_of(app)
    assert after.reminders == 2 and after.ticket_id is None

    # after five days the service desk gets one follow-up task
    desk_group = Chat(app, "li", chat_id=SERVICE, kind="group")
    await desk_group.inbox()
    for _ in range(3):
        clock.advance(days=1)
        await app.engine.run_jobs(all_jobs())
        await app.engine.run_jobs(all_jobs())
    cards = texts(await desk_group.inbox())
    assert "快递久未领取" in cards and parcel.code in cards
    after = await parcel_of(app)
    assert after.reminders == 5 and after.ticket_id is not None
    async with app.db.transaction() as s:
        tasks = (await s.exec(select(Ticket).where(Ticket.kind == "task"))).all()
        assert len(tasks) == 1 and tasks[0].details == {"parcel": after.id}
    clock.advance(days=1)
    await app.engine.run_jobs(all_jobs())
    assert "快递久未领取" not in texts(await desk_group.inbox())

    # collected with the code: the resident is told, the job stops
    card = texts(await desk.say(f"/pickup {parcel.code}"))
    assert "张伟" in card and "待取" in card
    done = texts(await desk.press("交付"))
    assert "已交付" in done and "跟进事务 T-" in done and "已自动撤销" in done, done
    async with app.db.transaction() as s:
        [task] = (await s.exec(select(Ticket).where(Ticket.kind == "task"))).all()
    assert task.status == "cancelled"  # nobody had started on it: nothing left to chase
    assert "已于" in texts(await resident.inbox())
    clock.advance(days=1)
    await app.engine.run_jobs(all_jobs())
    assert await resident.inbox() == []
    again = texts(await desk.say(f"/pickup {parcel.code}"))
    assert "已领取" in again and "交付" not in [b["label"] for b in desk.last[0].buttons]
    async with app.db.transaction() as s:
        actions = [a.action for a in (await s.exec(select(AuditLog))).all()]
    assert {"parcel_register", "parcel_task", "parcel_collect"} <= set(actions)


async def test_collected_by_a_neighbour_with_id_noted(demo_app, clock):
    app = demo_app
    desk = Chat(app, "li")
    wu = await chat_as(app, "wu", "吴敏")
    said, parcel = await register(desk, "2号楼1单元802 吴敏 JT0001234567890 贵重")
    assert "极兔" in said and parcel.valuable
    notice = texts(await wu.inbox())
    assert parcel.code in notice and "本人" in notice
    resident = Chat(app, "resident")
    assert parcel.code not in texts(await resident.inbox())  # another unit's resident

    clock.advance(hours=3)
    listed = texts(await desk.say("/pickup 2-1-802"))
    assert "1 件待取" in listed and parcel.code in listed
    await desk.press("他人代取")
    await desk.say("王小明")
    refused = texts(await desk.say("身份证"))
    assert "后四位" in refused
    summary = texts(await desk.say("身份证 330102199001011234"))
    assert "身份证 ****1234" in summary and "330102199001011234" not in summary
    done = texts(await desk.press("确认"))
    assert "王小明" in done
    told = texts(await wu.inbox())
    assert "王小明" in told and "代为领取" in told and "12:00" in told
    after = await parcel_of(app)
    assert (after.status, after.collected_by, after.identity) == (
        "collected",
        "王小明",
        "身份证 ****1234",
    )
    assert after.handed_by == "李敏"


async def test_flow_unknown_unit_and_return(demo_app, clock):
    app = demo_app
    desk = Chat(app, "li")
    resident = Chat(app, "resident")
    near = texts(await desk.say("/parcel 3栋2单元1210 张伟 SF1234567890"))
    assert "3栋2单元1201" in near  # the closest offered
    assert await parcel_of(app) is None

    await desk.say("/parcel")
    asked = texts(await desk.say("3栋2单元1301"))
    assert "没有找到" in asked
    await desk.say("3-2-1201")
    await desk.press("李娜")
    refused = texts(await desk.say("张伟"))
    assert "不像运单号" in refused
    await desk.say("YT1234567890123")
    await desk.say("外包装破损")
    summary = texts(await desk.press("跳过"))
    assert "圆通" in summary and "李娜" in summary
    await desk.press("确认")
    parcel = await parcel_of(app)
    assert parcel.recipient == "李娜" and parcel.courier == "yto" and parcel.damaged
    # 李娜 has no chat: the unit's bound residents are told instead
    assert parcel.code in texts(await resident.inbox())

    # the resident sees it, with its code, in /parcels and in the FAQ
    mine = texts(await resident.say("/parcels"))
    assert parcel.code in mine and "圆通" in mine
    faq = texts(await resident.say("快递在哪里取"))
    assert parcel.code in faq

    await desk.say(f"/pickup {parcel.code}")
    done = texts(await desk.press("退回"))
    assert "已退回" in done
    assert "退回快递员" in texts(await resident.inbox())
    assert "没有您的快递" in texts(await resident.say("/parcels"))
    again = texts(await desk.say(f"/pickup {parcel.code}"))
    assert "已退回" in again


async def test_unit_with_nobody_bound_is_registered(demo_app):
    app = demo_app
    desk = Chat(app, "li")
    said = texts(await desk.say("/parcel 6栋1单元101 陈先生 SF1234567899"))
    assert "请电话通知" in said
    assert (await parcel_of(app)).unit_id is not None


async def test_who_may(demo_app):
    app = demo_app
    desk = Chat(app, "li")
    _, parcel = await register(desk, "2-1-802 吴敏 SF1234567890")
    resident = Chat(app, "resident")
    assert "客服中心" in texts(await resident.say("/parcel 3-2-1201 张伟 SF1"))
    assert "没有权限" in texts(await resident.say(f"/pickup {parcel.code}"))
    # 张伟 sees his own unit's parcels only, never 吴敏's
    assert parcel.code not in texts(await resident.say("/parcels"))
    for user, chat in (("zhao", "group:XFL:security"), ("wang", "group:XFL:repair")):
        staff = Chat(app, user)
        assert "客服中心" in texts(await staff.say("/parcel 2-1-802 吴敏 SF1234567891"))
        assert "客服中心" in texts(await staff.say(f"/pickup {parcel.code}"))
        group = Chat(app, user, chat_id=chat, kind="group")
        assert "客服中心" in texts(await group.say("/parcel 2-1-802 吴敏 SF1234567892"))
    async with app.db.transaction() as s:
        assert len((await s.exec(select(Parcel))).all()) == 1
    # the desk's waiting list in chat; a guard has none
    listed = texts(await desk.say("/parcels"))
    assert "待取快递共 1 件" in listed and parcel.code in listed
    assert "客服中心" in texts(await Chat(app, "zhao").say("/parcels"))
    # the supervisor may
    boss = Chat(app, "zhou")
    assert "取件码" in texts(await boss.say("/parcel 3-2-1201 SF1234567893"))


async def test_another_communitys_code_is_unknown(demo_app):
    app = demo_app
    from storage.models import Community, StaffMember

    async with app.db.transaction() as s:
        hyy = (await s.exec(select(Community).where(Community.code == "HYY"))).one()
        s.add(
            StaffMember(
                community_id=hyy.id,
                channel="console",
                external_user_id="hyy_desk",
                name="和悦园前台",
                department="service",
            )
        )
    desk = Chat(app, "li")
    _, parcel = await register(desk, "2-1-802 吴敏 SF1234567890")
    other = Chat(app, "hyy_desk")
    assert "没有找到取件码" in texts(await other.say(f"/pickup {parcel.code}"))
    # and 2-1-802 of XFL is no unit of theirs
    assert "吴敏" not in texts(await other.say("/pickup 2-1-802"))


async def test_courier_named_in_the_line_and_my_parcels_asked_in_words(demo_app):
    app = demo_app
    desk = Chat(app, "li")
    said, parcel = await register(desk, "3栋2单元1201 李娜 AB99887766 中通 大件")
    assert parcel.courier == "zto" and parcel.note == "大件" and "中通" in said
    resident = Chat(app, "resident")
    await resident.inbox()
    assert parcel.code in texts(await resident.say("我的快递"))


async def test_reminded_once_on_both_stores_even_with_a_second_job(demo_both, clock):
    """Two workers, or a job booked twice after a restart: the reminder of one slot is
    counted on the parcel in the job's transaction, so it goes out once."""
    from storage import jobs

    app = demo_both
    desk = Chat(app, "li")
    resident = Chat(app, "resident")
    _, parcel = await register(desk, "3-2-1201 张伟 SF1234567890")
    await resident.inbox()
    async with app.db.transaction() as s:
        await jobs.schedule(
            s,
            kind="parcel_watch",
            due_at=clock.now() + timedelta(hours=24),
            payload={"parcel": parcel.id},
            dedupe_key=f"parcel:{parcel.id}:again",
        )
    clock.advance(hours=24)
    await app.engine.run_jobs(all_jobs())
    await app.engine.run_jobs(all_jobs())
    reminded = await resident.inbox()
    assert len(reminded) == 1 and parcel.code in reminded[0].text
    assert (await parcel_of(app)).reminders == 1
