"""The outbox: every message to a chat is a row first, delivered by a sender loop.

Handlers enqueue inside their own transaction, so a reply exists only if the work
that caused it was committed. Senders `claim` rows under a short lease (so a
crashed sender's rows come back), then mark them sent or failed. Rows go out urgent
first, then conversation replies, then bulk rows (announcements), oldest first within each.

A chat reads its messages in that order whatever the platform refuses: a chat's row is
given out only while no row ahead of it in the same chat is still on its way (in a
sender's hands, or to be tried again after a 429 or a failure), so a later message never
overtakes one that is waiting to be retried. The store keeps this, not a sender's memory:
it holds across a sender's restart and however long the retry waits.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, cast, exists, func, or_, update
from sqlalchemy import select as sa_select  # more columns than sqlmodel's types
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import Database
from storage.models import Outbox
from storage.upsert import insert

_ERROR_MAX = 500  # width of Outbox.error


async def enqueue(
    session: AsyncSession,
    *,
    channel: str,
    chat_id: str,
    payload: dict[str, Any],
    now: datetime,
    not_before: datetime | None = None,
    urgent: bool = False,
    dedupe_key: str | None = None,
    bulk: bool = False,
) -> Outbox | None:
    """Queue a message; returns None when `dedupe_key` was already queued."""
    row = Outbox(
        channel=channel,
        chat_id=chat_id,
        payload=payload,
        card=payload.get("card"),
        dedupe_key=dedupe_key,
        urgent=urgent,
        bulk=bulk,
        created_at=now,
        not_before=not_before or now,
    )
    # ON CONFLICT DO NOTHING rather than check-then-insert: two workers reacting to
    # the same event must not both queue it, and neither should fail.
    stmt = (
        insert(session, Outbox)
        .values(**row.model_dump(exclude={"id"}))
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Outbox)
    )
    return (await session.exec(stmt)).scalar_one_or_none()


async def withdraw(session: AsyncSession, key_prefix: str, now: datetime) -> int:
    """Take back queued messages not sent yet whose dedupe keys start with `key_prefix`
    (a deadline warning overtaken by the overdue notice); one a sender holds stays."""
    rows = await session.exec(
        select(Outbox).where(
            col(Outbox.dedupe_key).startswith(key_prefix, autoescape=True),
            col(Outbox.sent_at).is_(None),
            col(Outbox.failed_at).is_(None),
            or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) < now),
        )
    )
    taken = 0
    for row in rows.all():
        await session.delete(row)
        taken += 1
    return taken


@dataclass(frozen=True)
class Message:
    """One message of a batch for `enqueue_many`."""

    channel: str
    chat_id: str
    payload: dict[str, Any]
    dedupe_key: str | None = None


async def enqueue_many(
    session: AsyncSession,
    messages: Sequence[Message],
    *,
    now: datetime,
    not_before: datetime | None = None,
    bulk: bool = False,
) -> int:
    """Queue many messages (an announcement) in one go; returns how many are new.

    A message whose `dedupe_key` was queued before is skipped, as `enqueue` does, so
    queuing the same announcement again adds nothing. Plain rows, not models: building
    10,000 models took seconds of the transaction.
    """
    if not messages:
        return 0
    values = [
        {
            "channel": m.channel,
            "chat_id": m.chat_id,
            "payload": m.payload,
            "card": m.payload.get("card"),
            "dedupe_key": m.dedupe_key,
            "urgent": False,
            "bulk": bulk,
            "created_at": now,
            "not_before": not_before or now,
            "attempts": 0,
        }
        for m in messages
    ]
    stmt = (
        insert(session, Outbox)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(col(Outbox.id))
    )
    # One executemany: SQLAlchemy sends it as batches of multi-row INSERTs.
    connection = await session.connection()
    return len((await connection.execute(stmt, values)).all())


# Urgent alerts (gas, flooding) first; then replies people are waiting for; announcements
# (bulk) last, so a resident mid-conversation never waits behind 10,000 notices.
PRIORITY = (col(Outbox.urgent).desc(), col(Outbox.bulk), col(Outbox.created_at), col(Outbox.id))


def _next_in_its_chat(channel: str, now: datetime) -> ColumnElement[bool]:
    """No row ahead of this one (in PRIORITY order) in its chat is still on its way: held
    by a sender, or postponed by one (a 429's retry after, a failure's backoff), which
    is why it carries an error. A row scheduled for later and never tried (a push
    waiting out the quiet hours) holds nobody up; one due again comes first anyway, as
    the claim takes a chat's rows in PRIORITY order.

    The rows on their way are few (those in the senders' hands and those waiting out a
    retry) and are read once, as a materialized list, before the pending rows are checked
    against it: checked row by row against the whole outbox, a backlog of 1,700 replies
    took PostgreSQL 1.2 s a read (its estimates were of an outbox still empty)."""
    ahead = aliased(Outbox)
    on_its_way = (
        sa_select(
            col(ahead.chat_id).label("chat_id"),
            col(ahead.urgent).label("urgent"),
            col(ahead.bulk).label("bulk"),
            col(ahead.created_at).label("created_at"),
            col(ahead.id).label("id"),
        )
        .where(
            col(ahead.channel) == channel,
            col(ahead.sent_at).is_(None),
            col(ahead.failed_at).is_(None),
            or_(
                col(ahead.claimed_until) >= now,
                and_(col(ahead.error).is_not(None), col(ahead.not_before) > now),
            ),
        )
        .cte("on_its_way")
        .prefix_with("MATERIALIZED")
    )
    first = on_its_way.c
    goes_first = or_(
        first.urgent > col(Outbox.urgent),
        and_(first.urgent == col(Outbox.urgent), first.bulk < col(Outbox.bulk)),
        and_(
            first.urgent == col(Outbox.urgent),
            first.bulk == col(Outbox.bulk),
            or_(
                first.created_at < col(Outbox.created_at),
                and_(first.created_at == col(Outbox.created_at), first.id < col(Outbox.id)),
            ),
        ),
    )
    return ~exists().where(first.chat_id == col(Outbox.chat_id), goes_first)


async def claim(
    db: Database,
    channel: str,
    now: datetime,
    limit: int = 50,
    lease: timedelta = timedelta(seconds=60),
    chat_ids: Collection[str] | None = None,
    *,
    in_order: bool = False,
) -> list[Outbox]:
    """Lease up to `limit` due messages of `channel`: urgent, then not bulk, then oldest.

    `in_order`, what a sender asks (bot.delivery): of a chat, only the rows that no row
    ahead of them still waits for (`_next_in_its_chat`). The sender sends a chat's rows in
    the order given and, once one of them is not sent, gives the chat's later ones back
    (`release`) rather than send them past it."""
    async with db.transaction() as session:
        stmt = (
            select(Outbox)
            .where(
                Outbox.channel == channel,
                col(Outbox.sent_at).is_(None),
                col(Outbox.failed_at).is_(None),
                Outbox.not_before <= now,
                or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) < now),
            )
            .order_by(*PRIORITY)
            .limit(limit)
        )
        if in_order:
            stmt = stmt.where(_next_in_its_chat(channel, now))
        if chat_ids is not None:
            stmt = stmt.where(col(Outbox.chat_id).in_(list(chat_ids)))
        if db.dialect == "postgresql":
            # Rows another sender is claiming right now are skipped, not waited for
            # and never returned twice. SQLite needs nothing: BEGIN IMMEDIATE
            # already serialises the whole transaction.
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list((await session.exec(stmt)).all())
        for row in rows:
            row.claimed_until = now + lease
            session.add(row)
    return rows


async def release(db: Database, outbox_ids: Collection[int]) -> None:
    """Give back claimed rows unsent, untouched: due again at once, in their place."""
    if not outbox_ids:
        return
    async with db.transaction() as session:
        await session.exec(
            update(Outbox).where(col(Outbox.id).in_(list(outbox_ids))).values(claimed_until=None)
        )


async def mark_sent(
    db: Database, outbox_id: int, now: datetime, external_message_id: str | None = None
) -> None:
    async with db.transaction() as session:
        await session.exec(
            update(Outbox)
            .where(col(Outbox.id) == outbox_id)
            .values(sent_at=now, claimed_until=None, external_message_id=external_message_id)
        )


async def mark_failed(
    db: Database, outbox_id: int, now: datetime, error: str, retry_at: datetime | None
) -> None:
    """Record a failed delivery: retried at `retry_at`, or given up when it is None."""
    values: dict[str, Any] = {
        "attempts": Outbox.attempts + 1,
        "error": error[:_ERROR_MAX],
        "claimed_until": None,
    }
    if retry_at is None:
        values["failed_at"] = now
    else:
        values["not_before"] = retry_at
    async with db.transaction() as session:
        await session.exec(update(Outbox).where(col(Outbox.id) == outbox_id).values(**values))


async def postpone(db: Database, outbox_id: int, until: datetime, error: str) -> None:
    """The platform asked us to wait (a 429): try again then, without counting a failure."""
    async with db.transaction() as session:
        await session.exec(
            update(Outbox)
            .where(col(Outbox.id) == outbox_id)
            .values(not_before=until, claimed_until=None, error=error[:_ERROR_MAX])
        )


def _pending() -> Any:
    return (col(Outbox.sent_at).is_(None), col(Outbox.failed_at).is_(None))


async def pending_count(
    session: AsyncSession, channel: str | None = None, *, bulk: bool | None = None
) -> int:
    """Messages neither sent nor given up, including ones scheduled for later (only the
    announcements, or none of them, with `bulk`)."""
    stmt = select(func.count()).select_from(Outbox).where(*_pending())
    if channel is not None:
        stmt = stmt.where(Outbox.channel == channel)
    if bulk is not None:
        stmt = stmt.where(Outbox.bulk == bulk)
    return (await session.exec(stmt)).one()


async def oldest_pending_age(
    session: AsyncSession, now: datetime, *, bulk: bool = False
) -> timedelta | None:
    """How long the longest-waiting due message has been due (None: nothing due): of the
    messages people wait for, or with `bulk` of the announcements, which take minutes to
    drain at the platform's pace and would hide a stuck reply behind them."""
    stmt = select(func.min(Outbox.not_before)).where(
        *_pending(), Outbox.not_before <= now, Outbox.bulk == bulk
    )
    oldest = (await session.exec(stmt)).one()
    return None if oldest is None else now - oldest


