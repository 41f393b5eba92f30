"""What the desk's rentals page shows (`/desk/rentals`): for each community whose lettings
the signed-in staff member runs, the register with each item's status, the contracts in
force with their next rent due (overdue marked), and the venue bookings of the coming two
weeks by day. Reading only; the page's forms call the chat's own use-cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlmodel import col, select

from handlers import rentals, rentals_contracts, rentals_venues
from handlers.core.context import Context
from storage.models import Community, Rentable, RentalContract, RentDue, VenueBooking

BOOKING_DAYS = 14


@dataclass
class ContractLine:
    contract: RentalContract
    item: Rentable
    due: RentDue | None
    overdue: list[RentDue]


@dataclass
class BookingLine:
    booking: VenueBooking
    venue: Rentable
    starts: str
    ends: str


@dataclass
class CommunityRentals:
    community: Community
    items: list[Rentable]
    contracts: list[ContractLine]
    bookings: list[tuple[date, list[BookingLine]]] = field(default_factory=list)


async def communities_run(ctx: Context) -> list[Community]:
    scopes = rentals.desk_scopes(ctx)
    query = select(Community).order_by(col(Community.id))
    if None not in scopes:
        query = query.where(col(Community.id).in_([s for s in scopes if s is not None]))
    elif not scopes:
        return []
    return list((await ctx.session.exec(query)).all())


async def _contracts(ctx: Context, community_id: int, today: date) -> list[ContractLine]:
    rows = await ctx.session.exec(
        select(RentalContract, Rentable)
        .join(Rentable, col(Rentable.id) == col(RentalContract.rentable_id))
        .where(RentalContract.community_id == community_id, RentalContract.status == "active")
        .order_by(col(RentalContract.starts), col(RentalContract.id))
    )
    lines: list[ContractLine] = []
    for contract, item in rows.all():
        dues = await rentals_contracts.dues_of(ctx, contract.id or 0)
        owed = [d for d in dues if d.paid_at is None and d.step != rentals_contracts.VOID]
        overdue = [d for d in owed if d.due <= today]
        lines.append(ContractLine(contract, item, owed[0] if owed else None, overdue))
    return lines


async def _bookings(
    ctx: Context, community_id: int, today: date
) -> list[tuple[date, list[BookingLine]]]:
    tz = ctx.settings.tz
    starts = datetime.combine(today, time(0, 0), tzinfo=tz)
    found = await rentals_venues.bookings_between(
        ctx, community_id, starts, starts + timedelta(days=BOOKING_DAYS)
    )
    days: dict[date, list[BookingLine]] = {}
    for booking, venue in found:
        if booking.status == "refused":
            continue
        day = booking.starts_at.astimezone(tz).date()
        days.setdefault(day, []).append(
            BookingLine(
                booking,
                venue,
                rentals_venues.clock_of(ctx, booking.starts_at),
                rentals_venues.clock_of(ctx, booking.ends_at),
            )
        )
    return sorted(days.items())


async def desk_page(ctx: Context) -> list[CommunityRentals]:
    today = rentals_contracts.today(ctx)
    shown: list[CommunityRentals] = []
    for community in await communities_run(ctx):
        if community.id is None:
            continue
        shown.append(
            CommunityRentals(
                community,
                await rentals.items_of(ctx, community.id),
                await _contracts(ctx, community.id, today),
                await _bookings(ctx, community.id, today),
            )
        )
    return shown


async def due_of(ctx: Context, due_id: int) -> RentDue | None:
    return await ctx.session.get(RentDue, due_id)
