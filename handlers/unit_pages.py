"""What the desk's unit pages read and do (`/desk/units`): finding a unit as people type it
or by a resident's name or phone, a unit's page (residents and their bindings, tickets,
bills, arrears, release slips), the binding requests waiting, issuing an invitation code,
recording a payment and importing a roster file.

Who sees a community's units: its staff (an active record there, or company-wide), as in
chat a staff member acts only for their community; tickets are those the board shows them
(`board.visible`), and phones are whole only for those who call residents back
(`staffauth.sees_contact`). Doing something for a unit (a code, a payment, an import) is
the service desk's, checked with `acting_member` as chat's `/invite` and `/paid` do, and
done by the same functions (`binding.issue_code`, `fees.record_payment`,
`roster.import_rows`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import roster
from handlers.arrears_cases import open_agreements
from handlers.binding import Approve, Issued, Reject, issue_code
from handlers.board import visible
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.directory import closest_units, normalise_label, unit_by_label
from handlers.documents.tables import Table
from handlers.fees import paid_reply, record_payment, unit_bills, unit_statement
from handlers.rules import fees as fee_rules
from handlers.rules.binding import ROLES
from handlers.rules.phone import mask_phone, normalise_phone
from handlers.slip import items_text, window_text
from handlers.staffauth import acting_member, sees_contact
from storage import audit
from storage.models import (
    ArrearsCase,
    Bill,
    Binding,
    Building,
    ChatIdentity,
    Community,
    Custody,
    Department,
    FeeAgreement,
    InviteCode,
    Payment,
    Person,
    ReleaseSlip,
    StaffMember,
    Ticket,
    TicketKind,
    TicketStatus,
    Unit,
)

FOUND_MOST = 50  # rows a search shows
PHONE_DIGITS = 4  # the fewest digits searched as part of a phone number
PHONE_LIKE = re.compile(r"\+?[\d\s\-()]+")  # `138 0000 0001`, `+86-138…`: a number as typed


# ---- who sees which community -------------------------------------------------------------


def seen_ids(staff: list[StaffMember]) -> set[int] | None:
    """The communities whose units these staff records see; None for all (company-wide)."""
    ids: set[int] = set()
    for member in staff:
        if not member.active:
            continue
        if member.community_id is None:
            return None
        ids.add(member.community_id)
    return ids


def sees_units(staff: list[StaffMember], community_id: int) -> bool:
    ids = seen_ids(staff)
    return ids is None or community_id in ids


async def communities_seen(session: AsyncSession, staff: list[StaffMember]) -> list[Community]:
    found = await session.exec(select(Community).order_by(col(Community.code)))
    return [c for c in found.all() if c.id is not None and sees_units(staff, c.id)]


def may_act(ctx: Context, community_id: int) -> StaffMember | None:
    """The desk's record that may act for a unit of this community, as `/invite` and
    `/paid` ask."""
    return acting_member(ctx, community_id, Department.service)


# ---- finding a unit -------------------------------------------------------------------------


@dataclass
class Found:
    unit: Unit
    community: Community
    residents: list[str]  # names, in binding order


@dataclass
class Search:
    typed: str
    rows: list[Found] = field(default_factory=list)
    near: bool = False  # nothing matched: the rows are the closest labels ("did you mean")
    exact: Unit | None = None  # the one unit the text names, as people type it


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search(session: AsyncSession, staff: list[StaffMember], typed: str) -> Search:
    """Units of the communities these staff see: the one a label names as people type it
    (`3号楼2单元1201`, `3-2-1201`), else those whose label holds the text, or whose
    residents' names or phones do; when nothing matches, the closest labels."""
    result = Search(typed)
    text = typed.strip()
    communities = {c.id: c for c in await communities_seen(session, staff)}
    if not text or not communities:
        return result
    named = [
        unit
        for community_id in communities
        if (unit := await unit_by_label(session, community_id, text)) is not None
    ]
    if len(named) == 1:
        result.exact = named[0]
    matches: list[Any] = [col(Unit.id).in_([u.id for u in named])] if named else []
    matches.append(col(Unit.label).like(_like(normalise_label(text)), escape="\\"))
    matches.append(col(Person.name).like(_like(text), escape="\\"))
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) >= PHONE_DIGITS and PHONE_LIKE.fullmatch(text):
        number = normalise_phone(text) or digits  # `+86 138…` is stored as `138…`
        matches.append(col(Person.phone).like(_like(number), escape="\\"))
    rows = await session.exec(
        select(Unit.id)
        .outerjoin(Binding, col(Binding.unit_id) == col(Unit.id))
        .outerjoin(Person, col(Person.id) == col(Binding.person_id))
        .where(col(Unit.community_id).in_(list(communities)), or_(*matches))
        .group_by(col(Unit.id))
        .order_by(col(Unit.id))
        .limit(FOUND_MOST)
    )
    ids = [unit_id for unit_id in rows.all() if unit_id is not None]
    if not ids:
        near = [u for c in communities for u in await closest_units(session, c, text, limit=5)]
        ids = [u.id for u in near if u.id is not None]
        result.near = bool(ids)
    result.rows = await _found(session, ids, communities)
    return result