async def last_sent_for_card(
    session: AsyncSession, channel: str, chat_id: str, card: str
) -> Outbox | None:
    """The latest delivered message showing `card` in a chat, to edit it in place."""
    return await _last_delivered(session, channel, chat_id, Outbox.card == card)


async def _last_delivered(
    session: AsyncSession, channel: str, chat_id: str, *conditions: Any
) -> Outbox | None:
    stmt = (
        select(Outbox)
        .where(
            Outbox.channel == channel,
            Outbox.chat_id == chat_id,
            col(Outbox.sent_at).is_not(None),
            *conditions,
        )
        .order_by(col(Outbox.sent_at).desc(), col(Outbox.id).desc())
        .limit(1)
    )
    return (await session.exec(stmt)).first()


# ---- what a chat was shown: channels read it to edit cards and to resolve typed choices ----


async def last_sent_to_chat(session: AsyncSession, channel: str, chat_id: str) -> Outbox | None:
    """The latest message delivered to a chat (e.g. did it open a share-contact keyboard?)."""
    return await _last_delivered(session, channel, chat_id)


async def last_queued_to_chat(session: AsyncSession, channel: str, chat_id: str) -> Outbox | None:
    """The latest message queued for a chat, delivered or not: the one a typed number
    answers on a channel without buttons."""
    stmt = (
        select(Outbox)
        .where(Outbox.channel == channel, Outbox.chat_id == chat_id)
        .order_by(col(Outbox.id).desc())
        .limit(1)
    )
    return (await session.exec(stmt)).first()


