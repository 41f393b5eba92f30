"""Identity binding (验明身份): nothing private is shown before a chat is tied to a unit.

Three ways in: a one-time invitation code staff issue per unit (`/invite`, or printed
by `frontdesk invite` for the move-in pack); a shared phone contact that matches a
resident on the roster; or a request the service desk approves or rejects with one
press. `require_binding` is what other flows call before showing fees or slips.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, ClassVar, NamedTuple

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.actions import OnTicket
from handlers.core.context import Context
from handlers.core.messages import Choice, Recipient, Reply, Text
from handlers.directory import (
    bound_units,
    closest_units,
    department_chats,
    people_with_role,
    unit_by_label,
)
from handlers.policies import kind_due
from handlers.rules.binding import (
    CODE_LIFETIME,
    CodeThrottle,
    code_key,
    code_refusal,
    new_code,
    normalise_code,
    parse_role,
    recent,
    throttled,
)
from handlers.rules.phone import mask_phone, normalise_phone
from handlers.staffauth import acting_member
from storage import audit, tickets
from storage.models import (
    Binding,
    ChatIdentity,
    Community,
    Department,
    InviteCode,
    KeyValue,
    Person,
    Role,
    StaffMember,
    Ticket,
    TicketKind,
    TicketStatus,
    Unit,
)
from storage.upsert import insert

BIND_FLOW = "bind"
START_BINDING = Choice(f"flow:{BIND_FLOW}", "binding.start")
TO_MENU = Choice("ctl:menu", "binding.menu")


class Refused(Exception):
    """A code or answer that cannot be taken; `key` names the polite explanation."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def _local_day(ctx: Context, moment: datetime | None) -> date | None:
    return moment.astimezone(ctx.settings.tz).date() if moment else None


def role_text(role: str) -> Text:
    return Text(f"binding.role.{role}")


# ---- what other flows ask ---------------------------------------------------------------


async def require_binding(ctx: Context) -> list[Reply] | None:
    """None when the chat is bound to a unit; else a polite refusal with a way to bind."""
    if await bound_units(ctx.session, ctx.person.id if ctx.person else None):
        return None
    return [Reply("binding.required", choices=(START_BINDING,))]


async def units_command(ctx: Context, argument: str) -> list[Reply]:
    """`/units`: the units this chat is bound to, with the relation to each."""
    refusal = await require_binding(ctx)
    if refusal is not None:
        return refusal
    return [Reply("binding.units", {"units": await _listing(ctx)}, choices=(START_BINDING,))]


async def _listing(ctx: Context) -> str:
    """One line per bound unit, in the sender's language."""
    lines = []
    for unit, link in await bound_units(ctx.session, ctx.person.id if ctx.person else None):
        community = await ctx.session.get(Community, unit.community_id)
        params = {
            "community": community.name if community else "",
            "unit": unit.label,
            "role": role_text(link.role),
        }
        lines.append(ctx.catalogs.text(ctx.locale, "binding.unit_line", params))
    return "\n".join(lines)


async def communities(session: AsyncSession) -> list[Community]:
    return list((await session.exec(select(Community).order_by(col(Community.id)))).all())


async def _bound_to(session: AsyncSession, person_id: int | None, unit_id: int) -> bool:
    if person_id is None:
        return False
    found = await session.exec(
        select(Binding).where(Binding.person_id == person_id, Binding.unit_id == unit_id)
    )
    return found.first() is not None


async def _bind(
    session: AsyncSession, person: Person, unit: Unit, role: str, verified_by: str, now: datetime
) -> Binding:
    """Tie a person to a unit (or update the relation when they already are)."""
    assert person.id is not None and unit.id is not None
    found = (
        await session.exec(
            select(Binding).where(Binding.person_id == person.id, Binding.unit_id == unit.id)
        )
    ).first()
    link = found or Binding(person_id=person.id, unit_id=unit.id, created_at=now)
    link.role, link.verified_by = role, verified_by
    session.add(link)
    await session.flush()
    return link


def _link_chat(ctx: Context, person: Person) -> None:
    ctx.identity.person_id = person.id
    ctx.session.add(ctx.identity)
    ctx.person = person


