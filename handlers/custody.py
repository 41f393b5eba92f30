"""Custody of an empty flat (房屋托管): the agreement, its keys, readings, patrols and fee.

The desk (or a supervisor) opens custody for a handed-over flat: the dates, the owner,
the keys taken into the office's key register (`OfficeKey`, source `custody:<id>`) and
the base readings. While it lasts the management fee is at the custody rate
(handlers/custody_fees.py); each month the desk and the repair group are reminded to
read the meters, and a month over the limits raises an alarm to the desk and tells the
owner; every week (and before and after heavy rain, rounds the desk starts for a
community) an outside patrol is a `patrol` ticket for the security group, worked as any
task, finished with its checklist; a problem found becomes a repair ticket for the flat
and the owner is told. Ending custody gives the keys back (recorded), closes the fee and
moves the flat back to the stage it had before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import custody_fees, readings, unit_life
from handlers.cards import DONE_FLOW, card_choices, where
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.directory import department_chats, person_chats, unit_by_label
from handlers.policies import for_community
from handlers.rules import custody as rules
from handlers.rules.dates import read_day
from handlers.rules.readings import METERS, ReadingError, parse_reading
from handlers.staffauth import acting_member
from handlers.work_orders import create_work_order, urgency_of
from storage import audit, jobs, keyvalue, tickets
from storage.models import (
    Binding,
    Community,
    Custody,
    Department,
    Job,
    MeterReading,
    OfficeKey,
    Person,
    Role,
    StaffMember,
    Ticket,
    TicketKind,
    Unit,
    UnitStage,
)

PATROL_JOB = "custody_patrol"
READING_JOB = "custody_reading"
RAIN_AFTER_JOB = "custody_rain_after"
PATROL_FLOW = "patrol_check"
# The stages custody may start from: the flat is handed over and empty.
FROM_STAGES = (UnitStage.handed_over, UnitStage.occupied, UnitStage.renovating)
# How long a patrol may take, by why it is made.
PATROL_HOURS = {rules.WEEKLY: 48, rules.RAIN_BEFORE: 6, rules.RAIN_AFTER: 24}
REMIND_AT = time(9, 30)
# Where a problem found on a patrol goes as a repair, by the checklist item.
PROBLEM_CATEGORY = {"leaks": "water", "meters": "electrical", "doors_windows": "doors"}


# ---- looking things up -----------------------------------------------------------------


async def policy_for(ctx: Context, community_id: int) -> rules.CustodyPolicy:
    settings = await for_community(ctx.session, ctx.settings, community_id)
    return rules.CustodyPolicy(
        fee_rate=settings.custody_fee_rate,
        water_limit=settings.custody_water_limit,
        power_limit=settings.custody_power_limit,
        patrol_days=settings.custody_patrol_days,
    )


def desk_member(ctx: Context, community_id: int) -> StaffMember | None:
    """The sender as the community's service desk or a manager: who runs custody."""
    return acting_member(ctx, community_id, Department.service)


def reader_member(ctx: Context, community_id: int) -> StaffMember | None:
    """Who may enter a month's readings: the desk, the repair department, managers."""
    return desk_member(ctx, community_id) or acting_member(ctx, community_id, Department.repair)


async def active_of(session: AsyncSession, unit_id: int | None) -> Custody | None:
    rows = await session.exec(
        select(Custody).where(Custody.unit_id == unit_id, Custody.status == "active")
    )
    return rows.first()


async def custodies_of(session: AsyncSession, community_id: int) -> list[tuple[Custody, Unit]]:
    """The community's flats in custody now, by unit."""
    rows = await session.exec(
        select(Custody, Unit)
        .join(Unit, col(Unit.id) == col(Custody.unit_id))
        .where(Custody.community_id == community_id, Custody.status == "active")
        .order_by(col(Unit.label))
    )
    return [(c, u) for c, u in rows.all()]


async def owner_of(session: AsyncSession, unit_id: int | None) -> Person | None:
    """The unit's first owner on record."""
    rows = await session.exec(
        select(Person)
        .join(Binding, col(Binding.person_id) == col(Person.id))
        .where(Binding.unit_id == unit_id, Binding.role == Role.owner)
        .order_by(col(Binding.id))
    )
    return rows.first()


async def keys_of(session: AsyncSession, custody_id: int | None) -> list[OfficeKey]:
    rows = await session.exec(
        select(OfficeKey)
        .where(OfficeKey.source == f"custody:{custody_id}")
        .order_by(col(OfficeKey.id))
    )
    return list(rows.all())


async def patrols_of(session: AsyncSession, custody: Custody) -> list[Ticket]:
    ids = [e["ticket"] for e in custody.history if e.get("event") == "patrol"]
    if not ids:
        return []
    rows = await session.exec(
        select(Ticket).where(col(Ticket.id).in_(ids)).order_by(col(Ticket.id))
    )
    return list(rows.all())


