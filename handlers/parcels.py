"""Parcels at the desk (快递代收): registered by the service desk in seconds, the recipient
told in chat at once with a pick-up code, reminded while it waits, and a follow-up task
for the desk when nobody comes; handed over against the code, or to someone collecting
for the resident with their ID checked and noted (masked), or returned to the courier.
The hand-over and return are in handlers/parcel_pickup.py, the desk's page asks
handlers/parcel_pages.py.

Who is told: the unit's bound resident whose name is the one on the label, else (no such
resident, or one without a chat) all the unit's bound residents. A unit with nobody bound
in chat is registered all the same; the desk is given their phones, and the page shows it
as not told.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select

from handlers.core.context import Context
from handlers.core.messages import Recipient, Reply, Text
from handlers.core.roles import MANAGERS
from handlers.directory import closest_units, person_chats, unit_by_label
from handlers.followups import open_task
from handlers.policies import for_community
from handlers.rules import parcels as rules
from handlers.staffauth import acting_member
from storage import audit, jobs
from storage.models import (
    Binding,
    Community,
    Department,
    Job,
    Parcel,
    ParcelStatus,
    Person,
    StaffMember,
    Unit,
)

WATCH_JOB = "parcel_watch"
REGISTER_FLOW = "parcel"
PROXY_FLOW = "parcel_proxy"
CODE_TRIES = 20
TASK_HOURS = 24  # the desk's follow-up is due a day after it is opened
LIST_LIMIT = 30


# ---- who and where -------------------------------------------------------------------


def policy_of(settings: Any) -> rules.ParcelPolicy:
    return rules.ParcelPolicy(
        remind_hours=settings.parcel_remind_hours,
        every_hours=settings.parcel_remind_every_hours,
        task_days=settings.parcel_task_days,
    )


async def policy_for(ctx: Context, community_id: int) -> rules.ParcelPolicy:
    return policy_of(await for_community(ctx.session, ctx.settings, community_id))


def desk_member(ctx: Context, community_id: int) -> StaffMember | None:
    """The sender as the community's service desk or a manager: who runs the parcels."""
    return acting_member(ctx, community_id, Department.service)


def desk_scopes(ctx: Context) -> list[int | None]:
    """The communities the sender keeps parcels for (None: every one, a company-wide
    manager); empty for anyone else, a guard or a repairman included."""
    found = {
        m.community_id
        for m in ctx.staff
        if m.active and (m.role in MANAGERS or m.department == Department.service)
    }
    return sorted(found, key=lambda c: (c is None, c or 0))


def in_scope(ctx: Context, community_id: int) -> bool:
    return desk_member(ctx, community_id) is not None


async def find_unit(ctx: Context, label: str) -> Unit | list[Unit]:
    """The unit typed, in the communities the sender keeps parcels for; when none, the
    closest labels there (maybe none) to offer instead."""
    scopes = desk_scopes(ctx)
    for scope in scopes:
        found = await unit_by_label(ctx.session, scope, label)
        if found is not None:
            return found
    near: list[Unit] = []
    for scope in scopes:
        near += await closest_units(ctx.session, scope, label)
    return near[:5]


def unit_not_found(label: str, near: list[Unit]) -> Reply:
    if near:
        return Reply("parcels.unit.near", {"unit": label, "near": "、".join(u.label for u in near)})
    return Reply("parcels.unit.unknown", {"unit": label})


async def residents_of(ctx: Context, unit_id: int) -> list[Person]:
    """The unit's bound residents, in the order they were bound."""
    rows = await ctx.session.exec(
        select(Person)
        .join(Binding, col(Binding.person_id) == col(Person.id))
        .where(Binding.unit_id == unit_id)
        .order_by(col(Binding.id))
    )
    return list(rows.all())


def _same_name(a: str, b: str) -> bool:
    return "".join(a.split()).lower() == "".join(b.split()).lower()


def addressees(residents: list[Person], recipient: str) -> tuple[Person | None, list[Person]]:
    """The resident the label names (if one does), and whom to tell: that resident, else
    every bound resident of the unit."""
    named = [p for p in residents if recipient and _same_name(p.name, recipient)]
    if len(named) == 1:
        return named[0], named
    return None, residents


async def chats_of(ctx: Context, people: list[Person]) -> list[Recipient]:
    chats: list[Recipient] = []
    for person in people:
        chats += await person_chats(ctx.session, person.id)
    return list(dict.fromkeys(chats))


async def told_of(ctx: Context, parcel: Parcel) -> list[Recipient]:
    """Where to tell about a parcel: its recipient's chats, else the unit's residents'."""
    if parcel.person_id is not None:
        chats = await person_chats(ctx.session, parcel.person_id)
        if chats:
            return chats
    if parcel.unit_id is None:
        return []
    return await chats_of(ctx, await residents_of(ctx, parcel.unit_id))


