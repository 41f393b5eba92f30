"""The desk's notifications on the web workspace (aiohttp's client against the real pages, on
the demo store): what the bot pushes to a web login — here an urgent leak for the supervisor
on duty — is counted in the page header, listed newest first with a link to its ticket,
and counts as delivered once listed; what the bot answered their own clicks stays on the
page they clicked on; nobody else sees another login's notifications. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import select

from storage.models import Outbox
from tests.conversations import file_repair
from tests.harness import Chat
from tests.webdesk import (
    _pg_demo_template,
    csrf,
    desk_app,
    latest_ticket,
    pg_demo_app,
    serving,
    sign_in,
)

# The fixtures from tests/webdesk.py: the test runs on SQLite and on PostgreSQL.
__all__ = ["_pg_demo_template", "desk_app", "pg_demo_app"]


@pytest.fixture
async def client(desk_app: Any) -> AsyncIterator[TestClient]:
    async with serving(desk_app) as test_client:
        yield test_client


def badge(page: str) -> str:
    """The header's count of unseen notifications ("" when there are none)."""
    found = re.search(r'href="/desk/notices">通知 <span class="badge"[^>]*>(\d+)</span>', page)
    return found.group(1) if found else ""


def listed(page: str) -> list[str]:
    return re.findall(r"<li(?: class=\"unread\")?>(.*?)</li>", page, re.S)


async def test_an_urgent_repair_reaches_the_supervisors_notifications(
    client: TestClient, desk_app: Any
) -> None:
    page = await (await sign_in(client, "zhou")).text()
    assert 'href="/desk/notices">通知</a>' in page and badge(page) == ""
    assert "暂时没有发给您的通知" in await (await client.get("/desk/notices")).text()

    await file_repair(Chat(desk_app, "resident"), text="厨房水槽下水管漏水")  # a leak: urgent
    ticket = await latest_ticket(desk_app)
    assert ticket is not None and ticket.urgent
    page = await (await client.get("/desk/board")).text()
    assert badge(page) == "1" and 'aria-label="1 条未读"' in page

    page = await (await client.get("/desk/notices")).text()
    assert badge(page) == ""  # shown now
    items = listed(page)
    assert len(items) == 1
    assert "紧急" in items[0] and "厨房水槽下水管漏水" in items[0] and "新</span>" in items[0]
    assert f'<a href="/desk/tickets/{ticket.id}">查看工单 {ticket.number}</a>' in items[0]
    async with desk_app.db.transaction() as s:
        rows = (
            await s.exec(select(Outbox).where(Outbox.channel == "web", Outbox.chat_id == "zhou"))
        ).all()
    assert [row.sent_at for row in rows] == [desk_app.clock.now()]  # delivered: seen
    page = await (await client.get("/desk/notices")).text()
    assert len(listed(page)) == 1 and "新</span>" not in page  # still there, seen

    # Accepting it on the ticket's page: the answer is shown there, not as a notification.
    page = await (await client.get(f"/desk/tickets/{ticket.id}")).text()
    accept = re.search(r'name="option" value="(act:[^"]+)">接单<', page)
    assert accept, "the card's accept button"
    page = await (
        await client.post(
            "/desk/say",
            data={"csrf": csrf(page), "option": accept.group(1), "once": "n1"},
        )
    ).text()
    assert badge(page) == ""
    page = await (await client.get("/desk/notices")).text()
    assert len(listed(page)) == 1

    # A newer push comes first, and the desk clerk sees none of the supervisor's.
    desk_app.clock.advance(minutes=5)
    resident = Chat(desk_app, "resident")
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    await resident.press("电路")
    said = await resident.say("卫生间水管爆裂漏水")  # an emergency: filed at once
    assert "已立即通知维修部和值班主管" in said[0].text
    page = await (await client.get("/desk/notices")).text()
    items = listed(page)
    assert len(items) == 2 and "卫生间水管爆裂漏水" in items[0] and "新</span>" in items[0]
    assert "厨房水槽下水管漏水" in items[1] and "新</span>" not in items[1]
    client.session.cookie_jar.clear()
    page = await (await sign_in(client, "desk")).text()
    page = await (await client.get("/desk/notices")).text()
    assert "水管" not in page
