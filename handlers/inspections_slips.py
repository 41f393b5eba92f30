"""Nonconformity slips (不合格单 / 内部协调单, `N-…` tickets): a failed inspection item sent
to the department answerable for it, with a deadline (`inspection_slip_hours`).

The slip's card in the department's groups is worked with the task buttons; its "done" is
the department's answer (what was done, photos). Then the inspector and the supervisors
get the follow-up check (跟进检查): 确认合格 closes the slip, 仍不合格 sends it back to the
department with the reason and a new deadline. An open slip climbs the escalation ladder
from its `due_at` like any ticket (handlers/escalation.py), and `/stats` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.cards import DONE_FLOW, OnTicket, card_choices
from handlers.core.context import Context
from handlers.core.messages import Choice, Recipient, Reply, Text
from handlers.directory import department_chats, people_with_role, private_chat
from handlers.escalation import reopen as reopen_round
from handlers.policies import for_community
from handlers.rules import inspections as rules
from handlers.rules.lifecycle import OPEN
from handlers.staffauth import acting_member
from storage import tickets
from storage.models import Department, InspectionRound, StaffMember, Ticket, TicketKind

ANSWER_FLOW = "nc_answer"
REOPEN_FLOW = "nc_reopen"
KIND = TicketKind.nonconformity.value


@dataclass(frozen=True)
class Confirm(OnTicket):
    """确认合格: the follow-up check found the item put right."""

    name: ClassVar[str] = "nc_ok"


async def _slip_hours(ctx: Context, community_id: int) -> int:
    settings = await for_community(ctx.session, ctx.settings, community_id)
    return int(settings.inspection_slip_hours)


async def open_slip(
    ctx: Context, found: InspectionRound, index: int, note: str, photos: list[str]
) -> tuple[Ticket, list[Reply]]:
    """The failed item's slip for its department, due in `inspection_slip_hours`."""
    one = found.items[index]
    ticket = await tickets.create_ticket(
        ctx.session,
        community_id=found.community_id,
        kind=KIND,
        department=str(one["department"]),
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
        channel="system",
        description=str(one["item"])[:2000],
        details={
            "round": found.id,
            "index": index,
            "area": one["area"],
            "item": one["item"],
            "note": note,
            "photos": photos,
            "inspector": ctx.actor,
            "inspector_name": found.by_name,
            "inspector_chat": [ctx.msg.channel, ctx.msg.chat_id],
            "answers": [],
            "checks": [],
        },
        due_at=rules.slip_due(ctx.now, await _slip_hours(ctx, found.community_id)),
    )
    tickets.attach_photos(ctx.session, ticket, ctx.msg.channel, photos, ctx.now)
    return ticket, await slip_card(ctx, ticket)


def _last(ticket: Ticket, name: str) -> dict[str, Any]:
    found = ticket.details.get(name) or []
    return dict(found[-1]) if found else {}


async def slip_card(ctx: Context, ticket: Ticket) -> list[Reply]:
    """The slip's card in the department's groups: the task buttons, "done" asks the answer."""
    assignee = (
        await ctx.session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    )
    done = f"flow:{DONE_FLOW}:{ticket.id}"
    choices = tuple(
        Choice(f"flow:{ANSWER_FLOW}:{ticket.id}", c.key) if c.value == done else c
        for c in card_choices(ticket)
    )
    d = ticket.details
    check = _last(ticket, "checks")
    again = (
        Text(
            "inspect.slip.card.again",
            {"reason": check.get("reason", ""), "count": ticket.reopen_count},
        )
        if check.get("result") == "not_yet" and ticket.status in OPEN
        else ""
    )
    params = {
        "number": ticket.number,
        "status": Text(f"status.{ticket.status}"),
        "area": Text(f"inspect.area.{d.get('area', 'hygiene')}"),
        "item": d.get("item", ticket.description),
        "note": d.get("note") or Text("inspect.slip.card.no_note"),
        "photos": len(d.get("photos") or []),
        "by": d.get("inspector_name", ""),
        "found": ticket.created_at,
        "due": ticket.due_at,
        "assignee": assignee.name if assignee else Text("card.nobody"),
        "again": again,
    }
    photos = d.get("photos") or []
    return [
        Reply(
            "inspect.slip.card",
            params,
            to=chat,
            card=f"ticket:{ticket.id}",
            choices=choices,
            photo=photos[0] if photos else None,
        )
        for chat in await department_chats(ctx.session, ticket.community_id, ticket.department)
    ]


# ---- the department's answer ----------------------------------------------------------------


async def may_answer(ctx: Context, ticket_id: int) -> Ticket | list[Reply]:
    """The card's "done" on a slip: the task's own check (its holder, once started)."""
    from handlers import tasks

    found = await tasks.may_finish(ctx, ticket_id)
    if isinstance(found, list):
        return found
    if found[0].kind != KIND:
        return [Reply("dialog.stale")]
    return found[0]


async def answered(ctx: Context, ticket_id: int, note: str, photos: list[str]) -> list[Reply]:
    """The department says what it did: the slip is done, and the follow-up check is asked
    of the inspector and the supervisors."""
    from handlers import tasks

    ticket = await ctx.session.get(Ticket, ticket_id)
    if ticket is None or ticket.kind != KIND:
        return [Reply("dialog.stale")]
    replies = await tasks.finish(ctx, ticket_id, note, photos, None)
    if ticket.status != "done":
        return replies  # refused: not theirs, not started
    ticket.details = {
        **ticket.details,
        "answers": [
            *(ticket.details.get("answers") or []),
            {"note": note, "photos": photos, "by": ctx.actor, "at": ctx.now.isoformat()},
        ],
    }
    ctx.session.add(ticket)
    mine = [r for r in replies if r.to is None and r.key == "task.done.ok"]
    others = [r for r in replies if r not in mine]
    return [
        Reply("inspect.answer.ok", {"number": ticket.number}),
        *others,
        *await follow_up(ctx, ticket, note, photos),
    ]


