"""A month's figures (月度统计): `/stats`'s numbers of a chosen month and community, the month's
chart and its workbook to download, for managers (supervisors and directors) as in chat.

The month and the community's code are in the page's address (neither is personal data);
choosing them is a POST form that comes back with each problem next to its field. The
numbers, the chart and the workbook are read on a read-only snapshot (`app.db.reading`),
as `/report` reads them, and drawn in a worker thread; looking is audited as in chat
(`stats` for the figures, `report` for the workbook).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web import desk
from bot.web.acting import staff_context
from handlers import figures as month_figures
from handlers import stats
from handlers.core.context import Context
from handlers.core.messages import Reply
from handlers.rules.stats import Figures

MONTH = r"{month:\d{4}-\d{2}}"
CODE = r"{code:[A-Za-z0-9_-]{1,32}}"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/figures", page),
        web.post("/figures", choose),
        web.get(f"/figures/{MONTH}/{CODE}", month_page),
        web.get(f"/figures/{MONTH}/{CODE}/chart.png", chart),
        web.get(f"/figures/{MONTH}/{CODE}/workbook.xlsx", workbook),
    ]


def _refused(request: web.Request) -> web.StreamResponse:
    """A polite page for staff who are not managers (chat says "not allowed" the same)."""
    return aiohttp_jinja2.render_template(
        "figures_refused.html", request, desk.context(request), status=403
    )


def _said(ctx: Context, reply: Reply) -> str:
    return ctx.catalogs.text(ctx.locale, reply.key, reply.params)


def _shown(ctx: Context, numbers: Figures, asked: month_figures.Asked) -> dict[str, Any]:
    """The numbers as the page lays them out, in the words of chat's `/stats` message."""
    params = stats.stats_reply(asked.found, asked.period, numbers).params
    say = ctx.catalogs.format
    locale = ctx.locale
    tiles = [
        ("web.figures.total", numbers.total),
        ("web.figures.accept", params["accept"]),
        ("web.figures.finish", params["finish"]),
        ("web.figures.overdue", params["overdue"]),
        ("web.figures.late", params["late"]),
        ("web.figures.revisit", params["revisit"]),
        ("web.figures.revisit_late", params["revisit_late"]),
        ("web.figures.revisit_pending", params["revisit_pending"]),
        ("web.figures.satisfaction", params["satisfaction"]),
        ("web.figures.reopen", params["reopen"]),
    ]

    def counted(counts: dict[str, int], label: str) -> list[tuple[str, int]]:
        return [(ctx.catalogs.text(locale, label.format(name)), n) for name, n in counts.items()]

    return {
        "tiles": [(ctx.catalogs.text(locale, key), say(locale, value)) for key, value in tiles],
        "lists": [
            (ctx.catalogs.text(locale, "web.figures.by_kind"), counted(numbers.by_kind, "kind.{}")),
            (
                ctx.catalogs.text(locale, "web.figures.by_status"),
                counted(numbers.by_status, "status.{}"),
            ),
            (
                ctx.catalogs.text(locale, "web.figures.by_category"),
                counted(numbers.by_category, "repair.category.{}"),
            ),
        ],
        "revisit_detail": ctx.catalogs.text(
            locale,
            "web.figures.revisit_detail",
            {
                "revisited_late": params["revisited_late"],
                "revisit_overdue": params["revisit_overdue"],
            },
        ),
    }


