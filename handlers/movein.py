"""A unit's move-in (入住), worked through by the desk with the owner over days.

Opening it moves the unit to handing over and issues the owner's invitation code (their
chat then follows each step). The desk records the papers seen (photos kept as private
`Document`s), the forms signed (the household registration binds the members to the
unit), the fees collected with their receipts and the items handed over; the repair
department inspects (a ticket of kind `inspection` with the rooms × checks, the base
readings the owner confirms, each defect a repair ticket for the developer's rework), a
re-inspection is agreed and reminded; the owner signs off; completing it hands the unit
over and sets its handover date, from which the warranty runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import unit_life
from handlers.binding import Issued, issue_code
from handlers.cardsync import refreshed_cards
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Recipient, Reply, Text
from handlers.directory import department_chats, person_chats, unit_by_label
from handlers.fees import joined, local_today, record_payment
from handlers.readings import last_reading
from handlers.readings import record as record_reading
from handlers.rules import movein as rules
from handlers.rules import readings as reading_rules
from handlers.rules.binding import code_key
from handlers.rules.fees import normalise_receipt
from handlers.rules.money import AmountError, read_amount
from handlers.rules.phone import normalise_phone
from handlers.staffauth import acting_member, sees_all_departments
from storage import audit, jobs, tickets
from storage.models import (
    Binding,
    Community,
    Department,
    Document,
    InviteCode,
    Job,
    MeterReading,
    MoveIn,
    Person,
    Role,
    StaffMember,
    Ticket,
    TicketKind,
    Unit,
    UnitStage,
)

REINSPECT_JOB = "movein_reinspect"
REMIND_BEFORE = timedelta(hours=1)  # the re-inspection's reminder, before the agreed time
OPEN, COMPLETED = "open", "completed"


def subject(move_in: MoveIn) -> str:
    return f"movein:{move_in.id}"


# ---- who may do what --------------------------------------------------------------------


def sees_papers(staff: list[StaffMember], community_id: int) -> bool:
    """Private papers are the desk's (the service department) and the managers' of the
    community: never another department's, another community's or a resident's."""
    return any(
        member.active
        and member.community_id in (None, community_id)
        and sees_all_departments(member)
        for member in staff
    )


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


# ---- the desk's card in chat ----------------------------------------------------------------


def _flow(name: str, move_in: MoveIn, key: str) -> Choice:
    return Choice(f"flow:{name}:{move_in.id}", key)


def card_choices(found: View) -> tuple[Choice, ...]:
    """The buttons for what is left, each checked again when pressed."""
    move_in, left, ref = found.move_in, found.left, found.move_in.id or 0
    if move_in.status != OPEN:
        return ()
    buttons: list[Choice] = []
    if any(k.startswith("paper.") for k in left):
        buttons.append(_flow("movein_paper", move_in, "movein.btn.paper"))
    if "form.household" in left:
        buttons.append(_flow("movein_household", move_in, "movein.btn.household"))
    for form in ("service", "renovation", "rules"):
        if f"form.{form}" in left:
            buttons.append(Tick(ref, f"form_{form}").choice(item_text(f"form.{form}").key))
    if "fees" in left:
        buttons.append(_flow("movein_fee", move_in, "movein.btn.fee"))
    if "item.keys" in left:
        buttons.append(_flow("movein_keys", move_in, "movein.btn.keys"))
    for item in ("handbook", "renovation_notes", "diagrams"):
        if f"item.{item}" in left:
            buttons.append(Tick(ref, f"item_{item}").choice(item_text(f"item.{item}").key))
    if move_in.inspection_ticket_id is None:
        buttons.append(Inspect(ref).choice("movein.btn.inspect"))
    elif found.defects and "reinspected" in left:
        buttons.append(_flow("movein_reinspect", move_in, "movein.btn.reinspect"))
    if not left:
        buttons.append(Complete(ref).choice("movein.btn.complete"))
    return tuple(buttons)


async def card(ctx: Context, move_in: MoveIn) -> Reply:
    found = await view(ctx.session, move_in)
    return Reply(
        "movein.card",
        {
            "unit": found.unit.label,
            "owner": found.owner.name if found.owner else "",
            "delegate": Text("movein.card.delegate", {"name": found.delegate.name})
            if found.delegate
            else "",
            "status": Text(f"movein.status.{move_in.status}"),
            "left": left_text(found.left),
        },
        choices=card_choices(found),
    )


