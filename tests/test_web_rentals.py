"""Rentals on the desk's web workspace (aiohttp's client against the real pages, on the
demo store): a storeroom added from the form, a contract recorded for it (the tenant told
in chat), the next rent paid with a receipt (a ledger entry; a used receipt refused), an
overdue rent marked, venue bookings by day; another community's desk sees nothing and can
change nothing. One run in a real browser (headless Chromium).
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from handlers.core.i18n import LOCALES, load_po_dir
from storage.models import (
    Community,
    LedgerEntry,
    Rentable,
    RentalContract,
    RentDue,
    VenueBooking,
)
from tests.harness import Chat, texts
from tests.test_web_browser import CHROMIUM, DRIVER, served
from tests.webdesk import add_other_desk, client, csrf, sign_in

__all__ = ["client", "served"]  # the fixtures, from tests/webdesk.py and the browser test

ROOT = Path(__file__).resolve().parent.parent


async def xfl(app: Any) -> int:
    async with app.db.transaction() as s:
        found = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
    assert found.id is not None
    return found.id


async def post(client: TestClient, path: str, **fields: str) -> str:
    page = await (await client.get("/desk/rentals")).text()
    answer = await client.post(path, data={"csrf": csrf(page), **fields}, allow_redirects=True)
    return await answer.text()


async def rows(app: Any, model: Any) -> list[Any]:
    async with app.db.transaction() as s:
        return list((await s.exec(select(model).order_by(col(model.id)))).all())


async def test_the_rentals_page(client: TestClient, demo_app: Any, clock: Any) -> None:
    resident = Chat(demo_app, "resident")
    community = str(await xfl(demo_app))
    await sign_in(client, "desk")
    page = await post(
        client,
        "/desk/rentals/add",
        community=community,
        kind="storeroom",
        name="B1-12",
        rent="300",
        deposit="600",
        place="地下一层",
        size="12㎡",
    )
    assert "已登记招租 #1 B1-12" in page and "可租" in page, page
    page = await post(
        client, "/desk/rentals/add", community=community, kind="venue", name="篮球场", rent="abc"
    )
    assert "租金“abc”看不懂" in page
    [item] = await rows(demo_app, Rentable)

    page = await post(
        client,
        "/desk/rentals/contract",
        community=community,
        item=str(item.id),
        tenant="张伟",
        phone="13800000001",
        starts="2026-11-20",
        ends="2027-05-20",
        every="1",
    )
    assert "共 6 期租金" in page and "已租出" in page, page
    assert "租约已登记" in texts(await resident.inbox())
    # the first rent was due on the 20th: marked overdue, with the payment form
    assert "逾期 1 期" in page and 'class="rent-overdue"' in page, page
    [first, *_] = await rows(demo_app, RentDue)
    page = await post(
        client, f"/desk/rentals/dues/{first.id}/paid", receipt="SJ-1001", method="wechat"
    )
    assert "已收 张伟 的租金 ¥300.00" in page and "逾期" not in page, page
    [entry] = await rows(demo_app, LedgerEntry)
    assert (entry.purpose, entry.amount, entry.receipt) == ("rent", Decimal("300.00"), "SJ-1001")
    second = (await rows(demo_app, RentDue))[1]
    page = await post(client, f"/desk/rentals/dues/{second.id}/paid", receipt="SJ-1001")
    assert "该收据号已在本小区登记过" in page and len(await rows(demo_app, LedgerEntry)) == 1

    # a venue booked in chat shows on the page under its day
    await Chat(demo_app, "li").say("/rentals add 场地 会所多功能厅 100 会所二楼")
    await resident.say("/venue")
    await resident.press("会所多功能厅")
    await resident.say("11月28日 14:00-16:00")
    await resident.say("生日聚会")
    await resident.press("确认提交")
    page = await (await client.get("/desk/rentals")).text()
    assert "14:00-16:00 会所多功能厅 · 张伟 · 待确认" in page, page
    await resident.inbox()
    [booking] = await rows(demo_app, VenueBooking)
    page = await post(client, f"/desk/rentals/bookings/{booking.id}/decide", decision="confirm")
    assert "已确认预订" in page and "会所多功能厅 · 张伟 · 已确认" in page, page
    assert "已确认" in texts(await resident.inbox())
    page = await post(client, f"/desk/rentals/bookings/{booking.id}/paid", receipt="SJ-1002")
    assert "已收 张伟 的场地管理费 ¥200.00" in page and "收据号 SJ-1002" in page, page
    assert [e.purpose for e in await rows(demo_app, LedgerEntry)] == ["rent", "venue"]


async def test_a_resident_and_another_desk_change_nothing(
    client: TestClient, demo_app: Any
) -> None:
    community = str(await xfl(demo_app))
    await Chat(demo_app, "li").say("/rentals add 储藏室 B1-12 300")
    await add_other_desk(demo_app)
    await sign_in(client, "hyy-desk")
    page = await (await client.get("/desk/rentals")).text()
    assert "B1-12" not in page and "和悦园" in page
    page = await post(
        client, "/desk/rentals/add", community=community, kind="storeroom", name="B1-13", rent="300"
    )
    assert "客服中心或主管办理" in page
    [item] = await rows(demo_app, Rentable)
    page = await post(
        client,
        "/desk/rentals/contract",
        community=community,
        item=str(item.id),
        tenant="某人",
        starts="2026-12-01",
        ends="2027-06-01",
    )
    assert "客服中心或主管办理" in page
    assert await rows(demo_app, RentalContract) == []
    # a resident has no page at all (no web login), and in chat cannot add
    said = texts(await Chat(demo_app, "resident").say("/rentals add 储藏室 B1-14 300"))
    assert "客服中心或主管办理" in said and len(await rows(demo_app, Rentable)) == 1


def test_every_word_of_the_page_is_in_both_catalogs() -> None:
    text = (ROOT / "bot" / "web" / "templates" / "rentals_list.html").read_text(encoding="utf-8")
    words = set(re.findall(r"""(?<![\w.])t\(["']([a-z_.]+)["']\s*[,)]""", text))
    assert "rentals.web.title" in words
    for locale in LOCALES:
        catalog = load_po_dir(ROOT / "locales", locale)
        assert not {w for w in words if w not in catalog}, locale


# ---- in a real browser (tests/test_web_browser.py's headless Chromium) -----------------------


@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs chromium and chromedriver")
async def test_rentals_in_a_browser(served: Any) -> None:
    app, _, browser = served
    desk = Chat(app, "li")
    await desk.say("/rentals add 广告位 电梯广告位1号 500 押金1000 3栋电梯 60×90cm")
    await desk.say("/rentals add 场地 会所多功能厅 100 会所二楼")
    await browser.sign_in("desk")
    await browser.open("/desk/rentals")
    assert "招租管理" in await browser.text()
    resident = Chat(app, "resident")
    await resident.say("/venue")
    await resident.press("会所多功能厅")
    await resident.say("11月28日 19:00-21:00")
    await resident.say("羽毛球")
    await resident.press("确认提交")
    fields = {"kind": "storeroom", "name": "B1-12", "rent": "300", "deposit": "600"}
    await browser.fill({**fields, "place": "地下一层", "size": "12㎡"})
    await browser.press("登记")
    page = await browser.text()
    assert "已登记招租 #3 B1-12" in page, page
    await browser.fill({"tenant": "好邻居超市", "phone": "13912345678", "every": "3"})
    await browser.fill({"starts": "12月1日", "ends": "12个月", "contract_rent": "450"})
    await browser.press("登记租约")
    page = await browser.text()
    assert "已登记租约" in page and "好邻居超市" in page and "¥450.00/月" in page, page
    assert "19:00-21:00 会所多功能厅 · 张伟 · 待确认" in page, page
    await browser.shot("rentals")