def staff_communities(ctx: Context) -> list[int | None]:
    return sorted(
        {m.community_id for m in ctx.staff if m.active}, key=lambda c: (c is None, c or 0)
    )


async def desk_unit(ctx: Context, label: str) -> Unit | None:
    """The unit typed, looked for in the communities the sender works for."""
    for community_id in staff_communities(ctx):
        found = await unit_by_label(ctx.session, community_id, label)
        if found is not None:
            return found
    return None


def _history(custody: Custody, ctx: Context, event: str, **data: Any) -> None:
    entry = {"at": ctx.now.isoformat(), "by": ctx.actor, "event": event, **data}
    custody.history = [*custody.history, entry]
    ctx.session.add(custody)


def local_today(ctx: Context) -> date:
    return ctx.now.astimezone(ctx.settings.tz).date()


def _at_local(ctx: Context, day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=ctx.settings.tz)


def keys_text(keys: list[OfficeKey] | list[tuple[str, int]]) -> Any:
    pairs = [(k.label, k.count) if isinstance(k, OfficeKey) else k for k in keys]
    if not pairs:
        return Text("custody.keys.none")
    return "、".join(f"{label}×{count}" for label, count in pairs)


# ---- the desk's view of a unit, and the owner's -------------------------------------


async def custody_command(ctx: Context, argument: str) -> list[Reply]:
    """`/custody`: the desk's list (or one unit's custody: `/custody 3栋2单元1201`); an
    owner's own custody. Other staff are refused."""
    desk_in = [c for c in staff_communities(ctx) if c is not None and desk_member(ctx, c)]
    if desk_in:
        if argument.strip():
            return await unit_view(ctx, argument.strip())
        return await desk_list(ctx, desk_in)
    if ctx.staff:
        return [Reply("dialog.not_allowed")]
    return await owner_view(ctx)


async def desk_list(ctx: Context, community_ids: list[int]) -> list[Reply]:
    lines: list[Any] = []
    for community_id in community_ids:
        for custody, unit in await custodies_of(ctx.session, community_id):
            lines.append(
                Text(
                    "custody.list.line",
                    {"unit": unit.label, "starts": custody.starts, "ends": _ends(custody)},
                )
            )
    if not lines:
        return [Reply("custody.list.none")]
    return [Reply("custody.list", {"count": len(lines), "lines": lines})]


def _ends(custody: Custody) -> Any:
    return custody.ends if custody.ends else Text("custody.open_ended")


async def unit_view(ctx: Context, label: str) -> list[Reply]:
    unit = await desk_unit(ctx, label)
    if unit is None or desk_member(ctx, unit.community_id) is None:
        return [Reply("custody.unit.unknown", {"unit": label})]
    custody = await active_of(ctx.session, unit.id)
    if custody is None:
        return [
            Reply(
                "custody.unit.none",
                {"unit": unit.label, "stage": Text(f"custody.stage.{effective_stage(unit)}")},
                choices=(Choice(f"flow:custody_open:{unit.id}", "custody.btn.open"),),
            )
        ]
    return [
        Reply(
            "custody.unit.active",
            await details(ctx.session, custody, unit),
            choices=(
                Choice(f"flow:custody_reading:{custody.id}", "custody.btn.reading"),
                Choice(f"flow:custody_end:{custody.id}", "custody.btn.end"),
            ),
        )
    ]


@dataclass(frozen=True)
class Overview:
    """One custody as the pages and chat show it."""

    custody: Custody
    unit: Unit
    owner: Person | None
    keys: list[OfficeKey]
    readings: list[MeterReading]
    patrols: list[Ticket]

    def last_reading(self, meter: str) -> MeterReading | None:
        found = [r for r in self.readings if r.meter == meter]
        return found[-1] if found else None


async def overview(session: AsyncSession, custody: Custody) -> Overview:
    unit = await session.get(Unit, custody.unit_id)
    assert unit is not None
    owner = await session.get(Person, custody.owner_id) if custody.owner_id else None
    opened = custody.opened_at
    readings_since = [
        r for r in await readings.readings_of(session, unit.id or 0) if r.at >= opened
    ]
    return Overview(
        custody,
        unit,
        owner,
        await keys_of(session, custody.id),
        readings_since,
        await patrols_of(session, custody),
    )


def _last_readings(view: Overview) -> Any:
    parts = []
    for meter in METERS:
        last = view.last_reading(meter)
        if last is not None:
            parts.append(
                Text(
                    "custody.reading.part",
                    {
                        "meter": Text(f"custody.meter.{meter}"),
                        "value": str(last.value),
                        "at": last.at,
                    },
                )
            )
    return parts or Text("custody.readings.none")