async def movein_command(ctx: Context, argument: str) -> list[Reply]:
    """`/movein <unit>`: open the unit's move-in, or show what is left of it. An owner
    (or their delegate) typing `/movein` sees how their own move-in is going."""
    if not ctx.staff:
        return await owner_progress(ctx)
    text = argument.strip()
    if not text:
        return [Reply("movein.usage")]
    unit = None
    for member in ctx.staff:
        if member.active and member.community_id is not None:
            unit = await unit_by_label(ctx.session, member.community_id, text)
            if unit is not None:
                break
    if unit is None or desk_member(ctx, unit.community_id) is None:
        return [Reply("movein.no_unit", {"unit": text[:50]})]
    existing = await latest(ctx.session, unit.id or 0)
    if existing is not None:
        return [await card(ctx, existing)]
    opened = await open_move_in(ctx, unit)
    if isinstance(opened, Reply):
        return [opened]
    move_in, issued = opened
    return [
        Reply(
            "movein.opened",
            {"unit": unit.label, "code": issued.code, "expires": issued.expires_at},
        ),
        await card(ctx, move_in),
    ]


async def owner_progress(ctx: Context) -> list[Reply]:
    """The owner's view: each of their open move-ins, what is left, the appointment."""
    if ctx.person is None:
        return [Reply("movein.owner.none")]
    rows = await ctx.session.exec(
        select(MoveIn)
        .where(
            MoveIn.status == OPEN,
            (col(MoveIn.owner_id) == ctx.person.id) | (col(MoveIn.delegate_id) == ctx.person.id),
        )
        .order_by(col(MoveIn.id))
    )
    replies = []
    for move_in in rows.all():
        found = await view(ctx.session, move_in)
        replies.append(
            Reply(
                "movein.owner.progress",
                {
                    "unit": found.unit.label,
                    "left": left_text(found.left),
                    "reinspect": Text("movein.owner.appointment", {"when": move_in.reinspect_at})
                    if move_in.reinspect_at and "reinspected" in found.left
                    else "",
                },
            )
        )
    return replies or [Reply("movein.owner.none")]


# ---- opening ---------------------------------------------------------------------------------


async def _resident(session: AsyncSession, unit_id: int, role: str) -> Person | None:
    rows = await session.exec(
        select(Person)
        .join(Binding, col(Binding.person_id) == col(Person.id))
        .where(Binding.unit_id == unit_id, Binding.role == role)
        .order_by(col(Binding.id))
    )
    return rows.first()


async def open_move_in(ctx: Context, unit: Unit) -> tuple[MoveIn, Issued] | Reply:
    """Open the unit's move-in: the unit goes to handing over, and an invitation code is
    issued for the owner's chat (their delegate's, when one acts for them)."""
    assert unit.id is not None
    member = desk_member(ctx, unit.community_id)
    if member is None:
        return Reply("dialog.not_allowed")
    if unit.handover_date is not None:  # handed over before the move-ins were kept here
        return Reply("movein.refused.stage", {"unit": unit.label})
    try:
        await unit_life.move(
            ctx.session, unit, UnitStage.handing_over, actor=ctx.actor, now=ctx.now
        )
    except unit_life.StageRefused:
        return Reply("movein.refused.stage", {"unit": unit.label})
    owner = await _resident(ctx.session, unit.id, Role.owner)
    delegate = await _resident(ctx.session, unit.id, Role.delegate)
    move_in = MoveIn(
        community_id=unit.community_id,
        unit_id=unit.id,
        owner_id=owner.id if owner else None,
        delegate_id=delegate.id if delegate else None,
        opened_by=ctx.actor,
        opened_at=ctx.now,
        checklist={},
        history=[{"at": ctx.now.isoformat(), "by": ctx.actor, "what": "opened"}],
    )
    ctx.session.add(move_in)
    await ctx.session.flush()
    reader = delegate or owner
    issued = await issue_code(
        ctx.session,
        unit,
        Role.delegate if delegate else Role.owner,
        ctx.actor,
        ctx.now,
    )
    if reader is not None:
        invite = await ctx.session.get(InviteCode, code_key(issued.code))
        if invite is not None:
            invite.person_id = reader.id
            ctx.session.add(invite)
    move_in.invite_code = issued.code[-4:]  # enough to recognise it; never the whole code
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="movein_opened",
        target=f"unit:{unit.id}",
        detail={"move_in": move_in.id},
        now=ctx.now,
    )
    return move_in, issued


# ---- the checklist --------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Tick(Action):
    """The desk records a form signed or an item handed over (`form_service`, …)."""

    name: ClassVar[str] = "mi_tick"
    move_in: int
    item: str


TICKABLE = frozenset(
    {"form_service", "form_renovation", "form_rules"}
    | {"item_handbook", "item_renovation_notes", "item_diagrams"}
)


