"""Visitors at the gate: the guard's check of a code, arrival, departure, and today's list.

`/visitor CODE` (security staff, the service desk, managers of the visit's community;
another community's code reads as unknown) shows the visitor's card and the verdict
(handlers/rules/visitors.py `verdict`), with 进入 / 不放行 while the visitor may come in
and 离开 once inside. Arrival is recorded with who and when (history and audit) and the
host is told; departure (`离开` or `/visitor 离开 CODE`) tells the guard the minutes
parked beyond the free time when the visitor came by car. `/visitor` alone lists today's
expected and in-site visitors. Visits nobody came for expire at the end of their window
(a sweep); those still inside after it are shown as overstaying.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from sqlmodel import col, or_, select

from handlers import fees
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import MANAGERS
from handlers.rules import visitors as rules
from handlers.staffauth import acting_member
from handlers.visitors import card, policy_for, remember, to_host
from storage.models import Community, Department, StaffMember, Unit, Visit

LEAVE_WORDS = ("离开", "离场", "leave", "out")
LIMIT = 300  # a day's visitors of a few communities


def guards(ctx: Context) -> bool:
    """Whether the sender works the gate: security staff, the service desk, managers."""
    return any(
        m.active
        and (m.role in MANAGERS or m.department in (Department.security, Department.service))
        for m in ctx.staff
    )


def gate_member(ctx: Context, community_id: int) -> StaffMember | None:
    return acting_member(ctx, community_id, Department.security) or acting_member(
        ctx, community_id, Department.service
    )


@dataclass(frozen=True)
class VisitorIn(Action):
    """The guard lets the visitor in."""

    name: ClassVar[str] = "visit_in"
    visit: int


@dataclass(frozen=True)
class VisitorOut(Action):
    """The visitor leaves."""

    name: ClassVar[str] = "visit_out"
    visit: int


@dataclass(frozen=True)
class TurnAway(Action):
    """The guard does not let the visitor in."""

    name: ClassVar[str] = "visit_no"
    visit: int


@dataclass(frozen=True)
class Checked:
    """What the check found (nothing recorded): `verdict` is one of `rules.VERDICTS`, or
    `unknown` (no such code, or another community's) or `not_allowed`."""

    verdict: str
    reply: Reply
    visit: Visit | None = None
    card: Mapping[str, Any] | None = None


async def verdict_of(ctx: Context, visit: Visit) -> str:
    policy = await policy_for(ctx, visit.community_id)
    return rules.verdict(visit.status, visit.expected_at, visit.leaves_by, ctx.now, policy)


def buttons(visit: Visit, verdict: str) -> tuple[Choice, ...]:
    if rules.may_enter(verdict):
        return (
            VisitorIn(visit.id or 0).choice("visitor.let_in"),
            TurnAway(visit.id or 0).choice("visitor.turn_away"),
        )
    if verdict == rules.INSIDE:
        return (VisitorOut(visit.id or 0).choice("visitor.leave"),)
    return ()


async def gate_card(ctx: Context, visit: Visit, verdict: str) -> dict[str, Any]:
    policy = await policy_for(ctx, visit.community_id)
    opens = rules.opens_at(visit.expected_at, policy)
    return {
        **await card(ctx, visit),
        "verdict": Text(f"visitor.verdict.{verdict}", {"opens": opens, "to": visit.leaves_by}),
    }


async def by_code(ctx: Context, code: str) -> Visit | None:
    wanted = rules.normalise_code(code)
    return (await ctx.session.exec(select(Visit).where(Visit.code == wanted))).first()


async def checked(ctx: Context, code: str) -> Checked:
    """The guard's check of a visitor's code (chat's `/visitor CODE` and the desk's pages)."""
    if not guards(ctx):
        return Checked("not_allowed", Reply("dialog.not_allowed"))
    wanted = rules.normalise_code(code)
    unknown = Reply("visitor.unknown", {"code": wanted})
    visit = await by_code(ctx, wanted)
    if visit is None or gate_member(ctx, visit.community_id) is None:
        return Checked("unknown", unknown)  # none, or another community's
    verdict = await verdict_of(ctx, visit)
    shown = await gate_card(ctx, visit, verdict)
    reply = Reply("visitor.check", shown, choices=buttons(visit, verdict))
    return Checked(verdict, reply, visit, shown)


async def visitor_command(ctx: Context, argument: str) -> list[Reply]:
    """`/visitor CODE`: the check; `/visitor 离开 CODE`: departure; `/visitor`: today."""
    if not guards(ctx):
        return [Reply("dialog.not_allowed")]
    first, _, rest = argument.strip().partition(" ")
    if not first:
        return await today_reply(ctx)
    if first.lower() in LEAVE_WORDS:
        found = await checked(ctx, rest)
        if found.visit is None:
            return [found.reply if rest.strip() else Reply("visitor.usage")]
        return await leave(ctx, VisitorOut(found.visit.id or 0))
    found = await checked(ctx, argument)
    if found.visit is not None:
        await remember(ctx, found.visit, "checked", verdict=found.verdict)
    return [found.reply]


async def _found(ctx: Context, visit_id: int) -> Visit | Reply:
    visit = await ctx.session.get(Visit, visit_id)
    if visit is None:
        return Reply("dialog.stale")
    if gate_member(ctx, visit.community_id) is None:
        return Reply("dialog.not_allowed")
    return visit


async def let_in(ctx: Context, action: VisitorIn) -> list[Reply]:
    """The visitor goes in: checked again now, recorded, the host told."""
    visit = await _found(ctx, action.visit)
    if isinstance(visit, Reply):
        return [visit]
    verdict = await verdict_of(ctx, visit)
    if not rules.may_enter(verdict):
        shown = await gate_card(ctx, visit, verdict)
        return [Reply("visitor.let_in.refused", shown, choices=buttons(visit, verdict))]
    was = visit.status
    visit.status, visit.arrived_at = rules.ARRIVED, ctx.now
    await remember(ctx, visit, "arrived", was=was)
    shown = await card(ctx, visit)
    # The host expects their visitor: told at once, whatever the hour.
    told = await to_host(ctx, visit, "visitor.arrived_notice", shown, urgent=True)
    return [Reply("visitor.let_in.done", shown, choices=buttons(visit, rules.INSIDE)), *told]


async def turn_away(ctx: Context, action: TurnAway) -> list[Reply]:
    """The guard does not let the visitor in (recorded; a walk-in is refused)."""
    visit = await _found(ctx, action.visit)
    if isinstance(visit, Reply):
        return [visit]
    if visit.status in (rules.ARRIVED, rules.LEFT):
        return [Reply("visitor.already_decided", await card(ctx, visit))]
    if visit.status == rules.ASKING:
        visit.status = rules.REFUSED
    await remember(ctx, visit, "turned_away")
    return [Reply("visitor.turned_away", await card(ctx, visit))]


async def leave(ctx: Context, action: VisitorOut) -> list[Reply]:
    """The visitor leaves: recorded; with a car, the minutes over the free parking."""
    visit = await _found(ctx, action.visit)
    if isinstance(visit, Reply):
        return [visit]
    if visit.status != rules.ARRIVED or visit.arrived_at is None:
        verdict = await verdict_of(ctx, visit)
        return [Reply("visitor.leave.not_inside", await gate_card(ctx, visit, verdict))]
    policy = await policy_for(ctx, visit.community_id)
    over = rules.minutes_over(visit.arrived_at, ctx.now, policy)
    visit.status, visit.left_at = rules.LEFT, ctx.now
    await remember(ctx, visit, "left", minutes_over=over if visit.plate else 0)
    shown = {**await card(ctx, visit), "free": policy.free_parking_minutes, "over": over}
    if not visit.plate:
        parking: Any = Text("visitor.parking.none")
    elif over:
        parking = Text("visitor.parking.over", shown)
    else:
        parking = Text("visitor.parking.free", shown)
    told = await to_host(ctx, visit, "visitor.left_notice", shown)
    return [Reply("visitor.leave.done", {**shown, "parking": parking}), *told]


# ---- today's list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A visit as the gate's lists show it."""

    id: int
    community: str
    code: str
    name: str
    unit: str
    plate: str
    purpose: str
    companions: int
    expected_at: Any
    leaves_by: Any
    arrived_at: Any
    status: str
    overstaying: bool


def _scope(staff: list[StaffMember]) -> tuple[int, ...] | None:
    active = [m for m in staff if m.active]
    if any(m.community_id is None for m in active):
        return None
    return tuple(sorted({m.community_id for m in active if m.community_id is not None}))


async def rows(ctx: Context, day: date | None = None) -> list[Row]:
    """The day's visitors (expected that day, or inside now) of the communities whose gate
    the sender keeps, and the visits that ended that day."""
    day = day or fees.local_today(ctx)
    scope = _scope(ctx.staff)
    if scope == ():
        return []
    start, end = rules.day_span(day, ctx.settings.tz)
    query = (
        select(Visit, Unit, Community)
        .join(Unit, col(Unit.id) == col(Visit.unit_id))
        .join(Community, col(Community.id) == col(Visit.community_id))
        .where(
            or_(
                (col(Visit.expected_at) >= start) & (col(Visit.expected_at) < end),
                col(Visit.status) == rules.ARRIVED,
                (col(Visit.left_at) >= start) & (col(Visit.left_at) < end),
            )
        )
        .order_by(col(Community.code), col(Visit.expected_at), col(Visit.id))
        .limit(LIMIT)
    )
    if scope is not None:
        query = query.where(col(Visit.community_id).in_(scope))
    found: list[Row] = []
    for visit, unit, community in (await ctx.session.exec(query)).all():
        if gate_member(ctx, visit.community_id) is None:
            continue
        found.append(
            Row(
                id=visit.id or 0,
                community=community.code,
                code=visit.code,
                name=visit.name,
                unit=unit.label,
                plate=visit.plate,
                purpose=visit.purpose,
                companions=visit.companions,
                expected_at=visit.expected_at,
                leaves_by=visit.leaves_by,
                arrived_at=visit.arrived_at,
                status=visit.status,
                overstaying=rules.overstaying(visit.status, visit.leaves_by, ctx.now),
            )
        )
    return found


async def today_reply(ctx: Context) -> list[Reply]:
    """`/visitor` alone: today's expected visitors and those inside."""
    found = await rows(ctx)
    waiting = [r for r in found if r.status in rules.WAITING]
    inside = [r for r in found if r.status == rules.ARRIVED]
    if not waiting and not inside:
        return [Reply("visitor.today.none")]

    def line(row: Row) -> Text:
        key = "visitor.today.overstay" if row.overstaying else "visitor.today.line"
        return Text(
            key,
            {
                "code": row.code,
                "name": row.name,
                "unit": row.unit,
                "from": row.expected_at,
                "to": row.leaves_by,
                "status": Text(f"visitor.status.{row.status}"),
                "plate": row.plate or "-",
            },
        )

    params = {
        "waiting": fees.joined(
            [line(r) for r in waiting], "visitor.join", Text("visitor.today.empty")
        ),
        "inside": fees.joined(
            [line(r) for r in inside], "visitor.join", Text("visitor.today.empty")
        ),
        "expected": len(waiting),
        "in_site": len(inside),
    }
    return [Reply("visitor.today", params)]


# ---- visits nobody came for -----------------------------------------------------------------


async def expire_due(ctx: Context) -> list[Reply]:
    """Each worker round: visits whose window ended with nobody come expire (the code is
    void). Nobody is told: the host sees it in `/visitors`, the gate's list drops it."""
    due = await ctx.session.exec(
        select(Visit)
        .where(
            col(Visit.status).in_((rules.PENDING, rules.EXPECTED)), col(Visit.leaves_by) < ctx.now
        )
        .limit(200)
    )
    for visit in due.all():
        if rules.expires(visit.status, visit.leaves_by, ctx.now):
            was = visit.status
            visit.status = rules.EXPIRED
            visit.history = [
                *visit.history,
                rules.history_entry("expired", "system", ctx.now, was=was),
            ]
            ctx.session.add(visit)
    await ctx.session.flush()
    return []
