"""The owners' survey on the desk's web pages (aiohttp's client against the real pages, on
the demo store): the supervisor creates this year's survey, edits its questions, sends it;
an owner answers in chat; the page shows the progress, the analysis, the comments (as
text, never as markup) and the files; the service desk follows it without the buttons,
and another community's desk sees nothing of it. One run in headless Chromium.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlmodel import select

from handlers.survey_office import CloseSurvey, CreateSurvey
from storage.models import Checklist, Community, Survey
from tests.harness import Chat, texts
from tests.test_telegram import emulator
from tests.test_web_browser import pytestmark as needs_chromium
from tests.test_web_browser import served
from tests.webdesk import add_other_desk, client, csrf, serving, sign_in

__all__ = ["client", "emulator", "served"]  # fixtures

PAGE = "/desk/survey"


async def post(client: TestClient, path: str, **fields: Any) -> Any:
    page = await (await client.get(PAGE)).text()
    return await client.post(path, data={"csrf": csrf(page), **fields}, allow_redirects=True)


async def community_id(app, code: str = "XFL") -> int:
    async with app.db.transaction() as s:
        found = (await s.exec(select(Community).where(Community.code == code))).one()
    assert found.id is not None
    return found.id


async def the_survey(app) -> Survey:
    async with app.db.transaction() as s:
        return (await s.exec(select(Survey))).one()


async def answer_in_chat(owner: Chat, scores: list[int], comment: str) -> None:
    """The owner answers from the invitation: a comment on the first area only."""
    await owner.inbox()
    await owner.press("填写意见征询表")
    for n, score in enumerate(scores):
        await owner.send(option=f"score:{score}")
        await (owner.say(comment) if n == 0 else owner.press("跳过"))
    said = await owner.press("确认提交")
    assert "已收到房屋" in texts(said), texts(said)


async def test_the_supervisor_runs_the_survey_from_the_page(demo_app, client, tmp_path):
    app = demo_app
    app.settings.data_dir = tmp_path / "data"
    await sign_in(client, "zhou")
    page = await (await client.get(PAGE)).text()
    assert "幸福里" in page and "发起今年的征询" in page
    xfl = await community_id(app)

    made = await post(client, f"{PAGE}/press", value=CreateSurvey(xfl).value(), once="c1")
    page = await made.text()
    assert "已创建《幸福里2026年度业主意见征询表》（草稿）" in page, page
    assert 'name="text_desk"' in page and "将发给 1 位已绑定的业主（1 套房屋）" in page
    found = await the_survey(app)

    # Greening left out, the desk's question in the office's own words.
    form = {f"ask_{a}": "1" for a in ("repairs", "security", "cleaning", "desk", "fees")}
    saved = await post(
        client, f"{PAGE}/{found.id}/questions", **form, text_desk="前台接待是否热情周到？"
    )
    page = await saved.text()
    assert "题目已保存，共5项" in page, page
    assert [q["area"] for q in (await the_survey(app)).questions] == [
        "repairs",
        "security",
        "cleaning",
        "desk",
        "fees",
    ]
    async with app.db.transaction() as s:
        kept = (await s.exec(select(Checklist).where(Checklist.name == "survey"))).one()
    assert kept.items[3] == {"area": "desk", "text": "前台接待是否热情周到？"}  # for next year

    sent = await post(client, f"{PAGE}/press", value=f"act:sv_open:{found.id}", once="o1")
    page = await sent.text()
    assert "已发出" in page and "前台接待是否热情周到？" in page and 'name="text_desk"' not in page
    frozen = await post(client, f"{PAGE}/{found.id}/questions", ask_fees="1")
    assert "题目不能再修改了" in await frozen.text()
    assert len((await the_survey(app)).questions) == 5

    owner = Chat(app, "resident")
    await answer_in_chat(owner, [4, 3, 5, 2, 4], "<b>楼道灯</b>晚上不亮")
    page = await (await client.get(PAGE)).text()
    assert "已回收 1 套，回收率 100.0%" in page, page
    assert "&lt;b&gt;楼道灯&lt;/b&gt;晚上不亮" in page and "<b>楼道灯" not in page
    means = page.split('id="sv-means-')[1].split("</table>")[0]
    assert "4.00" in means and "2.00" in means and "3栋" in means, means
    assert "/desk/tickets/" in page  # the low score's follow-up (前台服务 2分)

    chart = await client.get(f"{PAGE}/{found.id}/chart.png")
    assert chart.status == 200 and (await chart.read())[:4] == b"\x89PNG"
    book = await client.get(f"{PAGE}/{found.id}/analysis.xlsx")
    assert book.status == 200 and (await book.read())[:2] == b"PK"

    # The service desk follows it, without the managers' buttons; a forged close is refused.
    async with serving(app) as desk:
        await sign_in(desk, "desk")
        page = await (await desk.get(PAGE)).text()
        assert "已回收 1 套" in page and 'id="sv-close-' not in page
        await post(desk, f"{PAGE}/press", value=CloseSurvey(found.id or 0).value(), once="x")
        assert (await the_survey(app)).status == "open"

    # Another community's desk sees nothing of it.
    await add_other_desk(app)
    async with serving(app) as other:
        await sign_in(other, "hyy-desk")
        page = await (await other.get(PAGE)).text()
        assert "幸福里 · 2026" not in page and "和悦园 · 2026" in page
        assert (await other.get(f"{PAGE}/{found.id}/chart.png")).status == 404

    closed = await post(client, f"{PAGE}/press", value=CloseSurvey(found.id or 0).value(), once="z")
    assert "已结束征询" in await closed.text()
    assert (await the_survey(app)).status == "closed"


@needs_chromium
async def test_the_survey_page_in_a_browser(served) -> None:
    """The supervisor creates the survey, words a question, sends it; an owner answers in
    chat and the analysis shows on the page; in headless Chromium (skipped without it)."""
    app, _emulator, browser = served
    await browser.sign_in("zhou")
    await browser.open(PAGE)
    await browser.press("发起今年的征询")
    assert "草稿" in await browser.text()
    await browser.fill({"text_desk": "前台接待是否热情周到？"})
    await browser.press("保存题目")
    await browser.press("发给业主")
    page = await browser.text()
    assert "已发出" in page and "前台接待是否热情周到？" in page, page
    await answer_in_chat(Chat(app, "resident"), [5, 4, 4, 3, 2, 4], "电梯按钮有点失灵")
    await browser.open(PAGE)
    page = await browser.text()
    assert "已回收 1 套" in page and "电梯按钮有点失灵" in page, page
    await browser.shot("survey")