async def tick(ctx: Context, action: Tick) -> list[Reply]:
    found = await open_one(ctx, action.move_in)
    if isinstance(found, Reply):
        return [found]
    if action.item not in TICKABLE:
        return [Reply("movein.stale")]
    key = action.item.replace("_", ".", 1)
    mark(found, key, ctx.actor, ctx.now)
    ctx.session.add(found)
    await audited(ctx, found, "tick", item=key)
    return [await card(ctx, found)]


async def add_paper(
    ctx: Context,
    move_in: MoveIn,
    kind: str,
    *,
    file_ref: str = "",
    stored_path: str | None = None,
) -> Document:
    """Keep a photo of a paper as a private document of the move-in."""
    by_delegate = kind in ("attorney", "delegate_id", "signature") and move_in.delegate_id
    person = move_in.delegate_id if by_delegate else move_in.owner_id
    paper = Document(
        community_id=move_in.community_id,
        unit_id=move_in.unit_id,
        person_id=person,
        subject=subject(move_in),
        kind=kind,
        channel=ctx.msg.channel,
        file_ref=file_ref,
        stored_path=stored_path,
        added_by=ctx.actor,
        at=ctx.now,
    )
    ctx.session.add(paper)
    move_in.history = [
        *move_in.history,
        {"at": ctx.now.isoformat(), "by": ctx.actor, "what": f"paper.{kind}"},
    ]
    ctx.session.add(move_in)
    await ctx.session.flush()
    return paper


async def paper_for(ctx: Context, document_id: int) -> Document | None:
    """A private paper, for those who may see it only (none else learns it exists)."""
    paper = await ctx.session.get(Document, document_id)
    if paper is None or not sees_papers(ctx.staff, paper.community_id):
        return None
    return paper


_MEMBER = re.compile(r"^\s*(?P<name>[^\d\s,，;；]{1,30})\s*(?P<phone>[+\d][\d\s-]{6,20})?\s*$")


def parse_household(text: str) -> list[tuple[str, str | None]]:
    """`李四 13900000001；王五` → members with their phones (one a line, or split by ；)."""
    members: list[tuple[str, str | None]] = []
    for part in re.split(r"[\n;；,，、]+", text):
        if not part.strip():
            continue
        found = _MEMBER.match(part)
        if found is None:
            raise ValueError(part.strip())
        phone = found.group("phone")
        members.append((found.group("name"), normalise_phone(phone) if phone else None))
    return members


async def register_household(
    ctx: Context, move_in: MoveIn, members: list[tuple[str, str | None]]
) -> list[Person]:
    """The household registration (住户登记表): each member becomes a person bound to the
    unit as a household member (the same person when their phone is on record)."""
    people: list[Person] = []
    for name, phone in members:
        person = None
        if phone:
            person = (await ctx.session.exec(select(Person).where(Person.phone == phone))).first()
        if person is None:
            person = Person(name=name[:100], phone=phone, created_at=ctx.now)
            ctx.session.add(person)
            await ctx.session.flush()
        assert person.id is not None
        bound = (
            await ctx.session.exec(
                select(Binding).where(
                    Binding.person_id == person.id, Binding.unit_id == move_in.unit_id
                )
            )
        ).first()
        if bound is None:
            ctx.session.add(
                Binding(
                    person_id=person.id,
                    unit_id=move_in.unit_id,
                    role=Role.member,
                    verified_by=ctx.actor[:50],
                    created_at=ctx.now,
                )
            )
        people.append(person)
    mark(
        move_in,
        "form.household",
        ctx.actor,
        ctx.now,
        members=[p.id for p in people],
    )
    ctx.session.add(move_in)
    await ctx.session.flush()
    return people


async def collect_fee(
    ctx: Context, move_in: MoveIn, amount: Decimal, receipt: str
) -> list[Reply] | str:
    """Fees collected at handover, recorded as a payment with its receipt number; the
    refusal's key when the receipt was used before."""
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    outcome = await record_payment(
        ctx.session, unit=unit, amount=amount, receipt=receipt, actor=ctx.actor, now=ctx.now
    )
    if outcome.refusal is not None:
        return outcome.refusal
    paid = list(move_in.checklist.get("fees", {}).get("payments", []))
    paid.append({"amount": str(amount), "receipt": receipt})
    mark(move_in, "fees", ctx.actor, ctx.now, payments=paid)
    ctx.session.add(move_in)
    return outcome.notices


def keys_handed(ctx: Context, move_in: MoveIn, count: int, which: str) -> None:
    mark(move_in, "item.keys", ctx.actor, ctx.now, count=count, which=which)


