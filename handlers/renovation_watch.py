"""The watched work of a renovation in progress (装修巡查): checks and violations recorded
by the repair and security departments, neighbours' complaints linked to it, and the
owner's request to extend or finish early.

A check is a `RenovationCheck` with who, when, the department, the violation's kind (or
none), a note and photos. A violation is told to the owner (the applicant) and to the
service desk, which phones the person in charge (the foreman has a phone, no chat); a
check without one is only recorded. A complaint about renovation noise from a unit in the
same building as a renovation in progress is linked to it (a check row with the
complaint's ticket) and the repair and security groups are told; the complaint goes on as
any other. The owner asks for a new last day; the service desk approves or refuses, and
the workers' passes follow the new day (handlers/renovation_passes.py `move_end`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import renovation_passes
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.i18n import Catalogs
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Reply, Text
from handlers.directory import bound_units, department_chats, person_chats, unit_by_label
from handlers.staffauth import acting_member
from storage import audit
from storage.models import (
    Department,
    Person,
    Renovation,
    RenovationCheck,
    RenovationStatus,
    StaffMember,
    Ticket,
    Unit,
    WorkerPass,
)

VIOLATIONS = ("noise", "structural", "waste", "other")
FLOW = "renocheck_record"
CHANGE_FLOW = "renochange"
WATCHERS = (Department.repair, Department.security)


# ---- who watches ---------------------------------------------------------------------------


def watcher(ctx: Context, community_id: int) -> StaffMember | None:
    """The sender's record that may record checks here: repair, security or a manager."""
    for department in WATCHERS:
        member = acting_member(ctx, community_id, department)
        if member is not None:
            return member
    return None


def _communities(ctx: Context) -> list[int | None]:
    return sorted(
        {m.community_id for m in ctx.staff if m.active}, key=lambda c: -1 if c is None else c
    )


async def in_progress(session: AsyncSession, unit_id: int | None) -> Renovation | None:
    """The unit's approved renovation (the one at work), if any."""
    found = await session.exec(
        select(Renovation)
        .where(Renovation.unit_id == unit_id, Renovation.status == RenovationStatus.approved)
        .order_by(col(Renovation.id).desc())
    )
    return found.first()


async def _unit_typed(ctx: Context, label: str) -> Unit | None:
    for community_id in _communities(ctx):
        found = await unit_by_label(ctx.session, community_id, label)
        if found is not None:
            return found
    return None


async def _card(ctx: Context, renovation: Renovation) -> dict[str, Any]:
    unit = await ctx.session.get(Unit, renovation.unit_id)
    owner = (
        await ctx.session.get(Person, renovation.applicant_id) if renovation.applicant_id else None
    )
    return {
        "unit": unit.label if unit else "",
        "owner": owner.name if owner else "",
        "contractor": renovation.contractor,
        "foreman": renovation.foreman,
        "foreman_phone": renovation.foreman_phone,
        "from": renovation.starts,
        "to": renovation.ends,
        "permit": renovation.permit_number or "-",
    }


# ---- checks and violations ----------------------------------------------------------------


async def renocheck_command(ctx: Context, argument: str) -> list[Reply]:
    """`/renocheck <unit>`: the unit's renovation at work and a "record" entry."""
    if not argument.strip():
        return [Reply("renowatch.usage")]
    unit = await _unit_typed(ctx, argument.strip())
    if unit is None:
        return [Reply("renowatch.unknown_unit", {"unit": argument.strip()[:50]})]
    if watcher(ctx, unit.community_id) is None:
        return [Reply("dialog.not_allowed")]
    renovation = await in_progress(ctx.session, unit.id)
    if renovation is None:
        return [Reply("renowatch.none", {"unit": unit.label})]
    choice = Choice(f"flow:{FLOW}:{renovation.id}", "renowatch.record")
    return [Reply("renowatch.card", await _card(ctx, renovation), choices=(choice,))]


