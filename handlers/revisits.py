"""Revisits (回访): every finished repair gets exactly one, due by the office's rules.

When the work is done the revisit is scheduled (a leak repair waits for its leak test).
When it is due the resident is asked (satisfaction 1–5, fixed or not, a comment); with
no answer in time the service desk gets a "revisit by phone" task. A bad revisit sends
the job back to the repair group as rework.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from handlers.cardsync import refreshed_cards
from handlers.context import Context
from handlers.directory import department_chats, private_chat, ticket_resident
from handlers.ids import row_id
from handlers.messages import Choice, Reply
from handlers.rules.lifecycle import Forbidden, next_status
from handlers.rules.revisit import is_bad, revisit_due
from handlers.staffauth import acting_member
from storage import audit, jobs, tickets
from storage.models import Department, Job, StaffMember, Ticket, TicketStatus

ASK, PHONE = "revisit_ask", "revisit_phone"
REVISITABLE = (TicketStatus.done, TicketStatus.revisit)


def _key(kind: str, ticket: Ticket) -> str:
    return f"{kind}:{ticket.id}"


async def schedule_revisit(ctx: Context, ticket: Ticket) -> datetime | None:
    """(Re)schedule the one revisit of a finished repair; None while it awaits a leak test."""
    # Repairs by the rules; complaints too, after the outcome ("then revisit").
    if ticket.kind not in ("repair", "complaint") or ticket.done_at is None:
        return None
    leak = ticket.details.get("leak_test_at")
    due = revisit_due(
        ticket.category, ticket.done_at, datetime.fromisoformat(leak) if leak else None
    )
    if due is None:
        return None
    # One revisit per repair: a reopened and finished-again job moves it, never adds one.
    await jobs.cancel(ctx.session, _key(ASK, ticket))
    await jobs.cancel(ctx.session, _key(PHONE, ticket))
    await jobs.schedule(
        ctx.session,
        kind=ASK,
        due_at=due,
        payload={"ticket": ticket.id},
        dedupe_key=_key(ASK, ticket),
    )
    ticket.details = {**ticket.details, "revisit_due": due.isoformat()}
    return due


def _revisited(ticket: Ticket) -> bool:
    return "revisit" in ticket.details


async def ask(ctx: Context, job: Job) -> list[Reply]:
    """Due: ask the resident, and give them a while before the desk phones instead."""
    ticket = await ctx.session.get(Ticket, job.payload["ticket"])
    if ticket is None or ticket.status not in REVISITABLE or _revisited(ticket):
        return []
    residents = await ticket_resident(ctx.session, ticket)
    answer_by = ctx.now + timedelta(hours=ctx.settings.revisit_answer_hours)
    await jobs.schedule(
        ctx.session,
        kind=PHONE,
        due_at=answer_by,
        payload={"ticket": ticket.id},
        dedupe_key=_key(PHONE, ticket),
    )
    ticket.details = {**ticket.details, "revisit_asked_at": ctx.now.isoformat()}
    await tickets.record_change(
        ctx.session, ticket, actor="system", action="revisit_asked", now=ctx.now
    )
    return [
        Reply(
            "revisit.prompt",
            {"number": ticket.number, "description": ticket.description},
            to=chat,
            choices=(Choice(f"flow:revisit:{ticket.id}", "revisit.start"),),
        )
        for chat in residents
    ]


async def phone(ctx: Context, job: Job) -> list[Reply]:
    """No answer from the resident: the service desk revisits by phone."""
    ticket = await ctx.session.get(Ticket, job.payload["ticket"])
    if ticket is None or ticket.status not in REVISITABLE or _revisited(ticket):
        return []
    await tickets.record_change(
        ctx.session, ticket, actor="system", action="revisit_by_phone", now=ctx.now
    )
    return [
        Reply(
            "revisit.phone_task",
            {"number": ticket.number, "name": ticket.contact_name},
            to=chat,
            choices=(Choice(f"act:rv_take:{ticket.id}", "revisit.take"),),
        )
        for chat in await department_chats(ctx.session, ticket.community_id, Department.service)
    ]


async def take_phone_revisit(ctx: Context, argument: str) -> list[Reply]:
    """A service-desk member takes the phone revisit: the number comes to them in private."""
    ref = row_id(argument)
    ticket = await ctx.session.get(Ticket, ref) if ref else None
    if ticket is None:
        return [Reply("dialog.stale")]
    member = acting_member(ctx, ticket.community_id, Department.service)
    if member is None:
        return [Reply("dialog.not_allowed")]
    if _revisited(ticket) or ticket.status not in REVISITABLE:
        return [Reply("revisit.already", {"number": ticket.number})]
    # The resident's full phone number goes to this member: a privileged look-up.
    await audit.record(
        ctx.session,
        actor=f"staff:{member.id}",
        action="revisit_take",
        target=ticket.number,
        now=ctx.now,
    )
    return [
        Reply(
            "revisit.call",
            {"number": ticket.number, "name": ticket.contact_name, "phone": ticket.contact_phone},
            to=private_chat(member),
            choices=(Choice(f"flow:revisit_staff:{ticket.id}", "revisit.record"),),
        )
    ]


async def record(ctx: Context, ticket: Ticket, answers: dict[str, Any], by: str) -> list[Reply]:
    """Keep the revisit's result; close the ticket, or send it back as rework."""
    satisfaction, fixed = int(answers["satisfaction"]), answers["fixed"] == "yes"
    result = {
        "satisfaction": satisfaction,
        "fixed": fixed,
        "comment": answers.get("comment") or "",
        "by": by,
        "at": ctx.now.isoformat(),
    }
    ticket.details = {**ticket.details, "revisit": result}
    await jobs.cancel(ctx.session, _key(PHONE, ticket))
    bad = is_bad(satisfaction, fixed)
    action = "revisit_bad" if bad else "revisit_ok"
    try:
        to_status = next_status(ticket.status, action)
    except Forbidden:
        return [Reply("revisit.already", {"number": ticket.number})]
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=ctx.actor,
        action=action,
        now=ctx.now,
        to_status=to_status,
        note=result["comment"],
        data=result,
    )
    if ctx.staff:  # recorded by the service desk from a phone call
        await audit.record(
            ctx.session, actor=ctx.actor, action=action, target=ticket.number, now=ctx.now
        )
    if not bad:
        return []
    ticket.reopen_count += 1
    # The rework is the same job again: the revisit will be asked once more when done.
    ticket.details = {k: v for k, v in ticket.details.items() if k != "revisit"} | {
        "last_revisit": result
    }
    assignee = (
        await ctx.session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    )
    rework = [
        Reply(
            "revisit.rework",
            {"number": ticket.number, "satisfaction": satisfaction, "comment": result["comment"]},
            to=chat,
        )
        for chat in await department_chats(ctx.session, ticket.community_id, ticket.department)
    ]
    if assignee is not None:
        rework.append(
            Reply(
                "revisit.rework",
                {
                    "number": ticket.number,
                    "satisfaction": satisfaction,
                    "comment": result["comment"],
                },
                to=private_chat(assignee),
            )
        )
    return [*rework, *await refreshed_cards(ctx, ticket)]


