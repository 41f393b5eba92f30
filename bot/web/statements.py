"""The published accounts on the desk's pages (`/desk/statements`): the statements by
period with their status, a form to make or refresh a period's draft, one statement's
tables and chart, its publish button, and its workbooks to download (the office's copy
with the entries; the owners' copy with sums only).

Making a draft is chat's `/statement <period> <community>` and publishing is chat's
button, both handed to the engine as the signed-in member's message (`acting.handled`),
so chat's own checks run: the community's staff may look, its supervisors and directors
make and publish.
"""

from __future__ import annotations

import asyncio
import uuid

import aiohttp_jinja2
from aiohttp import web

from bot.web import acting, desk
from bot.web.acting import handled, staff_context
from handlers import statements, statements_pages
from handlers.rules.statements import base_period, yuan

SAID = "statements_said"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/statements", statement_list),
        web.post("/statements", statement_make),
        web.get(r"/statements/{id:\d+}", statement_page),
        web.post(r"/statements/{id:\d+}/publish", statement_publish),
        web.get(r"/statements/{id:\d+}/chart.png", statement_chart),
        web.get(r"/statements/{id:\d+}/statement.xlsx", statement_file),
        web.get(r"/statements/{id:\d+}/public.xlsx", statement_public_file),
    ]


def _said(request: web.Request) -> list[str]:
    return acting.said(request, SAID)


async def statement_list(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        shown = await statements.listed(ctx)
        makers = await statements.communities(ctx, making=True)
    context = desk.context(
        request,
        shown=shown,
        makers=makers,
        said=_said(request),
        once=uuid.uuid4().hex,
        yuan=yuan,
        base=base_period,
    )
    return aiohttp_jinja2.render_template("statements_list.html", request, context)


async def statement_make(request: web.Request) -> web.StreamResponse:
    """Make or refresh a period's draft: chat's `/statement`, handed to the engine."""
    app = desk.app_of(request)
    posted = await request.post()
    period = str(posted.get("period") or "").strip()[:20]
    code = str(posted.get("community") or "").strip()[:20]
    once = str(posted.get("once") or uuid.uuid4().hex)[:40]
    answers = await handled(request, once, text=f"/statement {period} {code}".strip())
    desk.desk_of(request).session[SAID] = [row.payload.get("text", "") for row in answers]
    async with app.db.reading() as session:
        made = await statements_pages.latest(staff_context(request, session), code, period)
    if made is not None:
        raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/statements/{made}")
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/statements")


async def _view(request: web.Request) -> statements_pages.StatementView | None:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        return await statements_pages.view(
            staff_context(request, session), int(request.match_info["id"])
        )


async def statement_page(request: web.Request) -> web.StreamResponse:
    shown = await _view(request)
    if shown is None:
        return desk.not_yours(request)
    context = desk.context(request, shown=shown, said=_said(request), once=uuid.uuid4().hex)
    return aiohttp_jinja2.render_template("statements_page.html", request, context)


async def statement_publish(request: web.Request) -> web.StreamResponse:
    """Publish: the chat button's own action, handed to the engine."""
    posted = await request.post()
    value = statements.Publish(int(request.match_info["id"])).value()
    once = str(posted.get("once") or uuid.uuid4().hex)[:40]
    answers = await handled(request, once, option=value)
    desk.desk_of(request).session[SAID] = [row.payload.get("text", "") for row in answers]
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/statements/{request.match_info['id']}")


async def statement_chart(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        shown = await statements_pages.view(ctx, int(request.match_info["id"]))
        if shown is None:
            return desk.not_yours(request)
        body = await asyncio.to_thread(statements_pages.chart, ctx, shown)
    return web.Response(body=body, content_type="image/png")


async def _file(request: web.Request, office: bool) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        shown = await statements_pages.view(ctx, int(request.match_info["id"]))
        if shown is None:
            return desk.not_yours(request)
        entries = await statements_pages.office_entries(ctx, shown) if office else None
        body = await asyncio.to_thread(statements_pages.workbook, ctx, shown, entries)
    kind = "office" if office else "public"
    name = f"statement-{shown.community.code}-{shown.statement.period}-{kind}.xlsx"
    return web.Response(
        body=body,
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def statement_file(request: web.Request) -> web.StreamResponse:
    return await _file(request, office=True)


async def statement_public_file(request: web.Request) -> web.StreamResponse:
    return await _file(request, office=False)
