"""What the web workspace's tests share: passwords for the demo's web logins, more web staff,
the pages served on the listener's application, signing in with the page's CSRF token, and
the demo application on PostgreSQL as well as SQLite (`desk_app`).

On PostgreSQL the demo is seeded once per session into a database that each test's own
database is copied from (`CREATE DATABASE … TEMPLATE`), as `demo_app`'s SQLite file is
copied from one seeded once: a copy takes a fraction of a second, seeding several."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot import web
from bot.app import App
from bot.demo import seed_demo
from bot.http import make_web_app
from bot.settings import Settings
from handlers.core.clock import ManualClock
from handlers.people import add_staff
from handlers.web_accounts import set_password
from storage.models import Community, Ticket
from tests.conftest import _create_database, _drop_database

PASSWORD = "desk-password-42"
START = datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # the `clock` fixture's


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


@pytest.fixture(scope="session")
def _pg_demo_template(_pg_template: str) -> Iterator[str]:
    """A PostgreSQL database started and seeded with the demo once, as `demo_app`'s store
    is, for each test's copy."""

    async def build() -> str:
        name, url = await _create_database(template=_pg_template)
        settings = Settings(database_url=url)
        made = await App.start(settings, clock=ManualClock(START), migrate_schema=False)
        try:
            async with made.db.transaction() as session:
                await seed_demo(session, START.astimezone(settings.tz).date(), settings.tz)
        finally:
            await made.close()  # a template is copied only while nobody is connected
        return name

    name = asyncio.run(build())
    yield name
    asyncio.run(_drop_database(name))


@pytest.fixture
async def pg_demo_app(_pg_demo_template: str, clock: ManualClock) -> AsyncIterator[App]:
    """The demo application on a PostgreSQL database of its own, copied from the template."""
    assert clock.now() == START, "the template was seeded at the tests' usual moment"
    name, url = await _create_database(template=_pg_demo_template)
    app = await App.start(Settings(database_url=url), clock=clock, migrate_schema=False)
    try:
        yield app
    finally:
        await app.close()
        await _drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def desk_app(request: pytest.FixtureRequest) -> Any:
    """The demo application on SQLite (`demo_app`) and on PostgreSQL: a test using it runs
    on both."""
    return request.getfixturevalue("demo_app" if request.param == "sqlite" else "pg_demo_app")


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
