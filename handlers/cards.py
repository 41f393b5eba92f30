"""Task cards pushed to staff groups: one per ticket, edited in place as it changes.

This module draws the repair card and the task buttons every worked ticket shares;
complaints, fee requests and questions have cards of their own (handlers/cardsync.py
picks the card of a ticket's kind).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.actions import OnTicket
from handlers.core.messages import Choice, Money, Reply, Text
from handlers.directory import department_chats
from handlers.rules.lifecycle import OPEN
from handlers.rules.phone import mask_phone
from handlers.rules.revisit import needs_leak_test
from storage.models import StaffMember, Ticket, TicketKind, TicketStatus, Unit

# ---- the task buttons, as typed actions ---------------------------------------------------


@dataclass(frozen=True)
class Accept(OnTicket):
    name: ClassVar[str] = "t_accept"


@dataclass(frozen=True)
class Start(OnTicket):
    name: ClassVar[str] = "t_start"


@dataclass(frozen=True)
class Handover(OnTicket):
    """Offers the colleagues; `HandTo` hands the job to the one chosen."""

    name: ClassVar[str] = "t_handover"


@dataclass(frozen=True)
class HandTo(OnTicket):
    name: ClassVar[str] = "t_handto"
    colleague: int


@dataclass(frozen=True)
class Transfer(OnTicket):
    """Offers the other departments; `MoveTo` moves the ticket to the one chosen."""

    name: ClassVar[str] = "t_transfer"


@dataclass(frozen=True)
class MoveTo(OnTicket):
    name: ClassVar[str] = "t_moveto"
    department: str


@dataclass(frozen=True)
class LeakTested(OnTicket):
    name: ClassVar[str] = "t_leak"


# Finishing and giving up ask for a note first: they run as the short flows of these names.
DONE_FLOW, CANNOT_FLOW = "task_done", "task_cannot"


def flow_choice(flow: str, ticket_id: int | None, key: str) -> Choice:
    return Choice(f"flow:{flow}:{ticket_id}", key)


# Kinds worked with the task buttons (accept, start, done …); release slips, binding
# requests and chats handed to a person have buttons of their own.
TASK_KINDS = frozenset(
    {"repair", "complaint", "fee", "question", "patrol", "task", "nonconformity"}
)


def is_task(ticket: Ticket) -> bool:
    """Worked with the task buttons now: a paid service (便民服务) only once the resident
    confirmed the details agreed with the desk."""
    if ticket.kind == TicketKind.service:
        return bool((ticket.details.get("service") or {}).get("confirmed_at"))
    return ticket.kind in TASK_KINDS


def by_kind(catalogs: Any, key: str, kind: str) -> str:
    """`key.<kind>` where the catalogs word it for that kind (a complaint is not visited by
    a technician), else `key` itself."""
    own = f"{key}.{kind}"
    return own if catalogs.has(catalogs.default_locale, own) else key


def where(ticket: Ticket, unit: Unit | None) -> Any:
    if unit is not None:
        return unit.label
    return Text("card.common_area", {"place": ticket.details.get("location", "")})


def visit_time(window: str) -> Any:
    """The convenient time: a chosen window (`time:tomorrow_am`) by its label, else as typed;
    an emergency has none: as soon as possible."""
    if not window:
        return Text("card.asap")
    return Text(f"repair.{window.replace(':', '.')}") if window.startswith("time:") else window


def urgent_mark(ticket: Ticket) -> Any:
    """The line that opens an urgent card: what the emergency is, or just "urgent". Only
    while the work is open: a finished card that says "handle at once" would mislead."""
    if not ticket.urgent or ticket.status not in OPEN:
        return ""
    kind = ticket.details.get("emergency")
    what = Text(f"emergency.kind.{kind}") if kind else Text("card.urgent.plain")
    return Text("card.urgent", {"what": what})


async def card_params(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
    """What a staff group sees of a ticket; the resident's phone is masked."""
    unit = await session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    assignee = await session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    return {
        "urgent": urgent_mark(ticket),
        "number": ticket.number,
        "kind": Text(f"kind.{ticket.kind}"),
        "status": Text(f"status.{ticket.status}"),
        "where": where(ticket, unit),
        "category": Text(f"repair.category.{ticket.category}") if ticket.category else "",
        "description": ticket.description,
        "name": ticket.contact_name,
        "phone": mask_phone(ticket.contact_phone),
        "time": visit_time(str(ticket.details.get("time", ""))),
        "paid": charge_text(ticket),
        "photos": len(ticket.details.get("photos", [])),
        "due": ticket.due_at,
        "assignee": assignee.name if assignee else Text("card.nobody"),
    }


def charge_text(ticket: Ticket) -> Any:
    """Free, or paid with the amount charged once it is known."""
    if not ticket.paid:
        return Text("card.free")
    if ticket.amount is not None:
        return Text("card.paid.amount", {"amount": Money(ticket.amount)})
    return Text("card.paid")


def card_choices(ticket: Ticket) -> tuple[Choice, ...]:
    """The buttons a ticket's card offers in its status (each checked again when pressed)."""
    ref = ticket.id or 0
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
    choices = [
        flow_choice(DONE_FLOW, ref, key)
        if action == "done"
        else flow_choice(CANNOT_FLOW, ref, key)
        if action == "cannot"
        else BUTTONS[action](ref).choice(key)
        for action, key in buttons
    ]
    if (
        needs_leak_test(ticket.category)
        and ticket.kind == "repair"
        and (ticket.status in (TicketStatus.in_progress, TicketStatus.done, TicketStatus.revisit))
        and not ticket.details.get("leak_test_at")
    ):
        choices.append(LeakTested(ref).choice("card.btn.leak"))
    return tuple(choices)


BUTTONS: dict[str, type[OnTicket]] = {
    "accept": Accept,
    "start": Start,
    "handover": Handover,
    "transfer": Transfer,
}


async def card_updates(session: AsyncSession, ticket: Ticket) -> list[Reply]:
    """The ticket's card sent (again) to its department's groups: channels edit it in place."""
    params = await card_params(session, ticket)
    photos = ticket.details.get("photos") or []
    key = "card.ticket"
    if ticket.kind == TicketKind.task:
        # The office's own follow-up: what to do, for whom, by when (no visit, no charge).
        key = "card.ticket.task"
        if ticket.unit_id is None and not ticket.details.get("location"):
            params["where"] = None
    return [
        Reply(
            key,
            params,
            to=chat,
            card=f"ticket:{ticket.id}",
            choices=card_choices(ticket),
            photo=photos[0] if photos else None,
            urgent=ticket.urgent,
        )
        for chat in await department_chats(session, ticket.community_id, ticket.department)
    ]
