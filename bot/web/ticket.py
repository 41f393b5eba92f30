"""A ticket's page, and doing things on it.

The page shows the ticket, its history, its photos and the resident's contact (masked
unless the viewer calls residents back), with the buttons its chat card has. Pressing one,
or typing an answer, is a message from the `web` channel to the engine: the same handler
runs as for a button in a group chat, with the same checks against the same staff records,
so the card in the groups is edited and the resident is told exactly as from chat. What the
bot answers the desk (a question of a flow with its buttons, "accepted", "not allowed") is
shown on the page as a short conversation, and marked delivered once shown.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.delivery import SendResult, deliver_pending
from bot.web import desk, photos
from bot.web.acting import handled
from handlers import board
from handlers.web_accounts import CHANNEL
from storage.models import Outbox

MAX_TEXT = 2000


def routes() -> list[web.RouteDef]:
    return [
        web.get(r"/tickets/{id:\d+}", page),
        web.get(r"/tickets/{id:\d+}/print", work_order),
        web.post("/say", say),
    ]


class PageSender:
    """Delivers the web channel's outbox rows by marking them shown: the page reads them."""

    channel = CHANNEL

    async def send(self, row: Outbox) -> SendResult:
        return SendResult.sent(f"web:{row.id}")


async def conversation(request: web.Request) -> list[dict[str, Any]]:
    """The bot's latest answers to this desk, each with its buttons."""
    app = desk.app_of(request)
    found = desk.desk_of(request)
    await deliver_pending(app.db, PageSender(), app.clock, chat_ids=[found.login])
    async with app.db.reading() as session:
        rows = await board.recent_messages(session, CHANNEL, found.login)
    return [
        {
            "text": str(row.payload.get("text", "")),
            "buttons": [
                (str(b.get("label", "")), str(b.get("value", "")))
                for b in row.payload.get("buttons") or []
            ],
            "at": row.created_at,
        }
        for row in rows
    ]


async def _view(request: web.Request) -> board.TicketView | None:
    """The ticket of the address, as the signed-in staff may see it (None: they may not)."""
    app = desk.app_of(request)
    found = desk.desk_of(request)
    async with app.db.reading() as session:
        return await board.ticket_view(
            session, found.staff, int(request.match_info["id"]), app.clock.now()
        )


async def page(request: web.Request) -> web.StreamResponse:
    view = await _view(request)
    if view is None:
        return desk.not_yours(request)
    app = desk.app_of(request)
    context = desk.context(
        request,
        view=view,
        photos=[(p.id, photos.showable(app, p)) for p in view.photos],
        conversation=await conversation(request),
        once=uuid.uuid4().hex,
        back=request.path,
    )
    return aiohttp_jinja2.render_template("ticket.html", request, context)


async def work_order(request: web.Request) -> web.StreamResponse:
    """The ticket as a work order (维修工作单) to print, A4 or A5 (`?size=a5`)."""
    view = await _view(request)
    if view is None:
        return desk.not_yours(request)
    size = "a5" if request.query.get("size") == "a5" else "a4"
    now = desk.app_of(request).clock.now()
    context = desk.context(request, view=view, ticket=view.ticket, size=size, now=now)
    return aiohttp_jinja2.render_template("workorder.html", request, context)


async def say(request: web.Request) -> web.StreamResponse:
    """A button pressed or an answer typed on a page, handled as a chat message."""
    form = await request.post()
    option = str(form.get("option") or "").strip() or None
    text = str(form.get("text") or "").strip()[:MAX_TEXT] or None
    command = str(form.get("command") or "")
    if text and command.startswith("/answer "):  # the reply form: chat's own command
        text = f"{command[:40]} {text}"
    once = str(form.get("once") or "")[:40] or uuid.uuid4().hex
    back = str(form.get("back") or "")
    if not back.startswith(f"{desk.prefix_of(request)}/"):
        back = f"{desk.prefix_of(request)}/board"
    if option or text:
        await handled(request, once, text=text, option=option)
    raise web.HTTPSeeOther(back)
