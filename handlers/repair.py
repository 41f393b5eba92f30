"""Repair requests (报修): the units offered, the summary, and the work order created."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.cards import card_updates, visit_time, where
from handlers.context import Context
from handlers.directory import bound_units, community_of
from handlers.messages import Reply, Text
from handlers.rules.complaint import hits
from handlers.rules.escalation import target_due
from handlers.rules.warranty import is_paid
from storage import tickets
from storage.models import Department, Photo, TicketKind, Unit


async def units_for(ctx: Context) -> list[Unit]:
    return [
        unit for unit, _ in await bound_units(ctx.session, ctx.person.id if ctx.person else None)
    ]


async def begin(ctx: Context, initial: str | None) -> dict[str, Any]:
    """Start with the description filled in when the request came as free text."""
    answers: dict[str, Any] = {}
    if initial and 2 <= len(initial) <= 1000:
        answers["description"] = initial
    return answers


async def _unit(ctx: Context, answers: Mapping[str, Any]) -> Unit | None:
    value = str(answers.get("unit", ""))
    if not value.startswith("unit:"):
        return None
    unit_id = int(value[5:])
    allowed = {unit.id for unit in await units_for(ctx)}
    return await ctx.session.get(Unit, unit_id) if unit_id in allowed else None


async def summarize(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    unit = await _unit(ctx, answers)
    return {
        "where": unit.label
        if unit
        else Text("card.common_area", {"place": answers.get("location", "")}),
        "category": Text(f"repair.category.{answers['category']}"),
        "description": answers["description"],
        "photos": len(answers.get("photos") or []),
        "time": visit_time(str(answers.get("time", ""))),
        "name": answers["name"],
        "phone": answers["phone"],
    }


async def submit(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    """Create the work order, push it to the repair group, tell the resident its number."""
    unit = await _unit(ctx, answers)
    community = await community_of(ctx)
    if community is None or community.id is None:
        return [Reply("repair.no_community")]
    local_today = ctx.now.astimezone(ctx.settings.tz).date()
    photos = list(answers.get("photos") or [])
    ticket = await tickets.create_ticket(
        ctx.session,
        community_id=unit.community_id if unit else community.id,
        kind=TicketKind.repair,
        department=Department.repair,
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
        category=answers["category"],
        unit_id=unit.id if unit else None,
        person_id=ctx.person.id if ctx.person else None,
        channel=ctx.msg.channel,
        chat_id=ctx.msg.chat_id,
        contact_name=answers["name"],
        contact_phone=answers["phone"],
        description=answers["description"],
        details={
            "time": answers.get("time", ""),
            "location": answers.get("location", ""),
            "photos": photos,
        },
        # Damage happening now (a gas smell, someone stuck in a lift) is pushed at once.
        urgent=hits(answers["description"], ctx.catalogs.words("complaint.words.urgent")) > 0,
        due_at=target_due(ctx.now, ctx.settings.repair_targets_hours.get(answers["category"])),
        paid=is_paid(
            category=answers["category"],
            common_area=unit is None,
            handover=unit.handover_date if unit else None,
            today=local_today,
            months=ctx.settings.warranty_months,
        ),
    )
    for ref in photos:
        ctx.session.add(Photo(ticket_id=ticket.id, channel=ctx.msg.channel, file_ref=ref))
    pushes = await card_updates(ctx.session, ticket)
    return [
        Reply(
            "repair.created",
            {
                "number": ticket.number,
                "where": where(ticket, unit),
                "paid": Text("card.paid" if ticket.paid else "card.free"),
            },
        ),
        *pushes,
    ]