async def _found(
    session: AsyncSession, ids: list[int], communities: dict[int | None, Community]
) -> list[Found]:
    if not ids:
        return []
    units = {u.id: u for u in (await session.exec(select(Unit).where(col(Unit.id).in_(ids)))).all()}
    names: dict[int, list[str]] = {}
    for unit_id, name in (
        await session.exec(
            select(Binding.unit_id, Person.name)
            .join(Person, col(Person.id) == col(Binding.person_id))
            .where(col(Binding.unit_id).in_(ids))
            .order_by(col(Binding.id))
        )
    ).all():
        names.setdefault(unit_id, []).append(name)
    return [
        Found(units[i], communities[units[i].community_id], names.get(i, []))
        for i in ids
        if i in units
    ]


# ---- a unit's page ---------------------------------------------------------------------------


@dataclass
class Resident:
    person: Person
    role: str
    verified: Text  # roster, invitation code, shared phone, or the staff member who approved
    phone: str  # masked unless the viewer calls residents back
    chats: int  # chat accounts linked: told in chat when there are any
    since: datetime


@dataclass
class Request:
    """A binding request waiting for the desk, with its card's two buttons."""

    ticket: Ticket
    unit: Unit
    community: Community
    phone: str
    role: str
    on_record: list[tuple[str, str]]  # (name, role) of those bound already
    choices: tuple[Choice, ...]


@dataclass
class SlipRow:
    slip: ReleaseSlip
    ticket: Ticket
    items: Any  # what goes out, as the slip's card says it
    window: Any


@dataclass
class UnitView:
    unit: Unit
    community: Community
    building: str
    residents: list[Resident]
    tickets: list[Ticket]
    bills: list[Bill]
    statement: fee_rules.Statement
    monthly: Decimal
    payments: list[Payment]
    arrears: ArrearsCase | None  # the open case on the arrears ladder, if any
    agreements: list[FeeAgreement]
    slips: list[SlipRow]
    requests: list[Request]
    open_codes: int  # invitation codes issued and neither used nor expired
    contact: bool  # the viewer sees whole phone numbers
    custody: Custody | None = None  # the flat's custody: the one under way, else the last


def _verified(value: str, names: dict[str, str]) -> Text:
    if value.startswith("staff:"):
        return Text("units.verified.staff", {"name": names.get(value, value)})
    if value in ("roster", "invite", "phone"):
        return Text(f"units.verified.{value}")
    return Text("units.verified.other", {"how": value or "—"})


async def _staff_names(session: AsyncSession, actors: set[str]) -> dict[str, str]:
    ids = [int(a[6:]) for a in actors if a.startswith("staff:") and a[6:].isdigit()]
    if not ids:
        return {}
    found = await session.exec(
        select(StaffMember.id, StaffMember.name).where(col(StaffMember.id).in_(ids))
    )
    return {f"staff:{member_id}": name for member_id, name in found.all()}


