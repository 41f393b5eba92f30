"""Emergencies on the desk's web pages (aiohttp's client against the real pages, on the demo
store): the desk raises a flood from the form, presses "on site" (chat's own handler),
notes progress, is refused a close without its report, tells building 2's residents and
closes with the report; another community's desk sees nothing of it; and once in Chromium.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from handlers import incidents
from storage.models import Building, Community, Incident
from tests.conversations import chat_as
from tests.harness import Chat, texts
from tests.test_telegram import emulator
from tests.test_web_browser import pytestmark as needs_chromium
from tests.test_web_browser import served
from tests.webdesk import add_other_desk, client, csrf, serving, sign_in

__all__ = ["client", "emulator", "served"]  # fixtures

REPAIR = "group:XFL:repair"


async def post(client: TestClient, path: str, page_path: str, **fields: Any) -> Any:
    page = await (await client.get(page_path)).text()
    return await client.post(path, data={"csrf": csrf(page), **fields}, allow_redirects=True)


async def building_id(app, name: str) -> int:
    async with app.db.transaction() as s:
        found = (
            await s.exec(
                select(Building)
                .join(Community, col(Community.id) == col(Building.community_id))
                .where(Community.code == "XFL", Building.name == name)
            )
        ).one()
    assert found.id is not None
    return found.id


async def latest(app) -> Incident:
    async with app.db.transaction() as s:
        found = (await s.exec(select(Incident).order_by(col(Incident.id).desc()))).first()
    assert found is not None
    return found


async def test_the_desk_raises_works_and_closes_an_incident_on_its_pages(demo_app, client):
    app = demo_app
    building_two = await chat_as(app, "xuli", "徐丽")  # 2栋2单元1101
    building_three = Chat(app, "resident")  # 3栋
    await building_three.inbox()
    technician = Chat(app, "wang", chat_id=REPAIR, kind="group")
    supervisor = Chat(app, "zhou")
    director = Chat(app, "chen")
    await sign_in(client, "desk")
    two = await building_id(app, "2栋")

    # A form with a problem keeps what was typed and says what is missing.
    response = await post(
        client, "/desk/incidents/raise", "/desk/incidents", kind="flood", building=str(two)
    )
    assert response.status == 400
    assert "请简要说明现场情况" in await response.text()
    async with app.db.transaction() as s:
        assert (await s.exec(select(Incident))).first() is None

    response = await post(
        client,
        "/desk/incidents/raise",
        "/desk/incidents",
        kind="flood",
        building=str(two),
        place="地下室水泵房",
        description="水管爆裂，地下室进水约10厘米",
    )
    listing = await response.text()
    incident = await latest(app)
    assert incident.number in listing and "水浸" in listing and "处理中" in listing, listing
    assert "已立即通知值班主管" in listing
    # The repair group and every supervisor (nobody has the duty) have the card.
    assert incident.number in texts(await technician.inbox())
    assert "2栋 地下室水泵房" in texts(await supervisor.inbox())
    await director.inbox()

    here = f"/desk/incidents/{incident.id}"
    page = await (await client.get(here)).text()
    value = incidents.Arrive(incident.id or 0).value()
    once = re.search(r'name="once" value="([^"]+)"', page)
    assert once is not None
    response = await client.post(
        f"{here}/press",
        data={"csrf": csrf(page), "once": once.group(1), "value": value},
        allow_redirects=True,
    )
    page = await response.text()
    assert "李敏 已到场" in page, page
    assert "李敏 已到场" in texts(await technician.inbox())  # the card edited in the group

    page = await (await post(client, f"{here}/progress", here, note="已关闭总阀，正在抽水")).text()
    assert "进展：已关闭总阀，正在抽水" in page

    # Closing without the report is refused politely; the incident stays open.
    page = await (await post(client, f"{here}/close", here, happened="水管爆裂")).text()
    assert "结案需要填写简短报告" in page and "原因" in page, page
    assert (await latest(app)).status == "open"

    # Building 2's residents told at once; building 3's not.
    page = await (
        await post(
            client,
            f"{here}/residents",
            here,
            scope=str(two),
            text="2栋地下室进水，请勿进入地下室，车辆请暂停在地面。",
            urgent="yes",
        )
    ).text()
    assert "已通知住户：2栋，共 1 位" in page, page
    assert "请勿进入地下室" in texts(await building_two.inbox())
    assert "请勿进入地下室" not in texts(await building_three.inbox())

    page = await (
        await post(
            client,
            f"{here}/close",
            here,
            happened="2栋地下室水泵房水管爆裂进水",
            cause="水管老化",
            actions="关闭总阀，抽水，更换水管",
            losses="无人员受伤，水泵房少量设备受潮",
        )
    ).text()
    assert "已结案" in page and "原因：水管老化" in page, page
    report = [
        s for s in await director.inbox() if s.payload.get("key") == "incident.closed.director"
    ]
    assert report and "水管老化" in report[0].text and "李敏" in report[0].text
    sheet = await (await client.get(f"{here}/print")).text()
    assert "突发事件报告" in sheet and "原因：水管老化" in sheet and "经理签字" in sheet, sheet
    assert "李敏 已到场" in sheet
    closed = await latest(app)
    assert [e["step"] for e in closed.timeline] == [
        "raised",
        "arrived",
        "progress",
        "residents",
        "closed",
    ]
    assert {e["by"] for e in closed.timeline} == {"李敏"}


async def test_another_communitys_desk_sees_nothing(demo_app, client):
    await sign_in(client, "desk")
    await post(
        client,
        "/desk/incidents/raise",
        "/desk/incidents",
        kind="fire",
        place="地下车库B区",
        description="车库有浓烟",
    )
    incident = await latest(demo_app)
    await add_other_desk(demo_app)
    async with serving(demo_app) as other:
        await sign_in(other, "hyy-desk")
        for path in (f"/desk/incidents/{incident.id}", f"/desk/incidents/{incident.id}/print"):
            response = await other.get(path)
            assert response.status == 404
            assert "车库有浓烟" not in await response.text()
        assert incident.number not in await (await other.get("/desk/incidents")).text()


@needs_chromium
async def test_an_incident_in_a_browser(served) -> None:
    """The desk raises a lift entrapment, opens it, marks the technician's arrival and
    reads the timeline; in headless Chromium (skipped without it)."""
    app, _emulator, browser = served
    await browser.sign_in("desk")
    await browser.open("/desk/incidents")
    await browser.fill(
        {
            "kind": "lift",
            "building": str(await building_id(app, "2栋")),
            "place": "2单元电梯",
            "description": "电梯停在8、9楼之间，轿厢内2人",
        }
    )
    await browser.press("立即上报")
    incident = await latest(app)
    page = await browser.text()
    assert incident.number in page and "电梯困人" in page, page
    await browser.run(lambda: browser.driver.find_element("link text", incident.number).click())
    await browser.press("到场")
    await browser.fill({"note": "已通知电梯维保，正在盘车"})
    await browser.press("添加进展")
    page = await browser.text()
    assert "李敏 已到场" in page and "正在盘车" in page, page
    await browser.shot("incidents")
