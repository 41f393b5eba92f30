"""The supervisor's visit plan (走访计划): "客户服务中心主管按照走访计划，安排相关人员对业主、
住户进行走访或电话访问", with the owner's opinions, the handling and the outcome recorded.

A supervisor (or director) makes a plan (`/visitplan` in chat, or the desk's page): a
title and topic, the units (typed as people type them, several at once, or a whole
building), the days, by phone or in person, and who visits. Each visit is a `visit`
ticket (`V-…`) for the service desk, due at the end of the plan's last day, with its own
card whose "record the result" button asks the opinions, the handling and the outcome.
A visit that needs a follow-up opens a follow-up task (`T-…`) for the department named.
Late visits climb the escalation ladder as any open ticket does (its deadline is the
ticket's `due_at`); the result stays on the ticket, so the unit's history shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import col, select

from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import MANAGERS
from handlers.custody import owner_of
from handlers.directory import (
    closest_units,
    department_chats,
    private_chat,
    unit_by_label,
)
from handlers.followups import open_task
from handlers.rules import visit_plans as rules
from handlers.rules.lifecycle import OPEN
from handlers.rules.phone import mask_phone
from handlers.staffauth import acting_member
from storage import audit, tickets
from storage.models import (
    Building,
    Community,
    Department,
    StaffMember,
    Ticket,
    TicketKind,
    TicketStatus,
    Unit,
    VisitPlan,
)

PLAN_FLOW, RESULT_FLOW = "visitplan", "visit_result"
HOW = ("phone", "visit")
OUTCOMES = ("satisfied", "unsatisfied", "follow_up")
FOLLOW_UP_DEPARTMENTS = ("repair", "service", "security", "cleaning", "greening")
MYSELF = "me"


# ---- who plans --------------------------------------------------------------------------


def planner(ctx: Context, community_id: int | None = None) -> StaffMember | None:
    """The sender's supervisor or director record that may plan (for this community)."""
    for member in ctx.staff:
        if not member.active or member.role not in MANAGERS:
            continue
        if community_id is None or member.community_id in (None, community_id):
            return member
    return None


async def planning_community(ctx: Context) -> Community | None:
    """The community the sender plans for: their own, or the first for a company-wide
    manager."""
    member = planner(ctx)
    if member is None:
        return None
    if member.community_id is not None:
        return await ctx.session.get(Community, member.community_id)
    return (await ctx.session.exec(select(Community).order_by(col(Community.id)))).first()


async def visitors(ctx: Context, community_id: int) -> list[StaffMember]:
    """The service desk's people who may be sent on visits, one record each (a chat one
    before a web login), by name."""
    rows = (
        await ctx.session.exec(
            select(StaffMember)
            .where(
                StaffMember.department == Department.service,
                col(StaffMember.active).is_(True),
                col(StaffMember.role).not_in(MANAGERS),
            )
            .order_by(col(StaffMember.id))
        )
    ).all()
    chosen: dict[str, StaffMember] = {}
    for member in rows:
        if member.community_id not in (None, community_id):
            continue
        kept = chosen.get(member.name)
        if kept is None or (kept.channel == "web" and member.channel != "web"):
            chosen[member.name] = member
    return list(chosen.values())


# ---- reading the units ------------------------------------------------------------------


@dataclass(frozen=True)
class Unknown:
    """A unit or building the plan names that the community does not have."""

    text: str
    near: list[str]


async def resolve_units(
    ctx: Context, community_id: int, text: str
) -> list[tuple[int, str]] | Unknown:
    """The units a typed line names, as (id, label), in order and each once; the first
    name the community does not have, with the nearest labels, otherwise."""
    found: dict[int, str] = {}
    for target in rules.read_targets(text):
        if target.whole_building:
            flats = await _building_units(ctx, community_id, target.building or "")
            if not flats:
                return Unknown(target.text, [])
            found.update((unit.id or 0, unit.label) for unit in flats)
            continue
        unit = await unit_by_label(ctx.session, community_id, target.text)
        if unit is None or unit.id is None:
            near = await closest_units(ctx.session, community_id, target.text, limit=3)
            return Unknown(target.text, [u.label for u in near])
        found[unit.id] = unit.label
    return list(found.items())