async def unit_view(
    session: AsyncSession,
    staff: list[StaffMember],
    unit_id: int,
    *,
    today: date,
    now: datetime,
    energy_rate: Decimal,
) -> UnitView | None:
    """Everything a unit's page shows; None when these staff do not see the unit's
    community (or there is no such unit: the page says the same in both cases)."""
    unit = await session.get(Unit, unit_id)
    if unit is None or not sees_units(staff, unit.community_id):
        return None
    community = await session.get(Community, unit.community_id)
    building = await session.get(Building, unit.building_id)
    assert community is not None and community.id is not None
    contact = sees_contact(staff, community.id)
    bound = (
        await session.exec(
            select(Person, Binding)
            .join(Binding, col(Binding.person_id) == col(Person.id))
            .where(Binding.unit_id == unit_id)
            .order_by(col(Binding.id))
        )
    ).all()
    names = await _staff_names(session, {link.verified_by for _, link in bound})
    chats: dict[int, int] = {}
    people = [person.id for person, _ in bound if person.id is not None]
    if people:
        for person_id in (
            await session.exec(
                select(ChatIdentity.person_id).where(col(ChatIdentity.person_id).in_(people))
            )
        ).all():
            if person_id is not None:
                chats[person_id] = chats.get(person_id, 0) + 1
    residents = [
        Resident(
            person=person,
            role=link.role,
            verified=_verified(link.verified_by, names),
            phone=(person.phone or "") if contact else mask_phone(person.phone or ""),
            chats=chats.get(person.id or 0, 0),
            since=link.created_at,
        )
        for person, link in bound
    ]
    tickets = (
        await session.exec(
            select(Ticket)
            .where(Ticket.unit_id == unit_id, visible(staff))
            .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
            .limit(100)
        )
    ).all()
    slips = (
        await session.exec(
            select(ReleaseSlip, Ticket)
            .join(Ticket, col(Ticket.id) == col(ReleaseSlip.ticket_id))
            .where(ReleaseSlip.unit_id == unit_id, visible(staff))
            .order_by(col(ReleaseSlip.day).desc(), col(ReleaseSlip.id).desc())
            .limit(30)
        )
    ).all()
    payments = (
        await session.exec(
            select(Payment)
            .where(Payment.unit_id == unit_id)
            .order_by(col(Payment.at).desc(), col(Payment.id).desc())
            .limit(24)
        )
    ).all()
    case = (
        await session.exec(
            select(ArrearsCase)
            .where(ArrearsCase.unit_id == unit_id, col(ArrearsCase.closed_at).is_(None))
            .order_by(col(ArrearsCase.id).desc())
        )
    ).first()
    codes = (
        await session.exec(
            select(InviteCode.code).where(
                InviteCode.unit_id == unit_id,
                col(InviteCode.used_at).is_(None),
                or_(col(InviteCode.expires_at).is_(None), col(InviteCode.expires_at) > now),
            )
        )
    ).all()
    return UnitView(
        unit=unit,
        community=community,
        building=building.name if building else "",
        residents=residents,
        tickets=list(tickets),
        bills=await unit_bills(session, unit_id),
        statement=await unit_statement(session, unit, today),
        monthly=fee_rules.monthly_charge(
            community.management_rate, unit.area_m2, energy_rate, unit.extra_monthly
        ),
        payments=list(payments),
        arrears=case,
        agreements=await open_agreements(session, unit_id),
        slips=[
            SlipRow(slip, ticket, items_text(slip.items), window_text(slip.window))
            for slip, ticket in slips
        ],
        requests=await binding_requests(session, staff, unit_id=unit_id),
        open_codes=len(codes),
        contact=contact,
        custody=(
            await session.exec(
                select(Custody)
                .where(Custody.unit_id == unit_id)
                .order_by(col(Custody.status) != "active", col(Custody.id).desc())
            )
        ).first(),
    )


# ---- binding requests ---------------------------------------------------------------------


async def binding_requests(
    session: AsyncSession, staff: list[StaffMember], unit_id: int | None = None
) -> list[Request]:
    """The binding requests waiting for the desk that these staff see, oldest first, each
    with the approve / reject buttons of its chat card (checked again when pressed)."""
    query = (
        select(Ticket, Unit, Community)
        .join(Unit, col(Unit.id) == col(Ticket.unit_id))
        .join(Community, col(Community.id) == col(Ticket.community_id))
        .where(
            Ticket.kind == TicketKind.binding,
            Ticket.status == TicketStatus.new,
            visible(staff),
        )
        .order_by(col(Ticket.created_at), col(Ticket.id))
        .limit(200)
    )
    if unit_id is not None:
        query = query.where(Ticket.unit_id == unit_id)
    found = (await session.exec(query)).all()
    units = [unit.id for _, unit, _ in found]
    on_record: dict[int, list[tuple[str, str]]] = {}
    if units:
        for person_unit, name, role in (
            await session.exec(
                select(Binding.unit_id, Person.name, Binding.role)
                .join(Person, col(Person.id) == col(Binding.person_id))
                .where(col(Binding.unit_id).in_(units))
                .order_by(col(Binding.id))
            )
        ).all():
            on_record.setdefault(person_unit, []).append((name, role))
    return [
        Request(
            ticket=ticket,
            unit=unit,
            community=community,
            phone=ticket.contact_phone
            if sees_contact(staff, community.id or 0)
            else mask_phone(ticket.contact_phone),
            role=str(ticket.details.get("role", "owner")),
            on_record=on_record.get(unit.id or 0, []),
            choices=(
                Approve(ticket.id or 0).choice("binding.staff.approve"),
                Reject(ticket.id or 0).choice("binding.staff.reject"),
            ),
        )
        for ticket, unit, community in found
    ]


