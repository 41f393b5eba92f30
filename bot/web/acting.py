"""The signed-in desk as a handler sees a chat sender: a `Context` on the `web` channel with
their `web` staff records, so a page calls chat's own use-cases with chat's own checks."""

from __future__ import annotations

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web import desk
from handlers.core.context import Context
from handlers.core.messages import Incoming
from handlers.web_accounts import CHANNEL
from storage.models import ChatIdentity


def staff_context(request: web.Request, session: AsyncSession, text: str = "") -> Context:
    """A `Context` for the signed-in staff member over `session` (a reading snapshot or a
    transaction); `text` is what they did, as it would read in chat."""
    app = desk.app_of(request)
    found = desk.desk_of(request)
    msg = Incoming(
        channel=CHANNEL,
        chat_id=found.login,
        user_id=found.login,
        at=app.clock.now(),
        text=text or None,
        user_name=found.name,
        language=found.locale,
    )
    return Context(
        session=session,
        settings=app.settings,
        catalogs=app.catalogs,
        clock=app.clock,
        msg=msg,
        identity=ChatIdentity(channel=CHANNEL, external_user_id=found.login),
        locale=found.locale,
        staff=found.staff,
    )
