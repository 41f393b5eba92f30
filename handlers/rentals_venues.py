"""Venue bookings (场地预订): a resident books a venue (the clubhouse hall, the basketball
court) for a time typed as people say it (`12月5日 14:00-16:00`, `明天下午2点到4点`); the
fee is the hours times the venue's hourly rent (the venue management fee, 场地管理费); a
time that clashes with a confirmed booking is refused with the day's free times; the desk
confirms or refuses with the card's buttons; the fee is taken with a receipt (`/venuepaid`)
into the ledger; the resident is reminded the day before (a job, done once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar

from sqlmodel import col, select

from handlers import ledger_entries, rentals
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Money, Reply, Text
from handlers.directory import bound_units, person_chats
from handlers.rules import ledger
from handlers.rules import rentals as rules
from handlers.rules.dates import read_day
from storage import audit, jobs
from storage.models import Job, Rentable, VenueBooking

REMIND_JOB = "venue_remind"
OPENS = time(8, 0)
CLOSES = time(22, 0)
REMIND_AT = time(10, 0)  # the day before, at ten in the morning


@dataclass(frozen=True)
class Confirm(Action):
    name: ClassVar[str] = "venue_ok"
    booking: int


@dataclass(frozen=True)
class Refuse(Action):
    name: ClassVar[str] = "venue_no"
    booking: int


class BookingError(ValueError):
    """A time that cannot be booked: `key` and its params say why."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


async def venues(ctx: Context, community_id: int) -> list[Rentable]:
    return [
        v
        for v in await rentals.items_of(ctx, community_id, kind=rules.VENUE)
        if v.status != "closed"
    ]


async def confirmed_on(
    ctx: Context, venue_id: int, day_start: datetime, day_end: datetime, *, but: int | None = None
) -> list[tuple[datetime, datetime]]:
    rows = await ctx.session.exec(
        select(VenueBooking).where(
            VenueBooking.rentable_id == venue_id,
            VenueBooking.status == "confirmed",
            col(VenueBooking.starts_at) < day_end,
            col(VenueBooking.ends_at) > day_start,
        )
    )
    return [(b.starts_at, b.ends_at) for b in rows.all() if b.id != but]


def clock_of(ctx: Context, moment: datetime) -> str:
    return moment.astimezone(ctx.settings.tz).strftime("%H:%M")


def free_text(ctx: Context, gaps: list[tuple[datetime, datetime]]) -> str:
    return "、".join(f"{clock_of(ctx, s)}-{clock_of(ctx, e)}" for s, e in gaps) or "—"


def day_bounds(ctx: Context, day: date) -> tuple[datetime, datetime]:
    tz = ctx.settings.tz
    return datetime.combine(day, OPENS, tzinfo=tz), datetime.combine(day, CLOSES, tzinfo=tz)


async def read_time(ctx: Context, venue: Rentable, typed: str) -> tuple[datetime, datetime]:
    """The booked span from what was typed, refused when unclear, past, outside the
    opening hours or clashing with a confirmed booking (with the day's free times)."""
    span = rules.read_span(typed)
    if span is None:
        raise BookingError("rentals.venue.error.time", word=typed)
    (h1, m1), (h2, m2), day_words = span
    local_now = ctx.now.astimezone(ctx.settings.tz)
    day = read_day(day_words, local_now.date()) if day_words else local_now.date()
    if day is None:
        raise BookingError("rentals.venue.error.time", word=typed)
    tz = ctx.settings.tz
    starts = datetime.combine(day, time(h1, m1), tzinfo=tz)
    ends = datetime.combine(day, time(0, 0), tzinfo=tz) + timedelta(hours=h2, minutes=m2)
    return await check_time(ctx, venue, starts, ends)


async def check_time(
    ctx: Context, venue: Rentable, starts: datetime, ends: datetime
) -> tuple[datetime, datetime]:
    """A span refused when past, outside the opening hours, not by the half hour, too
    long, or clashing with a confirmed booking (said with the day's free times)."""
    day = starts.astimezone(ctx.settings.tz).date()
    opens, closes = day_bounds(ctx, day)
    if starts < ctx.now:
        raise BookingError("rentals.venue.error.past")
    if starts < opens or ends > closes:
        raise BookingError(
            "rentals.venue.error.hours",
            opens=OPENS.strftime("%H:%M"),
            closes=CLOSES.strftime("%H:%M"),
        )
    try:
        rules.hours_of(starts, ends)
    except rules.RentalRuleError as error:
        raise BookingError(f"rentals.venue.error.{error.reason}") from None
    taken = await confirmed_on(ctx, venue.id or 0, opens, closes)
    if rules.clashes(starts, ends, taken):
        raise BookingError(
            "rentals.venue.error.clash",
            venue=venue.name,
            day=day,
            free=free_text(ctx, rules.free_times(opens, closes, taken)),
        )
    return starts, ends


