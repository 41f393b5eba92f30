"""Rentals on the desk's pages (`/desk/rentals`): the register of what the office lets with
each item's status, the contracts in force with their next rent (overdue marked), the
venue bookings of the coming two weeks by day, and forms to add an item, record a contract
and record a rent paid with its receipt.

Each form calls chat's own use-case (`handlers.rentals`, `handlers.rentals_contracts`) as
the signed-in desk, in one transaction, with chat's own checks (the community's service
desk or a manager); what it says to the desk is shown on the page, what it says to others
(the tenant told of the contract or the payment) leaves through `dialogs.sending.send`.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web import acting, desk
from bot.web.acting import handled, staff_context
from handlers import rentals, rentals_contracts, rentals_desk, rentals_venues
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Reply
from handlers.rules import ledger
from handlers.rules import rentals as rules
from handlers.rules.dates import read_day
from handlers.rules.money import AmountError, read_amount
from handlers.rules.phone import normalise_phone

DECISIONS = {"confirm": rentals_venues.Confirm, "refuse": rentals_venues.Refuse}

SAID = "rentals_said"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/rentals", listing),
        web.post("/rentals/add", add),
        web.post("/rentals/contract", contract),
        web.post(r"/rentals/dues/{id:\d+}/paid", paid),
        web.post(r"/rentals/bookings/{id:\d+}/decide", decide),
        web.post(r"/rentals/bookings/{id:\d+}/paid", venue_paid),
    ]


async def _done(request: web.Request, ctx: Context, replies: list[Reply]) -> None:
    await acting.answered(request, ctx, replies, SAID)


def _back(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/rentals")


def _said(request: web.Request) -> list[str]:
    return acting.said(request, SAID)


def _field(posted: Any, name: str, limit: int = 100) -> str:
    return str(posted.get(name) or "").strip()[:limit]


async def listing(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        shown = await rentals_desk.desk_page(ctx)
        today = rentals_contracts.today(ctx)
    context = desk.context(
        request,
        communities=shown,
        kinds=rules.KINDS,
        methods=ledger.METHODS,
        today=today,
        said=_said(request),
    )
    return aiohttp_jinja2.render_template("rentals_list.html", request, context)


def _amount(typed: str, *, least: Decimal | None = None) -> Decimal | None:
    if not typed:
        return None
    try:
        return read_amount(typed, least=least)
    except AmountError:
        return None


async def add(request: web.Request) -> web.StreamResponse:
    """An item added from the register's form, as `/rentals add` adds it."""
    app = desk.app_of(request)
    posted = await request.post()
    community = row_id(_field(posted, "community", 10)) or 0
    rent = _amount(_field(posted, "rent", 20), least=Decimal("0.01"))
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        if rent is None:
            replies = [Reply("rentals.add.rent", {"word": _field(posted, "rent", 20)})]
        else:
            new = rentals.NewItem(
                kind=_field(posted, "kind", 16),
                name=_field(posted, "name"),
                rent=rent,
                deposit=_amount(_field(posted, "deposit", 20), least=Decimal(0)) or Decimal(0),
                place=_field(posted, "place", 200),
                size=_field(posted, "size", 40),
                terms=_field(posted, "terms", 1000),
            )
            replies = [(await rentals.add_item(ctx, community, new))[1]]
        await _done(request, ctx, replies)
    return _back(request)


async def _contract(ctx: Context, posted: Any) -> list[Reply]:
    community = row_id(_field(posted, "community", 10)) or 0
    today = rentals_contracts.today(ctx)
    starts = read_day(_field(posted, "starts", 30), today)
    ends = rentals_contracts.end_of(_field(posted, "ends", 30), starts, today) if starts else None
    if starts is None or ends is None:
        word = _field(posted, "starts" if starts is None else "ends", 30)
        return [Reply("rentals.contract.date", {"word": word})]
    new = rentals_contracts.NewContract(
        item=_field(posted, "item", 20),
        tenant=_field(posted, "tenant"),
        phone=normalise_phone(_field(posted, "phone", 30)) or "",
        starts=starts,
        ends=ends,
        rent=_amount(_field(posted, "contract_rent", 20), least=Decimal("0.01")),
        every_months=row_id(_field(posted, "every", 2)) or 1,
        deposit=_amount(_field(posted, "contract_deposit", 20), least=Decimal(0)),
    )
    if not new.tenant:
        return [Reply("rentals.contract.usage")]
    return await rentals_contracts.record_contract(ctx, community, new)


async def contract(request: web.Request) -> web.StreamResponse:
    """A contract recorded from the page's form, as `/contract` records it."""
    app = desk.app_of(request)
    posted = await request.post()
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        await _done(request, ctx, await _contract(ctx, posted))
    return _back(request)


async def paid(request: web.Request) -> web.StreamResponse:
    """A rent paid from the contracts' table, as `/rentpaid` records it."""
    app = desk.app_of(request)
    posted = await request.post()
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        due = await rentals_desk.due_of(ctx, int(request.match_info["id"]))
        if due is None:
            replies = [Reply("rentals.not_desk")]
        else:
            method = _field(posted, "method", 16) or "cash"
            receipt = _field(posted, "receipt", 50)
            replies = await rentals_contracts.pay_due(ctx, due, receipt, method)
        await _done(request, ctx, replies)
    return _back(request)


async def decide(request: web.Request) -> web.StreamResponse:
    """A booking confirmed or refused with the card's own buttons, through the engine as
    the desk's press (the resident told as from chat)."""
    posted = await request.post()
    action = DECISIONS.get(_field(posted, "decision", 10))
    if action is None:
        raise web.HTTPBadRequest()
    once = _field(posted, "once", 40) or uuid.uuid4().hex
    value = action(int(request.match_info["id"])).value()
    answers = await handled(request, once, option=value)
    desk.desk_of(request).session[SAID] = [row.payload.get("text", "") for row in answers]
    return _back(request)


async def venue_paid(request: web.Request) -> web.StreamResponse:
    """A venue's fee taken with its receipt, as `/venuepaid` records it."""
    app = desk.app_of(request)
    posted = await request.post()
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        method = _field(posted, "method", 16) or "cash"
        receipt = _field(posted, "receipt", 50)
        booking = int(request.match_info["id"])
        await _done(request, ctx, await rentals_venues.pay(ctx, booking, receipt, method))
    return _back(request)
