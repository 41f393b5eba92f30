"""What the web workspace's tests share: passwords for the demo's web logins, more web staff,
the pages served on the listener's application, signing in with the page's CSRF token."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot import web
from bot.http import make_web_app
from handlers.people import add_staff
from handlers.web_accounts import set_password
from storage.models import Community, Ticket

PASSWORD = "desk-password-42"


async def passwords(app: Any, *logins: str, password: str = PASSWORD) -> None:
    async with app.db.transaction() as s:
        for login in logins:
            await set_password(s, login, password, app.clock.now())


async def latest_ticket(app: Any) -> Ticket | None:
    async with app.db.transaction() as s:
        return (await s.exec(select(Ticket).order_by(col(Ticket.id).desc()))).first()


async def add_web_staff(
    app: Any, login: str, name: str, department: str, code: str, password: str = PASSWORD
) -> None:
    """A staff member of community `code` with a web login and a password."""
    async with app.db.transaction() as s:
        community = (await s.exec(select(Community).where(Community.code == code))).one()
        await add_staff(
            s,
            channel="web",
            user_id=login,
            name=name,
            department=department,
            community_id=community.id,
        )
    await passwords(app, login, password=password)


async def add_other_desk(app: Any, password: str = PASSWORD) -> None:
    """`hyy-desk`: the service desk of the other demo community, 和悦园."""
    await add_web_staff(app, "hyy-desk", "和悦园前台", "service", "HYY", password)


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[TestClient]:
    """The demo's `desk` and `zhou` with passwords, and the pages as `frontdesk run` mounts
    them on its listener, with a client for them."""
    await passwords(app, "desk", "zhou")
    pages = make_web_app([], mounted={web.PREFIX: await web.desk_app(app)})
    async with TestClient(TestServer(pages)) as test_client:
        yield test_client


@pytest.fixture
async def client(demo_app: Any) -> AsyncIterator[TestClient]:
    async with serving(demo_app) as test_client:
        yield test_client


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def sign_in(client: TestClient, login: str, password: str = PASSWORD) -> Any:
    page = await (await client.get("/desk/signin")).text()
    return await client.post(
        "/desk/signin",
        data={"csrf": csrf(page), "login": login, "password": password},
        allow_redirects=True,
    )