# ---- invitation codes -------------------------------------------------------------------


class Issued(NamedTuple):
    """A code as issued: shown once (printed for the move-in pack), then kept only hashed."""

    code: str
    expires_at: datetime


async def issue_code(
    session: AsyncSession, unit: Unit, role: str, actor: str, now: datetime
) -> Issued:
    """A fresh one-time code for a unit, valid for 30 days; the issue is audit-logged."""
    assert unit.id is not None
    code = new_code()
    while await session.get(InviteCode, code_key(code)) is not None:
        code = new_code()
    invite = InviteCode(
        code=code_key(code),
        unit_id=unit.id,
        role=role,
        created_by=actor,
        created_at=now,
        expires_at=now + CODE_LIFETIME,
    )
    session.add(invite)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="invite",
        target=f"unit:{unit.id}",
        detail={"role": role, "unit": unit.label},  # never the code itself
        now=now,
    )
    return Issued(code, now + CODE_LIFETIME)


async def usable_code(ctx: Context, text: str) -> tuple[InviteCode, Unit]:
    """The invitation and its unit for a typed code; raises `Refused` saying why not."""
    code = normalise_code(text)
    if code is None:
        raise Refused("binding.code.invalid")
    await _not_throttled(ctx)
    invite = await ctx.session.get(InviteCode, code_key(code))
    unit = await ctx.session.get(Unit, invite.unit_id) if invite else None
    if invite is None or unit is None:
        await _wrong_code(ctx)
        raise Refused("binding.code.unknown", code=code)
    why = code_refusal(invite.used_at, invite.expires_at, ctx.now)
    if why == "used":
        raise Refused("binding.code.used", code=code)
    if why == "expired":
        assert invite.expires_at is not None
        raise Refused("binding.code.expired", code=code, date=_local_day(ctx, invite.expires_at))
    if await _bound_to(ctx.session, ctx.person.id if ctx.person else None, invite.unit_id):
        raise Refused("binding.already", unit=unit.label)
    return invite, unit


async def code_details(ctx: Context, text: str) -> dict[str, Any]:
    """What a usable code binds to, as answers a flow can keep (JSON)."""
    invite, unit = await usable_code(ctx, text)
    return {
        "code": normalise_code(text),  # as typed, for `redeem`; the store has its hash
        "unit": unit.label,
        "role": invite.role,
        "for_person": invite.person_id is not None,
    }


async def redeem(ctx: Context, text: str, name: str | None) -> list[Reply]:
    """Use a code: the chat's person (created when new) is bound to the code's unit."""
    try:
        invite, unit = await usable_code(ctx, text)
    except Refused as refused:
        return [Reply(refused.key, refused.params, choices=(START_BINDING, TO_MENU))]
    # Claimed by one conditional UPDATE: of two chats sending the code at once, one wins.
    claimed = await ctx.session.exec(
        update(InviteCode)
        .where(col(InviteCode.code) == invite.code, col(InviteCode.used_at).is_(None))
        .values(used_at=ctx.now)
    )
    if claimed.rowcount != 1:
        code = normalise_code(text)
        return [Reply("binding.code.used", {"code": code}, choices=(TO_MENU,))]
    person = ctx.person
    if person is None and invite.person_id is not None:
        person = await ctx.session.get(Person, invite.person_id)
    if person is None:
        fallback = ctx.catalogs.text(
            ctx.settings.default_locale, "binding.unnamed", {"unit": unit.label}
        )
        person = Person(
            name=(name or ctx.identity.display_name or fallback)[:100], created_at=ctx.now
        )
        ctx.session.add(person)
        await ctx.session.flush()
    await ctx.session.exec(
        update(InviteCode).where(col(InviteCode.code) == invite.code).values(used_by=person.id)
    )
    await _bind(ctx.session, person, unit, invite.role, "invite", ctx.now)
    _link_chat(ctx, person)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="bind_invite",
        target=f"unit:{unit.id}",
        detail={"role": invite.role},
        now=ctx.now,
    )
    return [
        Reply(
            "binding.code.bound",
            {"unit": unit.label, "role": role_text(invite.role), "name": person.name},
            choices=(TO_MENU,),
        )
    ]


