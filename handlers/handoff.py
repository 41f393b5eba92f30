""" "Talk to a person": the chat is handed to the service desk until the resident leaves.

Opening creates a handoff ticket and pushes it to the service desk group; while the
chat is with a person, whatever the resident writes is relayed there, and staff
answer with `/reply <number> <text>`.
"""

from __future__ import annotations

from sqlmodel import col, select

from handlers.core.context import Context
from handlers.core.messages import Recipient, Reply
from handlers.directory import community_of, department_chats, people_with_role
from handlers.policies import kind_due
from handlers.staffauth import acting_member
from storage import audit, tickets
from storage.models import Department, Ticket, TicketKind, TicketStatus

OPEN = (TicketStatus.new, TicketStatus.accepted, TicketStatus.in_progress)


async def _open_ticket(ctx: Context) -> Ticket | None:
    return (
        await ctx.session.exec(
            select(Ticket)
            .where(
                Ticket.kind == TicketKind.handoff,
                Ticket.channel == ctx.msg.channel,
                Ticket.chat_id == ctx.msg.chat_id,
                col(Ticket.status).in_(OPEN),
            )
            .order_by(col(Ticket.id).desc())
        )
    ).first()


async def _desk(ctx: Context, community_id: int) -> list[Recipient]:
    chats = await department_chats(ctx.session, community_id, Department.service)
    return chats or await people_with_role(ctx.session, community_id, "supervisor")


def _who(ctx: Context) -> str:
    if ctx.person is not None:
        return ctx.person.name
    return ctx.msg.user_name or ctx.msg.user_id


async def open(ctx: Context) -> list[Reply]:
    community = await community_of(ctx)
    if community is None or community.id is None:
        return [Reply("handoff.unavailable")]
    ticket = await _open_ticket(ctx)
    if ticket is None:
        ticket = await tickets.create_ticket(
            ctx.session,
            community_id=community.id,
            kind=TicketKind.handoff,
            due_at=await kind_due(ctx, community.id, "handoff"),
            department=Department.service,
            actor=ctx.actor,
            now=ctx.now,
            tz=ctx.settings.tz,
            channel=ctx.msg.channel,
            chat_id=ctx.msg.chat_id,
            person_id=ctx.person.id if ctx.person else None,
            contact_name=_who(ctx),
        )
    pushes = [
        # A live conversation: not held back by quiet hours.
        Reply(
            "handoff.staff.new", {"number": ticket.number, "name": _who(ctx)}, to=chat, urgent=True
        )
        for chat in await _desk(ctx, community.id)
    ]
    return [Reply("handoff.opened", {"number": ticket.number}), *pushes]


async def relay(ctx: Context) -> list[Reply]:
    """Forward what the resident wrote to the service desk."""
    ticket = await _open_ticket(ctx)
    if ticket is None:
        return await open(ctx)
    content = ctx.msg.words or ("[photo]" if ctx.msg.photo else "")
    pushes = [
        Reply(
            "handoff.staff.relay",
            {"number": ticket.number, "name": _who(ctx), "text": content[:1000]},
            to=chat,
            photo=ctx.msg.photo,
            urgent=True,
        )
        for chat in await _desk(ctx, ticket.community_id)
    ]
    return [Reply("handoff.relayed"), *pushes] if not pushes else pushes


async def close(ctx: Context) -> None:
    ticket = await _open_ticket(ctx)
    if ticket is not None:
        await tickets.record_change(
            ctx.session,
            ticket,
            actor=ctx.actor,
            action="closed",
            now=ctx.now,
            to_status=TicketStatus.closed,
        )


async def reply_command(ctx: Context, argument: str) -> list[Reply]:
    """`/reply H-261126-0001 text`: a staff member answers a handed-over chat."""
    number, _, text = argument.strip().partition(" ")
    if not number or not text.strip():
        return [Reply("handoff.reply.usage")]
    # Numbers are unique per community: take the one this service-desk member works for.
    candidates = await ctx.session.exec(
        select(Ticket).where(Ticket.number == number.upper(), Ticket.kind == TicketKind.handoff)
    )
    ticket = next(
        (
            t
            for t in candidates.all()
            if acting_member(ctx, t.community_id, Department.service) is not None
        ),
        None,
    )
    if ticket is None:
        return [Reply("handoff.reply.unknown", {"number": number})]
    await tickets.record_change(
        ctx.session, ticket, actor=ctx.actor, action="answered", now=ctx.now, note=text[:2000]
    )
    await audit.record(
        ctx.session, actor=ctx.actor, action="reply", target=ticket.number, now=ctx.now
    )
    resident = Recipient(ticket.channel, ticket.chat_id)
    name = ctx.staff[0].name if ctx.staff else ""
    return [
        Reply("handoff.staff_says", {"name": name, "text": text.strip()}, to=resident, urgent=True),
        Reply("handoff.reply.sent", {"number": ticket.number}),
    ]