async def _building_units(ctx: Context, community_id: int, number: str) -> list[Unit]:
    buildings = (
        await ctx.session.exec(select(Building).where(Building.community_id == community_id))
    ).all()
    ids = [b.id for b in buildings if rules.building_of(b.name) == number]
    if not ids:
        return []
    return list(
        (
            await ctx.session.exec(
                select(Unit).where(col(Unit.building_id).in_(ids)).order_by(col(Unit.label))
            )
        ).all()
    )


# ---- making a plan ----------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRequest:
    """What a plan asks for, however it was typed (chat's flow or the desk's form)."""

    community_id: int
    title: str
    topic: str
    units: list[tuple[int, str]]
    first: date
    last: date
    how: str  # phone, visit
    visitor: int | None  # a staff member's id; None: the planner visits


async def make_plan(ctx: Context, asked: PlanRequest) -> list[Reply]:
    """The plan and a visit ticket per unit, each with its card for the service desk; the
    visitor is told their visits in private."""
    member = planner(ctx, asked.community_id)
    if member is None or member.id is None:
        return [Reply("dialog.not_allowed")]
    visitor = member
    if asked.visitor is not None:
        chosen = await ctx.session.get(StaffMember, asked.visitor)
        allowed = {m.id for m in await visitors(ctx, asked.community_id)}
        if chosen is None or chosen.id not in allowed:
            return [Reply("visitplan.error.visitor")]
        visitor = chosen
    if not asked.units or len(asked.units) > rules.MOST_UNITS:
        return [Reply("visitplan.error.units_many", {"most": rules.MOST_UNITS})]
    plan = VisitPlan(
        community_id=asked.community_id,
        title=asked.title[:200],
        topic=asked.topic[:500],
        made_by=f"staff:{member.id}",
        made_at=ctx.now,
    )
    ctx.session.add(plan)
    await ctx.session.flush()
    due = rules.visit_due(asked.last, ctx.settings.tz)
    pushes: list[Reply] = []
    lines: list[Any] = []
    for unit_id, label in asked.units:
        owner = await owner_of(ctx.session, unit_id)
        ticket = await tickets.create_ticket(
            ctx.session,
            community_id=asked.community_id,
            kind=TicketKind.visit,
            department=Department.service,
            actor=ctx.actor,
            now=ctx.now,
            tz=ctx.settings.tz,
            unit_id=unit_id,
            channel="system",
            description=(asked.topic or asked.title)[:2000],
            contact_name=owner.name if owner else "",
            contact_phone=(owner.phone or "") if owner else "",
            assignee_id=visitor.id,
            due_at=due,
            details={
                "plan": plan.id,
                "title": asked.title[:200],
                "how": asked.how,
                "from": asked.first.isoformat(),
                "to": asked.last.isoformat(),
            },
        )
        pushes += await visit_card(ctx, ticket)
        lines.append(
            Text(
                "visitplan.line",
                {
                    "number": ticket.number,
                    "unit": label,
                    "name": ticket.contact_name or Text("visitplan.no_owner"),
                    "phone": ticket.contact_phone,
                },
            )
        )
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="visit_plan",
        target=f"visit_plan:{plan.id}",
        detail={"units": len(asked.units), "visitor": visitor.id},
        now=ctx.now,
    )
    params = {
        "title": plan.title,
        "count": len(asked.units),
        "days": days_text(asked.first, asked.last),
        "how": Text(f"visitplan.how.{asked.how}"),
        "visitor": visitor.name,
    }
    told: list[Reply] = [Reply("visitplan.made", params)]
    if visitor.id != member.id:
        told.append(
            Reply("visitplan.assigned", {**params, "lines": lines}, to=private_chat(visitor))
        )
    else:
        told.append(Reply("visitplan.mine", {**params, "lines": lines}))
    return [*told, *pushes]


