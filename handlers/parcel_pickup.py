"""A parcel leaves the desk (快递领取): `/pickup CODE` shows it with its buttons — handed
to the recipient against the code, to someone collecting for them (their name and the ID
checked, kept masked: `身份证 ****1234`), or returned to the courier; `/pickup 2-1-802`
lists the unit's waiting parcels. Only the community's service desk or a manager acts,
each change is audited, and the resident is told who took it and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from handlers import parcels
from handlers.cardsync import refreshed_cards
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.rules import parcels as rules
from handlers.rules.lifecycle import OPEN, next_status
from storage import audit, tickets
from storage.models import Parcel, ParcelStatus, Ticket, TicketStatus, Unit


@dataclass(frozen=True)
class Hand(Action):
    """Handed to the recipient, who showed the pick-up code."""

    name = "parcel_hand"
    parcel: int


@dataclass(frozen=True)
class SendBack(Action):
    """Returned to the courier (refused, or never collected)."""

    name = "parcel_return"
    parcel: int


async def by_code(ctx: Context, code: str) -> Parcel | None:
    """The parcel with this pick-up code in a community the sender keeps parcels for;
    another community's code is unknown here."""
    scopes = parcels.desk_scopes(ctx)
    if not scopes:
        return None
    query = select(Parcel).where(Parcel.code == code)
    if None not in scopes:
        query = query.where(col(Parcel.community_id).in_([s for s in scopes if s is not None]))
    return (await ctx.session.exec(query)).first()


async def card(ctx: Context, parcel: Parcel) -> Reply:
    """The parcel as the desk sees it, with what may be done while it waits."""
    unit = await ctx.session.get(Unit, parcel.unit_id) if parcel.unit_id else None
    shown = parcels.details(parcel, unit.label if unit else "", ctx.now)
    choices: tuple[Choice, ...] = ()
    if parcel.status == ParcelStatus.waiting and parcel.id is not None:
        choices = (
            Hand(parcel.id).choice("parcels.btn.hand"),
            Choice(f"flow:{parcels.PROXY_FLOW}:{parcel.id}", "parcels.btn.proxy"),
            SendBack(parcel.id).choice("parcels.btn.return"),
        )
    done: Any = ""
    if parcel.status == ParcelStatus.collected:
        done = Text(
            "parcels.card.collected",
            {
                "by": parcel.collected_by,
                "at": parcel.collected_at,
                "identity": parcel.identity or "—",
                "handed_by": parcel.handed_by,
            },
        )
    elif parcel.status == ParcelStatus.returned:
        done = Text("parcels.card.returned", {"at": parcel.collected_at, "by": parcel.handed_by})
    return Reply("parcels.card", {**shown, "done": done}, choices=choices)


async def pickup_command(ctx: Context, argument: str) -> list[Reply]:
    """`/pickup CODE`: the parcel and its buttons; `/pickup 2-1-802`: the unit's waiting
    parcels, each with its buttons."""
    if not parcels.desk_scopes(ctx):
        return [Reply("parcels.not_desk")]
    typed = argument.strip()
    if not typed:
        return [Reply("parcels.pickup.usage")]
    code = rules.read_code(typed)
    if code is not None:
        found = await by_code(ctx, code)
        if found is None:
            return [Reply("parcels.pickup.unknown", {"code": code})]
        return [await card(ctx, found)]
    unit = await parcels.find_unit(ctx, typed)
    if isinstance(unit, list):
        return [parcels.unit_not_found(typed, unit)]
    assert unit.id is not None
    waiting = await parcels.waiting_in(ctx, [unit.id])
    if not waiting:
        return [Reply("parcels.pickup.none", {"unit": unit.label})]
    header = Reply("parcels.pickup.unit", {"unit": unit.label, "count": len(waiting)})
    return [header, *[await card(ctx, p) for p, _ in waiting[: parcels.LIST_LIMIT]]]


async def may_hand(ctx: Context, parcel_id: int) -> tuple[Parcel, str] | list[Reply]:
    """The waiting parcel and the desk member's name, or why not."""
    parcel = await ctx.session.get(Parcel, parcel_id)
    if parcel is None:
        return [Reply("dialog.stale")]
    member = parcels.desk_member(ctx, parcel.community_id)
    if member is None:
        return [Reply("parcels.not_desk")]
    if parcel.status != ParcelStatus.waiting:
        return [Reply(f"parcels.already.{parcel.status}", {"code": parcel.code})]
    return parcel, member.name


