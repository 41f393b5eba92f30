"""Arrears casework as conversations with a moving clock (the demo: today 2026-11-26 09:00;
赵敏 owns 1栋1单元302 with 2026-08 … 2026-10 unpaid, ¥284.20 a month, ¥852.60 in all).

The desk lists the cases and opens one, records a call with the collection script's
prompts and a promised date; the date passes unpaid and the desk gets a follow-up task
(once), or the money comes in and the owner is thanked (once). A dispute as the reason
opens the fee dispute that pauses the ladder until the desk settles it. The legal step
prepares the file for the director, who sends it to the lawyer. Only the community's desk
and managers work the cases.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from sqlmodel import col, select

from dialogs.registry import all_jobs, all_sweeps
from handlers.people import add_staff
from handlers.rules.arrears_work import KEPT, PromisePolicy, promise_verdict
from storage.models import (
    ArrearsCase,
    ArrearsContact,
    AuditLog,
    Community,
    FeeAgreement,
    Ticket,
    TicketKind,
    Unit,
)
from tests.conversations import chat_as
from tests.harness import Chat, texts

UNIT = "1栋1单元302"
SERVICE = "group:XFL:service"


async def run_days(app: Any, clock: Any, days: int) -> None:
    for _ in range(days):
        clock.advance(days=1)
        await app.engine.run_jobs(all_jobs())


async def sweep(app: Any) -> None:
    for check in all_sweeps():
        await app.engine.sweep(check)


async def case_of(app: Any, label: str = UNIT) -> ArrearsCase:
    async with app.db.transaction() as s:
        unit = (await s.exec(select(Unit).where(Unit.label == label))).first()
        assert unit is not None
        return (await s.exec(select(ArrearsCase).where(ArrearsCase.unit_id == unit.id))).one()


async def put_on_step(app: Any, step: str, since: timedelta, label: str = UNIT) -> None:
    """The case as the ladder would have it after months: on `step` since `since` ago."""
    async with app.db.transaction() as s:
        unit = (await s.exec(select(Unit).where(Unit.label == label))).first()
        case = (await s.exec(select(ArrearsCase).where(ArrearsCase.unit_id == unit.id))).one()
        case.step, case.step_at = step, app.clock.now() - since
        case.history = [*case.history, {"step": step, "at": case.step_at.isoformat()}]
        s.add(case)


async def contacts(app: Any) -> list[ArrearsContact]:
    async with app.db.transaction() as s:
        return list((await s.exec(select(ArrearsContact).order_by(col(ArrearsContact.id)))).all())


async def tasks(app: Any) -> list[Ticket]:
    async with app.db.transaction() as s:
        return list((await s.exec(select(Ticket).where(Ticket.kind == TicketKind.task))).all())


async def record_call(
    li: Chat, reason: str, outcome: str, day: str | None, amount: str | None = None
) -> str:
    """The desk opens the case and goes through the collection script."""
    said = await li.say("/arrears 1-1-302")
    assert "【欠费个案】1栋1单元302" in texts(said)
    said = await li.press("记录催缴沟通")
    prompt = texts(said)
    assert "① 先核对房号和业主姓名：1栋1单元302，业主 赵敏" in prompt
    assert "② 说明欠费月份和金额：2026年08月、2026年09月、2026年10月，共 ¥852.60" in prompt
    await li.press("电话")
    said = await li.press("已联系上")
    assert "询问原因" in texts(said)
    await li.press(reason)
    said = await li.say(outcome)
    if day is not None:
        assert "约定哪天前缴费" in texts(said)
        said = await li.say(day)
        assert "就用：852.60" in str(said[-1].buttons)
        said = await (li.say(amount) if amount else li.press("就用"))
    elif reason != "异议":
        said = await li.press("跳过")
    assert "请确认催缴沟通记录" in texts(said)
    return texts(await li.press("确认提交"))


# ---- the rule --------------------------------------------------------------------------------


def test_a_promise_is_kept_by_the_money_and_broken_after_the_grace() -> None:
    policy = PromisePolicy(grace_days=1)
    day = date(2026, 12, 5)
    assert promise_verdict(day, Decimal("500"), Decimal("0"), date(2026, 12, 6), policy) is None
    assert promise_verdict(day, Decimal("500"), Decimal("0"), date(2026, 12, 7), policy) == "broken"
    assert promise_verdict(day, Decimal("500"), Decimal("499.99"), date(2026, 12, 7), policy) == (
        "broken"
    )
    assert promise_verdict(day, Decimal("500"), Decimal("500"), date(2026, 12, 1), policy) == KEPT
    assert promise_verdict(day, None, Decimal("1"), date(2026, 12, 1), policy) == KEPT


# ---- a promise broken, a promise kept ------------------------------------------------------


async def test_a_promised_date_passes_unpaid_and_the_desk_gets_a_follow_up_once(
    demo_both: Any, clock: Any
) -> None:
    demo_app = demo_both  # on SQLite and PostgreSQL: the sweep locks the promises it follows
    await run_days(demo_app, clock, 1)  # 11-27: the ladder opens the cases
    await put_on_step(demo_app, "visit", timedelta(days=10))
    li = Chat(demo_app, "li")
    listing = texts(await li.say("/arrears"))
    assert "【上门催缴】1栋1单元302：欠费 ¥852.60（3 个月）" in listing
    assert listing.index("1栋1单元302") < listing.index("2栋2单元1101")  # the later step first
    assert "尚无沟通记录" in listing and "1栋2单元1201" not in listing  # 和悦园's is not ours

    said = await record_call(li, "经济困难", "业主说12月发工资后先缴500", "12月5日", "500")
    assert "已记录催缴沟通：1栋1单元302，电话，已联系上，原因：经济困难" in said
    assert "约定 2026年12月5日 前缴 ¥500.00" in said
    [contact] = await contacts(demo_app)
    assert (contact.method, contact.reached, contact.reason) == ("call", True, "hardship")
    assert contact.promised_on == date(2026, 12, 5) and contact.promised_amount == Decimal("500")
    assert (await case_of(demo_app)).reason == "hardship"
    case = texts(await li.say("/arrears 1栋1单元302"))
    assert "原因：经济困难" in case and "业主说12月发工资后先缴500" in case and "待跟进" in case
    listing = texts(await li.say("/arrears"))
    assert "约定 2026年12月5日 前缴 ¥500.00" in listing

    group = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    await group.inbox()
    clock.advance(days=9)  # 12-06: the promised day and its day of grace
    await sweep(demo_app)
    assert await tasks(demo_app) == []
    clock.advance(days=1)  # 12-07: broken
    await sweep(demo_app)
    [task] = await tasks(demo_app)
    assert task.number.startswith("T-") and "【约定未兑现】1栋1单元302" in task.description
    assert "¥500.00" in task.description and "/arrears 1栋1单元302" in task.description
    cards = texts(await group.inbox())
    assert task.number in cards and "约定未兑现" in cards
    [contact] = await contacts(demo_app)
    assert contact.kept is False and contact.followed_at == clock.now()
    clock.advance(hours=1)
    await sweep(demo_app)
    assert len(await tasks(demo_app)) == 1  # once
    case = texts(await li.say("/arrears 1-1-302"))
    assert "未兑现" in case and "约定缴费未兑现，已派跟进任务" in case


async def test_a_promise_kept_by_a_payment_thanks_the_owner_once(demo_app: Any, clock: Any) -> None:
    owner = await chat_as(demo_app, "zhaomin", "赵敏")
    await run_days(demo_app, clock, 1)
    await put_on_step(demo_app, "visit", timedelta(days=3))
    li = Chat(demo_app, "li")
    said = await record_call(li, "忘记缴费", "业主出差忘了，答应下周缴清", "下周五")
    assert "前缴 ¥852.60" in said
    await owner.inbox()
    clock.advance(days=2)
    paid = await li.say(f"/paid {UNIT} 852.60 SJ20261129001")
    assert "SJ20261129001" in texts(paid)
    await owner.inbox()
    await sweep(demo_app)
    heard = texts(await owner.inbox())
    assert "感谢您按约定缴费" in heard and "¥852.60" in heard
    [contact] = await contacts(demo_app)
    assert contact.kept is True and contact.followed_at == clock.now()
    clock.advance(days=30)
    await sweep(demo_app)
    assert texts(await owner.inbox()) == ""
    assert await tasks(demo_app) == []
    assert (await case_of(demo_app)).closed_at is not None  # paid: the case left the ladder


# ---- a dispute pauses the ladder -----------------------------------------------------------


async def test_a_dispute_found_as_the_reason_pauses_the_ladder_until_settled(
    demo_app: Any, clock: Any
) -> None:
    await run_days(demo_app, clock, 1)
    # On the letter step for two months: the next daily run would send the visit task.
    await put_on_step(demo_app, "letter", timedelta(days=62))
    li = Chat(demo_app, "li")
    group = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    said = await record_call(li, "异议", "业主说9月水表已报停，代收费不应收取", None)
    assert "原因：对金额或服务有异议" in said
    assert "已为 1栋1单元302 登记异议 F-" in said
    async with demo_app.db.transaction() as s:
        [dispute] = (await s.exec(select(FeeAgreement))).all()
        ticket = await s.get(Ticket, dispute.ticket_id)
    assert (dispute.kind, dispute.status) == ("dispute", "open") and ticket is not None
    assert ticket.description.startswith("业主说9月水表已报停")
    await group.inbox()
    assert group.keyboard is not None and ticket.number in group.keyboard.text  # its card

    await run_days(demo_app, clock, 1)
    assert UNIT not in texts(await group.inbox())  # the ladder waits: no visit task
    case = await case_of(demo_app)
    assert case.step == "letter" and case.history[-1]["step"] == "paused"
    said = texts(await li.say("/arrears 1-1-302"))
    assert "暂停催缴" in said and f"对金额的异议 {ticket.number} 正在核实中" in said
    said = await record_call(li, "异议", "业主再次来电询问", None)
    assert f"该户的异议 {ticket.number} 正在核实中" in said  # the same dispute, not another

    await group.press("接单")
    await group.press("开始处理")
    await group.press("完成")
    await group.say("已核实：报停前已产生代收费用，金额无误")
    await group.press("跳过")
    await group.press("确认提交")
    await group.inbox()
    await run_days(demo_app, clock, 1)
    told = texts(await group.inbox())
    assert "【上门催缴】1栋1单元302" in told
    assert (await case_of(demo_app)).step == "visit"
    # The visit task is casework: its button starts the contact in the desk's group.
    said = await group.press("记录催缴沟通")
    assert "① 先核对房号和业主姓名：1栋1单元302" in texts(said)


# ---- the legal step -----------------------------------------------------------------------


async def test_the_ladder_reaches_legal_and_the_director_sends_the_file(
    demo_app: Any, clock: Any
) -> None:
    await run_days(demo_app, clock, 1)
    await put_on_step(demo_app, "visit", timedelta(days=40))
    li = Chat(demo_app, "li")
    await record_call(li, "拒绝缴纳", "业主拒绝缴纳，称不满意绿化", "12月10日", "300")
    clock.advance(days=16)  # 12-13: the promise is broken
    await sweep(demo_app)
    chen = Chat(demo_app, "chen")
    await chen.inbox()
    await put_on_step(demo_app, "visit", timedelta(days=100))
    await run_days(demo_app, clock, 1)  # three months after the visit: legal
    said = [s for s in await chen.inbox() if "欠费法律材料" in s.text]
    assert len(said) == 1
    assert "1栋1单元302（业主：赵敏）欠费 ¥852.60（3 个月），经 1 次催缴沟通，1 次约定未兑现" in (
        said[0].text
    )
    case = await case_of(demo_app)
    assert case.step == "legal" and case.legal_file == said[0].payload["document"]

    sheet = load_workbook(case.legal_file).active
    rows = [[c for c in row if c is not None] for row in sheet.iter_rows(values_only=True)]
    flat = [str(v) for row in rows for v in row]
    assert "欠费催缴材料：1栋1单元302" in flat and "赵敏" in flat
    months = [row for row in rows if row and str(row[0]).startswith("2026年")]
    assert [row[0] for row in months] == ["2026年08月", "2026年09月", "2026年10月"]
    assert all(row[-1] == 284.2 for row in months)
    assert ["欠费金额（元）", 852.6] in rows
    assert any("业主拒绝缴纳，称不满意绿化" in str(v) for v in flat)
    assert any("未兑现" in str(v) for v in flat)

    said = await chen.press("暂缓")
    assert "暂缓处理" in texts(said)
    assert (await case_of(demo_app)).legal_at is None
    assert chen.keyboard is not None
    assert "没有权限" in texts(await li.send(option=chen.keyboard.button("同意交律师处理")))
    said = await chen.press("同意交律师处理")
    assert "交律师处理" in texts(said)
    case = await case_of(demo_app)
    assert case.legal_at == clock.now()
    assert [h["step"] for h in case.history][-2:] == ["legal_hold", "legal_sent"]
    said = await chen.press("同意交律师处理")
    assert "已于" in texts(said)  # once
    async with demo_app.db.transaction() as s:
        actions = [a.action for a in (await s.exec(select(AuditLog))).all()]
    assert {"arrears_contact", "arrears_legal_hold", "arrears_legal_sent"} <= set(actions)


async def test_the_supervisor_may_choose_the_legal_step_earlier(demo_app: Any, clock: Any) -> None:
    await run_days(demo_app, clock, 1)
    zhou = Chat(demo_app, "zhou")
    said = await zhou.say("/arrears 1-1-302")
    assert "准备法律材料" in str(said[-1].buttons)
    assert "准备法律材料" not in str(
        (await Chat(demo_app, "li").say("/arrears 1-1-302"))[-1].buttons
    )
    said = await zhou.press("准备法律材料")
    assert "已准备 1栋1单元302 的法律材料，并交主任决定" in texts(said)
    assert "欠费法律材料" in texts(await Chat(demo_app, "chen").inbox())
    case = await case_of(demo_app)
    assert case.step == "legal" and case.legal_file.endswith(".xlsx")


# ---- who may -----------------------------------------------------------------------------


async def test_only_the_communitys_desk_and_managers_work_the_cases(
    demo_app: Any, clock: Any
) -> None:
    await run_days(demo_app, clock, 1)
    assert "没有权限" in texts(await Chat(demo_app, "resident").say("/arrears"))
    assert "没有权限" in texts(await Chat(demo_app, "wang").say("/arrears 1-1-302"))
    li = Chat(demo_app, "li")
    await li.say("/arrears 1-1-302")
    start = li.keyboard.button("记录催缴沟通") if li.keyboard else ""
    assert "没有权限" in texts(await Chat(demo_app, "wang").send(option=start))

    async with demo_app.db.transaction() as s:
        other = (await s.exec(select(Community).where(Community.code == "HYY"))).one()
        await add_staff(
            s,
            channel="console",
            user_id="hyydesk",
            name="和悦园前台",
            department="service",
            community_id=other.id,
        )
    hyy = Chat(demo_app, "hyydesk")
    listing = texts(await hyy.say("/arrears"))
    assert "2栋2单元502" in listing and UNIT not in listing and "2栋2单元1101" not in listing
    assert UNIT not in texts(await hyy.say("/arrears 1-1-302"))
    assert "没有权限" in texts(await hyy.send(option=start))
    assert await contacts(demo_app) == []
