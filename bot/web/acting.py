"""The signed-in desk as a handler sees a chat sender: a `Context` on the `web` channel with
their `web` staff records, so a page calls chat's own use-cases with chat's own checks; and
what they do on a page handed to the engine as their message from the `web` channel."""

from __future__ import annotations

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web import desk
from dialogs.sending import send
from handlers import board
from handlers.core.context import Context
from handlers.core.messages import Incoming, Reply
from handlers.web_accounts import CHANNEL
from storage import outbox, signals
from storage.models import ChatIdentity, Outbox


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


async def handled(
    request: web.Request, once: str, *, text: str | None = None, option: str | None = None
) -> list[Outbox]:
    """A button pressed or words typed on a page, handled by the engine as the desk's
    message from the `web` channel: chat's own handler runs and the store keeps the message
    as it keeps a chat's. `once` is the form's own id, so a form sent twice (a double
    click) is one message. Returns the engine's answers to the desk, marked shown, since
    the page shows them; the process that sends the other channels is woken."""
    app = desk.app_of(request)
    found = desk.desk_of(request)
    rows = await app.engine.handle(
        Incoming(
            channel=CHANNEL,
            chat_id=found.login,
            user_id=found.login,
            at=app.clock.now(),
            message_id=f"{CHANNEL}:{found.login}:{once}",
            option=option,
            text=None if option else text,
            user_name=found.name,
            language=found.locale,
        )
    )
    answers = [row for row in rows if (row.channel, row.chat_id) == (CHANNEL, found.login)]
    if rows:
        async with app.db.transaction() as session:
            shown = [row.id for row in answers if row.id is not None]
            await outbox.mark_sent_unless_claimed(session, shown, app.clock.now(), board.ANSWERED)
            if len(answers) < len(rows):
                await signals.notify(session, signals.OUTBOX)  # other processes deliver
    return answers


def said(request: web.Request, key: str) -> list[str]:
    """What the desk's last action on a room's page answered (kept in the sign-in's session
    under `key`), shown once on the next page."""
    return list(desk.desk_of(request).session.pop(key, None) or [])


async def answered(request: web.Request, ctx: Context, replies: list[Reply], key: str) -> None:
    """A page's action done by calling chat's handlers directly (not through the engine):
    its answers to the desk kept under `key` for the next page, the rest (cards, residents'
    notices) queued, and the process that sends to the chat channels woken."""
    app = desk.app_of(request)
    others = [r for r in replies if r.to is not None]
    if others:
        await send(
            ctx.session, others, catalogs=app.catalogs, settings=app.settings, now=app.clock.now()
        )
    await signals.notify(ctx.session, signals.OUTBOX)  # bulk notices are queued apart, too
    desk.desk_of(request).session[key] = [
        app.catalogs.text(ctx.locale, r.key, r.params) for r in replies if r.to is None
    ]
