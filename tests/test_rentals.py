"""Rentals (招租) through the real engine, on the demo store, with the clock moved.

The demo (today 2026-11-26 09:00, a Thursday): 李敏 ("li") is 幸福里's service desk, 周主管
("zhou") the supervisor; 张伟 ("resident", 13800000001) owns 3栋2单元1201, 刘洋 ("tenant")
rents 3栋2单元1202. "stranger" has no bound home.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from dialogs.registry import all_jobs, all_sweeps
from handlers.rules import rentals as rules
from storage.models import LedgerEntry, Rentable, RentalContract, RentDue, Ticket, VenueBooking
from tests.harness import Chat, texts

TZ = ZoneInfo("Asia/Shanghai")
SERVICE = "group:XFL:service"


async def sweep(app) -> None:
    for check in all_sweeps():
        await app.engine.sweep(check)


async def dues(app) -> list[RentDue]:
    async with app.db.transaction() as s:
        return list((await s.exec(select(RentDue).order_by(col(RentDue.due)))).all())


# ---- the rules -------------------------------------------------------------------------


def test_due_dates_every_n_months() -> None:
    six = rules.due_dates(date(2026, 12, 10), date(2027, 6, 10), 1)
    assert six == [date(2026, 12, 10)] + [date(2027, m, 10) for m in range(1, 6)]
    assert rules.due_dates(date(2026, 12, 1), date(2027, 12, 1), 3) == [
        date(2026, 12, 1),
        date(2027, 3, 1),
        date(2027, 6, 1),
        date(2027, 9, 1),
    ]
    # the 31st falls on a short month's last day, and comes back after
    assert rules.due_dates(date(2027, 1, 31), date(2027, 4, 30), 1) == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
    ]
    with pytest.raises(rules.RentalRuleError):
        rules.due_dates(date(2027, 1, 1), date(2026, 1, 1), 1)
    # a quarter's rent, the last one only for the months left
    assert rules.amount_for(Decimal("300"), 3, date(2027, 3, 1), date(2027, 5, 1)) == Decimal(
        "600.00"
    )


def test_the_rent_steps() -> None:
    policy = rules.RentPolicy(remind_days=7, escalate_days=15)
    due = date(2027, 1, 10)
    steps = rules.rent_steps
    assert steps(due, date(2027, 1, 2), "", policy) == []
    assert steps(due, date(2027, 1, 3), "", policy) == [rules.REMINDED]
    assert steps(due, date(2027, 1, 5), rules.REMINDED, policy) == []
    assert steps(due, date(2027, 1, 10), rules.REMINDED, policy) == [rules.OVERDUE]
    assert steps(due, date(2027, 1, 24), rules.OVERDUE, policy) == []
    assert steps(due, date(2027, 1, 25), rules.OVERDUE, policy) == [rules.SUPERVISOR]
    assert steps(due, date(2027, 2, 25), "", policy) == [rules.OVERDUE, rules.SUPERVISOR]
    assert steps(due, date(2027, 2, 25), rules.VOID, policy) == []


def test_venue_fee_clash_and_free_times() -> None:
    at = datetime(2026, 12, 5, 0, 0, tzinfo=TZ)
    two, four = at.replace(hour=14), at.replace(hour=16)
    assert rules.venue_fee(two, four, Decimal("100")) == Decimal("200.00")
    assert rules.venue_fee(two, two.replace(minute=30) + timedelta(hours=1), Decimal("80")) == (
        Decimal("120.00")
    )
    taken = [(two, four)]
    assert rules.clashes(at.replace(hour=15), at.replace(hour=17), taken)
    assert not rules.clashes(four, at.replace(hour=18), taken)
    gaps = rules.free_times(at.replace(hour=8), at.replace(hour=22), taken)
    assert gaps == [(at.replace(hour=8), two), (four, at.replace(hour=22))]
    assert rules.read_span("12月5日 14:00-16:00") == ((14, 0), (16, 0), "12月5日")
    assert rules.read_span("明天下午2点到4点") == ((14, 0), (16, 0), "明天")
    assert rules.read_span("周六 19-21点") == ((19, 0), (21, 0), "周六")
    assert rules.read_span("whenever") is None


# ---- a storeroom let for six months ----------------------------------------------------


async def test_storeroom_let_reminded_overdue_escalated_and_paid(demo_app, clock):
    app = demo_app
    desk = Chat(app, "li")
    resident = Chat(app, "resident")  # 张伟, the tenant of the storeroom
    group = Chat(app, "li", chat_id=SERVICE, kind="group")
    supervisor = Chat(app, "zhou")
    said = texts(await desk.say("/rentals add 储藏室 B1-12 300 押金600 地下一层 12㎡"))
    assert "已登记招租 #" in said and "B1-12" in said and "¥300.00/月" in said, said
    said = texts(await desk.say("/contract B1-12 张伟 13800000001 2026-12-10 6个月 300 每1月"))
    assert "共 6 期租金" in said and "张伟" in said, said
    assert "租约已登记" in texts(await resident.inbox())
    found = await dues(app)
    assert [d.due for d in found] == rules.due_dates(date(2026, 12, 10), date(2027, 6, 10), 1)
    assert {d.amount for d in found} == {Decimal("300.00")}
    assert "已租出" in texts(await desk.say("/rentals"))
    await group.inbox()
    await supervisor.inbox()

    # seven days before the first rent: one reminder, however often the sweep looks
    await sweep(app)
    assert await resident.inbox() == []
    clock.advance(days=7)  # 2026-12-03
    await sweep(app)
    await sweep(app)
    reminded = await resident.inbox()
    assert len(reminded) == 1 and "将于" in reminded[0].text and "¥300.00" in reminded[0].text
    said = texts(await desk.say("/rentpaid B1-12 R20261203 wechat"))
    assert "已收 张伟 的租金 ¥300.00" in said and "R20261203" in said, said
    assert "已收到" in texts(await resident.inbox())
    async with app.db.transaction() as s:
        entry = (await s.exec(select(LedgerEntry))).one()
    assert (entry.purpose, entry.method, entry.amount) == ("rent", "wechat", Decimal("300.00"))
    assert entry.source == f"rent_due:{found[0].id}" and entry.payer == "张伟"

    # the second rent: reminded, missed -> overdue on its day, then the supervisor
    clock.advance(days=31)  # 2027-01-03
    await sweep(app)
    assert "2027年1月10日" in texts(await resident.inbox())
    clock.advance(days=7)  # 2027-01-10, unpaid
    await sweep(app)
    assert "尚未收到" in texts(await resident.inbox())
    assert "到期未付" in texts(await group.inbox())
    clock.advance(days=14)
    await sweep(app)
    assert await supervisor.inbox() == []
    clock.advance(days=1)  # fifteen days late
    await sweep(app)
    await sweep(app)
    told = texts(await supervisor.inbox())
    assert "已逾期 15 天" in told and told.count("租金逾期") == 1, told
    cards = texts(await group.inbox())
    assert "催收租金：B1-12" in cards and "T-" in cards, cards
    async with app.db.transaction() as s:
        tasks = (await s.exec(select(Ticket).where(Ticket.kind == "task"))).all()
        assert len(tasks) == 1 and tasks[0].details == {"rent_due": found[1].id}
    assert [d.step for d in await dues(app)][:2] == [rules.REMINDED, rules.SUPERVISOR]

    # a used receipt is refused politely; a new one pays the late rent
    said = texts(await desk.say("/rentpaid B1-12 R20261203"))
    assert "该收据号已在本小区登记过" in said and "尚未登记" in said, said
    said = texts(await desk.say("/rentpaid B1-12 R20270125"))
    assert "2027年1月10日" in said and "R20270125" in said, said
    assert "R20270125" in texts(await resident.inbox())

    # ended early: the item free again, the rents to come voided and never reminded
    said = texts(await desk.say("/rentend B1-12 解约"))
    assert "作废未到期租金 4 期" in said, said
    async with app.db.transaction() as s:
        item = (await s.exec(select(Rentable))).one()
        contract = (await s.exec(select(RentalContract))).one()
    assert item.status == "available" and contract.status == "terminated"
    clock.advance(days=30)
    await sweep(app)
    assert await resident.inbox() == []


async def test_a_tenant_without_a_chat_is_phoned_by_the_desk(demo_both, clock):
    app = demo_both  # the sweep locks the rents it steps on PostgreSQL: run on both
    desk = Chat(app, "li")
    group = Chat(app, "li", chat_id=SERVICE, kind="group")
    await desk.say("/rentals add 广告位 电梯广告位1号 500 押金1000 3栋电梯")
    said = texts(
        await desk.say("/contract 电梯广告位1号 好邻居超市 13912345678 12月1日 2027-12-01 每3月")
    )
    assert "每 3 个月付一次" in said and "共 4 期" in said, said
    await group.inbox()
    await sweep(app)  # 2026-11-26: the first rent is due in five days
    await sweep(app)
    asked = texts(await group.inbox())
    assert asked.count("请致电 13912345678") == 1 and "¥1,500.00" in asked, asked
    clock.advance(days=5)  # due today, unpaid
    await sweep(app)
    await sweep(app)
    asked = texts(await group.inbox())
    assert asked.count("【租金到期未付】") == 1 and "请致电 13912345678 催收" in asked, asked
    assert [d.step for d in await dues(app)][:2] == [rules.OVERDUE, ""]


# ---- a venue booked --------------------------------------------------------------------


async def book(chat: Chat, when: str) -> str:
    await chat.say("/venue")
    await chat.press("会所多功能厅")
    said = texts(await chat.say(when))
    if "说明用途" not in said:
        return said  # the time was refused
    summary = texts(await chat.say("生日聚会"))
    assert "场地管理费" in summary and "生日聚会" in summary, summary
    return texts(await chat.press("确认提交"))


async def test_a_venue_booked_a_clash_refused_confirmed_paid_and_reminded(demo_app, clock):
    app = demo_app
    desk = Chat(app, "li")
    group = Chat(app, "li", chat_id=SERVICE, kind="group")
    resident = Chat(app, "resident")
    tenant = Chat(app, "tenant")
    said = texts(await desk.say("/rentals add 场地 会所多功能厅 100 会所二楼"))
    assert "¥100.00/小时" in said, said
    said = await book(resident, "12月5日 14:00-16:00")
    assert "场地管理费 ¥200.00（2 小时" in said, said
    card = await group.inbox()
    assert "【场地预订】" in texts(card) and "张伟" in texts(card)
    done = texts(await group.press("确认预订"))
    assert "已确认预订" in done, done
    assert "已确认" in texts(await resident.inbox())

    said = await book(tenant, "12月5日 15:00-17:00")
    assert "已有预订" in said and "08:00-14:00、16:00-22:00" in said, said
    said = await book(tenant, "12月5日 16:00-18:00")
    assert "¥200.00" in said
    await group.inbox()
    assert "未能安排" in texts(await group.press("无法安排"))
    assert "未能安排" in texts(await tenant.inbox())

    said = texts(await desk.say("/venuepaid 1 V001 cash"))
    assert "已收 张伟 的场地管理费 ¥200.00" in said, said
    async with app.db.transaction() as s:
        entry = (await s.exec(select(LedgerEntry))).one()
        booking = await s.get(VenueBooking, 1)
    assert (entry.purpose, entry.amount, entry.source) == (
        "venue",
        Decimal("200.00"),
        "venue_booking:1",
    )
    assert booking is not None and booking.receipt == "V001"
    await resident.inbox()

    # the day before, at ten: reminded once
    clock.advance(days=7, hours=1)  # 2026-12-03 10:00
    await app.engine.run_jobs(all_jobs())
    assert await resident.inbox() == []
    clock.advance(days=1)  # 2026-12-04 10:00
    await app.engine.run_jobs(all_jobs())
    await app.engine.run_jobs(all_jobs())
    reminded = await resident.inbox()
    assert len(reminded) == 1 and "14:00-16:00" in reminded[0].text


# ---- an outsider's enquiry -------------------------------------------------------------


async def test_an_outsiders_enquiry_answered(demo_app):
    app = demo_app
    desk = Chat(app, "li")
    group = Chat(app, "li", chat_id=SERVICE, kind="group")
    stranger = Chat(app, "stranger")
    await desk.say("/rentals add 储藏室 B1-12 300 地下一层")
    listing = texts(await stranger.say("/rentals"))
    assert "B1-12" in listing and "押金" not in listing and "/rent" in listing, listing
    asked = await stranger.say("/rent")
    assert [b["label"] for b in asked[-1].buttons][:4] == [
        "B1-12（储藏室，¥300.00/月）",
        "广告位",
        "储藏室",
        "场地",
    ]
    await stranger.press("B1-12")
    await stranger.say("半年，下个月开始")
    await stranger.say("陈先生")
    said = texts(await stranger.say("13912345678"))
    assert "陈先生" in said and "13912345678" in said
    said = texts(await stranger.press("确认提交"))
    assert "编号 L-" in said, said
    number = said.split("编号 ")[1].split("。")[0]
    card = texts(await group.inbox())
    assert "【招租咨询】" in card and "外部客户" in card and "13912345678" in card, card
    said = texts(await desk.say(f"/answer {number} B1-12 每月300元，欢迎来客服中心看房"))
    assert "已答复招租咨询" in said, said
    told = texts(await stranger.inbox())
    assert "每月300元" in told and "李敏" in told, told
    async with app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket).where(Ticket.number == number))).one()
    assert ticket.status == "closed" and ticket.person_id is None


async def test_asked_at_the_menu_in_a_residents_own_words(demo_app):
    app = demo_app
    resident = Chat(app, "resident")
    group = Chat(app, "li", chat_id=SERVICE, kind="group")
    asked = texts(await resident.say("你好，想租个储藏室放杂物"))
    assert "打算租多长时间" in asked, asked
    summary = texts(await resident.say("一年"))
    assert "想租：你好，想租个储藏室放杂物" in summary, summary
    assert "张伟" in summary and "13800000001" in summary, summary
    assert "编号 L-" in texts(await resident.press("确认提交"))
    card = texts(await group.inbox())
    assert "本小区住户" in card and "储藏室" in card, card
    # the tenant's words about moving out are still a release slip's, not an enquiry
    said = texts(await Chat(app, "tenant").say("出租房的租客要退租搬东西"))
    assert "打算租多长时间" not in said


async def test_who_may(demo_app):
    app = demo_app
    resident = Chat(app, "resident")
    said = texts(await resident.say("/rentals add 储藏室 B1-13 300"))
    assert "客服中心或主管办理" in said, said
    assert "B1-13" not in texts(
        await resident.say("/contract B1-13 张伟 13800000001 12月1日 6个月")
    )
    async with app.db.transaction() as s:
        assert (await s.exec(select(Rentable))).all() == []
        assert (await s.exec(select(RentalContract))).all() == []
    # the supervisor may, a guard may not
    assert "已登记招租" in texts(await Chat(app, "zhou").say("/rentals add 储藏室 B1-13 300"))
    assert "客服中心或主管办理" in texts(
        await Chat(app, "zhao").say("/contract B1-13 张伟 13800000001 12月1日 6个月")
    )
    said = texts(await resident.say("/venue"))
    assert "没有可预订的场地" in said, said
    assert "需先绑定" in texts(await Chat(app, "stranger").say("/venue"))
