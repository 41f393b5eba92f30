"""What the desk's services page (`/desk/services`) shows: per community the sender may
see, the list of services (editable by the service desk and managers) and the open
service requests with their stage, in the order they move on."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import col, select

from handlers.core.context import Context
from handlers.rules import services as rules
from handlers.services import items_of, keeper, stage_of
from handlers.staffauth import may_see
from storage.models import Community, Department, ServiceItem, Ticket, TicketKind, Unit


@dataclass(frozen=True)
class Request:
    ticket: Ticket
    stage: str
    unit: str
    item: str
    fee: Decimal | None


@dataclass(frozen=True)
class Board:
    community: Community
    keeps: bool
    items: list[ServiceItem]
    requests: list[Request]


async def boards(ctx: Context) -> list[Board]:
    """Every community whose service requests the sender may see."""
    rows = (await ctx.session.exec(select(Community).order_by(col(Community.id)))).all()
    found: list[Board] = []
    for community in rows:
        assert community.id is not None
        keeps = keeper(ctx, community.id) is not None
        if not keeps and not may_see(ctx.staff, community.id, Department.service):
            continue
        found.append(
            Board(
                community,
                keeps,
                await items_of(ctx.session, community.id),
                await open_requests(ctx, community.id),
            )
        )
    return found


async def open_requests(ctx: Context, community_id: int) -> list[Request]:
    tickets = (
        await ctx.session.exec(
            select(Ticket)
            .where(
                Ticket.community_id == community_id,
                Ticket.kind == TicketKind.service,
                col(Ticket.status).not_in(tuple(rules.FINISHED)),
            )
            .order_by(col(Ticket.created_at))
        )
    ).all()
    shown: list[Request] = []
    for ticket in tickets:
        service = ticket.details.get("service") or {}
        unit = await ctx.session.get(Unit, ticket.unit_id) if ticket.unit_id else None
        agreed = service.get("agreed") or {}
        shown.append(
            Request(
                ticket,
                stage_of(ticket),
                unit.label if unit else "",
                str(agreed.get("item") or service.get("name", "")),
                rules.fee(agreed["fee"]) if agreed.get("fee") else None,
            )
        )
    shown.sort(key=lambda r: (rules.STAGES.index(r.stage), r.ticket.created_at))
    return shown
