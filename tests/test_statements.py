"""Publishing the accounts (收支情况公示): October's and November's takings at 幸福里's desk
(fees, a service, a waste-removal fee, rent, a deposit, an expense, a fee typed wrong and
corrected), the November statement made by 周主管 ("zhou") with its sums worked out here
by hand, the quarter adding up its months, a draft refreshed, publishing at night reaching
the owners (not the tenant) once after the quiet hours with a file that names nobody, and
a published statement never changed: making it again is a corrected version. The desk's
clerk may look but not make or publish; a resident may do neither.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlmodel import col, select

from handlers import statements
from handlers.core.clock import ManualClock
from handlers.core.context import Context
from handlers.core.messages import Incoming
from handlers.ledger_entries import correct, record
from handlers.rules import statements as rules
from handlers.rules.ledger import EXPENSES, IN, INCOME, OUT, Amount, net
from storage.models import (
    AccountStatement,
    AuditLog,
    ChatIdentity,
    Community,
    LedgerEntry,
    StaffMember,
    Unit,
)
from tests.harness import Chat, texts

TZ = ZoneInfo("Asia/Shanghai")
D = Decimal


@pytest.fixture(autouse=True)
def _workdir(tmp_path, monkeypatch):
    """The published files go to data/statements/ under the working directory."""
    monkeypatch.chdir(tmp_path)


def test_periods_and_sums_by_hand():
    assert rules.period_of("2026-11") == rules.Period(
        "2026-11", date(2026, 11, 1), date(2026, 11, 30)
    )
    q4 = rules.period_of("2026-q4")
    assert (q4.label, q4.starts, q4.ends) == ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31))
    assert q4.months() == ["2026-10", "2026-11", "2026-12"]
    assert rules.period_of("2026").ends == date(2026, 12, 31)
    assert [
        rules.period_of(p).previous().label for p in ("2026-01", "2026-Q1", "2026-Q3", "2026")
    ] == [
        "2025-12",
        "2025-Q4",
        "2026-Q2",
        "2025",
    ]
    for bad in ("2026-13", "2026-Q5", "26-11", "November", ""):
        with pytest.raises(rules.BadPeriod):
            rules.period_of(bad)
    entries = [
        Amount(IN, "fee", "cash", D("100.10")),
        Amount(IN, "fee", "cash", D("50.00")),
        Amount(OUT, "fee", "cash", D("50.00")),  # the second fee corrected
        Amount(IN, "deposit", "cash", D("1000.00")),
        Amount(IN, "rent", "transfer", D("300.00")),
        Amount(OUT, "supplies", "cash", D("20.05")),
    ]
    found = rules.sums(entries)
    assert found.income == {"fee": D("100.10"), "rent": D("300.00")}
    assert found.expenses == {"supplies": D("20.05")}
    assert (found.deposits, found.income_total, found.balance) == (
        D("1000.00"),
        D("400.10"),
        D("380.05"),
    )
    ends = date(2026, 11, 30)
    assert rules.not_ready(ends, "2026-11-26", date(2026, 11, 26)) == "statements.error.not_ended"
    assert rules.not_ready(ends, "2026-11-30", date(2026, 12, 1)) == "statements.error.stale"
    assert rules.not_ready(ends, "2026-12-01", date(2026, 12, 1)) is None
    assert rules.yuan(D("8520.25")) == "¥8,520.25" and rules.yuan("-3") == "-¥3.00"


_DAYS = st.dates(min_value=date(2026, 7, 1), max_value=date(2026, 12, 31))
_CENTS = st.integers(min_value=1, max_value=10_000_000).map(lambda c: D(c) / 100)


@st.composite
def _entries(draw: st.DrawFn) -> list[rules.Dated]:
    """Entries of the third and fourth quarters; some corrected (the same purpose, the
    other way, the same amount), as `ledger_entries.correct` writes them."""
    found = []
    for _ in range(draw(st.integers(0, 30))):
        direction = draw(st.sampled_from((IN, OUT)))
        purpose = draw(st.sampled_from(INCOME if direction == IN else EXPENSES))
        amount = Amount(direction, purpose, "cash", draw(_CENTS))
        found.append(rules.Dated(draw(_DAYS), amount))
        if draw(st.booleans()):
            other = OUT if direction == IN else IN
            found.append(rules.Dated(draw(_DAYS), Amount(other, purpose, "cash", amount.amount)))
    return found


@given(_entries())
def test_a_quarter_adds_up_its_months_and_every_yuan_is_somewhere(entries):
    q4 = rules.period_of("2026-Q4")
    before = [e.amount for e in entries if e.day < q4.starts]
    made = rules.statement(q4, entries, before, date(2027, 1, 5))
    totals = made["totals"]
    inside = [e.amount for e in entries if e.day >= q4.starts]
    for name in ("income", "expenses", "balance", "deposits"):
        assert sum(D(m[name]) for m in totals["months"]) == D(totals[name])
        assert D(totals["previous"][name]) == D(rules.sums_json(rules.sums(before))[name])
    assert sum(map(D, made["income"].values()), D(0)) == D(totals["income"])
    assert sum(map(D, made["expenses"].values()), D(0)) == D(totals["expenses"])
    assert "deposit" not in made["income"]
    # What came in less what went out is the balance plus the deposits held.
    assert net(inside) == D(totals["balance"]) + D(totals["deposits"])


async def desk_context(s, app, when: datetime, user_id: str = "li") -> Context:
    """The desk's clerk at `when`: the ledger writes each entry on that day."""
    staff = list(
        (await s.exec(select(StaffMember).where(StaffMember.external_user_id == user_id))).all()
    )
    msg = Incoming(channel="console", chat_id=user_id, user_id=user_id, at=when)
    return Context(
        session=s,
        settings=app.settings,
        catalogs=app.catalogs,
        clock=ManualClock(when),
        msg=msg,
        identity=ChatIdentity(channel="console", external_user_id=user_id),
        locale="zh_CN",
        staff=staff,
    )


