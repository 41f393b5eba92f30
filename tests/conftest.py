"""Storage fixtures: migrated SQLite and PostgreSQL databases, and a manual clock.

PostgreSQL is required, not optional: CI starts it, and a test run without it
fails loudly instead of silently skipping half of the storage tests. Set
`FRONTDESK_TEST_PG` (e.g. `postgresql://postgres@127.0.0.1:5432/test`) to point
the tests at another server; each test gets its own database, copied from a
migrated template (much faster than migrating every time).
"""

from __future__ import annotations

import asyncio
import getpass
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url

from handlers.core.clock import ManualClock
from storage.db import Database
from storage.migrate import upgrade

DEFAULT_PG = "postgresql://127.0.0.1:5432/test"


def _server() -> URL:
    return make_url(os.environ.get("FRONTDESK_TEST_PG", DEFAULT_PG))


async def _admin() -> asyncpg.Connection:
    """A connection to the maintenance database, as whichever user trust auth admits."""
    dsn = _server()
    users = [dsn.username] if dsn.username else ["postgres", getpass.getuser()]
    errors = []
    for user in users:
        try:
            return await asyncpg.connect(
                host=dsn.host,
                port=dsn.port or 5432,
                user=user,
                password=dsn.password,
                database=dsn.database,
                timeout=5,
            )
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            errors.append(f"{user}: {exc!r}")
    pytest.fail(
        f"PostgreSQL is not reachable at {dsn.host}:{dsn.port or 5432} "
        f"({'; '.join(errors)}). Start it or set FRONTDESK_TEST_PG.",
        pytrace=False,
    )


async def _url_for(admin: asyncpg.Connection, name: str) -> str:
    dsn = _server()
    url = URL.create(
        "postgresql+asyncpg",
        username=await admin.fetchval("SELECT current_user"),  # whoever got in
        password=dsn.password,
        host=dsn.host,
        port=dsn.port or 5432,
        database=name,
    )
    return url.render_as_string(hide_password=False)


async def _create_database(template: str | None = None) -> tuple[str, str]:
    """Create a throwaway database; returns its name and SQLAlchemy URL."""
    name = f"frontdesk_t_{uuid.uuid4().hex[:12]}"
    admin = await _admin()
    try:
        suffix = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{suffix}')
        return name, await _url_for(admin, name)
    finally:
        await admin.close()


async def _drop_database(name: str) -> None:
    admin = await _admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """An empty PostgreSQL database for the whole session (not migrated)."""
    name, url = asyncio.run(_create_database())
    yield url
    asyncio.run(_drop_database(name))


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[str]:
    """A migrated database that per-test databases are copied from."""

    async def build() -> str:
        name, url = await _create_database()
        db = Database(url)
        try:
            await upgrade(db.engine)
        finally:
            # CREATE DATABASE … TEMPLATE refuses while anyone is connected.
            await db.dispose()
        return name

    name = asyncio.run(build())
    yield name
    asyncio.run(_drop_database(name))


@pytest.fixture
async def pg_database(_pg_template: str) -> AsyncIterator[Database]:
    """A migrated PostgreSQL database of its own for one test."""
    name, url = await _create_database(template=_pg_template)
    db = Database(url)
    try:
        yield db
    finally:
        await db.dispose()
        await _drop_database(name)


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite file database of its own for one test."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'frontdesk.db'}")
    try:
        await upgrade(db.engine)
        yield db
    finally:
        await db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Database:
    """The same test on both backends."""
    fixture = "sqlite_database" if request.param == "sqlite" else "pg_database"
    db: Database = request.getfixturevalue(fixture)
    return db


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))


@pytest.fixture
async def demo_app(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Any]:
    """The whole application on a SQLite file seeded with the demo communities.

    Console accounts: "resident" (张伟, owner of XFL 3栋2单元1201), "tenant" (刘洋);
    staff "wang"/"liu" (repair), "li" (service), "zhao" (security), "zhou" (supervisor),
    "chen" (director); groups `group:XFL:<department>` on the console channel.
    """
    from bot.app import App
    from bot.demo import seed_demo
    from bot.settings import Settings

    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    app = await App.start(settings, clock=clock)
    async with app.db.transaction() as session:
        await seed_demo(session, clock.now().astimezone(settings.tz).date(), settings.tz)
    try:
        yield app
    finally:
        await app.close()