async def _render(
    request: web.Request,
    *,
    month: str,
    code: str,
    problems: dict[str, str],
    asked: month_figures.Asked | None,
    status: int = 200,
) -> web.StreamResponse:
    app = desk.app_of(request)
    shown: dict[str, Any] | None = None
    nothing = scope = ""
    total = 0
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        communities = await month_figures.communities(ctx)
        everyone = len(communities) > 1 or stats.manager_scope(ctx) is None
        if asked is not None:
            numbers, said = await month_figures.figures(ctx, asked)
            total = numbers.total
            shown = _shown(ctx, numbers, asked) if total else None
            nothing = "" if total else _said(ctx, said)
            scope = ctx.catalogs.format(ctx.locale, asked.found.name)
    if asked is not None:
        async with app.db.transaction() as session:
            await month_figures.record(staff_context(request, session), "stats", asked, total=total)
    base = f"{desk.prefix_of(request)}/figures/{asked.month}/{asked.code}" if asked else ""
    previous = following = ""
    if asked is not None:
        previous = (asked.period.first - timedelta(days=1)).strftime("%Y-%m")
        following = (asked.period.last + timedelta(days=1)).strftime("%Y-%m")
    context = desk.context(
        request,
        month=month,
        code=code,
        problems=problems,
        communities=communities,
        everyone=everyone,
        asked=asked,
        scope=scope,
        shown=shown,
        nothing=nothing,
        base=base,
        previous=previous,
        following=following,
    )
    return aiohttp_jinja2.render_template("figures.html", request, context, status=status)


async def page(request: web.Request) -> web.StreamResponse:
    """This month's figures of the manager's community (or all of theirs)."""
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        if not month_figures.allowed(ctx):
            return _refused(request)
        communities = await month_figures.communities(ctx)
        one = len(communities) == 1 and stats.manager_scope(ctx) is not None
        code = communities[0].code if one else month_figures.ALL
        month = month_figures.this_month(ctx)
    raise web.HTTPFound(f"{desk.prefix_of(request)}/figures/{month}/{code}")


async def choose(request: web.Request) -> web.StreamResponse:
    """The month and community chosen on the form; refused next to the field at fault."""
    app = desk.app_of(request)
    form = await request.post()
    month = str(form.get("month") or "").strip()[:30]
    code = str(form.get("community") or "").strip()[:32]
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        if not month_figures.allowed(ctx):
            return _refused(request)
        found = await month_figures.resolve(ctx, month, code)
        problems = (
            {field: _said(ctx, reply) for field, reply in found.items()}
            if isinstance(found, dict)
            else {}
        )
    if isinstance(found, month_figures.Asked):
        raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/figures/{found.month}/{found.code}")
    return await _render(request, month=month, code=code, problems=problems, asked=None, status=400)


async def _asked(request: web.Request) -> month_figures.Asked | web.StreamResponse:
    """The month and community of the address, or the page saying what is wrong."""
    app = desk.app_of(request)
    month, code = request.match_info["month"], request.match_info["code"]
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        if not month_figures.allowed(ctx):
            return _refused(request)
        found = await month_figures.resolve(ctx, month, code)
        if isinstance(found, month_figures.Asked):
            return found
        problems = {field: _said(ctx, reply) for field, reply in found.items()}
    return await _render(request, month=month, code=code, problems=problems, asked=None, status=404)


async def month_page(request: web.Request) -> web.StreamResponse:
    asked = await _asked(request)
    if not isinstance(asked, month_figures.Asked):
        return asked
    return await _render(request, month=asked.month, code=asked.code, problems={}, asked=asked)


async def chart(request: web.Request) -> web.StreamResponse:
    """The month's `/report` chart, drawn for this request and kept nowhere."""
    asked = await _asked(request)
    if not isinstance(asked, month_figures.Asked):
        return asked
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        data, english = await month_figures.month_data(ctx, asked, listed=0)
    png = await asyncio.to_thread(
        month_figures.chart_png, data, english, app.catalogs, desk.desk_of(request).locale
    )
    return web.Response(body=png, content_type="image/png")


async def workbook(request: web.Request) -> web.StreamResponse:
    """The month's `/report` workbook, as chat sends it, to download."""
    asked = await _asked(request)
    if not isinstance(asked, month_figures.Asked):
        return asked
    app = desk.app_of(request)
    locale = desk.desk_of(request).locale
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        data, _ = await month_figures.month_data(ctx, asked, listed=month_figures.LISTED)
    body = await asyncio.to_thread(
        month_figures.workbook_xlsx, data, app.catalogs, locale, app.settings.tz
    )
    async with app.db.transaction() as session:
        await month_figures.record(staff_context(request, session), "report", asked)
    name = month_figures.file_name(asked, locale)
    return web.Response(
        body=body,
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