async def take(app, when: datetime, receipt: str, purpose: str, amount: str, **more) -> LedgerEntry:
    async with app.db.transaction() as s:
        community = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        unit = more.pop("unit", None)
        if unit is not None:
            more["unit_id"] = (await s.exec(select(Unit).where(Unit.label == unit))).one().id
        entry = await record(
            await desk_context(s, app, when),
            community_id=community.id,
            receipt=receipt,
            purpose=purpose,
            method=more.pop("method", "cash"),
            amount=D(amount),
            **more,
        )
        assert isinstance(entry, LedgerEntry), entry
        return entry


async def seed_ledger(app) -> None:
    """Two months of takings; November's sums, by hand:
    income: fee 2400.00 + 1020.50 (1200.50 typed wrong, corrected) = 3420.50, service 150.00,
    waste 300.00, rent 5000.00 → 8870.50; expenses: supplies 350.25; balance 8520.25;
    deposits held 2000.00. October: fee 1000.00, supplies 200.00, balance 800.00."""
    oct15 = datetime(2026, 10, 15, 10, 0, tzinfo=TZ)
    await take(app, oct15, "R1001", "fee", "1000.00", payer="张伟", unit="3栋2单元1201")
    await take(app, oct15, "P1001", "supplies", "200.00", direction=OUT, note="打印纸")

    def nov(day: int) -> datetime:
        return datetime(2026, 11, day, 10, 0, tzinfo=TZ)

    await take(
        app, nov(3), "R1101", "fee", "2400.00", payer="张伟", unit="3栋2单元1201", method="wechat"
    )
    wrong = await take(app, nov(5), "R1102", "fee", "1200.50", payer="王芳")
    await take(app, nov(6), "R1103", "service", "150.00", payer="王芳", note="家电清洗")
    await take(app, nov(8), "R1104", "waste", "300.00", payer="赵敏")
    await take(app, nov(10), "R1105", "rent", "5000.00", payer="便利店", method="transfer")
    await take(app, nov(12), "R1106", "deposit", "2000.00", payer="张伟", unit="3栋2单元1201")
    await take(app, nov(15), "P1101", "supplies", "350.25", direction=OUT, note="灯泡")
    async with app.db.transaction() as s:
        fixed = await correct(await desk_context(s, app, nov(16)), wrong, "R1107", "金额录错")
        assert isinstance(fixed, LedgerEntry), fixed
    await take(app, nov(16), "R1108", "fee", "1020.50", payer="王芳")


async def stored(app) -> list[AccountStatement]:
    async with app.db.transaction() as s:
        return list(
            (await s.exec(select(AccountStatement).order_by(col(AccountStatement.id)))).all()
        )


