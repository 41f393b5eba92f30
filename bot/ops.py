"""Operations: backup and restore of the SQLite store, `/health` and `/metrics` on the listener.

A backup uses SQLite's online backup API in a thread: it copies a consistent snapshot
while the bot keeps writing (WAL mode lets readers and one writer go on together).
PostgreSQL is backed up with its own tools (pg_dump, base backups); see the README.

The metrics are computed from the database at scrape time, not counted in memory, so
every worker of a deployment reports the same figures and a restart loses none.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from sqlalchemy import func, text
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from handlers import retention
from handlers.rules.stats import OPEN_STATUSES
from storage import outbox, queue
from storage.db import Database, is_sqlite
from storage.models import InboundUpdate, Outbox, Ticket

if TYPE_CHECKING:
    from bot.app import App
    from bot.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

# Seconds: `/health` and `/metrics` answer within 5 s even when the database hangs or a
# lock holds it (a load balancer's usual timeout), reporting it unavailable.
PING_TIMEOUT = 4.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus text format
PG_GUIDANCE = (
    "the store is PostgreSQL: back it up with its own tools, e.g.\n"
    "  pg_dump --format=custom --file=frontdesk.dump <database>\n"
    "and restore with\n"
    "  pg_restore --clean --if-exists --dbname=<database> frontdesk.dump\n"
    "(see the README, section Operations)"
)


class OpsError(Exception):
    """A backup or restore that cannot be done; the message is for the operator."""


def sqlite_path(url: str) -> Path:
    """The file of a SQLite URL; `OpsError` with the pg_dump guidance for PostgreSQL."""
    if not is_sqlite(url):
        raise OpsError(PG_GUIDANCE)
    database = make_url(url).database
    if not database or database == ":memory:":
        raise OpsError("the store is an in-memory SQLite database: nothing to back up")
    return Path(database)


# ---- backup and restore ---------------------------------------------------------------------


def _copy(source: Path, target: Path) -> None:
    """SQLite online backup of `source` into `target` (blocking; run in a thread)."""
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target, timeout=30)
        try:
            # pages=-1: the whole database in one step, under one read snapshot.
            src.backup(dst, pages=-1)
        finally:
            dst.close()
    finally:
        src.close()


def _check(path: Path) -> None:
    """A readable, intact front-desk database, or `OpsError`."""
    try:
        con = sqlite3.connect(path)
        try:
            ok = con.execute("PRAGMA integrity_check").fetchone()
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise OpsError(f"{path} is not a SQLite database ({exc})") from None
    if not ok or ok[0] != "ok":
        raise OpsError(f"{path} is damaged: {ok[0] if ok else 'no answer'}")
    if "alembic_version" not in tables or "ticket" not in tables:
        raise OpsError(f"{path} is not a Front Desk database")


def _backup(source: Path, out: Path) -> Path:
    if not source.is_file():
        raise OpsError(f"no database file {source}")
    if out.resolve() == source.resolve():
        raise OpsError("the backup must not overwrite the database itself")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    _copy(source, partial)
    _check(partial)
    partial.replace(out)  # a backup file is whole or absent
    return out


def _restore(backup_file: Path, target: Path) -> Path:
    if not backup_file.is_file():
        raise OpsError(f"no backup file {backup_file}")
    _check(backup_file)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Through SQLite, not a file copy: a leftover WAL file of the old database
    # cannot be replayed over the restored one.
    _copy(backup_file, target)
    return target


async def backup(url: str, out: Path) -> Path:
    """Copy the running SQLite store to `out`, in a thread so the bot's loop goes on."""
    return await asyncio.to_thread(_backup, sqlite_path(url), out)


async def restore(url: str, backup_file: Path) -> Path:
    """Replace the SQLite store's contents with a backup; the bot must be stopped."""
    return await asyncio.to_thread(_restore, backup_file, sqlite_path(url))


# ---- health and metrics ---------------------------------------------------------------------


class Probe:
    """One database call at a time, answered within a timeout.

    A call that does not finish in time is left running rather than cancelled: with the
    database locked, a cancelled call would still wait for its connection to be given
    back (SQLite's 30-second busy wait, in a thread), which is how `/health` once took
    30 s. The next request waits for that same call instead of starting another, so a
    hung database holds one connection, not one per check.
    """

    def __init__(self, timeout: float = PING_TIMEOUT) -> None:
        self.timeout = timeout
        self._running: asyncio.Task[Any] | None = None

    async def __call__(self, work: Callable[[], Awaitable[T]]) -> T:
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(work())
        result: T = await asyncio.wait_for(asyncio.shield(self._running), self.timeout)
        return result


