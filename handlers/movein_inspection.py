"""The move-in's inspection with the repair department: a ticket of kind `inspection` with
the rooms × checks, the base readings the owner confirms (or disputes), each defect a repair
ticket for the developer's rework.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.cardsync import refreshed_cards
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.directory import department_chats
from handlers.fees import joined
from handlers.movein import card
from handlers.movein_actions import (
    Inspect,
    Inspected,
    ReadingsOk,
    ReadingsWrong,
)
from handlers.movein_record import (
    OPEN,
    audited,
    flow_choice,
    mark,
    open_one,
    owner_contact,
    owner_move_in,
    readings,
    tell_owner,
    view,
)
from handlers.readings import last_reading
from handlers.readings import record as record_reading
from handlers.rules import movein as rules
from handlers.rules import readings as reading_rules
from storage import tickets
from storage.models import (
    Department,
    MeterReading,
    MoveIn,
    Ticket,
    TicketKind,
    Unit,
)


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
        flow_choice("movein_readings", move_in, "movein.btn.readings"),
        flow_choice("movein_defect", move_in, "movein.btn.defect"),
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


async def start_inspection(ctx: Context, action: Inspect) -> list[Reply]:
    found = await open_one(ctx, action.move_in)
    if isinstance(found, Reply):
        return [found]
    if found.inspection_ticket_id is not None:
        return [await card(ctx, found)]
    unit = await ctx.session.get(Unit, found.unit_id)
    contact = await owner_contact(ctx.session, found)
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


async def readings_ok(ctx: Context, action: ReadingsOk) -> list[Reply]:
    move_in = await owner_move_in(ctx, action.move_in)
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
    move_in = await owner_move_in(ctx, action.move_in)
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
    contact = await owner_contact(ctx.session, move_in)
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
