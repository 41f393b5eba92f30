"""The ticket board: filters kept in the session (no phone number or unit in a URL), the
table, and what the page's script asks to refresh it when tickets change."""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web import desk
from handlers import board as tickets_board
from storage.models import Department, TicketKind, TicketStatus

FILTERS = "filters"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/board", page),
        web.post("/board", narrow),
        web.get("/board/rows", rows),
        web.get("/board/stamp", stamp),
    ]


def _filters(found: desk.Desk) -> tickets_board.Filters:
    kept = found.session.get(FILTERS) or {}
    return tickets_board.Filters.of(kept)


async def _board(request: web.Request) -> dict[str, Any]:
    app = desk.app_of(request)
    found = desk.desk_of(request)
    filters = _filters(found)
    async with app.db.reading() as session:
        result = await tickets_board.board(session, found.staff, filters, app.clock.now())
        changed = await tickets_board.stamp(session)
    communities = sorted({code for code in (row.community for row in result.rows)})
    return desk.context(
        request,
        board=result,
        filters=filters,
        stamp=changed,
        statuses=["open", *(s.value for s in TicketStatus)],
        kinds=[k.value for k in TicketKind],
        departments=[d.value for d in Department],
        communities=communities,
    )


async def page(request: web.Request) -> web.StreamResponse:
    return aiohttp_jinja2.render_template("board.html", request, await _board(request))


async def rows(request: web.Request) -> web.StreamResponse:
    """The table alone, for the page's script to swap in."""
    return aiohttp_jinja2.render_template("board_rows.html", request, await _board(request))


async def narrow(request: web.Request) -> web.StreamResponse:
    found = desk.desk_of(request)
    form = await request.post()
    chosen = tickets_board.Filters() if form.get("clear") else tickets_board.Filters.of(form)
    found.session[FILTERS] = dataclasses.asdict(chosen)
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/board")


async def stamp(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    desk.desk_of(request)
    async with app.db.reading() as session:
        return web.Response(text=await tickets_board.stamp(session))
