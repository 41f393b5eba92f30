"""A unit's move-in on the desk's web pages (aiohttp's client against the real pages, on
the demo store): opened from the unit's page as chat's `/movein` opens it, a paper's photo
uploaded and shown to the desk and the supervisor only, a form ticked with the card's own
button, the sign-off refused while items are left, the pack printed; the repair staff and
another community's desk see none of it.
"""

from __future__ import annotations

import base64
import re
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from sqlmodel import select

from handlers.people import add_staff
from handlers.rules import movein as rules
from storage.models import Community, Document, InviteCode, MoveIn, Outbox, Unit
from tests.harness import Chat, texts
from tests.test_movein import UNIT, new_unit
from tests.test_telegram import User, emulator, running
from tests.test_web_browser import pytestmark as needs_chromium
from tests.test_web_browser import served
from tests.webdesk import add_other_desk, add_web_staff, client, csrf, serving, sign_in

__all__ = ["client", "emulator", "served"]  # the fixtures: tests/webdesk.py, the browser test
# and the Bot API emulator (tests/test_telegram.py)

DESK_TG = 5201  # the desk's Telegram account
CONTRACT = "AgACAgUAAxkBAAIC-purchase-contract"

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


async def post(client: TestClient, path: str, page_path: str, **fields: Any) -> Any:
    page = await (await client.get(page_path)).text()
    return await client.post(path, data={"csrf": csrf(page), **fields}, allow_redirects=True)


async def upload(client: TestClient, unit_id: int, kind: str, name: str = "id.png") -> Any:
    here = f"/desk/units/{unit_id}/movein"
    page = await (await client.get(here)).text()
    form = aiohttp.FormData()
    form.add_field("csrf", csrf(page))
    form.add_field("kind", kind)
    form.add_field("photo", PNG, filename=name, content_type="image/png")
    return await client.post(f"{here}/paper", data=form, allow_redirects=True)


async def test_the_desk_opens_and_works_a_move_in_on_its_page(demo_app, client, tmp_path):
    demo_app.settings.data_dir = tmp_path / "data"
    unit_id = await new_unit(demo_app)
    await sign_in(client, "desk")
    here = f"/desk/units/{unit_id}/movein"

    unit_page = await (await client.get(f"/desk/units/{unit_id}")).text()
    assert f'href="/desk/units/{unit_id}/movein"' in unit_page
    assert "还没有开始办理入住" in await (await client.get(here)).text()

    answer = await post(client, f"{here}/open", here)
    page = await answer.text()
    assert answer.status == 200 and "业主邀请码" in page  # shown once, as chat says it
    assert "还差" in page and "单位证明" in page
    assert "业主邀请码" not in await (await client.get(here)).text()

    answer = await upload(client, unit_id, "company_cert")
    page = await answer.text()
    async with demo_app.db.transaction() as s:
        [paper] = (await s.exec(select(Document))).all()
        move_in = (await s.exec(select(MoveIn))).one()
    assert f"/desk/movein/papers/{paper.id}" in page
    photo = await client.get(f"/desk/movein/papers/{paper.id}")
    assert photo.status == 200 and await photo.read() == PNG
    assert (await upload(client, unit_id, "company_cert", "id.exe")).status == 400

    answer = await post(
        client, f"{here}/press", here, value=f"act:mi_tick:{move_in.id}:form_service"
    )
    assert answer.status == 200
    async with demo_app.db.transaction() as s:
        assert "form.service" in (await s.get(MoveIn, move_in.id)).checklist

    # The inspection goes to the repair group as from chat; its ticket has its page.
    answer = await post(client, f"{here}/press", here, value=f"act:mi_inspect:{move_in.id}")
    assert "验房工单 I-" in await answer.text()
    async with demo_app.db.transaction() as s:
        ticket_id = (await s.get(MoveIn, move_in.id)).inspection_ticket_id
    [card] = await Chat(demo_app, "wang", chat_id="group:XFL:repair", kind="group").inbox()
    assert "入住验房" in card.text
    ticket_page = await client.get(f"/desk/tickets/{ticket_id}")
    assert ticket_page.status == 200 and "入住验房" in await ticket_page.text()

    answer = await post(client, f"{here}/signoff", here, name="孙立")
    assert answer.status == 400 and "还不能签收" in await answer.text()

    printed = await client.get(f"{here}/print")
    text = await printed.text()
    assert (
        printed.status == 200 and "入住资料汇总" in text and UNIT in text and "物业服务协议" in text
    )

    # Nothing of it went into a group.
    async with demo_app.db.transaction() as s:
        rows = (await s.exec(select(Outbox))).all()
    assert not [
        r for r in rows if r.chat_id.startswith("group:") and paper.stored_path in str(r.payload)
    ]


