"""Custody of empty flats on the desk's web workspace (aiohttp's client against the real
pages, on the demo store): a custody opened from the form (the owner told as from chat),
its page with keys and base readings, a month's readings over the limit (the desk's alarm
and the owner's message), a heavy-rain round's patrols for the security group, custody
ended with the keys given back; repair staff and another community's desk see none of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import select

from handlers.core.i18n import LOCALES, load_po_dir
from storage.models import Custody, OfficeKey
from tests.harness import Chat, texts
from tests.test_web_browser import CHROMIUM, DRIVER, served
from tests.webdesk import add_other_desk, add_web_staff, client, csrf, sign_in

__all__ = ["client", "served"]  # the fixtures, from tests/webdesk.py and the browser test

ROOT = Path(__file__).resolve().parent.parent
UNIT = "3栋2单元1201"


async def open_on_page(client: TestClient, **fields: str) -> Any:
    page = await (await client.get("/desk/custody")).text()
    data = {
        "csrf": csrf(page),
        "unit": UNIT,
        "starts": "",
        "ends": "2027-05-31",
        "keys": "大门钥匙2把，信箱钥匙1把",
        "water": "100",
        "power": "2000",
        "gas": "",
        **fields,
    }
    return await client.post("/desk/custody/open", data=data, allow_redirects=True)


async def custody_row(app: Any) -> Custody:
    async with app.db.transaction() as s:
        return (await s.exec(select(Custody))).one()


async def test_custody_opened_read_patrolled_and_ended_on_the_page(
    client: TestClient, demo_app: Any
) -> None:
    owner = Chat(demo_app, "resident")
    guard = Chat(demo_app, "zhao", chat_id="group:XFL:security", kind="group")
    desk_group = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await sign_in(client, "desk")

    refused = await open_on_page(client, water="abc", keys="")
    assert refused.status == 400
    body = await refused.text()
    assert "请只输入表上的数字" in body and 'aria-invalid="true"' in body

    done = await open_on_page(client)
    assert done.status == 200
    listing = await done.text()
    assert "已开始托管" in listing and UNIT in listing
    assert "已由物业托管" in texts(await owner.inbox())
    held = await custody_row(demo_app)

    page = await (await client.get(f"/desk/custody/{held.id}")).text()
    assert "大门钥匙 ×2" in page and "物业保管" in page and "托管底数" in page
    # The unit's page and its custody link to each other.
    assert f'<a href="/desk/units/{held.unit_id}" id="custody-unit">{UNIT}</a>' in page
    unit_page = await (await client.get(f"/desk/units/{held.unit_id}")).text()
    assert f'<a href="/desk/custody/{held.id}" id="unit-custody">托管中' in unit_page

    # A month's readings: 9 units of water is over the limit of 5.
    reading = await client.post(
        f"/desk/custody/{held.id}/reading",
        data={"csrf": csrf(page), "water": "109", "power": "2010", "gas": ""},
        allow_redirects=True,
    )
    page = await reading.text()
    assert "用量" in page and "月度抄表" in page
    assert "托管房用量异常" in texts(await desk_group.inbox())
    assert "用量异常" in texts(await owner.inbox())

    # A heavy-rain round from the page: before-patrols now, after-patrols on "rain over".
    listing = await (await client.get("/desk/custody")).text()
    community = held.community_id
    rain = await client.post(
        "/desk/custody/rain",
        data={"csrf": csrf(listing), "community": str(community), "after": ""},
        allow_redirects=True,
    )
    listing = await rain.text()
    assert "大雨前外巡已派出：1 套" in listing and "rain-over" in listing
    assert len([s for s in await guard.inbox() if "大雨前外巡" in s.text]) == 1
    over = await client.post(
        "/desk/custody/rain_over",
        data={"csrf": csrf(listing), "community": str(community)},
        allow_redirects=True,
    )
    assert "雨后外巡已派出：1 套" in await over.text()
    assert len([s for s in await guard.inbox() if "大雨后外巡" in s.text]) == 1

    # A new end agreed with the owner, on the page: recorded, the owner told.
    page = await (await client.get(f"/desk/custody/{held.id}")).text()
    changed = await client.post(
        f"/desk/custody/{held.id}/ends",
        data={"csrf": csrf(page), "ends": "2027-03-31"},
        allow_redirects=True,
    )
    assert "2027年3月31日" in await changed.text()
    assert "2027年3月31日" in texts(await owner.inbox())
    assert (await custody_row(demo_app)).history[-1]["event"] == "end_changed"

    # Ended on the page: the keys given back to the owner, recorded.
    page = await (await client.get(f"/desk/custody/{held.id}")).text()
    assert "P-" in page  # the patrols are listed
    final = {"end_water": "108", "end_power": "2012", "to": ""}  # below the month's 109
    ended = await client.post(
        f"/desk/custody/{held.id}/end", data={"csrf": csrf(page), **final}, allow_redirects=True
    )
    assert "托管已结束" not in await ended.text()
    assert (await custody_row(demo_app)).status == "active"
    final["end_water"] = "110"
    ended = await client.post(
        f"/desk/custody/{held.id}/end", data={"csrf": csrf(page), **final}, allow_redirects=True
    )
    page = await ended.text()
    assert "托管已结束" in page and "已交还" in page and "张伟" in page
    unit_page = await (await client.get(f"/desk/units/{held.unit_id}")).text()
    assert f'<a href="/desk/custody/{held.id}" id="unit-custody">托管已结束' in unit_page
    assert "托管结束" in page  # the final readings, among the readings
    assert "托管已于" in texts(await owner.inbox())
    async with demo_app.db.transaction() as s:
        keys = (await s.exec(select(OfficeKey))).all()
        assert {(k.status, k.returned_to) for k in keys} == {("returned", "张伟")}


async def test_repair_staff_and_another_desk_see_no_custody(
    client: TestClient, demo_app: Any
) -> None:
    await sign_in(client, "desk")
    assert (await open_on_page(client)).status == 200
    held = await custody_row(demo_app)
    await client.post(
        "/desk/signout", data={"csrf": csrf(await (await client.get("/desk/custody")).text())}
    )

    await add_web_staff(demo_app, "fixer", "修理工", "repair", "XFL")
    await sign_in(client, "fixer")
    listing = await (await client.get("/desk/custody")).text()
    assert UNIT not in listing and "只有客服中心和主管" in listing
    assert (await client.get(f"/desk/custody/{held.id}")).status == 404
    refused = await client.post(
        f"/desk/custody/{held.id}/end", data={"csrf": csrf(listing), "to": ""}, allow_redirects=True
    )
    assert "托管已结束" not in await refused.text()
    assert (await custody_row(demo_app)).status == "active"
    await client.post("/desk/signout", data={"csrf": csrf(listing)})

    await add_other_desk(demo_app)
    await sign_in(client, "hyy-desk")
    listing = await (await client.get("/desk/custody")).text()
    assert UNIT not in listing
    assert (await client.get(f"/desk/custody/{held.id}")).status == 404
    again = await open_on_page(client)
    assert again.status == 400 and "没有找到" in await again.text()


def test_every_word_of_the_custody_pages_is_in_both_catalogs() -> None:
    import re

    words = set()
    for name in ("custody_list.html", "custody_page.html"):
        text = (ROOT / "bot" / "web" / "templates" / name).read_text(encoding="utf-8")
        words |= set(re.findall(r"""(?<![\w.])t\(["']([a-z_.]+)["']\s*[,)]""", text))
    for locale in LOCALES:
        catalog = load_po_dir(ROOT / "locales", locale)
        assert not {w for w in words if w not in catalog}, locale


# ---- in a real browser (tests/test_web_browser.py's headless Chromium) -----------------------


@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs chromium and chromedriver")
async def test_custody_in_a_browser(served: Any) -> None:
    app, _, browser = served
    await browser.sign_in("desk")
    await browser.open("/desk/custody")
    assert "目前没有托管中的房屋" in await browser.text()
    await browser.fill(
        {"unit": "3号楼2单元1201", "keys": "大门钥匙2把", "water": "100", "power": "2000"}
    )
    await browser.press("开始托管")
    page = await browser.text()
    assert "已开始托管" in page and UNIT in page
    await browser.shot("custody-list")
    await browser.press("大雨前巡查")
    assert "大雨前外巡已派出：1 套" in await browser.text()
    await browser.press("雨停，派雨后巡查")
    assert "雨后外巡已派出：1 套" in await browser.text()

    held = await custody_row(app)
    await browser.open(f"/desk/custody/{held.id}")
    await browser.fill({"water": "103", "power": "2030"})
    await browser.press("录入抄表")
    page = await browser.text()
    assert "用量" in page and "月度抄表" in page and "大雨后外巡" in page
    await browser.shot("custody-page")
    await browser.fill({"end_water": "104", "end_power": "2031"})
    await browser.press("结束托管")
    page = await browser.text()
    assert "托管已结束" in page and "已交还" in page