def span_of(answer: dict[str, str]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(answer["starts"]), datetime.fromisoformat(answer["ends"])


def fee_text(venue: Rentable, starts: datetime, ends: datetime) -> Money:
    return Money(rules.venue_fee(starts, ends, venue.rent))


def booking_params(ctx: Context, booking: VenueBooking, venue: Rentable) -> dict[str, Any]:
    return {
        "booking": booking.id,
        "venue": venue.name,
        "day": booking.starts_at.astimezone(ctx.settings.tz).date(),
        "from": clock_of(ctx, booking.starts_at),
        "to": clock_of(ctx, booking.ends_at),
        "hours": rules.hours_of(booking.starts_at, booking.ends_at).normalize(),
        "fee": Money(booking.fee),
        "rate": Money(venue.rent),
        "name": booking.name,
        "phone": booking.phone or "—",
        "purpose": booking.purpose or "—",
        "status": Text(f"rentals.booking.{booking.status}"),
        "receipt": booking.receipt or "—",
    }


async def booking_card(ctx: Context, booking: VenueBooking, venue: Rentable) -> list[Reply]:
    choices = (
        (
            Confirm(booking.id or 0).choice("rentals.venue.confirm"),
            Refuse(booking.id or 0).choice("rentals.venue.refuse"),
        )
        if booking.status == "requested"
        else ()
    )
    return [
        Reply(
            "rentals.venue.card",
            booking_params(ctx, booking, venue),
            to=chat,
            choices=choices,
            card=f"venue_booking:{booking.id}",
        )
        for chat in await rentals.desk_chats(ctx, booking.community_id)
    ]


async def book(
    ctx: Context, venue: Rentable, starts: datetime, ends: datetime, purpose: str
) -> list[Reply]:
    """The resident's request, with its fee; the desk's card to confirm or refuse."""
    person = ctx.person
    units = await bound_units(ctx.session, person.id if person else None)
    if person is None or not units:
        return [Reply("rentals.venue.residents_only")]
    fee = rules.venue_fee(starts, ends, venue.rent)
    booking = VenueBooking(
        community_id=venue.community_id,
        rentable_id=venue.id or 0,
        person_id=person.id,
        unit_id=units[0][0].id,
        name=person.name[:100],
        phone=(person.phone or "")[:30],
        purpose=purpose[:200],
        starts_at=starts,
        ends_at=ends,
        fee=fee,
        created_at=ctx.now,
    )
    ctx.session.add(booking)
    await ctx.session.flush()
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="venue_book",
        target=f"venue_booking:{booking.id}",
        detail={"venue": venue.id, "fee": str(fee)},
        now=ctx.now,
    )
    params = booking_params(ctx, booking, venue)
    return [Reply("rentals.venue.requested", params), *await booking_card(ctx, booking, venue)]


async def _booking(ctx: Context, booking_id: int) -> tuple[VenueBooking, Rentable] | Reply:
    booking = await ctx.session.get(VenueBooking, booking_id, with_for_update=True)
    if booking is None or rentals.desk_member(ctx, booking.community_id) is None:
        return Reply("rentals.not_desk")
    venue = await ctx.session.get(Rentable, booking.rentable_id)
    assert venue is not None
    return booking, venue


async def _tell(
    ctx: Context, booking: VenueBooking, key: str, params: dict[str, Any]
) -> list[Reply]:
    return [
        Reply(key, params, to=chat) for chat in await person_chats(ctx.session, booking.person_id)
    ]


async def confirm(ctx: Context, action: Confirm) -> list[Reply]:
    """The desk confirms: refused if another confirmed booking took the time meanwhile;
    the resident told the fee and how to pay; the day-before reminder booked."""
    found = await _booking(ctx, action.booking)
    if isinstance(found, Reply):
        return [found]
    booking, venue = found
    params = booking_params(ctx, booking, venue)
    if booking.status != "requested":
        return [Reply("rentals.venue.decided", params)]
    day = booking.starts_at.astimezone(ctx.settings.tz).date()
    opens, closes = day_bounds(ctx, day)
    taken = await confirmed_on(ctx, venue.id or 0, opens, closes, but=booking.id)
    if rules.clashes(booking.starts_at, booking.ends_at, taken):
        return [
            Reply(
                "rentals.venue.error.clash",
                {
                    "venue": venue.name,
                    "day": day,
                    "free": free_text(ctx, rules.free_times(opens, closes, taken)),
                },
            )
        ]
    booking.status = "confirmed"
    booking.decided_by = ctx.actor[:100]
    ctx.session.add(booking)
    remind_at = datetime.combine(day - timedelta(days=1), REMIND_AT, tzinfo=ctx.settings.tz)
    await jobs.schedule(
        ctx.session,
        kind=REMIND_JOB,
        due_at=max(remind_at, ctx.now),
        payload={"booking": booking.id},
        dedupe_key=f"venue:{booking.id}:remind",
    )
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="venue_confirm",
        target=f"venue_booking:{booking.id}",
        now=ctx.now,
    )
    params = booking_params(ctx, booking, venue)
    return [
        *await _tell(ctx, booking, "rentals.venue.confirmed", params),
        Reply("rentals.venue.confirmed.desk", params),
        *await booking_card(ctx, booking, venue),
    ]


