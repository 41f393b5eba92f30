"""The notice board and activities on the desk's page (/desk/activities), with aiohttp's
client on the demo store: the board's next renewal, then its last renewal with the photo
the desk sent; a plan refused with what is wrong, then saved (the departments' tasks
sent); announced with the page's button (chat's own); the sign-ups with names and flats;
the record's photos served to the community's desk only; another community's desk sees
and announces nothing of it. One run in headless Chromium saves the screenshot.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlmodel import col, select

from dialogs.registry import all_jobs
from storage.models import Activity, Photo
from tests.harness import Chat, texts
from tests.test_telegram import emulator
from tests.test_web_browser import pytestmark as needs_chromium
from tests.test_web_browser import served
from tests.webdesk import add_other_desk, client, csrf, serving, sign_in

__all__ = ["client", "emulator", "served"]  # fixtures: tests/webdesk.py, the browser test,
# the Bot API emulator (tests/test_telegram.py)

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64

PLAN = {
    "theme": "元旦游园会",
    "items": "猜灯谜、套圈",
    "cost": "1,200.50",
    "place": "中心广场",
    "starts": "12月20日 14:00",
    "ends": "16:30",
    "audience": "业主及家属",
    "capacity": "30",
    "per_household": "",
    "schedule": "14:00 签到",
    "prizes": "纪念品",
}


async def post(client: Any, path: str, **fields: Any) -> Any:
    page = await (await client.get("/desk/activities")).text()
    return await client.post(path, data={"csrf": csrf(page), **fields}, allow_redirects=True)


async def community_id(client: Any) -> str:
    page = await (await client.get("/desk/activities")).text()
    return page.split('name="community">')[1].split('value="')[1].split('"')[0]


async def latest(app: Any) -> Activity:
    async with app.db.transaction() as s:
        found = (await s.exec(select(Activity).order_by(col(Activity.id).desc()))).first()
    assert found is not None
    return found


async def test_the_desk_plans_announces_and_sees_the_board(demo_app, client, clock, tmp_path):
    demo_app.settings.data_dir = tmp_path / "data"
    await sign_in(client, "desk")
    page = await (await client.get("/desk/activities")).text()
    assert "尚无更换记录" in page and "下次更换：2026-12-10 09:00" in page, page

    xfl = await community_id(client)
    bad = await post(
        client, "/desk/activities/plan", community=xfl, **{**PLAN, "starts": "下周", "cost": "很多"}
    )
    assert bad.status == 400
    text = await bad.text()
    assert "没能读懂开始时间" in text and "没能读懂金额" in text and "中心广场" in text
    async with demo_app.db.transaction() as s:
        assert (await s.exec(select(Activity))).all() == []

    repair = Chat(demo_app, "wang", chat_id="group:XFL:repair", kind="group")
    await repair.inbox()
    done = await post(
        client, "/desk/activities/plan", community=xfl, departments=["repair"], **PLAN
    )
    assert done.status == 200
    page = await done.text()
    assert "已保存" in page and "元旦游园会" in page and "已制定" in page
    assert "元旦游园会" in texts(await repair.inbox())
    activity = await latest(demo_app)
    assert str(activity.cost) == "1200.50" and activity.departments == ["repair"]

    resident = Chat(demo_app, "resident")
    await resident.inbox()
    announced = await post(client, f"/desk/activities/{activity.id}/announce", once="a1")
    page = await announced.text()
    assert "已发布" in page and "住户" in page
    notice = await resident.inbox()
    assert "元旦游园会" in texts(notice)
    await resident.press("我要报名")
    await resident.say("2")
    page = await (await client.get("/desk/activities")).text()
    assert "张伟 · 3栋2单元1201 · 2 人" in page, page

    # The board's renewal, finished in the desk's group with a photo, is on the page.
    clock.advance(days=14, minutes=1)
    await demo_app.engine.run_jobs(all_jobs())
    desk_group = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await desk_group.inbox()
    await desk_group.press("接单")
    await desk_group.press("开始处理")
    await desk_group.press("完成")
    await desk_group.photo("board-photo-1")
    await desk_group.press("完成")
    await desk_group.press("跳过")
    await desk_group.press("确认提交")
    async with demo_app.db.transaction() as s:
        [board] = (await s.exec(select(Photo).where(Photo.file_ref == "board-photo-1"))).all()
    await sign_in(client, "desk")  # two weeks on: signed in again
    page = await (await client.get("/desk/activities")).text()
    assert "上次更换：2026-12-10 09:01" in page and f"/desk/photos/{board.id}" in page, page
    assert "下次更换：2026-12-24 09:01" in page

    # After it, 周主管 records it with a photo; the page shows and serves it.
    clock.set(activity.starts_at + timedelta(hours=3))
    zhou = Chat(demo_app, "zhou")
    await zhou.say("/activities")
    await zhou.press("记录：元旦游园会")
    await zhou.say("到场 40 余人，气氛热烈")
    await zhou.photo("party-1")
    await zhou.press("完成")
    await zhou.press("确认提交")
    recorded = await latest(demo_app)
    [ref] = recorded.photos
    kept = Path(demo_app.settings.data_dir) / "photos" / "console" / f"{ref}.jpg"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"\xff\xd8\xff party")
    async with demo_app.db.transaction() as s:
        photo = await s.get(Photo, int(ref))
        assert photo is not None
        photo.stored_path = str(kept)
        s.add(photo)
    await sign_in(client, "desk")
    page = await (await client.get("/desk/activities")).text()
    assert "活动记录：到场 40 余人，气氛热烈" in page and "已完成" in page
    here = f"/desk/activities/{recorded.id}/photos/{ref}"
    assert here in page
    shown = await client.get(here)
    assert shown.status == 200 and (await shown.read()).startswith(b"\xff\xd8")

    # The other community's desk sees none of it and cannot announce it.
    await add_other_desk(demo_app)
    async with serving(demo_app) as other:
        await sign_in(other, "hyy-desk")
        page = await (await other.get("/desk/activities")).text()
        assert "元旦游园会" not in page and "和悦园" in page
        assert (await other.get(here)).status == 404


async def test_the_other_desk_cannot_announce(demo_app, client) -> None:
    await sign_in(client, "desk")
    xfl = await community_id(client)
    await post(client, "/desk/activities/plan", community=xfl, **PLAN)
    activity = await latest(demo_app)
    await add_other_desk(demo_app)
    async with serving(demo_app) as other:
        await sign_in(other, "hyy-desk")
        refused = await post(other, f"/desk/activities/{activity.id}/announce", once="x")
        assert "没有权限" in await refused.text()
        planned = await post(other, "/desk/activities/plan", community=xfl, **PLAN)
        assert planned.status == 400
    assert (await latest(demo_app)).status == "planned"


async def test_the_page_lists_those_waiting(demo_app, client) -> None:
    await sign_in(client, "desk")
    xfl = await community_id(client)
    await post(client, "/desk/activities/plan", community=xfl, **{**PLAN, "capacity": "2"})
    activity = await latest(demo_app)
    await post(client, f"/desk/activities/{activity.id}/announce", once="a1")
    resident, tenant = Chat(demo_app, "resident"), Chat(demo_app, "tenant")
    for chat, people in ((resident, "2"), (tenant, "1")):
        await chat.inbox()
        await chat.press("我要报名")
        await chat.say(people)
    await tenant.press("登记候补")
    page = await (await client.get("/desk/activities")).text()
    assert "张伟 · 3栋2单元1201 · 2 人" in page and "刘洋 · 3栋2单元1202 · 1 人（候补）" in page


async def test_the_desk_records_an_activity_with_a_photo(demo_app, client, clock, tmp_path):
    demo_app.settings.data_dir = tmp_path / "data"
    await sign_in(client, "desk")
    xfl = await community_id(client)
    await post(client, "/desk/activities/plan", community=xfl, **PLAN)
    activity = await latest(demo_app)
    page = await (await client.get("/desk/activities")).text()
    assert f'id="record-save-{activity.id}"' not in page  # not before it has begun
    clock.set(activity.starts_at + timedelta(hours=3))
    await sign_in(client, "desk")
    page = await (await client.get("/desk/activities")).text()
    assert f'id="record-save-{activity.id}"' in page

    async def send(filename: str, kind: str) -> str:
        page = await (await client.get("/desk/activities")).text()
        form = aiohttp.FormData()
        form.add_field("csrf", csrf(page))
        form.add_field("record", "到场 40 余人，猜灯谜最受欢迎")
        form.add_field("photo", PNG, filename=filename, content_type=kind)
        answer = await client.post(
            f"/desk/activities/{activity.id}/record", data=form, allow_redirects=True
        )
        return await answer.text()

    assert "照片需为" in await send("party.gif", "image/gif")
    assert (await latest(demo_app)).status == "planned"
    page = await send("party.png", "image/png")
    assert "活动记录：到场 40 余人，猜灯谜最受欢迎" in page and "已存档" in page, page
    [ref] = (await latest(demo_app)).photos
    shown = await client.get(f"/desk/activities/{activity.id}/photos/{ref}")
    assert shown.status == 200 and (await shown.read()).startswith(b"\x89PNG")


# ---- in a real browser ---------------------------------------------------------------------


@needs_chromium
async def test_the_activities_page_in_a_browser(served) -> None:
    """The desk plans the garden party on the page, announces it, and sees 张伟's sign-up;
    in headless Chromium (skipped without it)."""
    app, _emulator, browser = served
    await browser.sign_in("desk")
    await browser.open("/desk/activities")
    await browser.fill(PLAN)
    await browser.run(
        lambda: browser.driver.find_element(
            "css selector", 'input[name="departments"][value="security"]'
        ).click()
    )
    await browser.press("保存方案")
    page = await browser.text()
    assert "已保存" in page and "元旦游园会" in page and "已制定" in page, page
    await browser.press("发布活动通知")
    assert "已发布" in await browser.text()
    resident = Chat(app, "resident")
    await resident.inbox()
    await resident.say("/activities")
    await resident.press("报名：元旦游园会")
    await resident.say("3")
    await browser.open("/desk/activities")
    page = await browser.text()
    assert "张伟 · 3栋2单元1201 · 3 人" in page, page
    await browser.shot("activities")