async def on_start(ctx: Context, argument: str) -> list[Reply]:
    """`/start CODE` (a deep link from the move-in pack): greet, then use the code."""
    greeting = Reply("dialog.greeting", {"company": ctx.settings.company_name})
    return [greeting, *await redeem(ctx, argument, None)]


async def invite_command(ctx: Context, argument: str) -> list[Reply]:
    """`/invite [XFL] 3栋2单元1201 [owner|member|tenant|delegate]`: staff issue a code."""
    words = argument.split()
    role = parse_role(words[-1]) if words else None
    if role is not None:
        words = words[:-1]
    community = None
    if len(words) > 1:
        community = (
            await ctx.session.exec(select(Community).where(Community.code == words[0].upper()))
        ).first()
        if community is not None:
            words = words[1:]
    label = " ".join(words)
    if not label:
        return [Reply("binding.invite.usage")]
    units = await _units_labelled(ctx, label, community)
    if not units:
        near = await _near_labels(ctx, label, community)
        if near:
            return [Reply("binding.invite.near", {"unit": label, "near": " / ".join(near)})]
        return [Reply("binding.invite.unknown_unit", {"unit": label})]
    if len(units) > 1:
        return [Reply("binding.invite.ambiguous", {"unit": label})]
    unit = units[0]
    member = acting_member(ctx, unit.community_id, Department.service)
    if member is None:
        return [Reply("dialog.not_allowed")]
    role = role or Role.owner.value
    invite = await issue_code(ctx.session, unit, role, f"staff:{member.id}", ctx.now)
    return [
        Reply(
            "binding.invite.issued",
            {
                "code": invite.code,
                "unit": unit.label,
                "role": role_text(role),
                "date": _local_day(ctx, invite.expires_at),
            },
        )
    ]


async def _scope(ctx: Context, community: Community | None) -> Sequence[int | None]:
    """The named community, else the sender's communities (all for company-wide staff)."""
    if community is not None:
        return [community.id]
    ids = {member.community_id for member in ctx.staff}
    if None in ids:
        return [c.id for c in await communities(ctx.session)]
    return sorted(i for i in ids if i is not None)


async def _units_labelled(ctx: Context, label: str, community: Community | None) -> list[Unit]:
    """Units with this label in the named community, else in the sender's communities."""
    return [
        unit
        for community_id in await _scope(ctx, community)
        if (unit := await unit_by_label(ctx.session, community_id, label)) is not None
    ]


async def _near_labels(ctx: Context, label: str, community: Community | None) -> list[str]:
    """The labels closest to one that matched no unit there ("did you mean")."""
    return [
        unit.label
        for community_id in await _scope(ctx, community)
        for unit in await closest_units(ctx.session, community_id, label)
    ]


# ---- a shared phone contact -------------------------------------------------------------


async def roster_person(session: AsyncSession, phone: str) -> Person | None:
    """The resident on the roster with this phone who is bound to a unit (oldest first)."""
    return (
        await session.exec(
            select(Person)
            .join(Binding, col(Binding.person_id) == col(Person.id))
            .where(Person.phone == phone)
            .order_by(col(Person.id))
        )
    ).first()


async def contact_details(ctx: Context, contact: str | None, typed: str | None) -> dict[str, Any]:
    """A shared contact's number and the roster person it matches (id or None).

    Only a contact shared through the chat app counts: anyone can type anyone's number,
    so a typed number is kept for a request and never matched.
    """
    number = normalise_phone(contact or typed or "")
    if number is None:
        raise Refused("binding.contact.error")
    person = await roster_person(ctx.session, number) if contact else None
    return {"phone": number, "person": person.id if person else None, "shared": bool(contact)}


async def link_by_phone(ctx: Context, person_id: int) -> list[Reply]:
    """Link the chat to the roster person whose number it shared, with all their units."""
    person = await ctx.session.get(Person, person_id)
    if person is None or person.id is None:
        return [Reply("dialog.stale")]
    previous = ctx.person
    if previous is not None and previous.id != person.id:
        await _merge_bindings(ctx.session, previous, person)
    _link_chat(ctx, person)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="bind_phone",
        target=f"person:{person.id}",
        detail={"channel": ctx.msg.channel, "user": ctx.msg.user_id},
        now=ctx.now,
    )
    return [
        Reply(
            "binding.phone.linked",
            {"name": person.name, "units": await _listing(ctx)},
            choices=(TO_MENU,),
        )
    ]