# ---- doing things for a unit ------------------------------------------------------------------


@dataclass
class Invitation:
    """A code as issued for a unit: shown once, on the slip the desk prints."""

    issued: Issued
    unit: Unit
    community: Community
    role: str


async def invite(ctx: Context, unit: Unit, role: str) -> Invitation | Text:
    """A one-time invitation code for the unit, as chat's `/invite` issues it; or why not."""
    if role not in ROLES:
        return Text("units.invite.role_missing")
    member = may_act(ctx, unit.community_id)
    community = await ctx.session.get(Community, unit.community_id)
    if member is None or community is None:
        return Text("dialog.not_allowed")
    issued = await issue_code(ctx.session, unit, role, f"staff:{member.id}", ctx.now)
    return Invitation(issued, unit, community, role)


@dataclass
class PaymentForm:
    """A payment as typed on the unit's page (a refused form is shown again with it)."""

    amount: str = ""
    receipt: str = ""

    @classmethod
    def of(cls, posted: Any) -> PaymentForm:
        return cls(
            amount=str(posted.get("amount") or "").strip()[:30],
            receipt=str(posted.get("receipt") or "").strip()[:60],
        )


@dataclass
class Paid:
    """What recording a payment did: the problems by field, or what chat's `/paid` would
    have answered (`done`) and the notices to the unit's residents."""

    problems: dict[str, Text] = field(default_factory=dict)
    done: Reply | None = None
    notices: list[Reply] = field(default_factory=list)


async def pay(ctx: Context, unit: Unit, form: PaymentForm) -> Paid:
    """Record money received for the unit with the checks of `/paid`: the amount and the
    receipt number read as there, the desk's own community, a receipt used once."""
    result = Paid()
    amount = fee_rules.parse_amount(form.amount) if form.amount else None
    if not form.amount:
        result.problems["amount"] = Text("units.pay.amount_missing")
    elif amount is None:
        result.problems["amount"] = Text("fee.paid.bad_amount", {"value": form.amount[:20]})
    receipt = fee_rules.normalise_receipt(form.receipt) if form.receipt else None
    if not form.receipt:
        result.problems["receipt"] = Text("units.pay.receipt_missing")
    elif receipt is None:
        result.problems["receipt"] = Text("fee.paid.bad_receipt", {"value": form.receipt[:50]})
    if result.problems or amount is None or receipt is None:
        return result
    if may_act(ctx, unit.community_id) is None:
        result.problems["amount"] = Text("dialog.not_allowed")
        return result
    outcome = await record_payment(
        ctx.session,
        unit=unit,
        amount=amount,
        receipt=receipt,
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
    )
    if outcome.refusal is not None:
        result.problems["receipt"] = Text(outcome.refusal, {"receipt": receipt})
        return result
    result.done = paid_reply(unit, amount, receipt, outcome)
    result.notices = outcome.notices
    return result


async def import_roster(ctx: Context, kind: str, table: Table) -> roster.Summary:
    """Import a roster file as `frontdesk import` does, with its line-by-line errors
    (`roster.RosterError`, nothing imported), for the communities the desk acts for
    only: a row of any other is one more error on its line."""
    parsed = roster.parse(kind, table)
    found = await ctx.session.exec(select(Community))
    mine = {c.code.upper() for c in found.all() if c.id is not None and may_act(ctx, c.id)}
    kept, errors = [], list(parsed.errors)
    for row in parsed.rows:
        code = str(row.values["community"]).upper()
        if code in mine:
            kept.append(row)
        else:
            errors.append(
                f"{row.where('community')}: no community with code "
                f"{row.values['community']!r} among yours"
            )
    summary = await roster.import_rows(ctx.session, roster.Parsed(kind, kept, errors), ctx.now)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="roster_import",
        target=kind,
        detail={
            "added": summary.added,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "also": summary.also,
        },
        now=ctx.now,
    )
    return summary


async def unit_for_action(ctx: Context, unit_id: int) -> Unit | None:
    """The unit, if the desk sees its community (what a forged id finds: nothing)."""
    unit = await ctx.session.get(Unit, unit_id)
    if unit is None or not sees_units(ctx.staff, unit.community_id):
        return None
    return unit
