"""Visitors on the desk's pages (aiohttp's client against the real pages, on the demo store):
today's expected and in-site visitors, a code checked and the visitor let in and out with
chat's own buttons, a walk-in registered and the resident asked in chat, the gate page
taking a visitor's code, and another community's desk refused; then once in Chromium.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlmodel import col, select

from storage.models import Visit
from tests.conversations import chat_as
from tests.harness import Chat, texts
from tests.test_telegram import emulator
from tests.test_visitors import at, register
from tests.test_web_browser import pytestmark as needs_chromium
from tests.test_web_browser import served
from tests.webdesk import (
    _pg_demo_template,
    add_other_desk,
    client,
    csrf,
    desk_app,
    pg_demo_app,
    serving,
    sign_in,
)

# fixtures: tests/webdesk.py, the browser test, the Bot API emulator (tests/test_telegram.py)
__all__ = ["_pg_demo_template", "client", "desk_app", "emulator", "pg_demo_app", "served"]

TODAY = date(2026, 11, 26)


async def latest(app: Any) -> Visit:
    async with app.db.transaction() as s:
        found = (await s.exec(select(Visit).order_by(col(Visit.id).desc()))).first()
    assert found is not None
    return found


def headline(page: str) -> str:
    found = re.search(r'<p class="headline">([^<]+)</p>', page)
    return found.group(1) if found else ""


def button(page: str, label: str) -> dict[str, str] | None:
    """The fields of the form whose button says `label`."""
    for form in re.findall(r'action="/desk/visitors/press">(.*?)</form>', page, re.S):
        if label in form:
            return dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    return None


async def check(client: Any, code: str, path: str = "/desk/visitors/check") -> Any:
    page = await (await client.get("/desk/visitors")).text()
    return await client.post(path, data={"csrf": csrf(page), "code": code})


async def test_a_visitor_checked_let_in_and_out_on_the_page(desk_app):
    """On SQLite and on PostgreSQL."""
    async with serving(desk_app) as client:
        await _in_and_out(desk_app, client)


async def _in_and_out(demo_app: Any, client: Any) -> None:
    resident = Chat(demo_app, "resident")
    await register(resident, arrival="今天18:00", departure="3小时")
    visit = await latest(demo_app)
    await sign_in(client, "desk")
    page = await (await client.get("/desk/visitors")).text()
    assert "今日待到访（1）" in page and "王小明" in page and visit.code in page
    assert "在小区内（0）" in page

    answer = await check(client, visit.code)  # 09:00: the code opens at 16:00
    page = await answer.text()
    assert answer.status == 200 and headline(page) == "还未到时间"
    assert "2026-11-26 16:00" in page and button(page, "进入") is None

    at(demo_app, TODAY, 17, 0)
    await sign_in(client, "desk")
    page = await (await check(client, f"FDVISIT:{visit.code}")).text()
    assert headline(page) == "可以放行" and "3栋2单元1201" in page and "139****5678" in page
    pressed = button(page, "进入")
    assert pressed is not None
    page = await (await client.post("/desk/visitors/press", data=pressed)).text()
    assert headline(page) == "访客在小区内" and "已放行访客 王小明" in page
    await client.post("/desk/visitors/press", data=pressed)  # a double click: one entry
    assert "您的访客 王小明 已到达" in texts(await resident.inbox())
    assert "在小区内（1）" in page

    at(demo_app, TODAY, 21, 30)  # past the registered 21:00: overstaying
    await sign_in(client, "desk")
    page = await (await client.get("/desk/visitors")).text()
    assert "1 位超时" in page and "已超时" in page
    page = await (await check(client, visit.code)).text()
    pressed = button(page, "离开")
    assert pressed is not None
    page = await (await client.post("/desk/visitors/press", data=pressed)).text()
    assert "超出免费停车时长（120 分钟）150 分钟" in page
    assert "今日已结束（1）" in page and "已离开" in page
    found = await latest(demo_app)
    assert found.status == "left"
    assert [h["what"] for h in found.history].count("arrived") == 1
    # A forged value is not pressed.
    page = await (await client.get("/desk/visitors")).text()
    forged = await client.post(
        "/desk/visitors/press", data={"csrf": csrf(page), "value": "act:t_accept:1"}
    )
    assert forged.status == 400


async def test_a_walk_in_registered_on_the_page(demo_app, client):
    wu = await chat_as(demo_app, "wu", "吴敏")
    await sign_in(client, "desk")
    page = await (await client.get("/desk/visitors")).text()
    form = {
        "csrf": csrf(page),
        "unit": "9-9-909",
        "name": "李四",
        "phone": "123",
        "purpose": "送东西",
        "companions": "两个",
        "plate": "",
    }
    refused = await client.post("/desk/visitors/walkin", data=form)
    page = await refused.text()
    assert refused.status == 400 and "没有找到房号" in page and "不像是有效的电话号码" in page
    assert 'value="李四"' in page and 'value="送东西"' in page  # what was typed is kept
    answer = await client.post(
        "/desk/visitors/walkin", data={**form, "unit": "2号楼1单元802", "phone": "13911112222"}
    )
    page = await answer.text()
    assert answer.status == 200 and headline(page) == "待住户确认"
    assert "已在线询问 2栋1单元802 的住户" in page and button(page, "进入") is not None
    visit = await latest(demo_app)
    assert (visit.status, visit.companions, visit.source) == ("asking", 2, "walk_in")
    assert "访客 李四 说来找您" in texts(await wu.inbox())
    await wu.press("放行")
    notices = await (await client.get("/desk/notices")).text()
    assert "住户 吴敏 同意访客 李四" in notices


async def test_the_gate_page_takes_a_visitors_code_and_other_communities_are_refused(demo_app):
    resident = Chat(demo_app, "resident")
    await register(resident, arrival="现在")
    visit = await latest(demo_app)
    async with serving(demo_app) as client:
        await sign_in(client, "desk")
        page = await (await client.get("/desk/gate")).text()
        answer = await client.post("/desk/gate", data={"csrf": csrf(page), "code": visit.code})
        page = await answer.text()
        assert headline(page) == "可以放行" and "王小明" in page and button(page, "进入")
        await add_other_desk(demo_app)
        await sign_in(client, "hyy-desk")
        page = await (await client.get("/desk/visitors")).text()
        assert visit.code not in page and "王小明" not in page
        answer = await check(client, visit.code)
        assert answer.status == 404 and "没有找到访客通行码" in await answer.text()
    async with demo_app.db.transaction() as s:
        found = await s.get(Visit, visit.id)
    assert found is not None and found.status == "expected"


# ---- in a real browser ---------------------------------------------------------------------


@needs_chromium
async def test_visitors_at_the_gate_in_a_browser(served) -> None:
    """The desk checks a visitor's code, lets them in and registers a walk-in; in headless
    Chromium (skipped without it)."""
    app, _emulator, browser = served
    resident = Chat(app, "resident")
    await register(resident, arrival="现在", departure="2小时")
    async with app.db.transaction() as s:
        visit = (await s.exec(select(Visit))).one()
    await browser.sign_in("desk")
    await browser.open("/desk/visitors")
    page = await browser.text()
    assert "今日待到访（1）" in page and "王小明" in page, page
    await browser.fill({"code": visit.code})
    await browser.press("核验")
    page = await browser.text()
    assert "可以放行" in page and "3栋2单元1201" in page, page
    await browser.press("进入")
    page = await browser.text()
    assert "访客在小区内" in page and "在小区内（1）" in page, page
    await browser.shot("visitors")
    await browser.fill(
        {"unit": "2-1-802", "name": "李四", "purpose": "送东西", "plate": "浙B12345"}
    )
    await browser.press("登记并询问住户")
    page = await browser.text()
    assert "待住户确认" in page and "李四" in page, page