async def _merge_bindings(session: AsyncSession, old: Person, new: Person) -> None:
    """Units bound earlier under another record of the same chat move to the roster record."""
    for link in (await session.exec(select(Binding).where(Binding.person_id == old.id))).all():
        if await _bound_to(session, new.id, link.unit_id):
            await session.delete(link)
        else:
            assert new.id is not None
            link.person_id = new.id
            session.add(link)
    await session.flush()


# ---- a request the service desk decides -------------------------------------------------


async def unit_in(ctx: Context, community_id: int | None, text: str) -> Unit | list[Unit]:
    """The unit a resident named, as people type it, checked against the community's units;
    for a near miss, the closest units to choose from."""
    unit = await unit_by_label(ctx.session, community_id, text)
    if unit is None:
        near = await closest_units(ctx.session, community_id, text)
        if near:
            return near
        raise Refused("binding.unit.unknown", unit=text.strip()[:50])
    return await not_bound_yet(ctx, unit)


async def not_bound_yet(ctx: Context, unit: Unit) -> Unit:
    """The unit, unless the chat is bound to it already (then a polite refusal)."""
    if await _bound_to(ctx.session, ctx.person.id if ctx.person else None, unit.id or 0):
        raise Refused("binding.already", unit=unit.label)
    return unit


async def submit_request(
    ctx: Context, *, unit: Unit, name: str, phone: str, role: str
) -> list[Reply]:
    """A binding ticket for the service desk, pushed with approve / reject buttons."""
    assert unit.id is not None
    waiting = await _open_request(ctx, unit.id)
    if waiting is not None:
        return [Reply("binding.request.waiting", {"number": waiting.number, "unit": unit.label})]
    await ctx.session.flush()  # a first-time chat's identity gets its id here
    ticket = await tickets.create_ticket(
        ctx.session,
        community_id=unit.community_id,
        kind=TicketKind.binding,
        due_at=await kind_due(ctx, unit.community_id, "binding"),
        department=Department.service,
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
        unit_id=unit.id,
        person_id=ctx.person.id if ctx.person else None,
        channel=ctx.msg.channel,
        chat_id=ctx.msg.chat_id,
        contact_name=name,
        contact_phone=phone,
        details={"role": role, "identity": ctx.identity.id},
    )
    card = await request_card(ctx, ticket, unit)
    pushes = [replace(card, to=chat) for chat in await _desk(ctx.session, unit.community_id)]
    return [
        Reply("binding.request.sent", {"number": ticket.number, "unit": unit.label}),
        *pushes,
    ]


async def request_card(ctx: Context, ticket: Ticket, unit: Unit | None = None) -> Reply:
    """A binding request's card with approve / reject, as the desk sees it (also `/tasks`)."""
    unit = unit or await ctx.session.get(Unit, ticket.unit_id)
    assert unit is not None
    decide = (
        Approve(ticket.id or 0).choice("binding.staff.approve"),
        Reject(ticket.id or 0).choice("binding.staff.reject"),
    )
    card = await _card(ctx, ticket, unit, Text("binding.staff.pending"))
    return Reply("binding.staff.card", card, choices=decide, card=f"ticket:{ticket.id}")


async def _open_request(ctx: Context, unit_id: int) -> Ticket | None:
    return (
        await ctx.session.exec(
            select(Ticket).where(
                Ticket.kind == TicketKind.binding,
                Ticket.unit_id == unit_id,
                Ticket.channel == ctx.msg.channel,
                Ticket.chat_id == ctx.msg.chat_id,
                Ticket.status == TicketStatus.new,
            )
        )
    ).first()


async def _desk(session: AsyncSession, community_id: int) -> list[Recipient]:
    """The service desk group; without one, the community's supervisors."""
    chats = await department_chats(session, community_id, Department.service)
    return chats or await people_with_role(session, community_id, "supervisor")


