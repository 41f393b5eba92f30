"""The annual owners' survey on the desk's pages: for each community the desk or a manager
follows, this year's survey with its questions (an editor while it is a draft), how far
it has got, and the analysis so far (means per area and building, the spread, the
comments by area, the follow-up tasks of low scores) with the chart and the workbook.

Create, send, close and "send the analysis" are chat's own buttons pressed on the page,
handed to the engine as the signed-in staff member's message (`bot.web.acting.handled`),
so chat's handler runs with chat's checks. Saving the questions calls chat's use-case
(`handlers.survey_questions.save`) as the signed-in manager in one transaction.
"""

from __future__ import annotations

import uuid

import aiohttp_jinja2
from aiohttp import web

from bot.web import acting, desk
from bot.web.acting import handled, staff_context
from handlers import survey_pages, survey_questions
from handlers.core.actions import split
from handlers.rules.survey import AREAS
from handlers.survey_office import CloseSurvey, CreateSurvey, OpenSurvey, SendAnalysis

SAID = "survey_said"
PRESSABLE = {cls.name for cls in (CreateSurvey, OpenSurvey, CloseSurvey, SendAnalysis)}


def routes() -> list[web.RouteDef]:
    return [
        web.get("/survey", page),
        web.post("/survey/press", press),
        web.post(r"/survey/{id:\d+}/questions", questions),
        web.get(r"/survey/{id:\d+}/chart.png", chart),
        web.get(r"/survey/{id:\d+}/analysis.xlsx", workbook),
    ]


def _said(request: web.Request) -> list[str]:
    return acting.said(request, SAID)


def _here(request: web.Request) -> str:
    return f"{desk.prefix_of(request)}/survey"


async def page(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        shown = await survey_pages.desk_page(ctx)
        defaults = {area: survey_pages.default_question(ctx, area) for area in AREAS}
    context = desk.context(
        request, shown=shown, said=_said(request), once=uuid.uuid4().hex, defaults=defaults
    )
    return aiohttp_jinja2.render_template("survey_page.html", request, context)


async def press(request: web.Request) -> web.StreamResponse:
    """Create, send, close, send the analysis: chat's buttons pressed on the page."""
    form = await request.post()
    value = str(form.get("value") or "")[:80]
    if not value.startswith("act:") or split(value)[0] not in PRESSABLE:
        raise web.HTTPBadRequest()
    once = str(form.get("once") or uuid.uuid4().hex)[:40]
    answers = await handled(request, once, option=value)
    desk.desk_of(request).session[SAID] = [row.payload.get("text", "") for row in answers]
    raise web.HTTPSeeOther(_here(request))


async def questions(request: web.Request) -> web.StreamResponse:
    """The editor: which areas are asked, each in the office's own words or the default."""
    app = desk.app_of(request)
    posted = await request.post()
    form = {
        name: str(posted.get(name) or "")[:300]
        for area in AREAS
        for name in (f"ask_{area}", f"text_{area}")
    }
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        replies = await survey_questions.save(
            ctx, int(request.match_info["id"]), survey_questions.from_form(form)
        )
        desk.desk_of(request).session[SAID] = [
            app.catalogs.text(ctx.locale, r.key, r.params) for r in replies
        ]
    raise web.HTTPSeeOther(_here(request))


async def _file(request: web.Request, which: str) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        made = await survey_pages.files(
            staff_context(request, session), int(request.match_info["id"])
        )
    if made is None:
        return desk.not_yours(request)
    path = made.chart if which == "chart" else made.workbook
    return web.FileResponse(path, headers={"Cache-Control": "no-store"})


async def chart(request: web.Request) -> web.StreamResponse:
    return await _file(request, "chart")


async def workbook(request: web.Request) -> web.StreamResponse:
    return await _file(request, "workbook")
