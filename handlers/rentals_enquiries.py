"""Rental enquiries (招租咨询, `L-…` tickets): a resident, or an outsider with no bound
unit who leaves a name and phone, says what they would like to rent and for how long; the
service desk gets a card and answers with `/answer L-…` as it answers a question, and the
enquirer is told in the chat they asked from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers import rentals
from handlers.core.context import Context
from handlers.core.messages import Reply, Text
from handlers.directory import bound_units, community_of, ticket_resident
from handlers.rules.question import reply_by
from handlers.staffauth import acting_member
from storage import audit, tickets
from storage.models import Department, Rentable, Ticket, TicketKind, TicketStatus


def wanted_text(answers: Mapping[str, Any]) -> Any:
    """What they asked about: a listed item, a kind, or their own words."""
    wanted = answers.get("wanted") or {}
    if wanted.get("item"):
        return wanted["name"]
    if wanted.get("text"):
        return wanted["text"]
    if wanted.get("kind"):
        return Text(f"rentals.kind.{wanted['kind']}")
    return "—"


async def summarize(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "wanted": wanted_text(answers),
        "duration": answers.get("duration") or "—",
        "name": answers.get("name") or (ctx.person.name if ctx.person else "—"),
        "phone": answers.get("phone") or (ctx.person.phone if ctx.person else "") or "—",
    }


async def card(ctx: Context, ticket: Ticket) -> list[Reply]:
    """The enquiry's card for the service desk, with how to answer it."""
    params = {
        "number": ticket.number,
        "status": Text(f"status.{ticket.status}"),
        "name": ticket.contact_name or "—",
        "phone": ticket.contact_phone or "—",
        "enquiry": ticket.description,
        "reply_by": ticket.due_at,
        "who": Text("rentals.enquiry.resident" if ticket.unit_id else "rentals.enquiry.outsider"),
    }
    return [
        Reply("rentals.enquiry.card", params, to=chat, card=f"ticket:{ticket.id}")
        for chat in await rentals.desk_chats(ctx, ticket.community_id)
    ]


async def submit(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    """The enquiry recorded for the service desk, with a reply time promised."""
    community = await community_of(ctx)
    if community is None or community.id is None:
        return [Reply("rentals.no_community")]
    person = ctx.person
    units = await bound_units(ctx.session, person.id if person else None)
    shown = await summarize(ctx, answers)
    locale = ctx.settings.default_locale
    description = ctx.catalogs.text(
        locale,
        "rentals.enquiry.description",
        {k: ctx.catalogs.format(locale, v) for k, v in shown.items()},
    )
    wanted = answers.get("wanted") or {}
    due = reply_by(ctx.now, ctx.settings.tz)
    ticket = await tickets.create_ticket(
        ctx.session,
        community_id=community.id,
        kind=TicketKind.rental,
        department=Department.service,
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
        unit_id=units[0][0].id if units else None,
        person_id=person.id if person else None,
        channel=ctx.msg.channel,
        chat_id=ctx.msg.chat_id,
        contact_name=str(shown["name"])[:100],
        contact_phone=str(shown["phone"]).replace("—", "")[:30],
        description=description[:2000],
        due_at=due,
        details={
            "item": wanted.get("item"),
            "kind": wanted.get("kind"),
            "duration": answers.get("duration") or "",
        },
    )
    created = Reply("rentals.enquiry.created", {"number": ticket.number, "reply_by": due})
    return [created, *await card(ctx, ticket)]


async def answer(ctx: Context, ticket: Ticket, text: str) -> list[Reply]:
    """`/answer L-… text`: the desk's answer relayed to the enquirer; the enquiry closed."""
    member = acting_member(ctx, ticket.community_id, Department.service)
    if member is None:
        return [Reply("rentals.not_desk")]
    if ticket.status in (TicketStatus.closed, TicketStatus.cancelled):
        return [Reply("rentals.enquiry.finished", {"number": ticket.number})]
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=ctx.actor,
        action="answered",
        now=ctx.now,
        to_status=TicketStatus.closed,
        note=text[:2000],
    )
    await audit.record(
        ctx.session, actor=ctx.actor, action="rental_answer", target=ticket.number, now=ctx.now
    )
    params = {
        "number": ticket.number,
        "enquiry": ticket.description,
        "answer": text,
        "name": member.name,
    }
    told = [
        Reply("rentals.enquiry.answered", params, to=chat)
        for chat in await ticket_resident(ctx.session, ticket)
    ]
    sent = Reply("rentals.enquiry.sent", {"number": ticket.number, "told": len(told)})
    return [*told, sent, *await card(ctx, ticket)]


async def item_choices(ctx: Context) -> list[Rentable]:
    community = await community_of(ctx)
    if community is None or community.id is None:
        return []
    return await rentals.items_of(ctx, community.id, status="available")
