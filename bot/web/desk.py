"""Who is at the desk: signing in and out, the session, CSRF tokens, the page's language.

A session is an encrypted cookie (aiohttp-session, Fernet) holding the login, when they
signed in, a CSRF token and their board filters, nothing else; its key is kept in the
store, so every process of the bot reads every session. It lasts `SESSION_HOURS` from
signing in. Every request loads the login's staff records afresh: a staff member made
inactive is signed out at their next click, and what they may see and do is decided by
those records, as in chat (`handlers.staffauth`). Every form carries the session's CSRF
token; a POST without it is refused.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import Session, get_session, new_session

from handlers import board, web_accounts
from handlers.core.i18n import LOCALES
from handlers.web_accounts import CHANNEL
from storage import keyvalue
from storage.models import StaffMember

if TYPE_CHECKING:
    from bot.app import App

SESSION_HOURS = 10  # a working day; then sign in again
COOKIE = "frontdesk_desk"
KEY = "web:session_key"
APP: web.AppKey[App] = web.AppKey("frontdesk_app")
PREFIX_KEY: web.AppKey[str] = web.AppKey("frontdesk_desk_prefix")
DESK: web.RequestKey[Desk] = web.RequestKey("frontdesk_desk")
PUBLIC = ("/signin", "/static/", "/lang")  # reachable before signing in (under the prefix)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Desk:
    """The signed-in staff member of this request."""

    login: str
    staff: list[StaffMember]
    csrf: str
    locale: str
    session: Session = field(repr=False)
    unread: int = 0  # notifications not shown yet, counted in the page header

    @property
    def name(self) -> str:
        return self.staff[0].name if self.staff else self.login


async def session_key(app: App) -> str:
    """The Fernet key of the session cookies (url-safe base64), made once and kept in the
    store."""
    async with app.db.transaction() as session:
        kept = await keyvalue.read(session, KEY)
        if kept is None:
            kept = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
            await keyvalue.write(session, KEY, kept)
    return kept


def app_of(request: web.Request) -> App:
    return request.config_dict[APP]


def prefix_of(request: web.Request) -> str:
    """Where the workspace is mounted (`/desk`), for links."""
    return request.app.get(PREFIX_KEY, "")


def locale_of(session: Session, app: App) -> str:
    chosen = session.get("locale")
    return chosen if chosen in LOCALES else app.settings.default_locale


def csrf_of(session: Session) -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


def desk_of(request: web.Request) -> Desk:
    desk = request.get(DESK)
    if not isinstance(desk, Desk):
        raise web.HTTPFound(f"{prefix_of(request)}/signin")
    return desk


def _local_path(request: web.Request) -> str:
    return request.path[len(prefix_of(request)) :] or "/"


@web.middleware
async def signed_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the signed-in staff member; send everyone else to the sign-in page, and refuse
    a POST whose CSRF token is not the session's."""
    app = app_of(request)
    session = await get_session(request)
    path = _local_path(request)
    if request.method == "POST":
        form = await request.post()
        given = str(form.get("csrf", ""))
        if not given or not hmac.compare_digest(given, csrf_of(session)):
            raise web.HTTPForbidden(text="This form has expired; reload the page and try again.")
    login = session.get("login")
    since = float(session.get("since") or 0)
    if login and app.clock.now().timestamp() - since < SESSION_HOURS * 3600:
        async with app.db.transaction() as s:
            staff = await web_accounts.staff_of(s, str(login))
            unread = 0
            if staff and not path.startswith("/static/"):
                unread = await board.unread_count(s, CHANNEL, str(login), app.clock.now())
        if staff:
            request[DESK] = Desk(
                str(login), staff, csrf_of(session), locale_of(session, app), session, unread
            )
        else:  # made inactive meanwhile
            session.invalidate()
    elif login:
        session.invalidate()  # expired
    if DESK not in request and not path.startswith(PUBLIC):
        raise web.HTTPFound(f"{prefix_of(request)}/signin")
    return await handler(request)


@web.middleware
async def careful_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Pages about residents are neither cached, framed nor sent elsewhere."""
    response = await handler(request)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
    )
    return response


# ---- pages ---------------------------------------------------------------------------------


async def signin_page(request: web.Request) -> web.StreamResponse:
    if isinstance(request.get(DESK), Desk):
        raise web.HTTPFound(f"{prefix_of(request)}/board")
    session = await get_session(request)
    return _signin(request, session, login="", error="")


def _signin(request: web.Request, session: Session, *, login: str, error: str) -> web.Response:
    app = app_of(request)
    context = {"login": login, "error": error, "csrf": csrf_of(session)}
    context["locale"] = locale_of(session, app)
    return aiohttp_jinja2.render_template(
        "signin.html", request, context, status=400 if error else 200
    )


async def signin(request: web.Request) -> web.StreamResponse:
    app = app_of(request)
    session = await get_session(request)
    form = await request.post()
    login = str(form.get("login", "")).strip()[:100]
    password = str(form.get("password", ""))[:200]
    if not login or not password:
        return _signin(request, session, login=login, error="web.signin.missing")
    result = await web_accounts.sign_in(app.db, login, password, app.clock.now())
    if not result.ok:
        key = "web.signin.locked" if result.locked_until else "web.signin.wrong"
        return _signin(request, session, login=login, error=key)
    locale = locale_of(session, app)
    fresh = await new_session(request)  # a new session id: nothing carried over
    fresh.update(login=login, since=app.clock.now().timestamp(), locale=locale)
    csrf_of(fresh)
    raise web.HTTPFound(f"{prefix_of(request)}/board")


async def signout(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPFound(f"{prefix_of(request)}/signin")


async def language(request: web.Request) -> web.StreamResponse:
    """Switch the pages' language (a link; it changes nothing but the display)."""
    session = await get_session(request)
    chosen = request.match_info.get("locale", "")
    if chosen in LOCALES:
        session["locale"] = chosen
    back = request.headers.get("Referer", "")
    target = f"{prefix_of(request)}/board"
    if back.startswith(f"{request.scheme}://{request.host}{prefix_of(request)}/"):
        target = back
    raise web.HTTPFound(target)


def context(request: web.Request, **values: Any) -> dict[str, Any]:
    """What every signed-in page's template gets."""
    desk = desk_of(request)
    return {"desk": desk, "csrf": desk.csrf, "locale": desk.locale, **values}


def not_yours(request: web.Request) -> web.StreamResponse:
    """No such ticket (or photo), or not theirs: the same page either way."""
    values = context(request, conversation=[], once="")
    return aiohttp_jinja2.render_template("not_yours.html", request, values, status=404)
