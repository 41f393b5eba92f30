"""The key register on the desk's web workspace (aiohttp's client against the real pages, on
the demo store): keys added from the form, filtered by kind and state, a common room's key
lent to a technician and given back, a flat's key refused without the owner's consent, lent
with consent recorded by phone (the owner told as from chat) and asked of the owner in chat;
security staff see the register without lending, another community's desk sees nothing.
One run in a real browser (headless Chromium).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from handlers.core.i18n import LOCALES, load_po_dir
from storage.models import KeyLoan, OfficeKey, StaffMember
from tests.harness import Chat, texts
from tests.test_web_browser import CHROMIUM, DRIVER, served
from tests.webdesk import add_other_desk, add_web_staff, client, csrf, sign_in

__all__ = ["client", "served"]  # the fixtures, from tests/webdesk.py and the browser test

ROOT = Path(__file__).resolve().parent.parent


async def add_on_page(client: TestClient, **fields: str) -> Any:
    page = await (await client.get("/desk/keys")).text()
    data = {
        "csrf": csrf(page),
        "label": "",
        "new_kind": "common",
        "unit": "",
        "place": "",
        "count": "1",
    }
    return await client.post("/desk/keys/add", data={**data, **fields}, allow_redirects=True)


async def key_named(app: Any, label: str) -> OfficeKey:
    async with app.db.transaction() as s:
        return (await s.exec(select(OfficeKey).where(OfficeKey.label == label))).one()


async def lend_on_page(client: TestClient, key_id: int | None, **fields: str) -> str:
    page = await (await client.get(f"/desk/keys/{key_id}")).text()
    data = {"csrf": csrf(page), "staff": "", "borrower": "", "phone": "", "purpose": "", "due": ""}
    answer = await client.post(
        f"/desk/keys/{key_id}/lend", data={**data, **fields}, allow_redirects=True
    )
    return await answer.text()


async def test_the_register_on_the_page(client: TestClient, demo_app: Any) -> None:
    owner = Chat(demo_app, "resident")
    await sign_in(client, "desk")
    listing = await (await add_on_page(client, label="天台门钥匙", place="柜A-12")).text()
    assert "已登记钥匙 #1" in listing and "天台门钥匙" in listing and "柜A-12" in listing
    refused = await (await add_on_page(client, label="备用钥匙", new_kind="unit")).text()
    assert "房屋钥匙请写房号" in refused
    await add_on_page(client, label="备用钥匙", new_kind="unit", unit="3-2-1201", place="柜B-3")
    await add_on_page(client, label="配电柜钥匙", new_kind="equipment", place="柜C-1", count="2")

    # The register, filtered by kind.
    only = await (await client.get("/desk/keys?kind=equipment")).text()
    assert "配电柜钥匙" in only and "天台门钥匙" not in only

    # A common room's key lent to the technician, then given back from the register.
    roof = await key_named(demo_app, "天台门钥匙")
    async with demo_app.db.transaction() as s:
        wang = (await s.exec(select(StaffMember).where(StaffMember.name == "王师傅"))).first()
    assert wang is not None
    page = await lend_on_page(client, roof.id, staff=str(wang.id), purpose="检修水箱", due="18:00")
    assert "已借出 #1 天台门钥匙" in page and "检修水箱" in page
    out = await (await client.get("/desk/keys?state=out")).text()
    assert "天台门钥匙" in out and "王师傅" in out and "备用钥匙" not in out
    [loan] = await loans(demo_app)
    back = await client.post(
        f"/desk/keys/loans/{loan.id}/back",
        data={"csrf": csrf(out), "next": "/desk/keys", "brought": ""},
        allow_redirects=True,
    )
    assert "已归还 #1 天台门钥匙：王师傅" in await back.text()

    # A flat's key: refused without the owner's consent, lent with it recorded by phone.
    spare = await key_named(demo_app, "备用钥匙")
    page = await lend_on_page(client, spare.id, borrower="张三", phone="13900000009")
    assert "借出须有业主同意" in page
    page = await lend_on_page(
        client, spare.id, borrower="张三", phone="13900000009", consent="phone"
    )
    assert "借出须有业主同意" in page  # a way without its note is no consent recorded
    page = await lend_on_page(
        client,
        spare.id,
        borrower="张三",
        phone="13900000009",
        purpose="查看漏水",
        consent="phone",
        consent_note="10:00 张伟电话同意",
    )
    assert "已借出 #2 备用钥匙" in page and "电话同意：10:00 张伟电话同意" in page
    assert "已借出：借用人 张三" in texts(await owner.inbox())
    spare_loan = (await loans(demo_app))[-1]
    assert spare_loan.consent == "phone: 10:00 张伟电话同意" and spare_loan.returned_at is None
    back = await client.post(
        f"/desk/keys/loans/{spare_loan.id}/back",
        data={"csrf": csrf(page), "next": f"/desk/keys/{spare.id}", "brought": "李四"},
        allow_redirects=True,
    )
    page = await back.text()
    assert "李四 于" in page and "归还" in page and "业主同意" in page
    assert "归还物业保管" in texts(await owner.inbox())

    # Asked of the owner in chat: the page waits; the owner agrees in chat.
    page = await lend_on_page(
        client, spare.id, borrower="张三", phone="13900000009", consent="chat"
    )
    assert "已在聊天中询问" in page and "正在等答复" in page
    await owner.inbox()
    await owner.press("同意")
    page = await (await client.get(f"/desk/keys/{spare.id}")).text()
    assert "借出中" in page and "业主同意" in page and "chat: 张伟" in page

    # The same pages in English.
    await client.get("/desk/lang/en")
    listing = await (await client.get("/desk/keys?state=out")).text()
    assert "Key register" in listing and "Out" in listing and "备用钥匙" in listing
    page = await (await client.get(f"/desk/keys/{spare.id}")).text()
    assert "Loans" in page and "owner agreed" in page and "out now" in page


async def loans(app: Any) -> list[KeyLoan]:
    async with app.db.transaction() as s:
        return list((await s.exec(select(KeyLoan).order_by(col(KeyLoan.id)))).all())


async def test_security_looks_and_another_desk_sees_nothing(
    client: TestClient, demo_app: Any
) -> None:
    await sign_in(client, "desk")
    await add_on_page(client, label="天台门钥匙", place="柜A-12")
    roof = await key_named(demo_app, "天台门钥匙")
    listing = await (await client.get("/desk/keys")).text()
    await client.post("/desk/signout", data={"csrf": csrf(listing)})

    await add_web_staff(demo_app, "guard", "赵强", "security", "XFL")
    await sign_in(client, "guard")
    listing = await (await client.get("/desk/keys")).text()
    assert "天台门钥匙" in listing and "只有客服中心和主管可以登记" in listing
    assert 'id="keys-add"' not in listing
    page = await (await client.get(f"/desk/keys/{roof.id}")).text()
    assert 'id="key-lend"' not in page
    refused = await lend_on_page(client, roof.id, borrower="赵强", phone="13900000012")
    assert "没有权限" in refused and await loans(demo_app) == []
    await client.post("/desk/signout", data={"csrf": csrf(page)})

    await add_web_staff(demo_app, "fixer", "修理工", "repair", "XFL")
    await sign_in(client, "fixer")
    listing = await (await client.get("/desk/keys")).text()
    assert "天台门钥匙" not in listing and "只有客服中心、主管和安保人员" in listing
    assert (await client.get(f"/desk/keys/{roof.id}")).status == 404
    await client.post("/desk/signout", data={"csrf": csrf(listing)})

    await add_other_desk(demo_app)
    await sign_in(client, "hyy-desk")
    listing = await (await client.get("/desk/keys")).text()
    assert "天台门钥匙" not in listing and "和悦园" in listing
    assert (await client.get(f"/desk/keys/{roof.id}")).status == 404
    assert "没有权限" in await lend_on_page_forged(client, roof.id, listing)
    assert await loans(demo_app) == []


async def lend_on_page_forged(client: TestClient, key_id: int | None, page: str) -> str:
    data = {"csrf": csrf(page), "borrower": "某人", "phone": "13900000011"}
    answer = await client.post(f"/desk/keys/{key_id}/lend", data=data, allow_redirects=False)
    assert answer.status == 303
    return await (await client.get("/desk/keys")).text()


def test_every_word_of_the_key_pages_is_in_both_catalogs() -> None:
    words = set()
    for name in ("keys_list.html", "keys_page.html"):
        text = (ROOT / "bot" / "web" / "templates" / name).read_text(encoding="utf-8")
        words |= set(re.findall(r"""(?<![\w.])t\(["']([a-z_.]+)["']\s*[,)]""", text))
    assert "keys.web.title" in words
    for locale in LOCALES:
        catalog = load_po_dir(ROOT / "locales", locale)
        assert not {w for w in words if w not in catalog}, locale


# ---- in a real browser (tests/test_web_browser.py's headless Chromium) -----------------------


@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs chromium and chromedriver")
async def test_keys_in_a_browser(served: Any) -> None:
    app, _, browser = served
    await browser.sign_in("desk")
    await browser.open("/desk/keys")
    assert "钥匙登记" in await browser.text()
    await browser.fill({"label": "天台门钥匙", "place": "柜A-12"})
    await browser.press("登记入库")
    await browser.fill({"label": "配电柜钥匙", "new_kind": "equipment", "place": "柜C-1"})
    await browser.press("登记入库")
    await browser.fill(
        {"label": "备用钥匙", "new_kind": "unit", "unit": "3-2-1201", "place": "柜B-3"}
    )
    await browser.press("登记入库")
    page = await browser.text()
    assert "已登记钥匙 #3" in page and "柜B-3" in page

    roof = await key_named(app, "天台门钥匙")
    await browser.open(f"/desk/keys/{roof.id}")
    await browser.fill({"borrower": "张三", "phone": "13900000009", "purpose": "检修水箱"})
    await browser.press("借出")
    page = await browser.text()
    assert "已借出 #1 天台门钥匙" in page and "借出中" in page

    spare = await key_named(app, "备用钥匙")
    await browser.open(f"/desk/keys/{spare.id}")
    await browser.fill({"borrower": "李四", "phone": "13900000010", "consent": "written"})
    await browser.fill({"consent_note": "业主签字的委托书"})
    await browser.press("借出")
    assert "书面同意：业主签字的委托书" in await browser.text()
    await browser.open("/desk/keys")
    page = await browser.text()
    assert "张三" in page and "李四" in page and "在库" in page
    await browser.shot("keys")
    await browser.press("登记归还")
    assert "已归还 #" in await browser.text()
