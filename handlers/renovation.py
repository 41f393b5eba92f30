"""Renovation (装修): the records, what the reviewers see, and the owner's and the desk's
views.

An owner (or a delegate, with the power of attorney and their ID kept as private papers)
applies with `/renovation` in chat, or the desk files it at the counter: the dates, the
contractor and the person in charge, the plan (text, and photos kept as private
`Document`s of subject `renovation:<id>`), whether the main structure or loads change (the
housing authority's approval attached now or later), the workers, and the renovation
agreement confirmed. One open application per unit. The application is a `renovation`
ticket whose card goes to the service desk and the repair group with the plan's summary,
never the papers. The application itself is in handlers/renovation_apply.py; the decisions
(approve, changes, refuse), the waste fee, the end and the completion check in
handlers/renovation_review.py; what the desk's pages ask in handlers/renovation_pages.py;
the workers' passes in handlers/renovation_passes.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Recipient, Reply, Text
from handlers.directory import department_chats, people_with_role, person_chats
from handlers.policies import for_community
from handlers.staffauth import acting_member, sees_all_departments
from storage import audit
from storage.models import (
    Binding,
    Community,
    Department,
    Document,
    Person,
    Renovation,
    RenovationStatus,
    Role,
    StaffMember,
    Ticket,
    Unit,
)

S = RenovationStatus
OPEN = (S.submitted, S.changes, S.approved, S.inspecting, S.failed)
IN_REVIEW = (S.submitted, S.changes)
IN_WORK = (S.approved, S.inspecting, S.failed)
APPLICANT_ROLES = (Role.owner, Role.delegate)
CHANGES = ("none", "structure", "load", "both")
FLOW = "renovation"


def subject(renovation: Renovation) -> str:
    return f"renovation:{renovation.id}"


# ---- who may do what --------------------------------------------------------------------


def sees_papers(staff: list[StaffMember], community_id: int) -> bool:
    """Private papers are the desk's and the managers' of the community only."""
    return any(
        m.active and m.community_id in (None, community_id) and sees_all_departments(m)
        for m in staff
    )


def desk_member(ctx: Context, community_id: int) -> StaffMember | None:
    """Who approves or refuses: the community's service desk, or a manager."""
    return acting_member(ctx, community_id, Department.service)


def reviewer(ctx: Context, community_id: int) -> StaffMember | None:
    """Who may ask for changes: the desk, the repair department, a manager."""
    return desk_member(ctx, community_id) or acting_member(ctx, community_id, Department.repair)


# ---- reading ----------------------------------------------------------------------------


async def open_of(session: AsyncSession, unit_id: int | None) -> Renovation | None:
    rows = await session.exec(
        select(Renovation).where(Renovation.unit_id == unit_id, col(Renovation.status).in_(OPEN))
    )
    return rows.first()


async def papers(session: AsyncSession, renovation: Renovation) -> list[Document]:
    rows = await session.exec(
        select(Document).where(Document.subject == subject(renovation)).order_by(col(Document.id))
    )
    return list(rows.all())


async def has_authority(session: AsyncSession, renovation: Renovation) -> bool:
    return any(p.kind == "authority" for p in await papers(session, renovation))


async def listed(
    session: AsyncSession, community_ids: list[int], statuses: tuple[str, ...] = OPEN
) -> list[tuple[Renovation, Unit]]:
    rows = await session.exec(
        select(Renovation, Unit)
        .join(Unit, col(Unit.id) == col(Renovation.unit_id))
        .where(
            col(Renovation.community_id).in_(community_ids),
            col(Renovation.status).in_(statuses),
        )
        .order_by(col(Renovation.starts), col(Unit.label))
    )
    return [(r, u) for r, u in rows.all()]


def workers_of(ticket: Ticket | None) -> list[tuple[str, str]]:
    return [(str(n), str(p)) for n, p in (ticket.details.get("workers", []) if ticket else [])]


def local_today(ctx: Context) -> date:
    return ctx.now.astimezone(ctx.settings.tz).date()


def record(ctx: Context, renovation: Renovation, event: str, **data: Any) -> None:
    entry = {"at": ctx.now.isoformat(), "by": ctx.actor, "event": event, **data}
    renovation.history = [*renovation.history, entry]
    ctx.session.add(renovation)


