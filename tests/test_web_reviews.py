"""The visit plans and the month-end analysis on the desk's pages (aiohttp's client against
the real pages, on the demo store): 周主管 ("zhou") makes a plan from the form, 李敏's
login ("desk") records a visit's result on the plan's page (a follow-up opens a task);
the review made on 1 December is read, commented on, forwarded to the director and
downloaded; the desk's clerk sees no review. One run in headless Chromium.
"""

from __future__ import annotations

import io
import re
from typing import Any

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from sqlmodel import col, select

from dialogs.registry import all_jobs
from handlers import month_review
from storage.models import Community, MonthReview, Ticket, VisitPlan
from tests.harness import Chat, texts
from tests.test_month_review import seed_november
from tests.test_telegram import emulator
from tests.test_web_browser import pytestmark as needs_chromium
from tests.test_web_browser import served
from tests.webdesk import csrf, serving, sign_in

__all__ = ["emulator", "served"]  # fixtures: the Bot API emulator, the browser test's


async def post(client: TestClient, path: str, page_path: str, **fields: Any) -> Any:
    page = await (await client.get(page_path)).text()
    return await client.post(path, data={"csrf": csrf(page), **fields}, allow_redirects=True)


async def test_a_plan_made_and_worked_on_the_pages(demo_app, clock):
    app = demo_app
    async with serving(app) as zhou:
        await sign_in(zhou, "zhou")
        page = await (await zhou.get("/desk/visitplans")).text()
        assert 'id="plan-make"' in page and "还没有走访计划" in page, page
        li = re.search(r'<option value="(\d+)"\s*>李敏</option>', page)
        assert li, page

        bad = await post(
            zhou,
            "/desk/visitplans",
            "/desk/visitplans",
            title="门窗保温回访",
            units="2-1-802，9-9-909",
            days="12月1日至12月3日",
            how="visit",
            who=li.group(1),
        )
        assert bad.status == 400
        text = await bad.text()
        assert "找不到" in text and "9-9-909" in text, text

        done = await post(
            zhou,
            "/desk/visitplans",
            "/desk/visitplans",
            title="门窗保温回访",
            topic="了解冬季门窗保温",
            units="2-1-802，3栋2单元1201",
            days="12月1日至12月3日",
            how="phone",
            who=li.group(1),
        )
        listing = await done.text()
        assert "走访计划「门窗保温回访」已制定：共 2 户" in listing, listing
        assert "0/2" in listing
    async with app.db.transaction() as s:
        plan = (await s.exec(select(VisitPlan))).one()
        visits = (await s.exec(select(Ticket).where(Ticket.kind == "visit"))).all()
    assert len(visits) == 2 and {v.details["how"] for v in visits} == {"phone"}
    assert "电话访问" in texts(await Chat(app, "li").inbox())

    async with serving(app) as desk:
        await sign_in(desk, "desk")
        here = f"/desk/visitplans/{plan.id}"
        page = await (await desk.get(here)).text()
        assert visits[0].number in page and 'name="opinions"' in page, page
        recorded = await post(
            desk,
            f"{here}/record",
            here,
            ticket=str(visits[0].id),
            opinions="窗户漏风",
            handling="登记维修",
            outcome="follow_up",
            department="repair",
        )
        page = await recorded.text()
        assert "已生成跟进单 T-" in page and "窗户漏风" in page and "1/2" in page, page
        # A visit's own page offers its result while open, and no revisit once done.
        open_page = await (await desk.get(f"/desk/tickets/{visits[1].id}")).text()
        assert f"flow:visit_result:{visits[1].id}" in open_page, open_page
        done_page = await (await desk.get(f"/desk/tickets/{visits[0].id}")).text()
        assert "rv_take" not in done_page and "flow:visit_result" not in done_page
        assert "窗户漏风" in done_page  # the result, in the ticket's history
        # The clerk records results but makes no plans.
        page = await (await desk.get("/desk/visitplans")).text()
        assert 'id="plan-make"' not in page and "门窗保温回访" in page
        refused = await post(
            desk,
            "/desk/visitplans",
            "/desk/visitplans",
            title="前台自拟计划",
            units="2-1-802",
            days="明天",
            how="visit",
            who="",
        )
        assert refused.status == 400
        # The clerk sees no month-end analysis.
        reviews = await (await desk.get("/desk/reviews")).text()
        assert "由主管和管理处主任查看" in reviews
    async with app.db.transaction() as s:
        [task] = (await s.exec(select(Ticket).where(Ticket.kind == "task"))).all()
        assert len((await s.exec(select(VisitPlan))).all()) == 1
    assert task.department == "repair" and task.details == {"visit": visits[0].id}