def _last_patrol(view: Overview) -> Any:
    if not view.patrols:
        return Text("custody.patrols.none")
    last = view.patrols[-1]
    return Text(
        "custody.patrol.last",
        {
            "number": last.number,
            "round": Text(f"custody.round.{last.details.get('round', rules.WEEKLY)}"),
            "at": last.done_at or last.created_at,
            "status": Text(f"status.{last.status}"),
            "result": Text(f"custody.result.{last.details.get('result', 'pending')}"),
        },
    )


async def details(session: AsyncSession, custody: Custody, unit: Unit) -> dict[str, Any]:
    view = await overview(session, custody)
    return {
        "unit": unit.label,
        "owner": view.owner.name if view.owner else Text("custody.owner.none"),
        "starts": custody.starts,
        "ends": _ends(custody),
        "percent": int(custody_fees.agreed_rate(custody) * 100),
        "keys": keys_text([k for k in view.keys if k.status == "held"]),
        "readings": _last_readings(view),
        "patrol": _last_patrol(view),
    }


async def owner_view(ctx: Context) -> list[Reply]:
    """An owner's custody (or custodies): dates, last readings, last patrol."""
    if ctx.person is None:
        return [Reply("custody.owner.nothing")]
    rows = await ctx.session.exec(
        select(Custody).where(Custody.owner_id == ctx.person.id).order_by(col(Custody.id).desc())
    )
    found = list(rows.all())
    if not found:
        return [Reply("custody.owner.nothing")]
    replies = []
    for custody in found[:3]:
        unit = await ctx.session.get(Unit, custody.unit_id)
        assert unit is not None
        key = "custody.owner.active" if custody.status == "active" else "custody.owner.ended_view"
        replies.append(Reply(key, await details(ctx.session, custody, unit)))
    return replies


# ---- opening --------------------------------------------------------------------------


def effective_stage(unit: Unit) -> str:
    """A unit imported with a handover date but never moved is handed over."""
    if unit.stage == UnitStage.not_handed_over and unit.handover_date is not None:
        return UnitStage.handed_over
    return unit.stage


async def may_open(ctx: Context, unit_id: int | None) -> Unit | list[Reply]:
    """The unit custody may be opened for by this sender, else why not."""
    unit = await ctx.session.get(Unit, unit_id) if unit_id else None
    if unit is None:
        return [Reply("dialog.stale")]
    if desk_member(ctx, unit.community_id) is None:
        return [Reply("dialog.not_allowed")]
    if await active_of(ctx.session, unit.id) is not None:
        return [Reply("custody.already", {"unit": unit.label})]
    if effective_stage(unit) not in FROM_STAGES:
        return [
            Reply(
                "custody.refused.stage",
                {"unit": unit.label, "stage": Text(f"custody.stage.{unit.stage}")},
            )
        ]
    return unit


async def previous_readings(session: AsyncSession, unit_id: int) -> dict[str, str]:
    found = {}
    for meter in METERS:
        last = await readings.last_reading(session, unit_id, meter)
        if last is not None:
            found[meter] = str(last.value)
    return found


async def open_custody(
    ctx: Context,
    *,
    unit_id: int,
    starts: date,
    ends: date | None,
    keys: list[tuple[str, int]],
    meters: dict[str, Decimal],
) -> list[Reply]:
    """Open custody: the agreement, the keys taken in, the base readings, the fee at the
    custody rate, the first patrol and reading reminder booked; the owner is told."""
    found = await may_open(ctx, unit_id)
    if isinstance(found, list):
        return found
    unit = found
    assert unit.id is not None
    refused = await _below_previous(ctx.session, unit.id, meters)
    if refused is not None:
        return [refused]
    policy = await policy_for(ctx, unit.community_id)
    owner = await owner_of(ctx.session, unit.id)
    custody = Custody(
        community_id=unit.community_id,
        unit_id=unit.id,
        owner_id=owner.id if owner else None,
        starts=starts,
        ends=ends,
        opened_by=ctx.actor,
        opened_at=ctx.now,
    )
    ctx.session.add(custody)
    await ctx.session.flush()
    _history(custody, ctx, "opened", rate=str(policy.fee_rate))
    if unit.stage != effective_stage(unit):
        unit.stage = effective_stage(unit)  # as the migration would have set it
    await unit_life.move(
        ctx.session,
        unit,
        UnitStage.custody,
        actor=ctx.actor,
        now=ctx.now,
        note=f"custody:{custody.id}",
    )
    for label, count in keys:
        ctx.session.add(
            OfficeKey(
                community_id=unit.community_id,
                unit_id=unit.id,
                label=label,
                count=count,
                source=f"custody:{custody.id}",
                received_from=owner.name if owner else "",
                received_at=ctx.now,
                history=[{"at": ctx.now.isoformat(), "by": ctx.actor, "event": "received"}],
            )
        )
    for meter, value in meters.items():
        await readings.record(
            ctx.session,
            unit_id=unit.id,
            meter=meter,
            value=value,
            purpose="custody_start",
            read_by=ctx.actor,
            now=ctx.now,
        )
    await custody_fees.reprice(ctx.session, unit, rules.month_of(starts))
    await _book_patrol(ctx, custody, policy, ctx.now)
    await _book_reading(ctx, custody)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="custody_open",
        target=f"unit:{unit.id}",
        detail={"custody": custody.id, "starts": starts.isoformat()},
        now=ctx.now,
    )
    params = {
        "unit": unit.label,
        "starts": starts,
        "ends": _ends(custody),
        "keys": keys_text(keys),
        "percent": int(policy.fee_rate * 100),
        "water": policy.water_limit,
        "power": policy.power_limit,
        "days": policy.patrol_days,
    }
    told = [
        Reply("custody.owner.opened", params, to=chat)
        for chat in await person_chats(ctx.session, custody.owner_id)
    ]
    return [Reply("custody.opened", params), *told]


