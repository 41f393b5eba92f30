"""Staff work a ticket from its card: accept, hand over, transfer, start, finish, give up.

Every press is checked again here (who may act, and whether the ticket's status allows
it), so a stale, forged or foreign button changes nothing. The ticket row is locked
while it changes, so when two staff press "accept" together the first one wins.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from handlers.cards import (
    Accept,
    Handover,
    HandTo,
    LeakTested,
    MoveTo,
    Start,
    Transfer,
    by_kind,
    is_task,
    visit_time,
    where,
)
from handlers.cardsync import refreshed_cards
from handlers.core.context import Context
from handlers.core.messages import Money, Reply, Text
from handlers.directory import department_chats, people_with_role, private_chat, ticket_resident
from handlers.revisits import Fixed, NotYet, schedule_revisit
from handlers.rules.lifecycle import OPEN, REVISITABLE, Forbidden, next_status
from handlers.staffauth import acting_member, is_manager
from storage import audit, tickets
from storage.models import Department, StaffMember, Ticket, TicketStatus, Unit


async def locked_ticket(ctx: Context, ref: int) -> Ticket | None:
    """The ticket a button names, locked for this transaction (first press wins)."""
    return await ctx.session.get(Ticket, ref, with_for_update=True)


async def _staff_ticket(ctx: Context, ref: int) -> tuple[Ticket, StaffMember] | list[Reply]:
    ticket = await locked_ticket(ctx, ref)
    if ticket is None:
        return [Reply("dialog.stale")]
    member = acting_member(ctx, ticket.community_id, ticket.department)
    if member is None:
        return [Reply("dialog.not_allowed")]
    if not is_task(ticket):
        # A slip or a binding request is decided with its own buttons, not worked as a task.
        return [
            Reply("task.not_a_task", {"number": ticket.number, "kind": Text(f"kind.{ticket.kind}")})
        ]
    return ticket, member


def _is_assignee_or_manager(ctx: Context, ticket: Ticket, member: StaffMember) -> bool:
    return ticket.assignee_id == member.id or is_manager(ctx, ticket.community_id)


async def move(
    ctx: Context,
    ticket: Ticket,
    action: str,
    actor: str,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """Apply a lifecycle action with its history row; raises `Forbidden` if not allowed.

    A staff member's action is also in the audit log, like every privileged action.
    """
    to_status = next_status(ticket.status, action)
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=actor,
        action=action,
        now=ctx.now,
        to_status=to_status,
        note=note,
        data=data,
    )
    if actor.startswith("staff:"):
        await audit.record(
            ctx.session,
            actor=actor,
            action=action,
            target=ticket.number,
            detail=data or {},
            now=ctx.now,
        )


def _refused(ticket: Ticket) -> list[Reply]:
    return [
        Reply("task.not_now", {"number": ticket.number, "status": Text(f"status.{ticket.status}")})
    ]


async def private_details(ctx: Context, ticket: Ticket, member: StaffMember) -> Reply:
    """The full contact, only to the staff member who took the job, in private; what to do
    next in the words of the ticket's kind (a visit, an answer by a time, a call back)."""
    unit = await ctx.session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    answer_by = ticket.details.get("answer_by")
    return Reply(
        by_kind(ctx.catalogs, "task.private", ticket.kind),
        {
            "number": ticket.number,
            "where": where(ticket, unit),
            "name": ticket.contact_name,
            "phone": ticket.contact_phone,
            "description": ticket.description,
            "time": visit_time(str(ticket.details.get("time", ""))),
            "due": datetime.fromisoformat(answer_by) if answer_by else ticket.due_at,
        },
        to=private_chat(member),
    )


async def tell_resident(ctx: Context, ticket: Ticket, key: str, **params: Any) -> list[Reply]:
    """Tell the resident about their ticket, in the words of its kind."""
    params.setdefault("number", ticket.number)
    params.setdefault("department", Text(f"department.{ticket.department}"))
    key = by_kind(ctx.catalogs, key, ticket.kind)
    return [Reply(key, params, to=chat) for chat in await ticket_resident(ctx.session, ticket)]


