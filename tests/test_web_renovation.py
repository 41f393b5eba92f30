"""Renovations on the desk's web pages (aiohttp's client against the real pages, on the
demo store): an application filed at the counter, the list by what is in review and in
progress, one renovation's page with the approve button (chat's own handler), the
waste fee's receipt; the papers shown to the desk only; another community's desk and
repair staff are refused what is not theirs.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from sqlmodel import select

from storage.models import Document, Renovation, Unit, UnitStage
from tests.harness import Chat, texts
from tests.test_renovation import UNIT, apply
from tests.test_telegram import emulator
from tests.test_web_browser import pytestmark as needs_chromium
from tests.test_web_browser import served
from tests.webdesk import add_other_desk, add_web_staff, client, csrf, serving, sign_in

__all__ = ["client", "emulator", "served"]  # fixtures: tests/webdesk.py, the browser test,
# the Bot API emulator (tests/test_telegram.py)

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64

FORM = {
    "unit": UNIT,
    "starts": "2026-12-01",
    "ends": "2026-12-31",
    "contractor": "安居装饰",
    "foreman": "陈工",
    "foreman_phone": "13900000009",
    "plan": "厨房卫生间翻新",
    "changes": "changes:none",
    "count": "2",
    "workers": "赵一 13900000011\n钱二 13900000012",
    "agreement": "yes",
}


async def post(client: TestClient, path: str, page_path: str, **fields: Any) -> Any:
    page = await (await client.get(page_path)).text()
    return await client.post(path, data={"csrf": csrf(page), **fields}, allow_redirects=True)


async def latest(app) -> Renovation:
    async with app.db.transaction() as s:
        found = (await s.exec(select(Renovation).order_by(Renovation.id.desc()))).first()  # type: ignore[union-attr]
    assert found is not None
    return found


async def test_the_desk_files_reviews_and_lists_renovations(demo_app, client):
    owner = Chat(demo_app, "resident")
    await sign_in(client, "desk")

    # A form with problems keeps what was typed and says what is wrong.
    bad = await post(
        client,
        "/desk/renovation/apply",
        "/desk/renovation",
        **{**FORM, "starts": "2026-11-01", "agreement": ""},
    )
    assert bad.status == 400
    text = await bad.text()
    assert "已经过去" in text and "安居装饰" in text

    done = await post(client, "/desk/renovation/apply", "/desk/renovation", **FORM)
    assert done.status == 200
    listing = await done.text()
    assert UNIT in listing and "待审核" in listing
    assert "已提交" in texts(await owner.inbox())
    renovation = await latest(demo_app)
    assert renovation.status == "submitted" and renovation.agreement_at is not None

    # A second one for the same unit is refused at the counter too.
    again = await post(client, "/desk/renovation/apply", "/desk/renovation", **FORM)
    assert again.status == 400 and "已有一份进行中" in await again.text()

    here = f"/desk/renovation/{renovation.id}"
    page = await (await client.get(here)).text()
    assert "陈工 13900000009" in page and "赵一 13900000011" in page
    approved = await post(
        client, f"{here}/press", here, value=f"act:reno_ok:{renovation.id}", once="a1"
    )
    page = await approved.text()
    assert "XFL-ZX-2026-0001" in page, page
    # The review is listed by who decided, by name, at the office's time.
    reviews = page.split('id="reno-reviews"')[1].split("</ul>")[0]
    assert "李敏" in reviews and "staff:" not in reviews and "2026-11-26 09:00" in reviews, reviews
    told = await owner.inbox()
    assert "XFL-ZX-2026-0001" in texts(told)
    async with demo_app.db.transaction() as s:
        unit = (await s.exec(select(Unit).where(Unit.label == UNIT))).one()
    assert unit.stage == UnitStage.renovating

    paid = await post(client, f"{here}/fee", here, text="ZX-0099")
    assert "ZX-0099" in await paid.text()
    assert (await latest(demo_app)).fee_receipt == "ZX-0099"

    work = await (await client.get("/desk/renovation?show=work")).text()
    assert UNIT in work and "施工中" in work
    review = await (await client.get("/desk/renovation?show=review")).text()
    assert UNIT not in review
    unit_page = await (await client.get(f"/desk/units/{renovation.unit_id}")).text()
    assert f"/desk/renovation?show=all&amp;unit={renovation.unit_id}" in unit_page
    mine = await (await client.get(f"/desk/renovation?show=all&unit={renovation.unit_id}")).text()
    other = await (
        await client.get(f"/desk/renovation?show=all&unit={renovation.unit_id + 1}")
    ).text()
    assert UNIT in mine and UNIT not in other


async def test_papers_for_the_desk_only_and_other_communities_refused(demo_app):
    owner = Chat(demo_app, "resident")
    await apply(owner, changes="拆改主体结构", authority="authority-approval")
    renovation = await latest(demo_app)
    here = f"/desk/renovation/{renovation.id}"
    await add_other_desk(demo_app)
    await add_web_staff(demo_app, "fixer", "吴师傅", "repair", "XFL")
    for login, status, papers in (
        ("desk", 200, True),
        ("zhou", 200, True),
        ("fixer", 200, False),
        ("hyy-desk", 404, False),
    ):
        async with serving(demo_app) as someone:
            await sign_in(someone, login)
            page = await someone.get(here)
            assert page.status == status, login
            text = await page.text()
            assert ("主管部门批准书</a>" in text) is papers, login
            if login == "fixer":
                assert 'id="reno-approve"' not in text and 'id="reno-changes"' in text
            if login == "hyy-desk":
                listing = await (await someone.get("/desk/renovation")).text()
                assert UNIT not in listing
                refused = await post(
                    someone,
                    f"{here}/press",
                    "/desk/renovation",
                    value=f"act:reno_ok:{renovation.id}",
                    once="x",
                )
                assert (await latest(demo_app)).status == "submitted"
                assert refused.status in (200, 404)


# ---- in a real browser ---------------------------------------------------------------------


@needs_chromium
async def test_the_renovations_in_progress_in_a_browser(served) -> None:
    """The desk sees a renovation approved in chat among those in progress, filters the
    list, opens it and records the waste fee's receipt; in headless Chromium (skipped
    without it)."""
    app, _emulator, browser = served
    owner = Chat(app, "resident")
    await apply(owner)
    desk_group = Chat(app, "li", chat_id="group:XFL:service", kind="group")
    await desk_group.inbox()
    await desk_group.press("批准")
    await browser.sign_in("desk")
    await browser.open("/desk/renovation?show=work")
    page = await browser.text()
    assert UNIT in page and "施工中" in page and "安居装饰" in page, page
    await browser.run(lambda: browser.driver.find_element("id", "show-review").click())
    assert UNIT not in await browser.text()
    await browser.open("/desk/renovation")
    await browser.run(lambda: browser.driver.find_element("link text", UNIT).click())
    page = await browser.text()
    assert "XFL-ZX-2026-0001" in page and "赵一 13900000011" in page, page
    await browser.fill({"text": "ZX-7788"})
    await browser.press("登记垃圾清运费收据")
    assert "ZX-7788" in await browser.text()
    await browser.shot("renovation")


async def test_the_desk_files_the_authoritys_approval_brought_to_the_counter(demo_app, tmp_path):
    demo_app.settings.data_dir = tmp_path / "data"
    owner = Chat(demo_app, "resident")
    await apply(owner, changes="明显加大荷载")
    renovation = await latest(demo_app)
    here = f"/desk/renovation/{renovation.id}"
    async with serving(demo_app) as desk:
        await sign_in(desk, "desk")
        refused = await post(desk, f"{here}/press", here, value=f"act:reno_ok:{renovation.id}")
        assert "批准书" in await refused.text()
        page = await (await desk.get(here)).text()
        form = aiohttp.FormData()
        form.add_field("csrf", csrf(page))
        form.add_field("kind", "authority")
        form.add_field("photo", PNG, filename="approval.png", content_type="image/png")
        kept = await desk.post(f"{here}/paper", data=form, allow_redirects=True)
        assert "主管部门批准书" in await kept.text()
        async with demo_app.db.transaction() as s:
            [paper] = (await s.exec(select(Document).where(Document.kind == "authority"))).all()
        photo = await desk.get(f"/desk/movein/papers/{paper.id}")
        assert photo.status == 200 and (await photo.read()).startswith(b"\x89PNG")
        approved = await post(desk, f"{here}/press", here, value=f"act:reno_ok:{renovation.id}")
        assert "XFL-ZX-2026-0001" in await approved.text()