async def _book_patrol(
    ctx: Context, custody: Custody, policy: rules.CustodyPolicy, after: datetime
) -> None:
    due = rules.next_patrol(after, ctx.now, policy)
    await jobs.schedule(
        ctx.session,
        kind=PATROL_JOB,
        due_at=due,
        payload={"custody": custody.id},
        dedupe_key=f"{PATROL_JOB}:{custody.id}:{due.date().isoformat()}",
    )


async def _book_reading(ctx: Context, custody: Custody) -> None:
    day = rules.first_of_next_month(local_today(ctx))
    await jobs.schedule(
        ctx.session,
        kind=READING_JOB,
        due_at=_at_local(ctx, day, REMIND_AT),
        payload={"custody": custody.id},
        dedupe_key=f"{READING_JOB}:{custody.id}:{day.isoformat()[:7]}",
    )


# ---- monthly readings -------------------------------------------------------------------


async def reading_job(ctx: Context, job: Job) -> list[Reply]:
    """The month's reminder to read a flat in custody: to the desk and the repair group,
    with the button that enters the figures."""
    custody = await ctx.session.get(Custody, job.payload.get("custody"))
    if custody is None or custody.status != "active":
        return []
    await _book_reading(ctx, custody)
    unit = await ctx.session.get(Unit, custody.unit_id)
    assert unit is not None
    choice = Choice(f"flow:custody_reading:{custody.id}", "custody.btn.reading")
    return [
        Reply("custody.reading.due", {"unit": unit.label}, to=chat, choices=(choice,))
        for department in (Department.service, Department.repair)
        for chat in await department_chats(ctx.session, custody.community_id, department)
    ]


async def may_read(ctx: Context, custody_id: int | None) -> tuple[Custody, Unit] | list[Reply]:
    custody = await ctx.session.get(Custody, custody_id) if custody_id else None
    if custody is None:
        return [Reply("dialog.stale")]
    if reader_member(ctx, custody.community_id) is None:
        return [Reply("dialog.not_allowed")]
    unit = await ctx.session.get(Unit, custody.unit_id)
    if custody.status != "active" or unit is None:
        return [Reply("custody.not_active")]
    return custody, unit


async def record_readings(ctx: Context, custody_id: int, meters: dict[str, Decimal]) -> list[Reply]:
    """A month's readings: what was used since the last; over the limit, the desk is
    alarmed and the owner told."""
    found = await may_read(ctx, custody_id)
    if isinstance(found, list):
        return found
    custody, unit = found
    assert unit.id is not None
    refused = await _below_previous(ctx.session, unit.id, meters)
    if refused is not None:
        return [refused]  # checked first: nothing is kept of a set with one figure wrong
    policy = await policy_for(ctx, custody.community_id)
    used: dict[str, Decimal] = {}
    for meter, value in meters.items():
        _, used[meter] = await readings.record(
            ctx.session,
            unit_id=unit.id,
            meter=meter,
            value=value,
            purpose="monthly",
            read_by=ctx.actor,
            now=ctx.now,
        )
    over = [m for m, amount in used.items() if rules.over_limit(m, amount, policy)]
    _history(custody, ctx, "reading", used={m: str(v) for m, v in used.items()}, over=over)
    used_text = [
        Text("custody.used.part", {"meter": Text(f"custody.meter.{m}"), "used": v})
        for m, v in used.items()
    ]
    replies = [Reply("custody.reading.saved", {"unit": unit.label, "used": used_text})]
    if over:
        limits = {"water": policy.water_limit, "power": policy.power_limit}
        what = [
            Text(
                "custody.over.part",
                {"meter": Text(f"custody.meter.{m}"), "used": used[m], "limit": limits[m]},
            )
            for m in over
        ]
        params = {"unit": unit.label, "what": what}
        replies += [
            Reply("custody.alarm.desk", params, to=chat, urgent=True)
            for chat in await department_chats(
                ctx.session, custody.community_id, Department.service
            )
        ]
        replies += [
            Reply("custody.alarm.owner", params, to=chat)
            for chat in await person_chats(ctx.session, custody.owner_id)
        ]
        await audit.record(
            ctx.session,
            actor=ctx.actor,
            action="custody_alarm",
            target=f"unit:{unit.id}",
            detail={"custody": custody.id, "over": over},
            now=ctx.now,
        )
    return replies


