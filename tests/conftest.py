"""Storage fixtures: migrated SQLite and PostgreSQL databases, the demo application, and
a manual clock.

PostgreSQL is required, not optional: CI starts it, and a test run without it
fails loudly instead of silently skipping half of the storage tests. Set
`FRONTDESK_TEST_PG` (e.g. `postgresql://postgres@127.0.0.1:5432/test`) to point
the tests at another server.

Each test gets a database of its own, copied from a template made once per session
(migrating, and seeding the demo, take far longer than a copy): on PostgreSQL with
`CREATE DATABASE … TEMPLATE`, on SQLite by copying the file. The templates are made the
way a test used to make its database, so a copy holds exactly what that made.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import shutil
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


def copy_sqlite(source: Path, target: Path) -> Path:
    """A copy of a SQLite store, with its write-ahead log if one is left."""
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")
    return target


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that per-test files are copied from."""
    path = tmp_path_factory.mktemp("sqlite-template") / "migrated.db"

    async def build() -> None:
        db = Database(sqlite_url(path))
        try:
            await upgrade(db.engine)
        finally:
            await db.dispose()

    asyncio.run(build())
    return path


@pytest.fixture
async def sqlite_database(tmp_path: Path, _sqlite_template: Path) -> AsyncIterator[Database]:
    """A migrated SQLite file database of its own for one test."""
    db = Database(sqlite_url(copy_sqlite(_sqlite_template, tmp_path / "frontdesk.db")))
    try:
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
async def demo_both(database: Database, clock: ManualClock) -> AsyncIterator[Any]:
    """The demo application (as `demo_app`) on SQLite and on PostgreSQL, for what must
    hold on both: each test using it runs twice."""
    from bot.app import App
    from bot.demo import seed_demo
    from bot.settings import Settings

    settings = Settings(database_url=database.url)
    app = await App.start(settings, clock=clock, migrate_schema=False)
    async with app.db.transaction() as session:
        await seed_demo(session, clock.now().astimezone(settings.tz).date(), settings.tz)
    try:
        yield app
    finally:
        await app.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))


class Templates:
    """Stores made once this session, by what made them, in a folder of their own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.made: dict[str, Path] = {}

    def get(self, key: str) -> Path | None:
        return self.made.get(key)

    def new(self, key: str) -> Path:
        path = self.folder / f"template-{len(self.made)}.db"
        self.made[key] = path
        return path


@pytest.fixture(scope="session")
def _demo_templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return Templates(tmp_path_factory.mktemp("demo-templates"))


@pytest.fixture
async def demo_app(
    tmp_path: Path, clock: ManualClock, _demo_templates: Templates
) -> AsyncIterator[Any]:
    """The whole application on a SQLite file seeded with the demo communities.

    Console accounts: "resident" (张伟, owner of XFL 3栋2单元1201), "tenant" (刘洋);
    staff "wang"/"liu" (repair), "li" (service), "zhao" (security), "zhou" (supervisor),
    "chen" (director); groups `group:XFL:<department>` on the console channel.

    The store is a copy of one started and seeded once per session for the same moment
    and settings: `App.start` then `seed_demo`, as here before. Starting the copy runs
    `App.start` again, which finds the schema at head and its start-up rows (the daily
    jobs, the supervisors named in the settings) already there.
    """
    from bot.app import App
    from bot.demo import seed_demo
    from bot.settings import Settings

    def settings_for(path: Path) -> Settings:
        return Settings(database_url=sqlite_url(path))

    # What the seeded store depends on: the moment (the demo's dates, the daily jobs)
    # and the settings (the time zone, supervisors and staff named there).
    key = repr(
        (clock.now(), settings_for(tmp_path / "demo.db").model_dump(exclude={"database_url"}))
    )
    template = _demo_templates.get(key)
    if template is None:
        template = _demo_templates.new(key)
        settings = settings_for(template)
        made = await App.start(settings, clock=ManualClock(clock.now()))
        try:
            async with made.db.transaction() as session:
                await seed_demo(session, clock.now().astimezone(settings.tz).date(), settings.tz)
        finally:
            await made.close()

    path = copy_sqlite(template, tmp_path / "demo.db")
    app = await App.start(settings_for(path), clock=clock)
    try:
        yield app
    finally:
        await app.close()