def days_text(first: date, last: date) -> Any:
    if first == last:
        return first
    return Text("visitplan.days", {"first": first, "last": last})


# ---- a visit's card and result ----------------------------------------------------------


async def visit_card(ctx: Context, ticket: Ticket) -> list[Reply]:
    """A visit's card in the service desk's groups: who visits what, by when; while open,
    the button that records the result."""
    unit = await ctx.session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    visitor = await ctx.session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    d = ticket.details
    result = d.get("result") or {}
    params = {
        "number": ticket.number,
        "title": d.get("title", ""),
        "topic": ticket.description,
        "unit": unit.label if unit else "",
        "name": ticket.contact_name or Text("visitplan.no_owner"),
        "phone": mask_phone(ticket.contact_phone),
        "how": Text(f"visitplan.how.{d.get('how', 'visit')}"),
        "due": ticket.due_at,
        "visitor": visitor.name if visitor else Text("card.nobody"),
        "status": Text("visitplan.status.open")
        if ticket.status in OPEN
        else Text(f"status.{ticket.status}"),
        "result": result_text(result) if result else "",
    }
    choices: tuple[Choice, ...] = ()
    if ticket.status in OPEN:
        choices = (Choice(f"flow:{RESULT_FLOW}:{ticket.id}", "visitplan.btn.record"),)
    return [
        Reply("visitplan.card", params, to=chat, card=f"ticket:{ticket.id}", choices=choices)
        for chat in await department_chats(ctx.session, ticket.community_id, ticket.department)
    ]


def result_text(result: dict[str, Any]) -> Text:
    """A visit's result in one line: the outcome, the opinions, the handling."""
    return Text(
        "visitplan.result",
        {
            "outcome": Text(f"visitplan.outcome.{result.get('outcome', 'satisfied')}"),
            "opinions": result.get("opinions") or Text("visitplan.none"),
            "handling": result.get("handling") or Text("visitplan.none"),
            "followup": Text("visitplan.result.followup", {"number": result["followup"]})
            if result.get("followup")
            else "",
        },
    )


async def may_record(ctx: Context, ticket_id: int) -> Ticket | list[Reply]:
    """Whether the sender may record this visit's result: the service desk of its community
    (the visitor among them) or a manager, while the visit is open."""
    ticket = await ctx.session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None or ticket.kind != TicketKind.visit:
        return [Reply("dialog.stale")]
    member = acting_member(ctx, ticket.community_id, Department.service)
    if member is None and not any(m.id == ticket.assignee_id for m in ctx.staff):
        return [Reply("dialog.not_allowed")]
    if ticket.status not in OPEN:
        return [Reply("visitplan.already", {"number": ticket.number})]
    return ticket


async def record_result(
    ctx: Context,
    ticket_id: int,
    *,
    opinions: str,
    handling: str,
    outcome: str,
    department: str | None = None,
) -> list[Reply]:
    """The visit done with its result; a follow-up opens a task for the department; the
    planner hears when the whole plan is done."""
    found = await may_record(ctx, ticket_id)
    if isinstance(found, list):
        return found
    ticket = found
    if outcome not in OUTCOMES:
        return [Reply("dialog.stale")]
    result: dict[str, Any] = {
        "opinions": opinions[:1000],
        "handling": handling[:1000],
        "outcome": outcome,
        "by": ctx.actor,
        "at": ctx.now.isoformat(),
        "late": int(ticket.due_at is not None and ctx.now > ticket.due_at),
    }
    replies: list[Reply] = []
    if outcome == "follow_up":
        chosen = department if department in FOLLOW_UP_DEPARTMENTS else "service"
        unit = await ctx.session.get(Unit, ticket.unit_id) if ticket.unit_id else None
        words = ctx.catalogs.text(
            ctx.catalogs.default_locale,
            "visitplan.followup.task",
            {
                "number": ticket.number,
                "unit": unit.label if unit else "",
                "opinions": opinions or "—",
                "handling": handling or "—",
            },
        )
        task, cards = await open_task(
            ctx,
            community_id=ticket.community_id,
            department=Department(chosen),
            description=words,
            due_at=rules.followup_due(ctx.now),
            unit_id=ticket.unit_id,
            details={"visit": ticket.id},
            contact_name=ticket.contact_name,
            contact_phone=ticket.contact_phone,
        )
        result["followup"] = task.number
        result["department"] = chosen
        replies += cards
    ticket.details = {**ticket.details, "result": result}
    note = ctx.catalogs.text(
        ctx.catalogs.default_locale, "visitplan.result", result_text(result).params
    )
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=ctx.actor,
        action="done",
        now=ctx.now,
        to_status=TicketStatus.done,
        note=note[:2000],
        data=result,
    )
    await audit.record(
        ctx.session, actor=ctx.actor, action="visit_result", target=ticket.number, now=ctx.now
    )
    said = Reply(
        "visitplan.recorded",
        {
            "number": ticket.number,
            "followup": Text("visitplan.recorded.followup", {"number": result["followup"]})
            if result.get("followup")
            else "",
        },
    )
    return [said, *await visit_card(ctx, ticket), *replies, *await _plan_done(ctx, ticket)]