async def accept(ctx: Context, action: Accept) -> list[Reply]:
    found = await _staff_ticket(ctx, action.ticket)
    if isinstance(found, list):
        return found
    ticket, member = found
    taker = await ctx.session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    if ticket.status != TicketStatus.new and taker is not None and ticket.status in OPEN:
        return [Reply("task.taken", {"number": ticket.number, "by": taker.name})]
    if ticket.status != TicketStatus.new:
        return _refused(ticket)  # cancelled, finished, given up: it says which
    ticket.assignee_id = member.id
    await move(ctx, ticket, "accept", f"staff:{member.id}")
    return [
        *await refreshed_cards(ctx, ticket),
        await private_details(ctx, ticket, member),
        *await tell_resident(ctx, ticket, "task.resident.accepted", name=member.name),
    ]


async def start(ctx: Context, action: Start) -> list[Reply]:
    found = await _staff_ticket(ctx, action.ticket)
    if isinstance(found, list):
        return found
    ticket, member = found
    if not _is_assignee_or_manager(ctx, ticket, member):
        return [Reply("task.not_yours", {"number": ticket.number})]
    try:
        await move(ctx, ticket, "start", f"staff:{member.id}")
    except Forbidden:
        return _refused(ticket)
    return [
        *await refreshed_cards(ctx, ticket),
        *await tell_resident(ctx, ticket, "task.resident.started", name=member.name),
    ]


async def handover(ctx: Context, action: Handover) -> list[Reply]:
    """Offer the colleagues of the department to hand the job to."""
    found = await _staff_ticket(ctx, action.ticket)
    if isinstance(found, list):
        return found
    ticket, member = found
    if not _is_assignee_or_manager(ctx, ticket, member):
        return [Reply("task.not_yours", {"number": ticket.number})]
    colleagues = (
        await ctx.session.exec(
            select(StaffMember).where(
                StaffMember.community_id == ticket.community_id,
                StaffMember.department == ticket.department,
                col(StaffMember.active).is_(True),
                StaffMember.id != ticket.assignee_id,
            )
        )
    ).all()
    # One person may be on several channels; offer each colleague once, reached in chat
    # rather than on the web workspace's pages when they have both.
    colleagues = sorted(colleagues, key=lambda c: (c.channel == "web", c.id or 0))
    colleagues = list({c.name: c for c in reversed(colleagues)}.values())[::-1]
    if not colleagues:
        return [Reply("task.no_colleague", {"number": ticket.number})]
    choices = tuple(
        HandTo(ticket.id or 0, c.id or 0).choice("task.to_person", name=c.name) for c in colleagues
    )
    return [Reply("task.handover.choose", {"number": ticket.number}, choices=choices)]


async def hand_to(ctx: Context, action: HandTo) -> list[Reply]:
    found = await _staff_ticket(ctx, action.ticket)
    if isinstance(found, list):
        return found
    ticket, member = found
    colleague = await ctx.session.get(StaffMember, action.colleague)
    if (
        colleague is None
        or colleague.community_id != ticket.community_id
        or colleague.department != ticket.department
        or not colleague.active
    ):
        return [Reply("dialog.stale")]
    if not _is_assignee_or_manager(ctx, ticket, member):
        return [Reply("task.not_yours", {"number": ticket.number})]
    try:
        await move(
            ctx,
            ticket,
            "handover",
            f"staff:{member.id}",
            data={"from": ticket.assignee_id, "to": colleague.id},
        )
    except Forbidden:
        return _refused(ticket)
    ticket.assignee_id = colleague.id
    return [*await refreshed_cards(ctx, ticket), await private_details(ctx, ticket, colleague)]