async def ping(db: Database) -> None:
    """A database round trip; on SQLite it also takes the write lock, for a store that
    cannot be written is no use to the bot (raises when the database cannot be reached)."""
    async with db.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


@dataclass(frozen=True)
class Metrics:
    updates_handled: int
    updates_queued: int
    outbox_pending: int
    outbox_oldest_age: float
    announcements_pending: int
    deliveries_failed: int
    tickets_overdue: int


async def collect(db: Database, now: datetime) -> Metrics:
    """The figures, read from the store in one transaction."""
    async with db.transaction() as session:
        handled = select(func.count()).select_from(InboundUpdate)
        failed = select(func.count()).select_from(Outbox)
        overdue = select(func.count()).select_from(Ticket)
        age = await outbox.oldest_pending_age(session, now)
        # Rows retention purged are carried over, so the counters never fall.
        return Metrics(
            updates_handled=(
                await session.exec(handled.where(col(InboundUpdate.handled_at).is_not(None)))
            ).one()
            + await retention.purged(session, retention.HANDLED_PURGED),
            updates_queued=await queue.waiting(session),
            outbox_pending=await outbox.pending_count(session),
            outbox_oldest_age=max(age.total_seconds(), 0.0) if age else 0.0,
            announcements_pending=await outbox.pending_count(session, bulk=True),
            deliveries_failed=(
                await session.exec(failed.where(col(Outbox.failed_at).is_not(None)))
            ).one()
            + await retention.purged(session, retention.FAILED_PURGED),
            tickets_overdue=(
                await session.exec(
                    overdue.where(col(Ticket.status).in_(OPEN_STATUSES), col(Ticket.due_at) < now)
                )
            ).one(),
        )


_HELP = (
    ("updates_handled_total", "counter", "Inbound chat updates handled.", "updates_handled"),
    (
        "updates_queued",
        "gauge",
        "Inbound updates waiting for a worker process (FRONTDESK_WORKERS).",
        "updates_queued",
    ),
    ("outbox_pending", "gauge", "Outbox messages not yet sent nor given up.", "outbox_pending"),
    (
        "outbox_oldest_age_seconds",
        "gauge",
        "How long the longest-waiting due reply or push (not announcement) has been due.",
        "outbox_oldest_age",
    ),
    (
        "outbox_announcements_pending",
        "gauge",
        "Announcement messages not yet sent nor given up.",
        "announcements_pending",
    ),
    (
        "deliveries_failed_total",
        "counter",
        "Outbox messages given up after failed deliveries.",
        "deliveries_failed",
    ),
    ("tickets_overdue", "gauge", "Open tickets past their deadline.", "tickets_overdue"),
)


def exposition(metrics: Metrics) -> str:
    """The Prometheus text format (version 0.0.4)."""
    lines = []
    for name, kind, help_text, field in _HELP:
        lines += [
            f"# HELP frontdesk_{name} {help_text}",
            f"# TYPE frontdesk_{name} {kind}",
            f"frontdesk_{name} {getattr(metrics, field)}",
        ]
    return "\n".join(lines) + "\n"


def routes(app: App) -> list[web.RouteDef]:
    """`GET /health` and `GET /metrics` for the process's HTTP listener."""

    pinging, scraping = Probe(), Probe()

    async def health(_: web.Request) -> web.Response:
        try:
            await pinging(lambda: ping(app.db))
        except Exception:  # any failure to answer in time means "down" to a load balancer
            return web.json_response({"status": "error", "database": "down"}, status=503)
        return web.json_response({"status": "ok", "database": "ok"})

    async def metrics(_: web.Request) -> web.Response:
        try:
            figures = await scraping(lambda: collect(app.db, app.clock.now()))
        except Exception:  # the scrape fails visibly; Prometheus records `up == 0`
            return web.Response(status=503, text="database unavailable\n")
        return web.Response(
            body=exposition(figures).encode(), headers={"Content-Type": CONTENT_TYPE}
        )

    return [web.get("/health", health), web.get("/metrics", metrics)]


async def optional_listener(listener: Awaitable[None], settings: Settings) -> None:
    """Serve health and metrics; a port already taken is logged instead of stopping the bot,
    since no chat depends on this listener."""
    try:
        await listener
    except OSError as exc:
        log.error(
            "health and metrics listener not started on %s:%s: %s "
            "(set FRONTDESK_HTTP_HOST / FRONTDESK_HTTP_PORT)",
            settings.http_host,
            settings.http_port,
            exc,
        )
