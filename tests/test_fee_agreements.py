"""What the desk agreed about a unit's fees reshapes the arrears reminders.

The demo (today 2026-11-26 09:00; the ladder runs daily at 10:00): 赵敏 owns 1栋1单元302
with 2026-08 … 2026-10 unpaid, ¥284.20 a month, ¥852.60 in all; 杨磊 is her delegate with
a power of attorney. 李敏 ("li") is the service desk, working in `group:XFL:service`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import col, select

from dialogs.registry import all_jobs
from handlers.rules.arrears import (
    ArrearsPolicy,
    Instalment,
    PlanProgress,
    instalment_notice,
    plan_broken,
    schedule,
    split_evenly,
)
from storage.models import (
    ArrearsCase,
    Bill,
    FeeAgreement,
    Ticket,
    TicketEvent,
    Unit,
)
from tests.conversations import chat_as
from tests.harness import Chat, texts

UNIT = "1栋1单元302"
SERVICE = "group:XFL:service"


# ---- helpers ---------------------------------------------------------------------------------


async def run_days(app, clock, days: int) -> None:
    for _ in range(days):
        clock.advance(days=1)
        await app.engine.run_jobs(all_jobs())


async def agreements(app) -> list[FeeAgreement]:
    async with app.db.transaction() as s:
        return list((await s.exec(select(FeeAgreement).order_by(col(FeeAgreement.id)))).all())


async def case_of(app, label: str = UNIT) -> ArrearsCase | None:
    async with app.db.transaction() as s:
        unit = (await s.exec(select(Unit).where(Unit.label == label))).one()
        return (await s.exec(select(ArrearsCase).where(ArrearsCase.unit_id == unit.id))).first()


def desk(app) -> Chat:
    return Chat(app, "li", chat_id=SERVICE, kind="group")


async def ask_for(owner: Chat, button: str, what: str, why: str) -> str:
    """The owner asks from the statement; returns the ticket number."""
    await owner.say("/fees")
    await owner.press(button)
    await owner.say(what)
    await owner.say(why)
    said = await owner.press("确认提交")
    return texts(said).split("单号 ")[1][:13]


async def record_plan(group: Chat, count: str, first: str, amounts: str | None = None) -> str:
    """The desk presses "记录分期方案" on the latest card and answers the short flow."""
    await group.press("记录分期方案")
    await group.say(count)
    await group.say(first)
    if amounts is None:
        await group.press("就用")
    else:
        await group.say(amounts)
    return texts(await group.press("确认提交"))


# ---- rules -----------------------------------------------------------------------------------


def test_an_even_split_differs_by_a_fen_at_most_and_adds_up():
    assert split_evenly(Decimal("852.60"), 3) == (Decimal("284.20"),) * 3
    assert split_evenly(Decimal("100.00"), 3) == (
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    )
    parts = split_evenly(Decimal("1000.01"), 7)
    assert sum(parts) == Decimal("1000.01") and max(parts) - min(parts) <= Decimal("0.01")


def test_instalments_fall_monthly_and_payments_count_in_order():
    plan = schedule(date(2027, 1, 31), [Decimal("100")] * 3)
    assert [i.due for i in plan] == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)]
    progress = PlanProgress(plan, Decimal("150"))
    assert [progress.owed(i) for i in plan] == [Decimal("0"), Decimal("50"), Decimal("100")]
    assert progress.current == plan[1] and not progress.complete
    assert PlanProgress(plan, Decimal("300")).current is None


def test_reminders_before_and_after_an_instalment_then_the_plan_breaks():
    policy = ArrearsPolicy()  # 3 days before, 7 days' grace
    plan = (Instalment(1, date(2026, 12, 5), Decimal("100")),)
    progress = PlanProgress(plan, Decimal("0"))
    assert instalment_notice(progress, date(2026, 12, 1), policy, set()) is None
    assert instalment_notice(progress, date(2026, 12, 2), policy, set()) == ("before", plan[0])
    assert instalment_notice(progress, date(2026, 12, 3), policy, {"before:1"}) is None
    assert instalment_notice(progress, date(2026, 12, 6), policy, {"before:1"}) == (
        "overdue",
        plan[0],
    )
    assert not plan_broken(progress, date(2026, 12, 12), policy)
    assert plan_broken(progress, date(2026, 12, 13), policy)
    assert not plan_broken(PlanProgress(plan, Decimal("100")), date(2027, 1, 1), policy)


# ---- a dispute pauses the reminders ----------------------------------------------------------


async def test_an_open_dispute_pauses_the_reminders_until_the_desk_finishes_it(demo_app, clock):
    owner = await chat_as(demo_app, "zhaomin", "赵敏")
    group = desk(demo_app)
    number = await ask_for(owner, "对金额有异议", "2026年9月的代收费用", "9月份水表已经报停")
    [card] = await group.inbox()
    assert number in card.text
    [dispute] = await agreements(demo_app)
    assert (dispute.kind, dispute.status, dispute.closed_at) == ("dispute", "open", None)
    assert dispute.opened_at == clock.now() and dispute.total == Decimal("852.60")
    said = await owner.say("/fees")
    assert f"对金额的异议 {number} 正在核实中" in texts(said) and "暂停" in texts(said)

    await run_days(demo_app, clock, 35)
    assert "尚未缴纳" not in texts(await owner.inbox())
    assert UNIT not in texts(await group.inbox())  # no phone task for the desk either
    assert await case_of(demo_app) is None

    group.keyboard = card  # the dispute's card, not the notice board's task of these weeks
    await group.press("接单")
    await group.press("开始处理")
    await group.press("完成")
    await group.say("已核实：9月水表报停前已产生代收费用，金额无误")
    await group.press("跳过")
    await group.press("确认提交")
    finished_at = clock.now()
    await owner.inbox()

    await run_days(demo_app, clock, 1)
    heard = texts(await owner.inbox())
    assert f"您提出的金额异议 {number} 已于" in heard and "金额无误" in heard
    assert "3 个月的物业费尚未缴纳，共 ¥852.60" in heard
    [dispute] = await agreements(demo_app)
    assert dispute.status == "resolved" and dispute.closed_at == finished_at
    assert dispute.resolution == "已核实：9月水表报停前已产生代收费用，金额无误"
    heard = texts(await Chat(demo_app, "li").say(f"/agreements {UNIT}"))
    assert f"异议 {number} {UNIT}：已处理，2026-11-26 09:00 提出，2026-12-31 09:00 结束" in heard
    assert "处理结果：已核实" in heard


# ---- an instalment plan reshapes them --------------------------------------------------------


async def test_the_desk_records_a_plan_and_the_reminders_follow_it_until_one_is_missed(
    demo_app, clock
):
    owner = await chat_as(demo_app, "zhaomin", "赵敏")
    delegate = await chat_as(demo_app, "yanglei", "杨磊")
    group = desk(demo_app)
    number = await ask_for(owner, "申请分期缴纳", "分3个月缴清", "这几个月手头紧")
    [card] = await group.inbox()
    assert number in card.text and "记录分期方案" in [b["label"] for b in card.buttons]

    await group.press("记录分期方案")
    said = await group.say("20")
    assert "2–12 之间" in texts(said)
    said = await group.say("3")
    assert "12月5日" in texts(said) and "就用：2026-12-03" in said[-1].buttons[0]["label"]
    said = await group.say("2026-10-01")  # in the past
    assert "不是可用的日期" in texts(said)
    said = await group.say("12月5日")
    assert "就用：284.20 / 284.20 / 284.20" in said[-1].buttons[0]["label"]
    said = await group.say("300 300")
    assert "需要 3 个金额、合计 ¥852.60" in texts(said) and "2 个、合计 ¥600.00" in texts(said)
    said = await group.press("就用")
    summary = texts(said)
    assert "待缴合计：¥852.60" in summary and "2026年08月、2026年09月、2026年10月" in summary
    assert "第1期：2026年12月5日 前缴 ¥284.20" in summary
    assert "第3期：2027年2月5日 前缴 ¥284.20" in summary
    said = await group.press("确认提交")
    assert f"已记录分期方案：{number} {UNIT}，共 3 期" in texts(said)
    assert "已通知住户（2 个聊天账号）" in texts(said)
    refreshed = [s for s in said if s.payload.get("card")]
    assert refreshed and all("记录分期方案" not in str(s.buttons) for s in refreshed)

    for chat in (owner, delegate):
        told = texts(await chat.inbox())
        assert f"您申请的分期缴费（{number}）已确认" in told
        assert "第2期：2027年1月5日 前缴 ¥284.20（待缴）" in told
    [plan] = await agreements(demo_app)
    assert (plan.kind, plan.status, plan.total) == ("instalment", "active", Decimal("852.60"))
    assert [i["due"] for i in plan.instalments] == ["2026-12-05", "2027-01-05", "2027-02-05"]
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket).where(Ticket.number == number))).one()
        events = (await s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))).all()
    assert "plan" in [e.action for e in events] and ticket.details["agreement"] == plan.id
    statement = await owner.say("/fees")
    assert f"分期方案 {number}：共 3 期，已缴 ¥0.00 / ¥852.60" in texts(statement)
    assert "申请分期缴纳" not in str(statement[-1].buttons)
    assert "需要分期缴纳" not in statement[-1].text and "预约上门收费" in statement[-1].text

    # No "pay everything by …" while the plan holds; the first instalment 3 days ahead.
    await run_days(demo_app, clock, 5)  # to 12-01
    assert texts(await owner.inbox()) == ""
    await run_days(demo_app, clock, 1)  # 12-02
    heard = texts(await owner.inbox())
    assert "分期第1期（共3期）¥284.20，请于 2026年12月5日 前缴纳" in heard
    assert "尚未缴纳" not in heard and "¥852.60" not in heard
    assert "分期第1期" in texts(await delegate.inbox())  # the delegate acts for the owner

    clock.advance(hours=1)
    await Chat(demo_app, "li").say(f"/paid {UNIT} 284.20 SJ20261203001")
    await owner.inbox()
    await run_days(demo_app, clock, 31)  # to 2027-01-02: the second instalment is next
    heard = texts(await owner.inbox())
    assert "分期第2期（共3期）¥284.20，请于 2027年1月5日 前缴纳" in heard
    assert "尚未缴纳" not in heard

    # Part of the second instalment, then nothing: a reminder after its date, then the end.
    await Chat(demo_app, "li").say(f"/paid {UNIT} 100 SJ20270102001")
    await owner.inbox()
    await run_days(demo_app, clock, 4)  # 2027-01-06
    heard = texts(await owner.inbox())
    assert "分期第2期 ¥184.20 已于 2027年1月5日 到期" in heard and "2027年1月12日 前缴纳" in heard
    await run_days(demo_app, clock, 6)  # 2027-01-12: still within the grace
    assert texts(await owner.inbox()) == ""
    await group.inbox()
    await run_days(demo_app, clock, 1)  # 2027-01-13: broken
    heard = texts(await owner.inbox())
    assert f"分期方案 {number} 已失效" in heard
    assert "2 个月的物业费尚未缴纳，共 ¥468.40（已扣除预存余额 ¥100.00）" in heard
    told = texts(await group.inbox())
    assert f"【分期失效】{number} {UNIT}：第2期 ¥184.20 应于 2027年1月5日 前缴纳" in told
    [plan] = await agreements(demo_app)
    assert plan.status == "broken" and plan.closed_at == clock.now()
    assert {"before:1", "before:2", "overdue:2"} <= {h["event"] for h in plan.history}

    # The ordinary ladder again: a month later, the usual reminder of everything due.
    await run_days(demo_app, clock, 30)
    assert "共 ¥468.40" in texts(await owner.inbox())


async def test_months_outside_a_plan_are_still_reminded_on_their_own(demo_app, clock):
    owner = await chat_as(demo_app, "zhaomin", "赵敏")
    group = desk(demo_app)
    await ask_for(owner, "申请分期缴纳", "分2期", "手头紧")
    await group.inbox()
    await record_plan(group, "2", "12月20日")
    await owner.inbox()
    async with demo_app.db.transaction() as s:  # November's bill is issued
        unit = (await s.exec(select(Unit).where(Unit.label == UNIT))).one()
        s.add(
            Bill(
                unit_id=unit.id,
                month="2026-11",
                management=Decimal("222.50"),
                energy=Decimal("26.70"),
                collected=Decimal("35.00"),
            )
        )
    await run_days(demo_app, clock, 4)  # November is due, not overdue yet
    assert texts(await owner.inbox()) == ""
    await run_days(demo_app, clock, 2)  # 12-02: November is overdue
    heard = texts(await owner.inbox())
    assert "1 个月的物业费尚未缴纳，共 ¥284.20" in heard and "2026年11月" in heard
    assert "2026年08月" not in heard  # the plan's months are reminded by instalment
    li = Chat(demo_app, "li")
    await run_days(demo_app, clock, 12)  # 12-14
    await li.say(f"/paid {UNIT} 426.30 SJ20261214001")
    await run_days(demo_app, clock, 32)  # 2027-01-15
    await li.say(f"/paid {UNIT} 426.30 SJ20270115001")
    await run_days(demo_app, clock, 1)
    [plan] = await agreements(demo_app)
    assert plan.status == "kept" and plan.closed_at == clock.now()
    # Three months after the first reminder, but the weeks under the plan do not count.
    await run_days(demo_app, clock, 60)  # 2027-03-17
    case = await case_of(demo_app)
    assert case is not None and case.step == "reminder"
    await run_days(demo_app, clock, 31)
    case = await case_of(demo_app)
    assert case is not None and case.step == "letter"
    steps = [h["step"] for h in case.history]
    assert steps.index("paused") < steps.index("resumed") < steps.index("letter")


async def test_only_the_service_desk_records_a_plan_once(demo_app):
    owner = await chat_as(demo_app, "zhaomin", "赵敏")
    group = desk(demo_app)
    number = await ask_for(owner, "申请分期缴纳", "分3个月缴清", "手头紧")
    [card] = await group.inbox()
    forged = card.button("记录分期方案")
    assert "没有权限" in texts(await owner.send(option=forged))
    assert "没有权限" in texts(await Chat(demo_app, "wang").send(option=forged))
    assert await agreements(demo_app) == []

    li = Chat(demo_app, "li")
    said = await li.say(f"/plan {number}")
    assert number in texts(said) and said[-1].buttons[0]["label"] == "记录分期方案"
    said = await li.press("记录分期方案")
    await li.say("3")
    await li.say("12月5日")
    said = await li.say("300 300 252.6")
    assert "第3期：2027年2月5日 前缴 ¥252.60" in texts(said)
    await li.press("确认提交")
    [plan] = await agreements(demo_app)
    assert [i["amount"] for i in plan.instalments] == ["300.00", "300.00", "252.60"]

    said = await li.say(f"/plan {number}")
    assert "已经有一份执行中的分期方案" in texts(said)
    said = await li.say("/plan F-000000-0000")
    assert "没有找到单号" in texts(said)


async def test_the_desk_sees_the_agreements_with_their_dates(demo_app, clock):
    owner = await chat_as(demo_app, "zhaomin", "赵敏")
    group = desk(demo_app)
    dispute = await ask_for(owner, "对金额有异议", "9月代收费", "水表报停")
    plan = await ask_for(owner, "申请分期缴纳", "分2期", "手头紧")
    await group.inbox()
    await record_plan(group, "2", "12月20日")
    li = Chat(demo_app, "li")
    heard = texts(await li.say("/agreements"))
    assert "缴费约定（2 项）" in heard
    assert f"异议 {dispute} {UNIT}：核实中，暂停催缴，2026-11-26 09:00 提出" in heard
    assert f"分期 {plan} {UNIT}：执行中，2026-11-26 09:00 确认，共 2 期" in heard
    assert "下一期：第1期 ¥426.30（2026年12月20日 前）" in heard
    heard = texts(await li.say("/agreements 1-1-302"))
    assert dispute in heard and plan in heard
    assert "您是说 1栋1单元302 吗" in texts(await li.say("/agreements 1栋1单元3020"))
    assert "没有权限" in texts(await Chat(demo_app, "wang").say("/agreements"))
    assert "没有权限" in texts(await owner.say("/agreements"))
