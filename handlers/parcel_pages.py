"""What the desk's parcels page shows (bot/web/parcels.py): the parcels waiting in the
communities the signed-in desk keeps parcels for, by unit with the oldest first and their
age, whether anyone of the unit could be told in chat; a search by code, unit or waybill
over every parcel, collected and returned ones too. Nothing is changed here: the page's
actions are chat's own (handlers/parcels.py, handlers/parcel_pickup.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select

from handlers import parcels
from handlers.core.context import Context
from handlers.rules import parcels as rules
from storage.models import Binding, ChatIdentity, Community, Parcel, ParcelStatus, Unit

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class Row:
    """One parcel as a line of the page."""

    id: int
    community: str
    unit: str
    recipient: str
    courier: Any
    waybill: str
    code: str
    received: datetime
    age: Any
    tone: str  # fresh, reminded, overdue (rules.tone); done for a collected or returned one
    valuable: bool
    damaged: bool
    note: str
    status: str
    told: bool  # someone of the unit is bound in chat
    reminders: int
    collected_at: datetime | None
    collected_by: str
    identity: str
    handed_by: str


@dataclass(frozen=True)
class UnitGroup:
    unit: str
    community: str
    rows: list[Row]


async def _told_units(ctx: Context, unit_ids: set[int]) -> set[int]:
    if not unit_ids:
        return set()
    rows = await ctx.session.exec(
        select(Binding.unit_id)
        .join(ChatIdentity, col(ChatIdentity.person_id) == col(Binding.person_id))
        .where(col(Binding.unit_id).in_(unit_ids))
        .distinct()
    )
    return set(rows.all())


async def _rows(ctx: Context, found: list[tuple[Parcel, Unit, Community]]) -> list[Row]:
    told = await _told_units(ctx, {u.id for _, u, _ in found if u.id is not None})
    policies: dict[int, rules.ParcelPolicy] = {}
    rows = []
    for parcel, unit, community in found:
        assert parcel.id is not None
        if parcel.community_id not in policies:
            policies[parcel.community_id] = await parcels.policy_for(ctx, parcel.community_id)
        waiting = parcel.status == ParcelStatus.waiting
        rows.append(
            Row(
                id=parcel.id,
                community=community.name,
                unit=unit.label,
                recipient=parcel.recipient,
                courier=parcels.courier_text(parcel.courier),
                waybill=parcel.waybill,
                code=parcel.code,
                received=parcel.received_at,
                age=parcels.age_text(parcel, parcel.collected_at or ctx.now),
                tone=rules.tone(parcel.received_at, ctx.now, policies[parcel.community_id])
                if waiting
                else "done",
                valuable=parcel.valuable,
                damaged=parcel.damaged,
                note=parcel.note,
                status=parcel.status,
                told=unit.id in told,
                reminders=parcel.reminders,
                collected_at=parcel.collected_at,
                collected_by=parcel.collected_by,
                identity=parcel.identity,
                handed_by=parcel.handed_by,
            )
        )
    return rows


def _scoped(ctx: Context, query: Any) -> Any:
    scopes = parcels.desk_scopes(ctx)
    if None in scopes:
        return query
    return query.where(col(Parcel.community_id).in_([s for s in scopes if s is not None]))


async def waiting(ctx: Context) -> list[UnitGroup]:
    """The waiting parcels by unit: the unit with the oldest parcel first, each unit's
    parcels oldest first."""
    if not parcels.desk_scopes(ctx):
        return []
    query = _scoped(
        ctx,
        select(Parcel, Unit, Community)
        .join(Unit, col(Unit.id) == col(Parcel.unit_id))
        .join(Community, col(Community.id) == col(Parcel.community_id))
        .where(Parcel.status == ParcelStatus.waiting)
        .order_by(col(Parcel.received_at), col(Parcel.id)),
    )
    rows = await _rows(ctx, [(p, u, c) for p, u, c in (await ctx.session.exec(query)).all()])
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.community, row.unit), []).append(row)
    return [UnitGroup(unit, community, found) for (community, unit), found in groups.items()]


async def search(ctx: Context, typed: str) -> list[Row]:
    """Parcels by pick-up code, waybill or unit (as people type it), newest first."""
    if not parcels.desk_scopes(ctx) or not typed.strip():
        return []
    conditions: list[Any] = []
    code = rules.read_code(typed)
    if code is not None:
        conditions.append(col(Parcel.code) == code)
    waybill = rules.read_waybill(typed)
    if waybill is not None:
        conditions.append(col(Parcel.waybill) == waybill)
    unit = await parcels.find_unit(ctx, typed)
    if isinstance(unit, Unit):
        conditions.append(col(Parcel.unit_id) == unit.id)
    if not conditions:
        return []
    query = _scoped(
        ctx,
        select(Parcel, Unit, Community)
        .join(Unit, col(Unit.id) == col(Parcel.unit_id))
        .join(Community, col(Community.id) == col(Parcel.community_id))
        .where(or_(*conditions))
        .order_by(col(Parcel.received_at).desc(), col(Parcel.id).desc())
        .limit(SEARCH_LIMIT),
    )
    return await _rows(ctx, [(p, u, c) for p, u, c in (await ctx.session.exec(query)).all()])


async def unit_for_form(ctx: Context, typed: str) -> Unit | list[Unit]:
    """The form's unit, as chat reads it (the closest ones when none)."""
    return await parcels.find_unit(ctx, typed)