async def _below_previous(
    session: AsyncSession, unit_id: int, meters: dict[str, Decimal]
) -> Reply | None:
    """The first figure below its meter's last reading, said politely; None if all fit."""
    previous = await previous_readings(session, unit_id)
    for meter, value in meters.items():
        if meter in previous and value < Decimal(previous[meter]):
            params = {
                "meter": Text(f"custody.meter.{meter}"),
                "value": value,
                "previous": Decimal(previous[meter]),
            }
            return Reply("custody.reading.below", params)
    return None


# ---- patrols ----------------------------------------------------------------------------


async def create_patrol(ctx: Context, custody: Custody, round_: str) -> list[Reply]:
    """A patrol ticket for the security group, with its card."""
    from handlers.cardsync import refreshed_cards

    unit = await ctx.session.get(Unit, custody.unit_id)
    assert unit is not None
    ticket = await tickets.create_ticket(
        ctx.session,
        community_id=custody.community_id,
        kind=TicketKind.patrol,
        department=Department.security,
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
        unit_id=unit.id,
        channel="system",
        description=ctx.catalogs.text(ctx.catalogs.default_locale, f"custody.round.{round_}"),
        details={"custody": custody.id, "round": round_},
        due_at=ctx.now + timedelta(hours=PATROL_HOURS[round_]),
    )
    _history(custody, ctx, "patrol", ticket=ticket.id, round=round_)
    return await refreshed_cards(ctx, ticket)


async def patrol_job(ctx: Context, job: Job) -> list[Reply]:
    """The weekly patrol: made, and the next one booked, while custody lasts."""
    custody = await ctx.session.get(Custody, job.payload.get("custody"))
    if custody is None or custody.status != "active":
        return []
    await _book_patrol(ctx, custody, await policy_for(ctx, custody.community_id), job.due_at)
    return [
        *await create_patrol(ctx, custody, rules.WEEKLY),
        *await _agreed_end_passed(ctx, custody),
    ]


async def _agreed_end_passed(ctx: Context, custody: Custody) -> list[Reply]:
    """Once the agreed end has passed and custody still runs, the desk is asked (once) to
    end it with the owner or agree a new end; the patrols go on meanwhile."""
    if custody.ends is None or local_today(ctx) <= custody.ends:
        return []
    if any(e.get("event") == "end_due" for e in custody.history):
        return []
    _history(custody, ctx, "end_due")
    unit = await ctx.session.get(Unit, custody.unit_id)
    assert unit is not None
    choice = Choice(f"flow:custody_end:{custody.id}", "custody.btn.end")
    return [
        Reply(
            "custody.end_due",
            {"unit": unit.label, "ends": custody.ends},
            to=chat,
            choices=(choice,),
        )
        for chat in await department_chats(ctx.session, custody.community_id, Department.service)
    ]


async def patrol_card(ctx: Context, ticket: Ticket) -> list[Reply]:
    """A patrol's card in the security group: the task buttons, "done" asks the checklist."""
    unit = await ctx.session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    assignee = (
        await ctx.session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    )
    done = f"flow:{DONE_FLOW}:{ticket.id}"
    choices = tuple(
        Choice(f"flow:{PATROL_FLOW}:{ticket.id}", c.key) if c.value == done else c
        for c in card_choices(ticket)
    )
    params = {
        "number": ticket.number,
        "where": where(ticket, unit),
        "round": Text(f"custody.round.{ticket.details.get('round', rules.WEEKLY)}"),
        "status": Text(f"status.{ticket.status}"),
        "due": ticket.due_at,
        "assignee": assignee.name if assignee else Text("card.nobody"),
        "checklist": [Text(f"custody.check.{item}") for item in rules.CHECKLIST],
    }
    return [
        Reply("custody.patrol.card", params, to=chat, card=f"ticket:{ticket.id}", choices=choices)
        for chat in await department_chats(ctx.session, ticket.community_id, ticket.department)
    ]


