"""The month's figures on the desk's web workspace (`/desk/figures`), over HTTP on the demo
store: the numbers `/stats` gives the same supervisor in chat, `/report`'s chart as a PNG
and its workbook to download, for managers only, as in chat.
"""

from __future__ import annotations

import io
import re
from typing import Any

import openpyxl
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from storage.models import AuditLog, StaffMember
from tests.conversations import file_repair, finish_repair
from tests.harness import Chat, texts
from tests.webdesk import client, csrf, sign_in

__all__ = ["client"]  # the fixture, from tests/webdesk.py

PNG = b"\x89PNG\r\n\x1a\n"


def tiles(page: str) -> dict[str, str]:
    return dict(
        re.findall(r'<span class="name">([^<]+)</span><span class="value">([^<]*)</span>', page)
    )


def counted(page: str, title: str) -> dict[str, str]:
    """One of the page's lists (by kind, by status, repairs by category)."""
    found = re.search(rf"<h3>{title}</h3>(.*?)</div>", page, re.S)
    assert found, title
    return dict(re.findall(r"<td>([^<]+)</td><td class=\"count\">(\d+)</td>", found.group(1)))


def said(chat_text: str, label: str) -> str:
    found = re.search(rf"^{re.escape(label)}：(.+?)$", chat_text, re.M)
    assert found, label
    return found.group(1)


def listed(chat_text: str, heading: str) -> dict[str, str]:
    """The `  · name：count` lines under a heading of chat's `/stats` message."""
    block = chat_text.split(f"{heading}：\n", 1)[1]
    lines = re.match(r"((?:  · .+\n?)*)", block)
    assert lines is not None
    return dict(re.findall(r"  · (.+?)：(\d+)", lines.group(1)))


async def test_the_month_shows_what_stats_says_in_chat_with_its_chart_and_workbook(
    client: TestClient, demo_app: Any, tmp_path: Any
) -> None:
    resident = Chat(demo_app, "resident")
    await file_repair(resident)  # a repair accepted after 25 minutes, done in an hour
    demo_app.clock.advance(minutes=25)
    await finish_repair(demo_app)
    await file_repair(resident, category="门窗/门锁", text="入户门锁坏了")  # still new
    demo_app.clock.advance(hours=2)
    chat = texts(await Chat(demo_app, "zhou").say("/stats"))
    assert "新建工单：2 单" in chat and "接单时长（中位数）：25分钟" in chat

    answer = await sign_in(client, "zhou")
    answer = await client.get("/desk/figures")
    page = await answer.text()
    assert answer.status == 200 and str(answer.url).endswith("/desk/figures/2026-11/XFL")
    shown = tiles(page)
    assert shown["新建工单"] + " 单" == said(chat, "新建工单")
    for label in ("接单时长（中位数）", "完成时长（中位数）", "平均满意度", "返修率"):
        assert shown[label] == said(chat, label), label
    assert shown["回访率（期限内完成）"] == said(chat, "回访率（期限内完成）")
    overdue = f"{shown['逾期未完成']} 单；超时完成：{shown['超时完成']} 单"
    assert overdue == said(chat, "逾期未完成")
    assert counted(page, "按类型") == listed(chat, "按类型")
    assert counted(page, "按状态") == listed(chat, "按状态")
    assert counted(page, "报修按类别") == listed(chat, "报修按类别")
    assert '<label for="month">月份</label>' in page and 'value="2026-11"' in page

    chart = await client.get("/desk/figures/2026-11/XFL/chart.png")
    assert chart.status == 200 and chart.content_type == "image/png"
    image = await chart.read()
    assert image.startswith(PNG) and len(image) > 20_000
    (tmp_path / "chart.png").write_bytes(image)  # to look at

    download = await client.get("/desk/figures/2026-11/XFL/workbook.xlsx")
    assert download.status == 200
    assert download.headers["Content-Disposition"] == (
        'attachment; filename="report-XFL-2026-11-zh_CN.xlsx"'
    )
    book = openpyxl.load_workbook(io.BytesIO(await download.read()))
    summary = book[book.sheetnames[0]]
    values = {row[0]: row[1] for row in summary.iter_rows(values_only=True) if row and row[0]}
    assert str(values["新建工单"]) == shown["新建工单"]
    assert len(book.sheetnames) == 5

    async with demo_app.db.transaction() as s:
        zhou = (
            await s.exec(
                select(StaffMember).where(
                    StaffMember.channel == "web", StaffMember.external_user_id == "zhou"
                )
            )
        ).one()
        looked = (
            await s.exec(
                select(AuditLog.action)
                .where(AuditLog.actor == f"staff:{zhou.id}")
                .order_by(col(AuditLog.id))
            )
        ).all()
    assert looked == ["stats", "report"]  # audited as in chat


async def test_another_month_and_community_are_chosen_on_a_form(
    client: TestClient, demo_app: Any
) -> None:
    page = await (await sign_in(client, "zhou")).text()
    page = await (await client.get("/desk/figures")).text()
    answer = await client.post(
        "/desk/figures", data={"csrf": csrf(page), "month": "2026-10", "community": "XFL"}
    )
    assert str(answer.url).endswith("/desk/figures/2026-10/XFL")
    page = await answer.text()
    assert "2026年10月1日 至 2026年10月31日" in page

    answer = await client.post(
        "/desk/figures", data={"csrf": csrf(page), "month": "2026-13", "community": "XFL"}
    )
    page = await answer.text()
    assert answer.status == 400
    assert re.search(r'id="month-error" role="alert">[^<]+', page)
    assert 'value="2026-13"' in page  # what was typed stays
    assert re.search(r'<option value="XFL" selected>', page)

    # zhou supervises XFL only: HYY is not theirs, as `/stats 2026-11 HYY` says in chat.
    in_chat = texts(await Chat(demo_app, "zhou").say("/stats 2026-11 HYY"))
    answer = await client.post(
        "/desk/figures", data={"csrf": csrf(page), "month": "2026-11", "community": "HYY"}
    )
    page = await answer.text()
    assert answer.status == 400
    error = re.search(r'id="community-error" role="alert">([^<]+)</p>', page)
    assert error and error.group(1) == in_chat
    answer = await client.get("/desk/figures/2026-11/HYY/workbook.xlsx")
    assert answer.status == 404 and answer.content_type == "text/html"


async def test_a_desk_clerk_is_refused_the_figures_politely(client: TestClient) -> None:
    await sign_in(client, "desk")
    for path in (
        "/desk/figures",
        "/desk/figures/2026-11/XFL",
        "/desk/figures/2026-11/XFL/chart.png",
        "/desk/figures/2026-11/XFL/workbook.xlsx",
    ):
        answer = await client.get(path)
        assert answer.status == 403 and answer.content_type == "text/html", path
        assert "只对主管和主任开放" in await answer.text()