async def transfer(ctx: Context, action: Transfer) -> list[Reply]:
    """Offer the other departments the ticket can move to."""
    found = await _staff_ticket(ctx, action.ticket)
    if isinstance(found, list):
        return found
    ticket, _ = found
    choices = tuple(
        MoveTo(ticket.id or 0, d.value).choice(f"department.{d.value}")
        for d in Department
        if d.value != ticket.department
    )
    return [Reply("task.transfer.choose", {"number": ticket.number}, choices=choices)]


async def move_to(ctx: Context, action: MoveTo) -> list[Reply]:
    found = await _staff_ticket(ctx, action.ticket)
    if isinstance(found, list):
        return found
    ticket, member = found
    department = action.department
    if department not in {d.value for d in Department} or department == ticket.department:
        return [Reply("dialog.stale")]
    old = ticket.department
    try:
        await move(
            ctx, ticket, "transfer", f"staff:{member.id}", data={"from": old, "to": department}
        )
    except Forbidden:
        return _refused(ticket)
    ticket.department, ticket.assignee_id = department, None
    notice = [
        Reply(
            "task.transferred",
            {"number": ticket.number, "to": Text(f"department.{department}")},
            to=chat,
            card=f"ticket:{ticket.id}",
        )
        for chat in await department_chats(ctx.session, ticket.community_id, old)
    ]
    return [*notice, *await refreshed_cards(ctx, ticket)]


async def record_leak_test(ctx: Context, action: LeakTested) -> list[Reply]:
    """The repair group records the leak test (试漏); the revisit is due 3 days after."""
    found = await _staff_ticket(ctx, action.ticket)
    if isinstance(found, list):
        return found
    ticket, member = found
    if ticket.details.get("leak_test_at"):
        return [Reply("task.leak.already", {"number": ticket.number})]
    if ticket.status not in (TicketStatus.in_progress, TicketStatus.done, TicketStatus.revisit):
        return _refused(ticket)
    ticket.details = {**ticket.details, "leak_test_at": ctx.now.isoformat()}
    await tickets.record_change(
        ctx.session, ticket, actor=f"staff:{member.id}", action="leak_test", now=ctx.now
    )
    await audit.record(
        ctx.session,
        actor=f"staff:{member.id}",
        action="leak_test",
        target=ticket.number,
        now=ctx.now,
    )
    replies = [Reply("task.leak.recorded", {"number": ticket.number})]
    if ticket.status in (TicketStatus.done, TicketStatus.revisit):
        due = await schedule_revisit(ctx, ticket)
        if due is not None:
            replies.append(Reply("task.revisit_scheduled", {"number": ticket.number, "due": due}))
    return [*replies, *await refreshed_cards(ctx, ticket)]


async def may_finish(ctx: Context, ticket_id: int) -> tuple[Ticket, StaffMember] | list[Reply]:
    """Whether the sender may mark the ticket done now: staff of its department who hold it
    (or a manager), once the work has started. Asked before the note (the card's "done"
    flow, a typed `完成 R-…`) and again when finishing: the one check of this action."""
    found = await _staff_ticket(ctx, ticket_id)
    if isinstance(found, list):
        return found
    ticket, member = found
    if not _is_assignee_or_manager(ctx, ticket, member):
        return [Reply("task.not_yours", {"number": ticket.number})]
    if not _allowed(ticket, "done"):
        return _refused(ticket)
    return ticket, member


async def may_give_up(ctx: Context, ticket_id: int) -> tuple[Ticket, StaffMember] | list[Reply]:
    """Whether the sender may say the ticket cannot be done: staff of its department (or a
    manager), while it is open. The one check of this action, as `may_finish` is."""
    found = await _staff_ticket(ctx, ticket_id)
    if isinstance(found, list):
        return found
    ticket, _ = found
    if not _allowed(ticket, "cannot"):
        return _refused(ticket)
    return found


def _allowed(ticket: Ticket, action: str) -> bool:
    try:
        next_status(ticket.status, action)
    except Forbidden:
        return False
    return True


