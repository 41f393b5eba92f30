"""The deadline watch: each worker round, what is near or past its deadline climbs the
escalation ladder (handlers/rules/escalation.py), one step at a time, each step once.

Three things are watched the same way: open tickets against their deadline, finished
repairs against the end of their revisit window (a phone revisit nobody took is late
work like any other), and leak repairs against the day their leak test is due. Each
keeps the steps it has climbed in its own list on the ticket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement
from sqlmodel import col, select

from handlers.core.context import Context
from handlers.core.messages import Recipient, Reply, Text
from handlers.directory import department_chats, people_with_role, private_chat
from handlers.duty import on_duty
from handlers.policies import for_community, ladder, revisit_policy
from handlers.rules.escalation import Ladder, reopened_due, steps_due, worth_sending
from handlers.rules.lifecycle import OPEN, REVISITABLE
from handlers.rules.revisit import LEAK_CATEGORIES, leak_test_due
from storage import outbox, tickets
from storage.models import Department, StaffMember, Ticket

if TYPE_CHECKING:
    from bot.settings import Settings

BATCH = 200


def ladder_of(ctx: Context) -> Ladder:
    return ladder(ctx.settings)


@dataclass(frozen=True)
class Watch:
    """One kind of deadline: which tickets, their window, whom each step tells, in what words."""

    name: str  # the ticket's list of steps climbed: details[name]
    words: str  # catalog prefix: `<words>warning`, `overdue`, `supervisor`, `director`
    candidates: Callable[[Context], list[ColumnElement[bool]]]
    # (start, due), by the settings as the ticket's community has them
    window: Callable[[Settings, Ticket], tuple[datetime, datetime] | None]
    warned: Callable[[Ticket], int | None]  # the staff member a warning goes to, if anyone
    group: Callable[[Ticket], str]  # the department whose group hears of a breach


def _work_window(settings: Settings, ticket: Ticket) -> tuple[datetime, datetime] | None:
    return (started_at(ticket), ticket.due_at) if ticket.due_at else None


def _revisit_window(settings: Settings, ticket: Ticket) -> tuple[datetime, datetime] | None:
    d = ticket.details
    if "revisit" in d or not d.get("revisit_deadline"):
        return None
    return datetime.fromisoformat(d["revisit_phone_at"]), datetime.fromisoformat(
        d["revisit_deadline"]
    )


def _leak_window(settings: Settings, ticket: Ticket) -> tuple[datetime, datetime] | None:
    if ticket.details.get("leak_test_at") or ticket.done_at is None:
        return None
    return ticket.done_at, leak_test_due(ticket.done_at, revisit_policy(settings))


WORK = Watch(
    "escalated",
    "escalation.",
    lambda ctx: [
        col(Ticket.status).in_(OPEN),
        col(Ticket.due_at) <= ctx.now + timedelta(hours=ladder_of(ctx).warning),
    ],
    _work_window,
    lambda t: t.assignee_id,
    lambda t: t.department,
)
REVISIT = Watch(
    "escalated_revisit",
    "escalation.revisit.",
    lambda ctx: [
        col(Ticket.status).in_(REVISITABLE),
        col(Ticket.kind).in_(("repair", "complaint")),
    ],
    _revisit_window,
    lambda t: t.details.get("revisit_taker"),
    lambda t: Department.service,
)
LEAK_TEST = Watch(
    "escalated_leak",
    "escalation.leak.",
    lambda ctx: [
        col(Ticket.status).in_(REVISITABLE),
        col(Ticket.kind) == "repair",
        col(Ticket.category).in_(LEAK_CATEGORIES),
    ],
    _leak_window,
    lambda t: t.assignee_id,
    lambda t: t.department,
)


async def watch_deadlines(ctx: Context) -> list[Reply]:
    """Send every escalation step that has come; record each as history."""
    replies: list[Reply] = []
    for watch in (WORK, REVISIT, LEAK_TEST):
        replies += await _watch(ctx, watch)
    return replies + await _unanswered_complaints(ctx)


async def _watch(ctx: Context, watch: Watch) -> list[Reply]:
    ladder = ladder_of(ctx)
    query = (
        select(Ticket)
        .where(*watch.candidates(ctx))
        .order_by(col(Ticket.due_at), col(Ticket.id))
        .limit(BATCH)
    )
    if ctx.session.get_bind().dialect.name == "postgresql":
        # Two workers never escalate the same ticket at once.
        query = query.with_for_update(skip_locked=True)
    replies: list[Reply] = []
    for ticket in (await ctx.session.exec(query)).all():
        settings = await for_community(ctx.session, ctx.settings, ticket.community_id)
        window = watch.window(settings, ticket)
        if window is None:
            continue
        start, due = window
        sent = ticket.details.get(watch.name, [])
        came = steps_due(ladder, start, due, ctx.now, sent)
        for step in came:
            if step in worth_sending(came):
                replies += await _step(ctx, ticket, watch, step, start, due)
            sent = [*sent, step]
            await tickets.record_change(
                ctx.session,
                ticket,
                actor="system",
                action="escalated",
                now=ctx.now,
                data={"step": step, "watch": watch.name},
            )
        if came:
            ticket.details = {**ticket.details, watch.name: sent}
    return replies


async def _unanswered_complaints(ctx: Context) -> list[Reply]:
    """A complaint whose resident has had no answer by its answer-by time goes up (major:
    2 days; damage still happening: minutes). Being accepted is not an answer: a reply
    relayed to the resident or a recorded call is."""
    query = select(Ticket).where(Ticket.kind == "complaint", col(Ticket.status).in_(OPEN))
    if ctx.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    replies: list[Reply] = []
    for ticket in (await ctx.session.exec(query.limit(BATCH))).all():
        answer_by = ticket.details.get("answer_by")
        sent = ticket.details.get("escalated", [])
        if not answer_by or "answered_at" in ticket.details or "unanswered" in sent:
            continue
        if datetime.fromisoformat(answer_by) > ctx.now:
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
        if ticket.urgent:
            chats += await on_duty(ctx.session, ticket.community_id)
        replies += [
            Reply("escalation.unanswered", params, to=chat, urgent=True)
            for chat in dict.fromkeys(chats)
        ]
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


def _warning_key(ticket: Ticket, watch: Watch, start: datetime) -> str:
    """The dedupe-key prefix of one round's warnings, so the overdue notice can take back
    a warning still queued (nobody should read "due soon" after "overdue")."""
    return f"warn:{watch.name}:{ticket.id}:{start.isoformat()}:"


async def _step(
    ctx: Context, ticket: Ticket, watch: Watch, step: str, start: datetime, due: datetime
) -> list[Reply]:
    params = {
        "number": ticket.number,
        "kind": Text(f"kind.{ticket.kind}"),
        "status": Text(f"status.{ticket.status}"),
        "department": Text(f"department.{ticket.department}"),
        "due": due,
        "late": _hours(due, ctx),
    }
    chats: list[Recipient]
    if step == "warning":
        member_id = watch.warned(ticket)
        member = await ctx.session.get(StaffMember, member_id) if member_id else None
        chats = (
            [private_chat(member)]
            if member
            else await department_chats(ctx.session, ticket.community_id, watch.group(ticket))
        )
        key = _warning_key(ticket, watch, start)
        return [
            Reply(
                f"{watch.words}warning",
                params,
                to=chat,
                dedupe_key=f"{key}{chat.channel}:{chat.chat_id}",
            )
            for chat in chats
        ]
    if step == "group":
        await outbox.withdraw(ctx.session, _warning_key(ticket, watch, start), ctx.now)
        chats = await department_chats(ctx.session, ticket.community_id, watch.group(ticket))
        return [
            Reply(f"{watch.words}overdue", params, to=chat, urgent=ticket.urgent) for chat in chats
        ]
    role = "supervisor" if step == "supervisor" else "director"
    chats = await people_with_role(ctx.session, ticket.community_id, role)
    # Only an urgent ticket wakes people up; the rest wait out the quiet hours.
    return [Reply(f"{watch.words}{role}", params, to=chat, urgent=ticket.urgent) for chat in chats]


def started_at(ticket: Ticket) -> datetime:
    """When the current round of work began: created, or reopened since."""
    reopened = ticket.details.get("reopened_at")
    return datetime.fromisoformat(reopened) if reopened else ticket.created_at


def reopen(ticket: Ticket, now: datetime) -> None:
    """Work sent back (not fixed, a bad revisit) starts a new round: a new deadline from
    now, as long as the first, and the escalation ladder climbed afresh."""
    if ticket.due_at is not None:
        ticket.due_at = reopened_due(started_at(ticket), ticket.due_at, now)
    ticket.details = {**ticket.details, "reopened_at": now.isoformat(), "escalated": []}
    ticket.reopen_count += 1


def _hours(due: datetime, ctx: Context) -> str:
    if due >= ctx.now:
        return "0"
    return str(int((ctx.now - due).total_seconds() // 3600))