async def test_only_the_desk_and_supervisors_see_the_papers(demo_app, tmp_path):
    demo_app.settings.data_dir = tmp_path / "data"
    unit_id = await new_unit(demo_app)
    await add_other_desk(demo_app)
    await add_web_staff(demo_app, "fixer", "吴师傅", "repair", "XFL")
    async with serving(demo_app) as desk:
        await sign_in(desk, "desk")
        here = f"/desk/units/{unit_id}/movein"
        await post(desk, f"{here}/open", here)
        await upload(desk, unit_id, "owner_id")
    async with demo_app.db.transaction() as s:
        [paper] = (await s.exec(select(Document))).all()
    photo = f"/desk/movein/papers/{paper.id}"

    for login, allowed in (("zhou", True), ("hyy-desk", False), ("fixer", False)):
        async with serving(demo_app) as someone:
            await sign_in(someone, login)
            seen = await someone.get(photo)
            assert (seen.status == 200) is allowed, login
            page = await someone.get(here)
            assert (page.status == 200) is allowed, login
            if not allowed:
                assert "身份证" not in await page.text()


# ---- in a real browser ---------------------------------------------------------------------


@needs_chromium
async def test_the_move_in_page_in_a_browser(served, tmp_path) -> None:
    """The desk opens a move-in from the unit's page, ticks a form, uploads a paper's
    photo and prints the pack; the owner signs on the canvas; in headless Chromium
    (skipped without it)."""
    app, _emulator, browser = served
    unit_id = await new_unit(app)
    await browser.sign_in("desk")
    await browser.open(f"/desk/units/{unit_id}")
    await browser.run(lambda: browser.driver.find_element("id", "unit-movein").click())
    assert "还没有开始办理入住" in await browser.text()
    await browser.press("开始办理入住")
    page = await browser.text()
    assert "业主邀请码" in page and "还差" in page
    await browser.press("物业服务协议")
    assert "物业服务协议" in await browser.run(
        lambda: browser.driver.find_element("id", "done-h").find_element("xpath", "..").text
    )
    photo = tmp_path / "licence.png"
    photo.write_bytes(PNG)
    await browser.fill({"kind": "company_cert"})
    await browser.run(lambda: browser.driver.find_element("name", "photo").send_keys(str(photo)))
    await browser.press("上传")
    assert "查看照片" in await browser.text()
    await browser.shot("movein")
    await browser.open(f"/desk/units/{unit_id}/movein/print")
    page = await browser.text()
    assert "入住资料汇总" in page and UNIT in page and "单位证明" in page
    await browser.shot("movein-pack")

    # With everything else done, the owner signs on the canvas.
    await all_but_the_sign_off(app, unit_id)
    await browser.open(f"/desk/units/{unit_id}/movein")
    await browser.fill({"name": "孙立"})

    def drawing() -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        pad = browser.driver.find_element("id", "signature-pad")
        moves = ActionChains(browser.driver).move_to_element_with_offset(pad, -60, 0)
        moves.click_and_hold().move_by_offset(40, 20).move_by_offset(40, -30)
        moves.move_by_offset(30, 25).release().perform()

    await browser.run(drawing)
    await browser.press("确认签收")
    assert "name:孙立" in await browser.text()
    shown = await browser.run(
        lambda: browser.driver.find_elements("css selector", "img.signature-image")
    )
    assert len(shown) == 1
    await browser.shot("movein-signed")


