"""The notice board (宣传栏), renewed every two weeks (`notice_board_days`).

Each community has one reminder job at a time. When it comes due, the service desk's
groups get a follow-up task (`T-…`, handlers/followups.py) "renew the notice board",
worked with the task buttons; its card's "done" asks first for a photo of the renewed
board (kept on the ticket, shown on the desk's page). Once it is done, the next reminder is
booked `notice_board_days` after the day it was renewed; while it is open the job looks
again each day (so a task finished some other way, a typed `完成 T-…`, is noticed too). A
task left undone escalates by its deadline like any ticket. Start-up books the first reminder of
a community that has none (a restart or a second worker books no second one).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from handlers import policies
from handlers.cards import DONE_FLOW as TASK_DONE
from handlers.cards import card_updates
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply
from handlers.followups import open_task
from handlers.rules import activities as rules
from handlers.rules.lifecycle import OPEN
from storage import jobs
from storage.models import Community, Department, Job, Photo, Ticket, TicketKind

JOB = "notice_board"
FOLLOWUP = "notice_board"  # `Ticket.details["followup"]` of the renewal tasks
DONE_FLOW = "notice_board_done"  # the card's "done": the photo of the renewed board first


@dataclass(frozen=True)
class BoardState:
    """What the desk's page shows of a community's board."""

    last: Ticket | None  # the last renewal task done
    renewed_at: datetime | None
    photos: list[Photo]
    open_task: Ticket | None
    next_due: datetime | None  # the next reminder booked


def _tasks(community_id: int) -> SelectOfScalar[Ticket]:
    return select(Ticket).where(
        Ticket.community_id == community_id,
        Ticket.kind == TicketKind.task,
        col(Ticket.details)["followup"].as_string() == FOLLOWUP,
    )


async def open_renewal(session: AsyncSession, community_id: int) -> Ticket | None:
    stmt = _tasks(community_id).where(col(Ticket.status).in_(list(OPEN)))
    return (await session.exec(stmt.order_by(col(Ticket.id).desc()))).first()


async def last_renewal(session: AsyncSession, community_id: int) -> Ticket | None:
    stmt = _tasks(community_id).where(col(Ticket.done_at).is_not(None))
    return (await session.exec(stmt.order_by(col(Ticket.done_at).desc()))).first()


async def pending_job(session: AsyncSession, community_id: int) -> Job | None:
    """The community's reminder still to come, if one is booked."""
    found = await session.exec(
        select(Job).where(Job.kind == JOB, col(Job.done_at).is_(None)).order_by(col(Job.due_at))
    )
    return next((j for j in found.all() if j.payload.get("community") == community_id), None)


async def book(session: AsyncSession, community_id: int, due: datetime, since: datetime) -> None:
    """The community's next look at its board, at `due`; `since` is when the count began
    for a board never renewed here."""
    await jobs.schedule(
        session,
        kind=JOB,
        due_at=due,
        payload={"community": community_id, "since": since.isoformat()},
        dedupe_key=f"{JOB}:{community_id}:{due.isoformat(timespec='minutes')}",
    )


async def book_all(session: AsyncSession, now: datetime, tz: tzinfo) -> None:
    """Start-up: a first reminder for each community without one or an open task."""
    communities = (await session.exec(select(Community))).all()
    for community in communities:
        assert community.id is not None
        if await pending_job(session, community.id) or await open_renewal(session, community.id):
            continue
        days = int(community.policy.get("notice_board_days", rules.NOTICE_BOARD_DAYS))
        last = await last_renewal(session, community.id)
        since = last.done_at if last is not None and last.done_at is not None else now
        await book(session, community.id, max(rules.next_renewal(since, days), now), since)


async def board_job(ctx: Context, job: Job) -> list[Reply]:
    """The reminder come due: the desk's renewal task, unless one is open (looked at again
    tomorrow) or the board was renewed since (the next reminder booked from that day)."""
    community_id = int(job.payload.get("community", 0))
    community = await ctx.session.get(Community, community_id)
    if community is None:
        return []
    if await open_renewal(ctx.session, community_id) is not None:
        await book(ctx.session, community_id, ctx.now + rules.CHECK_AGAIN, ctx.now)
        return []
    policy = await policies.for_community(ctx.session, ctx.settings, community_id)
    last = await last_renewal(ctx.session, community_id)
    since = (
        last.done_at
        if last is not None and last.done_at is not None
        else datetime.fromisoformat(str(job.payload.get("since") or ctx.now.isoformat()))
    )
    due = rules.next_renewal(since, policy.notice_board_days)
    if due > ctx.now + timedelta(minutes=1):
        await book(ctx.session, community_id, due, since)
        return []
    words = ctx.catalogs.text(
        ctx.catalogs.default_locale,
        "notice_board.task",
        {"days": policy.notice_board_days, "since": since},
    )
    _, pushes = await open_task(
        ctx,
        community_id=community_id,
        department=Department.service,
        description=words,
        due_at=rules.renewal_due(ctx.now),
        details={"followup": FOLLOWUP},
    )
    await book(ctx.session, community_id, ctx.now + rules.CHECK_AGAIN, since)
    return pushes


def is_renewal(ticket: Ticket) -> bool:
    return ticket.kind == TicketKind.task and ticket.details.get("followup") == FOLLOWUP


async def board_card(ctx: Context, ticket: Ticket) -> list[Reply]:
    """A renewal task's card: the task's own, whose "done" asks for the board's photo."""
    plain = f"flow:{TASK_DONE}:{ticket.id}"
    return [
        dataclasses.replace(
            card,
            choices=tuple(
                Choice(f"flow:{DONE_FLOW}:{ticket.id}", c.key, c.params) if c.value == plain else c
                for c in card.choices
            ),
        )
        for card in await card_updates(ctx.session, ticket)
    ]


async def finish_renewal(
    ctx: Context, ticket_id: int, photos: list[str], note: str | None
) -> list[Reply]:
    """Renewed: the task done with the photos (kept on the ticket, shown on the desk's
    page); the next reminder comes `notice_board_days` after today."""
    from handlers import tasks

    ticket = await ctx.session.get(Ticket, ticket_id)
    if ticket is None or not is_renewal(ticket):
        return [Reply("dialog.stale")]
    words = note or ctx.catalogs.text(ctx.catalogs.default_locale, "notice_board.renewed")
    replies = await tasks.finish(ctx, ticket_id, words, photos, None)
    if ticket.status != "done":
        return replies  # refused (not theirs, not started): nothing booked
    policy = await policies.for_community(ctx.session, ctx.settings, ticket.community_id)
    due = rules.next_renewal(ctx.now, policy.notice_board_days)
    await book(ctx.session, ticket.community_id, due, ctx.now)
    return [*replies, Reply("notice_board.next", {"at": due})]


async def state(session: AsyncSession, community_id: int, days: int) -> BoardState:
    """The board's last renewal (with its photos), the task open now, the next due."""
    last = await last_renewal(session, community_id)
    photos: list[Photo] = []
    if last is not None:
        photos = list(
            (
                await session.exec(
                    select(Photo).where(Photo.ticket_id == last.id).order_by(col(Photo.id))
                )
            ).all()
        )
    renewed_at = last.done_at if last is not None else None
    pending = await pending_job(session, community_id)
    next_due = pending.due_at if pending is not None else None
    if renewed_at is not None:
        next_due = rules.next_renewal(renewed_at, days)
    return BoardState(
        last=last,
        renewed_at=renewed_at,
        photos=photos,
        open_task=await open_renewal(session, community_id),
        next_due=next_due,
    )