# ---- the inspection -------------------------------------------------------------------------


@dataclass(frozen=True)
class Inspect(Action):
    """The desk sends the inspection to the repair department."""

    name: ClassVar[str] = "mi_inspect"
    move_in: int


@dataclass(frozen=True)
class Inspected(Action):
    """The repair department has gone through every room."""

    name: ClassVar[str] = "mi_inspected"
    move_in: int


@dataclass(frozen=True)
class Reinspected(Action):
    """The repair department re-inspected the reworked defects with the owner."""

    name: ClassVar[str] = "mi_reinspected"
    move_in: int


@dataclass(frozen=True)
class ReadingsOk(Action):
    """The owner agrees the base readings."""

    name: ClassVar[str] = "mi_read_ok"
    private: ClassVar[bool] = True
    move_in: int


@dataclass(frozen=True)
class ReadingsWrong(Action):
    """The owner does not agree the base readings: they are read again."""

    name: ClassVar[str] = "mi_read_no"
    private: ClassVar[bool] = True
    move_in: int


@dataclass(frozen=True)
class SignOff(Action):
    """The owner signs off the move-in in chat."""

    name: ClassVar[str] = "mi_signoff"
    private: ClassVar[bool] = True
    move_in: int


@dataclass(frozen=True)
class Complete(Action):
    """The desk completes the move-in: the unit is handed over."""

    name: ClassVar[str] = "mi_complete"
    move_in: int


def checklist_text() -> Any:
    """The inspection's rooms × checks, as the repair group's card lists them."""
    rooms = joined([Text(f"movein.room.{r}") for r in rules.ROOMS], "movein.join")
    checks = joined([Text(f"movein.check.{c}") for c in rules.CHECKS], "movein.join")
    return Text("movein.inspection.checklist", {"rooms": rooms, "checks": checks})


def inspection_choices(move_in: MoveIn) -> tuple[Choice, ...]:
    if move_in.status != OPEN:
        return ()
    ref = move_in.id or 0
    done = "inspected" in move_in.checklist
    buttons = [
        _flow("movein_readings", move_in, "movein.btn.readings"),
        _flow("movein_defect", move_in, "movein.btn.defect"),
    ]
    if not done:
        buttons.append(Inspected(ref).choice("movein.btn.inspected"))
    return tuple(buttons)


async def inspection_card(ctx: Context, move_in: MoveIn, ticket: Ticket) -> list[Reply]:
    """The inspection's card in the repair group (edited in place as it changes)."""
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    found = await view(ctx.session, move_in)
    return [
        Reply(
            "movein.inspection.card",
            {
                "number": ticket.number,
                "unit": unit.label,
                "status": Text(f"status.{ticket.status}"),
                "checklist": checklist_text(),
                "defects": len(found.defects),
                "readings": readings_text(found.readings),
            },
            to=chat,
            card=f"ticket:{ticket.id}",
            choices=inspection_choices(move_in),
        )
        for chat in await department_chats(ctx.session, move_in.community_id, Department.repair)
    ]


def readings_text(found: list[MeterReading]) -> Any:
    if not found:
        return Text("movein.readings.none")
    return joined(
        [
            Text(
                "movein.reading",
                {"meter": Text(f"movein.meter.{r.meter}"), "value": rules.figure(r.value)},
            )
            for r in found
        ],
        "movein.join",
    )


async def _contact(session: AsyncSession, move_in: MoveIn) -> Person | None:
    """Who speaks for the owner: the delegate when there is one."""
    person_id = move_in.delegate_id or move_in.owner_id
    return await session.get(Person, person_id) if person_id else None


async def start_inspection(ctx: Context, action: Inspect) -> list[Reply]:
    found = await open_one(ctx, action.move_in)
    if isinstance(found, Reply):
        return [found]
    if found.inspection_ticket_id is not None:
        return [await card(ctx, found)]
    unit = await ctx.session.get(Unit, found.unit_id)
    contact = await _contact(ctx.session, found)
    assert unit is not None
    ticket = await tickets.create_ticket(
        ctx.session,
        community_id=found.community_id,
        kind=TicketKind.inspection,
        department=Department.repair,
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
        unit_id=unit.id,
        person_id=contact.id if contact else None,
        channel="system",
        contact_name=contact.name if contact else "",
        contact_phone=(contact.phone or "") if contact else "",
        description=ctx.catalogs.text(
            ctx.settings.default_locale, "movein.inspection.description", {"unit": unit.label}
        ),
        details={"move_in": found.id},
    )
    found.inspection_ticket_id = ticket.id
    await audited(ctx, found, "inspection", ticket=ticket.number)
    found.history = [
        *found.history,
        {"at": ctx.now.isoformat(), "by": ctx.actor, "what": "inspection", "ticket": ticket.id},
    ]
    ctx.session.add(found)
    await ctx.session.flush()
    told = await tell_owner(ctx.session, found, "movein.owner.inspection", {"unit": unit.label})
    return [
        Reply("movein.inspection.sent", {"number": ticket.number}),
        await card(ctx, found),
        *await inspection_card(ctx, found, ticket),
        *told,
    ]


