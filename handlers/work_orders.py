"""Urgent work orders: urgency from the catalogs' words, the order itself, the duty push.

Every urgent ticket goes out at once, quiet hours or not: its card to the department's
group and, in full, to whoever is on duty (handlers/duty.py). An emergency's resident is
told who is coming, the duty phone and what to do right now, whichever way it was
reported (the short path of dialogs/emergency.py or the repair flow).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.cards import where
from handlers.cardsync import refreshed_cards
from handlers.core.context import Context
from handlers.core.messages import Reply, Text
from handlers.directory import community_of
from handlers.duty import on_duty
from handlers.policies import for_community
from handlers.rules.escalation import target_due
from handlers.rules.urgency import (
    EMERGENCIES,
    IGNORE,
    NOT_NOW,
    URGENT,
    Urgency,
    emergency_in,
    urgency,
)
from handlers.rules.warranty import is_paid
from storage import tickets
from storage.models import Community, Department, Ticket, TicketKind, Unit


def emergency_words(ctx: Context) -> dict[str, set[str]]:
    """Each emergency's words, every language's together, and the words of another time."""
    return {
        kind: ctx.catalogs.words(f"emergency.words.{kind}")
        for kind in (*EMERGENCIES, NOT_NOW, URGENT, IGNORE)
    }


def urgency_of(ctx: Context, category: str, text: str) -> Urgency:
    return urgency(category, text, emergency_words(ctx))


def emergency_of(ctx: Context, text: str) -> str | None:
    return emergency_in(text, emergency_words(ctx))


def what_text(ticket: Ticket) -> Text:
    """An urgent ticket in two words: the emergency, else its category."""
    kind = ticket.details.get("emergency")
    if kind in EMERGENCIES:
        return Text(f"emergency.kind.{kind}")
    return Text(f"repair.category.{ticket.category}" if ticket.category else f"kind.{ticket.kind}")


async def duty_phone(ctx: Context, ticket: Ticket) -> Any:
    community = await ctx.session.get(Community, ticket.community_id)
    return community.phone if community and community.phone else Text("emergency.no_phone")


async def duty_pushes(ctx: Context, ticket: Ticket, unit: Unit | None) -> list[Reply]:
    """The urgent ticket in full, in private, to whoever is on duty (quiet hours or not)."""
    params: Mapping[str, Any] = {
        "what": what_text(ticket),
        "number": ticket.number,
        "where": where(ticket, unit),
        "description": ticket.description,
        "name": ticket.contact_name,
        "phone": ticket.contact_phone or "—",
        "department": Text(f"department.{ticket.department}"),
    }
    return [
        Reply("emergency.duty", params, to=chat, urgent=True)
        for chat in await on_duty(ctx.session, ticket.community_id)
    ]


async def emergency_reply(ctx: Context, ticket: Ticket, unit: Unit | None, kind: str) -> Reply:
    """Who has been told and is coming, the duty phone, and what to do right now."""
    return Reply(
        "emergency.created",
        {
            "department": Text(f"department.{ticket.department}"),
            "number": ticket.number,
            "where": where(ticket, unit),
            "phone": await duty_phone(ctx, ticket),
            "advice": Text(f"emergency.advice.{kind}"),
        },
    )


async def create_work_order(
    ctx: Context,
    *,
    unit: Unit | None,
    category: str,
    description: str,
    name: str,
    phone: str,
    details: dict[str, Any],
    urgency: Urgency,
    department: str = Department.repair,
) -> tuple[Ticket, list[Reply]] | Reply:
    """A repair ticket with its deadline, free or paid, and the pushes that announce it:
    the department's card (at once when urgent, with the on-duty push), or a refusal."""
    community = await community_of(ctx)
    if community is None or community.id is None:
        return Reply("repair.no_community")
    local_today = ctx.now.astimezone(ctx.settings.tz).date()
    community_id = unit.community_id if unit else community.id
    policy = await for_community(ctx.session, ctx.settings, community_id)
    photos = list(details.get("photos") or [])
    ticket = await tickets.create_ticket(
        ctx.session,
        community_id=community_id,
        kind=TicketKind.repair,
        department=department,
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
        category=category,
        unit_id=unit.id if unit else None,
        person_id=ctx.person.id if ctx.person else None,
        channel=ctx.msg.channel,
        chat_id=ctx.msg.chat_id,
        contact_name=name,
        contact_phone=phone,
        description=description,
        details={**details, "photos": photos}
        | ({"emergency": urgency.emergency} if urgency.emergency else {}),
        urgent=urgency.urgent,
        due_at=target_due(ctx.now, policy.repair_targets_hours.get(category)),
        paid=is_paid(
            category=category,
            common_area=unit is None,
            handover=unit.handover_date if unit else None,
            today=local_today,
            months=policy.warranty_months,
        ),
    )
    tickets.attach_photos(ctx.session, ticket, ctx.msg.channel, photos, ctx.now)
    pushes = await refreshed_cards(ctx, ticket)
    if ticket.urgent:
        pushes += await duty_pushes(ctx, ticket, unit)
    return ticket, pushes