async def resident_fixed(ctx: Context, argument: str) -> list[Reply]:
    """The resident confirms the repair worked; the revisit still follows, as the rules say."""
    from handlers.my import own_ticket

    ticket = await own_ticket(ctx, argument)
    if ticket is None:
        return [Reply("dialog.stale")]
    try:
        await tickets.record_change(
            ctx.session,
            ticket,
            actor=ctx.actor,
            action="fixed",
            now=ctx.now,
            to_status=next_status(ticket.status, "fixed"),
        )
    except Forbidden:
        return [Reply("revisit.confirm.late", {"number": ticket.number})]
    return [
        Reply("revisit.confirm.thanks", {"number": ticket.number}),
        *await refreshed_cards(ctx, ticket),
    ]


async def resident_not_yet(ctx: Context, argument: str) -> list[Reply]:
    """ "Not yet": the job reopens for the same technician and the reopen is counted."""
    from handlers.my import own_ticket

    ticket = await own_ticket(ctx, argument)
    if ticket is None:
        return [Reply("dialog.stale")]
    try:
        to_status = next_status(ticket.status, "not_fixed")
    except Forbidden:
        return [Reply("revisit.confirm.late", {"number": ticket.number})]
    await tickets.record_change(
        ctx.session, ticket, actor=ctx.actor, action="not_fixed", now=ctx.now, to_status=to_status
    )
    ticket.reopen_count += 1
    await jobs.cancel(ctx.session, _key(ASK, ticket))
    await jobs.cancel(ctx.session, _key(PHONE, ticket))
    assignee = (
        await ctx.session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    )
    told = (
        [Reply("revisit.reopened", {"number": ticket.number}, to=private_chat(assignee))]
        if (assignee is not None)
        else []
    )
    return [
        Reply("revisit.confirm.reopened", {"number": ticket.number}),
        *await refreshed_cards(ctx, ticket),
        *told,
    ]