async def audited(ctx: Context, renovation: Renovation, action: str, **detail: Any) -> None:
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action=f"renovation_{action}",
        target=subject(renovation),
        detail={"unit_id": renovation.unit_id, "status": renovation.status, **detail},
        now=ctx.now,
    )


PAPER_KINDS = ("plan", "authority", "attorney", "delegate_id")


async def add_paper(
    ctx: Context,
    renovation: Renovation,
    kind: str,
    file_ref: str = "",
    person_id: int | None = None,
    stored_path: str | None = None,
) -> Document:
    """Keep a photo of a paper (the plan, the authority's approval, a power of attorney, the
    delegate's ID) as a private document of the renovation."""
    paper = Document(
        community_id=renovation.community_id,
        unit_id=renovation.unit_id,
        person_id=person_id or renovation.applicant_id,
        subject=subject(renovation),
        kind=kind,
        channel=ctx.msg.channel,
        file_ref=file_ref[:300],
        stored_path=stored_path,
        added_by=ctx.actor,
        at=ctx.now,
    )
    ctx.session.add(paper)
    record(ctx, renovation, "paper", kind=kind)
    await ctx.session.flush()
    return paper


def changes_flags(value: str) -> tuple[bool, bool]:
    """(structural, load_increase) from the answer `changes:<none|structure|load|both>`."""
    kind = value.removeprefix("changes:")
    return kind in ("structure", "both"), kind in ("load", "both")


def changes_text(structural: bool, load: bool) -> Text:
    kind = {(False, False): "none", (True, False): "structure", (False, True): "load"}.get(
        (structural, load), "both"
    )
    return Text(f"reno.changes.{kind}")


# ---- cards -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnRenovation(Action):
    renovation: int


@dataclass(frozen=True)
class Approve(OnRenovation):
    name: ClassVar[str] = "reno_ok"


@dataclass(frozen=True)
class Cancel(OnRenovation):
    name: ClassVar[str] = "reno_cancel"
    private: ClassVar[bool] = True


@dataclass(frozen=True)
class Completed(OnRenovation):
    """The owner reports the work done."""

    name: ClassVar[str] = "reno_done"
    private: ClassVar[bool] = True


@dataclass(frozen=True)
class Passed(OnRenovation):
    """The repair group's completion check found nothing to redo."""

    name: ClassVar[str] = "reno_passed"


def flow_choice(flow: str, renovation: Renovation, key: str) -> Choice:
    return Choice(f"flow:{flow}:{renovation.id}", key)


async def card_params(ctx: Context, renovation: Renovation) -> dict[str, Any]:
    """The renovation as staff see it in chat: the plan's summary, never the papers."""
    unit = await ctx.session.get(Unit, renovation.unit_id)
    ticket = await ctx.session.get(Ticket, renovation.ticket_id) if renovation.ticket_id else None
    applicant = await ctx.session.get(Person, renovation.applicant_id)
    kept = await papers(ctx.session, renovation)
    hours = (
        await for_community(ctx.session, ctx.settings, renovation.community_id)
    ).renovation_hours
    return {
        "number": ticket.number if ticket else "",
        "unit": unit.label if unit else "",
        "applicant": applicant.name if applicant else "",
        "starts": renovation.starts,
        "ends": renovation.ends,
        "hours": hours,
        "contractor": renovation.contractor,
        "foreman": renovation.foreman,
        "phone": renovation.foreman_phone,
        "count": renovation.workers,
        "plan": renovation.plan[:300],
        "files": sum(1 for p in kept if p.kind == "plan"),
        "changes": changes_text(renovation.structural, renovation.load_increase),
        "authority": Text(
            "reno.authority.attached"
            if any(p.kind == "authority" for p in kept)
            else "reno.authority.missing"
            if renovation.structural or renovation.load_increase
            else "reno.authority.none"
        ),
        "status": Text(f"reno.status.{renovation.status}"),
        "permit": renovation.permit_number or "—",
    }


def review_buttons(renovation: Renovation) -> tuple[Choice, ...]:
    if renovation.status != S.submitted:
        return ()
    return (
        Approve(renovation.id or 0).choice("reno.btn.approve"),
        flow_choice("renovation_changes", renovation, "reno.btn.changes"),
        flow_choice("renovation_refuse", renovation, "reno.btn.refuse"),
    )


