"""A resident's own tickets (`/my`): status, notes and photos, urging (催单), cancelling;
below them, their move-in while it is open, their flat's custody while it lasts, their
renovation until it ends, the keys the office keeps for them, their parcels waiting at the
desk and their visitors still to come.

A release slip reads like a slip (handlers/slip.py): its state, day, items and code, and
only what can be done with one: show the code again, or cancel it until it is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from sqlalchemy import ColumnElement
from sqlmodel import col, or_, select

from handlers import custody, movein, parcels, renovation_apply, visitors
from handlers import slip as slips
from handlers.cards import where
from handlers.cardsync import refreshed_cards
from handlers.core.actions import Action, OnTicket
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Reply, Text
from handlers.directory import department_chats
from handlers.keys import owner_keys
from handlers.rules import slip as slip_rules
from handlers.rules.lifecycle import FINISHED, allowed, next_status
from storage import tickets
from storage.models import ReleaseSlip, Ticket, TicketEvent, TicketKind, Unit

LISTED = 10
RESIDENT_KINDS = ("repair", "complaint", "fee", "question", "slip")


async def own_tickets(ctx: Context) -> list[Ticket]:
    """The sender's tickets, newest first: the person's, and the ones this private chat
    filed before anyone was bound to it. Never a group's: everyone there shares its id."""
    conditions: list[ColumnElement[bool]] = []
    if ctx.msg.chat_kind == "private":
        conditions.append(
            (col(Ticket.channel) == ctx.msg.channel)
            & (col(Ticket.chat_id) == ctx.msg.chat_id)
            & col(Ticket.person_id).is_(None)
        )
    if ctx.person is not None:
        conditions.append(col(Ticket.person_id) == ctx.person.id)
    if not conditions:
        return []
    rows = await ctx.session.exec(
        select(Ticket)
        .where(or_(*conditions), col(Ticket.kind).in_(RESIDENT_KINDS))
        .order_by(col(Ticket.id).desc())
        .limit(LISTED)
    )
    return list(rows.all())


@dataclass(frozen=True)
class MyList(Action):
    name: ClassVar[str] = "my_list"
    private: ClassVar[bool] = True


@dataclass(frozen=True)
class MyView(OnTicket):
    name: ClassVar[str] = "my_view"
    private: ClassVar[bool] = True


@dataclass(frozen=True)
class MyUrge(OnTicket):
    name: ClassVar[str] = "my_urge"
    private: ClassVar[bool] = True


@dataclass(frozen=True)
class MyCancel(OnTicket):
    name: ClassVar[str] = "my_cancel"
    private: ClassVar[bool] = True


@dataclass(frozen=True)
class MyCode(OnTicket):
    """An approved slip's code and QR image again."""

    name: ClassVar[str] = "my_code"
    private: ClassVar[bool] = True


async def own_ticket(ctx: Context, argument: int | str) -> Ticket | None:
    """One of the sender's tickets by id; None for anybody else's (crafted buttons)."""
    ref = argument if isinstance(argument, int) else row_id(argument)
    if ref is None:
        return None
    ticket = await ctx.session.get(Ticket, ref)
    if ticket is None:
        return None
    if ctx.person is not None and ticket.person_id == ctx.person.id:
        return ticket
    filed_here = ticket.channel == ctx.msg.channel and ticket.chat_id == ctx.msg.chat_id
    if ctx.msg.chat_kind == "private" and filed_here and ticket.person_id is None:
        return ticket  # filed from this private chat before it was bound to anyone
    return None


