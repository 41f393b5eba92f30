"""Outbox, jobs, inbound updates and ticket history on real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.clock import ManualClock
from storage import audit, inbound, jobs, outbox
from storage.db import Database
from storage.models import AuditLog, InboundUpdate, Job, Outbox
from storage.tickets import create_ticket, history, record_change
from tests.factories import make_community

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _count(db: Database, model: type) -> int:
    async with db.transaction() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


# --- outbox ------------------------------------------------------------------


async def test_enqueue_dedupes_on_key(database: Database, clock: ManualClock) -> None:
    async with database.transaction() as session:
        first = await outbox.enqueue(
            session,
            channel="tg",
            chat_id="1",
            payload={"text": "a"},
            now=clock.now(),
            dedupe_key="ticket:1:created",
        )
        again = await outbox.enqueue(
            session,
            channel="tg",
            chat_id="1",
            payload={"text": "b"},
            now=clock.now(),
            dedupe_key="ticket:1:created",
        )
        assert first is not None and first.id is not None
        assert first.not_before == clock.now()
        assert again is None
    async with database.transaction() as session:
        # Without a key nothing is deduplicated.
        for _ in range(2):
            assert await outbox.enqueue(
                session, channel="tg", chat_id="1", payload={"text": "c"}, now=clock.now()
            )
        assert await outbox.pending_count(session) == 3
        assert await outbox.pending_count(session, "wechat") == 0


async def test_claim_takes_due_unleased_rows_urgent_first(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        for chat, text in [("1", "old"), ("2", "other chat")]:
            await outbox.enqueue(session, channel="tg", chat_id=chat, payload={"t": text}, now=now)
        await outbox.enqueue(
            session,
            channel="tg",
            chat_id="1",
            payload={"t": "later"},
            now=now,
            not_before=now + timedelta(minutes=5),
        )
        await outbox.enqueue(session, channel="wechat", chat_id="1", payload={"t": "wx"}, now=now)
        await outbox.enqueue(
            session, channel="tg", chat_id="1", payload={"t": "fire"}, now=now, urgent=True
        )

    claimed = await outbox.claim(database, "tg", now, chat_ids=["1"])
    assert [row.payload["t"] for row in claimed] == ["fire", "old"]
    assert all(row.claimed_until == now + timedelta(seconds=60) for row in claimed)
    # Leased rows stay with their sender until the lease runs out.
    assert [r.payload["t"] for r in await outbox.claim(database, "tg", now)] == ["other chat"]
    assert await outbox.claim(database, "tg", now + timedelta(seconds=30)) == []
    expired = await outbox.claim(database, "tg", now + timedelta(seconds=61))
    assert {r.payload["t"] for r in expired} == {"fire", "old", "other chat"}
    for row in expired:
        assert row.id is not None
        await outbox.mark_sent(database, row.id, now + timedelta(seconds=62))
    later = await outbox.claim(database, "tg", now + timedelta(minutes=6))
    assert [r.payload["t"] for r in later] == ["later"]


@pytest.fixture
async def second_database(database: Database) -> AsyncIterator[Database]:
    """Another engine on the same store: a second worker process."""
    other = Database(database.url)
    yield other
    await other.dispose()


async def test_concurrent_claimers_never_share_a_row(
    database: Database, second_database: Database, clock: ManualClock
) -> None:
    async with database.transaction() as session:
        for n in range(120):
            await outbox.enqueue(
                session, channel="tg", chat_id=str(n % 7), payload={"n": n}, now=clock.now()
            )
    claimed: list[int] = []
    while True:
        batches = await asyncio.gather(
            *(
                outbox.claim(db, "tg", clock.now(), limit=7)
                for db in [database, second_database] * 3
            )
        )
        ids = [row.id for batch in batches for row in batch if row.id is not None]
        if not ids:
            break
        claimed += ids
    assert len(claimed) == 120
    assert Counter(claimed).most_common(1)[0][1] == 1


async def test_retry_then_permanent_failure(database: Database, clock: ManualClock) -> None:
    async with database.transaction() as session:
        row = await outbox.enqueue(
            session, channel="tg", chat_id="1", payload={"t": "hi"}, now=clock.now()
        )
    assert row is not None and row.id is not None
    assert [r.id for r in await outbox.claim(database, "tg", clock.now())] == [row.id]

    retry_at = clock.now() + timedelta(minutes=2)
    await outbox.mark_failed(database, row.id, clock.now(), "timeout " * 100, retry_at)
    assert await outbox.claim(database, "tg", clock.now() + timedelta(minutes=1)) == []
    async with database.transaction() as session:
        stored = await session.get(Outbox, row.id)
        assert stored is not None
        assert (stored.attempts, stored.not_before, stored.claimed_until) == (1, retry_at, None)
        assert stored.error is not None and len(stored.error) == 500
        assert await outbox.oldest_pending_age(session, clock.now()) is None
        age = await outbox.oldest_pending_age(session, retry_at + timedelta(seconds=5))
        assert age == timedelta(seconds=5)

    assert [r.id for r in await outbox.claim(database, "tg", retry_at)] == [row.id]
    await outbox.mark_failed(database, row.id, retry_at, "chat not found", None)
    assert await outbox.claim(database, "tg", retry_at + timedelta(days=1)) == []
    async with database.transaction() as session:
        stored = await session.get(Outbox, row.id)
        assert stored is not None
        assert (stored.attempts, stored.failed_at, stored.error) == (2, retry_at, "chat not found")
        assert await outbox.pending_count(session) == 0


async def test_last_sent_for_card_finds_the_message_to_edit(
    database: Database, clock: ManualClock
) -> None:
    sent: list[int] = []
    async with database.transaction() as session:
        for chat, card in [
            ("g1", "ticket:7"),
            ("g1", "ticket:7"),
            ("g2", "ticket:7"),
            ("g1", "ticket:8"),
            ("g1", "ticket:7"),
        ]:
            row = await outbox.enqueue(
                session, channel="tg", chat_id=chat, payload={"card": card}, now=clock.now()
            )
            assert row is not None and row.id is not None and row.card == card
            sent.append(row.id)
    for n, outbox_id in enumerate(sent[:4]):  # the last one is still queued
        await outbox.mark_sent(database, outbox_id, clock.now() + timedelta(seconds=n), f"m{n}")
    async with database.transaction() as session:
        latest = await outbox.last_sent_for_card(session, "tg", "g1", "ticket:7")
        assert latest is not None and latest.external_message_id == "m1"
        assert await outbox.last_sent_for_card(session, "tg", "g1", "ticket:9") is None
        assert await outbox.pending_count(session) == 1


# --- jobs --------------------------------------------------------------------


async def test_schedule_dedupes_and_cancel_frees_the_key(
    database: Database, clock: ManualClock
) -> None:
    due = clock.now() + timedelta(days=2)
    async with database.transaction() as session:
        job = await jobs.schedule(
            session, kind="revisit", due_at=due, payload={"ticket": 1}, dedupe_key="revisit:1"
        )
        assert job is not None and job.due_at == due and job.payload == {"ticket": 1}
        assert (
            await jobs.schedule(
                session, kind="revisit", due_at=due, payload={}, dedupe_key="revisit:1"
            )
            is None
        )
        assert await jobs.cancel(session, "revisit:1") is True
        assert await jobs.cancel(session, "revisit:1") is False
        assert (
            await jobs.schedule(
                session, kind="revisit", due_at=due, payload={}, dedupe_key="revisit:1"
            )
            is not None
        )


async def test_run_due_runs_each_job_once_with_two_runners(
    database: Database, second_database: Database, clock: ManualClock
) -> None:
    async with database.transaction() as session:
        for n in range(30):
            await jobs.schedule(session, kind="remind", due_at=clock.now(), payload={"n": n})
        await jobs.schedule(
            session, kind="remind", due_at=clock.now() + timedelta(hours=1), payload={"n": 99}
        )
    runs: list[int] = []

    async def remind(session: AsyncSession, job: Job) -> None:
        runs.append(job.payload["n"])
        await asyncio.sleep(0)  # let the other runner in while this job is held
        await audit.record(
            session, actor="job", action="remind", target=str(job.payload["n"]), now=clock.now()
        )

    handlers = {"remind": remind}
    done = await asyncio.gather(
        jobs.run_due(database, clock.now(), handlers),
        jobs.run_due(second_database, clock.now(), handlers),
    )
    assert sum(done) == 30
    assert sorted(runs) == list(range(30))
    assert await _count(database, AuditLog) == 30
    assert await jobs.run_due(database, clock.now(), handlers) == 0
    clock.advance(hours=1)
    assert await jobs.run_due(database, clock.now(), handlers) == 1


async def test_a_job_read_first_is_finished_once_with_two_runners(
    database: Database, second_database: Database, clock: ManualClock
) -> None:
    """Both runners may read the same job (outside any write); only one finishes it."""
    async with database.transaction() as session:
        for n in range(10):
            await jobs.schedule(session, kind="report", due_at=clock.now(), payload={"n": n})
    reads: list[int] = []

    async def read(job: Job) -> int:
        reads.append(job.payload["n"])
        await asyncio.sleep(0)  # the other runner reads meanwhile
        return job.payload["n"] * 10

    async def finish(session: AsyncSession, job: Job, found: int) -> None:
        assert found == job.payload["n"] * 10  # what this job's read returned
        await audit.record(
            session, actor="job", action="report", target=str(found), now=clock.now()
        )

    prepared = {"report": jobs.PreparedHandler(read, finish)}
    done = await asyncio.gather(
        jobs.run_due(database, clock.now(), {}, prepared=prepared),
        jobs.run_due(second_database, clock.now(), {}, prepared=prepared),
    )
    assert sum(done) == 10 and set(reads) == set(range(10))
    assert await _count(database, AuditLog) == 10  # each finished once
    assert await jobs.run_due(database, clock.now(), {}, prepared=prepared) == 0


async def test_failing_handler_leaves_nothing_and_is_retried(
    database: Database, clock: ManualClock
) -> None:
    async with database.transaction() as session:
        job = await jobs.schedule(session, kind="warn", due_at=clock.now(), payload={})
    assert job is not None
    broken = True

    async def warn(session: AsyncSession, job: Job) -> None:
        await audit.record(session, actor="job", action="warn", now=clock.now())
        await outbox.enqueue(session, channel="tg", chat_id="1", payload={}, now=clock.now())
        if broken:
            raise RuntimeError("supervisor chat unknown")

    assert await jobs.run_due(database, clock.now(), {"warn": warn}) == 0
    assert await _count(database, AuditLog) == 0
    assert await _count(database, Outbox) == 0
    async with database.transaction() as session:
        stored = await session.get(Job, job.id)
        assert stored is not None and stored.done_at is None and stored.attempts == 1
        assert stored.error == "RuntimeError: supervisor chat unknown"
        assert stored.due_at == clock.now() + timedelta(minutes=1)

    assert await jobs.run_due(database, clock.now(), {"warn": warn}) == 0  # backing off
    clock.advance(minutes=1)
    assert await jobs.run_due(database, clock.now(), {"warn": warn}) == 0
    async with database.transaction() as session:
        stored = await session.get(Job, job.id)
        assert stored is not None and stored.attempts == 2
        assert stored.due_at == clock.now() + timedelta(minutes=2)

    broken = False
    clock.advance(minutes=2)
    assert await jobs.run_due(database, clock.now(), {"warn": warn}) == 1
    assert (await _count(database, AuditLog), await _count(database, Outbox)) == (1, 1)
    async with database.transaction() as session:
        stored = await session.get(Job, job.id)
        assert stored is not None and stored.done_at == clock.now() and stored.error is None


async def test_unknown_kind_is_flagged_and_left(database: Database, clock: ManualClock) -> None:
    async with database.transaction() as session:
        job = await jobs.schedule(session, kind="mystery", due_at=clock.now(), payload={})
    assert job is not None
    assert await jobs.run_due(database, clock.now(), {}) == 0
    async with database.transaction() as session:
        stored = await session.get(Job, job.id)
        assert stored is not None and stored.done_at is None and stored.attempts == 0
        assert stored.error == "no handler for this kind"


def test_backoff_doubles_up_to_an_hour() -> None:
    delays = [jobs.backoff(n) for n in range(8)]
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert delays[-1] == timedelta(hours=1)
    assert jobs.backoff(10_000) == timedelta(hours=1)


# --- inbound updates -----------------------------------------------------------


async def test_inbound_update_is_accepted_once(database: Database, clock: ManualClock) -> None:
    async with database.transaction() as session:

        async def accept(channel: str, external_id: str) -> bool:
            return await inbound.accept(
                session,
                channel=channel,
                external_id=external_id,
                chat_id="o1",
                payload={"text": "报修"},
                now=clock.now(),
            )

        assert await accept("wechat", "msg-1") is True
        assert await accept("wechat", "msg-1") is False  # WeChat's retry of the same message
        assert await accept("tg", "msg-1") is True
        await inbound.mark_handled(session, "wechat", "msg-1", clock.now())
    async with database.transaction() as session:
        rows = (await session.exec(select(InboundUpdate).order_by(col(InboundUpdate.id)))).all()
        assert [(r.channel, r.handled_at) for r in rows] == [
            ("wechat", clock.now()),
            ("tg", None),
        ]


# --- ticket history ------------------------------------------------------------


async def test_history_is_append_only_with_from_and_to(
    database: Database, clock: ManualClock
) -> None:
    async with database.transaction() as session:
        community = await make_community(session)
        assert community.id is not None
        ticket = await create_ticket(
            session,
            community_id=community.id,
            kind="repair",
            department="repair",
            actor="resident:1",
            now=clock.now(),
            tz=SHANGHAI,
            description="灯不亮",
        )
    steps = [
        ("staff:1", "accept", "accepted"),
        ("staff:1", "note", None),
        ("staff:1", "start", "in_progress"),
        ("staff:1", "finish", "done"),
    ]
    for actor, action, status in steps:
        clock.advance(minutes=10)
        async with database.transaction() as session:
            ticket = await session.merge(ticket)
            await record_change(
                session,
                ticket,
                actor=actor,
                action=action,
                now=clock.now(),
                to_status=status,
                note=action,
                data={"step": action},
            )

    async with database.transaction() as session:
        assert ticket.id is not None
        events = await history(session, ticket.id)
        assert [(e.action, e.from_status, e.to_status) for e in events] == [
            ("created", None, "new"),
            ("accept", "new", "accepted"),
            ("note", "accepted", None),
            ("start", "accepted", "in_progress"),
            ("finish", "in_progress", "done"),
        ]
        assert events[1].data == {"step": "accept"}
        stored = await session.merge(ticket)
        assert stored.status == "done"
        start = clock.now() - timedelta(minutes=40)
        assert stored.accepted_at == start + timedelta(minutes=10)
        assert stored.done_at == clock.now() and stored.closed_at is None

        events[0].note = "rewritten"
        with pytest.raises(ValueError, match="append-only"):
            await session.flush()
        await session.rollback()
    async with database.transaction() as session:
        events = await history(session, ticket.id)
        assert events[0].note == ""
