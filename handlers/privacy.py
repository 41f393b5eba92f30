"""Personal data (PIPL): export everything held about a resident, or forget them.

`export_person` gathers the person, their bindings and chat accounts, their own tickets
with history and photos, the bills and payments of units they own, invitations, release
slips, private papers (a move-in's), the audit rows about them, the messages received
from their chats and what is kept for those chats. `forget_person` anonymises: the name
becomes "已注销住户#<id>", the phone goes, chat accounts are unlinked with their ids hashed, and
their tickets stay — counted in every figure — with the personal fields blanked; their
private papers are deleted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, false, or_, update
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import custody
from handlers.rules.phone import normalise_phone
from storage import audit, tickets
from storage.models import (
    AuditLog,
    Bill,
    Binding,
    ButtonToken,
    ChatIdentity,
    Community,
    DialogState,
    Document,
    InboundUpdate,
    InviteCode,
    KeyValue,
    Outbox,
    Payment,
    Person,
    Photo,
    ReleaseSlip,
    Renovation,
    Role,
    StaffGroup,
    StaffMember,
    Ticket,
    TicketEvent,
    Unit,
)

FORGOTTEN_NAME = "已注销住户#{id}"
# Free-text answers kept in `Ticket.details` (and in revisit results inside it): blanked on
# forget. Structural keys (kind, severity, deadlines, satisfaction) stay for the figures.
PERSONAL_DETAILS = frozenset(
    {
        "time",
        "location",
        "photos",
        "when",
        "who",
        "want",
        "question",
        "plate",
        "window",
        "identity",
        "comment",
        "note",
        "text",
        "answer",
        "reason",
        "name",
        "phone",
    }
)


class PersonNotFound(LookupError):
    """No person, or several, match; the message says which."""


async def find_person(
    session: AsyncSession, *, phone: str | None = None, person_id: int | None = None
) -> Person:
    """The one person with this id or phone number."""
    if person_id is not None:
        found = await session.get(Person, person_id)
        if found is None:
            raise PersonNotFound(f"no person with id {person_id}")
        return found
    number = normalise_phone(phone or "")
    if number is None:
        raise PersonNotFound(f"not a phone number: {phone!r}")
    people = (await session.exec(select(Person).where(Person.phone == number))).all()
    if len(people) != 1:
        ids = ", ".join(str(p.id) for p in people)
        raise PersonNotFound(
            f"several people have this phone (ids {ids}); name one with --person-id"
            if people
            else "no person with this phone number"
        )
    return people[0]


# ---- export ---------------------------------------------------------------------------------


def _row(row: SQLModel, *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return row.model_dump(mode="json", exclude=set(drop))


async def _identities(session: AsyncSession, person_id: int) -> list[ChatIdentity]:
    stmt = select(ChatIdentity).where(ChatIdentity.person_id == person_id)
    return list((await session.exec(stmt)).all())


def _own_tickets_filter(person_id: int, identities: list[ChatIdentity]) -> Any:
    """Their tickets: filed as the person, or from one of their private chats."""
    chats = [
        (col(Ticket.channel) == i.channel) & (col(Ticket.chat_id) == i.external_user_id)
        for i in identities
    ]
    return or_(col(Ticket.person_id) == person_id, *chats)


async def _own_tickets(
    session: AsyncSession, person_id: int, identities: list[ChatIdentity]
) -> list[Ticket]:
    stmt = select(Ticket).where(_own_tickets_filter(person_id, identities)).order_by(col(Ticket.id))
    return list((await session.exec(stmt)).all())


async def _ticket_export(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
    assert ticket.id is not None
    photos = (await session.exec(select(Photo).where(Photo.ticket_id == ticket.id))).all()
    return {
        **_row(ticket),
        "history": [_row(e) for e in await tickets.history(session, ticket.id)],
        "photos": [_row(p) for p in photos],
    }


async def _owned_units(session: AsyncSession, person_id: int) -> list[int]:
    stmt = select(Binding.unit_id).where(Binding.person_id == person_id, Binding.role == Role.owner)
    return list((await session.exec(stmt)).all())


async def _audit_rows(
    session: AsyncSession,
    person_id: int,
    identities: list[ChatIdentity],
    numbers: list[str],
) -> list[AuditLog]:
    """Audit rows by the person, naming them, their chats or their tickets."""
    names = [f"person:{person_id}", *(f"{i.channel}:{i.external_user_id}" for i in identities)]
    stmt = (
        select(AuditLog)
        .where(
            or_(
                col(AuditLog.actor).in_(names),
                col(AuditLog.target).in_(names),
                col(AuditLog.target).in_(numbers or [""]),
            )
        )
        .order_by(col(AuditLog.id))
    )
    return list((await session.exec(stmt)).all())


async def export_person(session: AsyncSession, person: Person) -> dict[str, Any]:
    """Everything held about one person, as JSON-ready data."""
    assert person.id is not None
    pid = person.id
    identities = await _identities(session, pid)
    own = await _own_tickets(session, pid, identities)
    bindings = await session.exec(
        select(Binding, Unit, Community)
        .join(Unit, col(Unit.id) == col(Binding.unit_id))
        .join(Community, col(Community.id) == col(Unit.community_id))
        .where(Binding.person_id == pid)
        .order_by(col(Binding.id))
    )
    owned = await _owned_units(session, pid)
    bills = await session.exec(
        select(Bill).where(col(Bill.unit_id).in_(owned)).order_by(col(Bill.unit_id), Bill.month)
    )
    payments = await session.exec(
        select(Payment).where(col(Payment.unit_id).in_(owned)).order_by(col(Payment.id))
    )
    invitations = await session.exec(
        select(InviteCode).where(
            or_(col(InviteCode.person_id) == pid, col(InviteCode.used_by) == pid)
        )
    )
    slips = await session.exec(select(ReleaseSlip).where(ReleaseSlip.person_id == pid))
    renovations = await session.exec(select(Renovation).where(Renovation.applicant_id == pid))
    numbers = [t.number for t in own]
    received = await session.exec(
        select(InboundUpdate)
        .where(_of_chats(col(InboundUpdate.channel), col(InboundUpdate.chat_id), identities))
        .order_by(col(InboundUpdate.id))
    )
    return {
        "person": _row(person),
        "bindings": [
            {**_row(b), "community": c.code, "unit": u.label} for b, u, c in bindings.all()
        ],
        "chat_identities": [_row(i) for i in identities],
        "tickets": [await _ticket_export(session, t) for t in own],
        "bills": [_row(b) for b in bills.all()],
        "payments": [_row(p) for p in payments.all()],
        "invitations": [_row(i) for i in invitations.all()],
        "release_slips": [_row(s) for s in slips.all()],
        "renovations": [_row(r) for r in renovations.all()],
        "documents": [_row(d) for d in await _documents(session, pid)],
        "custody": await custody.export_of(session, pid),
        "audit": [_row(a) for a in await _audit_rows(session, pid, identities, numbers)],
        "messages_received": [_row(u) for u in received.all()],
        "kept_for_their_chats": [_row(k) for k in await _chat_values(session, identities)],
    }


async def _documents(session: AsyncSession, person_id: int) -> list[Document]:
    """Private papers kept about the person (a move-in's IDs, contracts, attorneys)."""
    found = await session.exec(
        select(Document).where(Document.person_id == person_id).order_by(col(Document.id))
    )
    return list(found.all())


def _of_chats(channel: Any, chat_id: Any, identities: list[ChatIdentity]) -> Any:
    """Rows of any of the person's chats (a private chat's id is the account's)."""
    return or_(
        false(),
        *((channel == i.channel) & (chat_id == i.external_user_id) for i in identities),
    )


def _chat_value_keys(identities: list[ChatIdentity]) -> Any:
    """`key_value` rows kept for one chat end with its id (`wechat:choices:<openid>`)."""
    return or_(
        false(),
        *(
            col(KeyValue.key).endswith(f":{i.external_user_id}", autoescape=True)
            for i in identities
        ),
    )


async def _chat_values(session: AsyncSession, identities: list[ChatIdentity]) -> list[KeyValue]:
    rows = await session.exec(select(KeyValue).where(_chat_value_keys(identities)))
    return list(rows.all())


# ---- forget ---------------------------------------------------------------------------------


@dataclass
class Forgotten:
    """What `forget_person` changed; `files` are stored photos for the caller to delete."""

    person_id: int
    tickets: int = 0
    identities: int = 0
    files: list[str] = field(default_factory=list)


def pseudonym(channel: str, external_user_id: str) -> str:
    """A one-way stand-in for a chat account id (unique still, no longer reachable)."""
    digest = hashlib.sha256(f"{channel}:{external_user_id}".encode()).hexdigest()
    return f"forgotten:{digest[:32]}"


def blank_details(value: Any) -> Any:
    """`details` with free-text fields emptied, at any depth; structure and figures kept."""
    if isinstance(value, dict):
        return {
            k: _empty(v) if k in PERSONAL_DETAILS else blank_details(v) for k, v in value.items()
        }
    return value


def _empty(value: Any) -> Any:
    if isinstance(value, str):
        return ""
    if isinstance(value, list):
        return []
    return None


async def _blank_staff_copies(session: AsyncSession, own: list[Ticket]) -> None:
    """Delivered staff messages about their tickets (cards, notes): the chats keep them,
    the store keeps only the rows. Editing a card in place needs the row's message id,
    not its text; messages not yet delivered are still work for staff and stay."""
    delivered = or_(col(Outbox.sent_at).is_not(None), col(Outbox.failed_at).is_not(None))
    for ticket in own:
        groups = select(StaffGroup.chat_id).where(StaffGroup.community_id == ticket.community_id)
        members = select(StaffMember.external_user_id).where(
            or_(
                col(StaffMember.community_id) == ticket.community_id,
                col(StaffMember.community_id).is_(None),
            )
        )
        staff_chats = [*(await session.exec(groups)).all(), *(await session.exec(members)).all()]
        about = or_(
            col(Outbox.card) == f"ticket:{ticket.id}",
            cast(col(Outbox.payload), String).contains(ticket.number),
        )
        await session.exec(
            update(Outbox)
            .where(col(Outbox.chat_id).in_(staff_chats or [""]), delivered, about)
            .values(payload={})
        )


async def _forget_tickets(
    session: AsyncSession, pid: int, identities: list[ChatIdentity], result: Forgotten
) -> None:
    own = await _own_tickets(session, pid, identities)
    for ticket in own:
        ticket.contact_name = ""
        ticket.contact_phone = ""
        ticket.description = ""
        ticket.chat_id = ""  # the chat can no longer list it under /my
        ticket.details = blank_details(ticket.details)
        session.add(ticket)
        photos = (await session.exec(select(Photo).where(Photo.ticket_id == ticket.id))).all()
        for photo in photos:
            if photo.stored_path:
                result.files.append(photo.stored_path)
            photo.file_ref = ""
            photo.stored_path = None
            session.add(photo)
        result.tickets += 1
    await _blank_staff_copies(session, own)
    # The history stays append-only for everything else; only the person's own words and
    # photos go (a note's photo reference is in its data). A Core UPDATE, deliberately
    # past the ORM guard in storage.tickets.
    actors = [f"person:{pid}", *(f"{i.channel}:{i.external_user_id}" for i in identities)]
    await session.exec(
        update(TicketEvent).where(col(TicketEvent.actor).in_(actors)).values(note="", data={})
    )


async def _forget_chats(
    session: AsyncSession, identities: list[ChatIdentity], now: datetime, result: Forgotten
) -> None:
    for identity in identities:
        channel, user = identity.channel, identity.external_user_id
        await session.exec(
            delete(DialogState).where(
                col(DialogState.channel) == channel, col(DialogState.user_id) == user
            )
        )
        # Their messages as received and as sent; the unique ids stay for redelivery checks.
        await session.exec(
            update(InboundUpdate)
            .where(col(InboundUpdate.channel) == channel, col(InboundUpdate.chat_id) == user)
            .values(payload={}, chat_id="")
        )
        await session.exec(
            delete(Outbox).where(col(Outbox.channel) == channel, col(Outbox.chat_id) == user)
        )
        await session.exec(
            delete(ButtonToken).where(
                col(ButtonToken.channel) == channel, col(ButtonToken.chat_id) == user
            )
        )
        # What was kept for the chat: the choices last shown on WeChat (their labels can
        # hold a phone number), counters of wrong invitation codes.
        await session.exec(delete(KeyValue).where(_chat_value_keys([identity])))
        identity.person_id = None
        identity.external_user_id = pseudonym(channel, user)
        identity.display_name = ""
        identity.last_seen_at = now
        session.add(identity)
        result.identities += 1


async def forget_person(
    session: AsyncSession, person: Person, *, actor: str, now: datetime
) -> Forgotten:
    """Anonymise a person; tickets and figures stay, nothing points back to them."""
    assert person.id is not None
    pid = person.id
    result = Forgotten(person_id=pid)
    identities = await _identities(session, pid)
    await _forget_tickets(session, pid, identities, result)
    await _forget_chats(session, identities, now, result)
    await session.exec(delete(Binding).where(col(Binding.person_id) == pid))
    for paper in await _documents(session, pid):  # papers go with the person
        if paper.stored_path:
            result.files.append(paper.stored_path)
        await session.delete(paper)
    await session.exec(
        update(ReleaseSlip).where(col(ReleaseSlip.person_id) == pid).values(plate="")
    )
    await custody.forget_owner(session, person)  # before the name goes
    person.name = FORGOTTEN_NAME.format(id=pid)
    person.phone = None
    session.add(person)
    await audit.record(
        session,
        actor=actor,
        action="person_forget",
        target=f"person:{pid}",
        detail={"tickets": result.tickets, "chat_identities": result.identities},
        now=now,
    )
    return result
