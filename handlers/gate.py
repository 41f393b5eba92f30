"""Today at the gate: the day's release slips (放行条) of the communities a staff member may
see, and the renovation workers whose temporary passes (临时出入证) are valid today, for the
desk's gate page.

A slip is listed to whoever checks it at the gate (security staff and managers of its
community, `acting_member` as in chat's `/slip <code>`) and to whoever may see its ticket
(`may_see`: the service desk, which decides slips). Checking a code and letting the goods
out are chat's own handlers (`handlers.slip.checked`, `handlers.slip.mark_used`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import col, select

from handlers import fees, slip
from handlers.core.context import Context
from handlers.core.messages import Text
from handlers.rules import slip as rules
from handlers.staffauth import acting_member, may_see
from storage.models import (
    Community,
    Department,
    ReleaseSlip,
    Renovation,
    RenovationStatus,
    StaffMember,
    Ticket,
    Unit,
    WorkerPass,
)

LIMIT = 300  # a day's slips of a few communities; more would not fit a guard's screen


@dataclass(frozen=True)
class GateRow:
    """One of today's slips as the gate's list shows it."""

    community: str  # code
    number: str
    unit: str
    items: Any  # Text
    plate: Any  # the plate, or Text("slip.no_plate")
    window: Any
    status: str  # a `rules.verdict` for today: valid, used, pending, denied, cancelled
    code: str  # shown only where it means something at the gate: approved or used


def _scope(staff: list[StaffMember]) -> tuple[int, ...] | None:
    """The communities of the active staff records; None when one is company-wide."""
    active = [m for m in staff if m.active]
    if any(m.community_id is None for m in active):
        return None
    return tuple(sorted({m.community_id for m in active if m.community_id is not None}))


def sees_slips(ctx: Context, community_id: int, department: str) -> bool:
    return acting_member(ctx, community_id, Department.security) is not None or may_see(
        ctx.staff, community_id, department
    )


async def today(ctx: Context) -> tuple[date, list[GateRow]]:
    """The office's today and its slips the sender may see, by community and time of day."""
    day = fees.local_today(ctx)
    scope = _scope(ctx.staff)
    if scope == ():
        return day, []
    query = (
        select(ReleaseSlip, Ticket, Unit, Community)
        .join(Ticket, col(Ticket.id) == col(ReleaseSlip.ticket_id))
        .join(Unit, col(Unit.id) == col(ReleaseSlip.unit_id))
        .join(Community, col(Community.id) == col(Ticket.community_id))
        .where(ReleaseSlip.day == day)
        .order_by(col(Community.code), col(ReleaseSlip.window), col(ReleaseSlip.id))
        .limit(LIMIT)
    )
    if scope is not None:
        query = query.where(col(Ticket.community_id).in_(scope))
    rows: list[GateRow] = []
    for found, ticket, unit, community in (await ctx.session.exec(query)).all():
        if not sees_slips(ctx, ticket.community_id, ticket.department):
            continue
        verdict = rules.verdict(found.status, found.day, day)
        rows.append(
            GateRow(
                community=community.code,
                number=ticket.number,
                unit=unit.label,
                items=slip.items_text(found.items),
                plate=found.plate or Text("slip.no_plate"),
                window=slip.window_text(found.window) or Text("web.gate.any_time"),
                status=verdict,
                code=found.code if verdict in ("valid", rules.USED) else "",
            )
        )
    return day, rows


@dataclass(frozen=True)
class PassRow:
    """A renovation worker's pass valid today, as the gate's list shows it."""

    community: str  # code
    code: str
    name: str
    unit: str
    contractor: str
    valid_to: date


async def passes_today(ctx: Context) -> list[PassRow]:
    """The workers' passes valid today (by date; the hours are the check's) of approved
    renovations in the communities whose gate the sender keeps (security and managers)."""
    day = fees.local_today(ctx)
    scope = _scope(ctx.staff)
    if scope == ():
        return []
    query = (
        select(WorkerPass, Renovation, Unit, Community)
        .join(Renovation, col(Renovation.id) == col(WorkerPass.renovation_id))
        .join(Unit, col(Unit.id) == col(Renovation.unit_id))
        .join(Community, col(Community.id) == col(Renovation.community_id))
        .where(
            WorkerPass.status == "active",
            Renovation.status == RenovationStatus.approved,
            col(WorkerPass.valid_from) <= day,
            col(WorkerPass.valid_to) >= day,
        )
        .order_by(col(Community.code), col(Unit.label), col(WorkerPass.id))
        .limit(LIMIT)
    )
    if scope is not None:
        query = query.where(col(Renovation.community_id).in_(scope))
    return [
        PassRow(
            community.code,
            found.code,
            found.name,
            unit.label,
            renovation.contractor,
            found.valid_to,
        )
        for found, renovation, unit, community in (await ctx.session.exec(query)).all()
        if acting_member(ctx, renovation.community_id, Department.security) is not None
    ]
