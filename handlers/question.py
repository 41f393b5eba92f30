"""Questions (咨询): common topics answered from the catalogs at once; anything else is
recorded for the service desk, answered by staff with `/answer` and relayed to the resident."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import col, select

from handlers import complaint, parcels
from handlers.core.context import Context
from handlers.core.messages import Choice, Money, Recipient, Reply, Text
from handlers.directory import (
    OFFLINE,
    bound_units,
    community_of,
    department_chats,
    people_with_role,
    ticket_resident,
)
from handlers.rules.question import PUBLIC_ENERGY_RATE, monthly_charges, reply_by, topic_of
from handlers.staffauth import acting_member
from storage import audit, tickets
from storage.models import ChatIdentity, Community, Department, Ticket, TicketKind, TicketStatus

TOPIC_WORDS = {
    "hours": "question.words.hours",
    "fees": "question.words.fees",
    "renovation": "question.words.renovation",
    "parking": "question.words.parking",
    "pets": "question.words.pets",
    "outage": "question.words.outage",
    "parcels": "question.words.parcels",
}
TOPIC_LABELS = {
    "hours": "question.topic.hours",
    "fees": "question.topic.fees",
    "renovation": "question.topic.renovation",
    "parking": "question.topic.parking",
    "pets": "question.topic.pets",
    "outage": "question.topic.outage",
    "parcels": "question.topic.parcels",
    "other": "question.topic.other",
}
ANSWERS = {
    "hours": "question.faq.hours",
    "fees": "question.faq.fees",
    "renovation": "question.faq.renovation",
    "parking": "question.faq.parking",
    "pets": "question.faq.pets",
    "outage": "question.faq.outage",
    "parcels": "question.faq.parcels",
}
OTHER = "other"
FINISHED = (TicketStatus.closed, TicketStatus.cancelled)


def topic_in(ctx: Context, text: str) -> str | None:
    words = {topic: ctx.catalogs.words(key) for topic, key in TOPIC_WORDS.items()}
    return topic_of(text, words)


async def faq(ctx: Context, topic: str) -> Reply:
    """The answer to a common question, with this community's hours, phone and rates."""
    community = await community_of(ctx)
    params: dict[str, Any] = {
        "community": community.name if community else "",
        "hours": community.office_hours if community else "",
        "phone": community.phone if community and community.phone else "—",
    }
    if topic == "fees" and community is not None:
        return await _fees(ctx, community, params)
    if topic == "parcels":
        waiting = await parcels.resident_reply(ctx)  # their own parcels, with the codes
        if waiting is not None:
            return waiting
    return Reply(ANSWERS[topic], params)


async def _fees(ctx: Context, community: Community, params: dict[str, Any]) -> Reply:
    params |= {"rate": Money(community.management_rate), "energy": Money(PUBLIC_ENERGY_RATE)}
    bound = await bound_units(ctx.session, ctx.person.id if ctx.person else None)
    own = [unit for unit, _ in bound if unit.community_id == community.id]
    if not own:
        return Reply("question.faq.fees", params)
    unit = own[0]
    management, energy, total = monthly_charges(community.management_rate, unit.area_m2)
    amounts = {
        "management": Money(management),
        "energy_amount": Money(energy),
        "total": Money(total),
    }
    return Reply(
        "question.faq.fees_unit", params | {"unit": unit.label, "area": unit.area_m2} | amounts
    )


def ask_more() -> Reply:
    return Reply("question.more", choices=(Choice("flow:question", "question.ask_more"),))


