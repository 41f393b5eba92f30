"""The desk's cash ledger (钱款录入, 日结, 银行解款) through the real engine, on the demo store.

The demo (today 2026-11-26 09:00): 李敏 ("li") is 幸福里's service desk, 王师傅 ("wang") a
repair technician, 周主管 ("zhou") the supervisor; 张伟 ("resident") owns 3栋2单元1201.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from handlers.rules import ledger as rules
from handlers.rules.fees import parse_amount
from storage.models import AuditLog, Community, LedgerDay, LedgerEntry, Payment, StaffMember
from tests.harness import Chat, texts


async def entries(app, community: str = "XFL") -> list[LedgerEntry]:
    async with app.db.transaction() as s:
        found = (await s.exec(select(Community).where(Community.code == community))).one()
        rows = await s.exec(
            select(LedgerEntry)
            .where(LedgerEntry.community_id == found.id)
            .order_by(col(LedgerEntry.id))
        )
        return list(rows.all())


async def audited(app, action: str) -> list[AuditLog]:
    async with app.db.transaction() as s:
        return list((await s.exec(select(AuditLog).where(AuditLog.action == action))).all())


async def test_a_day_taken_corrected_closed_with_a_difference_and_locked(demo_app, clock):
    app = demo_app
    desk, boss = Chat(app, "li"), Chat(app, "zhou")
    said = texts(await desk.say("/cash 收 300 押金 现金 收据号 SJ001 付款人 张伟 3-2-1201"))
    assert "已登记：SJ001 收 ¥300.00 押金 现金 付款人：张伟 房号：3栋2单元1201" in said, said
    said = texts(await desk.say("/cash 收 120 维修费 微信 收据号 SJ002 付款人 刘洋"))
    assert "SJ002 收 ¥120.00 维修费 微信" in said and "应有现金 ¥300.00" in said, said
    said = texts(await desk.say("/cash 支 45.50 办公用品 现金 收据号 ZC001 备注 打印纸"))
    assert "ZC001 支 ¥45.50 办公用品 现金" in said and "应有现金 ¥254.50" in said, said
    # A fee paid with /paid lands in the ledger: purpose fee, cash by default, the payer named.
    said = texts(await desk.say("/paid 3栋2单元1201 500 SJ20261126001"))
    assert "SJ20261126001" in said, said
    # …and by WeChat when the desk says so.
    said = texts(await desk.say("/paid 3栋2单元1202 80 SJ20261126002 微信"))
    assert "SJ20261126002" in said, said
    # The same receipt number twice in one community is refused.
    said = texts(await desk.say("/cash 收 10 其他 现金 收据号 SJ001"))
    assert "该收据号已在本小区登记过" in said, said
    # The WeChat repair was keyed wrong: a correction today undoes it.
    said = texts(await desk.say("/cash 更正 SJ002 SJ002C 金额收错"))
    assert "已更正收据 SJ002" in said and "SJ002C 支 ¥120.00 维修费 微信" in said, said
    said = texts(await desk.say("/cash 更正 SJ002 SJ002D 再来一次"))
    assert "这笔款项已经更正过了" in said, said

    rows = await entries(app)
    by_receipt = {e.receipt: e for e in rows}
    fee = by_receipt["SJ20261126001"]
    assert (fee.purpose, fee.method, fee.amount, fee.payer) == (
        "fee",
        "cash",
        Decimal("500.00"),
        "张伟",
    )
    assert fee.source.startswith("payment:") and fee.clerk.startswith("staff:")
    assert by_receipt["SJ20261126002"].method == "wechat"
    assert by_receipt["SJ002C"].corrects_id == by_receipt["SJ002"].id
    async with app.db.transaction() as s:
        assert (await s.exec(select(Payment).where(Payment.receipt == "SJ20261126001"))).one()

    page = texts(await desk.say("/cash"))
    assert "共 6 笔" in page, page
    assert "按方式：现金 ¥754.50，微信 ¥80.00" in page, page
    assert "收入：押金 ¥300.00，物业费 ¥580.00" in page, page
    assert "支出：办公用品 ¥45.50" in page and "应有现金 ¥754.50" in page, page

    # Closing: 750 counted (4.50 short), 750 deposited with the bank's slip.
    clock.advance(hours=9)
    said = await desk.say("/cash 日结 750 解款 750 YH20261126")
    closed = texts(said)
    assert "已日结，共 6 笔" in closed and "实点现金 ¥750.00，差额 -¥4.50" in closed, closed
    assert "回单号 YH20261126" in closed and "有差额" in closed, closed
    assert not said[0].buttons  # the desk cannot lock its own day
    review = await boss.inbox()
    assert "请审核" in texts(review) and "差额 -¥4.50" in texts(review), texts(review)

    # A closed day takes no more entries, from /cash or /paid.
    said = texts(await desk.say("/cash 收 50 其他 现金 收据号 SJ009"))
    assert "今天的账已日结" in said, said
    said = texts(await desk.say("/paid 3栋2单元1201 100 SJ20261126009"))
    assert "今天的账已日结" in said, said
    async with app.db.transaction() as s:
        assert not (await s.exec(select(Payment).where(Payment.receipt == "SJ20261126009"))).all()

    said = texts(await boss.press("审核锁定"))
    assert "已审核锁定" in said, said
    async with app.db.transaction() as s:
        day = (await s.exec(select(LedgerDay))).one()
    assert day.status == "locked" and day.difference == Decimal("-4.50")
    assert day.cash_expected == Decimal("754.50") and day.deposit_ref == "YH20261126"
    assert day.totals["by_method"] == {"cash": "754.50", "wechat": "80.00"}
    said = texts(await boss.say("/cash 重开 2026-11-26 点错了"))
    assert "不能重开" in said, said
    assert await audited(app, "ledger_locked") and await audited(app, "ledger_closed")

    # The next day is a new page; a correction of yesterday's entry is today's.
    clock.advance(hours=12)
    said = texts(await desk.say("/cash 更正 SJ001 SJ001C 押金退回"))
    assert "已更正收据 SJ001" in said and "应有现金 -¥300.00" in said, said
    page = texts(await desk.say("/cash"))
    assert "2026-11-27" in page and "共 1 笔" in page, page


async def test_a_square_day_reopened_by_the_supervisor_with_a_reason(demo_app, clock):
    app = demo_app
    desk, boss = Chat(app, "li"), Chat(app, "zhou")
    await desk.say("/cash 收 200 场地费 现金 收据号 CD001 付款人 业委会")
    said = texts(await desk.say("/cash 日结 200"))  # nothing deposited: flagged
    assert "与实点现金差额 -¥200.00" in said and "有差额" in said, said
    said = texts(await boss.say("/cash 重开 2026-11-26 钱存银行后再结"))
    assert "已重开" in said, said
    said = texts(await desk.say("/cash 日结 200 解款 200 YH000"))
    assert "账实相符" in said, said
    assert "请审核" in texts(await boss.inbox())
    said = texts(await desk.say("/cash 重开 2026-11-26 想重开"))
    assert "您没有权限" in said or "没有权限" in said, said
    said = texts(await boss.say("/cash 重开 2026-11-26"))
    assert "用法" in said, said
    said = texts(await boss.say("/cash 重开 2026-11-26 漏记一笔刷卡"))
    assert "已重开" in said, said
    reopened = await audited(app, "ledger_reopened")
    assert [a.detail["reason"] for a in reopened] == ["钱存银行后再结", "漏记一笔刷卡"]
    said = texts(await desk.say("/cash 收 88 服务费 刷卡 收据号 FW001"))
    assert "已登记" in said, said
    said = texts(await desk.say("/cash 日结 200 解款 200"))
    assert "用法" in said, said  # a deposit needs its slip number
    said = texts(await desk.say("/cash 日结 200 解款 200 YH001"))
    assert "账实相符" in said and "刷卡 ¥88.00" in said, said


async def test_who_may_keep_the_ledger(demo_app):
    app = demo_app
    for user in ("resident", "wang"):
        said = await Chat(app, user).say("/cash 收 300 押金 现金 收据号 SJ001")
        assert [s.payload["key"] for s in said] == ["dialog.not_allowed"], (user, texts(said))
    assert await entries(app) == []
    desk = Chat(app, "li")
    await desk.say("/cash 收 300 押金 现金 收据号 SJ001 付款人 张伟")
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
    other = Chat(app, "hyy_desk")
    page = texts(await other.say("/cash"))
    assert "和悦园" in page and "SJ001" not in page and "张伟" not in page, page
    assert "没有权限" in texts(await other.say("/cash XFL"))  # not a code of theirs: refused
    # The same receipt number is another community's own.
    said = texts(await other.say("/cash 收 300 押金 现金 收据号 SJ001"))
    assert "已登记" in said, said
    assert len(await entries(app, "HYY")) == 1 and len(await entries(app, "XFL")) == 1


def test_every_purpose_method_and_status_has_its_words(demo_app) -> None:
    names = [f"ledger.purpose.{p}" for p in (*rules.INCOME, *rules.EXPENSES)]
    names += [f"ledger.method.{m}" for m in rules.METHODS]
    names += [f"ledger.status.{s}" for s in ("open", "closed", "locked")]
    for locale in ("zh_CN", "en"):
        for name in names:
            assert demo_app.catalogs.text(locale, name, {}) != name, (locale, name)


async def test_the_desks_line_read() -> None:
    line = rules.read_line("收 300 押金 现金 收据号 SJ001 付款人 张伟 3-2-1201", parse_amount)
    assert line == rules.Line(
        "in", "deposit", "cash", Decimal("300.00"), "SJ001", "张伟", "3-2-1201"
    )
    line = rules.read_line("支 12.5 杂项 微信 收据号 ZC9 备注 快递 费用", parse_amount)
    assert (line.direction, line.purpose, line.method, line.note) == (
        "out",
        "sundry",
        "wechat",
        "快递 费用",
    )
    for typed, key in (
        ("拿 300 押金 收据号 A", "ledger.error.direction"),
        ("收 押金 收据号 A", "ledger.error.amount"),
        ("收 300 收据号 A", "ledger.error.purpose"),
        ("收 300 押金", "ledger.error.receipt"),
    ):
        try:
            rules.read_line(typed, parse_amount)
        except rules.Invalid as error:
            assert error.key == key, typed
        else:
            raise AssertionError(typed)


# ---- the sums, against sums computed independently ---------------------------------------

MONEY = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
ENTRY = st.one_of(
    st.tuples(
        st.just(rules.IN), st.sampled_from(rules.INCOME), st.sampled_from(rules.METHODS), MONEY
    ),
    st.tuples(
        st.just(rules.OUT), st.sampled_from(rules.EXPENSES), st.sampled_from(rules.METHODS), MONEY
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(ENTRY, st.booleans()), max_size=30))
def test_a_days_totals_equal_the_sums_and_a_correction_nets_to_zero(plan) -> None:
    made: list[rules.Amount] = []
    expected_method: dict[str, Decimal] = {}
    expected_in: dict[str, Decimal] = {}
    expected_out: dict[str, Decimal] = {}
    for (direction, purpose, method, amount), corrected in plan:
        rules.check(direction, purpose, method, amount)
        made.append(rules.Amount(direction, purpose, method, amount))
        if corrected:  # the correction: the same purpose and method, the other way
            other = rules.OUT if direction == rules.IN else rules.IN
            rules.check(other, purpose, method, amount, correcting=True)
            made.append(rules.Amount(other, purpose, method, amount))
            continue
        sign = 1 if direction == rules.IN else -1
        expected_method[method] = expected_method.get(method, Decimal(0)) + sign * amount
        into = expected_in if direction == rules.IN else expected_out
        into[purpose] = into.get(purpose, Decimal(0)) + amount
    summary = rules.summarize(made)

    def nonzero(sums: dict[str, Decimal]) -> dict[str, Decimal]:
        return {k: v for k, v in sums.items() if v != 0}

    assert summary.by_method == nonzero(expected_method)
    assert summary.income == nonzero(expected_in)
    assert summary.expenses == nonzero(expected_out)
    assert summary.net == sum(expected_method.values(), Decimal(0))
    assert summary.cash_expected == expected_method.get("cash", Decimal(0))
    assert (
        rules.differences(
            summary.cash_expected, summary.cash_expected, summary.cash_expected
        ).flagged
        is False
    )


async def test_a_deposit_paid_back_is_not_an_expense(demo_app):
    """A renovation deposit returned to its payer goes out under 押金: it nets the deposits
    held and is no expense; an expense purpose still cannot be taken in."""
    desk = Chat(demo_app, "li")
    await desk.say("/cash 收 600 押金 现金 收据号 YJ001 付款人 张伟 3-2-1201")
    said = texts(await desk.say("/cash 支 600 押金 现金 收据号 TK001 付款人 张伟 3-2-1201"))
    assert "TK001 支 ¥600.00 押金 现金" in said and "应有现金 ¥0.00" in said, said
    page = texts(await desk.say("/cash"))
    assert "收入：无" in page and "支出：无" in page, page  # nothing held, nothing spent
    async with demo_app.db.transaction() as s:
        entries = (await s.exec(select(LedgerEntry))).all()
    amounts = [rules.Amount(e.direction, e.purpose, e.method, e.amount) for e in entries]
    assert rules.purpose_sums(amounts, rules.IN) == {}  # taken and paid back: nothing held
    assert rules.purpose_sums(amounts, rules.OUT) == {}  # and no expense
    said = texts(await desk.say("/cash 收 20 办公用品 现金 收据号 SJ900"))
    assert "请选择款项类别" in said, said