def courier_text(courier: str) -> Any:
    """A courier's name: a known key in the reader's words, else as the desk typed it."""
    if courier in rules.COURIER_KEYS:
        return Text(f"parcels.courier.{courier}")
    return courier or Text("parcels.courier.none")


def courier_of(ctx: Context, typed: str) -> str:
    """A courier typed by the desk (`顺丰`, `sf`, `SF Express`) as its key when known."""
    low = typed.strip().lower()
    if not low:
        return ""
    for key in rules.COURIER_KEYS:
        if low == key or low in ctx.catalogs.words(f"parcels.courier.{key}.words"):
            return key
    return typed.strip()[:30]


def age_text(parcel: Parcel, now: datetime) -> Text:
    found = rules.age(parcel.received_at, now)
    if found.days:
        return Text("parcels.age.days", {"days": found.days, "hours": found.hours})
    return Text("parcels.age.hours", {"hours": found.hours})


def marks_text(marks: list[Any]) -> Any:
    """`（贵重、到件时外包装破损）` on one line: the marks joined pairwise in the reader's words."""
    if not marks:
        return ""
    joined = marks[0]
    for mark in marks[1:]:
        joined = Text("parcels.and", {"a": joined, "b": mark})
    return Text("parcels.marks", {"marks": joined})


def details(parcel: Parcel, unit_label: str, now: datetime) -> dict[str, Any]:
    """A parcel's particulars, as the desk's card and the lists show them."""
    marks = [Text(f"parcels.flag.{f}") for f in ("valuable", "damaged") if getattr(parcel, f)]
    if parcel.note:
        marks.append(Text("parcels.flag.note", {"note": parcel.note}))
    return {
        "code": parcel.code,
        "unit": unit_label,
        "recipient": parcel.recipient or Text("parcels.recipient.unnamed"),
        "courier": courier_text(parcel.courier),
        "waybill": parcel.waybill or "—",
        "received": parcel.received_at,
        "age": age_text(parcel, now),
        "marks": marks_text(marks),
        "status": Text(f"parcels.status.{parcel.status}"),
    }


# ---- registering ---------------------------------------------------------------------


async def _new_code(ctx: Context, community_id: int) -> str:
    """A pick-up code no parcel of the community has had (codes are never reused)."""
    for _ in range(CODE_TRIES):
        code = rules.pickup_code(secrets.randbelow)
        taken = await ctx.session.exec(
            select(Parcel.id).where(Parcel.community_id == community_id, Parcel.code == code)
        )
        if taken.first() is None:
            return code
    raise RuntimeError("no free pick-up code after many tries")


@dataclass(frozen=True)
class Registration:
    """What the desk gave for a parcel; `courier` is a key of the rules' couriers or the
    name typed, empty to guess it from the waybill."""

    unit_id: int
    recipient: str = ""
    waybill: str = ""
    courier: str = ""
    phone: str = ""
    note: str = ""
    valuable: bool = False
    damaged: bool = False
    photo: str | None = None


async def register(ctx: Context, given: Registration) -> tuple[Parcel | None, list[Reply]]:
    """Register a parcel at the desk, tell the recipient with the code, and book its
    reminders. Refused for a unit outside the sender's desk."""
    unit = await ctx.session.get(Unit, given.unit_id)
    if unit is None or unit.id is None:
        return None, [Reply("dialog.stale")]
    member = desk_member(ctx, unit.community_id)
    if member is None:
        return None, [Reply("parcels.not_desk")]
    residents = await residents_of(ctx, unit.id)
    person, told = addressees(residents, given.recipient)
    waybill = rules.read_waybill(given.waybill) or given.waybill.strip()[:40]
    parcel = Parcel(
        community_id=unit.community_id,
        unit_id=unit.id,
        person_id=person.id if person else None,
        recipient=given.recipient.strip()[:100],
        phone=given.phone.strip()[:30] or ((person.phone or "") if person else ""),
        waybill=waybill,
        courier=given.courier or rules.guess_courier(waybill) or "",
        note=given.note.strip()[:500],
        valuable=given.valuable,
        damaged=given.damaged,
        photo=given.photo,
        code=await _new_code(ctx, unit.community_id),
        received_at=ctx.now,
        registered_by=member.name[:100],
    )
    ctx.session.add(parcel)
    await ctx.session.flush()
    assert parcel.id is not None
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="parcel_register",
        target=f"parcel:{parcel.id}",
        detail={"unit": unit.label, "code": parcel.code, "waybill": parcel.waybill},
        now=ctx.now,
    )
    await _book(ctx, parcel, await policy_for(ctx, unit.community_id))
    # The one named has no chat: the household is told instead, as the reminders are.
    chats = await chats_of(ctx, told) or await chats_of(ctx, residents)
    shown = details(parcel, unit.label, ctx.now)
    community = await ctx.session.get(Community, unit.community_id)
    notice = arrival_notice(parcel, shown, community)
    replies = [
        Reply(notice.key, notice.params, to=chat, dedupe_key=f"parcel:{parcel.id}:arrived:{i}")
        for i, chat in enumerate(chats)
    ]
    if chats:
        told_line: Any = Text("parcels.registered.told", {"count": len(chats)})
    else:
        phones = "、".join(f"{p.name} {p.phone}" for p in residents if p.phone)
        told_line = Text("parcels.registered.nobody", {"phones": phones or "—"})
    replies.append(Reply("parcels.registered", {**shown, "told": told_line}))
    return parcel, replies


