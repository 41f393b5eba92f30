"""Repair requests (报修): the units offered, the summary, and the work order created."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.cards import visit_time, where
from handlers.core.context import Context
from handlers.core.messages import Reply, Text
from handlers.directory import bound_units
from handlers.work_orders import create_work_order, duty_phone, emergency_reply, urgency_of
from storage.models import Unit


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
    found = urgency_of(ctx, answers["category"], answers["description"])
    order = await create_work_order(
        ctx,
        unit=unit,
        category=answers["category"],
        description=answers["description"],
        name=answers["name"],
        phone=answers["phone"],
        details={
            "time": answers.get("time", ""),
            "location": answers.get("location", ""),
            "photos": list(answers.get("photos") or []),
        },
        urgency=found,
    )
    if isinstance(order, Reply):
        return [order]
    ticket, pushes = order
    if found.emergency is not None:
        # Described as an emergency inside the repair flow: the same answer as the short path.
        return [await emergency_reply(ctx, ticket, unit, found.emergency), *pushes]
    params = {
        "number": ticket.number,
        "where": where(ticket, unit),
        "paid": Text("card.paid" if ticket.paid else "card.free"),
    }
    if ticket.urgent:
        params["phone"] = await duty_phone(ctx, ticket)
        return [Reply("repair.created.urgent", params), *pushes]
    return [Reply("repair.created", params), *pushes]