async def list_command(ctx: Context, argument: str | MyList = "") -> list[Reply]:
    """`/my`: the resident's recent tickets, each with a button to open it; then how their
    move-in is going, while it is open, their flat's custody, while it lasts, their
    renovation until it ends, the keys the office keeps for them, the parcels waiting for
    them at the desk and their visitors still to come or inside."""
    found = await own_tickets(ctx)
    also = [
        *await movein.open_progress(ctx),
        *await custody.owner_custodies(ctx, active_only=True),
        *await renovation_apply.owner_renovations(ctx),
        *await owner_keys(ctx),
        *await parcels.waiting_reply(ctx),
        *await visitors.upcoming_reply(ctx),
    ]
    if not found:
        return also or [Reply("my.none")]
    listed_slips = await slips.slips_of(ctx, found)
    lines = [_line(ctx, t, listed_slips.get(t.id or 0)) for t in found]
    choices = tuple(MyView(t.id or 0).choice("my.open", number=t.number) for t in found)
    return [Reply("my.list", {"count": len(found), "lines": lines}, choices=choices), *also]


def _line(ctx: Context, ticket: Ticket, slip: ReleaseSlip | None) -> Text:
    params: dict[str, Any] = {
        "number": ticket.number,
        "kind": Text(f"kind.{ticket.kind}"),
        "status": Text(f"status.{ticket.status}"),
        "summary": _short(ticket.description),
    }
    if slip is not None:  # its own state ("approved", not the ticket's "accepted") and day
        params["status"] = slips.state_text(ctx, slip)
        params["summary"] = Text("slip.my.summary", {"day": slip.day, "items": params["summary"]})
    return Text("my.line", params)


async def _own_slip(ctx: Context, argument: int) -> tuple[ReleaseSlip, Ticket] | None:
    """One of the sender's release slips, with its ticket, by ticket id."""
    ticket = await own_ticket(ctx, argument)
    slip = await slips.slip_of(ctx, ticket) if ticket is not None else None
    return (slip, ticket) if slip is not None and ticket is not None else None


async def view(ctx: Context, action: MyView) -> list[Reply]:
    ticket = await own_ticket(ctx, action.ticket)
    if ticket is None:
        return [Reply("dialog.stale")]
    if ticket.kind == TicketKind.slip:
        return await _slip_view(ctx, ticket)
    unit = await ctx.session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    events = await tickets.history(ctx.session, ticket.id or 0)
    steps = [
        Text("my.event", {"at": e.at, "what": Text(f"status.{e.to_status}")})
        for e in events
        if e.to_status
    ]
    choices: list[Choice] = []
    if ticket.status not in FINISHED:
        choices += [
            Choice(f"flow:note:{ticket.id}", "my.add_note"),
            MyUrge(ticket.id or 0).choice("my.urge"),
        ]
    if allowed(ticket.status, "cancel"):  # work has not started yet
        choices.append(MyCancel(ticket.id or 0).choice("my.cancel"))
    params: dict[str, Any] = {
        "number": ticket.number,
        "kind": Text(f"kind.{ticket.kind}"),
        "status": Text(f"status.{ticket.status}"),
        "where": where(ticket, unit),
        "description": ticket.description,
        "created": ticket.created_at,
        "history": steps,
    }
    return [Reply("my.ticket", params, choices=tuple(choices))]


async def _slip_view(ctx: Context, ticket: Ticket) -> list[Reply]:
    """A slip: no urging or notes (the owner or the desk decides, the gate checks)."""
    slip = await slips.slip_of(ctx, ticket)
    if slip is None:
        return [Reply("dialog.stale")]
    choices: list[Choice] = []
    if slips.state_of(ctx, slip) == slip_rules.APPROVED:
        choices.append(MyCode(ticket.id or 0).choice("slip.my.show_code"))
    if slips.can_cancel(ctx, slip):
        choices.append(MyCancel(ticket.id or 0).choice("slip.my.cancel"))
    params = await slips.resident_view(ctx, slip, ticket)
    return [Reply("slip.my.view", params, choices=tuple(choices))]


async def show_code(ctx: Context, action: MyCode) -> list[Reply]:
    """An approved slip's code and QR image again, to show at the gate."""
    found = await _own_slip(ctx, action.ticket)
    if found is None:
        return [Reply("dialog.stale")]
    return await slips.show_code(ctx, *found)


