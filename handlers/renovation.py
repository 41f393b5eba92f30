"""Renovation (装修): the owner's application, what the reviewers see, and the owner's and
the desk's views.

An owner (or a delegate, with the power of attorney and their ID kept as private papers)
applies with `/renovation` in chat, or the desk files it at the counter: the dates, the
contractor and the person in charge, the plan (text, and photos kept as private
`Document`s of subject `renovation:<id>`), whether the main structure or loads change (the
housing authority's approval attached now or later), the workers, and the renovation
agreement confirmed. One open application per unit. The application is a `renovation`
ticket whose card goes to the service desk and the repair group with the plan's summary,
never the papers. The decisions (approve, changes, refuse), the waste fee, the end and
the completion check are in handlers/renovation_review.py; the workers' passes in
handlers/renovation_passes.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.binding import require_binding
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Recipient, Reply, Text
from handlers.directory import bound_units, department_chats, people_with_role, person_chats
from handlers.policies import for_community
from handlers.rules.phone import normalise_phone
from handlers.staffauth import acting_member, sees_all_departments
from storage import audit, tickets
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
    TicketKind,
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


async def add_paper(
    ctx: Context, renovation: Renovation, kind: str, file_ref: str, person_id: int | None = None
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
        added_by=ctx.actor,
        at=ctx.now,
    )
    ctx.session.add(paper)
    record(ctx, renovation, "paper", kind=kind)
    await ctx.session.flush()
    return paper


# ---- what people type -------------------------------------------------------------------

_WORKER = re.compile(
    r"^\s*(?P<name>[^\d\s,，;；:：]{1,30})\s*[:：]?\s*(?P<phone>[+\d][\d\s-]{6,20})\s*$"
)


def read_workers(text: str, most: int) -> list[tuple[str, str]] | Text:
    """`张三 13900000001；李四 13900000002` (a line, or a separator, each): names with phones,
    at least one and at most the declared number."""
    found: list[tuple[str, str]] = []
    for part in re.split(r"[\n;；,，、]+", text):
        if not part.strip():
            continue
        matched = _WORKER.match(part)
        phone = normalise_phone(matched.group("phone")) if matched else None
        if matched is None or phone is None:
            return Text("reno.error.worker", {"value": part.strip()[:40]})
        found.append((matched.group("name"), phone))
    if not found:
        return Text("reno.error.workers_none")
    if len(found) > most:
        return Text("reno.error.workers_many", {"count": len(found), "most": most})
    return found


def workers_text(workers: list[tuple[str, str]]) -> str:
    return "；".join(f"{name} {phone}" for name, phone in workers)


def read_dates(starts: date, ends: date, today: date) -> Text | None:
    if starts < today:
        return Text("reno.error.past", {"day": starts})
    if ends <= starts:
        return Text("reno.error.ends_before", {"starts": starts})
    return None


def changes_flags(value: str) -> tuple[bool, bool]:
    """(structural, load_increase) from the answer `changes:<none|structure|load|both>`."""
    kind = value.removeprefix("changes:")
    return kind in ("structure", "both"), kind in ("load", "both")


def changes_text(structural: bool, load: bool) -> Text:
    kind = {(False, False): "none", (True, False): "structure", (False, True): "load"}.get(
        (structural, load), "both"
    )
    return Text(f"reno.changes.{kind}")


# ---- the application --------------------------------------------------------------------


async def applicant_units(ctx: Context) -> list[tuple[Unit, str]]:
    """The units the sender may apply for: as an owner or a delegate."""
    links = await bound_units(ctx.session, ctx.person.id if ctx.person else None)
    return [(unit, link.role) for unit, link in links if link.role in APPLICANT_ROLES]


async def one_open_refusal(ctx: Context, unit: Unit, but: int | None = None) -> Reply | None:
    """One open application per unit: the second is refused, pointing at the first."""
    found = await open_of(ctx.session, unit.id)
    if found is None or found.id == but:
        return None
    ticket = await ctx.session.get(Ticket, found.ticket_id) if found.ticket_id else None
    return Reply(
        "reno.already_open",
        {
            "unit": unit.label,
            "number": ticket.number if ticket else "",
            "status": Text(f"reno.status.{found.status}"),
        },
    )


def previous_answers(renovation: Renovation, ticket: Ticket | None) -> dict[str, Any]:
    """What the applicant answered before, offered again on a resubmission."""
    return {
        "starts": renovation.starts.isoformat(),
        "ends": renovation.ends.isoformat(),
        "contractor": renovation.contractor,
        "foreman": renovation.foreman,
        "foreman_phone": renovation.foreman_phone,
        "plan": renovation.plan,
        "count": renovation.workers,
        "workers": workers_text(workers_of(ticket)),
    }


async def begin(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """`/renovation` (or the menu): the desk's list for staff; an owner's open renovation
    shown with its buttons; else a new application. `flow:renovation:<id>` resubmits one
    the reviewers asked changes of, with the earlier answers offered again."""
    if ctx.staff:
        return await desk_list(ctx)
    refusal = await require_binding(ctx)
    if refusal is not None:
        return refusal
    units = await applicant_units(ctx)
    if not units:
        return [Reply("reno.not_owner")]
    if initial and initial.isdigit():
        return await _resubmission(ctx, int(initial), units)
    for unit, _ in units:
        found = await open_of(ctx.session, unit.id)
        if found is not None and len(units) == 1:
            return [await owner_view(ctx, found, unit)]
    answers: dict[str, Any] = {"_roles": {str(u.id): role for u, role in units}}
    if len(units) == 1:
        refused = await one_open_refusal(ctx, units[0][0])
        if refused is not None:
            return [refused]
        answers["unit"] = f"unit:{units[0][0].id}"
    return answers


async def _resubmission(
    ctx: Context, ref: int, units: list[tuple[Unit, str]]
) -> dict[str, Any] | list[Reply]:
    found = await ctx.session.get(Renovation, ref)
    unit = next((u for u, _ in units if found and u.id == found.unit_id), None)
    if found is None or unit is None:
        return [Reply("dialog.stale")]
    if found.status != S.changes:
        return [await owner_view(ctx, found, unit)]
    ticket = await ctx.session.get(Ticket, found.ticket_id) if found.ticket_id else None
    roles = {str(u.id): role for u, role in units}
    kept = {p.kind for p in await papers(ctx.session, found)}
    return {
        "_roles": roles,
        "_resubmit": found.id,
        "_prev": previous_answers(found, ticket),
        "_kept": sorted(kept),
        "unit": f"unit:{unit.id}",
    }


async def chosen_unit(ctx: Context, answers: Mapping[str, Any]) -> Unit | None:
    value = str(answers.get("unit", "")).removeprefix("unit:")
    return next((u for u, _ in await applicant_units(ctx) if str(u.id) == value), None)


def is_delegate(answers: Mapping[str, Any]) -> bool:
    unit = str(answers.get("unit", "")).removeprefix("unit:")
    return answers.get("_roles", {}).get(unit) == Role.delegate


async def summarize(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    unit = await chosen_unit(ctx, answers)
    structural, load = changes_flags(str(answers.get("changes", "")))
    files = len(answers.get("plan_files") or [])
    authority = bool(answers.get("authority")) or "authority" in answers.get("_kept", [])
    return {
        "unit": unit.label if unit else "",
        "starts": date.fromisoformat(answers["starts"]),
        "ends": date.fromisoformat(answers["ends"]),
        "contractor": answers["contractor"],
        "foreman": answers["foreman"],
        "phone": answers["foreman_phone"],
        "plan": answers["plan"],
        "files": files,
        "changes": changes_text(structural, load),
        "authority": Text(
            "reno.authority.attached"
            if authority
            else "reno.authority.later"
            if structural or load
            else "reno.authority.none"
        ),
        "count": answers["count"],
        "workers": answers["workers"],
    }


@dataclass
class Application:
    """An application as the chat flow and the desk's form give it."""

    starts: date
    ends: date
    contractor: str
    foreman: str
    foreman_phone: str
    plan: str
    structural: bool
    load_increase: bool
    workers: list[tuple[str, str]]
    files: list[tuple[str, str]]  # (kind, file ref): plan photos, authority, attorney, ID