async def test_a_month_made_refreshed_published_and_corrected(demo_app, clock):
    app = demo_app
    await seed_ledger(app)
    supervisor = Chat(app, "zhou")
    owner, tenant = Chat(app, "resident"), Chat(app, "tenant")
    for chat in (supervisor, owner, tenant):
        await chat.inbox()

    made = texts(await supervisor.say("/statement 2026-11"))
    for line in (
        "幸福里 2026-11 收支情况",
        "物业费：¥3,420.50",
        "便民服务：¥150.00",
        "装修垃圾清运费：¥300.00",
        "租金：¥5,000.00",
        "收入合计：¥8,870.50（较2026-10 +¥7,870.50）",
        "办公用品：¥350.25",
        "支出合计：¥350.25（较2026-10 +¥150.25）",
        "结余：¥8,520.25（较2026-10 +¥7,720.25）",
        "代收押金（暂存，不计入收入）：¥2,000.00",
        "草稿",
        "统计截至 2026-11-26，本期尚未结束",
    ):
        assert line in made, made
    assert "押金：" not in made.split("二、支出")[0]  # deposits are not income
    [draft] = await stored(app)
    assert draft.period == "2026-11" and draft.status == "draft"
    assert draft.income == {
        "fee": "3420.50",
        "service": "150.00",
        "waste": "300.00",
        "rent": "5000.00",
    }
    assert draft.expenses == {"supplies": "350.25"}
    assert (draft.totals["balance"], draft.totals["deposits"]) == ("8520.25", "2000.00")

    # The quarter adds up its months.
    quarter = texts(await supervisor.say("/statement 2026-Q4"))
    assert "收入合计：¥9,870.50" in quarter and "结余：¥9,320.25" in quarter, quarter
    q4 = (await stored(app))[1]
    months = {m["month"]: m for m in q4.totals["months"]}
    assert list(months) == ["2026-10", "2026-11", "2026-12"]
    assert sum(D(m["income"]) for m in months.values()) == D(q4.totals["income"]) == D("9870.50")
    assert months["2026-11"]["balance"] == "8520.25" and months["2026-12"]["income"] == "0.00"

    # Made again: the same draft, from the ledger as it stands now.
    await take(app, clock.now(), "R1109", "service", "100.00", payer="李雷")
    again = texts(await supervisor.say("/statement 2026-11"))
    assert "重新生成" in again and "便民服务：¥250.00" in again, again
    assert len(await stored(app)) == 2

    # Not while November runs, nor from a draft counted before it ended.
    refused = texts(await supervisor.press("公示给业主"))
    assert "尚未结束" in refused, refused
    clock.advance(days=5, hours=14)  # 1 December, 23:00
    refused = texts(await supervisor.press("公示给业主"))
    assert "请先重新生成" in refused, refused
    final = texts(await supervisor.say("/statement 2026-11"))
    assert "本期尚未结束" not in final and "便民服务：¥250.00" in final, final

    # Published at 23:00: it waits out the quiet hours, then reaches the owner once.
    published = texts(await supervisor.press("公示给业主"))
    assert "已公示" in published and "免打扰" in published, published
    assert not await owner.inbox()
    clock.advance(hours=8)  # 07:00
    got = await owner.inbox()
    assert "收支情况公示" in texts(got) and "结余：¥8,620.25" in texts(got), texts(got)
    assert [s.payload["key"] for s in got] == [
        "statements.notice",
        "statements.notice.chart",
        "statements.notice.file",
    ]
    png = await asyncio.to_thread(Path(got[1].payload["photo"]).read_bytes)
    assert png.startswith(b"\x89PNG")
    [sent] = [s for s in got if s.payload.get("document")]
    book = load_workbook(sent.payload["document"])
    assert "台账明细" not in book.sheetnames
    cells = " ".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row)
    for private in ("张伟", "王芳", "赵敏", "3栋2单元1201", "R1101", "便利店"):
        assert private not in cells, private
    assert "8620.25" in cells or "8620.25" in cells.replace(",", ""), cells
    assert not await tenant.inbox()  # the accounts go to the owners

    again = texts(await supervisor.send(option=statements.Publish(draft.id or 0).value()))
    assert "不能再修改" in again, again
    clock.advance(hours=1)
    assert not await owner.inbox()  # once
    [published_row, _] = await stored(app)
    assert published_row.status == "published" and published_row.published_by.startswith("staff:")
    assert published_row.published_at == datetime(2026, 12, 1, 23, 0, tzinfo=TZ)
    async with app.db.transaction() as s:
        audited = [a.action for a in (await s.exec(select(AuditLog))).all()]
    assert audited.count("statement_publish") == 1 and "statement_made" in audited

    # A November bill entered late: the published statement stays, a corrected version is made.
    late = datetime(2026, 11, 30, 17, 0, tzinfo=TZ)
    await take(app, late, "P1102", "utilities", "80.00", direction=OUT)
    corrected = texts(await supervisor.say("/statement 2026-11"))
    assert "更正版" in corrected and "第2版" in corrected and "水电费：¥80.00" in corrected, (
        corrected
    )
    rows = await stored(app)
    assert [r.period for r in rows] == ["2026-11", "2026-Q4", "2026-11.2"]
    assert rows[0].expenses == {"supplies": "350.25"} and rows[0].status == "published"
    assert rows[2].totals["version"] == 2 and rows[2].totals["replaces"] == rows[0].id
    await supervisor.press("公示给业主")
    notice = texts(await owner.inbox())
    assert "更正版" in notice and "水电费：¥80.00" in notice, notice


async def test_who_may_make_and_publish(demo_app, clock):
    app = demo_app
    await seed_ledger(app)
    await Chat(app, "zhou").say("/statement 2026-11")
    [draft] = await stored(app)
    for who in ("li", "resident", "tenant"):
        chat = Chat(app, who)
        refused = texts(await chat.say("/statement 2026-11"))
        assert "权限" in refused and "¥" not in refused, refused
        refused = texts(await chat.send(option=statements.Publish(draft.id or 0).value()))
        assert "权限" in refused, refused
    assert [r.status for r in await stored(app)] == ["draft"]
    future = texts(await Chat(app, "zhou").say("/statement 2027-01"))
    assert "尚未开始" in future, future
    assert "2026-11、2026-Q4" in texts(await Chat(app, "zhou").say("/statement 十一月"))