async def finish_patrol(
    ctx: Context, ticket_id: int, checks: dict[str, str], problem: str | None, photos: list[str]
) -> list[Reply]:
    """The patrol done with its checklist; a problem becomes a repair and the owner is told."""
    from handlers import tasks

    bad = [item for item in rules.CHECKLIST if checks.get(item) == "bad"]
    note = problem or ctx.catalogs.text(ctx.catalogs.default_locale, "custody.result.fine")
    ticket = await ctx.session.get(Ticket, ticket_id)
    if ticket is None or ticket.kind != TicketKind.patrol:
        return [Reply("dialog.stale")]
    ticket.details = {**ticket.details, "checklist": checks, "result": "problem" if bad else "fine"}
    replies = await tasks.finish(ctx, ticket_id, note, photos, None)
    if ticket.status != "done":
        return replies  # refused (someone else's, not started): the details stay as they were
    custody = await ctx.session.get(Custody, ticket.details.get("custody"))
    unit = await ctx.session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    if custody is None or unit is None:
        return replies
    _history(custody, ctx, "patrol_done", ticket=ticket.id, bad=bad)
    if not bad:
        return replies
    owner = await ctx.session.get(Person, custody.owner_id) if custody.owner_id else None
    category = next((PROBLEM_CATEGORY[b] for b in bad if b in PROBLEM_CATEGORY), "other")
    text = problem or note
    order = await create_work_order(
        ctx,
        unit=unit,
        category=category,
        description=text,
        name=owner.name if owner else "",
        phone=owner.phone or "" if owner else "",
        details={"photos": photos, "patrol": ticket.number, "time": ""},
        urgency=urgency_of(ctx, category, text),
    )
    if isinstance(order, Reply):
        return [*replies, order]
    repair, pushes = order
    # The owner's repair, told to the owner's chats (not the patrol's group).
    repair.person_id = custody.owner_id
    repair.channel, repair.chat_id = "system", ""
    ctx.session.add(repair)
    _history(custody, ctx, "problem", ticket=ticket.id, repair=repair.id)
    params = {"unit": unit.label, "problem": text, "number": repair.number, "patrol": ticket.number}
    return [
        *replies,
        Reply("custody.problem.filed", params),
        *pushes,
        *[
            Reply("custody.problem.desk", params, to=chat)
            for chat in await department_chats(
                ctx.session, custody.community_id, Department.service
            )
        ],
        *[
            Reply("custody.problem.owner", params, to=chat)
            for chat in await person_chats(ctx.session, custody.owner_id)
        ],
    ]


# ---- heavy rain ---------------------------------------------------------------------------


def _rain_key(community_id: int) -> str:
    return f"custody_rain:{community_id}"


def _rain_job_key(community_id: int) -> str:
    return f"{RAIN_AFTER_JOB}:{community_id}"


def desk_community(ctx: Context) -> int | None:
    """The community the sender runs the desk of (the first, for a round)."""
    for community_id in staff_communities(ctx):
        if community_id is not None and desk_member(ctx, community_id) is not None:
            return community_id
    return None


async def rain_round(ctx: Context, community_id: int, after: datetime | None) -> list[Reply]:
    """Heavy rain is coming: a before-patrol for every flat in custody now; the after-
    patrols come when the desk says the rain is over, or at `after`."""
    if desk_member(ctx, community_id) is None:
        return [Reply("dialog.not_allowed")]
    if after is not None and after <= ctx.now:
        return [Reply("custody.rain.past")]
    flats = await custodies_of(ctx.session, community_id)
    if not flats:
        return [Reply("custody.list.none")]
    pushes: list[Reply] = []
    for custody, _ in flats:
        pushes += await create_patrol(ctx, custody, rules.RAIN_BEFORE)
    await keyvalue.write(
        ctx.session,
        _rain_key(community_id),
        json.dumps({"started": ctx.now.isoformat(), "by": ctx.actor}),
    )
    if after is not None:
        await jobs.replace(
            ctx.session,
            kind=RAIN_AFTER_JOB,
            due_at=after,
            payload={"community": community_id},
            dedupe_key=_rain_job_key(community_id),
        )
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="custody_rain",
        target=f"community:{community_id}",
        detail={"flats": len(flats), "after": after.isoformat() if after else None},
        now=ctx.now,
    )
    said = Reply(
        "custody.rain.started",
        {"count": len(flats), "after": after if after else Text("custody.rain.when_over")},
    )
    return [said, *pushes]


async def rain_open(session: AsyncSession, community_id: int) -> bool:
    return bool(await keyvalue.read(session, _rain_key(community_id)))


