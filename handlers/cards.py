"""Task cards pushed to staff groups: one per ticket, edited in place as it changes."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.directory import department_chats
from handlers.messages import Choice, Reply, Text
from handlers.rules.phone import mask_phone
from handlers.rules.revisit import needs_leak_test
from storage.models import StaffMember, Ticket, TicketStatus, Unit


def where(ticket: Ticket, unit: Unit | None) -> Any:
    if unit is not None:
        return unit.label
    return Text("card.common_area", {"place": ticket.details.get("location", "")})


def visit_time(window: str) -> Any:
    """The convenient time: a chosen window (`time:tomorrow_am`) by its label, else as typed."""
    return Text(f"repair.{window.replace(':', '.')}") if window.startswith("time:") else window


async def card_params(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
    """What a staff group sees of a ticket; the resident's phone is masked."""
    unit = await session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    assignee = await session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    return {
        "number": ticket.number,
        "kind": Text(f"kind.{ticket.kind}"),
        "status": Text(f"status.{ticket.status}"),
        "where": where(ticket, unit),
        "category": Text(f"repair.category.{ticket.category}") if ticket.category else "",
        "description": ticket.description,
        "name": ticket.contact_name,
        "phone": mask_phone(ticket.contact_phone),
        "time": visit_time(str(ticket.details.get("time", ""))),
        "paid": Text("card.paid" if ticket.paid else "card.free"),
        "photos": len(ticket.details.get("photos", [])),
        "due": ticket.due_at,
        "assignee": assignee.name if assignee else Text("card.nobody"),
    }


def card_choices(ticket: Ticket) -> tuple[Choice, ...]:
    """The buttons a ticket's card offers in its status (each checked again when pressed)."""
    ref = ticket.id
    buttons: list[tuple[str, str]] = []
    if ticket.status == TicketStatus.new:
        buttons = [
            ("accept", "card.btn.accept"),
            ("transfer", "card.btn.transfer"),
            ("cannot", "card.btn.cannot"),
        ]
    elif ticket.status == TicketStatus.accepted:
        buttons = [
            ("start", "card.btn.start"),
            ("handover", "card.btn.handover"),
            ("transfer", "card.btn.transfer"),
            ("cannot", "card.btn.cannot"),
        ]
    elif ticket.status == TicketStatus.in_progress:
        buttons = [("done", "card.btn.done"), ("cannot", "card.btn.cannot")]
    choices = []
    for action, key in buttons:
        # Finishing and giving up ask for a note first: they run as short flows.
        value = (
            f"flow:task_{action}:{ref}" if action in ("done", "cannot") else f"act:t_{action}:{ref}"
        )
        choices.append(Choice(value, key))
    if (
        needs_leak_test(ticket.category)
        and ticket.kind == "repair"
        and (ticket.status in (TicketStatus.in_progress, TicketStatus.done, TicketStatus.revisit))
        and not ticket.details.get("leak_test_at")
    ):
        choices.append(Choice(f"act:t_leak:{ref}", "card.btn.leak"))
    return tuple(choices)


async def card_updates(session: AsyncSession, ticket: Ticket) -> list[Reply]:
    """The ticket's card sent (again) to its department's groups: channels edit it in place."""
    params = await card_params(session, ticket)
    photos = ticket.details.get("photos") or []
    return [
        Reply(
            "card.ticket",
            params,
            to=chat,
            card=f"ticket:{ticket.id}",
            choices=card_choices(ticket),
            photo=photos[0] if photos else None,
            urgent=ticket.urgent,
        )
        for chat in await department_chats(session, ticket.community_id, ticket.department)
    ]