async def collect(
    ctx: Context, parcel_id: int, collector: str = "", identity: str = ""
) -> list[Reply]:
    """Hand the parcel over: to the recipient (no collector named: they showed the code)
    or to `collector`, whose ID (`identity`, already masked) was checked. The resident
    is told who took it and when."""
    found = await may_hand(ctx, parcel_id)
    if isinstance(found, list):
        return found
    parcel, desk_name = found
    proxy = bool(collector.strip())
    parcel.status = ParcelStatus.collected
    parcel.collected_at = ctx.now
    parcel.collected_by = (collector.strip() or parcel.recipient)[:100]
    parcel.identity = identity[:200] if proxy else ""
    parcel.handed_by = desk_name[:100]
    ctx.session.add(parcel)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="parcel_collect",
        target=f"parcel:{parcel.id}",
        detail={"code": parcel.code, "by": parcel.collected_by, "identity": parcel.identity},
        now=ctx.now,
    )
    unit = await ctx.session.get(Unit, parcel.unit_id) if parcel.unit_id else None
    shown = parcels.details(parcel, unit.label if unit else "", ctx.now)
    params = {**shown, "by": parcel.collected_by, "at": ctx.now}
    key = "parcels.collected.proxy" if proxy else "parcels.collected.self"
    told = [
        Reply(key, params, to=chat, dedupe_key=f"parcel:{parcel.id}:collected:{i}")
        for i, chat in enumerate(await parcels.told_of(ctx, parcel))
    ]
    return [
        *told,
        Reply(
            "parcels.handed.proxy" if proxy else "parcels.handed",
            {**params, "identity": parcel.identity},
        ),
        *await _task_open(ctx, parcel),
    ]


async def _task_open(ctx: Context, parcel: Parcel) -> list[Reply]:
    """The desk's follow-up for the parcel, once it is gone: withdrawn if nobody has
    started on it (there is nothing left to chase), else the one working it finishes it."""
    ticket = await ctx.session.get(Ticket, parcel.ticket_id) if parcel.ticket_id else None
    if ticket is None or ticket.status not in OPEN:
        return []
    if ticket.status in (TicketStatus.new, TicketStatus.accepted):
        await tickets.record_change(
            ctx.session,
            ticket,
            actor=ctx.actor,
            action="cancel",
            now=ctx.now,
            to_status=next_status(ticket.status, "cancel"),
            note=ctx.catalogs.text(ctx.catalogs.default_locale, "parcels.task.withdrawn.note"),
        )
        return [
            Reply("parcels.task.withdrawn", {"number": ticket.number}),
            *await refreshed_cards(ctx, ticket),
        ]
    return [Reply("parcels.task.still_open", {"number": ticket.number})]


async def hand(ctx: Context, action: Hand) -> list[Reply]:
    return await collect(ctx, action.parcel)


async def send_back(ctx: Context, action: SendBack) -> list[Reply]:
    """Return the parcel to the courier; the resident is told."""
    found = await may_hand(ctx, action.parcel)
    if isinstance(found, list):
        return found
    parcel, desk_name = found
    parcel.status = ParcelStatus.returned
    parcel.collected_at = ctx.now
    parcel.handed_by = desk_name[:100]
    ctx.session.add(parcel)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="parcel_return",
        target=f"parcel:{parcel.id}",
        detail={"code": parcel.code, "waybill": parcel.waybill},
        now=ctx.now,
    )
    unit = await ctx.session.get(Unit, parcel.unit_id) if parcel.unit_id else None
    params = {**parcels.details(parcel, unit.label if unit else "", ctx.now), "at": ctx.now}
    told = [
        Reply("parcels.returned.notice", params, to=chat, dedupe_key=f"parcel:{parcel.id}:ret:{i}")
        for i, chat in enumerate(await parcels.told_of(ctx, parcel))
    ]
    return [*told, Reply("parcels.returned", params), *await _task_open(ctx, parcel)]
