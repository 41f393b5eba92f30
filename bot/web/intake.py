"""Filing a request for a caller or a visitor (来电 / 来访 / 来信) from the desk's page.

The form is checked as a whole; a refused form comes back with what was typed and each
problem next to its field. A filed one goes through `handlers.intake` in one transaction,
as the desk's staff records, and its cards and messages leave like any others.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bot.web import desk
from bot.web.acting import staff_context
from dialogs.sending import send
from handlers import intake
from handlers.rules.warranty import CATEGORIES
from storage import signals


def routes() -> list[web.RouteDef]:
    return [web.get("/intake", page), web.post("/intake", submit)]


async def _render(
    request: web.Request, form: intake.Form, problems: dict[str, object], status: int = 200
) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        communities = await intake.communities_of(staff_context(request, session))
    context = desk.context(
        request,
        form=form,
        problems=problems,
        communities=communities,
        kinds=intake.KINDS,
        categories=CATEGORIES,
        vias=intake.VIA,
    )
    return aiohttp_jinja2.render_template("intake_form.html", request, context, status=status)


async def page(request: web.Request) -> web.StreamResponse:
    return await _render(request, intake.Form(), {})


async def submit(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    form = intake.Form.of(await request.post())
    problems: dict[str, object] = {}
    filed = None
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        checked = await intake.check(ctx, form)
        problems.update(checked.problems)
        if not problems:
            ticket, replies = await intake.file(ctx, form, checked)
            if ticket is None:  # refused by the flow's own rules: what it said
                problems["kind"] = replies[0]
            else:
                filed = ticket.id
                await send(
                    session,
                    replies,
                    catalogs=app.catalogs,
                    settings=app.settings,
                    now=app.clock.now(),
                )
                await signals.notify(session, signals.OUTBOX)  # other processes deliver
    if problems or filed is None:
        return await _render(request, form, problems, status=400)
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/tickets/{filed}")
