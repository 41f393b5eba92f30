"""Rentals (招租): `/rentals` (what there is to let; `/rentals add …` for the desk), the
enquiry flow `/rent` (招租咨询 in the menu, open to outsiders who leave a name and phone),
the desk's `/contract`, `/rentpaid` and `/rentend`, a resident's `/venue` booking flow with
the desk's confirm and refuse buttons and `/venuepaid`; the sweep behind the rent
reminders and overdue steps, and the job behind the venue's day-before reminder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text
from handlers import rentals, rentals_contracts, rentals_enquiries, rentals_venues
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import STAFF_ROLES
from handlers.directory import bound_units, community_of

# ---- the enquiry: `/rent` --------------------------------------------------------------


async def _enquiry_start(ctx: Context, initial: str | None) -> dict[str, Any]:
    """The enquiry; words typed at the menu (`想租个储藏室放杂物`) are what is wanted."""
    units = await bound_units(ctx.session, ctx.person.id if ctx.person else None)
    started: dict[str, Any] = {"_outsider": not units}
    text = (initial or "").strip()
    if 2 <= len(text) <= 200:
        started["wanted"] = {"kind": rentals.kind_mentioned(ctx, text), "text": text}
    return started


async def route(ctx: Context, text: str) -> tuple[str, str] | None:
    """Free text at the menu that asks to rent something starts the enquiry."""
    low = text.lower()
    if any(word in low for word in ctx.catalogs.words("rentals.words.ask")):
        return ENQUIRY.name, text
    return None


async def wanted_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    items = await rentals_enquiries.item_choices(ctx)
    listed = [
        Choice(f"item:{i.id}", "rentals.enquiry.item", rentals.item_params(i)) for i in items[:8]
    ]
    kinds = [Choice(f"kind:{k}", f"rentals.kind.{k}") for k in rentals.rules.KINDS]
    return [*listed, *kinds]


async def wanted(answer: Answer, ctx: Context, answers: Answers) -> dict[str, Any]:
    if answer.option and answer.option.startswith("item:"):
        items = await rentals_enquiries.item_choices(ctx)
        found = next((i for i in items if str(i.id) == answer.option[5:]), None)
        if found is None:
            raise InputError("rentals.enquiry.gone")
        return {"item": found.id, "name": found.name, "kind": found.kind}
    if answer.option and answer.option.startswith("kind:"):
        return {"kind": answer.option[5:]}
    text = bounded_text(answer, 200, minimum=2)
    return {"kind": rentals.kind_in(ctx, text), "text": text}


def _outsider(answers: Answers) -> bool:
    return bool(answers.get("_outsider"))


ENQUIRY = Flow(
    name="rent",
    title="rentals.enquiry.title",
    steps=(
        Step("wanted", "rentals.enquiry.wanted", parse=wanted, choices=wanted_choices),
        Step("duration", "rentals.enquiry.duration", parse=parsers.short_text),
        Step("name", "rentals.enquiry.name", parse=parsers.name, when=_outsider),
        Step(
            "phone",
            "rentals.enquiry.phone",
            parse=parsers.phone,
            when=_outsider,
            request_contact=True,
        ),
    ),
    summary="rentals.enquiry.summary",
    summarize=rentals_enquiries.summarize,
    finish=rentals_enquiries.submit,
    start=_enquiry_start,
)

# ---- a venue booked: `/venue` ----------------------------------------------------------


async def _venue_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    units = await bound_units(ctx.session, ctx.person.id if ctx.person else None)
    if not units:
        return [Reply("rentals.venue.residents_only")]
    community = await community_of(ctx)
    found = await rentals_venues.venues(ctx, community.id or 0) if community else []
    if not found:
        return [Reply("rentals.venue.none")]
    return {}


async def venue_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    community = await community_of(ctx)
    found = await rentals_venues.venues(ctx, community.id or 0) if community else []
    return [
        Choice(
            f"venue:{v.id}", "rentals.venue.option", {"name": v.name, "rent": rentals.rent_text(v)}
        )
        for v in found
    ]


async def venue(answer: Answer, ctx: Context, answers: Answers) -> dict[str, Any]:
    community = await community_of(ctx)
    found = await rentals_venues.venues(ctx, community.id or 0) if community else []
    if answer.option and answer.option.startswith("venue:"):
        chosen = next((v for v in found if str(v.id) == answer.option[6:]), None)
    else:
        typed = bounded_text(answer, 100)
        chosen = next((v for v in found if typed in v.name or v.name in typed), None)
    if chosen is None:
        raise InputError("rentals.venue.unknown")
    return {"id": chosen.id, "name": chosen.name}


async def when(answer: Answer, ctx: Context, answers: Answers) -> dict[str, str]:
    typed = bounded_text(answer, 60)
    community = await community_of(ctx)
    found = await rentals_venues.venues(ctx, community.id or 0) if community else []
    chosen = next((v for v in found if v.id == answers["venue"]["id"]), None)
    if chosen is None:
        raise InputError("rentals.venue.unknown")
    try:
        starts, ends = await rentals_venues.read_time(ctx, chosen, typed)
    except rentals_venues.BookingError as error:
        raise InputError(error.key, **error.params) from None
    return {"starts": starts.isoformat(), "ends": ends.isoformat()}


async def _venue_params(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {"venue": answers["venue"]["name"]}


async def _venue_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    starts, ends = rentals_venues.span_of(answers["when"])
    community = await community_of(ctx)
    found = await rentals_venues.venues(ctx, community.id or 0) if community else []
    chosen = next(v for v in found if v.id == answers["venue"]["id"])
    return {
        "venue": chosen.name,
        "day": starts.astimezone(ctx.settings.tz).date(),
        "from": rentals_venues.clock_of(ctx, starts),
        "to": rentals_venues.clock_of(ctx, ends),
        "fee": rentals_venues.fee_text(chosen, starts, ends),
        "purpose": answers.get("purpose") or Text("rentals.none"),
    }


async def _venue_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    starts, ends = rentals_venues.span_of(answers["when"])
    community = await community_of(ctx)
    found = await rentals_venues.venues(ctx, community.id or 0) if community else []
    chosen = next((v for v in found if v.id == answers["venue"]["id"]), None)
    if chosen is None:
        return [Reply("rentals.venue.unknown")]
    try:
        starts, ends = await rentals_venues.check_time(ctx, chosen, starts, ends)
    except rentals_venues.BookingError as error:
        return [Reply(error.key, error.params)]
    return await rentals_venues.book(ctx, chosen, starts, ends, answers.get("purpose") or "")


VENUE = Flow(
    name="venue",
    title="rentals.venue.title",
    steps=(
        Step("venue", "rentals.venue.which", parse=venue, choices=venue_choices),
        Step("when", "rentals.venue.when", parse=when, prompt_params=_venue_params),
        Step("purpose", "rentals.venue.purpose", parse=parsers.short_text, optional=True),
    ),
    summary="rentals.venue.summary",
    summarize=_venue_summary,
    finish=_venue_finish,
    start=_venue_start,
)

FEATURE = Feature(
    name="rentals",
    flows=[ENQUIRY, VENUE],
    commands=[
        Command("rentals", rentals.rentals_command),
        Command("contract", rentals_contracts.contract_command, roles=STAFF_ROLES),
        Command("rentpaid", rentals_contracts.rentpaid_command, roles=STAFF_ROLES),
        Command("rentend", rentals_contracts.rentend_command, roles=STAFF_ROLES),
        Command("venuepaid", rentals_venues.venuepaid_command, roles=STAFF_ROLES),
    ],
    actions={
        rentals_venues.Confirm: rentals_venues.confirm,
        rentals_venues.Refuse: rentals_venues.refuse,
    },
    jobs={rentals_venues.REMIND_JOB: rentals_venues.remind_job},
    sweeps=[rentals_contracts.rent_sweep],
    router=route,
    for_staff=[StaffEntry(STAFF_ROLES, "rentals.help.desk")],
)
