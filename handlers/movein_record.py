"""A move-in as it is kept: reading it (what is left, its papers, defects and readings),
recording its steps (with who and when, in its history and the audit log), who of the
staff may work on it, and telling its owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.context import Context
from handlers.core.messages import Choice, Recipient, Reply, Text
from handlers.directory import person_chats
from handlers.fees import joined
from handlers.rules import movein as rules
from handlers.staffauth import acting_member
from storage import audit
from storage.models import (
    Community,
    Department,
    Document,
    MeterReading,
    MoveIn,
    Person,
    StaffMember,
    Ticket,
    Unit,
)

OPEN, COMPLETED, CANCELLED = "open", "completed", "cancelled"


def subject(move_in: MoveIn) -> str:
    return f"movein:{move_in.id}"


def desk_member(ctx: Context, community_id: int) -> StaffMember | None:
    return acting_member(ctx, community_id, Department.service)


def repair_member(ctx: Context, community_id: int) -> StaffMember | None:
    return acting_member(ctx, community_id, Department.repair)


# ---- reading a move-in ------------------------------------------------------------------


async def latest(session: AsyncSession, unit_id: int) -> MoveIn | None:
    """The unit's move-in still open, else its completed one."""
    rows = await session.exec(
        select(MoveIn)
        .where(MoveIn.unit_id == unit_id, col(MoveIn.status).in_([OPEN, COMPLETED]))
        .order_by(col(MoveIn.id).desc())
    )
    found = list(rows.all())
    return next((m for m in found if m.status == OPEN), found[0] if found else None)


async def papers(session: AsyncSession, move_in: MoveIn) -> list[Document]:
    rows = await session.exec(
        select(Document).where(Document.subject == subject(move_in)).order_by(col(Document.id))
    )
    return list(rows.all())


async def defects(session: AsyncSession, move_in: MoveIn) -> list[Ticket]:
    """The rework tickets the inspection raised, oldest first."""
    ids = [int(i) for i in move_in.checklist.get("defects", {}).get("tickets", [])]
    if not ids:
        return []
    rows = await session.exec(
        select(Ticket).where(col(Ticket.id).in_(ids)).order_by(col(Ticket.id))
    )
    return list(rows.all())


async def readings(session: AsyncSession, move_in: MoveIn) -> list[MeterReading]:
    ids = [int(i) for i in move_in.checklist.get("readings", {}).get("ids", [])]
    if not ids:
        return []
    rows = await session.exec(
        select(MeterReading).where(col(MeterReading.id).in_(ids)).order_by(col(MeterReading.id))
    )
    return list(rows.all())


@dataclass
class View:
    """A move-in as the desk's card, page and printed pack show it."""

    move_in: MoveIn
    unit: Unit
    community: Community
    owner: Person | None
    delegate: Person | None
    papers: list[Document] = field(default_factory=list)
    defects: list[Ticket] = field(default_factory=list)
    readings: list[MeterReading] = field(default_factory=list)
    inspection: Ticket | None = None
    progress: rules.Progress | None = None

    @property
    def left(self) -> list[str]:
        return self.progress.left if self.progress else []


async def view(session: AsyncSession, move_in: MoveIn) -> View:
    unit = await session.get(Unit, move_in.unit_id)
    community = await session.get(Community, move_in.community_id)
    assert unit is not None and community is not None
    owner = await session.get(Person, move_in.owner_id) if move_in.owner_id else None
    delegate = await session.get(Person, move_in.delegate_id) if move_in.delegate_id else None
    found = View(move_in, unit, community, owner, delegate)
    found.papers = await papers(session, move_in)
    found.defects = await defects(session, move_in)
    found.readings = await readings(session, move_in)
    if move_in.inspection_ticket_id:
        found.inspection = await session.get(Ticket, move_in.inspection_ticket_id)
    found.progress = rules.progress(
        move_in.checklist,
        papers_seen={d.kind for d in found.papers},
        company=bool(owner and owner.is_company),
        delegate=delegate is not None,
        defects=len(found.defects),
        defects_open=sum(1 for t in found.defects if t.status not in rules.FIXED),
        signed_off=move_in.signed_off_at is not None,
    )
    return found


def item_text(key: str) -> Text:
    return Text(f"movein.item.{key.replace('.', '_')}")


def left_text(left: list[str]) -> Any:
    if not left:
        return Text("movein.left.none")
    return Text("movein.left", {"items": joined([item_text(k) for k in left], "movein.join")})


def mark(move_in: MoveIn, key: str, actor: str, now: datetime, **detail: Any) -> None:
    """Record an item as done, with who and when (a new dict: the JSON column is replaced)."""
    move_in.checklist = {
        **move_in.checklist,
        key: {"by": actor, "at": now.isoformat(), **detail},
    }
    move_in.history = [*move_in.history, {"at": now.isoformat(), "by": actor, "what": key}]


async def audited(ctx: Context, move_in: MoveIn, action: str, **detail: Any) -> None:
    """Staff's steps of a move-in in the audit log, with the move-in and its unit."""
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action=f"movein_{action}",
        target=f"unit:{move_in.unit_id}",
        detail={"move_in": move_in.id, **detail},
        now=ctx.now,
    )


async def open_one(ctx: Context, ref: Any, *, desk: bool = True) -> MoveIn | Reply:
    """The open move-in a button or flow names, if the sender may work on it."""
    move_in = await ctx.session.get(MoveIn, int(ref)) if str(ref).isdigit() else None
    if move_in is None or move_in.status != OPEN:
        return Reply("movein.stale")
    allowed = (
        desk_member(ctx, move_in.community_id) if desk else repair_member(ctx, move_in.community_id)
    )
    if allowed is None:
        return Reply("dialog.not_allowed")
    return move_in


async def owner_chats(session: AsyncSession, move_in: MoveIn) -> list[Recipient]:
    chats: list[Recipient] = []
    for person_id in (move_in.owner_id, move_in.delegate_id):
        if person_id is not None:
            chats += await person_chats(session, person_id)
    return chats


async def tell_owner(
    session: AsyncSession, move_in: MoveIn, key: str, params: dict[str, Any], *choices: Choice
) -> list[Reply]:
    return [
        Reply(key, params, to=chat, choices=tuple(choices))
        for chat in await owner_chats(session, move_in)
    ]


async def owner_contact(session: AsyncSession, move_in: MoveIn) -> Person | None:
    """Who speaks for the owner: the delegate when there is one."""
    person_id = move_in.delegate_id or move_in.owner_id
    return await session.get(Person, person_id) if person_id else None


async def owner_move_in(ctx: Context, ref: int) -> MoveIn | Reply:
    """The open move-in whose owner (or delegate) is the sender."""
    move_in = await ctx.session.get(MoveIn, ref)
    if move_in is None or move_in.status != OPEN:
        return Reply("movein.stale")
    if ctx.person is None or ctx.person.id not in (move_in.owner_id, move_in.delegate_id):
        return Reply("dialog.not_allowed")
    return move_in


def flow_choice(name: str, move_in: MoveIn, key: str) -> Choice:
    return Choice(f"flow:{name}:{move_in.id}", key)


async def unit_label(session: AsyncSession, move_in: MoveIn) -> str:
    unit = await session.get(Unit, move_in.unit_id)
    return unit.label if unit else ""