async def checkers(session: AsyncSession, ticket: Ticket) -> list[Recipient]:
    """Who makes the follow-up check: the inspector who found it, and the supervisors."""
    chats: list[Recipient] = []
    where = ticket.details.get("inspector_chat") or []
    if len(where) == 2 and where[0] != "system":
        chats.append(Recipient(str(where[0]), str(where[1])))
    chats += await people_with_role(session, ticket.community_id, "supervisor")
    return list(dict.fromkeys(chats))


async def follow_up(ctx: Context, ticket: Ticket, note: str, photos: list[str]) -> list[Reply]:
    params = {
        "number": ticket.number,
        "item": ticket.details.get("item", ticket.description),
        "department": Text(f"department.{ticket.department}"),
        "answer": note,
        "photos": len(photos),
    }
    choices = (
        Confirm(ticket.id or 0).choice("inspect.btn.confirm"),
        Choice(f"flow:{REOPEN_FLOW}:{ticket.id}", "inspect.btn.not_yet"),
    )
    return [
        Reply(
            "inspect.followup",
            params,
            to=chat,
            choices=choices,
            photo=photos[0] if photos else None,
        )
        for chat in await checkers(ctx.session, ticket)
    ]


# ---- the follow-up check ---------------------------------------------------------------------


async def may_check(ctx: Context, ticket_id: int) -> tuple[Ticket, StaffMember] | list[Reply]:
    """A slip answered and waiting for its follow-up check, and the sender's record that
    may check it (the community's desk, a supervisor, the director)."""
    ticket = await ctx.session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None or ticket.kind != KIND:
        return [Reply("dialog.stale")]
    member = acting_member(ctx, ticket.community_id, Department.service)
    if member is None:
        return [Reply("dialog.not_allowed")]
    if ticket.status != "done":
        return [
            Reply(
                "inspect.check.not_now",
                {"number": ticket.number, "status": Text(f"status.{ticket.status}")},
            )
        ]
    return ticket, member


async def confirm(ctx: Context, action: Confirm) -> list[Reply]:
    """确认合格: the slip is closed."""
    from handlers import tasks

    found = await may_check(ctx, action.ticket)
    if isinstance(found, list):
        return found
    ticket, member = found
    await tasks.move(ctx, ticket, "revisit_ok", f"staff:{member.id}", data={"check": "passed"})
    _add_check(ticket, ctx, "passed", "")
    return [
        Reply("inspect.check.closed", {"number": ticket.number}),
        *await slip_card(ctx, ticket),
    ]


async def reopen(ctx: Context, ticket_id: int, reason: str) -> list[Reply]:
    """仍不合格: back to the department with the reason and a new deadline."""
    from handlers import tasks

    found = await may_check(ctx, ticket_id)
    if isinstance(found, list):
        return found
    ticket, member = found
    await tasks.move(
        ctx, ticket, "revisit_bad", f"staff:{member.id}", reason, data={"check": "not_yet"}
    )
    reopen_round(ticket, ctx.now)  # a new round of work: the ladder climbed afresh
    ticket.due_at = rules.slip_due(ctx.now, await _slip_hours(ctx, ticket.community_id))
    _add_check(ticket, ctx, "not_yet", reason)
    params = {"number": ticket.number, "reason": reason, "due": ticket.due_at}
    told = [
        Reply("inspect.slip.reopened", params, to=chat)
        for chat in await department_chats(ctx.session, ticket.community_id, ticket.department)
    ]
    assignee = (
        await ctx.session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    )
    if assignee is not None:
        told.append(Reply("inspect.slip.reopened", params, to=private_chat(assignee)))
    return [
        Reply("inspect.check.reopened", params),
        *told,
        *await slip_card(ctx, ticket),
    ]


def _add_check(ticket: Ticket, ctx: Context, result: str, reason: str) -> None:
    ticket.details = {
        **ticket.details,
        "checks": [
            *(ticket.details.get("checks") or []),
            {"result": result, "reason": reason, "by": ctx.actor, "at": ctx.now.isoformat()},
        ],
    }
    ctx.session.add(ticket)


# ---- counted for /stats -------------------------------------------------------------------


async def slip_figures(
    session: AsyncSession,
    scope: tuple[int, ...] | None,
    start: datetime,
    end: datetime,
    now: datetime,
) -> Reply | None:
    """`/stats`'s line on slips: opened and closed in the period, open past due now."""
    where: list[ColumnElement[bool]] = [col(Ticket.kind) == KIND]
    if scope is not None:
        where.append(col(Ticket.community_id).in_(scope))

    async def count(*more: Any) -> int:
        found = await session.exec(select(func.count()).select_from(Ticket).where(*where, *more))
        return int(found.one())

    opened = await count(col(Ticket.created_at) >= start, col(Ticket.created_at) < end)
    closed = await count(col(Ticket.closed_at) >= start, col(Ticket.closed_at) < end)
    overdue = await count(col(Ticket.status).in_(OPEN), col(Ticket.due_at) < now)
    if not (opened or closed or overdue):
        return None
    return Reply("inspect.stats", {"opened": opened, "closed": closed, "overdue": overdue})
