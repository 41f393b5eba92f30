"""What the desk's inspections page shows (`/desk/inspections`): for each community the
desk runs, today's and the recent rounds with their results, the open nonconformity slips
by department with their age and deadline (overdue ones first), the slips waiting for
their follow-up check, and the checklist as its editor shows it (managers may change it).
One round's page lists its items with their outcome and slip."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from handlers.core.context import Context
from handlers.core.roles import MANAGERS
from handlers.inspections import checklist_items, editor_text, local_day_start
from handlers.inspections_slips import KIND
from handlers.rules import inspections as rules
from handlers.rules.lifecycle import OPEN
from handlers.staffauth import sees_all_departments
from storage.models import Community, InspectionRound, StaffMember, Ticket

RECENT_DAYS = 14
RECENT_ROUNDS = 30


@dataclass(frozen=True)
class RoundRow:
    round: InspectionRound
    total: int
    passed: int
    failed: int
    unchecked: int
    today: bool


@dataclass(frozen=True)
class SlipRow:
    ticket: Ticket
    item: str
    area: str
    age_hours: int
    overdue: bool
    assignee: str
    answer: str = ""


@dataclass
class CommunityView:
    community: Community
    rounds: list[RoundRow] = field(default_factory=list)
    open_by_department: list[tuple[str, list[SlipRow]]] = field(default_factory=list)
    to_check: list[SlipRow] = field(default_factory=list)
    checklist: str = ""
    own_checklist: bool = False
    may_edit: bool = False


@dataclass(frozen=True)
class ItemRow:
    n: int
    area: str
    item: str
    department: str
    result: str  # passed, failed, or "" (not checked)
    note: str
    photos: int
    ticket_id: int | None
    number: str
    status: str


@dataclass(frozen=True)
class RoundView:
    round: InspectionRound
    community: Community
    items: list[ItemRow]
    standing: rules.Standing


def _communities(ctx: Context) -> list[int | None]:
    """The communities whose rounds and slips the sender sees: their desk's and managers'
    (None: every community, for a company-wide manager)."""
    return [m.community_id for m in ctx.staff if m.active and sees_all_departments(m)]


async def _visible(ctx: Context) -> list[Community]:
    scope = _communities(ctx)
    if not scope:
        return []
    query = select(Community).order_by(col(Community.id))
    if None not in scope:
        query = query.where(col(Community.id).in_([c for c in scope if c is not None]))
    return list((await ctx.session.exec(query)).all())


def _manages(ctx: Context, community_id: int) -> bool:
    return any(
        m.active and m.role in MANAGERS and m.community_id in (None, community_id)
        for m in ctx.staff
    )


async def _names(ctx: Context, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    found = await ctx.session.exec(select(StaffMember).where(col(StaffMember.id).in_(ids)))
    return {m.id or 0: m.name for m in found.all()}


def _slip_row(ctx: Context, ticket: Ticket, names: dict[int, str]) -> SlipRow:
    answers = ticket.details.get("answers") or []
    return SlipRow(
        ticket=ticket,
        item=str(ticket.details.get("item", ticket.description)),
        area=str(ticket.details.get("area", "hygiene")),
        age_hours=int((ctx.now - ticket.created_at).total_seconds() // 3600),
        overdue=ticket.due_at is not None and ticket.due_at < ctx.now,
        assignee=names.get(ticket.assignee_id or 0, ""),
        answer=str(answers[-1].get("note", "")) if answers else "",
    )


async def desk_page(ctx: Context) -> list[CommunityView]:
    shown: list[CommunityView] = []
    today = local_day_start(ctx)
    for community in await _visible(ctx):
        assert community.id is not None
        view = CommunityView(community=community, may_edit=_manages(ctx, community.id))
        rounds = (
            await ctx.session.exec(
                select(InspectionRound)
                .where(
                    InspectionRound.community_id == community.id,
                    col(InspectionRound.started_at) >= today - timedelta(days=RECENT_DAYS),
                )
                .order_by(col(InspectionRound.started_at).desc())
                .limit(RECENT_ROUNDS)
            )
        ).all()
        for found in rounds:
            where = rules.standing(found.items, found.results)
            view.rounds.append(
                RoundRow(
                    found,
                    len(found.items),
                    where.passed,
                    where.failed,
                    where.unchecked,
                    found.started_at >= today,
                )
            )
        slips = (
            await ctx.session.exec(
                select(Ticket)
                .where(
                    Ticket.community_id == community.id,
                    Ticket.kind == KIND,
                    col(Ticket.status).in_([*OPEN, "done"]),
                )
                .order_by(col(Ticket.due_at), col(Ticket.id))
            )
        ).all()
        names = await _names(ctx, {t.assignee_id for t in slips if t.assignee_id})
        by_department: dict[str, list[SlipRow]] = {}
        for ticket in slips:
            row = _slip_row(ctx, ticket, names)
            if ticket.status == "done":
                view.to_check.append(row)
            else:
                by_department.setdefault(ticket.department, []).append(row)
        view.open_by_department = sorted(by_department.items())
        items, own = await checklist_items(ctx.session, ctx.catalogs, community.id)
        view.checklist = editor_text(ctx.catalogs, ctx.locale, items)
        view.own_checklist = own is not None and bool(own.items)
        shown.append(view)
    return shown


async def round_page(ctx: Context, round_id: int) -> RoundView | None:
    """One round with each item's outcome; None when not the sender's to see."""
    found = await ctx.session.get(InspectionRound, round_id)
    if found is None:
        return None
    community = await ctx.session.get(Community, found.community_id)
    scope = _communities(ctx)
    if community is None or not (None in scope or found.community_id in scope):
        return None
    outcome = {int(r["index"]): r for r in found.results}
    ids = [int(r["ticket"]) for r in found.results if r.get("ticket")]
    slips = (
        {t.id: t for t in (await ctx.session.exec(select(Ticket).where(col(Ticket.id).in_(ids))))}
        if ids
        else {}
    )
    items: list[ItemRow] = []
    for index, one in enumerate(found.items):
        result: dict[str, Any] = outcome.get(index, {})
        ticket = slips.get(result.get("ticket")) if result.get("ticket") else None
        items.append(
            ItemRow(
                n=index + 1,
                area=str(one["area"]),
                item=str(one["item"]),
                department=str(one["department"]),
                result=str(result.get("result", "")),
                note=str(result.get("note", "")),
                photos=len(result.get("photos") or []),
                ticket_id=ticket.id if ticket else None,
                number=ticket.number if ticket else "",
                status=ticket.status if ticket else "",
            )
        )
    return RoundView(found, community, items, rules.standing(found.items, found.results))