async def latest_in_message(
    session: AsyncSession, channel: str, chat_id: str, external_message_id: str
) -> int | None:
    """The id of the newest row a platform message shows (a card edited in place shows
    its latest version); None when no row was delivered as that message."""
    stmt = (
        select(col(Outbox.id))
        .where(
            Outbox.channel == channel,
            Outbox.chat_id == chat_id,
            Outbox.external_message_id == external_message_id,
        )
        .order_by(col(Outbox.sent_at).desc(), col(Outbox.id).desc())
        .limit(1)
    )
    return (await session.exec(stmt)).first()


async def recent_cards(
    session: AsyncSession, cards: Sequence[str], prefixes: Sequence[str] = (), limit: int = 50
) -> list[Outbox]:
    """The newest messages, to any chat, showing one of `cards` or a card starting with
    one of `prefixes` (a release slip's cards are `slip:<id>:<part>`)."""
    wanted: list[ColumnElement[bool]] = [col(Outbox.card).in_(list(cards))] if cards else []
    wanted += [col(Outbox.card).startswith(prefix, autoescape=True) for prefix in prefixes]
    if not wanted:
        return []
    stmt = select(Outbox).where(or_(*wanted)).order_by(col(Outbox.id).desc()).limit(limit)
    return list((await session.exec(stmt)).all())