async def test_the_household_fees_keys_and_reinspection_typed_on_the_page(demo_app, client):
    unit_id = await new_unit(demo_app)
    await sign_in(client, "desk")
    here = f"/desk/units/{unit_id}/movein"
    await post(client, f"{here}/open", here)
    code = re.search(r"业主邀请码：(\S+?)（", await (await client.get(here)).text())
    assert code is None  # the code was shown once, in the answer to opening
    async with demo_app.db.transaction() as s:
        move_in = (await s.exec(select(MoveIn))).one()

    answer = await post(client, f"{here}/typed/household", here, members="孙小明 12")
    assert answer.status == 400 and "看不懂" in await answer.text()
    answer = await post(client, f"{here}/typed/household", here, members="孙小明 13900000031")
    assert answer.status == 200
    answer = await post(client, f"{here}/typed/fee", here, amount="abc", receipt="SJ1")
    assert answer.status == 400 and "不是有效金额" in await answer.text()
    answer = await post(client, f"{here}/typed/fee", here, amount="1200", receipt="SJ20261126009")
    assert answer.status == 200
    answer = await post(client, f"{here}/typed/fee", here, amount="50", receipt="SJ20261126009")
    assert answer.status == 400  # a receipt number is used once
    answer = await post(client, f"{here}/typed/keys", here, count="3", which="入户门3把")
    assert answer.status == 200
    answer = await post(client, f"{here}/typed/reinspect", here, when="昨天10点")
    assert answer.status == 400
    async with demo_app.db.transaction() as s:
        found = await s.get(MoveIn, move_in.id)
    assert found.checklist["form.household"]["members"]
    assert found.checklist["fees"]["payments"] == [
        {"amount": "1200.00", "receipt": "SJ20261126009"}
    ]
    assert found.checklist["item.keys"]["count"] == 3
    page = await (await client.get(here)).text()
    assert "住户登记表" not in page.split("还差")[1].split("</p>")[0]

    # Cancelled on the page, with why: the unit is back to not handed over, a new one may
    # be opened.
    answer = await post(client, f"{here}/typed/cancel", here, reason="")
    assert answer.status == 400 and "取消原因" in await answer.text()
    answer = await post(client, f"{here}/typed/cancel", here, reason="开错房号")
    assert answer.status == 200
    async with demo_app.db.transaction() as s:
        found = await s.get(MoveIn, move_in.id)
        unit = await s.get(Unit, unit_id)
    assert found.status == "cancelled" and unit.stage == "not_handed_over"
    page = await (await client.get(here)).text()
    assert 'id="movein-open"' in page


async def all_but_the_sign_off(app: Any, unit_id: int) -> int:
    """Everything of the unit's open move-in done but the sign-off (no defects found), as
    the chat test does it step by step; returns the move-in's id."""
    now = app.clock.now()
    async with app.db.transaction() as s:
        move_in = (await s.exec(select(MoveIn).where(MoveIn.unit_id == unit_id))).one()
        done = {"by": "staff:1", "at": now.isoformat()}
        keys = [f"form.{f}" for f in rules.FORMS] + [f"item.{i}" for i in rules.ITEMS]
        keys += ["fees", "inspected", "readings", "readings_confirmed"]
        move_in.checklist = {key: done for key in keys}
        for kind in ("company_cert", "contract", "attorney", "delegate_id"):
            s.add(
                Document(
                    community_id=move_in.community_id,
                    unit_id=unit_id,
                    subject=f"movein:{move_in.id}",
                    kind=kind,
                    channel="console",
                    file_ref=f"photo-{kind}",
                    added_by="staff:1",
                    at=now,
                )
            )
        s.add(move_in)
        assert move_in.id is not None
        return move_in.id