async def start_record(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """The record flow, for a renovation still at work, by its watchers only."""
    ref = row_id(initial or "")
    renovation = await ctx.session.get(Renovation, ref) if ref is not None else None
    if renovation is None:
        return [Reply("dialog.stale")]
    if watcher(ctx, renovation.community_id) is None:
        return [Reply("dialog.not_allowed")]
    if renovation.status != RenovationStatus.approved:
        return [Reply("renowatch.not_at_work")]
    unit = await ctx.session.get(Unit, renovation.unit_id)
    return {"_renovation": renovation.id, "_unit": unit.label if unit else ""}


async def record(
    ctx: Context, renovation_id: int, violation: str, note: str, photos: list[str]
) -> list[Reply]:
    """A check (violation "") or a violation with its note and photos; a violation is told
    to the owner and the service desk (who phones the person in charge)."""
    renovation = await ctx.session.get(Renovation, renovation_id)
    if renovation is None:
        return [Reply("dialog.stale")]
    member = watcher(ctx, renovation.community_id)
    if member is None:
        return [Reply("dialog.not_allowed")]
    kind = violation if violation in VIOLATIONS else ""
    check = RenovationCheck(
        renovation_id=renovation_id,
        at=ctx.now,
        by=ctx.actor[:100],
        department=str(member.department or member.role)[:16],
        violation=kind,
        note=note[:2000],
        photos=photos,
    )
    ctx.session.add(check)
    await ctx.session.flush()
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="renovation_violation" if kind else "renovation_check",
        target=renovation.permit_number or f"renovation:{renovation.id}",
        detail={"renovation_id": renovation.id, "check_id": check.id, "violation": kind},
        now=ctx.now,
    )
    card = {
        **await _card(ctx, renovation),
        "kind": Text(f"renowatch.kind.{kind or 'none'}"),
        "note": note or "-",
        "photos": len(photos),
        "by": member.name,
    }
    if not kind:
        return [Reply("renowatch.recorded", card)]
    _history(renovation, ctx, "violation", check=check.id, kind=kind)
    owner = [
        Reply("renowatch.violation.owner", card, photo=photos[0] if photos else None, to=chat)
        for chat in await person_chats(ctx.session, renovation.applicant_id)
    ]
    applicant = (
        await ctx.session.get(Person, renovation.applicant_id) if renovation.applicant_id else None
    )
    call = (
        Text("renowatch.call.foreman", card)
        if owner
        else Text(
            "renowatch.call.both",
            {**card, "owner_phone": (applicant.phone if applicant else "") or "-"},
        )
    )
    desk = [
        Reply(
            "renowatch.violation.desk", {**card, "call": call}, to=chat, urgent=kind == "structural"
        )
        for chat in await department_chats(ctx.session, renovation.community_id, Department.service)
    ]
    told = Text("renowatch.told.owner" if owner else "renowatch.told.no_owner")
    return [Reply("renowatch.violation.recorded", {**card, "told": told}), *owner, *desk]


def _history(renovation: Renovation, ctx: Context, event: str, **data: Any) -> None:
    entry = {"at": ctx.now.isoformat(), "by": ctx.actor, "event": event, **data}
    renovation.history = [*renovation.history, entry]
    ctx.session.add(renovation)


# ---- neighbours' complaints -----------------------------------------------------------------


def about_renovation(catalogs: Catalogs, text: str) -> bool:
    """Whether a complaint's words speak of renovation work (装修, 电钻, …)."""
    words = catalogs.words("renowatch.words.complaint")
    lowered = text.lower()
    return any(word and word.lower() in lowered for word in words)


