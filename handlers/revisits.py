"""Revisits (回访): every finished repair gets exactly one, inside the office's window.

When the work is done the revisit is planned (a leak repair waits for its leak test;
handlers/rules/revisit.py): the resident is asked early (satisfaction 1–5, fixed or not,
a comment), and if they have not answered by the phone time the service desk gets a
"revisit by phone" task with the window's end on it; a phone revisit still not done
near the end climbs the escalation ladder like late work (handlers/escalation.py). A
revisit done after its window is kept and counted late. A bad revisit sends the job
back to the repair group as rework.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from handlers.cards import by_kind
from handlers.cardsync import refreshed_cards
from handlers.core.actions import OnTicket
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.directory import department_chats, private_chat, ticket_resident
from handlers.escalation import reopen
from handlers.policies import for_community, revisit_policy
from handlers.rules.lifecycle import REVISITABLE, Forbidden, next_status
from handlers.rules.revisit import is_bad, plan
from handlers.staffauth import acting_member
from storage import audit, jobs, tickets
from storage.models import Department, Job, StaffMember, Ticket

ASK, PHONE = "revisit_ask", "revisit_phone"


@dataclass(frozen=True)
class Fixed(OnTicket):
    """The resident says the finished work solved it."""

    name: ClassVar[str] = "r_fixed"
    private: ClassVar[bool] = True


@dataclass(frozen=True)
class NotYet(OnTicket):
    """The resident says it is not solved yet: the job reopens."""

    name: ClassVar[str] = "r_notyet"
    private: ClassVar[bool] = True


@dataclass(frozen=True)
class TakePhoneRevisit(OnTicket):
    name: ClassVar[str] = "rv_take"


def _key(kind: str, ticket: Ticket) -> str:
    return f"{kind}:{ticket.id}"


async def schedule_revisit(ctx: Context, ticket: Ticket) -> datetime | None:
    """(Re)plan the one revisit of finished work: when to ask, when to phone, by when it
    must be done (returned); None while a leak repair awaits its leak test."""
    # Repairs by the rules; complaints too, after the outcome ("then revisit"); a paid
    # service once its fee is collected, within the service window.
    if ticket.kind not in ("repair", "complaint", "service") or ticket.done_at is None:
        return None
    settings = await for_community(ctx.session, ctx.settings, ticket.community_id)
    leak = ticket.details.get("leak_test_at")
    category, start, policy = ticket.category, ticket.done_at, revisit_policy(settings)
    if ticket.kind == "service":
        paid = (ticket.details.get("service") or {}).get("paid_at")
        if not paid:
            return None
        category, start, leak = "", datetime.fromisoformat(paid), None
        policy = replace(policy, other_days=settings.service_revisit_days)
    found = plan(
        category,
        start,
        datetime.fromisoformat(leak) if leak else None,
        policy,
        ctx.settings.tz,
    )
    if found is None:
        return None
    # One revisit per repair: a reopened and finished-again job moves it, never adds one.
    for kind, due in ((ASK, found.ask_at), (PHONE, found.phone_at)):
        await jobs.replace(
            ctx.session,
            kind=kind,
            due_at=due,
            payload={"ticket": ticket.id},
            dedupe_key=_key(kind, ticket),
        )
    ticket.details = {
        **{k: v for k, v in ticket.details.items() if k != "escalated_revisit"},
        "revisit_ask_at": _utc(found.ask_at),
        "revisit_phone_at": _utc(found.phone_at),
        "revisit_deadline": _utc(found.deadline),
    }
    return found.deadline


def _utc(moment: datetime) -> str:
    """Times kept in details are UTC ISO strings, so the database can compare them."""
    return moment.astimezone(UTC).isoformat()


def revisit_deadline(ticket: Ticket) -> datetime | None:
    due = ticket.details.get("revisit_deadline")
    return datetime.fromisoformat(due) if due else None


def _revisited(ticket: Ticket) -> bool:
    return "revisit" in ticket.details


async def ask(ctx: Context, job: Job) -> list[Reply]:
    """Due: ask the resident, and give them a while before the desk phones instead."""
    ticket = await ctx.session.get(Ticket, job.payload["ticket"])
    if ticket is None or ticket.status not in REVISITABLE or _revisited(ticket):
        return []
    residents = await ticket_resident(ctx.session, ticket)
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
    chats = await department_chats(ctx.session, ticket.community_id, Department.service)
    return [replace(phone_task(ticket), to=chat) for chat in chats]


def phone_task(ticket: Ticket) -> Reply:
    """The desk's "revisit by phone" task, with the window's end and who will take it."""
    return Reply(
        "revisit.phone_task",
        {"number": ticket.number, "name": ticket.contact_name, "due": revisit_deadline(ticket)},
        choices=(TakePhoneRevisit(ticket.id or 0).choice("revisit.take"),),
    )


async def take_phone_revisit(ctx: Context, action: TakePhoneRevisit) -> list[Reply]:
    """A service-desk member takes the phone revisit: the number comes to them in private."""
    ticket = await ctx.session.get(Ticket, action.ticket)
    if ticket is None:
        return [Reply("dialog.stale")]
    member = acting_member(ctx, ticket.community_id, Department.service)
    if member is None:
        return [Reply("dialog.not_allowed")]
    if _revisited(ticket) or ticket.status not in REVISITABLE:
        return [Reply("revisit.already", {"number": ticket.number})]
    # Whoever took it is warned first if the window's end comes near.
    ticket.details = {**ticket.details, "revisit_taker": member.id}
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
    deadline = revisit_deadline(ticket)
    result = {
        "satisfaction": satisfaction,
        "fixed": fixed,
        "comment": answers.get("comment") or "",
        "by": by,
        "at": ctx.now.isoformat(),
        # Done after the window's end: kept, and counted as a late revisit.
        "late": int(deadline is not None and ctx.now > deadline),
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
    reopen(ticket, ctx.now)
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


async def resident_fixed(ctx: Context, action: Fixed) -> list[Reply]:
    """The resident confirms the repair worked; the revisit still follows, as the rules say."""
    from handlers.my import own_ticket

    ticket = await own_ticket(ctx, action.ticket)
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


async def resident_not_yet(ctx: Context, action: NotYet) -> list[Reply]:
    """ "Not yet": the job reopens for the same technician and the reopen is counted."""
    from handlers.my import own_ticket

    ticket = await own_ticket(ctx, action.ticket)
    if ticket is None:
        return [Reply("dialog.stale")]
    try:
        to_status = next_status(ticket.status, "not_fixed")
    except Forbidden:
        return [Reply("revisit.confirm.late", {"number": ticket.number})]
    await tickets.record_change(
        ctx.session, ticket, actor=ctx.actor, action="not_fixed", now=ctx.now, to_status=to_status
    )
    reopen(ticket, ctx.now)
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
    reopened = Reply(
        by_kind(ctx.catalogs, "revisit.confirm.reopened", ticket.kind),
        {"number": ticket.number, "department": Text(f"department.{ticket.department}")},
    )
    return [reopened, *await refreshed_cards(ctx, ticket), *told]