async def inspection_of(ctx: Context, ref: int) -> tuple[MoveIn, Ticket] | Reply:
    found = await open_one(ctx, ref, desk=False)
    if isinstance(found, Reply):
        return found
    ticket = (
        await ctx.session.get(Ticket, found.inspection_ticket_id)
        if found.inspection_ticket_id
        else None
    )
    if ticket is None:
        return Reply("movein.stale")
    return found, ticket


async def previous_readings(session: AsyncSession, unit_id: int) -> dict[str, str]:
    """Each meter's last figure (a new one may not be below it)."""
    found: dict[str, str] = {}
    for meter in reading_rules.METERS:
        last = await last_reading(session, unit_id, meter)
        if last is not None:
            found[meter] = str(last.value)
    return found


async def record_readings(ctx: Context, move_in: MoveIn, values: dict[str, Decimal]) -> list[Reply]:
    """The base readings, recorded together; the owner is asked to confirm them."""
    ids: list[int] = []
    for meter in reading_rules.METERS:
        if meter in values:
            reading, _ = await record_reading(
                ctx.session,
                unit_id=move_in.unit_id,
                meter=meter,
                value=values[meter],
                purpose="movein",
                read_by=ctx.actor,
                now=ctx.now,
            )
            assert reading.id is not None
            ids.append(reading.id)
    mark(move_in, "readings", ctx.actor, ctx.now, ids=ids)
    checklist = dict(move_in.checklist)
    checklist.pop("readings_confirmed", None)
    move_in.checklist = checklist
    ctx.session.add(move_in)
    await ctx.session.flush()
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    ref = move_in.id or 0
    shown = readings_text(await readings(ctx.session, move_in))
    return await tell_owner(
        ctx.session,
        move_in,
        "movein.owner.readings",
        {"unit": unit.label, "readings": shown},
        ReadingsOk(ref).choice("movein.btn.readings_ok"),
        ReadingsWrong(ref).choice("movein.btn.readings_wrong"),
    )


async def _owner_move_in(ctx: Context, ref: int) -> MoveIn | Reply:
    """The open move-in whose owner (or delegate) is the sender."""
    move_in = await ctx.session.get(MoveIn, ref)
    if move_in is None or move_in.status != OPEN:
        return Reply("movein.stale")
    if ctx.person is None or ctx.person.id not in (move_in.owner_id, move_in.delegate_id):
        return Reply("dialog.not_allowed")
    return move_in


async def readings_ok(ctx: Context, action: ReadingsOk) -> list[Reply]:
    move_in = await _owner_move_in(ctx, action.move_in)
    if isinstance(move_in, Reply):
        return [move_in]
    if "readings" not in move_in.checklist:
        return [Reply("movein.stale")]
    for reading in await readings(ctx.session, move_in):
        reading.confirmed_at = ctx.now
        ctx.session.add(reading)
    mark(move_in, "readings_confirmed", ctx.actor, ctx.now)
    ctx.session.add(move_in)
    return [Reply("movein.owner.readings_ok")]


async def readings_wrong(ctx: Context, action: ReadingsWrong) -> list[Reply]:
    """The disputed figures are withdrawn (never kept as a meter's last reading, which a
    corrected, lower one could not go below) and the repair group reads them again."""
    move_in = await _owner_move_in(ctx, action.move_in)
    if isinstance(move_in, Reply):
        return [move_in]
    if "readings" not in move_in.checklist or "readings_confirmed" in move_in.checklist:
        return [Reply("movein.stale")]
    for reading in await readings(ctx.session, move_in):
        await ctx.session.delete(reading)
    checklist = dict(move_in.checklist)
    checklist.pop("readings", None)
    move_in.checklist = checklist
    move_in.history = [
        *move_in.history,
        {"at": ctx.now.isoformat(), "by": ctx.actor, "what": "readings_disputed"},
    ]
    ctx.session.add(move_in)
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    again = [
        Reply("movein.readings.again", {"unit": unit.label}, to=chat)
        for chat in await department_chats(ctx.session, move_in.community_id, Department.repair)
    ]
    return [Reply("movein.owner.readings_wrong"), *again]