def arrival_notice(parcel: Parcel, shown: dict[str, Any], community: Community | None) -> Reply:
    """What the recipient reads: the parcel, the code, when to come; damage noted on
    arrival and a valuable's signing in person said plainly."""
    extra: list[Any] = []
    if parcel.damaged:
        extra.append(Text("parcels.arrived.damaged"))
    if parcel.valuable:
        extra.append(Text("parcels.arrived.valuable"))
    return Reply(
        "parcels.arrived",
        {
            **shown,
            "hours": community.office_hours if community else "",
            "extra": extra,
        },
    )


async def _book(ctx: Context, parcel: Parcel, policy: rules.ParcelPolicy) -> None:
    """The parcel's next look (a reminder or the desk's task), as a job done once."""
    due = rules.next_check(
        parcel.received_at, parcel.reminded_at, parcel.ticket_id is not None, policy
    )
    await jobs.schedule(
        ctx.session,
        kind=WATCH_JOB,
        due_at=due,
        payload={"parcel": parcel.id},
        dedupe_key=f"parcel:{parcel.id}:watch:{due.isoformat()}",
    )


# ---- reminders and the desk's task ---------------------------------------------------


async def _locked(ctx: Context, parcel_id: int) -> Parcel | None:
    query = select(Parcel).where(col(Parcel.id) == parcel_id)
    if ctx.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # the reminder is counted once, whoever runs it
    return (await ctx.session.exec(query)).first()


async def watch_job(ctx: Context, job: Job) -> list[Reply]:
    """A waiting parcel's reminder when due (each slot once, recorded on the parcel in
    this transaction), the desk's follow-up task once past the limit, and the next look
    booked. A parcel collected or returned meanwhile is left alone."""
    parcel = await _locked(ctx, int(job.payload.get("parcel") or 0))
    if parcel is None or parcel.id is None or parcel.status != ParcelStatus.waiting:
        return []
    policy = await policy_for(ctx, parcel.community_id)
    unit = await ctx.session.get(Unit, parcel.unit_id) if parcel.unit_id else None
    label = unit.label if unit else ""
    replies: list[Reply] = []
    if rules.reminder_due(parcel.received_at, parcel.reminded_at, ctx.now, policy):
        parcel.reminders += 1
        parcel.reminded_at = ctx.now
        community = await ctx.session.get(Community, parcel.community_id)
        params = {
            **details(parcel, label, ctx.now),
            "hours": community.office_hours if community else "",
        }
        replies += [
            Reply(
                "parcels.reminder",
                params,
                to=chat,
                dedupe_key=f"parcel:{parcel.id}:remind:{parcel.reminders}:{i}",
            )
            for i, chat in enumerate(await told_of(ctx, parcel))
        ]
    if parcel.ticket_id is None and rules.task_due(parcel.received_at, ctx.now, policy):
        replies += await _open_task(ctx, parcel, label)
    ctx.session.add(parcel)
    await _book(ctx, parcel, policy)
    return replies


async def _open_task(ctx: Context, parcel: Parcel, label: str) -> list[Reply]:
    locale = ctx.settings.default_locale
    days = rules.age(parcel.received_at, ctx.now).days
    description = ctx.catalogs.text(
        locale,
        "parcels.task.description",
        {
            "unit": label,
            "recipient": parcel.recipient or ctx.catalogs.text(locale, "parcels.recipient.unnamed"),
            "courier": ctx.catalogs.format(locale, courier_text(parcel.courier)),
            "waybill": parcel.waybill or "—",
            "code": parcel.code,
            "days": days,
        },
    )
    ticket, cards = await open_task(
        ctx,
        community_id=parcel.community_id,
        department=Department.service,
        description=description,
        due_at=ctx.now + timedelta(hours=TASK_HOURS),
        unit_id=parcel.unit_id,
        details={"parcel": parcel.id},
        contact_name=parcel.recipient,
        contact_phone=parcel.phone,
    )
    parcel.ticket_id = ticket.id
    await audit.record(
        ctx.session,
        actor="system",
        action="parcel_task",
        target=f"parcel:{parcel.id}",
        detail={"ticket": ticket.number},
        now=ctx.now,
    )
    return cards


