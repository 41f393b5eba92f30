"""Emergencies (突发事件) on the desk's pages: the open ones first with their age and last
step, a raise form; one incident's page with its timeline, the card's buttons (taken, on
site, under control), a progress note, the residents told in one step and the close with
its short report; the A4 sheet to print.

The card's buttons are pressed on the page as chat's own (`bot.web.acting.handled`), so
chat's handler runs with chat's checks; the forms call chat's own use-cases
(`handlers.incidents`) as the signed-in desk in one transaction. What they say to others
(the duty supervisor, the director, the groups, the residents) leaves through the one way
out, `dialogs.sending.send`, and the outbox.
"""

from __future__ import annotations

import uuid

import aiohttp_jinja2
from aiohttp import web

from bot.web import acting, desk
from bot.web.acting import handled, staff_context
from handlers import incidents, incidents_pages
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Reply
from handlers.rules import incidents as rules

SAID = "incidents_said"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/incidents", listing),
        web.post("/incidents/raise", raise_it),
        web.get(r"/incidents/{id:\d+}", page),
        web.get(r"/incidents/{id:\d+}/print", print_sheet),
        web.post(r"/incidents/{id:\d+}/press", press),
        web.post(r"/incidents/{id:\d+}/progress", progress),
        web.post(r"/incidents/{id:\d+}/residents", residents),
        web.post(r"/incidents/{id:\d+}/close", close),
    ]


def _said(request: web.Request) -> list[str]:
    return acting.said(request, SAID)


async def _done(request: web.Request, ctx: Context, replies: list[Reply]) -> None:
    await acting.answered(request, ctx, replies, SAID)


async def _listing(
    request: web.Request, form: dict[str, str], problems: dict[str, str], status: int = 200
) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        groups = await incidents_pages.listing(staff_context(request, session))
    context = desk.context(
        request,
        groups=groups,
        form=form,
        problems=problems,
        said=_said(request),
        kinds=rules.KINDS,
    )
    return aiohttp_jinja2.render_template("incidents_list.html", request, context, status=status)


async def listing(request: web.Request) -> web.StreamResponse:
    return await _listing(request, {}, {})


async def raise_it(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    posted = await request.post()
    form = {name: str(posted.get(name) or "")[:2000] for name in incidents_pages.FIELDS}
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        problems, replies = await incidents_pages.raise_from_form(ctx, form)
        if not problems:
            await _done(request, ctx, replies)
    if problems:
        return await _listing(request, form, problems, status=400)
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/incidents")


async def page(request: web.Request) -> web.StreamResponse:
    return await _page(request, "incidents_page.html")


async def print_sheet(request: web.Request) -> web.StreamResponse:
    """The incident on an A4 sheet: its timeline and report, with room for signatures."""
    return await _page(request, "incidents_print.html")


async def _page(request: web.Request, template: str) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        shown = await incidents_pages.page(
            staff_context(request, session), int(request.match_info["id"])
        )
        if shown is None:
            return desk.not_yours(request)
        context = desk.context(
            request,
            shown=shown,
            said=_said(request),
            once=uuid.uuid4().hex,
            parts=rules.REPORT_PARTS,
            whole=incidents.WHOLE,
        )
        return aiohttp_jinja2.render_template(template, request, context)


def _here(request: web.Request) -> str:
    return f"{desk.prefix_of(request)}/incidents/{request.match_info['id']}"


async def press(request: web.Request) -> web.StreamResponse:
    """Taken, on site, under control: the card's button pressed on the page."""
    form = await request.post()
    value = str(form.get("value") or "")
    ref = int(request.match_info["id"])
    allowed = (
        incidents.Take(ref).value(),
        incidents.Arrive(ref).value(),
        incidents.Controlled(ref).value(),
    )
    if value not in allowed:
        raise web.HTTPBadRequest()
    once = str(form.get("once") or uuid.uuid4().hex)[:40]
    answers = await handled(request, once, option=value)
    desk.desk_of(request).session[SAID] = [
        row.payload.get("text", "") for row in answers if row.payload.get("key") != "incident.card"
    ]
    raise web.HTTPSeeOther(_here(request))


async def progress(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    posted = await request.post()
    note = str(posted.get("note") or "").strip()[:1000]
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        if len(note) < 2:
            replies = [Reply("incident.web.note_needed")]
        else:
            replies = await incidents.add_progress(ctx, int(request.match_info["id"]), note)
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_here(request))


async def residents(request: web.Request) -> web.StreamResponse:
    """The residents of the building (or the whole community) told in one step."""
    app = desk.app_of(request)
    posted = await request.post()
    text = str(posted.get("text") or "").strip()[:500]
    scope = str(posted.get("scope") or "")
    urgent = str(posted.get("urgent") or "") == "yes"
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        building_id = None if scope == incidents.WHOLE else row_id(scope)
        if len(text) < 2:
            replies = [Reply("incident.web.text_needed")]
        elif building_id is None and scope != incidents.WHOLE:
            replies = [Reply("dialog.stale")]
        else:
            replies = await incidents.notify_residents(
                ctx, int(request.match_info["id"]), building_id, text, urgent
            )
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_here(request))


async def close(request: web.Request) -> web.StreamResponse:
    """Closed with its short report; a part missing is asked for, politely."""
    app = desk.app_of(request)
    posted = await request.post()
    parts = {name: str(posted.get(name) or "")[:900] for name in rules.REPORT_PARTS}
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        replies = await incidents.close(ctx, int(request.match_info["id"]), parts)
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_here(request))
