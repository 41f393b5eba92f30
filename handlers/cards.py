"""Task cards pushed to staff groups: one per ticket, edited in place as it changes."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.directory import department_chats
from handlers.messages import Reply, Text
from handlers.rules.phone import mask_phone
from storage.models import StaffMember, Ticket, Unit


def where(ticket: Ticket, unit: Unit | None) -> Any:
    if unit is not None:
        return unit.label
    return Text("card.common_area", {"place": ticket.details.get("location", "")})


async def card_params(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
    """What a staff group sees of a ticket; the resident's phone is masked."""
    unit = await session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    assignee = await session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    time_window = ticket.details.get("time", "")
    return {
        "number": ticket.number,
        "kind": Text(f"kind.{ticket.kind}"),
        "status": Text(f"status.{ticket.status}"),
        "where": where(ticket, unit),
        "category": Text(f"repair.category.{ticket.category}") if ticket.category else "",
        "description": ticket.description,
        "name": ticket.contact_name,
        "phone": mask_phone(ticket.contact_phone),
        "time": Text(f"repair.{time_window.replace(':', '.')}")
        if time_window.startswith("time:")
        else time_window,
        "paid": Text("card.paid" if ticket.paid else "card.free"),
        "photos": len(ticket.details.get("photos", [])),
        "due": ticket.due_at,
        "assignee": assignee.name if assignee else Text("card.nobody"),
    }


async def card_updates(session: AsyncSession, ticket: Ticket) -> list[Reply]:
    """The ticket's card sent again to its department's groups: channels edit it in place."""
    params = await card_params(session, ticket)
    return [
        Reply("card.ticket", params, to=chat, card=f"ticket:{ticket.id}")
        for chat in await department_chats(session, ticket.community_id, ticket.department)
    ]