async def link_complaint(ctx: Context, ticket: Ticket) -> list[Reply]:
    """A complaint about renovation from a unit in a building with a renovation at work
    (not the complainant's own): linked to it, and its watchers told."""
    if not about_renovation(ctx.catalogs, ticket.description or ""):
        return []
    unit = await ctx.session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    if unit is None and ctx.person is not None:
        bound = await bound_units(ctx.session, ctx.person.id)
        unit = next((u for u, _ in bound if u.community_id == ticket.community_id), None)
    if unit is None:
        return []
    rows = await ctx.session.exec(
        select(Renovation)
        .join(Unit, col(Unit.id) == col(Renovation.unit_id))
        .where(
            Unit.building_id == unit.building_id,
            Renovation.status == RenovationStatus.approved,
            Renovation.unit_id != unit.id,
        )
        .order_by(col(Renovation.id))
    )
    renovations = list(rows.all())
    if not renovations:
        return []
    replies: list[Reply] = []
    for renovation in renovations:
        ctx.session.add(
            RenovationCheck(
                renovation_id=renovation.id or 0,
                at=ctx.now,
                by=ctx.actor[:100],
                department=Department.service,
                violation="",
                note=(ticket.description or "")[:2000],
                photos=list(ticket.details.get("photos") or []),
                ticket_id=ticket.id,
            )
        )
        card = {
            **await _card(ctx, renovation),
            "number": ticket.number,
            "from_unit": unit.label,
            "what": (ticket.description or "")[:200],
        }
        for department in WATCHERS:
            for chat in await department_chats(ctx.session, renovation.community_id, department):
                replies.append(Reply("renowatch.complaint_linked", card, to=chat))
    ids = [r.id for r in renovations]
    ticket.details = {**ticket.details, "renovation_id": ids[0], "renovation_ids": ids}
    ctx.session.add(ticket)
    await ctx.session.flush()
    return replies


# ---- extension or early finish ------------------------------------------------------------------


async def own_renovation(ctx: Context) -> Renovation | None:
    if ctx.person is None:
        return None
    found = await ctx.session.exec(
        select(Renovation)
        .where(
            Renovation.applicant_id == ctx.person.id,
            Renovation.status == RenovationStatus.approved,
        )
        .order_by(col(Renovation.id).desc())
    )
    return found.first()


@dataclass(frozen=True)
class OnChange(Action):
    renovation: int
    ends: int  # the new last day, as a proleptic ordinal (date.toordinal)


@dataclass(frozen=True)
class ApproveChange(OnChange):
    name: ClassVar[str] = "reno_end_ok"


@dataclass(frozen=True)
class RefuseChange(OnChange):
    name: ClassVar[str] = "reno_end_no"


async def request_change(ctx: Context, ends: date, reason: str) -> list[Reply]:
    """The owner asks for a new last day; the service desk decides."""
    renovation = await own_renovation(ctx)
    if renovation is None or renovation.id is None:
        return [Reply("renowatch.change.none")]
    _history(renovation, ctx, "end_change_asked", ends=ends.isoformat(), reason=reason)
    await ctx.session.flush()
    card = {
        **await _card(ctx, renovation),
        "ends": ends,
        "reason": reason or "-",
        "what": Text(
            "renowatch.change.extend" if ends > renovation.ends else "renowatch.change.early"
        ),
    }
    buttons = (
        ApproveChange(renovation.id, ends.toordinal()).choice("renowatch.change.approve"),
        RefuseChange(renovation.id, ends.toordinal()).choice("renowatch.change.refuse"),
    )
    desk = [
        Reply(
            "renowatch.change.desk",
            card,
            choices=buttons,
            to=chat,
            card=f"renochange:{renovation.id}",
        )
        for chat in await department_chats(ctx.session, renovation.community_id, Department.service)
    ]
    return [Reply("renowatch.change.asked", card), *desk]


async def approve_change(ctx: Context, action: ApproveChange) -> list[Reply]:
    return await _decide_change(ctx, action, approve=True)


async def refuse_change(ctx: Context, action: RefuseChange) -> list[Reply]:
    return await _decide_change(ctx, action, approve=False)


