"""The deadline watch: each worker round, open tickets near or past their deadline climb
the escalation ladder (handlers/rules/escalation.py), one step at a time, each step once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from handlers.context import Context
from handlers.directory import department_chats, people_with_role, private_chat
from handlers.messages import Reply, Text
from handlers.rules.escalation import Ladder, steps_due
from handlers.rules.lifecycle import OPEN
from storage import tickets
from storage.models import StaffMember, Ticket

BATCH = 200


def ladder_of(ctx: Context) -> Ladder:
    s = ctx.settings
    return Ladder(s.deadline_warning_hours, s.escalate_supervisor_hours, s.escalate_director_hours)


async def watch_deadlines(ctx: Context) -> list[Reply]:
    """Send every escalation step that has come for open tickets; record each as history."""
    ladder = ladder_of(ctx)
    horizon = ctx.now + timedelta(hours=ladder.warning)
    query = (
        select(Ticket)
        .where(col(Ticket.status).in_(OPEN), col(Ticket.due_at) <= horizon)
        .order_by(col(Ticket.due_at))
        .limit(BATCH)
    )
    if ctx.session.get_bind().dialect.name == "postgresql":
        # Two workers never escalate the same ticket at once.
        query = query.with_for_update(skip_locked=True)
    replies: list[Reply] = []
    for ticket in (await ctx.session.exec(query)).all():
        if ticket.due_at is None:
            continue
        sent = ticket.details.get("escalated", [])
        for step in steps_due(ladder, ticket.created_at, ticket.due_at, ctx.now, sent):
            replies += await _step(ctx, ticket, step)
            sent = [*sent, step]
            await tickets.record_change(
                ctx.session,
                ticket,
                actor="system",
                action="escalated",
                now=ctx.now,
                data={"step": step},
            )
        if sent != ticket.details.get("escalated", []):
            ticket.details = {**ticket.details, "escalated": sent}
    return replies + await _unanswered_complaints(ctx)


async def _unanswered_complaints(ctx: Context) -> list[Reply]:
    """A complaint nobody has taken up by its answer-by time (major: 2 days) goes up."""
    query = select(Ticket).where(Ticket.kind == "complaint", Ticket.status == "new")
    if ctx.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    replies: list[Reply] = []
    for ticket in (await ctx.session.exec(query.limit(BATCH))).all():
        answer_by = ticket.details.get("answer_by")
        sent = ticket.details.get("escalated", [])
        if not answer_by or "unanswered" in sent or datetime.fromisoformat(answer_by) > ctx.now:
            continue
        if ticket.due_at is not None and datetime.fromisoformat(answer_by) >= ticket.due_at:
            continue  # answering and solving fall due together: the ladder covers it
        params = {
            "number": ticket.number,
            "due": datetime.fromisoformat(answer_by),
            "department": Text(f"department.{ticket.department}"),
        }
        chats = await department_chats(ctx.session, ticket.community_id, ticket.department)
        chats += await people_with_role(ctx.session, ticket.community_id, "supervisor")
        if ticket.details.get("severity") == "major":
            chats += await people_with_role(ctx.session, ticket.community_id, "director")
        replies += [Reply("escalation.unanswered", params, to=chat, urgent=True) for chat in chats]
        ticket.details = {**ticket.details, "escalated": [*sent, "unanswered"]}
        await tickets.record_change(
            ctx.session,
            ticket,
            actor="system",
            action="escalated",
            now=ctx.now,
            data={"step": "unanswered"},
        )
    return replies


async def _step(ctx: Context, ticket: Ticket, step: str) -> list[Reply]:
    params = {
        "number": ticket.number,
        "kind": Text(f"kind.{ticket.kind}"),
        "status": Text(f"status.{ticket.status}"),
        "department": Text(f"department.{ticket.department}"),
        "due": ticket.due_at,
        "late": _hours(ticket, ctx),
    }
    if step == "warning":
        assignee = (
            await ctx.session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
        )
        chats = (
            [private_chat(assignee)]
            if assignee
            else await department_chats(ctx.session, ticket.community_id, ticket.department)
        )
        return [Reply("escalation.warning", params, to=chat) for chat in chats]
    if step == "group":
        chats = await department_chats(ctx.session, ticket.community_id, ticket.department)
        return [
            Reply("escalation.overdue", params, to=chat, urgent=ticket.urgent) for chat in chats
        ]
    role = "supervisor" if step == "supervisor" else "director"
    chats = await people_with_role(ctx.session, ticket.community_id, role)
    # Only an urgent ticket wakes people up; the rest wait out the quiet hours.
    return [Reply(f"escalation.{role}", params, to=chat, urgent=ticket.urgent) for chat in chats]


def _hours(ticket: Ticket, ctx: Context) -> str:
    if ticket.due_at is None or ticket.due_at >= ctx.now:
        return "0"
    return str(int((ctx.now - ticket.due_at).total_seconds() // 3600))
