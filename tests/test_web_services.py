"""Convenience services on the desk's web workspace (aiohttp's client against the real
pages, on the demo store): a service added to the list and withdrawn from the form, the
open requests by stage, the fee recorded from the page (a used receipt number refused),
what the resident is told; another community's desk sees neither. One run in a real
browser (headless Chromium).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import select

from storage.models import LedgerEntry, ServiceItem, Ticket
from tests.harness import Chat, texts
from tests.test_services import REPAIR, _agree, _asked
from tests.test_web_browser import CHROMIUM, DRIVER, served
from tests.webdesk import add_other_desk, client, csrf, sign_in

__all__ = ["client", "served"]  # the fixtures, from tests/webdesk.py and the browser test


async def _add(client: TestClient, **fields: str) -> str:
    page = await (await client.get("/desk/services")).text()
    data = {"csrf": csrf(page), "community": "1", "department": "cleaning", "per": "", **fields}
    return await (await client.post("/desk/services/add", data=data)).text()


async def _to_collect(app: Any) -> tuple[Chat, Ticket]:
    """A request agreed at 160 yuan, confirmed, done by 王师傅 and accepted by the resident."""
    _, desk_group, resident, ticket = await _asked(app)
    await _agree(desk_group, "160")
    await resident.inbox()
    await resident.press("确认")
    wang = Chat(app, "wang", chat_id=REPAIR, kind="group")
    await wang.inbox()
    for label in ("接单", "开始", "完成"):
        await wang.press(label)
    await wang.say("已清洗完毕")
    await wang.say("跳过")
    await wang.press("确认")
    await resident.inbox()
    await resident.press("已解决")
    return resident, ticket


async def test_the_list_and_the_requests_on_the_page(client: TestClient, demo_app: Any) -> None:
    await sign_in(client, "desk")
    page = await _add(client, name="家政保洁", price="50", per="小时", description="日常保洁")
    assert "已加入服务项目：家政保洁：¥50.00/小时" in page, page
    page = await _add(client, name="疏通管道", price="八十")
    assert "不是有效金额" in page
    resident, ticket = await _to_collect(demo_app)
    page = await (await client.get("/desk/services")).text()
    assert ticket.number in page and "已验收，待收费" in page and "¥160.00" in page

    async with demo_app.db.transaction() as s:
        s.add(
            LedgerEntry(
                community_id=ticket.community_id,
                day=demo_app.clock.now().date(),
                receipt="SJ0100",
                purpose="fee",
                method="cash",
                amount=Decimal("5.00"),
                clerk="staff:1",
                at=demo_app.clock.now(),
            )
        )
    form = {"csrf": csrf(page), "receipt": "SJ0100", "method": "wechat"}
    url = f"/desk/services/requests/{ticket.id}/paid"
    page = await (await client.post(url, data=form)).text()
    assert "已在本小区登记过" in page and "已验收，待收费" in page
    page = await (await client.post(url, data={**form, "receipt": "SJ0101"})).text()
    assert "已登记" in page and "收据号 SJ0101" in page and "已收费，待回访" in page
    assert "SJ0101" in texts(await resident.inbox())
    async with demo_app.db.transaction() as s:
        entry = (await s.exec(select(LedgerEntry).where(LedgerEntry.receipt == "SJ0101"))).one()
        assert (entry.purpose, entry.amount, entry.method) == (
            "service",
            Decimal("160.00"),
            "wechat",
        )
        item = (await s.exec(select(ServiceItem).where(ServiceItem.name == "家政保洁"))).first()
    assert item is not None and item.community_id == 1

    page = await (await client.get("/desk/services")).text()
    url = f"/desk/services/items/{item.id}/withdraw"
    page = await (await client.post(url, data={"csrf": csrf(page)})).text()
    assert "已将“家政保洁”从服务项目中撤下" in page


async def test_the_details_agreed_from_the_page(client: TestClient, demo_app: Any) -> None:
    """The page's "agree" runs the card's own form on the ticket's page, as in chat."""
    _, _, resident, ticket = await _asked(demo_app)
    await sign_in(client, "desk")
    page = await (await client.get("/desk/services")).text()
    back = f"/desk/tickets/{ticket.id}"
    start = {"csrf": csrf(page), "once": "a1", "back": back}
    answer = await client.post(
        "/desk/say", data={**start, "option": f"flow:service_agree:{ticket.id}"}
    )
    assert "与住户商定的服务项目是" in await answer.text()
    steps = [("option", "item:keep"), ("text", "2台"), ("text", "周六上午10点")]
    steps += [("text", "150"), ("text", "出风干净"), ("option", "=confirm")]
    for n, (field, value) in enumerate(steps):
        answer = await client.post("/desk/say", data={**start, "once": f"s{n}", field: value})
    shown = await answer.text()
    assert "已把 " + ticket.number + " 的约定发给住户确认" in shown
    asked = texts(await resident.inbox())
    assert "费用：¥150.00" in asked and "周六上午10点" in asked, asked
    page = await (await client.get("/desk/services")).text()
    assert "待住户确认" in page


async def test_another_communitys_desk_sees_nothing(client: TestClient, demo_app: Any) -> None:
    *_, ticket = await _asked(demo_app)
    await add_other_desk(demo_app)
    await sign_in(client, "hyy-desk")
    page = await (await client.get("/desk/services")).text()
    assert ticket.number not in page and "空调、油烟机清洗" not in page
    answer = await client.post(
        "/desk/services/add",
        data={
            "csrf": csrf(page),
            "community": "1",
            "name": "偷加",
            "department": "repair",
            "price": "1",
        },
    )
    assert "没有权限" in await answer.text()
    async with demo_app.db.transaction() as s:
        names = (await s.exec(select(ServiceItem.name))).all()
    assert "偷加" not in names


@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs chromium and chromedriver")
async def test_services_in_a_browser(served: Any) -> None:
    app, _, browser = served
    await _asked(app)
    await browser.sign_in("desk")
    await browser.open("/desk/services")
    assert "家电清洗" in await browser.text() and "待商定" in await browser.text()
    await browser.fill({"name": "搬家帮手", "price": "200", "per": "次", "description": "两人半天"})
    await browser.press("加入服务项目")
    page = await browser.text()
    assert "已加入服务项目：搬家帮手" in page and "两人半天" in page
    await browser.shot("services")