# ---- lists ---------------------------------------------------------------------------


async def waiting_in(ctx: Context, unit_ids: list[int]) -> list[tuple[Parcel, Unit]]:
    """The parcels waiting for these units, oldest first."""
    if not unit_ids:
        return []
    rows = await ctx.session.exec(
        select(Parcel, Unit)
        .join(Unit, col(Unit.id) == col(Parcel.unit_id))
        .where(col(Parcel.unit_id).in_(unit_ids), Parcel.status == ParcelStatus.waiting)
        .order_by(col(Parcel.received_at), col(Parcel.id))
    )
    return [(p, u) for p, u in rows.all()]


async def mine(ctx: Context) -> list[tuple[Parcel, Unit]]:
    """The parcels waiting for the units the sender is bound to (and no other's)."""
    if ctx.person is None or ctx.person.id is None:
        return []
    bound = await ctx.session.exec(
        select(Binding.unit_id).where(Binding.person_id == ctx.person.id)
    )
    return await waiting_in(ctx, list(bound.all()))


def resident_lines(ctx: Context, found: list[tuple[Parcel, Unit]]) -> list[Text]:
    return [Text("parcels.mine.line", details(p, u.label, ctx.now)) for p, u in found]


async def resident_reply(ctx: Context) -> Reply | None:
    """The resident's waiting parcels with their codes; None when there are none."""
    found = await mine(ctx)
    if not found:
        return None
    return Reply("parcels.mine", {"count": len(found), "lines": resident_lines(ctx, found)})


async def waiting_reply(ctx: Context) -> list[Reply]:
    """`/my`'s share: the resident's waiting parcels, if any."""
    found = await resident_reply(ctx)
    return [found] if found is not None else []


async def parcels_command(ctx: Context, argument: str) -> list[Reply]:
    """`/parcels`: a resident's waiting parcels; the desk's waiting list by unit, oldest
    first; other staff are refused."""
    if ctx.staff:
        scopes = desk_scopes(ctx)
        if not scopes:
            return [Reply("parcels.not_desk")]
        return [await desk_list(ctx, scopes)]
    if ctx.person is None:
        return [Reply("parcels.mine.unbound")]
    return [await resident_reply(ctx) or Reply("parcels.mine.none")]


async def waiting_for_desk(ctx: Context, scopes: list[int | None]) -> list[tuple[Parcel, Unit]]:
    query = (
        select(Parcel, Unit)
        .join(Unit, col(Unit.id) == col(Parcel.unit_id))
        .where(Parcel.status == ParcelStatus.waiting)
        .order_by(col(Parcel.received_at), col(Parcel.id))
    )
    if None not in scopes:
        query = query.where(col(Parcel.community_id).in_([s for s in scopes if s is not None]))
    return [(p, u) for p, u in (await ctx.session.exec(query)).all()]


async def desk_list(ctx: Context, scopes: list[int | None]) -> Reply:
    found = await waiting_for_desk(ctx, scopes)
    if not found:
        return Reply("parcels.desk.none")
    lines = [Text("parcels.desk.line", details(p, u.label, ctx.now)) for p, u in found]
    more = len(lines) - LIST_LIMIT
    if more > 0:
        lines = [*lines[:LIST_LIMIT], Text("parcels.desk.more", {"count": more})]
    return Reply("parcels.desk.list", {"count": len(found), "lines": lines})


# ---- one typed line ------------------------------------------------------------------


def flag_words(ctx: Context) -> tuple[set[str], set[str]]:
    return ctx.catalogs.words("parcels.words.valuable"), ctx.catalogs.words("parcels.words.damaged")


async def register_line(ctx: Context, text: str) -> list[Reply]:
    """`/parcel 2号楼1单元802 张伟 SF1234567890 易碎`: registered at once, the courier
    guessed from the waybill; a unit not found gets the closest ones offered."""
    valuable, damaged = flag_words(ctx)
    line = rules.read_line(text, valuable, damaged)
    if line is None:
        return [Reply("parcels.usage")]
    unit = await find_unit(ctx, line.unit)
    if isinstance(unit, list):
        return [unit_not_found(line.unit, unit)]
    assert unit.id is not None
    # A courier named in the line (`顺丰`) is taken over the waybill's guess.
    named = [(n, courier_of(ctx, n)) for n in line.notes]
    courier = next((key for _, key in named if key in rules.COURIER_KEYS), "")
    notes = [n for n, key in named if key not in rules.COURIER_KEYS]
    _, replies = await register(
        ctx,
        Registration(
            unit_id=unit.id,
            recipient=line.recipient,
            waybill=line.waybill,
            courier=courier,
            phone=line.phone,
            note=" ".join(notes),
            valuable=line.valuable,
            damaged=line.damaged,
        ),
    )
    return replies