async def finish(
    ctx: Context, ticket_id: int, note: str, photos: list[str], amount: str | None
) -> list[Reply]:
    """Done, with the note (and amount for paid work): the resident is asked to confirm."""
    found = await may_finish(ctx, ticket_id)
    if isinstance(found, list):
        return found
    ticket, member = found
    await move(
        ctx,
        ticket,
        "done",
        f"staff:{member.id}",
        note,
        data={"photos": photos, "amount": amount},
    )
    tickets.attach_photos(ctx.session, ticket, ctx.msg.channel, photos, ctx.now)
    if amount is not None:
        ticket.amount = Decimal(amount)
    due = await schedule_revisit(ctx, ticket)
    confirm = (
        Fixed(ticket.id or 0).choice("task.resident.fixed"),
        NotYet(ticket.id or 0).choice("task.resident.not_yet"),
    )
    charge = Text("task.charge", {"amount": Money(ticket.amount)}) if ticket.amount else ""
    told = [
        Reply(
            by_kind(ctx.catalogs, "task.resident.done", ticket.kind),
            {"number": ticket.number, "note": note, "charge": charge},
            to=chat,
            choices=confirm,
        )
        for chat in await ticket_resident(ctx.session, ticket)
    ]
    revisit: Any = due if due else Text(by_kind(ctx.catalogs, "task.after_leak_test", ticket.kind))
    if ticket.kind not in ("repair", "complaint", "service"):
        revisit = Text("task.no_revisit")
    mine = [Reply("task.done.ok", {"number": ticket.number, "due": revisit})]
    return [*mine, *await refreshed_cards(ctx, ticket), *told]


async def give_up(ctx: Context, ticket_id: int, reason: str) -> list[Reply]:
    """Cannot do, with the reason: the resident and the supervisors are told."""
    found = await may_give_up(ctx, ticket_id)
    if isinstance(found, list):
        return found
    ticket, member = found
    await move(ctx, ticket, "cannot", f"staff:{member.id}", reason)
    managers = [
        Reply(
            "task.cannot.managers",
            {"number": ticket.number, "name": member.name, "reason": reason},
            to=chat,
        )
        for chat in await people_with_role(ctx.session, ticket.community_id, "supervisor")
    ]
    return [
        Reply("task.cannot.ok", {"number": ticket.number}),
        *await refreshed_cards(ctx, ticket),
        *await tell_resident(ctx, ticket, "task.resident.cannot", reason=reason),
        *managers,
    ]


async def phone_revisit_ticket(ctx: Context, ticket_id: int) -> Ticket | list[Reply]:
    """The finished ticket the service desk revisits by phone, if the sender is of its
    desk and the revisit is still to do: the one check of the phone revisit form."""
    ticket = await ctx.session.get(Ticket, ticket_id)
    if ticket is None:
        return [Reply("dialog.stale")]
    if acting_member(ctx, ticket.community_id, Department.service) is None:
        return [Reply("dialog.not_allowed")]
    if ticket.status not in REVISITABLE or "revisit" in ticket.details:
        return [Reply("revisit.already", {"number": ticket.number})]
    return ticket


async def my_tasks(ctx: Context, argument: str) -> list[Reply]:
    """`/mytasks`: the sender's open tasks, oldest first."""
    ids = [m.id for m in ctx.staff]
    rows = (
        await ctx.session.exec(
            select(Ticket)
            .where(
                col(Ticket.assignee_id).in_(ids),
                col(Ticket.status).in_((TicketStatus.accepted, TicketStatus.in_progress)),
            )
            .order_by(col(Ticket.created_at))
        )
    ).all()
    if not rows:
        return [Reply("task.mine.none")]
    lines = [
        Text(
            "task.mine.line",
            {
                "number": t.number,
                "status": Text(f"status.{t.status}"),
                "kind": Text(f"kind.{t.kind}"),
                "description": t.description[:30],
                "due": t.due_at,
            },
        )
        for t in rows
    ]
    return [Reply("task.mine", {"count": len(rows), "lines": lines})]
