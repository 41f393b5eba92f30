"""The desk's web workspace: the service desk's and supervisors' own screen, under `/desk`
on the HTTP listener (`frontdesk run`, or `frontdesk web` for the pages alone).

Pages are rendered on the server (aiohttp-jinja2) and work without a script; one small
script of ours refreshes the board when tickets change. Sign-in, sessions and CSRF are in
`desk.py`; what a staff member may see and do is decided by their `web` staff records
through the same checks as in chat, and every action on a ticket is a message to the
engine from the `web` channel, so it goes through the same handlers as a button press,
edits the same cards and tells the resident the same way (`ticket.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import get_session
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from bot.web import (
    activities,
    arrears,
    board,
    custody,
    desk,
    figures,
    gate,
    incidents,
    inspections,
    intake,
    keys,
    ledger,
    movein,
    notices,
    parcels,
    photos,
    renovation,
    rentals,
    reviews,
    services,
    statements,
    survey,
    ticket,
    units,
    visitors,
)
from handlers.core.messages import Money
from handlers.rules.phone import mask_phone

if TYPE_CHECKING:
    from bot.app import App

PREFIX = "/desk"
HERE = Path(__file__).resolve().parent


async def desk_app(app: App, prefix: str = PREFIX) -> web.Application:
    """The workspace as an application to mount at `prefix` on the listener."""
    pages = web.Application(middlewares=[desk.careful_headers])
    pages[desk.APP] = app
    pages[desk.PREFIX_KEY] = prefix
    setup_sessions(
        pages,
        EncryptedCookieStorage(
            await desk.session_key(app),
            cookie_name=desk.COOKIE,
            max_age=desk.SESSION_HOURS * 3600,
            path=prefix,
            httponly=True,
            samesite="Strict",
        ),
    )
    pages.middlewares.append(desk.signed_in)
    aiohttp_jinja2.setup(
        pages,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        context_processors=[_helpers],
        undefined=jinja2.StrictUndefined,
    )
    pages.add_routes(
        [
            web.get("/", _home),
            web.get("/signin", desk.signin_page),
            web.post("/signin", desk.signin),
            web.post("/signout", desk.signout),
            web.get("/lang/{locale}", desk.language),
            *board.routes(),
            *ticket.routes(),
            *photos.routes(),
            *notices.routes(),
            *intake.routes(),
            *units.routes(),
            *movein.routes(),
            *custody.routes(),
            *renovation.routes(),
            *gate.routes(),
            *visitors.routes(),
            *parcels.routes(),
            *figures.routes(),
            *keys.routes(),
            *ledger.routes(),
            *rentals.routes(),
            *reviews.routes(),
            *incidents.routes(),
            *inspections.routes(),
            *activities.routes(),
            *survey.routes(),
            *arrears.routes(),
            *statements.routes(),
            *services.routes(),
            web.static("/static", HERE / "static", append_version=True),
        ]
    )
    return pages


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"{desk.prefix_of(request)}/board")


async def _helpers(request: web.Request) -> dict[str, Any]:
    """What every template may call: `t(key, **params)` in the page's language, times in
    the office's time zone, money, masked phones, the workspace's prefix."""
    app = desk.app_of(request)
    found = request.get(desk.DESK)
    if isinstance(found, desk.Desk):
        locale = found.locale
    else:
        locale = desk.locale_of(await get_session(request), app)
    catalogs = app.catalogs

    def t(key: str, **params: Any) -> str:
        return catalogs.text(locale, key, params)

    def when(value: Any) -> str:
        return catalogs.format(locale, value) if value is not None else ""

    def money(value: Any) -> str:
        return catalogs.format(locale, Money(value)) if value is not None else ""

    return {
        "t": t,
        "when": when,
        "money": money,
        "mask": mask_phone,
        "prefix": desk.prefix_of(request),
        "company": app.settings.company_name,
        "page_locale": locale,
    }
