"""Inspection rounds and nonconformity slips on the desk's pages (`/desk/inspections`):
today's and the recent rounds with their results, the open slips by department with their
age and deadline, the slips waiting for their follow-up check, one round's page, and the
community's checklist, which its managers edit here.

The follow-up check's buttons are chat's own: 确认合格 is the button pressed, and 仍不合格
is its flow started and answered with the reason, each handed to the engine as the desk's
message (`bot.web.acting.handled`), so chat's handler runs with chat's checks and tells
the department the same way. Saving the checklist calls chat's own use-case as the
signed-in manager in one transaction.
"""

from __future__ import annotations

import uuid

import aiohttp_jinja2
from aiohttp import web

from bot.web import acting, desk
from bot.web.acting import handled, staff_context
from handlers import inspections, inspections_pages
from handlers.inspections_slips import REOPEN_FLOW, Confirm
from handlers.rules import inspections as rules

SAID = "inspections_said"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/inspections", listing),
        web.get(r"/inspections/{id:\d+}", page),
        web.post("/inspections/checklist", checklist),
        web.post(r"/inspections/slip/{id:\d+}/confirm", confirm),
        web.post(r"/inspections/slip/{id:\d+}/reopen", reopen),
    ]


def _said(request: web.Request) -> list[str]:
    return acting.said(request, SAID)


def _home(request: web.Request) -> str:
    return f"{desk.prefix_of(request)}/inspections"


async def listing(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        communities = await inspections_pages.desk_page(staff_context(request, session))
    context = desk.context(
        request,
        communities=communities,
        said=_said(request),
        once=uuid.uuid4().hex,
        areas=rules.AREAS,
    )
    return aiohttp_jinja2.render_template("inspections_list.html", request, context)


async def page(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        shown = await inspections_pages.round_page(
            staff_context(request, session), int(request.match_info["id"])
        )
    if shown is None:
        return desk.not_yours(request)
    context = desk.context(request, shown=shown, said=_said(request))
    return aiohttp_jinja2.render_template("inspections_round.html", request, context)


async def checklist(request: web.Request) -> web.StreamResponse:
    """A manager keeps the community's checklist as typed in the editor."""
    app = desk.app_of(request)
    posted = await request.post()
    text = str(posted.get("items") or "")[:20_000]
    try:
        community_id = int(str(posted.get("community") or "0")[:12])
    except ValueError:
        community_id = 0
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        replies = await inspections.save_checklist(ctx, community_id, text)
    desk.desk_of(request).session[SAID] = [
        app.catalogs.text(ctx.locale, r.key, r.params) for r in replies
    ]
    raise web.HTTPSeeOther(_home(request))


async def confirm(request: web.Request) -> web.StreamResponse:
    """确认合格 at the follow-up check: the button pressed on the page."""
    form = await request.post()
    once = str(form.get("once") or uuid.uuid4().hex)[:40]
    answers = await handled(request, once, option=Confirm(int(request.match_info["id"])).value())
    desk.desk_of(request).session[SAID] = [row.payload.get("text", "") for row in answers]
    raise web.HTTPSeeOther(_home(request))


async def reopen(request: web.Request) -> web.StreamResponse:
    """仍不合格 with the reason: chat's flow started, then answered with the reason."""
    form = await request.post()
    once = str(form.get("once") or uuid.uuid4().hex)[:40]
    reason = str(form.get("reason") or "").strip()[:1000]
    ref = int(request.match_info["id"])
    if len(reason) < 2:
        app = desk.app_of(request)
        text = app.catalogs.text(desk.desk_of(request).locale, "inspect.web.reason_needed")
        desk.desk_of(request).session[SAID] = [text]
        raise web.HTTPSeeOther(_home(request))
    asked = await handled(request, f"{once}:start", option=f"flow:{REOPEN_FLOW}:{ref}")
    said = [row.payload.get("text", "") for row in asked]
    if [row.payload.get("key") for row in asked][-1:] == ["inspect.reopen.reason"]:
        answers = await handled(request, f"{once}:reason", text=reason)
        said = [row.payload.get("text", "") for row in answers]
    desk.desk_of(request).session[SAID] = said
    raise web.HTTPSeeOther(_home(request))