async def _decide_change(ctx: Context, action: OnChange, approve: bool) -> list[Reply]:
    renovation = await ctx.session.get(Renovation, action.renovation)
    if renovation is None:
        return [Reply("dialog.stale")]
    member = acting_member(ctx, renovation.community_id, Department.service)
    if member is None:
        return [Reply("dialog.not_allowed")]
    ends = date.fromordinal(action.ends)
    asked = [
        h
        for h in renovation.history
        if h.get("event") == "end_change_asked" and h.get("ends") == ends.isoformat()
    ]
    decided = [
        h
        for h in renovation.history
        if h.get("event") in ("end_changed", "end_change_refused")
        and h.get("ends") == ends.isoformat()
    ]
    if not asked or decided or renovation.status != RenovationStatus.approved:
        return [Reply("renowatch.change.already")]
    was = renovation.ends
    if approve:
        renovation.ends = ends
        await renovation_passes.move_end(ctx, renovation, ends)
    _history(
        renovation,
        ctx,
        "end_changed" if approve else "end_change_refused",
        ends=ends.isoformat(),
        was=was.isoformat(),
    )
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="renovation_end_changed" if approve else "renovation_end_change_refused",
        target=renovation.permit_number or f"renovation:{renovation.id}",
        detail={"renovation_id": renovation.id, "ends": ends.isoformat(), "was": was.isoformat()},
        now=ctx.now,
    )
    await ctx.session.flush()
    card = {**await _card(ctx, renovation), "ends": ends, "was": was, "by": member.name}
    key = "renowatch.change.approved" if approve else "renowatch.change.refused"
    owner = [
        Reply(key, card, to=chat)
        for chat in await person_chats(ctx.session, renovation.applicant_id)
    ]
    security = (
        [
            Reply("renowatch.change.gate", card, to=chat)
            for chat in await department_chats(
                ctx.session, renovation.community_id, Department.security
            )
        ]
        if approve
        else []
    )
    done = Reply(
        "renowatch.change.decided",
        {**card, "outcome": Text(key + ".short")},
        card=f"renochange:{renovation.id}",
    )
    return [done, *owner, *security]


# ---- the renovation page's section -------------------------------------------------------------


async def watch_view(session: AsyncSession, renovation_id: int) -> dict[str, Any]:
    """What the renovation page's watch section lists: the checks and violations, the
    linked complaints and the workers' passes with their gate checks."""
    checks = list(
        (
            await session.exec(
                select(RenovationCheck)
                .where(RenovationCheck.renovation_id == renovation_id)
                .order_by(col(RenovationCheck.at).desc(), col(RenovationCheck.id).desc())
            )
        ).all()
    )
    ticket_ids = [c.ticket_id for c in checks if c.ticket_id is not None]
    numbers: dict[int, str] = {}
    if ticket_ids:
        rows = await session.exec(select(Ticket).where(col(Ticket.id).in_(ticket_ids)))
        numbers = {t.id: t.number for t in rows.all() if t.id is not None}
    passes = list(
        (
            await session.exec(
                select(WorkerPass)
                .where(WorkerPass.renovation_id == renovation_id)
                .order_by(col(WorkerPass.id))
            )
        ).all()
    )
    return {
        "checks": [
            {
                "at": c.at,
                "by": c.by,
                "department": c.department,
                "violation": c.violation,
                "note": c.note,
                "photos": len(c.photos),
            }
            for c in checks
            if c.ticket_id is None
        ],
        "violations": sum(1 for c in checks if c.violation),
        "complaints": [
            {
                "at": c.at,
                "number": numbers.get(c.ticket_id or 0, ""),
                "ticket_id": c.ticket_id,
                "note": c.note,
            }
            for c in checks
            if c.ticket_id is not None
        ],
        "passes": [
            {
                "code": p.code,
                "name": p.name,
                "valid_from": p.valid_from,
                "valid_to": p.valid_to,
                "status": p.status,
                "checks": len(p.checks),
                "last": p.checks[-1] if p.checks else None,
            }
            for p in passes
        ],
    }
