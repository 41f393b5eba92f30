"""Arrears casework on the desk's web workspace (aiohttp's client against the real pages, on
the demo store): the open cases by step with what is owed, a promise past its day marked; a
case's page with the bills by month, the contact form (the collection script) recording a
call with a promise and a dispute that opens the fee dispute, the legal file to download;
repair staff and another community's desk see nothing. One run in a real browser.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from handlers.core.i18n import LOCALES, load_po_dir
from storage.models import ArrearsCase, ArrearsContact, FeeAgreement, Unit
from tests.harness import Chat, texts
from tests.test_arrears_work import case_of, put_on_step, run_days
from tests.test_web_browser import CHROMIUM, DRIVER, served
from tests.webdesk import add_other_desk, add_web_staff, client, csrf, sign_in

__all__ = ["client", "served"]

ROOT = Path(__file__).resolve().parent.parent
UNIT = "1栋1单元302"


async def contacts(app: Any) -> list[ArrearsContact]:
    async with app.db.transaction() as s:
        return list((await s.exec(select(ArrearsContact).order_by(col(ArrearsContact.id)))).all())


async def record_on_page(client: TestClient, case_id: int | None, **fields: str) -> str:
    page = await (await client.get(f"/desk/arrears/{case_id}")).text()
    data = {
        "csrf": csrf(page),
        "method": "call",
        "reached": "yes",
        "reason": "",
        "outcome": "",
        "promised_on": "",
        "promised_amount": "",
    }
    answer = await client.post(
        f"/desk/arrears/{case_id}/contact", data={**data, **fields}, allow_redirects=True
    )
    return await answer.text()


async def test_the_cases_and_a_case_on_the_page(
    client: TestClient, demo_app: Any, clock: Any
) -> None:
    await run_days(demo_app, clock, 1)  # 11-27: the ladder opens the cases
    await put_on_step(demo_app, "visit", timedelta(days=5))
    await sign_in(client, "desk")
    listing = await (await client.get("/desk/arrears")).text()
    assert "欠费催缴" in listing and UNIT in listing and "上门催缴" in listing
    assert "¥852.60" in listing and "2栋2单元1101" in listing
    assert listing.index(UNIT) < listing.index("2栋2单元1101")  # the later step first
    case = await case_of(demo_app)

    page = await (await client.get(f"/desk/arrears/{case.id}")).text()
    assert "2026年08月" in page and "2026年10月" in page and "¥284.20" in page
    assert "先核对房号和业主姓名：1栋1单元302，业主 赵敏" in page

    page = await record_on_page(
        client,
        case.id,
        reason="hardship",
        outcome="业主说发工资后缴500",
        promised_on="12月5日",
        promised_amount="500",
    )
    assert "已记录催缴沟通：1栋1单元302，电话，已联系上，原因：经济困难" in page
    assert "业主说发工资后缴500" in page and "待跟进" in page
    [contact] = await contacts(demo_app)
    assert str(contact.promised_on) == "2026-12-05" and str(contact.promised_amount) == "500.00"
    refused = await record_on_page(client, case.id, reason="hardship", promised_on="不知道")
    assert "没看懂这个日期" in refused and len(await contacts(demo_app)) == 1

    clock.advance(days=9)  # 12-06: the promised day has passed, the grace not yet
    await sign_in(client, "desk")  # a new day's session
    listing = await (await client.get("/desk/arrears")).text()
    assert "已逾期" in listing

    # A dispute found on a visit opens the fee dispute that pauses the ladder.
    page = await record_on_page(
        client, case.id, method="visit", reason="dispute", outcome="业主认为9月代收费有误"
    )
    assert "已为 1栋1单元302 登记异议 F-" in page
    async with demo_app.db.transaction() as s:
        [dispute] = (await s.exec(select(FeeAgreement))).all()
    assert dispute.kind == "dispute" and dispute.closed_at is None
    assert "F-" in texts(await Chat(demo_app, "li", chat_id="group:XFL:service").inbox())

    # The legal file, once a manager chose the step, to download from the case.
    zhou = Chat(demo_app, "zhou")
    await zhou.say("/arrears 1-1-302")
    await zhou.press("准备法律材料")
    page = await (await client.get(f"/desk/arrears/{case.id}")).text()
    assert "下载材料（XLSX）" in page and "待主任决定" in page
    answer = await client.get(f"/desk/arrears/{case.id}/legal.xlsx")
    assert answer.status == 200 and (await answer.read())[:2] == b"PK"
    sheet = await (await client.get(f"/desk/arrears/{case.id}/print")).text()
    assert "欠费催缴材料：1栋1单元302" in sheet and "2026年09月：¥284.20" in sheet
    assert "业主说发工资后缴500" in sheet and "主任意见及签字" in sheet

    await client.get("/desk/lang/en")
    listing = await (await client.get("/desk/arrears")).text()
    assert "Arrears casework" in listing and "Legal" in listing and UNIT in listing


async def test_repair_staff_and_another_desk_see_nothing(
    client: TestClient, demo_app: Any, clock: Any
) -> None:
    await run_days(demo_app, clock, 1)
    case = await case_of(demo_app)
    await add_web_staff(demo_app, "fixer", "修理工", "repair", "XFL")
    await sign_in(client, "fixer")
    listing = await (await client.get("/desk/arrears")).text()
    assert "只有客服中心和主管" in listing and UNIT not in listing
    assert (await client.get(f"/desk/arrears/{case.id}")).status == 404
    await client.post("/desk/signout", data={"csrf": csrf(listing)})

    await add_other_desk(demo_app)
    await sign_in(client, "hyy-desk")
    listing = await (await client.get("/desk/arrears")).text()
    assert "和悦园" in listing and "2栋2单元502" in listing and UNIT not in listing
    assert (await client.get(f"/desk/arrears/{case.id}")).status == 404
    assert (await client.get(f"/desk/arrears/{case.id}/legal.xlsx")).status == 404
    assert (await client.get(f"/desk/arrears/{case.id}/print")).status == 404
    answer = await client.post(
        f"/desk/arrears/{case.id}/contact",
        data={"csrf": csrf(listing), "method": "call", "reached": "no", "outcome": "伪造"},
        allow_redirects=False,
    )
    assert answer.status == 303 and await contacts(demo_app) == []


def test_every_word_of_the_arrears_pages_is_in_both_catalogs() -> None:
    words = set()
    for name in ("arrears_list.html", "arrears_page.html", "arrears_print.html"):
        text = (ROOT / "bot" / "web" / "templates" / name).read_text(encoding="utf-8")
        words |= set(re.findall(r"""(?<![\w.])t\(["']([a-z_.]+)["']\s*[,)]""", text))
    assert "arrears_work.web.title" in words
    for locale in LOCALES:
        catalog = load_po_dir(ROOT / "locales", locale)
        assert not {w for w in words if w not in catalog}, locale


# ---- in a real browser (tests/test_web_browser.py's headless Chromium) -----------------------


@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs chromium and chromedriver")
async def test_arrears_in_a_browser(served: Any) -> None:
    app, _, browser = served
    async with app.db.transaction() as s:
        unit = (await s.exec(select(Unit).where(Unit.label == UNIT))).first()
        assert unit is not None and unit.id is not None
        now = app.clock.now()
        case = ArrearsCase(
            unit_id=unit.id,
            step="visit",
            opened_at=now - timedelta(days=130),
            step_at=now - timedelta(days=5),
            history=[
                {"step": "reminder", "at": (now - timedelta(days=130)).isoformat()},
                {"step": "letter", "at": (now - timedelta(days=40)).isoformat()},
                {"step": "visit", "at": (now - timedelta(days=5)).isoformat()},
            ],
        )
        s.add(case)
        await s.flush()
        case_id = case.id
    await browser.sign_in("desk")
    await browser.open("/desk/arrears")
    page = await browser.text()
    assert "欠费催缴" in page and UNIT in page and "上门催缴" in page
    await browser.open(f"/desk/arrears/{case_id}")
    await browser.fill(
        {
            "method": "visit",
            "reason": "hardship",
            "outcome": "业主说月底前先缴一部分",
            "promised_on": "月底",
            "promised_amount": "300",
        }
    )
    await browser.press("记录")
    page = await browser.text()
    assert "已记录催缴沟通：1栋1单元302，上门，已联系上，原因：经济困难" in page
    assert "¥300.00" in page and "待跟进" in page
    await browser.shot("arrears")