async def begin(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """A question typed at the menu: a common one answered at once, another one recorded."""
    text = (initial or "").strip()
    if not text:
        return {}
    topic = topic_in(ctx, text)
    if topic is not None:
        return [await faq(ctx, topic), ask_more()]
    return {"topic": OTHER, "question": text} if 2 <= len(text) <= 1000 else {}


def question_text(answers: Mapping[str, Any]) -> str:
    """The question: typed at its own step, or instead of choosing a topic."""
    return str(answers.get("question") or answers["topic"])


async def summarize(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    return {"question": question_text(answers)}


async def _desk(ctx: Context, community_id: int) -> list[Recipient]:
    chats = await department_chats(ctx.session, community_id, Department.service)
    return chats or await people_with_role(ctx.session, community_id, "supervisor")


async def card(ctx: Context, ticket: Ticket) -> list[Reply]:
    """The question's card for the service desk, with how to answer it."""
    params = {
        "number": ticket.number,
        "status": Text(f"status.{ticket.status}"),
        "name": ticket.contact_name,
        "question": ticket.description,
        "reply_by": ticket.due_at,
    }
    return [
        Reply("question.card", params, to=chat, card=f"ticket:{ticket.id}")
        for chat in await _desk(ctx, ticket.community_id)
    ]


async def submit(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    """Record the question for the service desk and promise a reply time."""
    community = await community_of(ctx)
    if community is None or community.id is None:
        return [Reply("question.no_community")]
    due = reply_by(ctx.now, ctx.settings.tz)
    text = question_text(answers)
    person = ctx.person
    units = await bound_units(ctx.session, person.id if person else None)
    ticket = await tickets.create_ticket(
        ctx.session,
        community_id=community.id,
        kind=TicketKind.question,
        department=Department.service,
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
        unit_id=units[0][0].id if units else None,
        person_id=person.id if person else None,
        channel=ctx.msg.channel,
        chat_id=ctx.msg.chat_id,
        contact_name=person.name if person else (ctx.msg.user_name or ctx.msg.user_id)[:100],
        contact_phone=(person.phone or "") if person else "",
        description=text,
        due_at=due,
        details={"question": text},
    )
    created = Reply("question.created", {"number": ticket.number, "reply_by": due})
    return [created, *await card(ctx, ticket)]


async def _find(ctx: Context, number: str) -> Ticket | None:
    """The question (or complaint) with this number in a community the sender may act for."""
    found = await ctx.session.exec(
        select(Ticket).where(
            Ticket.number == number.upper(),
            col(Ticket.kind).in_((TicketKind.question, TicketKind.complaint, TicketKind.rental)),
        )
    )
    return next((t for t in found.all() if acting_member(ctx, t.community_id)), None)


async def _resident_locale(ctx: Context, ticket: Ticket) -> str | None:
    identity = (
        await ctx.session.exec(
            select(ChatIdentity).where(
                ChatIdentity.channel == ticket.channel,
                ChatIdentity.external_user_id == ticket.chat_id,
            )
        )
    ).first()
    return identity.locale if identity else None


async def answer_command(ctx: Context, argument: str) -> list[Reply]:
    """`/answer Q-261126-0001 text`: staff answer a recorded question; it is relayed and closed."""
    number, _, text = argument.strip().partition(" ")
    text = text.strip()
    if not number or not text:
        return [Reply("question.answer.usage")]
    ticket = await _find(ctx, number)
    if ticket is None:
        return [Reply("question.answer.unknown", {"number": number})]
    if ticket.kind == TicketKind.rental:  # a rental enquiry (招租咨询) is answered the same way
        from handlers import rentals_enquiries

        return await rentals_enquiries.answer(ctx, ticket, text)
    if ticket.kind == TicketKind.complaint:
        # A complaint's answer is relayed the same way; the complaint itself stays open.
        found = await complaint.answerable(ctx, ticket.id)
        if isinstance(found, Reply):
            return [found]
        return await complaint.answer(ctx, *found, "message", text)
    if ticket.status in FINISHED:
        return [Reply("question.answer.finished", {"number": ticket.number})]
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
        ctx.session, actor=ctx.actor, action="question_answer", target=ticket.number, now=ctx.now
    )
    if ticket.channel in OFFLINE:  # asked by phone, at the counter or by letter
        residents = await ticket_resident(ctx.session, ticket)
    else:
        residents = [Recipient(ticket.channel, ticket.chat_id, await _resident_locale(ctx, ticket))]
    member = acting_member(ctx, ticket.community_id)
    answered = {
        "number": ticket.number,
        "question": ticket.description,
        "answer": text,
        "name": member.name if member else "",
    }
    relayed = [Reply("question.answered", answered, to=resident) for resident in residents]
    sent = Reply("question.answer.sent", {"number": ticket.number})
    return [*relayed, sent, *await card(ctx, ticket)]
