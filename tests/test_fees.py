"""Fees and arrears: statements, requests to the desk, collection visits and payments.

The demo (today 2026-11-26, bills 2026-05 … 2026-10): 张伟 ("resident") owns 3栋2单元1201,
paid up; 赵敏 owns 1栋1单元302, three months unpaid, 35 yuan collected items a month;
刘洋 ("tenant") rents 3栋2单元1202, one month unpaid. Staff: 李敏 ("li", service desk),
赵强 ("zhao", security), 周主管 ("zhou", supervisor).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from handlers.rules.fees import (
    DueMonth,
    allocate,
    monthly_charge,
    normalise_receipt,
    parse_amount,
    statement,
)
from storage.models import (
    AuditLog,
    Bill,
    Binding,
    Payment,
    Person,
    Ticket,
    TicketKind,
    Unit,
)
from tests.commandline import frontdesk
from tests.conversations import chat_as
from tests.harness import Chat, texts

ROOT = Path(__file__).resolve().parent.parent
SERVICE = "group:XFL:service"


# ---- helpers -------------------------------------------------------------------------


async def unit_named(app, label: str) -> Unit:
    async with app.db.transaction() as s:
        return (await s.exec(select(Unit).where(Unit.label == label))).one()


async def bills_of(app, label: str) -> list[Bill]:
    unit = await unit_named(app, label)
    async with app.db.transaction() as s:
        return list(
            await s.exec(select(Bill).where(Bill.unit_id == unit.id).order_by(col(Bill.month)))
        )


def total(bill: Bill) -> Decimal:
    return bill.management + bill.energy + bill.collected


def yuan(amount: Decimal) -> str:
    return f"¥{amount:,.2f}"


async def fee_tickets(app) -> list[Ticket]:
    async with app.db.transaction() as s:
        return list((await s.exec(select(Ticket).where(Ticket.kind == TicketKind.fee))).all())


# ---- rules ---------------------------------------------------------------------------


def bill(month: str, amount: str, paid: bool) -> SimpleNamespace:
    return SimpleNamespace(
        month=month,
        management=Decimal(amount),
        energy=Decimal("0"),
        collected=Decimal("0"),
        paid_at=datetime(2026, 1, 1) if paid else None,
    )


def test_monthly_charge_is_rate_times_area_plus_energy_plus_collected():
    assert monthly_charge(
        Decimal("2.50"), Decimal("89.50"), Decimal("0.30"), Decimal("0")
    ) == Decimal("250.60")
    # each part is rounded to the fen as the bills are: 2.35 × 77.77 = 182.7595 → 182.76
    assert monthly_charge(
        Decimal("2.35"), Decimal("77.77"), Decimal("0.30"), Decimal("15")
    ) == Decimal("182.76") + Decimal("23.33") + Decimal("15.00")


def test_statement_months_due_arrears_and_paid_through():
    bills = [
        bill("2026-08", "100", True),
        bill("2026-09", "100", False),
        bill("2026-10", "110", False),
        bill("2026-11", "120", False),  # the current month: due, not yet arrears
        bill("2026-12", "130", False),  # issued ahead: not due yet
    ]
    found = statement(bills, date(2026, 11, 26))
    assert found.paid_through == "2026-08"
    assert [d.month for d in found.due] == ["2026-09", "2026-10", "2026-11"]
    assert found.total_due == Decimal("330")
    assert [d.month for d in found.arrears] == ["2026-09", "2026-10"]
    assert found.has_arrears and found.total_arrears == Decimal("210")
    assert statement([bill("2026-10", "1", False)], date(2026, 11, 1)).paid_through is None
    paid_up = statement([bill("2026-10", "1", True)], date(2026, 11, 1))
    assert paid_up.paid_through == "2026-10" and not paid_up.has_arrears


def test_a_payment_pays_whole_months_oldest_first_and_keeps_the_rest_as_credit():
    due = [DueMonth("2026-10", Decimal("100")), DueMonth("2026-09", Decimal("100"))]
    first = allocate(due, Decimal("250"), Decimal("0"))
    assert first.months == ("2026-09", "2026-10") and first.credit == Decimal("50")
    partial = allocate(due, Decimal("150"), Decimal("0"))
    assert partial.months == ("2026-09",) and partial.credit == Decimal("50")
    with_credit = allocate(due, Decimal("60"), Decimal("40"))
    assert with_credit.months == ("2026-09",) and with_credit.credit == Decimal("0")
    assert allocate(due, Decimal("99.99"), Decimal("0")).months == ()


def test_amounts_and_receipt_numbers():
    assert parse_amount("500") == Decimal("500.00")
    assert parse_amount("¥1,234.50") == Decimal("1234.50")
    assert parse_amount("300元") == Decimal("300.00")
    for bad in ("0", "-5", "abc", "1.234", "NaN", "99999999"):
        assert parse_amount(bad) is None, bad
    assert normalise_receipt(" sj20261127001 ") == "SJ20261127001"
    assert normalise_receipt("SJ 1") is None and normalise_receipt("ab") is None


# ---- the statement -------------------------------------------------------------------


async def test_a_paid_up_owner_sees_the_figures_of_their_unit(demo_app):
    resident = Chat(demo_app, "resident")
    said = await resident.say("/fees")
    text = texts(said)
    assert "3栋2单元1201" in text and "89.5 平方米" in text
    assert "每月应缴：¥250.60" in text  # 2.50 × 89.5 + 0.30 × 89.5 + 0
    assert "¥223.75" in text and "¥26.85" in text
    assert "已缴至：2026年10月" in text
    assert "目前没有待缴费用" in text and "合计待缴：¥0.00" in text
    labels = [b["label"] for b in said[-1].buttons]
    assert labels == ["对金额有异议"]  # nothing due: no instalments, no collection


async def test_a_unit_in_arrears_lists_each_month_against_its_bill(demo_app):
    owner = await chat_as(demo_app, "zhaomin", "赵敏")
    bills = await bills_of(demo_app, "1栋1单元302")
    unpaid = [b for b in bills if b.paid_at is None]
    assert [b.month for b in unpaid] == ["2026-08", "2026-09", "2026-10"]
    said = await owner.say("/fees")
    text = texts(said)
    for b in unpaid:
        assert f"{b.month[:4]}年{b.month[5:]}月：{yuan(total(b))}" in text
    assert f"合计待缴：{yuan(sum(map(total, unpaid), Decimal(0)))}" in text
    assert "合计待缴：¥852.60" in text
    assert "每月应缴：¥284.20" in text and "代收代付费用：¥35.00" in text
    assert "已缴至：2026年07月" in text
    assert {b["label"] for b in said[-1].buttons} == {
        "对金额有异议",
        "申请分期缴纳",
        "预约上门收费",
    }

    await owner.say("/lang en")
    text = texts(await owner.say("/fees"))
    assert "Monthly charge: CN¥284.20" in text and "Paid up to: 2026-07" in text
    assert "2026-08: CN¥284.20" in text and "Total due: CN¥852.60" in text


async def test_the_statement_names_only_the_follow_ups_it_offers(demo_app):
    """Words true on every channel (WeChat shows numbered lines, not buttons), and nothing
    about instalments when nothing is due."""
    resident = Chat(demo_app, "resident")  # paid up
    said = await resident.say("/fees")
    text = said[-1].text
    assert "如对金额有疑问，可以选择下面的选项" in text
    assert "分期" not in text and "上门" not in text and "按钮" not in text and "点" not in text

    owner = await chat_as(demo_app, "zhaomin", "赵敏")
    said = await owner.say("/fees")
    text = said[-1].text
    assert "如对金额有疑问、需要分期缴纳，或希望预约上门收费，可以选择下面的选项" in text
    assert "按钮" not in text
    await owner.say("/lang en")
    text = (await owner.say("/fees"))[-1].text
    assert "pay in instalments, or you would like a collector to call, choose one of" in text
    assert "press" not in text and "button" not in text


async def test_with_several_units_the_resident_chooses_one(demo_app):
    other = await unit_named(demo_app, "1栋1单元302")
    async with demo_app.db.transaction() as s:
        person = (await s.exec(select(Person).where(Person.name == "张伟"))).one()
        s.add(
            Binding(
                person_id=person.id, unit_id=other.id, role="owner", created_at=person.created_at
            )
        )
    resident = Chat(demo_app, "resident")
    said = await resident.say("/fees")
    assert "哪一套房屋" in texts(said)
    assert [b["label"] for b in said[-1].buttons] == ["3栋2单元1201", "1栋1单元302"]
    said = await resident.press("1栋1单元302")
    assert "1栋1单元302 的物业费" in texts(said) and "¥852.60" in texts(said)


async def test_a_resident_cannot_see_or_act_on_another_units_fees(demo_app):
    other = await unit_named(demo_app, "1栋1单元302")
    resident = Chat(demo_app, "resident")
    for forged in (
        f"flow:fees:{other.id}",
        f"flow:fee_request:dispute:{other.id}",
        f"flow:fee_visit:{other.id}",
    ):
        said = await resident.send(option=forged)
        assert "只能查询和办理您本人已绑定房屋" in texts(said), forged
        assert "1栋1单元302" not in texts(said) and "852" not in texts(said)
    # words routed here from the menu are no unit: the resident's own statement comes
    said = await resident.send(option="flow:fees:我想查一下物业费")
    assert "3栋2单元1201 的物业费" in texts(said)
    # inside the request flow, a unit that was never offered is a stale button
    said = await resident.say("/fee_request")
    said = await resident.send(option=f"unit:{other.id}")
    assert "已经失效" in texts(said)
    assert await fee_tickets(demo_app) == []


async def test_an_unbound_chat_is_asked_to_bind_first(demo_app):
    stranger = Chat(demo_app, "stranger")
    said = await stranger.say("/fees")
    assert "绑定房屋" in texts(said) and "物业费情况" not in texts(said)
    assert await fee_tickets(demo_app) == []


# ---- requests to the desk ------------------------------------------------------------


async def test_a_dispute_becomes_a_ticket_pushed_to_the_service_desk(demo_app, clock):
    owner = await chat_as(demo_app, "zhaomin", "赵敏")
    await owner.say("/fees")
    said = await owner.press("对金额有异议")
    assert "哪一笔金额" in texts(said)
    said = await owner.say("")  # nothing typed: asked again, politely
    assert "不能为空" in texts(said) and "哪一笔金额" in texts(said)
    said = await owner.say("2026年9月的代收费用")
    assert "原因" in texts(said)
    said = await owner.say("9月份水表已经报停，不应收代收费")
    assert "请核对" in texts(said) and "对金额有异议" in texts(said)
    said = await owner.press("确认提交")
    assert "F-261126-0001" in texts(said)
    assert "2026-11-30 18:00 前答复" in texts(said)  # the second working day, at closing

    [ticket] = await fee_tickets(demo_app)
    assert ticket.details["type"] == "dispute"
    assert ticket.details["months"] == ["2026-08", "2026-09", "2026-10"]
    assert ticket.due_at == datetime(2026, 11, 30, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert ticket.department == "service" and "报停" in ticket.description

    desk = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    [card] = await desk.inbox()
    assert "F-261126-0001" in card.text and "对金额有异议" in card.text
    assert "1栋1单元302" in card.text and "¥852.60" in card.text and "报停" in card.text
    assert "138****0007" in card.text and "13800000007" not in card.text


async def test_an_instalment_request_in_english(demo_app):
    tenant = Chat(demo_app, "tenant")
    await tenant.say("/lang en")
    said = await tenant.say("/fees")
    assert "Total due: CN¥265.60" in texts(said)
    said = await tenant.press("Pay in instalments")
    assert "split the payment" in texts(said)
    await tenant.say("two monthly parts")
    said = await tenant.say("I am between jobs this month")
    assert "Pay in instalments" in texts(said) and "two monthly parts" in texts(said)
    said = await tenant.press("Submit")
    assert "registered as F-261126-0001" in texts(said) and "reply by" in texts(said)
    [ticket] = await fee_tickets(demo_app)
    assert ticket.details["type"] == "instalment"
    desk = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    [card] = await desk.inbox()
    assert "申请分期缴纳" in card.text and "two monthly parts" in card.text  # desk reads Chinese


async def test_a_collection_appointment_is_prefilled_from_the_statement(demo_app):
    owner = await chat_as(demo_app, "zhaomin", "赵敏")
    await owner.say("/fees")
    said = await owner.press("预约上门收费")
    assert "找哪位" in texts(said) and "就用：赵敏" in said[-1].buttons[0]["label"]
    await owner.press("赵敏")
    said = await owner.press("周末")
    assert "缴纳多少元" in texts(said) and "就用：852.60" in said[-1].buttons[0]["label"]
    said = await owner.say("八百")  # not a number
    assert "不是有效的金额" in texts(said) and "缴纳多少元" in texts(said)
    said = await owner.say("600")  # edited: part of the total
    assert "联系电话" in texts(said)
    said = await owner.press("13800000007")
    summary = texts(said)
    assert "周末" in summary and "¥600.00" in summary and "1栋1单元302" in summary
    said = await owner.press("确认提交")
    assert "上门收费已预约" in texts(said) and "¥600.00" in texts(said)

    [ticket] = await fee_tickets(demo_app)
    assert ticket.details["type"] == "collection" and ticket.details["time"] == "time:weekend"
    assert ticket.amount == Decimal("600.00") and ticket.contact_name == "赵敏"
    desk = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    [card] = await desk.inbox()
    assert "预约上门收费" in card.text and "周末" in card.text and "¥600.00" in card.text


# ---- payments ------------------------------------------------------------------------


async def test_staff_record_a_payment_and_the_residents_get_the_receipt(demo_app):
    owner = await chat_as(demo_app, "zhaomin", "赵敏")
    delegate = await chat_as(demo_app, "yanglei", "杨磊", locale="en")
    desk = Chat(demo_app, "li")
    # two months (2 × 284.20) and 10 yuan over
    said = await desk.say("/paid 1栋1单元302 578.40 SJ20261126001")
    text = texts(said)
    assert "已登记" in text and "SJ20261126001" in text
    assert "2026年08月、2026年09月" in text and "预存余额：¥10.00" in text

    bills = await bills_of(demo_app, "1栋1单元302")
    assert [(b.month, b.receipt) for b in bills if b.receipt == "SJ20261126001"] == [
        ("2026-08", "SJ20261126001"),
        ("2026-09", "SJ20261126001"),
    ]
    assert [b.month for b in bills if b.paid_at is None] == ["2026-10"]
    async with demo_app.db.transaction() as s:
        payment = (await s.exec(select(Payment))).one()
        entry = (await s.exec(select(AuditLog).where(AuditLog.action == "fee_paid"))).one()
    assert payment.months == ["2026-08", "2026-09"] and payment.amount == Decimal("578.40")
    assert entry.detail["credit"] == "10.00" and entry.actor.startswith("staff:")

    [receipt] = await owner.inbox()
    assert "已收讫" in receipt.text and "¥578.40" in receipt.text
    assert "SJ20261126001" in receipt.text and "2026年08月、2026年09月" in receipt.text
    assert "余额 ¥10.00 已转为预存" in receipt.text
    [english] = await delegate.inbox()
    assert "received your payment" in english.text and "2026-08, 2026-09" in english.text

    text = texts(await owner.say("/fees"))
    assert "已缴至：2026年09月" in text and "合计待缴：¥284.20" in text
    assert "预存余额：¥10.00，抵扣后应缴：¥274.20" in text  # the credit is netted
    # the credit counts towards the next payment: 274.20 + 10.00 pays October
    said = await desk.say("/paid 1栋1单元302 274.20 SJ20261126002")
    assert "2026年10月" in texts(said) and "预存余额：¥0.00" in texts(said)
    assert all(b.paid_at is not None for b in await bills_of(demo_app, "1栋1单元302"))


async def test_a_receipt_number_is_recorded_once(demo_app):
    desk = Chat(demo_app, "li")
    await desk.say("/paid 3栋2单元1202 265.60 SJ20261126009")
    said = await desk.say("/paid 1栋1单元302 284.20 sj20261126009")
    assert "已经登记过了" in texts(said) and "没有重复记账" in texts(said)
    # a receipt already printed on a bill (the demo's past payments) counts too
    [paid_bill, *_] = await bills_of(demo_app, "1栋1单元101")
    said = await desk.say(f"/paid 1栋1单元302 284.20 {paid_bill.receipt}")
    assert "已经登记过了" in texts(said)
    async with demo_app.db.transaction() as s:
        assert len((await s.exec(select(Payment))).all()) == 1
    assert [b.month for b in await bills_of(demo_app, "1栋1单元302") if b.paid_at is None] == [
        "2026-08",
        "2026-09",
        "2026-10",
    ]


async def test_only_the_service_desk_and_supervisors_record_payments(demo_app):
    resident = Chat(demo_app, "resident")
    said = await resident.say("/paid 3栋2单元1201 500 SJ20261126100")
    assert "没有权限" in texts(said)
    guard = Chat(demo_app, "zhao")
    said = await guard.say("/paid 3栋2单元1202 265.60 SJ20261126101")
    assert "没有权限" in texts(said)
    async with demo_app.db.transaction() as s:
        assert (await s.exec(select(Payment))).all() == []
    supervisor = Chat(demo_app, "zhou")
    said = await supervisor.say("/paid XFL 3栋2单元1202 265.60 SJ20261126102")
    assert "已登记" in texts(said) and "2026年10月" in texts(said)


async def test_paid_explains_its_usage_and_bad_values(demo_app):
    desk = Chat(demo_app, "li")
    assert "用法" in texts(await desk.say("/paid"))
    assert "金额「abc」无效" in texts(await desk.say("/paid 3栋2单元1202 abc SJ20261126200"))
    assert "票据号「#1」格式不对" in texts(await desk.say("/paid 3栋2单元1202 100 #1"))
    assert "没有找到房号" in texts(await desk.say("/paid 9栋9单元999 100 SJ20261126201"))
    await desk.say("/lang en")
    assert "Usage: /paid" in texts(await desk.say("/paid 100"))


# ---- the command line ------------------------------------------------------------------


def test_the_paid_command_line_records_a_payment_once(tmp_path: Path):
    assert frontdesk(tmp_path, "seed-demo", "--no-history").returncode == 0
    unit = ["paid", "--community", "XFL", "--unit", "3栋2单元1202"]
    result = frontdesk(tmp_path, *unit, "--amount", "500", "--receipt", "SJ20261127001")
    assert result.returncode == 0, result.stderr
    assert "receipt SJ20261127001" in result.stdout and "credit 234.40" in result.stdout
    assert "resident chats told" in result.stdout  # 刘洋, and the owner if her chat is bound
    again = frontdesk(tmp_path, *unit, "--amount", "100", "--receipt", "SJ20261127001")
    assert again.returncode == 1 and "already recorded" in again.stderr
    with sqlite3.connect(tmp_path / "fd.db") as db:  # the demo's history has payments too
        payments = db.execute("SELECT amount FROM payment WHERE receipt = 'SJ20261127001'")
        paid = db.execute("SELECT count(*) FROM bill WHERE receipt = 'SJ20261127001'").fetchone()
        told = db.execute(
            "SELECT payload FROM outbox WHERE chat_id = 'tenant' AND sent_at IS NULL"
        ).fetchall()
        assert len(payments.fetchall()) == 1 and paid == (1,)
    assert len(told) == 1 and "已收讫" in json.loads(told[0][0])["text"]