async def mark_sent_unless_claimed(
    session: AsyncSession, ids: Sequence[int], now: datetime, external_message_id: str
) -> set[int]:
    """Mark rows sent by another way than a sender loop (WeChat's passive reply), unless a
    sender holds them already; returns the ids marked."""
    if not ids:
        return set()
    result = await session.exec(
        update(Outbox)
        .where(
            col(Outbox.id).in_(list(ids)),
            col(Outbox.sent_at).is_(None),
            col(Outbox.failed_at).is_(None),
            or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) < now),
        )
        .values(sent_at=now, claimed_until=None, external_message_id=external_message_id)
        .returning(col(Outbox.id))
    )
    return {int(i) for i in result.scalars().all()}


async def unmark_sent(session: AsyncSession, ids: Collection[int]) -> None:
    """Give back rows `mark_sent_unless_claimed` took, to go out the usual way."""
    if ids:
        await session.exec(
            update(Outbox)
            .where(col(Outbox.id).in_(list(ids)))
            .values(sent_at=None, external_message_id=None)
        )


async def due_chats(
    session: AsyncSession, channel: str, now: datetime, limit: int
) -> list[tuple[str, int, bool]]:
    """(chat id, messages due, only announcements?) of the chats with messages due and
    unclaimed, in the order to serve them: urgent first, then those with a reply waiting
    (not only announcements), then the longest waiting. A message waiting behind one
    still on its way (`_next_in_its_chat`) is not due yet."""
    bulk_only = func.min(cast(col(Outbox.bulk), Integer))
    stmt = (
        select(col(Outbox.chat_id), func.count(), bulk_only)
        .where(
            Outbox.channel == channel,
            col(Outbox.sent_at).is_(None),
            col(Outbox.failed_at).is_(None),
            Outbox.not_before <= now,
            or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) < now),
            _next_in_its_chat(channel, now),
        )
        .group_by(col(Outbox.chat_id))
        .order_by(
            func.max(cast(col(Outbox.urgent), Integer)).desc(),
            bulk_only,
            func.min(Outbox.created_at),
        )
        .limit(limit)
    )
    rows = (await session.exec(stmt)).all()
    return [(str(chat_id), int(count), bool(bulk)) for chat_id, count, bulk in rows]


async def row(session: AsyncSession, outbox_id: int) -> Outbox | None:
    """One message by its id."""
    return await session.get(Outbox, outbox_id)
