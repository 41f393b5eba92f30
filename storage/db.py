"""Database engine and sessions for SQLite (embedded) and PostgreSQL (asyncpg).

SQLite runs in WAL mode with foreign keys on, and every transaction starts with
`BEGIN IMMEDIATE`: writers queue on the busy timeout instead of failing when a
reader tries to become a writer, which is what several coroutines do at once.

On SQLite the process's own transactions also take turns through a first-come,
first-served lock before BEGIN: SQLite's busy handler polls with growing sleeps, so a
waiter could miss every short gap between a busy writer's transactions and give up
after the busy timeout (the overload test saw delivery starve that way for 30 s).

`Database.batch` groups commits: inside it, each `transaction()` block of the same task
joins one shared transaction, so a run of updates costs one commit.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine with the pragmas each backend needs."""
    # SQL parameters are what people wrote (messages, names, phone numbers): never in a
    # log line or an error message, whoever turns on SQL logging.
    kwargs["hide_parameters"] = True
    if not is_sqlite(url):
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **kwargs)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class BatchFailed(Exception):
    """Work inside a `Database.batch` failed, so the whole batch was rolled back; the
    caller does the batch's work again one unit at a time."""


@dataclass
class _Batch:
    db: Database
    session: AsyncSession
    failed: BaseException | None = None


# The batch the current task is in, if any.
_batch: ContextVar[_Batch | None] = ContextVar("batch", default=None)
# The databases whose turn the current task holds (a task started inside a transaction
# inherits it, and so never waits for a turn its parent holds).
_turns: ContextVar[frozenset[int]] = ContextVar("turns", default=frozenset())


class Database:
    """The engine plus a session factory; one per application."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        # One lock per event loop (tests and CLI commands may run several in turn).
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _turn(self) -> AbstractAsyncContextManager[Any]:
        """On SQLite, wait for this process's earlier transactions to finish, in order."""
        if self.dialect != "sqlite" or id(self) in _turns.get():
            return nullcontext()
        return self._taking_turn()

    @asynccontextmanager
    async def _taking_turn(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        async with lock:
            token = _turns.set(_turns.get() | {id(self)})
            try:
                yield
            finally:
                _turns.reset(token)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits at the end of the block, or rolls back.

        Inside `batch()` the block joins the batch's transaction; if it fails, the batch
        is rolled back as a whole (`BatchFailed`) and nothing more is written in it.
        """
        shared = _batch.get()
        if shared is not None and shared.db is self:
            if shared.failed is not None:
                raise BatchFailed() from shared.failed
            try:
                yield shared.session
            except BaseException as exc:
                shared.failed = exc
                raise
            return
        async with self._turn(), self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """One transaction, one commit, for every `transaction()` block run inside it by
        this task: group commit for a run of small units of work (the updates of a poll).

        No savepoints (they cost two round trips a unit): if any block fails, the batch
        rolls back and raises `BatchFailed`, and the caller redoes the units one by one,
        each in its own transaction. Keep batches short: on SQLite one holds the write lock.
        """
        shared = _batch.get()
        if shared is not None and shared.db is self:
            yield  # already in one
            return
        async with self._turn(), self.sessions() as session, session.begin():
            mine = _Batch(self, session)
            token = _batch.set(mine)
            try:
                yield
            finally:
                _batch.reset(token)
            if mine.failed is not None:
                raise BatchFailed() from mine.failed  # leaving `begin()` rolls back

    async def dispose(self) -> None:
        await self.engine.dispose()