async def _plan_done(ctx: Context, ticket: Ticket) -> list[Reply]:
    plan = await ctx.session.get(VisitPlan, ticket.details.get("plan"))
    if plan is None or plan.status != "open":
        return []
    shown = await plan_progress(ctx, plan)
    if not shown.finished:
        return []
    plan.status = "done"
    ctx.session.add(plan)
    maker = await _staff_of(ctx, plan.made_by)
    if maker is None:
        return []
    return [
        Reply(
            "visitplan.finished",
            {"title": plan.title, "count": shown.total, "late": shown.done_late},
            to=private_chat(maker),
        )
    ]


async def _staff_of(ctx: Context, actor: str) -> StaffMember | None:
    if not actor.startswith("staff:") or not actor[6:].isdigit():
        return None
    return await ctx.session.get(StaffMember, int(actor[6:]))


# ---- progress -----------------------------------------------------------------------------


async def plan_visits(ctx: Context, plan_id: int | None) -> list[Ticket]:
    rows = await ctx.session.exec(
        select(Ticket)
        .where(
            Ticket.kind == TicketKind.visit,
            col(Ticket.details)["plan"].as_integer() == plan_id,
        )
        .order_by(col(Ticket.id))
    )
    return list(rows.all())


async def plan_progress(ctx: Context, plan: VisitPlan) -> rules.Progress:
    visits = await plan_visits(ctx, plan.id)
    return rules.progress(((t.status, t.due_at, t.done_at) for t in visits), ctx.now)


def community_ids(ctx: Context) -> set[int] | None:
    """The communities whose plans the sender sees: their managers' and service desk's
    records'; None for company-wide."""
    ids: set[int] = set()
    for member in ctx.staff:
        if not member.active:
            continue
        if member.role not in MANAGERS and member.department != Department.service:
            continue
        if member.community_id is None:
            return None
        ids.add(member.community_id)
    return ids


async def plans(ctx: Context, limit: int = 30) -> list[tuple[VisitPlan, rules.Progress]]:
    """The latest plans the sender sees, each with its progress."""
    ids = community_ids(ctx)
    query = select(VisitPlan).order_by(col(VisitPlan.made_at).desc(), col(VisitPlan.id).desc())
    if ids is not None:
        if not ids:
            return []
        query = query.where(col(VisitPlan.community_id).in_(ids))
    found = (await ctx.session.exec(query.limit(limit))).all()
    return [(plan, await plan_progress(ctx, plan)) for plan in found]


async def plans_command(ctx: Context, argument: str) -> list[Reply]:
    """`/visitplans`: the latest plans and how far each has got."""
    shown = await plans(ctx, limit=10)
    if community_ids(ctx) == set():
        return [Reply("dialog.not_allowed")]
    if not shown:
        return [Reply("visitplan.list.none")]
    lines = [
        Text(
            "visitplan.list.line",
            {
                "title": plan.title,
                "made": plan.made_at,
                "done": progress.done,
                "total": progress.total,
                "due": progress.due,
                "late": progress.late,
            },
        )
        for plan, progress in shown
    ]
    return [Reply("visitplan.list", {"lines": lines})]