def application_of(answers: Mapping[str, Any]) -> Application:
    structural, load = changes_flags(str(answers.get("changes", "")))
    files = [("plan", ref) for ref in answers.get("plan_files") or []]
    files += [(k, answers[k]) for k in ("authority", "attorney", "delegate_id") if answers.get(k)]
    workers = read_workers(str(answers["workers"]), int(answers["count"]))
    return Application(
        starts=date.fromisoformat(answers["starts"]),
        ends=date.fromisoformat(answers["ends"]),
        contractor=answers["contractor"],
        foreman=answers["foreman"],
        foreman_phone=answers["foreman_phone"],
        plan=answers["plan"],
        structural=structural,
        load_increase=load,
        workers=workers if isinstance(workers, list) else [],
        files=files,
    )


async def submit(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    """The chat flow's end: the application (or its resubmission) goes to the reviewers."""
    unit = await chosen_unit(ctx, answers)
    if unit is None or ctx.person is None:
        return [Reply("reno.not_owner")]
    return await apply(ctx, unit, ctx.person, application_of(answers), answers.get("_resubmit"))


async def apply(
    ctx: Context,
    unit: Unit,
    applicant: Person,
    application: Application,
    resubmit: int | None = None,
) -> list[Reply]:
    """Record the application (or update the one sent back for changes) and send its card
    to the service desk and the repair group; the applicant is told its number."""
    refused = await one_open_refusal(ctx, unit, but=resubmit)
    if refused is not None:
        return [refused]
    wrong = read_dates(application.starts, application.ends, local_today(ctx))
    if wrong is not None:
        return [Reply(wrong.key, wrong.params)]
    assert unit.id is not None and applicant.id is not None
    fields: dict[str, Any] = {
        "starts": application.starts,
        "ends": application.ends,
        "contractor": application.contractor[:100],
        "foreman": application.foreman[:100],
        "foreman_phone": application.foreman_phone[:30],
        "workers": max(1, len(application.workers)),
        "plan": application.plan[:2000],
        "structural": application.structural,
        "load_increase": application.load_increase,
        "agreement_at": ctx.now,
    }
    details = {"workers": [[n, p] for n, p in application.workers]}
    found = await ctx.session.get(Renovation, resubmit) if resubmit else None
    if found is not None and found.status == S.changes and found.unit_id == unit.id:
        ticket = await ctx.session.get(Ticket, found.ticket_id)
        assert ticket is not None
        for name, value in fields.items():
            setattr(found, name, value)
        found.status = S.submitted
        ticket.details = {**ticket.details, **details}
        ticket.description = application.plan[:2000]
        ctx.session.add(ticket)
        await tickets.record_change(
            ctx.session, ticket, actor=ctx.actor, action="resubmitted", now=ctx.now
        )
        record(ctx, found, "resubmitted")
        action = "resubmitted"
    elif resubmit:
        return [Reply("dialog.stale")]
    else:
        ticket = await tickets.create_ticket(
            ctx.session,
            community_id=unit.community_id,
            kind=TicketKind.renovation,
            department=Department.service,
            actor=ctx.actor,
            now=ctx.now,
            tz=ctx.settings.tz,
            unit_id=unit.id,
            person_id=applicant.id,
            channel=ctx.msg.channel,
            chat_id=ctx.msg.chat_id,
            contact_name=applicant.name,
            contact_phone=applicant.phone or "",
            description=application.plan[:2000],
            details=details,
        )
        found = Renovation(
            community_id=unit.community_id,
            unit_id=unit.id,
            applicant_id=applicant.id,
            ticket_id=ticket.id,
            submitted_at=ctx.now,
            **fields,
        )
        ctx.session.add(found)
        await ctx.session.flush()
        record(ctx, found, "submitted")
        action = "submitted"
    for kind, ref in application.files:
        await add_paper(ctx, found, kind, ref)
    await audited(ctx, found, action, ticket=ticket.number, files=len(application.files))
    told = Reply("reno.submitted", {"number": ticket.number, "unit": unit.label})
    return [*await tell_applicant(ctx, found, told), *await review_cards(ctx, found)]


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
