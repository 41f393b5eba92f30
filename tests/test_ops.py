"""Operations: a consistent backup while the bot writes, a restore, `/health` and `/metrics`."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func
from sqlmodel import col, select

from bot import ops
from bot.http import make_web_app
from handlers.core.clock import ManualClock
from storage import audit, outbox
from storage.db import Database
from storage.models import AuditLog, Outbox
from tests.conversations import file_repair
from tests.harness import Chat

ROOT = Path(__file__).resolve().parent.parent


def dump(path: Path) -> list[str]:
    """The whole database as SQL statements, to compare two files' contents."""
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


async def write_pairs(db: Database, clock: ManualClock, stop: asyncio.Event) -> int:
    """Keep writing an outbox row and its audit row in one transaction; returns how many."""
    written = 0
    while not stop.is_set():
        async with db.transaction() as session:
            await outbox.enqueue(
                session, channel="console", chat_id="c", payload={"n": written}, now=clock.now()
            )
            await audit.record(
                session, actor="t", action="pair", target=str(written), now=clock.now()
            )
        written += 1
        await asyncio.sleep(0)
    return written


async def count(db: Database, model: Any) -> int:
    async with db.transaction() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def test_backup_while_writing_is_consistent_and_restores(
    sqlite_database: Database, tmp_path: Path, clock: ManualClock
):
    stop = asyncio.Event()
    writer = asyncio.create_task(write_pairs(sqlite_database, clock, stop))
    for _ in range(500):  # wait for the writer to be well under way
        if await count(sqlite_database, AuditLog) >= 20:
            break
        await asyncio.sleep(0.01)
    before = await count(sqlite_database, AuditLog)
    copies = [await ops.backup(sqlite_database.url, tmp_path / f"live-{n}.db") for n in range(5)]
    during = await count(sqlite_database, AuditLog)
    stop.set()
    written = await writer
    assert during > before >= 20  # the bot kept writing while the copies were taken

    # Each copy is a snapshot: every transaction is in it whole, or not at all.
    for copy in copies:
        with sqlite3.connect(copy) as con:
            pairs = con.execute("SELECT count(*) FROM outbox").fetchone()[0]
            audits = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
            assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert pairs == audits >= 20

    # Quiet now: a second backup restored into a new file holds exactly the store's data.
    await ops.backup(sqlite_database.url, tmp_path / "quiet.db")
    restored = tmp_path / "restored" / "frontdesk.db"
    await ops.restore(f"sqlite+aiosqlite:///{restored}", tmp_path / "quiet.db")
    source = Path(sqlite_database.url.removeprefix("sqlite+aiosqlite:///"))
    assert dump(restored) == dump(source)
    assert sum('INSERT INTO "audit_log"' in line for line in dump(restored)) == written


async def test_restore_refuses_what_is_not_a_backup(tmp_path: Path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database", encoding="utf-8")
    with pytest.raises(ops.OpsError, match="not a SQLite database"):
        await ops.restore(f"sqlite+aiosqlite:///{tmp_path / 'fd.db'}", bogus)
    with pytest.raises(ops.OpsError, match="pg_dump"):
        await ops.backup("postgresql+asyncpg://127.0.0.1/fd", tmp_path / "x.db")


def frontdesk(env_url: str, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    environ.update(FRONTDESK_DATABASE_URL=env_url, PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=workdir,
        env=environ,
        timeout=120,
    )


def test_the_backup_and_restore_commands(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fd.db'}"
    assert frontdesk(url, tmp_path, "seed-demo", "--no-history").returncode == 0
    done = frontdesk(url, tmp_path, "backup", "--out", str(tmp_path / "b" / "fd.backup"))
    assert done.returncode == 0, done.stderr
    other = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    done = frontdesk(other, tmp_path, "restore", str(tmp_path / "b" / "fd.backup"))
    assert done.returncode == 0, done.stderr
    assert dump(tmp_path / "other.db") == dump(tmp_path / "fd.db")
    pg = frontdesk("postgresql+asyncpg://127.0.0.1/fd", tmp_path, "backup", "--out", "x")
    assert pg.returncode == 2 and "pg_dump" in pg.stderr


# ---- health and metrics -----------------------------------------------------------------


@dataclass
class Listener:
    """Just what the ops routes use of an App."""

    db: Database
    clock: ManualClock


async def client_for(app: Any) -> AsyncIterator[TestClient[Any, Any]]:
    client = TestClient(TestServer(make_web_app(ops.routes(app))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def get(app: Any, path: str) -> tuple[int, str]:
    async for client in client_for(app):
        response = await client.get(path)
        return response.status, await response.text()
    raise AssertionError("no client")


async def test_health_is_ok_with_the_database_up(demo_app):
    status, body = await get(demo_app, "/health")
    assert status == 200 and body == '{"status": "ok", "database": "ok"}'


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:////nonexistent-directory/frontdesk.db",
        "postgresql+asyncpg://nobody@127.0.0.1:1/frontdesk",  # nothing listens on port 1
    ],
)
async def test_health_is_503_with_the_database_down(url: str, clock: ManualClock):
    db = Database(url)
    try:
        status, body = await get(Listener(db, clock), "/health")
        assert status == 503 and '"database": "down"' in body
        status, _ = await get(Listener(db, clock), "/metrics")
        assert status == 503
    finally:
        await db.dispose()


def parse(text: str) -> dict[str, float]:
    return {
        name: float(value)
        for line in text.splitlines()
        if line and not line.startswith("#")
        for name, value in [line.split()]
    }


async def test_metrics_follow_the_store(demo_app, clock):
    status, text = await get(demo_app, "/metrics")
    assert status == 200 and "# TYPE frontdesk_updates_handled_total counter" in text
    assert parse(text) == {
        "frontdesk_updates_handled_total": 0,
        "frontdesk_updates_queued": 0,
        "frontdesk_outbox_pending": 0,
        "frontdesk_outbox_oldest_age_seconds": 0,
        "frontdesk_outbox_announcements_pending": 0,
        "frontdesk_deliveries_failed_total": 0,
        "frontdesk_tickets_overdue": 0,
    }

    await file_repair(Chat(demo_app, "resident"))  # nine messages, all answered
    async with demo_app.db.transaction() as s:
        pending = (await s.exec(select(Outbox).where(col(Outbox.sent_at).is_(None)))).all()
        blocked = await outbox.enqueue(
            s, channel="console", chat_id="gone", payload={"text": "hi"}, now=clock.now()
        )
        # An announcement still draining, queued long before: it takes minutes at the
        # platform's pace, and must not read as a stuck reply.
        await outbox.enqueue(
            s,
            channel="console",
            chat_id="resident",
            payload={"text": "停水通知"},
            now=clock.now() - timedelta(days=3),
            bulk=True,
        )
    assert [row.chat_id for row in pending] == ["group:XFL:repair"]  # the card, unread
    assert blocked is not None and blocked.id is not None
    clock.advance(hours=25)  # an electrical repair is due in 24 hours
    await outbox.mark_failed(demo_app.db, blocked.id, clock.now(), "blocked", retry_at=None)

    status, text = await get(demo_app, "/metrics")
    assert status == 200
    assert parse(text) == {
        "frontdesk_updates_handled_total": 9,
        "frontdesk_updates_queued": 0,
        "frontdesk_outbox_pending": 2,
        "frontdesk_outbox_oldest_age_seconds": timedelta(hours=25).total_seconds(),
        "frontdesk_outbox_announcements_pending": 1,
        "frontdesk_deliveries_failed_total": 1,
        "frontdesk_tickets_overdue": 1,
    }
