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
moves the flat back to the stage it had before. The patrols and heavy-rain rounds are in
handlers/custody_patrols.py, what the desk's pages ask in handlers/custody_pages.py, the fee
in handlers/custody_fees.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import custody_fees, readings, unit_life
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.directory import department_chats, person_chats, unit_by_label
from handlers.fees import joined
from handlers.policies import for_community
from handlers.rules import custody as rules
from handlers.rules.readings import METERS
from handlers.staffauth import acting_member
from storage import audit, jobs
from storage.models import (
    Binding,
    Custody,
    Department,
    Job,
    KeyLoan,
    MeterReading,
    OfficeKey,
    Person,
    Role,
    StaffMember,
    Ticket,
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


async def keys_out(session: AsyncSession, custody_id: int | None) -> list[str]:
    """The custody's keys lent and not back yet, as "label (borrower)"."""
    rows = await session.exec(
        select(OfficeKey.label, KeyLoan.borrower)
        .join(KeyLoan, col(KeyLoan.key_id) == col(OfficeKey.id))
        .where(OfficeKey.source == f"custody:{custody_id}", col(KeyLoan.returned_at).is_(None))
    )
    return [f"{label}（{borrower}）" for label, borrower in rows.all()]


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


def record_history(custody: Custody, ctx: Context, event: str, **data: Any) -> None:
    entry = {"at": ctx.now.isoformat(), "by": ctx.actor, "event": event, **data}
    custody.history = [*custody.history, entry]
    ctx.session.add(custody)


def local_today(ctx: Context) -> date:
    return ctx.now.astimezone(ctx.settings.tz).date()


def at_local(ctx: Context, day: date, at: time) -> datetime:
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
                Choice(f"flow:custody_ends:{custody.id}", "custody.btn.ends"),
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
    return await owner_custodies(ctx) or [Reply("custody.owner.nothing")]


async def owner_custodies(ctx: Context, *, active_only: bool = False) -> list[Reply]:
    """The sender's custodies as the owner sees them (the last three; `/my` shows those
    under way only); none: nothing."""
    if ctx.person is None:
        return []
    query = select(Custody).where(Custody.owner_id == ctx.person.id)
    if active_only:
        query = query.where(Custody.status == "active")
    found = list((await ctx.session.exec(query.order_by(col(Custody.id).desc()))).all())
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
    record_history(custody, ctx, "opened", rate=str(policy.fee_rate))
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
    await book_patrol(ctx, custody, policy, ctx.now)
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


async def book_patrol(
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
        due_at=at_local(ctx, day, REMIND_AT),
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
    used, over, replies = await _checked_readings(ctx, custody, unit, meters, "monthly")
    record_history(custody, ctx, "reading", used={m: str(v) for m, v in used.items()}, over=over)
    used_text = [
        Text("custody.used.part", {"meter": Text(f"custody.meter.{m}"), "used": v})
        for m, v in used.items()
    ]
    return [Reply("custody.reading.saved", {"unit": unit.label, "used": used_text}), *replies]


async def _checked_readings(
    ctx: Context, custody: Custody, unit: Unit, meters: dict[str, Decimal], purpose: str
) -> tuple[dict[str, Decimal], list[str], list[Reply]]:
    """Record the figures (checked before: none below its meter's last): what was used
    since the last reading, the meters over the limits, and for those the desk's alarm and
    the owner's message."""
    assert unit.id is not None
    policy = await policy_for(ctx, custody.community_id)
    used: dict[str, Decimal] = {}
    for meter, value in meters.items():
        _, used[meter] = await readings.record(
            ctx.session,
            unit_id=unit.id,
            meter=meter,
            value=value,
            purpose=purpose,
            read_by=ctx.actor,
            now=ctx.now,
        )
    over = [m for m, amount in used.items() if rules.over_limit(m, amount, policy)]
    replies: list[Reply] = []
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
            detail={"custody": custody.id, "over": over, "purpose": purpose},
            now=ctx.now,
        )
    return used, over, replies


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


async def end_custody(
    ctx: Context,
    custody_id: int,
    returned_to: str | None = None,
    meters: dict[str, Decimal] | None = None,
) -> list[Reply]:
    """Custody ends today: the final readings (never below the last; the month's use
    checked against the limits as a monthly reading is), the keys go back (to the owner
    unless named), the months after this one are charged in full again, the flat goes back
    to its stage before custody."""
    found = await may_end(ctx, custody_id)
    if isinstance(found, list):
        return found
    custody, unit = found
    assert unit.id is not None
    out = await keys_out(ctx.session, custody.id)
    if out:  # the owner gets every key back: a lent one must come back to the office first
        return [Reply("custody.end.key_out", {"keys": "、".join(out)})]
    meters = meters or {}
    refused = await _below_previous(ctx.session, unit.id, meters)
    if refused is not None:
        return [refused]  # nothing is done: custody goes on until the figures are right
    used, over, alarms = await _checked_readings(ctx, custody, unit, meters, "custody_end")
    owner = await ctx.session.get(Person, custody.owner_id) if custody.owner_id else None
    to = returned_to or (owner.name if owner else "")
    today = local_today(ctx)
    custody.status, custody.ended_at = "ended", ctx.now
    custody.ends = max(today, custody.starts)
    record_history(
        custody,
        ctx,
        "ended",
        returned_to=to,
        used={m: str(v) for m, v in used.items()},
        over=over,
    )
    keys = [k for k in await keys_of(ctx.session, custody.id) if k.status == "held"]
    for key in keys:
        key.status, key.returned_to, key.returned_at = "returned", to, ctx.now
        key.history = [
            *key.history,
            {"at": ctx.now.isoformat(), "by": ctx.actor, "event": "returned", "to": to},
        ]
        ctx.session.add(key)
    await custody_fees.reprice(ctx.session, unit, rules.month_of(custody.starts))
    await unit_life.move_back(
        ctx.session,
        unit,
        UnitStage.custody,
        otherwise=UnitStage.handed_over,
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
    params = {
        "unit": unit.label,
        "ends": custody.ends,
        "keys": keys_text(keys),
        "to": to or "—",
        "used": Text(
            "custody.ended.used",
            {
                "used": joined(
                    [
                        Text("custody.used.part", {"meter": Text(f"custody.meter.{m}"), "used": v})
                        for m, v in used.items()
                    ],
                    "custody.join",
                )
            },
        )
        if used
        else "",
    }
    return [
        Reply("custody.ended", params),
        *alarms,
        *[
            Reply("custody.owner.ended", params, to=chat)
            for chat in await person_chats(ctx.session, custody.owner_id)
        ],
    ]


# ---- the agreed end --------------------------------------------------------------------------


def end_refusal(custody: Custody, ends: date | None, today: date) -> Text | None:
    """Why the agreed end cannot be `ends` (None: open-ended); None when it can."""
    if ends is None:
        return None
    if ends <= custody.starts:
        return Text("custody.error.ends_before", {"starts": custody.starts})
    if ends < today:
        return Text("custody.error.ends_past", {"today": today})
    return None


async def change_end(ctx: Context, custody_id: int, ends: date | None) -> list[Reply]:
    """The desk agrees a new end with the owner (or none: until ended): recorded in the
    custody's history and the audit log, the fee's custody months priced again, the owner
    told. Once the new end has passed the desk is asked again to end it."""
    found = await may_end(ctx, custody_id)
    if isinstance(found, list):
        return found
    custody, unit = found
    refused = end_refusal(custody, ends, local_today(ctx))
    if refused is not None:
        return [Reply("custody.ends.refused", {"why": refused})]
    was = custody.ends
    if was == ends:
        return [Reply("custody.ends.same", {"unit": unit.label, "ends": _ends(custody)})]
    custody.ends = ends
    record_history(
        custody,
        ctx,
        "end_changed",
        was=was.isoformat() if was else None,
        to=ends.isoformat() if ends else None,
    )
    await custody_fees.reprice(ctx.session, unit, rules.month_of(custody.starts))
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="custody_end_changed",
        target=f"unit:{unit.id}",
        detail={
            "custody": custody.id,
            "was": was.isoformat() if was else None,
            "to": ends.isoformat() if ends else None,
        },
        now=ctx.now,
    )
    params = {
        "unit": unit.label,
        "was": was if was else Text("custody.open_ended"),
        "ends": _ends(custody),
    }
    return [
        Reply("custody.ends.changed", params),
        *[
            Reply("custody.owner.ends_changed", params, to=chat)
            for chat in await person_chats(ctx.session, custody.owner_id)
        ],
    ]


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
