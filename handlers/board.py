"""The desk's ticket board: every ticket the signed-in staff may see, filtered, most urgent
and newest first, with counts per status.

What may be seen is `staffauth.may_see`, the rule the ticket page and every action check
too, written here as a query: per staff record, its community (or all) and its
departments (all for managers and the desk).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import complaint
from handlers.cards import TASK_KINDS, card_choices, visit_time
from handlers.core.messages import Choice
from handlers.revisits import TakePhoneRevisit
from handlers.rules.lifecycle import REVISITABLE
from handlers.rules.phone import mask_phone
from handlers.rules.stats import OPEN_STATUSES
from handlers.staffauth import may_see, sees_all_departments, sees_contact
from storage import outbox, tickets
from storage.models import (
    Building,
    Community,
    Outbox,
    Person,
    Photo,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketKind,
    Unit,
)

LIMIT = 200  # rows shown; the counts are over all that match


@dataclass(frozen=True)
class Filters:
    """What the board is narrowed to. `text` matches the number, description, contact
    name and phone, and the unit's label; `unit` the unit's label as typed."""

    status: str = ""  # a status, or "open" for new/accepted/in progress
    kind: str = ""
    department: str = ""
    community: str = ""  # a community code
    overdue: bool = False
    urgent: bool = False
    unit: str = ""
    phone: str = ""
    text: str = ""

    @classmethod
    def of(cls, form: Any) -> Filters:
        """From a submitted form (strings); unknown or blank fields are left out."""

        def word(name: str, size: int = 60) -> str:
            return str(form.get(name) or "").strip()[:size]

        return cls(
            status=word("status", 16),
            kind=word("kind", 16),
            department=word("department", 16),
            community=word("community", 20),
            overdue=bool(form.get("overdue")),
            urgent=bool(form.get("urgent")),
            unit=word("unit"),
            phone=word("phone", 30),
            text=word("text", 100),
        )


@dataclass
class Row:
    ticket: Ticket
    community: str
    unit: str
    overdue: bool


@dataclass
class Board:
    rows: list[Row] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    total: int = 0


def visible(staff: list[StaffMember]) -> ColumnElement[bool]:
    """The tickets these staff records may see (`staffauth.may_see`, as a condition)."""
    allowed: list[ColumnElement[bool]] = []
    for member in staff:
        if not member.active:
            continue
        where: list[ColumnElement[bool]] = []
        if member.community_id is not None:
            where.append(col(Ticket.community_id) == member.community_id)
        if not sees_all_departments(member):
            where.append(col(Ticket.department) == (member.department or ""))
        allowed.append(and_(*where) if where else Ticket.id.is_not(None))  # type: ignore[union-attr]
    return or_(*allowed) if allowed else false()


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _conditions(filters: Filters, now: datetime) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.status == "open":
        where.append(col(Ticket.status).in_(OPEN_STATUSES))
    elif filters.status:
        where.append(col(Ticket.status) == filters.status)
    if filters.kind:
        where.append(col(Ticket.kind) == filters.kind)
    if filters.department:
        where.append(col(Ticket.department) == filters.department)
    if filters.community:
        where.append(col(Community.code) == filters.community.upper())
    if filters.overdue:
        where.append(and_(col(Ticket.status).in_(OPEN_STATUSES), col(Ticket.due_at) < now))
    if filters.urgent:
        where.append(col(Ticket.urgent).is_(True))
    if filters.unit:
        where.append(col(Unit.label).like(_like(filters.unit), escape="\\"))
    if filters.phone:
        digits = "".join(ch for ch in filters.phone if ch.isdigit())
        if digits:
            where.append(
                or_(
                    col(Ticket.contact_phone).like(_like(digits), escape="\\"),
                    col(Person.phone).like(_like(digits), escape="\\"),
                )
            )
    if filters.text:
        pattern = _like(filters.text)
        where.append(
            or_(
                col(Ticket.number).like(pattern, escape="\\"),
                col(Ticket.description).like(pattern, escape="\\"),
                col(Ticket.contact_name).like(pattern, escape="\\"),
                col(Unit.label).like(pattern, escape="\\"),
            )
        )
    return where


async def board(
    session: AsyncSession,
    staff: list[StaffMember],
    filters: Filters,
    now: datetime,
    limit: int = LIMIT,
) -> Board:
    """The tickets the staff may see that match, urgent and newest first, and the counts
    per status of all that match."""
    where = [visible(staff), *_conditions(filters, now)]
    joined = (
        select(Ticket, Community.code, Unit.label, Building.name)
        .join(Community, col(Community.id) == col(Ticket.community_id))
        .outerjoin(Unit, col(Unit.id) == col(Ticket.unit_id))
        .outerjoin(Building, col(Building.id) == col(Unit.building_id))
        .outerjoin(Person, col(Person.id) == col(Ticket.person_id))
        .where(*where)
    )
    open_first = col(Ticket.status).in_(OPEN_STATUSES).desc()
    found = await session.exec(
        joined.order_by(
            open_first, col(Ticket.urgent).desc(), col(Ticket.created_at).desc(), col(Ticket.id)
        ).limit(limit)
    )
    result = Board()
    for ticket, code, label, _ in found.all():
        late = ticket.status in OPEN_STATUSES and ticket.due_at is not None and ticket.due_at < now
        result.rows.append(Row(ticket, code, label or "", late))
    counted = await session.exec(
        select(Ticket.status, func.count())
        .select_from(Ticket)
        .join(Community, col(Community.id) == col(Ticket.community_id))
        .outerjoin(Unit, col(Unit.id) == col(Ticket.unit_id))
        .outerjoin(Person, col(Person.id) == col(Ticket.person_id))
        .where(*where)
        .group_by(col(Ticket.status))
    )
    for status, count in counted.all():
        result.counts[status] = int(count)
    result.total = sum(result.counts.values())
    return result


async def stamp(session: AsyncSession) -> str:
    """Changes whenever any ticket is filed or changes: the board refreshes when it does."""
    newest = (await session.exec(select(func.max(Ticket.id)))).one()
    latest = (await session.exec(select(func.max(TicketEvent.id)))).one()
    return f"{newest or 0}.{latest or 0}"


# ---- one ticket, as its page shows it --------------------------------------------------------


@dataclass
class Event:
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str


@dataclass
class TicketView:
    ticket: Ticket
    community: Community
    unit: str
    assignee: str
    phone: str  # masked unless the viewer calls residents back
    events: list[Event]
    photos: list[Photo]
    choices: tuple[Choice, ...]
    overdue: bool
    visit: Any  # the convenient time, as the card says it
    answerable: bool  # the resident can be answered from the page


async def actor_names(session: AsyncSession, actors: set[str]) -> dict[str, str]:
    """`staff:12` → the staff member's name, `person:3` → the person's; others as they are."""
    names: dict[str, str] = {}
    staff_ids = [int(a[6:]) for a in actors if a.startswith("staff:") and a[6:].isdigit()]
    person_ids = [int(a[7:]) for a in actors if a.startswith("person:") and a[7:].isdigit()]
    if staff_ids:
        for member_id, name in (
            await session.exec(
                select(StaffMember.id, StaffMember.name).where(col(StaffMember.id).in_(staff_ids))
            )
        ).all():
            names[f"staff:{member_id}"] = name
    if person_ids:
        for person_id, name in (
            await session.exec(select(Person.id, Person.name).where(col(Person.id).in_(person_ids)))
        ).all():
            names[f"person:{person_id}"] = name
    return names


async def ticket_view(
    session: AsyncSession, staff: list[StaffMember], ticket_id: int, now: datetime
) -> TicketView | None:
    """The ticket with everything its page shows; None when these staff may not see it
    (or there is no such ticket: the page says the same in both cases)."""
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or not may_see(staff, ticket.community_id, ticket.department):
        return None
    community = await session.get(Community, ticket.community_id)
    assert community is not None
    unit = await session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    assignee = await session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    history = await tickets.history(session, ticket_id)
    names = await actor_names(session, {event.actor for event in history})
    photos = await session.exec(
        select(Photo).where(Photo.ticket_id == ticket_id).order_by(col(Photo.id))
    )
    phone = ticket.contact_phone
    if not sees_contact(staff, ticket.community_id):
        phone = mask_phone(phone)
    late = ticket.status in OPEN_STATUSES and ticket.due_at is not None and ticket.due_at < now
    return TicketView(
        ticket=ticket,
        community=community,
        unit=unit.label if unit else "",
        assignee=assignee.name if assignee else "",
        phone=phone,
        events=[
            Event(e.at, names.get(e.actor, e.actor), e.action, e.from_status, e.to_status, e.note)
            for e in history
        ],
        photos=list(photos.all()),
        choices=page_choices(ticket),
        overdue=late,
        answerable=answerable(ticket),
        visit=visit_time(str(ticket.details.get("time", ""))) if ticket.kind == "repair" else None,
    )


async def photo_seen(
    session: AsyncSession, staff: list[StaffMember], photo_id: int
) -> Photo | None:
    """A ticket's photo, when these staff may see its ticket (the ticket page's own rule);
    None otherwise, or when there is no such photo."""
    photo = await session.get(Photo, photo_id)
    if photo is None or photo.ticket_id is None:
        return None
    ticket = await session.get(Ticket, photo.ticket_id)
    if ticket is None or not may_see(staff, ticket.community_id, ticket.department):
        return None
    return photo


async def keep_photo(session: AsyncSession, photo_id: int, stored_path: str) -> bool:
    """Our own copy of a photo fetched from its channel, read by the next view; False
    when the photo was forgotten meanwhile (the copy is then not to be kept)."""
    photo = await session.get(Photo, photo_id)
    if photo is None or not photo.file_ref:
        return False
    photo.stored_path = stored_path
    session.add(photo)
    return True


def page_choices(ticket: Ticket) -> tuple[Choice, ...]:
    """The buttons a ticket's page offers: those of its chat card (a complaint's own), and
    the desk's phone revisit when the resident has not answered theirs. Each is checked
    again when pressed, by the handler chat uses."""
    if ticket.kind == TicketKind.complaint:
        choices = complaint.card_buttons(ticket)
    elif ticket.kind in TASK_KINDS:
        choices = card_choices(ticket)
    elif ticket.kind == TicketKind.visit and ticket.status in OPEN_STATUSES:
        choices = (Choice(f"flow:visit_result:{ticket.id}", "visitplan.btn.record"),)
    else:
        choices = ()
    revisited = ticket.kind in (TicketKind.repair, TicketKind.complaint)
    if revisited and ticket.status in REVISITABLE and "revisit" not in ticket.details:
        ref = ticket.id or 0
        choices += (
            TakePhoneRevisit(ref).choice("revisit.take"),
            Choice(f"flow:revisit_staff:{ref}", "revisit.record"),
        )
    return choices


def answerable(ticket: Ticket) -> bool:
    """Whether the desk can answer the resident from the page (`/answer`, as in chat)."""
    return ticket.kind in (TicketKind.question, TicketKind.complaint) and (
        ticket.status in OPEN_STATUSES
    )


async def recent_messages(
    session: AsyncSession, channel: str, chat_id: str, limit: int = 6
) -> list[Outbox]:
    """The last messages the bot wrote to a web desk (its answers to what they did there),
    oldest first."""
    found = await session.exec(
        select(Outbox)
        .where(Outbox.channel == channel, Outbox.chat_id == chat_id)
        .order_by(col(Outbox.id).desc())
        .limit(limit)
    )
    return list(reversed(found.all()))


# ---- the desk's notifications ----------------------------------------------------------------

# An answer's `external_message_id` once the page that asked for it showed it: what the
# bot answered a desk's own click, as against what it pushed to them (a job handed to
# them, an escalation), which waits on the notifications page until it is seen.
ANSWERED = "web:page"
SEEN = "web:notices"
NOTICES = 50  # the newest shown
NUMBER = re.compile(r"\b[A-Z]-\d{6}-\d{4,}\b")  # a ticket number in a message (R-261126-0001)


@dataclass(frozen=True)
class Notice:
    """A message the bot pushed to a web login, with the ticket it is about when the
    login may see that ticket."""

    id: int
    at: datetime
    text: str
    unread: bool
    ticket_id: int | None = None
    number: str = ""


def _pushed(channel: str, chat_id: str, now: datetime) -> list[ColumnElement[bool]]:
    """A login's messages that are due and were not answers to their own clicks."""
    return [
        col(Outbox.channel) == channel,
        col(Outbox.chat_id) == chat_id,
        col(Outbox.not_before) <= now,  # a push held for the quiet hours shows once due
        col(Outbox.failed_at).is_(None),
        or_(col(Outbox.external_message_id).is_(None), col(Outbox.external_message_id) != ANSWERED),
    ]