async def rain_over(ctx: Context, community_id: int) -> list[Reply]:
    """The rain is over: an after-patrol for every flat in custody now."""
    if desk_member(ctx, community_id) is None:
        return [Reply("dialog.not_allowed")]
    if not await rain_open(ctx.session, community_id):
        return [Reply("custody.rain.none")]
    await jobs.cancel(ctx.session, _rain_job_key(community_id))
    count = len(await custodies_of(ctx.session, community_id))
    pushes = await _after_patrols(ctx, community_id)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="custody_rain_over",
        target=f"community:{community_id}",
        detail={"flats": count},
        now=ctx.now,
    )
    return [Reply("custody.rain.over", {"count": count}), *pushes]


async def _after_patrols(ctx: Context, community_id: int) -> list[Reply]:
    await keyvalue.write(ctx.session, _rain_key(community_id), "")
    pushes: list[Reply] = []
    for custody, _ in await custodies_of(ctx.session, community_id):
        pushes += await create_patrol(ctx, custody, rules.RAIN_AFTER)
    return pushes


async def rain_after_job(ctx: Context, job: Job) -> list[Reply]:
    community_id = int(job.payload.get("community", 0))
    if not await rain_open(ctx.session, community_id):
        return []  # the desk said it was over already
    return await _after_patrols(ctx, community_id)


async def rain_command(ctx: Context, argument: str) -> list[Reply]:
    """`/rain` (after-patrols when `/rain_over`), or `/rain 明天上午` (after-patrols then)."""
    community_id = desk_community(ctx)
    if community_id is None:
        return [Reply("dialog.not_allowed")]
    after = None
    if argument.strip():
        after = read_after(ctx, argument.strip())
        if after is None:
            return [Reply("custody.rain.unclear", {"text": argument.strip()[:40]})]
    return await rain_round(ctx, community_id, after)


PART_HOURS = {None: 9, "morning": 9, "afternoon": 14, "evening": 18}


def read_after(ctx: Context, text: str) -> datetime | None:
    """When the after-patrols are due, as typed: `明天上午`, `12月8日下午`, `3天后`."""
    from handlers.rules.dates import read_when

    found = read_when(text, local_today(ctx))
    if found is None:
        return None
    return _at_local(ctx, found.day, time(PART_HOURS.get(found.part, 9), 0))


async def rain_over_command(ctx: Context, argument: str) -> list[Reply]:
    community_id = desk_community(ctx)
    if community_id is None:
        return [Reply("dialog.not_allowed")]
    return await rain_over(ctx, community_id)


# ---- ending -------------------------------------------------------------------------------


async def may_end(ctx: Context, custody_id: int | None) -> tuple[Custody, Unit] | list[Reply]:
    custody = await ctx.session.get(Custody, custody_id) if custody_id else None
    if custody is None:
        return [Reply("dialog.stale")]
    if desk_member(ctx, custody.community_id) is None:
        return [Reply("dialog.not_allowed")]
    unit = await ctx.session.get(Unit, custody.unit_id)
    if custody.status != "active" or unit is None:
        return [Reply("custody.not_active")]
    return custody, unit


async def end_custody(ctx: Context, custody_id: int, returned_to: str | None = None) -> list[Reply]:
    """Custody ends today: the keys go back (to the owner unless named), the months after
    this one are charged in full again, the flat goes back to its stage before custody."""
    found = await may_end(ctx, custody_id)
    if isinstance(found, list):
        return found
    custody, unit = found
    owner = await ctx.session.get(Person, custody.owner_id) if custody.owner_id else None
    to = returned_to or (owner.name if owner else "")
    today = local_today(ctx)
    custody.status, custody.ended_at = "ended", ctx.now
    custody.ends = max(today, custody.starts)
    _history(custody, ctx, "ended", returned_to=to)
    keys = [k for k in await keys_of(ctx.session, custody.id) if k.status == "held"]
    for key in keys:
        key.status, key.returned_to, key.returned_at = "returned", to, ctx.now
        key.history = [
            *key.history,
            {"at": ctx.now.isoformat(), "by": ctx.actor, "event": "returned", "to": to},
        ]
        ctx.session.add(key)
    await custody_fees.reprice(ctx.session, unit, rules.month_of(custody.starts))
    back = await unit_life.stage_before(ctx.session, unit.id or 0, UnitStage.custody)
    await unit_life.move(
        ctx.session,
        unit,
        UnitStage(back) if back else UnitStage.handed_over,
        actor=ctx.actor,
        now=ctx.now,
        note=f"custody:{custody.id} ended",
    )
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="custody_end",
        target=f"unit:{unit.id}",
        detail={"custody": custody.id, "keys_to": to},
        now=ctx.now,
    )
    params = {"unit": unit.label, "ends": custody.ends, "keys": keys_text(keys), "to": to or "—"}
    return [
        Reply("custody.ended", params),
        *[
            Reply("custody.owner.ended", params, to=chat)
            for chat in await person_chats(ctx.session, custody.owner_id)
        ],
    ]


