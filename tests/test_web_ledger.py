"""The cash ledger on the desk's web workspace (aiohttp's client against the real pages, on
the demo store), and once in Chromium: entries from the form and from chat's `/paid` on
one page with their sums, the day closed with a deposit and its differences (the
supervisor told), locked by the supervisor from the page, the workbook with people's text
kept as text; repair staff and another community's desk see none of it."""

from __future__ import annotations

import io
from typing import Any

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from sqlmodel import select

from storage.models import LedgerDay, LedgerEntry
from tests.harness import Chat, texts
from tests.test_web_browser import served
from tests.webdesk import add_other_desk, add_web_staff, client, csrf, sign_in

__all__ = ["client", "served"]  # the fixtures, from tests/webdesk.py and the browser test


async def post(client: TestClient, path: str, **fields: str) -> Any:
    page = await (await client.get("/desk/ledger")).text()
    return await client.post(path, data={"csrf": csrf(page), **fields}, allow_redirects=True)


async def sign_out(client: TestClient) -> None:
    page = await (await client.get("/desk/ledger")).text()
    await client.post("/desk/signout", data={"csrf": csrf(page)})


async def test_a_day_on_the_page_closed_locked_and_exported(
    client: TestClient, demo_app: Any
) -> None:
    await sign_in(client, "desk")
    page = await (await client.get("/desk/ledger")).text()
    assert "钱款台账" in page and "幸福里" in page and "当天没有登记款项" in page

    entry = {"community": "XFL", "direction": "in", "purpose": "deposit", "method": "cash"}
    done = await post(
        client,
        "/desk/ledger/entry",
        **entry,
        amount="300",
        receipt="SJ001",
        payer='=HYPERLINK("http://x")',
        unit="3-2-1201",
    )
    page = await done.text()
    assert "已登记：SJ001 收 ¥300.00 押金 现金" in page and "3栋2单元1201" in page, page
    out = {"community": "XFL", "direction": "out", "purpose": "supplies", "method": "cash"}
    await post(client, "/desk/ledger/entry", **out, amount="20", receipt="ZC001", note="墨盒")
    refused = await post(client, "/desk/ledger/entry", **entry, amount="5", receipt="SJ001")
    assert "该收据号已在本小区登记过" in await refused.text()
    said = texts(await Chat(demo_app, "li").say("/paid 3栋2单元1201 500 SJ20261126001"))
    assert "SJ20261126001" in said, said
    page = await (await client.get("/desk/ledger")).text()
    assert "SJ20261126001" in page and "物业费" in page and "张伟" in page
    assert "¥780.00" in page  # the cash expected: 300 - 20 + 500

    closed = await post(
        client,
        "/desk/ledger/close",
        community="XFL",
        day="2026-11-26",
        counted="780",
        deposited="700",
        deposit_ref="YH1126",
    )
    page = await closed.text()
    assert "已日结" in page and "与实点现金差额 -¥80.00" in page and "有差额" in page, page
    assert "已日结，待审核" in page and "YH1126" in page
    assert 'id="ledger-lock"' not in page  # the desk does not lock
    review = texts(await Chat(demo_app, "zhou").inbox())
    assert "请审核" in review and "-¥80.00" in review, review
    refused = await post(client, "/desk/ledger/entry", **entry, amount="5", receipt="SJ002")
    assert "今天的账已日结" in await refused.text()

    async with demo_app.db.transaction() as s:
        day = (await s.exec(select(LedgerDay))).one()
    await sign_out(client)
    await sign_in(client, "zhou")
    page = await (await client.get("/desk/ledger")).text()
    assert 'id="ledger-lock"' in page and 'id="ledger-reopen"' in page
    locked = await post(client, f"/desk/ledger/{day.id}/lock", community="XFL", day="2026-11-26")
    page = await locked.text()
    assert "已审核锁定" in page and 'id="ledger-reopen"' not in page

    sheet = await client.get(
        "/desk/ledger/export", params={"community": "XFL", "from": "2026-11-26", "to": "2026-11-26"}
    )
    assert sheet.status == 200 and "ledger-XFL-2026-11-26" in sheet.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(await sheet.read()))
    entries = list(book["款项明细"].iter_rows(values_only=True))
    assert [row[2] for row in entries[1:]] == ["SJ001", "ZC001", "SJ20261126001"]
    first = entries[1]
    assert first[7] == '\'=HYPERLINK("http://x")' and first[6] == 300  # text stays text
    assert entries[2][6] == -20 and entries[2][12] == "墨盒"
    totals = list(book["汇总"].iter_rows(values_only=True))
    assert ("2026-11-26", "应有现金", None, 780) in totals, totals
    closes = list(book["日结"].iter_rows(values_only=True))
    assert closes[1][:8] == ("2026-11-26", "已审核锁定", 780, 780, 0, 700, "YH1126", -80), closes

    await sign_out(client)
    await add_web_staff(demo_app, "wang-web", "王师傅", "repair", "XFL")
    await sign_in(client, "wang-web")
    page = await (await client.get("/desk/ledger")).text()
    assert "不负责任何小区的钱款台账" in page and "SJ001" not in page
    assert (await client.get("/desk/ledger/export", params={"community": "XFL"})).status == 404
    await sign_out(client)
    await add_other_desk(demo_app)
    await sign_in(client, "hyy-desk")
    page = await (await client.get("/desk/ledger", params={"community": "XFL"})).text()
    assert "SJ001" not in page and "不负责" in page
    page = await (await client.get("/desk/ledger")).text()
    assert "和悦园" in page and "SJ001" not in page
    await post(
        client, "/desk/ledger/entry", **{**entry, "community": "XFL"}, amount="1", receipt="X1"
    )
    async with demo_app.db.transaction() as s:
        assert len((await s.exec(select(LedgerEntry))).all()) == 3


# ---- in a real browser ---------------------------------------------------------------------


async def test_the_ledger_in_a_browser(served) -> None:
    app, _emulator, browser = served
    await browser.sign_in("desk")
    await browser.open("/desk/ledger")
    await browser.fill({"amount": "300", "receipt": "SJ101", "payer": "张伟", "unit": "3-2-1201"})
    await browser.press("登记")
    await browser.fill(
        {"direction": "out", "purpose": "supplies", "amount": "25.5", "receipt": "ZC101"}
    )
    await browser.press("登记")
    page = await browser.text()
    assert "SJ101" in page and "ZC101" in page and "¥274.50" in page
    await browser.shot("ledger")
    await browser.fill({"counted": "274.5", "deposited": "274.5", "deposit_ref": "YH101"})
    await browser.press("日结")
    page = await browser.text()
    assert "账实相符" in page and "已日结，待审核" in page
    async with app.db.transaction() as s:
        day = (await s.exec(select(LedgerDay))).one()
    assert day.status == "closed" and day.deposit_ref == "YH101" and day.difference == 0
