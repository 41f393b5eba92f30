"""Custody of empty flats on the desk's pages: the flats in custody of the communities the
desk runs, with a heavy-rain round's buttons; a custody opened from a form; one custody's
page with its keys, readings and patrols, the month's readings entered and custody ended.

Each action calls chat's own use-case (`handlers.custody`) as the signed-in desk, in one
transaction, with chat's own checks (the community's desk or a manager); what it says to
the desk is shown on the page, what it says to others (the owner, the security group)
leaves through the one way out, `dialogs.sending.send`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web import acting, desk
from bot.web.acting import staff_context
from handlers import custody, custody_pages, custody_patrols
from handlers.core.context import Context
from handlers.core.messages import Reply

SAID = "custody_said"
FIELDS = ("unit", "starts", "ends", "keys", "water", "power", "gas")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/custody", listing),
        web.post("/custody/open", open_it),
        web.post("/custody/rain", rain),
        web.post("/custody/rain_over", rain_over),
        web.get(r"/custody/{id:\d+}", page),
        web.post(r"/custody/{id:\d+}/reading", reading),
        web.post(r"/custody/{id:\d+}/end", end),
        web.post(r"/custody/{id:\d+}/ends", ends),
    ]


async def _done(request: web.Request, ctx: Context, replies: list[Reply]) -> None:
    await acting.answered(request, ctx, replies, SAID)


def _said(request: web.Request) -> list[str]:
    return acting.said(request, SAID)


async def _listing(
    request: web.Request, form: dict[str, str], problems: dict[str, str], status: int = 200
) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        communities = await custody_pages.desk_page(staff_context(request, session))
    context = desk.context(
        request,
        communities=communities,
        form=form,
        problems=problems,
        said=_said(request),
        meters=("water", "power", "gas"),
    )
    return aiohttp_jinja2.render_template("custody_list.html", request, context, status=status)


async def listing(request: web.Request) -> web.StreamResponse:
    return await _listing(request, {}, {})


async def open_it(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    posted = await request.post()
    form = {name: str(posted.get(name) or "")[:300] for name in FIELDS}
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        problems, replies = await custody_pages.open_from_form(ctx, form)
        if not problems:
            await _done(request, ctx, replies)
    if problems:
        refused = [app.catalogs.text(ctx.locale, r.key, r.params) for r in replies if r.to is None]
        desk.desk_of(request).session[SAID] = refused
        return await _listing(request, form, problems, status=400)
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/custody")


def _community(posted: Any) -> int:
    try:
        return int(str(posted.get("community") or "0"))
    except ValueError:
        return 0


async def rain(request: web.Request) -> web.StreamResponse:
    """A heavy-rain round for a community: before-patrols now, after-patrols at the time
    given (as `/rain 明天上午`) or when the desk says it is over."""
    app = desk.app_of(request)
    posted = await request.post()
    after_text = str(posted.get("after") or "").strip()[:40]
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        after = custody_patrols.read_after(ctx, after_text) if after_text else None
        if after_text and after is None:
            replies = [Reply("custody.rain.unclear", {"text": after_text})]
        else:
            replies = await custody_patrols.rain_round(ctx, _community(posted), after)
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/custody")


async def rain_over(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    posted = await request.post()
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        await _done(request, ctx, await custody_patrols.rain_over(ctx, _community(posted)))
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/custody")


async def page(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        shown = await custody_pages.custody_page(
            staff_context(request, session), int(request.match_info["id"])
        )
    if shown is None:
        return desk.not_yours(request)
    context = desk.context(
        request, shown=shown, said=_said(request), meters=("water", "power", "gas")
    )
    return aiohttp_jinja2.render_template("custody_page.html", request, context)


def _here(request: web.Request) -> str:
    return f"{desk.prefix_of(request)}/custody/{request.match_info['id']}"


async def reading(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    posted = await request.post()
    fields = {m: str(posted.get(m) or "")[:30] for m in ("water", "power", "gas")}
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        problems: dict[str, str] = {}
        meters = custody_pages.read_meters(fields, problems)
        if problems:
            replies = [Reply(key) for key in problems.values()][:1]
        else:
            replies = await custody.record_readings(ctx, int(request.match_info["id"]), meters)
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_here(request))


async def end(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    posted = await request.post()
    to = str(posted.get("to") or "").strip()[:50] or None
    fields = {m: str(posted.get(f"end_{m}") or "")[:30] for m in ("water", "power", "gas")}
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        problems: dict[str, str] = {}
        meters = custody_pages.read_meters(fields, problems)  # the final readings
        if problems:
            replies = [Reply(key) for key in problems.values()][:1]
        else:
            replies = await custody.end_custody(ctx, int(request.match_info["id"]), to, meters)
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_here(request))


async def ends(request: web.Request) -> web.StreamResponse:
    """A new agreed end (empty: until ended), as chat's "change the end date" records it."""
    app = desk.app_of(request)
    posted = await request.post()
    typed = str(posted.get("ends") or "").strip()[:10]
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        try:
            day = date.fromisoformat(typed) if typed else None
        except ValueError:
            replies = [Reply("custody.error.day")]
        else:
            replies = await custody.change_end(ctx, int(request.match_info["id"]), day)
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_here(request))
