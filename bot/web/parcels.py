"""Parcels at the desk (快递代收) on the desk's pages: a fast registration form (the courier
guessed from the waybill when left empty), the parcels waiting by unit with their age
(the oldest first, overdue ones marked), a search by code, unit or waybill, and on each
waiting parcel: hand over (the recipient showed the code), collected by someone else
(their name and the ID checked, kept masked), return to the courier.

Registering and collecting for someone call chat's own use-cases (`handlers.parcels`,
`handlers.parcel_pickup`) as the signed-in desk in one transaction, with chat's checks;
the hand-over and return buttons are chat's buttons handed to the engine as the desk's
message from the `web` channel (`acting.handled`). The resident is told as from chat.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web import acting, desk
from bot.web.acting import handled, staff_context
from handlers import parcel_pages, parcel_pickup, parcels
from handlers.core.context import Context
from handlers.core.messages import Reply
from handlers.rules import parcels as rules

SAID = "parcels_said"
FIELDS = ("unit", "recipient", "waybill", "courier", "phone", "note")
LIMITS = {"unit": 50, "recipient": 100, "waybill": 60, "courier": 30, "phone": 30, "note": 500}


def routes() -> list[web.RouteDef]:
    return [
        web.get("/parcels", page),
        web.post("/parcels/register", register),
        web.post("/parcels/press", press),
        web.post("/parcels/proxy", proxy),
    ]


def _here(request: web.Request) -> str:
    return f"{desk.prefix_of(request)}/parcels"


async def _done(request: web.Request, ctx: Context, replies: list[Reply]) -> None:
    await acting.answered(request, ctx, replies, SAID)


def _said(request: web.Request) -> list[str]:
    return acting.said(request, SAID)


async def _render(
    request: web.Request,
    form: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    app = desk.app_of(request)
    typed = " ".join(request.query.get("q", "").split())[:60]
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        allowed = bool(parcels.desk_scopes(ctx))
        groups = await parcel_pages.waiting(ctx)
        found = await parcel_pages.search(ctx, typed) if typed else []
    context = desk.context(
        request,
        allowed=allowed,
        groups=groups,
        waiting=sum(len(g.rows) for g in groups),
        q=typed,
        found=found,
        form=form or {},
        problems=problems or {},
        said=_said(request),
        once=uuid.uuid4().hex,
        couriers=rules.COURIER_KEYS,
        hand=lambda parcel_id: parcel_pickup.Hand(parcel_id).value(),
        send_back=lambda parcel_id: parcel_pickup.SendBack(parcel_id).value(),
    )
    return aiohttp_jinja2.render_template("parcels_page.html", request, context, status=status)


async def page(request: web.Request) -> web.StreamResponse:
    return await _render(request)


async def register(request: web.Request) -> web.StreamResponse:
    """The form, registered as chat's `/parcel` registers: the resident told at once."""
    app = desk.app_of(request)
    posted = await request.post()
    form = {name: str(posted.get(name) or "").strip()[: LIMITS[name]] for name in FIELDS}
    form["valuable"] = "on" if posted.get("valuable") else ""
    form["damaged"] = "on" if posted.get("damaged") else ""
    problems: dict[str, str] = {}
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        unit = await parcel_pages.unit_for_form(ctx, form["unit"]) if form["unit"] else []
        if isinstance(unit, list):
            refused = parcels.unit_not_found(form["unit"], unit)
            problems["unit"] = (
                app.catalogs.text(ctx.locale, refused.key, refused.params)
                if form["unit"]
                else app.catalogs.text(ctx.locale, "parcels.web.error.unit")
            )
        waybill = rules.read_waybill(form["waybill"]) if form["waybill"] else ""
        if waybill is None:
            problems["waybill"] = app.catalogs.text(
                ctx.locale, "parcels.error.waybill", {"waybill": form["waybill"]}
            )
        if not problems and not isinstance(unit, list) and unit.id is not None:
            _, replies = await parcels.register(
                ctx,
                parcels.Registration(
                    unit_id=unit.id,
                    recipient=form["recipient"],
                    waybill=waybill or "",
                    courier=parcels.courier_of(ctx, form["courier"]),
                    phone=form["phone"],
                    note=form["note"],
                    valuable=bool(form["valuable"]),
                    damaged=bool(form["damaged"]),
                ),
            )
            await _done(request, ctx, replies)
    if problems:
        return await _render(request, form, problems, status=400)
    raise web.HTTPSeeOther(_here(request))


def _parcel_id(posted: Any) -> int:
    try:
        return int(str(posted.get("parcel") or "0"))
    except ValueError:
        return 0


async def press(request: web.Request) -> web.StreamResponse:
    """Hand over, or return to the courier: chat's button, handled by the engine."""
    posted = await request.post()
    value = str(posted.get("value") or "")
    parcel_id = _parcel_id(posted)
    allowed = (parcel_pickup.Hand(parcel_id).value(), parcel_pickup.SendBack(parcel_id).value())
    if not parcel_id or value not in allowed:
        raise web.HTTPBadRequest()
    once = str(posted.get("once") or uuid.uuid4().hex)[:40]
    answers = await handled(request, once, option=value)
    desk.desk_of(request).session[SAID] = [row.payload.get("text", "") for row in answers]
    raise web.HTTPSeeOther(_here(request))


async def proxy(request: web.Request) -> web.StreamResponse:
    """Collected by someone else: their name and the ID checked, kept masked."""
    app = desk.app_of(request)
    posted = await request.post()
    collector = " ".join(str(posted.get("collector") or "").split())[:100]
    identity = rules.read_identity(str(posted.get("identity") or "")[:60])
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        if not collector:
            replies = [Reply("parcels.web.error.collector")]
        elif identity is None:
            replies = [Reply("parcels.error.identity")]
        else:
            replies = await parcel_pickup.collect(
                ctx, _parcel_id(posted), collector=collector, identity=identity.masked
            )
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_here(request))