async def add_defect(
    ctx: Context, move_in: MoveIn, room: str, check: str, description: str
) -> list[Reply]:
    """A defect found: a repair ticket for the developer's rework, tracked like any other;
    it is free (the developer's), and the owner is told its number."""
    unit = await ctx.session.get(Unit, move_in.unit_id)
    contact = await _contact(ctx.session, move_in)
    assert unit is not None
    ticket = await tickets.create_ticket(
        ctx.session,
        community_id=move_in.community_id,
        kind=TicketKind.repair,
        department=Department.repair,
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
        category=rules.CATEGORY_OF.get(check, "other"),
        unit_id=unit.id,
        person_id=contact.id if contact else None,
        channel="system",
        contact_name=contact.name if contact else "",
        contact_phone=(contact.phone or "") if contact else "",
        description=description,
        details={
            "rework": "developer",
            "move_in": move_in.id,
            "room": room,
            "check": check,
            "photos": [],
        },
        paid=False,
    )
    assert ticket.id is not None
    found = dict(move_in.checklist.get("defects", {}))
    found["tickets"] = [*found.get("tickets", []), ticket.id]
    move_in.checklist = {**move_in.checklist, "defects": found}
    move_in.history = [
        *move_in.history,
        {"at": ctx.now.isoformat(), "by": ctx.actor, "what": "defect", "ticket": ticket.id},
    ]
    ctx.session.add(move_in)
    await ctx.session.flush()
    where = Text(
        "movein.defect.where",
        {"room": Text(f"movein.room.{room}"), "check": Text(f"movein.check.{check}")},
    )
    told = await tell_owner(
        ctx.session,
        move_in,
        "movein.owner.defect",
        {"number": ticket.number, "where": where, "description": description},
    )
    return [
        Reply("movein.defect.added", {"number": ticket.number, "where": where}),
        *await refreshed_cards(ctx, ticket),
        *told,
    ]


async def inspected(ctx: Context, action: Inspected) -> list[Reply]:
    found = await inspection_of(ctx, action.move_in)
    if isinstance(found, Reply):
        return [found]
    move_in, ticket = found
    if "readings" not in move_in.checklist:
        return [Reply("movein.inspection.readings_first")]
    mark(move_in, "inspected", ctx.actor, ctx.now)
    ctx.session.add(move_in)
    await audited(ctx, move_in, "inspected")
    if ticket.status not in rules.FIXED:
        await tickets.record_change(
            ctx.session, ticket, actor=ctx.actor, action="done", now=ctx.now, to_status="done"
        )
    count = len(move_in.checklist.get("defects", {}).get("tickets", []))
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    told = await tell_owner(
        ctx.session, move_in, "movein.owner.inspected", {"unit": unit.label, "defects": count}
    )
    return [*await inspection_card(ctx, move_in, ticket), *told]


# ---- the re-inspection -----------------------------------------------------------------------


async def agree_reinspection(ctx: Context, move_in: MoveIn, when: datetime) -> list[Reply]:
    """The time agreed with the owner: recorded, told to the owner and the repair group,
    and reminded an hour before (a job, so it survives restarts)."""
    move_in.reinspect_at = when
    move_in.history = [
        *move_in.history,
        {"at": ctx.now.isoformat(), "by": ctx.actor, "what": "reinspect", "when": when.isoformat()},
    ]
    ctx.session.add(move_in)
    await jobs.replace(
        ctx.session,
        kind=REINSPECT_JOB,
        due_at=max(ctx.now, when - REMIND_BEFORE),
        payload={"move_in": move_in.id, "when": when.isoformat()},
        dedupe_key=f"{REINSPECT_JOB}:{move_in.id}",
    )
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    params = {"unit": unit.label, "when": when}
    group = [
        Reply("movein.reinspect.booked", params, to=chat)
        for chat in await department_chats(ctx.session, move_in.community_id, Department.repair)
    ]
    return [
        Reply("movein.reinspect.agreed", params),
        *group,
        *await tell_owner(ctx.session, move_in, "movein.owner.reinspect", params),
    ]


async def remind_reinspection(ctx: Context, job: Job) -> list[Reply]:
    """Due: remind the owner and the repair group of the re-inspection."""
    move_in = await ctx.session.get(MoveIn, int(job.payload["move_in"]))
    if move_in is None or move_in.status != OPEN or move_in.reinspect_at is None:
        return []
    if move_in.reinspect_at.isoformat() != job.payload.get("when"):
        return []  # moved since: its own job reminds
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    params = {"unit": unit.label, "when": move_in.reinspect_at}
    group = [
        Reply(
            "movein.reinspect.reminder",
            params,
            to=chat,
            choices=(Reinspected(move_in.id or 0).choice("movein.btn.reinspected"),),
        )
        for chat in await department_chats(ctx.session, move_in.community_id, Department.repair)
    ]
    return [*group, *await tell_owner(ctx.session, move_in, "movein.owner.reminder", params)]


