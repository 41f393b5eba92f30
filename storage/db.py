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

On SQLite the statements of a write transaction run on the event loop's thread (see
`_InlineConnection`); only taking the write lock and committing go to aiosqlite's thread.

`Database.reading` is for long reads (a month's report, an export): a snapshot that never
takes the write lock or a turn, so nobody waits behind it. On SQLite it uses connections
of its own that begin a plain (deferred) transaction and may not write.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import aiosqlite
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> AsyncEngine:
    """Create the async engine with the pragmas each backend needs; `read_only` (SQLite):
    connections for snapshots that never write, begun without taking the write lock."""
    # SQL parameters are what people wrote (messages, names, phone numbers): never in a
    # log line or an error message, whoever turns on SQL logging.
    kwargs["hide_parameters"] = True
    if not is_sqlite(url):
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **kwargs)
    if read_only:
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
    else:
        path = make_url(url).database or ""

        async def connect() -> aiosqlite.Connection:
            return await _InlineConnection(
                lambda: sqlite3.connect(path, timeout=30, check_same_thread=False),
                iter_chunk_size=64,
            )

        engine = create_async_engine(url, async_creator=connect, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A reader's snapshot starts at its first read (WAL: writers go on meanwhile).
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


class _InlineConnection(aiosqlite.Connection):
    """aiosqlite with the statements of a write transaction run on the event loop's own
    thread: sending each to the connection's thread and waking the loop for its answer
    costs more than the statement itself (a write transaction's statements take
    microseconds and, once `BEGIN IMMEDIATE` holds the write lock, never wait). What can
    wait, taking the lock and committing (which may checkpoint), still goes to the
    connection's thread, so the loop never blocks on another process's lock."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._waits(fn, args):
            return await super()._execute(fn, *args, **kwargs)
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def _waits(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
        """BEGIN, COMMIT and closing the connection; not a cursor's close (one per
        statement: it frees the statement and never waits)."""
        if _begins(args):
            return True
        name = getattr(fn, "__name__", "")
        return name == "commit" or (
            name == "close" and getattr(fn, "__self__", None) is self._connection
        )


def _begins(args: tuple[Any, ...]) -> bool:
    return bool(args) and isinstance(args[0], str) and args[0].lstrip()[:5].upper() == "BEGIN"


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
        self._engine_kwargs = engine_kwargs
        self._reader: AsyncEngine | None = None  # SQLite's read-only connections, made once used
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

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A read-only snapshot for a long read, which nobody waits behind: no turn, no
        write lock. Nothing read here may be written back; write in a `transaction()`."""
        if self.dialect != "sqlite":
            async with self.sessions() as session, session.begin():
                await session.exec(text("SET TRANSACTION READ ONLY"))  # type: ignore[call-overload]
                yield session
            return
        if self._reader is None:
            self._reader = make_engine(self.url, read_only=True, **self._engine_kwargs)
        async with AsyncSession(self._reader, expire_on_commit=False) as session:
            async with session.begin():
                yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._reader is not None:
            await self._reader.dispose()
