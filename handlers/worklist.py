"""`/tasks`: a staff member's open work, each card reachable again however long ago it came.

Cards arrive in the department's group and scroll away; on a channel without real
buttons (the console, WeChat's numbered lines) only the latest message can be answered.
`/tasks` lists the open tickets of the sender's departments and communities (urgent and
oldest first) and, for the service desk, the phone revisits, binding requests, release
slips and renovation applications waiting for it, each with a choice that brings its card,
with its live options, into this chat.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col, select

from handlers import binding, slip
from handlers.cards import TASK_KINDS
from handlers.cardsync import refreshed_cards
from handlers.core.actions import OnTicket
from handlers.core.context import Context
from handlers.core.messages import Reply, Text
from handlers.core.roles import MANAGERS
from handlers.revisits import phone_task
from handlers.rules.lifecycle import OPEN, REVISITABLE
from handlers.staffauth import acting_member
from storage.models import (
    Department,
    ReleaseSlip,
    Renovation,
    RenovationStatus,
    SlipStatus,
    Ticket,
    TicketKind,
)

LISTED = 20


def _scope(ctx: Context) -> list[ColumnElement[bool]]:
    """The tickets the sender works on: their departments (managers: every department)
    of their communities (company-wide staff: every community)."""
    conditions: list[ColumnElement[bool]] = []
    for member in ctx.staff:
        if not member.active:
            continue
        parts: list[ColumnElement[bool]] = []
        if member.community_id is not None:
            parts.append(col(Ticket.community_id) == member.community_id)
        if member.role not in MANAGERS:
            parts.append(col(Ticket.department) == member.department)
        conditions.append(and_(*parts) if parts else col(Ticket.id).is_not(None))
    return conditions


def _desk(ctx: Context) -> bool:
    return any(
        m.active and (m.role in MANAGERS or m.department == Department.service) for m in ctx.staff
    )


async def open_work(ctx: Context) -> list[Ticket]:
    """Open tickets in scope, urgent first, then by deadline and age; phone revisits too."""
    scope = _scope(ctx)
    if not scope:
        return []
    waiting = and_(col(Ticket.status).in_(OPEN), col(Ticket.kind).in_(TASK_KINDS))
    if _desk(ctx):
        # Binding requests and release slips the desk must decide.
        deciding = select(ReleaseSlip.ticket_id).where(
            ReleaseSlip.status == SlipStatus.desk_pending
        )
        # Renovation applications waiting for the review.
        reviewing = select(Renovation.ticket_id).where(
            Renovation.status == RenovationStatus.submitted
        )
        waiting = or_(
            waiting,
            and_(col(Ticket.kind) == TicketKind.binding, col(Ticket.status) == "new"),
            col(Ticket.id).in_(deciding),
            col(Ticket.id).in_(reviewing),
        )
        # Finished work whose resident has not answered the revisit: the desk phones.
        phoned = and_(
            col(Ticket.status).in_(REVISITABLE),
            col(Ticket.details)["revisit_phone_at"].as_string()
            <= ctx.now.astimezone(UTC).isoformat(),
            col(Ticket.details)["revisit"].as_string().is_(None),
        )
        waiting = or_(waiting, phoned)
    rows = await ctx.session.exec(
        select(Ticket)
        .where(waiting, or_(*scope))
        .order_by(col(Ticket.urgent).desc(), col(Ticket.due_at), col(Ticket.id))
        .limit(LISTED + 1)
    )
    return list(rows.all())


def _line(ticket: Ticket) -> Text:
    revisit = ticket.status in REVISITABLE
    return Text(
        "task.list.line",
        {
            "number": ticket.number,
            "kind": Text(f"kind.{ticket.kind}"),
            "status": Text("task.list.phone_revisit" if revisit else f"status.{ticket.status}"),
            "urgent": Text("task.list.urgent") if ticket.urgent else "",
            "description": ticket.description.split("\n")[0][:24],
            "due": ticket.due_at,
        },
    )


async def list_command(ctx: Context, argument: str) -> list[Reply]:
    found = await open_work(ctx)
    if not found:
        return [Reply("task.list.none")]
    shown = found[:LISTED]
    lines: list[Any] = [_line(t) for t in shown]
    if len(found) > LISTED:
        lines.append(Text("task.list.more", {"count": LISTED}))
    choices = tuple(OpenCard(t.id or 0).choice("task.list.open", number=t.number) for t in shown)
    return [Reply("task.list", {"count": len(shown), "lines": lines}, choices=choices)]


@dataclass(frozen=True)
class OpenCard(OnTicket):
    name: ClassVar[str] = "t_open"


async def open_card(ctx: Context, action: OpenCard) -> list[Reply]:
    """The ticket's card again, here, with the buttons it has now (checked when pressed)."""
    ticket = await ctx.session.get(Ticket, action.ticket)
    if ticket is None:
        return [Reply("dialog.stale")]
    department = Department.service if ticket.status in REVISITABLE else ticket.department
    if acting_member(ctx, ticket.community_id, department) is None:
        return [Reply("dialog.not_allowed")]
    if ticket.status in REVISITABLE and "revisit" not in ticket.details:
        return [phone_task(ticket)]
    if ticket.kind == TicketKind.binding:
        cards = [await binding.request_card(ctx, ticket)] if ticket.status == "new" else []
    elif ticket.kind == TicketKind.slip:
        cards = await slip.desk_card(ctx, ticket)
    else:
        cards = await refreshed_cards(ctx, ticket)
    if not cards:
        return [Reply("dialog.stale")]
    # The fullest version (with buttons), as a message of its own in this chat.
    card = max(cards, key=lambda reply: len(reply.choices))
    return [replace(card, to=None, card=None)]
