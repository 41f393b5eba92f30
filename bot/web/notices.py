"""The desk's notifications (通知): what the bot pushed to a web login — a job handed to them,
a supervisor's escalations, an urgent repair for the one on duty — newest first, each with
a link to its ticket where there is one they may see. A push counts as delivered once this
page has shown it; the page header counts those not shown yet (`desk.signed_in`). What
the bot answered a click of theirs was shown on the page they clicked on, and is not
repeated here.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bot.web import desk
from handlers import board
from handlers.web_accounts import CHANNEL


def routes() -> list[web.RouteDef]:
    return [web.get("/notices", page)]


async def page(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    found = desk.desk_of(request)
    now = app.clock.now()
    async with app.db.reading() as session:
        listed = await board.notices(session, found.staff, CHANNEL, found.login, now)
    fresh = [notice.id for notice in listed if notice.unread]
    if fresh:
        async with app.db.transaction() as session:
            await board.mark_seen(session, fresh, now)
        found.unread = max(0, found.unread - len(fresh))  # the header counted them unseen
    context = desk.context(request, notices=listed)
    return aiohttp_jinja2.render_template("notices.html", request, context)