async def unread_count(session: AsyncSession, channel: str, chat_id: str, now: datetime) -> int:
    """How many of a login's pushes they have not been shown yet (the header's count)."""
    found = await session.exec(
        select(func.count())
        .select_from(Outbox)
        .where(*_pushed(channel, chat_id, now), col(Outbox.sent_at).is_(None))
    )
    return int(found.one())


async def notices(
    session: AsyncSession,
    staff: list[StaffMember],
    channel: str,
    chat_id: str,
    now: datetime,
    limit: int = NOTICES,
) -> list[Notice]:
    """A login's pushes, newest first, each with its ticket where there is one they may
    see (its card's, or the first ticket number in the text)."""
    rows = list(
        (
            await session.exec(
                select(Outbox)
                .where(*_pushed(channel, chat_id, now))
                .order_by(col(Outbox.id).desc())
                .limit(limit)
            )
        ).all()
    )
    cards = {
        int(row.card[7:])
        for row in rows
        if row.card and row.card.startswith("ticket:") and row.card[7:].isdigit()
    }
    numbers = {found.group(0) for row in rows if (found := NUMBER.search(_text(row)))}
    seen: dict[int, Ticket] = {}
    if cards or numbers:
        query = select(Ticket).where(
            visible(staff), or_(col(Ticket.id).in_(cards), col(Ticket.number).in_(numbers))
        )
        seen = {t.id: t for t in (await session.exec(query)).all() if t.id is not None}
    by_number = {t.number: t for t in seen.values()}
    listed: list[Notice] = []
    for row in rows:
        assert row.id is not None
        ticket: Ticket | None = None
        if row.card and row.card.startswith("ticket:") and row.card[7:].isdigit():
            ticket = seen.get(int(row.card[7:]))
        if ticket is None and (found := NUMBER.search(_text(row))):
            ticket = by_number.get(found.group(0))
        listed.append(
            Notice(
                id=row.id,
                at=row.created_at,
                text=_text(row),
                unread=row.sent_at is None,
                ticket_id=ticket.id if ticket else None,
                number=ticket.number if ticket else "",
            )
        )
    return listed


def _text(row: Outbox) -> str:
    return str(row.payload.get("text") or "")


async def mark_seen(session: AsyncSession, notice_ids: list[int], now: datetime) -> None:
    """The pushes shown on the notifications page count as delivered."""
    await outbox.mark_sent_unless_claimed(session, notice_ids, now, SEEN)
