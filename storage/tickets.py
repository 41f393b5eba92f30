"""Tickets: numbering, creation and the append-only history of changes.

Numbers read `R-261126-0007`: a kind prefix, the community-local day and a daily
sequence per community and prefix. The sequence comes from one atomic upsert on
`ticket_counter`, so concurrent writers (several workers, several coroutines)
never hand out the same number on SQLite or PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Photo, Ticket, TicketCounter, TicketEvent, TicketStatus
from storage.upsert import insert

PREFIXES = {
    "repair": "R",
    "complaint": "C",
    "fee": "F",
    "question": "Q",
    "slip": "S",
    "binding": "B",
    "handoff": "H",
    "inspection": "I",
    "patrol": "P",
    "renovation": "Z",  # 装修
    "task": "T",  # 跟进事务
    "nonconformity": "N",  # 不合格单
    "visit": "V",  # 走访
    "incident": "E",  # 突发事件 (numbers only: an Incident is not a ticket)
    "service": "W",  # 委托服务
    "rental": "L",  # 招租咨询
}

# Entering one of these statuses stamps the matching time column on the ticket.
_STAMPS = {
    TicketStatus.accepted: "accepted_at",
    TicketStatus.done: "done_at",
    TicketStatus.closed: "closed_at",
}


async def next_number(session: AsyncSession, community_id: int, kind: str, local_day: date) -> str:
    """Allocate the next ticket number for `kind` in a community on a local day."""
    prefix = PREFIXES[kind]
    day = local_day.strftime("%y%m%d")
    # One statement does read-increment-write, so the row lock (PostgreSQL) or the
    # write lock (SQLite) makes it atomic; no SELECT-then-UPDATE race.
    stmt = (
        insert(session, TicketCounter)
        .values(community_id=community_id, prefix=prefix, day=day, last=1)
        .on_conflict_do_update(
            index_elements=["community_id", "prefix", "day"],
            set_={"last": TicketCounter.last + 1},  # type: ignore[operator]
        )
        .returning(col(TicketCounter.last))
    )
    sequence = (await session.exec(stmt)).scalar_one()
    return f"{prefix}-{day}-{sequence:04d}"


async def create_ticket(
    session: AsyncSession,
    *,
    community_id: int,
    kind: str,
    department: str,
    actor: str,
    now: datetime,
    tz: ZoneInfo,
    **fields: Any,
) -> Ticket:
    """Number and insert a new ticket with its `created` event; `ticket.id` is set."""
    number = await next_number(session, community_id, kind, now.astimezone(tz).date())
    ticket = Ticket(
        community_id=community_id,
        number=number,
        kind=str(kind),
        department=str(department),
        status=TicketStatus.new.value,
        created_at=now,
        **fields,
    )
    session.add(ticket)
    await session.flush()
    assert ticket.id is not None
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=now,
            actor=actor,
            action="created",
            to_status=TicketStatus.new.value,
        )
    )
    await session.flush()
    return ticket


async def record_change(
    session: AsyncSession,
    ticket: Ticket,
    *,
    actor: str,
    action: str,
    now: datetime,
    to_status: str | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    """Apply a status change (if any) and append the event that records it."""
    assert ticket.id is not None, "record_change needs a flushed ticket"
    from_status = ticket.status
    if to_status is not None:
        ticket.status = str(to_status)
        stamp = _STAMPS.get(TicketStatus(to_status))
        # Time to accept counts from the first acceptance; a reopened job keeps it.
        # Done and closed take the latest time: rework moves the finish.
        if stamp is not None and not (stamp == "accepted_at" and ticket.accepted_at):
            setattr(ticket, stamp, now)
        session.add(ticket)
    change = TicketEvent(
        ticket_id=ticket.id,
        at=now,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=None if to_status is None else str(to_status),
        note=note,
        data=data or {},
    )
    session.add(change)
    await session.flush()
    return change


def attach_photos(
    session: AsyncSession, ticket: Ticket, channel: str, refs: list[str], now: datetime
) -> None:
    """Keep the photos sent with a ticket (the channel's file references)."""
    assert ticket.id is not None
    for ref in refs:
        session.add(Photo(ticket_id=ticket.id, channel=channel, file_ref=ref, at=now))


async def get_by_number(session: AsyncSession, community_id: int, number: str) -> Ticket | None:
    stmt = select(Ticket).where(Ticket.community_id == community_id, Ticket.number == number)
    return (await session.exec(stmt)).one_or_none()


async def history(session: AsyncSession, ticket_id: int) -> list[TicketEvent]:
    """The ticket's events, oldest first (id breaks ties within one instant)."""
    stmt = (
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket_id)
        .order_by(col(TicketEvent.at), col(TicketEvent.id))
    )
    return list((await session.exec(stmt)).all())


def _refuse_rewrite(_mapper: Any, _connection: Any, target: TicketEvent) -> None:
    raise ValueError(f"ticket events are append-only (event {target.id})")


# History is evidence in disputes with residents: the ORM refuses to edit or delete it.
event.listen(TicketEvent, "before_update", _refuse_rewrite)
event.listen(TicketEvent, "before_delete", _refuse_rewrite)
