"""Parcels on the desk's web workspace (aiohttp's client against the real pages, on the
demo store), and once in Chromium: a parcel registered from the form (the courier read
from the waybill, the resident told as from chat), the waiting list by unit with its age
and the overdue mark, a search by code, unit and waybill, handed over with the code,
collected by a neighbour with the ID masked, returned; repair staff and another
community's desk see none of it."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from dialogs.registry import all_jobs
from storage.models import AuditLog, Parcel
from tests.harness import Chat, texts
from tests.test_web_browser import served
from tests.webdesk import add_other_desk, add_web_staff, client, csrf, sign_in

__all__ = ["client", "served"]  # the fixtures, from tests/webdesk.py and the browser test

UNIT = "3栋2单元1201"


async def latest(app: Any) -> Parcel:
    async with app.db.transaction() as s:
        return (await s.exec(select(Parcel).order_by(col(Parcel.id).desc()))).first()


async def post(client: TestClient, path: str, **fields: str) -> Any:
    page = await (await client.get("/desk/parcels")).text()
    return await client.post(path, data={"csrf": csrf(page), **fields}, allow_redirects=True)


async def register(client: TestClient, **fields: str) -> Any:
    form = {"unit": "3-2-1201", "recipient": "张伟", "waybill": "SF1234567890", **fields}
    return await post(client, "/desk/parcels/register", **form)


async def test_registered_listed_found_and_handed_over_on_the_page(
    client: TestClient, demo_app: Any, clock: Any
) -> None:
    resident = Chat(demo_app, "resident")
    await sign_in(client, "desk")

    refused = await register(client, unit="3栋2单元1210", waybill="张伟")
    assert refused.status == 400
    body = await refused.text()
    assert "3栋2单元1201" in body and "不像运单号" in body and 'aria-invalid="true"' in body
    assert await latest(demo_app) is None

    done = await register(client, damaged="on", note="易碎")
    assert done.status == 200
    page = await done.text()
    parcel = await latest(demo_app)
    assert parcel.courier == "sf" and parcel.damaged and parcel.note == "易碎"
    assert f"取件码：{parcel.code}" in page and "已在线上通知住户" in page
    told = texts(await resident.inbox())
    assert parcel.code in told and "外包装已破损" in told

    # a unit nobody is bound to in chat: registered, marked for a phone call
    await register(client, unit="6-1-101", recipient="陈先生", waybill="JT0001234567890")
    page = await (await client.get("/desk/parcels")).text()
    assert "待取 2 件" in page and "无住户在线，请电话通知" in page and "极兔" in page

    # six days on: overdue, and the oldest first
    clock.advance(days=6)
    await demo_app.engine.run_jobs(all_jobs())
    await sign_in(client, "desk")  # the session of six days ago has ended
    page = await (await client.get("/desk/parcels")).text()
    assert 'class="overdue"' in page and "6 天 0 小时" in page
    assert page.index(parcel.code) < page.index("6栋1单元101")

    for typed in (parcel.code, "3-2-1201", "sf 1234567890"):
        found = await (await client.get("/desk/parcels", params={"q": typed})).text()
        assert "查找结果：1 件" in found, typed

    await resident.inbox()
    handed = await post(
        client,
        "/desk/parcels/press",
        parcel=str(parcel.id),
        value=f"act:parcel_hand:{parcel.id}",
        once="h1",
    )
    assert "已交付" in await handed.text()
    assert "领取" in texts(await resident.inbox())
    assert (await latest_of(demo_app, parcel.id)).status == "collected"
    found = await (await client.get("/desk/parcels", params={"q": parcel.code})).text()
    assert "已领取" in found and "李敏" in found
    # a button forged for another action is refused
    forged = await post(
        client, "/desk/parcels/press", parcel=str(parcel.id), value="act:reno_ok:1", once="h2"
    )
    assert forged.status == 400


async def latest_of(app: Any, parcel_id: int | None) -> Parcel:
    async with app.db.transaction() as s:
        found = await s.get(Parcel, parcel_id)
        assert found is not None
        return found


async def test_collected_by_a_neighbour_and_returned_on_the_page(
    client: TestClient, demo_app: Any
) -> None:
    resident = Chat(demo_app, "resident")
    await sign_in(client, "desk")
    await register(client)
    first = await latest(demo_app)
    await register(client, waybill="YT1234567890123", valuable="on")
    second = await latest(demo_app)
    await resident.inbox()

    missing = await post(client, "/desk/parcels/proxy", parcel=str(first.id), identity="1234")
    assert "请填写代取人的姓名" in await missing.text()
    taken = await post(
        client,
        "/desk/parcels/proxy",
        parcel=str(first.id),
        collector="王小明",
        identity="身份证 330102199001011234",
    )
    page = await taken.text()
    assert "王小明" in page and "****1234" in page and "330102199001011234" not in page
    assert "王小明" in texts(await resident.inbox())
    after = await latest_of(demo_app, first.id)
    assert (after.collected_by, after.identity) == ("王小明", "身份证 ****1234")

    returned = await post(
        client,
        "/desk/parcels/press",
        parcel=str(second.id),
        value=f"act:parcel_return:{second.id}",
        once="r1",
    )
    assert "已退回快递员" in await returned.text()
    assert "退回快递员" in texts(await resident.inbox())
    async with demo_app.db.transaction() as s:
        actions = {a.action for a in (await s.exec(select(AuditLog))).all()}
    assert {"parcel_register", "parcel_collect", "parcel_return"} <= actions


async def test_others_see_none_of_it(client: TestClient, demo_app: Any) -> None:
    await sign_in(client, "desk")
    await register(client)
    parcel = await latest(demo_app)
    await client.post(
        "/desk/signout", data={"csrf": csrf(await (await client.get("/desk/parcels")).text())}
    )

    await add_web_staff(demo_app, "wang-web", "王师傅", "repair", "XFL")
    await sign_in(client, "wang-web")
    page = await (await client.get("/desk/parcels")).text()
    assert "您的账号看不到这里" in page and parcel.code not in page
    refused = await register(client, waybill="SF1234567891")
    assert refused.status == 400  # no unit of theirs to register for
    pressed = await post(
        client,
        "/desk/parcels/press",
        parcel=str(parcel.id),
        value=f"act:parcel_hand:{parcel.id}",
        once="w1",
    )
    assert "客服中心" in await pressed.text()
    assert (await latest_of(demo_app, parcel.id)).status == "waiting"
    await client.post("/desk/signout", data={"csrf": csrf(page)})

    await add_other_desk(demo_app)
    await sign_in(client, "hyy-desk")
    page = await (await client.get("/desk/parcels", params={"q": parcel.code})).text()
    assert "查找结果：0 件" in page and not re.search(rf"\b{parcel.code}\b.*待取", page)
    async with demo_app.db.transaction() as s:
        assert len((await s.exec(select(Parcel))).all()) == 1


# ---- in a real browser ---------------------------------------------------------------------


async def test_the_parcels_desk_in_a_browser(served) -> None:
    app, _emulator, browser = served
    await browser.sign_in("desk")
    await browser.open("/desk/parcels")
    await browser.fill({"unit": "2栋1单元802", "recipient": "吴敏", "waybill": "JDVA01234567890"})
    await browser.press("登记并通知住户")
    page = await browser.text()
    parcel = await latest(app)
    assert f"取件码：{parcel.code}" in page and "京东" in page
    await browser.fill({"unit": "3-2-1201", "recipient": "张伟", "waybill": "SF1234567890"})
    await browser.press("登记并通知住户")
    page = await browser.text()
    assert "待取 2 件" in page and "2栋1单元802" in page
    await browser.shot("parcels")
    await browser.fill({"q": parcel.code})
    await browser.press("查找")
    await browser.press("凭取件码交付")
    page = await browser.text()
    assert "已交付" in page and "待取 1 件" in page