async def refuse(ctx: Context, action: Refuse) -> list[Reply]:
    found = await _booking(ctx, action.booking)
    if isinstance(found, Reply):
        return [found]
    booking, venue = found
    if booking.status != "requested":
        return [Reply("rentals.venue.decided", booking_params(ctx, booking, venue))]
    booking.status = "refused"
    booking.decided_by = ctx.actor[:100]
    ctx.session.add(booking)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="venue_refuse",
        target=f"venue_booking:{booking.id}",
        now=ctx.now,
    )
    params = booking_params(ctx, booking, venue)
    return [
        *await _tell(ctx, booking, "rentals.venue.refused", params),
        Reply("rentals.venue.refused.desk", params),
        *await booking_card(ctx, booking, venue),
    ]


async def pay(ctx: Context, booking_id: int, receipt: str, method: str = "cash") -> list[Reply]:
    """The venue management fee taken with a receipt: one ledger entry (purpose venue)."""
    found = await _booking(ctx, booking_id)
    if isinstance(found, Reply):
        return [found]
    booking, venue = found
    if booking.status != "confirmed":
        return [Reply("rentals.venue.pay.unconfirmed", booking_params(ctx, booking, venue))]
    if booking.receipt:
        return [Reply("rentals.venue.pay.already", booking_params(ctx, booking, venue))]
    if method not in ledger.METHODS:
        return [Reply("rentals.paid.method", {"word": method})]
    entry = await ledger_entries.record(
        ctx,
        community_id=booking.community_id,
        receipt=receipt,
        purpose="venue",
        method=method,
        amount=booking.fee,
        payer=booking.name,
        unit_id=booking.unit_id,
        source=f"venue_booking:{booking.id}",
        note=venue.name,
    )
    if isinstance(entry, ledger_entries.Refused):
        return [Reply(entry.key, {"receipt": receipt}), Reply("rentals.paid.not_recorded")]
    booking.receipt = entry.receipt
    ctx.session.add(booking)
    params = booking_params(ctx, booking, venue)
    return [
        Reply("rentals.venue.paid", params),
        *await _tell(ctx, booking, "rentals.venue.paid.resident", params),
    ]


async def venuepaid_command(ctx: Context, argument: str) -> list[Reply]:
    """`/venuepaid <booking> <receipt> [method]`."""
    words = argument.split()
    if len(words) < 2 or not words[0].lstrip("#").isdigit():
        return [Reply("rentals.venue.pay.usage")]
    method = words[2].lower() if len(words) > 2 else "cash"
    return await pay(ctx, int(words[0].lstrip("#")), words[1], method)


async def remind_job(ctx: Context, job: Job) -> list[Reply]:
    """The day before: the resident reminded of a booking still confirmed."""
    booking = await ctx.session.get(VenueBooking, int(job.payload.get("booking") or 0))
    if booking is None or booking.status != "confirmed":
        return []
    venue = await ctx.session.get(Rentable, booking.rentable_id)
    assert venue is not None
    params = booking_params(ctx, booking, venue)
    return [
        Reply(
            "rentals.venue.reminder", params, to=chat, dedupe_key=f"venue:{booking.id}:remind:{i}"
        )
        for i, chat in enumerate(await person_chats(ctx.session, booking.person_id))
    ]


async def bookings_between(
    ctx: Context, community_id: int, starts: datetime, ends: datetime
) -> list[tuple[VenueBooking, Rentable]]:
    rows = await ctx.session.exec(
        select(VenueBooking, Rentable)
        .join(Rentable, col(Rentable.id) == col(VenueBooking.rentable_id))
        .where(
            VenueBooking.community_id == community_id,
            col(VenueBooking.starts_at) >= starts,
            col(VenueBooking.starts_at) < ends,
        )
        .order_by(col(VenueBooking.starts_at))
    )
    return [(b, v) for b, v in rows.all()]
