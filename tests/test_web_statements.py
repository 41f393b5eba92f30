"""The published accounts on the desk's pages (aiohttp's client against the real pages, on
the demo store): 周主管 ("zhou") makes November's statement from the form, reads its
tables, chart and workbooks (the office's copy names the payers, the owners' copy does
not) and publishes it to the owners; 李敏's login ("desk") sees the statements but may
neither make nor publish one. One run in headless Chromium (a quarter made and looked at,
a month published), with a screenshot for docs/web/statements.png.
"""

from __future__ import annotations

import io
from typing import Any

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from sqlmodel import col, select

from storage.models import AccountStatement
from tests.harness import Chat, texts
from tests.test_statements import seed_ledger
from tests.test_telegram import emulator
from tests.test_web_browser import pytestmark as needs_chromium
from tests.test_web_browser import served
from tests.webdesk import csrf, serving, sign_in

__all__ = ["emulator", "served"]  # fixtures: the Bot API emulator, the browser test's


async def post(client: TestClient, path: str, page_path: str, **fields: Any) -> Any:
    page = await (await client.get(page_path)).text()
    return await client.post(path, data={"csrf": csrf(page), **fields}, allow_redirects=True)


def cells(body: bytes) -> str:
    book = load_workbook(io.BytesIO(body))
    return " ".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row)


async def rows(app: Any) -> list[AccountStatement]:
    async with app.db.transaction() as s:
        return list(
            (await s.exec(select(AccountStatement).order_by(col(AccountStatement.id)))).all()
        )


async def test_a_statement_made_read_and_published_on_the_pages(
    demo_app, clock, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    app = demo_app
    await seed_ledger(app)
    clock.advance(days=5)  # 1 December, 09:00: November is over
    owner = Chat(app, "resident")
    await owner.inbox()

    async with serving(app) as desk:
        await sign_in(desk, "desk")
        listing = await (await desk.get("/desk/statements")).text()
        assert "还没有收支情况" in listing and 'id="statement-make"' not in listing, listing
        refused = await post(
            desk,
            "/desk/statements",
            "/desk/statements",
            period="2026-11",
            community="XFL",
            once="d1",
        )
        assert "权限" in await refused.text()
    assert await rows(app) == []

    async with serving(app) as zhou:
        await sign_in(zhou, "zhou")
        made = await post(
            zhou,
            "/desk/statements",
            "/desk/statements",
            period="2026-11",
            community="XFL",
            once="z1",
        )
        page = await made.text()
        [draft] = await rows(app)
        assert str(made.url).endswith(f"/desk/statements/{draft.id}"), made.url
        for shown in (
            "草稿已生成",
            "物业费",
            "¥3,420.50",
            "¥8,870.50",
            "¥8,520.25",
            "¥2,000.00",
            "¥800.00",
        ):
            assert shown in page, (shown, page)
        assert 'id="statement-publish"' in page
        chart = await zhou.get(f"/desk/statements/{draft.id}/chart.png")
        assert chart.status == 200 and (await chart.read()).startswith(b"\x89PNG")
        office = cells(await (await zhou.get(f"/desk/statements/{draft.id}/statement.xlsx")).read())
        assert "张伟" in office and "R1101" in office and "3栋2单元1201" in office, office
        public = cells(await (await zhou.get(f"/desk/statements/{draft.id}/public.xlsx")).read())
        assert "8870.5" in public and "张伟" not in public and "R1101" not in public, public

    async with serving(app) as desk:
        await sign_in(desk, "desk")
        listing = await (await desk.get("/desk/statements")).text()
        assert "2026-11" in listing and "¥8,870.50" in listing and "草稿" in listing, listing
        page = await (await desk.get(f"/desk/statements/{draft.id}")).text()
        assert "¥3,420.50" in page and 'id="statement-publish"' not in page, page
        refused = await post(
            desk, f"/desk/statements/{draft.id}/publish", f"/desk/statements/{draft.id}", once="d2"
        )
        assert "权限" in await refused.text()
    assert [r.status for r in await rows(app)] == ["draft"]
    assert not await owner.inbox()

    async with serving(app) as zhou:
        await sign_in(zhou, "zhou")
        here = f"/desk/statements/{draft.id}"
        published = await post(zhou, f"{here}/publish", here, once="z2")
        page = await published.text()
        assert "已公示" in page and 'id="statement-publish"' not in page, page
    got = await owner.inbox()
    assert "收支情况公示" in texts(got) and "¥8,520.25" in texts(got), texts(got)
    assert [r.status for r in await rows(app)] == ["published"]

    async with serving(app) as other:  # a statement of nowhere they work
        await sign_in(other, "desk")
        assert (await other.get("/desk/statements/999")).status == 404


@needs_chromium
async def test_the_statements_page_in_a_browser(served) -> None:
    """The supervisor makes the fourth quarter's statement and looks at its months and
    chart (it cannot be published before the quarter is over), then makes October's and
    publishes it; in headless Chromium (skipped without it)."""
    app, _emulator, browser = served
    await seed_ledger(app)
    await browser.sign_in("zhou")
    await browser.open("/desk/statements")
    await browser.fill({"period": "2026-Q4", "community": "XFL"})
    await browser.press("生成 / 刷新草稿")
    page = await browser.text()
    assert "草稿已生成" in page and "2026-10" in page and "¥9,870.50" in page, page
    loaded = await browser.run(
        lambda: browser.driver.execute_script(
            "const i = document.getElementById('statement-chart');"
            " return i.complete && i.naturalWidth > 0;"
        )
    )
    assert loaded
    await browser.run(
        lambda: browser.driver.execute_script(
            "document.getElementById('totals-h').scrollIntoView()"
        )
    )
    await browser.shot("statements")
    page = await browser.text()
    assert "尚未结束" in page and "公示给业主" not in page, page  # the quarter runs to 31 December
    await browser.open("/desk/statements")
    await browser.fill({"period": "2026-10", "community": "XFL"})
    await browser.press("生成 / 刷新草稿")
    await browser.press("公示给业主")
    page = await browser.text()
    assert "已公示" in page and "¥800.00" in page, page