# ---- the desk's pages -----------------------------------------------------------------------


@dataclass
class VisitRow:
    ticket: Ticket
    unit: str
    visitor: str
    late: bool
    result: Any  # the result in words, or ""


@dataclass
class PlanView:
    plan: VisitPlan
    community: Community
    progress: rules.Progress
    made_by: str
    visits: list[VisitRow]
    records: bool  # the viewer may record results


async def plan_view(ctx: Context, plan_id: int) -> PlanView | None:
    """A plan and its visits, for those who see its community's plans; None otherwise."""
    plan = await ctx.session.get(VisitPlan, plan_id)
    ids = community_ids(ctx)
    if plan is None or (ids is not None and plan.community_id not in ids):
        return None
    community = await ctx.session.get(Community, plan.community_id)
    assert community is not None
    visits = await plan_visits(ctx, plan.id)
    staff = {
        m.id: m.name
        for m in (
            await ctx.session.exec(
                select(StaffMember).where(
                    col(StaffMember.id).in_({t.assignee_id for t in visits if t.assignee_id})
                )
            )
        ).all()
    }
    labels = {
        u.id: u.label
        for u in (
            await ctx.session.exec(
                select(Unit).where(col(Unit.id).in_({t.unit_id for t in visits if t.unit_id}))
            )
        ).all()
    }
    maker = await _staff_of(ctx, plan.made_by)
    rows = [
        VisitRow(
            ticket=t,
            unit=labels.get(t.unit_id or 0, ""),
            visitor=staff.get(t.assignee_id or 0, ""),
            late=t.status in OPEN and t.due_at is not None and ctx.now > t.due_at,
            result=result_text(t.details["result"]) if t.details.get("result") else "",
        )
        for t in visits
    ]
    return PlanView(
        plan=plan,
        community=community,
        progress=rules.progress(((t.status, t.due_at, t.done_at) for t in visits), ctx.now),
        made_by=maker.name if maker else "",
        visits=rows,
        records=acting_member(ctx, plan.community_id, Department.service) is not None,
    )


async def plan_from_form(ctx: Context, form: dict[str, str]) -> tuple[dict[str, str], list[Reply]]:
    """A plan made from the desk's form, read as chat's flow reads it: the problems by
    field (nothing made), or what was said."""
    community = await planning_community(ctx)
    if community is None or community.id is None:
        return {"title": "dialog.not_allowed"}, [Reply("dialog.not_allowed")]
    problems: dict[str, str] = {}
    title = form.get("title", "").strip()
    if not title:
        problems["title"] = "dialog.error.empty"
    units: list[tuple[int, str]] = []
    found = (
        await resolve_units(ctx, community.id, form.get("units", ""))
        if form.get("units", "").strip()
        else []
    )
    if isinstance(found, Unknown):
        problems["units"] = "visitplan.web.unknown_unit"
    elif not found:
        problems["units"] = "dialog.error.empty"
    else:
        units = found
    today = ctx.now.astimezone(ctx.settings.tz).date()
    try:
        first, last = rules.read_window(form.get("days", ""), today)
    except rules.WindowError as error:
        problems["days"] = f"visitplan.error.days.{error.reason}"
        first = last = today
    how = form.get("how", "")
    if how not in HOW:
        problems["how"] = "dialog.error.choose"
    who = form.get("who", "")
    visitor = int(who) if who.isdigit() else None
    if problems:
        return problems, []
    asked = PlanRequest(
        community_id=community.id,
        title=title[:200],
        topic=form.get("topic", "").strip()[:500],
        units=units,
        first=first,
        last=last,
        how=how,
        visitor=visitor,
    )
    return {}, await make_plan(ctx, asked)