async def urge(ctx: Context, action: MyUrge) -> list[Reply]:
    """催单: remind the department, at most once per configured interval."""
    ticket = await own_ticket(ctx, action.ticket)
    if ticket is None:
        return [Reply("dialog.stale")]
    if ticket.kind == TicketKind.slip:  # an old button: nobody works on a slip to hurry
        return [Reply("slip.my.no_urge", {"number": ticket.number})]
    if ticket.status in FINISHED:
        return [Reply("my.urge.finished", {"number": ticket.number})]
    interval = timedelta(minutes=ctx.settings.urge_interval_minutes)
    last = (
        await ctx.session.exec(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == "urged")
            .order_by(col(TicketEvent.at).desc())
        )
    ).first()
    if last is not None and ctx.now - last.at < interval:
        return [
            Reply(
                "my.urge.too_soon",
                {"number": ticket.number, "at": last.at, "next": last.at + interval},
            )
        ]
    await tickets.record_change(ctx.session, ticket, actor=ctx.actor, action="urged", now=ctx.now)
    pushes = [
        Reply(
            "my.urge.staff",
            {"number": ticket.number, "status": Text(f"status.{ticket.status}")},
            to=chat,
            urgent=ticket.urgent,  # an emergency's urge is never held for the morning
        )
        for chat in await department_chats(ctx.session, ticket.community_id, ticket.department)
    ]
    return [Reply("my.urge.sent", {"number": ticket.number}), *pushes]


async def cancel(ctx: Context, action: MyCancel) -> list[Reply]:
    """Cancel a ticket before work starts; the group's card shows it cancelled.

    A release slip is cancelled as a slip: until it is used, and its code is void.
    """
    ticket = await own_ticket(ctx, action.ticket)
    if ticket is None:
        return [Reply("dialog.stale")]
    if ticket.kind == TicketKind.slip:
        slip = await slips.slip_of(ctx, ticket)
        return await slips.cancel(ctx, slip, ticket) if slip else [Reply("dialog.stale")]
    if not allowed(ticket.status, "cancel"):
        return [
            Reply(
                "my.cancel.too_late",
                {"number": ticket.number, "status": Text(f"status.{ticket.status}")},
            )
        ]
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=ctx.actor,
        action="cancelled",
        now=ctx.now,
        to_status=next_status(ticket.status, "cancel"),
    )
    return [
        Reply("my.cancel.done", {"number": ticket.number}),
        *await refreshed_cards(ctx, ticket),
    ]


async def note_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    ticket = await own_ticket(ctx, initial or "")
    if ticket is None or ticket.status in FINISHED:
        return [Reply("dialog.stale")]
    if ticket.kind == TicketKind.slip:  # an old button: a slip's items are fixed once asked
        return [Reply("slip.my.no_note", {"number": ticket.number})]
    return {"_ticket": ticket.id, "_number": ticket.number}


async def note_summary(ctx: Context, answers: Any) -> dict[str, Any]:
    content = answers["content"]
    return {
        "number": answers["_number"],
        "content": Text("my.note.photo") if content.get("photo") else content["text"],
    }


async def note_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    """Add the resident's note or photo to the ticket and tell the department."""
    ticket = await own_ticket(ctx, str(answers["_ticket"]))
    if ticket is None:
        return [Reply("dialog.stale")]
    content = answers["content"]
    photo = content.get("photo")
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=ctx.actor,
        action="note",
        now=ctx.now,
        note=content.get("text", ""),
        data={"photo": photo} if photo else None,
    )
    if photo:
        tickets.attach_photos(ctx.session, ticket, ctx.msg.channel, [photo], ctx.now)
    pushes = [
        Reply(
            "my.note.staff",
            {"number": ticket.number, "text": content.get("text") or "📷"},
            to=chat,
            photo=photo,
            urgent=ticket.urgent,
        )
        for chat in await department_chats(ctx.session, ticket.community_id, ticket.department)
    ]
    return [Reply("my.note.added", {"number": ticket.number}), *pushes]


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