# ---- the desk's web pages -----------------------------------------------------------------


@dataclass(frozen=True)
class CommunityFlats:
    """A community's flats in custody as the desk's page lists them."""

    community: Community
    flats: list[Overview]
    rain: bool  # a heavy-rain round is waiting for its after-patrols


async def desk_communities(ctx: Context) -> list[Community]:
    """The communities whose custody the sender runs (a company-wide manager: every one)."""
    rows = (await ctx.session.exec(select(Community).order_by(col(Community.id)))).all()
    return [c for c in rows if c.id is not None and desk_member(ctx, c.id) is not None]


async def desk_page(ctx: Context) -> list[CommunityFlats]:
    found = []
    for community in await desk_communities(ctx):
        assert community.id is not None
        flats = [
            await overview(ctx.session, held)
            for held, _ in await custodies_of(ctx.session, community.id)
        ]
        found.append(CommunityFlats(community, flats, await rain_open(ctx.session, community.id)))
    return found


async def custody_page(ctx: Context, custody_id: int) -> Overview | None:
    """One custody, for the desk of its community only (None: none, or not theirs)."""
    held = await ctx.session.get(Custody, custody_id)
    if held is None or desk_member(ctx, held.community_id) is None:
        return None
    return await overview(ctx.session, held)


def read_meters(fields: Mapping[str, str], problems: dict[str, str]) -> dict[str, Decimal]:
    """The meters' figures typed in a form (gas may be left empty); problems by field."""
    found: dict[str, Decimal] = {}
    for meter in METERS:
        text = fields.get(meter, "").strip()
        if not text:
            if meter != "gas":
                problems[meter] = "custody.web.required"
            continue
        try:
            found[meter] = parse_reading(text)
        except ReadingError as error:
            problems[meter] = f"custody.error.reading.{error.reason}"
    return found


async def open_from_form(
    ctx: Context, fields: Mapping[str, str]
) -> tuple[dict[str, str], list[Reply]]:
    """Custody opened from the desk's page: the same use-case as the chat's flow, the form
    read field by field; (problems by field, the replies) — problems mean nothing done."""
    problems: dict[str, str] = {}
    today = local_today(ctx)
    unit = await desk_unit(ctx, fields.get("unit", "").strip()[:50])
    if unit is None or desk_member(ctx, unit.community_id) is None:
        problems["unit"] = "custody.web.unit_unknown"
    starts = (
        read_day(fields.get("starts", "").strip()[:30], today) if fields.get("starts") else today
    )
    if starts is None:
        problems["starts"] = "custody.error.day"
    ends = None
    if fields.get("ends", "").strip():
        ends = read_day(fields["ends"].strip()[:30], today)
        if ends is None:
            problems["ends"] = "custody.error.day"
        elif starts is not None and ends <= starts:
            problems["ends"] = "custody.web.ends_before"
    try:
        keys = rules.parse_keys(fields.get("keys", "")[:300])
    except rules.KeysError as error:
        keys, problems["keys"] = [], f"custody.error.keys.{error.reason}"
    meters = read_meters(fields, problems)
    if problems or unit is None or unit.id is None or starts is None:
        return problems, []
    replies = await open_custody(
        ctx, unit_id=unit.id, starts=starts, ends=ends, keys=keys, meters=meters
    )
    if replies and replies[0].key != "custody.opened":
        return {"unit": "custody.web.refused"}, replies
    return {}, replies


# ---- privacy: `resident export` and `forget` ------------------------------------------------


async def owned_by(session: AsyncSession, person_id: int) -> list[Custody]:
    rows = await session.exec(
        select(Custody).where(Custody.owner_id == person_id).order_by(col(Custody.id))
    )
    return list(rows.all())


async def export_of(session: AsyncSession, person_id: int) -> list[dict[str, Any]]:
    """A person's custodies with the keys the office held for them, as JSON-ready data."""
    found = []
    for held in await owned_by(session, person_id):
        keys = await keys_of(session, held.id)
        found.append(
            {
                **held.model_dump(mode="json"),
                "keys": [k.model_dump(mode="json") for k in keys],
            }
        )
    return found


async def forget_owner(session: AsyncSession, person: Person) -> None:
    """The key register keeps the keys and their dates, not the forgotten owner's name."""
    assert person.id is not None
    for held in await owned_by(session, person.id):
        for key in await keys_of(session, held.id):
            if key.received_from == person.name:
                key.received_from = ""
            if key.returned_to == person.name:
                key.returned_to = ""
            key.history = [
                {k: ("" if v == person.name else v) for k, v in entry.items()}
                for entry in key.history
            ]
            session.add(key)