async def test_the_review_read_commented_forwarded_and_downloaded(demo_app, clock):
    app = demo_app
    numbers = await seed_november(app)
    clock.advance(days=5, hours=-1)  # 1 December, 08:00
    await app.engine.run_jobs(all_jobs())
    director = Chat(app, "chen")
    await director.inbox()
    async with app.db.transaction() as s:
        review = (
            await s.exec(
                select(MonthReview)
                .join(Community, col(Community.id) == col(MonthReview.community_id))
                .where(Community.code == "XFL")
            )
        ).one()
    async with serving(app) as zhou:
        await sign_in(zhou, "zhou")
        listing = await (await zhou.get("/desk/reviews")).text()
        assert "2026-11" in listing and "待点评" in listing, listing
        here = f"/desk/reviews/{review.id}"
        page = await (await zhou.get(here)).text()
        assert numbers["lift3"] in page and "本月电梯报修 3 次" in page, page
        assert "回访 1 次" in page
        commented = await post(zhou, f"{here}/comment", here, comment="2栋电梯请维修部专项排查")
        page = await commented.text()
        assert "点评已保存" in page and "2栋电梯请维修部专项排查" in page, page
        forwarded = await post(zhou, f"{here}/forward", here, once="f1")
        page = await forwarded.text()
        assert "已转呈主任" in page and 'id="review-forward"' not in page, page
        got = await director.inbox()
        assert "2栋电梯请维修部专项排查" in texts(got), texts(got)
        download = await zhou.get(f"{here}/review.xlsx")
        assert download.status == 200
        book = load_workbook(io.BytesIO(await download.read()))
        cells = [c.value for row in book.worksheets[0].iter_rows() for c in row]
        assert "2栋电梯请维修部专项排查" in cells
    async with serving(app) as desk:
        await sign_in(desk, "desk")
        assert (await desk.get(here)).status == 404
        assert (await desk.get(f"{here}/review.xlsx")).status == 404
        refused = await post(desk, f"{here}/comment", "/desk/reviews", comment="不该被保存")
        assert refused.status in (200, 404)
    async with app.db.transaction() as s:
        kept = await s.get(MonthReview, review.id)
    assert kept is not None and kept.comment == "2栋电梯请维修部专项排查"
    assert kept.status == "forwarded"


# ---- in a real browser ---------------------------------------------------------------------


@needs_chromium
async def test_the_month_review_in_a_browser(served) -> None:
    """The supervisor makes a visit plan and records a visit's result, then opens the
    month's review, comments and forwards it; in headless Chromium (skipped without it)."""
    app, _emulator, browser = served
    await seed_november(app)
    async with app.db.transaction() as session:
        ctx = app.engine.system_context(session)
        community = (await session.exec(select(Community).where(Community.code == "XFL"))).one()
        await month_review.make_review(ctx, community, "2026-11")
    await browser.sign_in("zhou")
    await browser.open("/desk/visitplans")
    await browser.fill(
        {
            "title": "冬季门窗保温回访",
            "topic": "了解门窗保温和供暖情况",
            "units": "2-1-802，3栋2单元1201，1-1-101",
            "days": "12月1日至12月3日",
            "how": "visit",
        }
    )
    await browser.press("制定走访计划")
    page = await browser.text()
    assert "已制定：共 3 户" in page and "0/3" in page, page
    await browser.run(lambda: browser.driver.find_element("link text", "冬季门窗保温回访").click())
    await browser.fill({"opinions": "希望楼道加装感应灯", "handling": "已转告维修部"})
    await browser.press("记录结果")
    page = await browser.text()
    assert "已记录" in page and "希望楼道加装感应灯" in page and "1/3" in page, page
    await browser.shot("visit-plan")
    await browser.open("/desk/visitplans")
    await browser.run(lambda: browser.driver.find_element("id", "to-reviews").click())
    await browser.run(lambda: browser.driver.find_element("link text", "2026-11").click())
    page = await browser.text()
    assert "本月电梯报修 3 次" in page and "本月水管/漏水报修 2 次" in page, page
    await browser.fill({"comment": "2栋电梯请维修部专项排查；3栋2单元1201水管整体检查"})
    await browser.press("写点评")
    assert "点评已保存" in await browser.text()
    await browser.shot("month-review")
    await browser.press("转呈主任")
    page = await browser.text()
    assert "已转呈主任" in page, page