async def test_the_owner_signs_on_the_page_and_the_desk_completes(demo_app, client, tmp_path):
    demo_app.settings.data_dir = tmp_path / "data"
    unit_id = await new_unit(demo_app)
    await sign_in(client, "desk")
    here = f"/desk/units/{unit_id}/movein"
    await post(client, f"{here}/open", here)
    move_in_id = await all_but_the_sign_off(demo_app, unit_id)
    drawn = "data:image/png;base64," + base64.b64encode(PNG).decode()

    answer = await post(client, f"{here}/signoff", here, name="孙立", signature=drawn)
    page = await answer.text()
    assert answer.status == 200 and "name:孙立" in page
    async with demo_app.db.transaction() as s:
        [signature] = (await s.exec(select(Document).where(Document.kind == "signature"))).all()
    assert f"/desk/movein/papers/{signature.id}" in page
    assert await (await client.get(f"/desk/movein/papers/{signature.id}")).read() == PNG

    answer = await post(client, f"{here}/press", here, value=f"act:mi_complete:{move_in_id}")
    done = await answer.text()
    assert "入住办理完成" in done and "业主尚未用邀请码绑定聊天账号：邀请码继续有效" in done
    async with demo_app.db.transaction() as s:
        unit = await s.get(Unit, unit_id)
        assert unit.stage == "handed_over" and unit.handover_date == date(2026, 11, 26)
        opened = await s.get(InviteCode, (await s.get(MoveIn, move_in_id)).invite_code)
        assert opened.used_at is None and opened.expires_at > demo_app.clock.now()
    printed = await (await client.get(f"{here}/print")).text()
    assert f"/desk/movein/papers/{signature.id}" in printed and "2026年11月26日" in printed
    assert 'id="print-invitation"' in printed and 'id="invite-slip"' not in printed

    # Not bound yet: the pack is printed with the invitation slip, a fresh code and its QR
    # (the earlier one void); the delegate binds with it; then no slip is offered.
    answer = await client.post(f"{here}/print", data={"csrf": csrf(printed)})
    slip = await answer.text()
    assert answer.status == 200 and 'id="invite-slip"' in slip
    assert 'src="data:image/png;base64,' in slip and "欢迎入住" not in slip
    code = "".join(re.search(r'<p class="code">(\S+) (\S+)</p>', slip).groups())
    async with demo_app.db.transaction() as s:
        voided = await s.get(InviteCode, opened.code)
        assert voided.expires_at <= demo_app.clock.now()
    said = await Chat(demo_app, "sunli").send(text=f"/start {code}", user_name="孙立")
    assert "绑定成功" in texts(said)
    printed = await (await client.get(f"{here}/print")).text()
    assert 'id="print-invitation"' not in printed
    answer = await post(client, f"{here}/print", here)
    assert answer.status == 404


async def test_a_paper_photographed_in_telegram_shows_on_the_move_in_page(
    tmp_path, emulator, monkeypatch
) -> None:
    """The desk photographs the purchase contract in Telegram; the page shows it, fetched
    through the running bot on its first view and kept with the papers, and refuses it to
    the repair department."""
    monkeypatch.chdir(tmp_path)  # the data folder is ./data
    async for scene in running(tmp_path, emulator, webhook=False, real_pace=False):
        unit_id = await new_unit(scene.app)
        async with scene.app.db.transaction() as s:
            xfl = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
            await add_staff(
                s,
                channel="telegram",
                user_id=str(DESK_TG),
                name="前台小陈",
                department="service",
                community_id=xfl.id,
            )
        desk = User(scene, DESK_TG, DESK_TG, name="小陈")
        await desk.say(f"/movein {UNIT}")
        await desk.press("登记证件")
        await desk.press("购房合同")
        await desk.photo(CONTRACT)
        (paper,) = await scene.rows(Document, Document.kind == "contract")
        assert (paper.channel, paper.file_ref, paper.stored_path) == ("telegram", CONTRACT, None)

        async with serving(scene.app) as client:
            await sign_in(client, "desk")
            page = await (await client.get(f"/desk/units/{unit_id}/movein")).text()
            assert f'href="/desk/movein/papers/{paper.id}"' in page and CONTRACT not in page
            assert "照片在聊天中收取" not in page
            answer = await client.get(f"/desk/movein/papers/{paper.id}")
            assert answer.status == 200 and answer.content_type == "image/jpeg"
            assert await answer.read() == scene.emulator.files[CONTRACT]
            (kept,) = await scene.rows(Document, Document.id == paper.id)
            assert kept.stored_path == str(Path("data") / "papers" / "telegram" / f"{paper.id}.jpg")
            fetches = sum(1 for method, _ in scene.emulator.calls if method == "getFile")
            answer = await client.get(f"/desk/movein/papers/{paper.id}")  # our copy now
            assert await answer.read() == scene.emulator.files[CONTRACT]
            assert sum(1 for m, _ in scene.emulator.calls if m == "getFile") == fetches

            await add_web_staff(scene.app, "fixer", "吴师傅", "repair", "XFL")
            client.session.cookie_jar.clear()
            await sign_in(client, "fixer")
            answer = await client.get(f"/desk/movein/papers/{paper.id}")
            assert answer.status == 404
            assert scene.emulator.files[CONTRACT] not in await answer.read()