async def reviewer_chats(session: AsyncSession, community_id: int) -> list[Recipient]:
    desk = await department_chats(session, community_id, Department.service)
    desk = desk or await people_with_role(session, community_id, "supervisor")
    return [*desk, *await department_chats(session, community_id, Department.repair)]


async def review_cards(ctx: Context, renovation: Renovation) -> list[Reply]:
    """The card in the desk's and the repair group's chats, drawn as it stands now (the
    same card edited in place after each decision)."""
    params = await card_params(ctx, renovation)
    buttons = review_buttons(renovation)
    return [
        Reply(
            "reno.staff.card",
            params,
            choices=buttons,
            to=chat,
            card=f"renovation:{renovation.id}:review",
        )
        for chat in await reviewer_chats(ctx.session, renovation.community_id)
    ]


async def ticket_cards(ctx: Context, ticket: Ticket) -> list[Reply]:
    """A renovation's card drawn again from its ticket (`/tasks`, a card refreshed)."""
    rows = await ctx.session.exec(select(Renovation).where(Renovation.ticket_id == ticket.id))
    found = rows.first()
    return await review_cards(ctx, found) if found else []


async def tell_applicant(ctx: Context, renovation: Renovation, reply: Reply) -> list[Reply]:
    """Answered here while the applicant writes; in their own chats otherwise."""
    if ctx.person is not None and ctx.person.id == renovation.applicant_id:
        return [reply]
    chats = await person_chats(ctx.session, renovation.applicant_id)
    if not chats:
        chats = await owner_chats(ctx.session, renovation.unit_id)
    return [
        Reply(reply.key, reply.params, choices=reply.choices, photo=reply.photo, to=chat)
        for chat in chats
    ]


async def owner_chats(session: AsyncSession, unit_id: int) -> list[Recipient]:
    owners = await session.exec(
        select(Binding.person_id).where(Binding.unit_id == unit_id, Binding.role == Role.owner)
    )
    chats: list[Recipient] = []
    for person_id in owners.all():
        chats.extend(await person_chats(session, person_id))
    return chats


# ---- views ---------------------------------------------------------------------------------


def owner_buttons(renovation: Renovation, authority_missing: bool) -> tuple[Choice, ...]:
    buttons: list[Choice] = []
    if renovation.status == S.changes:
        buttons.append(flow_choice(FLOW, renovation, "reno.btn.resubmit"))
    if authority_missing and renovation.status in IN_REVIEW:
        buttons.append(flow_choice("renovation_authority", renovation, "reno.btn.authority"))
    if renovation.status in IN_REVIEW:
        buttons.append(Cancel(renovation.id or 0).choice("reno.btn.cancel"))
    if renovation.status in (S.approved, S.failed):
        buttons.append(Completed(renovation.id or 0).choice("reno.btn.completed"))
    return tuple(buttons)


async def owner_view(ctx: Context, renovation: Renovation, unit: Unit) -> Reply:
    params = await card_params(ctx, renovation)
    missing = (renovation.structural or renovation.load_increase) and not await has_authority(
        ctx.session, renovation
    )
    return Reply("reno.owner.view", params, choices=owner_buttons(renovation, missing))


async def desk_list(ctx: Context) -> list[Reply]:
    """Staff's `/renovation`: the open renovations of the communities they work for."""
    communities = await staff_communities(ctx)
    lines: list[Any] = []
    for renovation, unit in await listed(ctx.session, communities):
        lines.append(
            Text(
                "reno.list.line",
                {
                    "unit": unit.label,
                    "starts": renovation.starts,
                    "ends": renovation.ends,
                    "status": Text(f"reno.status.{renovation.status}"),
                },
            )
        )
    if not lines:
        return [Reply("reno.list.none")]
    joined: Any = lines[0]
    for line in lines[1:]:
        joined = Text("reno.join", {"a": joined, "b": line})
    return [Reply("reno.list", {"count": len(lines), "lines": joined})]


async def staff_communities(ctx: Context) -> list[int]:
    """The communities the sender works for; all of them for a company-wide manager."""
    mine = {m.community_id for m in ctx.staff if m.active}
    if None in mine:
        rows = await ctx.session.exec(select(Community).order_by(col(Community.id)))
        return [c.id for c in rows.all() if c.id is not None]
    return sorted(c for c in mine if c is not None)