async def reinspected(ctx: Context, action: Reinspected) -> list[Reply]:
    found = await inspection_of(ctx, action.move_in)
    if isinstance(found, Reply):
        return [found]
    move_in, _ = found
    still = [t.number for t in await defects(ctx.session, move_in) if t.status not in rules.FIXED]
    if still:
        return [Reply("movein.reinspect.open", {"numbers": ", ".join(still)})]
    mark(move_in, "reinspected", ctx.actor, ctx.now)
    ctx.session.add(move_in)
    await audited(ctx, move_in, "reinspected")
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    return [
        Reply("movein.reinspect.done", {"unit": unit.label}),
        *await ask_sign_off(ctx, move_in),
    ]


# ---- signing off and completing ----------------------------------------------------------------


async def ask_sign_off(ctx: Context, move_in: MoveIn) -> list[Reply]:
    """Once only the sign-off is left, the owner is asked for it in chat."""
    found = await view(ctx.session, move_in)
    if not rules.may_sign_off(found.left):
        return []
    return await tell_owner(
        ctx.session,
        move_in,
        "movein.owner.sign_off",
        {"unit": found.unit.label},
        SignOff(move_in.id or 0).choice("movein.btn.sign_off"),
    )


async def sign_off(ctx: Context, move_in: MoveIn, by: str) -> Text | None:
    """Record the owner's sign-off; why not, when something else is still left."""
    found = await view(ctx.session, move_in)
    if not rules.may_sign_off(found.left):
        return left_text([k for k in found.left if k != "signoff"])
    move_in.signed_off_at, move_in.signed_off_by = ctx.now, by[:100]
    await audited(ctx, move_in, "signed_off")  # the typed name stays out of the log
    move_in.history = [
        *move_in.history,
        {"at": ctx.now.isoformat(), "by": by[:100], "what": "signoff"},
    ]
    ctx.session.add(move_in)
    return None


async def owner_signs_off(ctx: Context, action: SignOff) -> list[Reply]:
    move_in = await _owner_move_in(ctx, action.move_in)
    if isinstance(move_in, Reply):
        return [move_in]
    refused = await sign_off(ctx, move_in, ctx.actor)
    if refused is not None:
        return [Reply("movein.sign_off.not_yet", {"left": refused})]
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    desk = [
        Reply("movein.desk.signed_off", {"unit": unit.label}, to=chat)
        for chat in await department_chats(ctx.session, move_in.community_id, Department.service)
    ]
    return [Reply("movein.owner.signed_off", {"unit": unit.label}), *desk]


async def complete(ctx: Context, move_in: MoveIn) -> list[Reply] | Text:
    """Hand the unit over: its handover date is today (the warranty runs from it), the
    move-in is closed and kept as it is, and the owner is told."""
    found = await view(ctx.session, move_in)
    if found.left:
        return left_text(found.left)
    unit = found.unit
    await unit_life.move(ctx.session, unit, UnitStage.handed_over, actor=ctx.actor, now=ctx.now)
    unit.handover_date = local_today(ctx)
    ctx.session.add(unit)
    move_in.status, move_in.completed_at = COMPLETED, ctx.now
    move_in.history = [
        *move_in.history,
        {"at": ctx.now.isoformat(), "by": ctx.actor, "what": "completed"},
    ]
    ctx.session.add(move_in)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="movein_completed",
        target=f"unit:{unit.id}",
        detail={"move_in": move_in.id, "handover": unit.handover_date.isoformat()},
        now=ctx.now,
    )
    params = {"unit": unit.label, "date": unit.handover_date}
    return [
        Reply("movein.completed", params),
        *await tell_owner(ctx.session, move_in, "movein.owner.completed", params),
    ]


async def complete_pressed(ctx: Context, action: Complete) -> list[Reply]:
    found = await open_one(ctx, action.move_in)
    if isinstance(found, Reply):
        return [found]
    done = await complete(ctx, found)
    if isinstance(done, Text):
        return [Reply("movein.complete.not_yet", {"left": done})]
    return done


def as_utc(ctx: Context, when: rules.Appointment) -> datetime:
    return datetime.combine(when.day, when.at, tzinfo=ctx.settings.tz).astimezone(UTC)


# ---- the desk's web page -------------------------------------------------------------------------


