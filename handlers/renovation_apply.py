"""Renovation: the application, as the owner's chat flow and the desk's counter form give
it. `/renovation` (or the menu) starts a new one, shows the owner's open one with its
buttons, or, for staff, lists the open ones; an application sent back for changes is
resubmitted through the same flow with the earlier answers offered again. `apply` keeps
one open application per unit, records the renovation with its `renovation` ticket and
private papers, and sends the reviewers' card (handlers/renovation.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from handlers.binding import require_binding
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.directory import bound_units
from handlers.renovation import (
    APPLICANT_ROLES,
    FLOW,
    S,
    add_paper,
    audited,
    changes_flags,
    changes_text,
    desk_list,
    local_today,
    open_of,
    owner_view,
    papers,
    record,
    review_cards,
    tell_applicant,
    workers_of,
)
from handlers.rules.phone import normalise_phone
from storage import tickets
from storage.models import Department, Person, Renovation, Role, Ticket, TicketKind, Unit

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


# ---- the application --------------------------------------------------------------------


async def applicant_units(ctx: Context) -> list[tuple[Unit, str]]:
    """The units the sender may apply for: as an owner or a delegate."""
    links = await bound_units(ctx.session, ctx.person.id if ctx.person else None)
    return [(unit, link.role) for unit, link in links if link.role in APPLICANT_ROLES]


async def owner_renovations(ctx: Context) -> list[Reply]:
    """An owner's or delegate's open renovations, each with its buttons (for `/my`)."""
    if ctx.person is None or ctx.staff:
        return []
    shown = []
    for unit, _ in await applicant_units(ctx):
        found = await open_of(ctx.session, unit.id)
        if found is not None:
            shown.append(await owner_view(ctx, found, unit))
    return shown


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


NEW = "new"  # `flow:renovation:new`: a new application beside an open one of another unit


async def begin(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """`/renovation` (or the menu): the desk's list for staff; an owner's open renovations
    shown with their buttons (and a new one offered for another of their units); else a
    new application. `flow:renovation:<id>` resubmits one the reviewers asked changes of,
    with the earlier answers offered again."""
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
    free = []
    shown: list[Reply] = []
    for unit, _ in units:
        found = await open_of(ctx.session, unit.id)
        if found is None:
            free.append(unit)
        elif initial != NEW:
            shown.append(await owner_view(ctx, found, unit))
    if shown:  # their open renovations first; a new one for another unit on request
        if free:
            shown.append(
                Reply("reno.owner.another", choices=(Choice(f"flow:{FLOW}:{NEW}", "reno.btn.new"),))
            )
        return shown
    if not free:
        return [Reply("dialog.stale")]
    answers: dict[str, Any] = {"_roles": {str(u.id): role for u, role in units}}
    if len(free) == 1:
        answers["unit"] = f"unit:{free[0].id}"
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
