"""Retention: what the store keeps about people's messages no longer than it needs.

Once a day (03:30 local, in the quiet of the night) the messages received (kept to
recognise a redelivery, which comes within minutes or days), the messages delivered
(kept to edit a card in place) and the details of audit rows (who did what stays, the
particulars go) older than the configured periods are purged or blanked. Tickets and
their histories are the office's records and stay.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, cast, delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.context import Context
from handlers.core.messages import Reply
from storage import jobs
from storage.models import AuditLog, InboundUpdate, Job, KeyValue, Outbox
from storage.upsert import insert

if TYPE_CHECKING:
    from bot.settings import Settings

DAILY = "retention_daily"
RUN_AT = time(3, 30)
BATCH = 20_000  # rows a night per table: a long backlog is worked off over a few nights


def next_run(now: datetime, tz: tzinfo) -> datetime:
    local = now.astimezone(tz)
    run = local.replace(hour=RUN_AT.hour, minute=RUN_AT.minute, second=0, microsecond=0)
    return run if run > local else run + timedelta(days=1)


async def schedule_daily(session: AsyncSession, now: datetime, tz: tzinfo) -> None:
    due = next_run(now, tz)
    await jobs.schedule(
        session, kind=DAILY, due_at=due, payload={}, dedupe_key=f"{DAILY}:{due.date().isoformat()}"
    )


async def daily(ctx: Context, job: Job) -> list[Reply]:
    """Purge and blank what is past its keeping; then book tomorrow's run."""
    await schedule_daily(ctx.session, ctx.now + timedelta(minutes=1), ctx.settings.tz)
    await purge(ctx.session, ctx.now, ctx.settings)
    return []


async def purge(session: AsyncSession, now: datetime, settings: Settings) -> dict[str, int]:
    """One night's work; returns how many rows of each kind were touched."""
    inbound_before = now - timedelta(days=settings.retain_inbound_days)
    outbox_before = now - timedelta(days=settings.retain_outbox_days)
    audit_before = now - timedelta(days=settings.retain_audit_detail_days)
    # Only handled messages go: one that failed stays for a look.
    old_inbound = (
        select(InboundUpdate.id)
        .where(
            col(InboundUpdate.received_at) < inbound_before,
            col(InboundUpdate.handled_at).is_not(None),
        )
        .limit(BATCH)
    )
    gone_in = await session.exec(
        delete(InboundUpdate).where(col(InboundUpdate.id).in_(old_inbound.scalar_subquery()))
    )
    gone_sent = await _purge_outbox(session, col(Outbox.sent_at) < outbox_before)
    gone_failed = await _purge_outbox(session, col(Outbox.failed_at) < outbox_before)
    # /metrics counts from the rows: what is purged is carried over so counters never fall.
    await tally(session, HANDLED_PURGED, gone_in.rowcount)
    await tally(session, FAILED_PURGED, gone_failed)
    old_audit = (
        select(AuditLog.id)
        .where(col(AuditLog.at) < audit_before, cast(col(AuditLog.detail), String) != "{}")
        .limit(BATCH)
    )
    blanked = await session.exec(
        update(AuditLog).where(col(AuditLog.id).in_(old_audit.scalar_subquery())).values(detail={})
    )
    return {
        "inbound": gone_in.rowcount,
        "outbox": gone_sent + gone_failed,
        "audit": blanked.rowcount,
    }


async def _purge_outbox(session: AsyncSession, old: Any) -> int:
    ids = select(Outbox.id).where(old).limit(BATCH)
    gone = await session.exec(delete(Outbox).where(col(Outbox.id).in_(ids.scalar_subquery())))
    return int(gone.rowcount)


HANDLED_PURGED = "metrics:updates_handled_purged"
FAILED_PURGED = "metrics:deliveries_failed_purged"


async def purged(session: AsyncSession, key: str) -> int:
    """How many counted rows retention has purged so far (for /metrics)."""
    row = await session.get(KeyValue, key)
    return int(row.value) if row else 0


async def tally(session: AsyncSession, key: str, more: int) -> None:
    if more:
        value = str(await purged(session, key) + more)
        await session.exec(
            insert(session, KeyValue)
            .values(key=key, value=value)
            .on_conflict_do_update(index_elements=["key"], set_={"value": value})
        )