@dataclass
class Page:
    """A unit's move-in page: the unit, and its move-in if one was opened."""

    unit: Unit
    community: Community
    found: View | None
    buttons: list[Choice]  # the card's own buttons pressed on the page (`act:` ones)


async def page(session: AsyncSession, staff: list[StaffMember], unit_id: int) -> Page | None:
    """What the desk's page shows; None for those who may not see the unit's papers."""
    unit = await session.get(Unit, unit_id)
    if unit is None or not sees_papers(staff, unit.community_id):
        return None
    community = await session.get(Community, unit.community_id)
    assert community is not None
    move_in = await latest(session, unit_id)
    found = await view(session, move_in) if move_in else None
    buttons = [c for c in card_choices(found) if c.value.startswith("act:")] if found else []
    return Page(unit, community, found, buttons)


async def open_for_page(ctx: Context, unit_id: int) -> MoveIn | None:
    """The unit's open move-in, if the sender is its desk."""
    unit = await ctx.session.get(Unit, unit_id)
    if unit is None:
        return None
    move_in = await latest(ctx.session, unit_id)
    if move_in is None or move_in.status != OPEN or desk_member(ctx, unit.community_id) is None:
        return None
    return move_in


# ---- what the desk types (the chat flows and the page read it alike) ------------------------

FEE_MOST = Decimal(1_000_000)


def read_fee_amount(text: str) -> Decimal | Text:
    """An amount collected, as the fee flow reads it; or why not."""
    try:
        return read_amount(text.strip()[:20], most=FEE_MOST)
    except AmountError as why:
        return Text("movein.fee.bad_amount", {"value": why.text})


def read_receipt(text: str) -> str | Text:
    found = normalise_receipt(text)
    return found if found is not None else Text("fee.paid.bad_receipt", {"value": text[:50]})


def read_fee(amount: str, receipt: str) -> tuple[Decimal, str] | Text:
    """The amount and the receipt number; the first problem if any."""
    value, number = read_fee_amount(amount), read_receipt(receipt)
    if isinstance(value, Text):
        return value
    if isinstance(number, Text):
        return number
    return value, number


def read_key_count(text: str) -> int | Text:
    cleaned = text.strip()[:10].rstrip("把套个 ")
    if not cleaned.isdigit() or not 1 <= int(cleaned) <= 50:
        return Text("movein.keys.bad_count", {"value": text[:10]})
    return int(cleaned)


def read_household(text: str) -> list[tuple[str, str | None]] | Text:
    cleaned = text.strip()[:500]
    if cleaned.lower() in ("无", "没有", "none", "-"):
        return []
    try:
        return parse_household(cleaned)
    except ValueError as error:
        return Text("movein.household.error", {"value": str(error)[:30]})


def read_reinspection(ctx: Context, text: str) -> datetime | Text:
    found = rules.parse_appointment(text[:50], local_today(ctx))
    when = as_utc(ctx, found) if found else None
    if when is None or when <= ctx.now:
        return Text("movein.reinspect.bad_time", {"value": text[:50]})
    return when


@dataclass
class Typed:
    """A form sent on the desk's page: the problem, or what to send (owner, groups)."""

    problem: Text | None = None
    pushes: list[Reply] = field(default_factory=list)


async def typed_on_page(ctx: Context, move_in: MoveIn, what: str, form: dict[str, str]) -> Typed:
    """The household, a fee, the keys or the re-inspection's time, typed on the page."""
    if what == "household":
        members = read_household(form.get("members", ""))
        if isinstance(members, Text):
            return Typed(members)
        await register_household(ctx, move_in, members)
        return Typed()
    if what == "fee":
        fee = read_fee(form.get("amount", ""), form.get("receipt", ""))
        if isinstance(fee, Text):
            return Typed(fee)
        done = await collect_fee(ctx, move_in, *fee)
        if isinstance(done, str):
            return Typed(Text(done, {"receipt": fee[1]}))
        return Typed(pushes=done)
    if what == "keys":
        count = read_key_count(form.get("count", ""))
        which = form.get("which", "").strip()[:200]
        if isinstance(count, Text):
            return Typed(count)
        if not which:
            return Typed(Text("movein.keys.which"))
        keys_handed(ctx, move_in, count, which)
        ctx.session.add(move_in)
        return Typed()
    if what == "reinspect":
        when = read_reinspection(ctx, form.get("when", ""))
        if isinstance(when, Text):
            return Typed(when)
        told = await agree_reinspection(ctx, move_in, when)
        return Typed(pushes=[r for r in told if r.to is not None])
    return Typed(Text("movein.stale"))