async def _card(ctx: Context, ticket: Ticket, unit: Unit, status: Text) -> dict[str, Any]:
    """What the desk sees: who asks for which unit, and who is on record there already."""
    locale = ctx.settings.default_locale  # staff groups read the office's language
    on_record = [
        ctx.catalogs.text(
            locale, "binding.staff.resident", {"name": person.name, "role": role_text(link.role)}
        )
        for person, link in (
            await ctx.session.exec(
                select(Person, Binding)
                .join(Binding, col(Binding.person_id) == col(Person.id))
                .where(Binding.unit_id == unit.id)
                .order_by(col(Binding.id))
            )
        ).all()
    ]
    return {
        "number": ticket.number,
        "status": status,
        "unit": unit.label,
        "name": ticket.contact_name,
        "phone": mask_phone(ticket.contact_phone),
        "role": role_text(ticket.details.get("role", Role.owner.value)),
        "residents": "、".join(on_record) if on_record else Text("binding.staff.nobody"),
    }


@dataclass(frozen=True)
class Approve(OnTicket):
    """The desk confirms who the resident is; the chat is bound."""

    name: ClassVar[str] = "bind_ok"


@dataclass(frozen=True)
class Reject(OnTicket):
    """The desk could not verify the resident."""

    name: ClassVar[str] = "bind_no"


async def approve(ctx: Context, action: Approve) -> list[Reply]:
    return await _decide(ctx, action.ticket, approved=True)


async def reject(ctx: Context, action: Reject) -> list[Reply]:
    return await _decide(ctx, action.ticket, approved=False)


async def _decide(ctx: Context, ref: int, *, approved: bool) -> list[Reply]:
    ticket = await ctx.session.get(Ticket, ref)
    if ticket is None or ticket.kind != TicketKind.binding or ticket.unit_id is None:
        return [Reply("dialog.stale")]
    member = acting_member(ctx, ticket.community_id, Department.service)
    if member is None:
        return [Reply("dialog.not_allowed")]
    if ticket.status != TicketStatus.new:
        return [Reply("binding.staff.decided", {"number": ticket.number})]
    unit = await ctx.session.get(Unit, ticket.unit_id)
    assert unit is not None
    identity = await ctx.session.get(ChatIdentity, ticket.details.get("identity") or 0)
    actor = f"staff:{member.id}"
    role = str(ticket.details.get("role", Role.owner.value))
    if approved:
        person = await _requester(ctx.session, ticket, identity, ctx.now)
        await _bind(ctx.session, person, unit, role, actor, ctx.now)
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=actor,
        action="approved" if approved else "rejected",
        now=ctx.now,
        to_status=TicketStatus.closed,
    )
    await audit.record(
        ctx.session,
        actor=actor,
        action="bind_approve" if approved else "bind_reject",
        target=ticket.number,
        detail={"unit": unit.label, "role": role},
        now=ctx.now,
    )
    return [
        *await _decided_cards(ctx, ticket, unit, member, approved),
        await _tell_resident(ctx, ticket, unit, identity, approved),
    ]


async def _requester(
    session: AsyncSession, ticket: Ticket, identity: ChatIdentity | None, now: datetime
) -> Person:
    """The person to bind: the chat's own, else a new record with the name and phone given.

    Never a roster person found by name and phone: those were typed, and reusing the
    record would hand the chat every other unit that person is bound to.
    """
    person = None
    if identity is not None and identity.person_id is not None:
        person = await session.get(Person, identity.person_id)
    if person is None:
        person = Person(name=ticket.contact_name, phone=ticket.contact_phone, created_at=now)
        session.add(person)
        await session.flush()
    if identity is not None and identity.person_id != person.id:
        identity.person_id = person.id
        session.add(identity)
    return person


async def _decided_cards(
    ctx: Context, ticket: Ticket, unit: Unit, member: StaffMember, approved: bool
) -> list[Reply]:
    """The card again, without buttons, saying who decided: edited in place in the chat
    where it was decided and in the desk's chats that were shown it, wherever it was
    decided (a group's button, `/tasks`, the desk's web pages)."""
    status = Text(
        "binding.staff.approved" if approved else "binding.staff.rejected", {"name": member.name}
    )
    card = await _card(ctx, ticket, unit, status)
    here = Recipient(ctx.msg.channel, ctx.msg.chat_id)
    chats = [here] + [
        chat
        for chat in await _desk(ctx.session, ticket.community_id)
        if (chat.channel, chat.chat_id) != (here.channel, here.chat_id)
    ]
    return [
        Reply("binding.staff.card", card, to=chat, card=f"ticket:{ticket.id}") for chat in chats
    ]


