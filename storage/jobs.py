"""Jobs: work due at a time (revisits, warnings, reminders), done exactly once.

Each job runs in one transaction that also marks it done, so the handler's writes
and the done mark commit together or not at all. Two runners never run the same
job: PostgreSQL locks it with `FOR UPDATE SKIP LOCKED`, SQLite's `BEGIN
IMMEDIATE` lets only one writer in at a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import Database
from storage.models import Job
from storage.upsert import insert

JobHandler = Callable[[AsyncSession, Job], Awaitable[None]]


@dataclass(frozen=True)
class PreparedHandler:
    """A job with a long part: `read` runs first, outside any transaction that writes
    (a month's figures, files drawn), then `finish` in the job's own short transaction
    with what `read` returned. If another runner finished the job meanwhile, what was
    read is dropped; if the process dies before `finish` commits, the job runs again."""

    read: Callable[[Job], Awaitable[Any]]
    finish: Callable[[AsyncSession, Job, Any], Awaitable[None]]


_ERROR_MAX = 500  # width of Job.error
_BACKOFF_BASE = timedelta(minutes=1)
_BACKOFF_MAX = timedelta(hours=1)


async def schedule(
    session: AsyncSession,
    *,
    kind: str,
    due_at: datetime,
    payload: dict[str, Any],
    dedupe_key: str | None = None,
) -> Job | None:
    """Schedule a job; returns None when `dedupe_key` is already scheduled."""
    row = Job(kind=kind, due_at=due_at, payload=payload, dedupe_key=dedupe_key)
    stmt = (
        insert(session, Job)
        .values(**row.model_dump(exclude={"id"}))
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Job)
    )
    return (await session.exec(stmt)).scalar_one_or_none()


async def replace(
    session: AsyncSession,
    *,
    kind: str,
    due_at: datetime,
    payload: dict[str, Any],
    dedupe_key: str,
) -> Job | None:
    """Schedule the work a key names afresh: a pending job under it is moved, and one
    already done no longer holds the key (the revisit of a job reworked and finished
    again is asked again)."""
    await session.exec(delete(Job).where(col(Job.dedupe_key) == dedupe_key))
    return await schedule(session, kind=kind, due_at=due_at, payload=payload, dedupe_key=dedupe_key)


async def cancel(session: AsyncSession, dedupe_key: str) -> bool:
    """Drop a job not yet done, freeing its key; False when there was none."""
    stmt = (
        delete(Job)
        .where(col(Job.dedupe_key) == dedupe_key, col(Job.done_at).is_(None))
        .returning(col(Job.id))
    )
    return (await session.exec(stmt)).first() is not None


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` earlier failures: 1, 2, 4 … 60 min."""
    return min(_BACKOFF_BASE * 2 ** min(attempts, 16), _BACKOFF_MAX)


async def run_due(
    db: Database,
    now: datetime,
    handlers: Mapping[str, JobHandler],
    limit: int = 100,
    prepared: Mapping[str, PreparedHandler] | None = None,
) -> int:
    """Run up to `limit` due jobs with a known handler; returns how many were done."""
    tried: set[int] = set()  # a job that failed in this round waits for the next one
    done = await _run_prepared(db, now, prepared or {}, limit, tried)
    for _ in range(limit - done):
        job_id: int | None = None
        try:
            async with db.transaction() as session:
                job = await _lock_next_due(session, db.dialect, now, handlers.keys(), tried)
                if job is None:
                    break
                assert job.id is not None
                job_id = job.id
                tried.add(job_id)
                await handlers[job.kind](session, job)
                job.done_at = now
                job.error = None
                session.add(job)
        except Exception as exc:
            if job_id is None:
                raise  # the store itself failed, not a handler
            await _record_failure(db, job_id, now, exc)
        else:
            done += 1
    await _flag_unknown_kinds(db, now, [*handlers.keys(), *(prepared or {}).keys()])
    return done


async def _run_prepared(
    db: Database,
    now: datetime,
    prepared: Mapping[str, PreparedHandler],
    limit: int,
    tried: set[int],
) -> int:
    done = 0
    for _ in range(limit if prepared else 0):
        async with db.reading() as session:
            job = await _next_due(session, now, prepared.keys(), tried)
        if job is None:
            break
        assert job.id is not None
        tried.add(job.id)
        try:
            found = await prepared[job.kind].read(job)
            async with db.transaction() as session:
                locked = await _lock(session, db.dialect, job.id)
                if locked is None:
                    continue  # another runner finished it meanwhile
                await prepared[job.kind].finish(session, locked, found)
                locked.done_at = now
                locked.error = None
                session.add(locked)
        except Exception as exc:
            await _record_failure(db, job.id, now, exc)
        else:
            done += 1
    return done


def _due(now: datetime, kinds: Collection[str], tried: Collection[int]) -> Any:
    """The oldest due job of `kinds` not tried in this round."""
    return (
        select(Job)
        .where(
            col(Job.done_at).is_(None),
            Job.due_at <= now,
            col(Job.kind).in_(list(kinds)),
            col(Job.id).not_in(list(tried)),
        )
        .order_by(col(Job.due_at), col(Job.id))
        .limit(1)
    )


async def _next_due(
    session: AsyncSession, now: datetime, kinds: Collection[str], tried: Collection[int]
) -> Job | None:
    return (await session.exec(_due(now, kinds, tried))).first()


async def _lock(session: AsyncSession, dialect: str, job_id: int) -> Job | None:
    """The job, locked, if nobody has finished it (the re-check under the lock)."""
    stmt = select(Job).where(col(Job.id) == job_id, col(Job.done_at).is_(None))
    if dialect == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return (await session.exec(stmt)).first()


async def _lock_next_due(
    session: AsyncSession,
    dialect: str,
    now: datetime,
    kinds: Collection[str],
    tried: Collection[int],
) -> Job | None:
    # `done_at IS NULL` is evaluated under the lock, so this is also the re-check
    # that no other runner finished the job in the meantime.
    stmt = _due(now, kinds, tried)
    if dialect == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return (await session.exec(stmt)).first()


async def _record_failure(db: Database, job_id: int, now: datetime, exc: Exception) -> None:
    async with db.transaction() as session:
        job = await session.get(Job, job_id)
        if job is None or job.done_at is not None:
            return
        job.error = f"{type(exc).__name__}: {exc}"[:_ERROR_MAX]
        job.due_at = now + backoff(job.attempts)
        job.attempts += 1
        session.add(job)


async def _flag_unknown_kinds(db: Database, now: datetime, kinds: Collection[str]) -> None:
    # Jobs nobody here can run stay pending (a newer worker may know them); the
    # error makes them visible to whoever looks at the queue.
    async with db.transaction() as session:
        await session.exec(
            update(Job)
            .where(
                col(Job.done_at).is_(None),
                col(Job.due_at) <= now,
                col(Job.kind).not_in(list(kinds)),
                or_(col(Job.error).is_(None), col(Job.error) != "no handler for this kind"),
            )
            .values(error="no handler for this kind")
        )