async def _tell_resident(
    ctx: Context, ticket: Ticket, unit: Unit, identity: ChatIdentity | None, approved: bool
) -> Reply:
    community = await ctx.session.get(Community, ticket.community_id)
    params: Mapping[str, Any] = {
        "number": ticket.number,
        "unit": unit.label,
        "role": role_text(str(ticket.details.get("role", Role.owner.value))),
        "phone": community.phone if community else "",
        "hours": community.office_hours if community else "",
    }
    to = Recipient(ticket.channel, ticket.chat_id, identity.locale if identity else None)
    return Reply(
        "binding.request.approved" if approved else "binding.request.rejected", params, to=to
    )


async def route_code(ctx: Context, text: str) -> tuple[str, str] | None:
    """An invitation code typed at the menu opens the binding flow with it.

    Random codes almost always hold a digit; an all-letter word routes only when it is
    a code we issued, so ordinary eight-letter words are left to the menu.
    """
    code = normalise_code(text)
    if code is None:
        return None
    if any(ch.isdigit() for ch in code):
        return BIND_FLOW, code
    issued = await ctx.session.get(InviteCode, code_key(code))
    return (BIND_FLOW, code) if issued is not None else None


# ---- guessing codes -----------------------------------------------------------------------

THROTTLE = CodeThrottle()
_ALL_TRIES = "codes:wrong"


def _tries_key(ctx: Context) -> str:
    return f"codes:wrong:{ctx.msg.channel}:{ctx.msg.user_id}"


async def _tries(ctx: Context, key: str) -> list[datetime]:
    row = await ctx.session.get(KeyValue, key, with_for_update=True)
    return [datetime.fromisoformat(t) for t in json.loads(row.value)] if row else []


async def _not_throttled(ctx: Context) -> None:
    """Refuse to look at a code while this chat, or everyone, has been guessing."""
    why = throttled(
        await _tries(ctx, _tries_key(ctx)), await _tries(ctx, _ALL_TRIES), ctx.now, THROTTLE
    )
    if why == "chat":
        raise Refused("binding.code.slow_down", minutes=THROTTLE.per_chat_window.seconds // 60)
    if why == "everyone":
        raise Refused("binding.code.busy")


async def _wrong_code(ctx: Context) -> None:
    """Count a wrong code for this chat and overall; the desk hears of a burst once."""
    for key, window in (
        (_tries_key(ctx), THROTTLE.per_chat_window),
        (_ALL_TRIES, THROTTLE.overall_window),
    ):
        kept = [*recent(await _tries(ctx, key), ctx.now, window), ctx.now][-100:]
        value = json.dumps([t.isoformat() for t in kept])
        await ctx.session.exec(
            insert(ctx.session, KeyValue)
            .values(key=key, value=value)
            .on_conflict_do_update(index_elements=["key"], set_={"value": value})
        )
    overall = recent(await _tries(ctx, _ALL_TRIES), ctx.now, THROTTLE.overall_window)
    if len(overall) == THROTTLE.overall:
        await audit.record(
            ctx.session,
            actor="system",
            action="codes_guessed",
            target="invite_code",
            detail={"tries": len(overall), "last_chat": f"{ctx.msg.channel}:{ctx.msg.user_id}"},
            now=ctx.now,
        )
        ctx.also_send.extend(await _burst_alert(ctx.session, len(overall)))


async def _burst_alert(session: AsyncSession, tries: int) -> list[Reply]:
    """Every community's service desk is told that invitation codes are being guessed."""
    communities = (await session.exec(select(Community))).all()
    chats = [chat for c in communities for chat in await _desk(session, c.id or 0)]
    return [Reply("binding.code.burst", {"tries": tries}, to=chat, urgent=True) for chat in chats]
