"""The Telegram channel: updates in through aiogram (long polling or a webhook), replies out
through the outbox (`bot.channels.telegram_send`).

Each update becomes a neutral `Incoming` (`to_incoming`, `callback_incoming`) and is handed
to the engine, which stores it under `tg:<update_id>` (so a redelivered update is a no-op)
and writes its replies to the outbox in one transaction. Only then is the update
acknowledged: in polling mode by the next getUpdates offset, in webhook mode by the HTTP
answer. Updates are handled one at a time, so one chat's updates are handled in order.

Button presses carry short tokens (`telegram_buttons`); a token that is unknown or belongs
to another chat gets a "no longer valid" answer and changes nothing. A contact is taken only
when it is the sender's own. A group that adds the bot before it is bound to a department
is told how a supervisor binds it.

With `FRONTDESK_WORKERS` (PostgreSQL) the receiving process only stores each update in the
inbound queue before acknowledging it (`store_polled`, or the webhook's answer), and
`frontdesk worker` processes handle them chat by chat (`bot.channels.telegram_worker`),
through the same `Updates` as here; this process keeps delivering the outbox, woken by
the workers' notices.

Staff groups: the bot must read all group messages (BotFather → Group Privacy off, or make
it an administrator), or it sees staff notes typed in a group only as replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramUnauthorizedError
from aiogram.methods import GetUpdates
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    ChatMemberUpdated,
    Message,
    Update,
)
from aiogram.types.bot_command_scope_union import BotCommandScopeUnion
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.channels import ChannelUnavailable, telegram_buttons
from bot.channels.telegram_send import Pacer, run_delivery
from dialogs import menus
from dialogs.sending import send
from handlers import accounts
from handlers.core.messages import Incoming, Recipient, Reply
from storage import inbound, queue, signals
from storage.db import BatchFailed

if TYPE_CHECKING:
    from bot.app import App
    from bot.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL = "telegram"
WEBHOOK_PATH = "/telegram"
POLLING_TIMEOUT = 25  # seconds a getUpdates waits for news before asking again
GROUP_TYPES = ("group", "supergroup")
PRESENT = (
    ChatMemberStatus.CREATOR,
    ChatMemberStatus.ADMINISTRATOR,
    ChatMemberStatus.MEMBER,
    ChatMemberStatus.RESTRICTED,
)
# `/cmd@somebot`: in a group a command may be addressed to another bot.
ADDRESSED = re.compile(r"^(/\w+)@(\w+)")
RETRY_MAX = 60.0  # seconds between attempts while the database or Telegram is away
# Polled updates handled in one transaction at most: enough to share a commit, few enough
# that the first one's reply is not held up long.
BATCH_MAX = 20
# ... and for this long at most (seconds): on SQLite a batch holds the write lock, and the
# delivery loop must get its turn even when each update is slow (a busy machine).
BATCH_HOLD = 0.25

# The menus in each language: Telegram shows a user the one matching their app's
# language, and the one without a language code to everybody else.
MENU_LANGUAGES = (None, "zh", "en")


def make_bot(settings: Settings) -> Bot:
    """The aiogram Bot for the configured token and Bot API server (the public one by default)."""
    if settings.telegram_token is None:
        raise ChannelUnavailable("FRONTDESK_TELEGRAM_TOKEN is not set")
    api = (
        TelegramAPIServer.from_base(settings.telegram_api_url)
        if settings.telegram_api_url
        else PRODUCTION
    )
    return Bot(settings.telegram_token.get_secret_value(), session=AiohttpSession(api=api))


# ---- platform → Incoming -----------------------------------------------------------------


def _chat_kind(chat_type: str) -> str:
    return "group" if chat_type in GROUP_TYPES else "private"


def own_command(text: str, bot_username: str) -> str | None:
    """`/cmd@ourbot args` → `/cmd args`; None for a command addressed to another bot."""
    found = ADDRESSED.match(text)
    if found is None:
        return text
    if found.group(2).lower() != bot_username.lower():
        return None
    return found.group(1) + text[found.end() :]


def foreign_contact(message: Message) -> bool:
    """A shared contact that is not the sender's own (forwarded from their address book)."""
    contact, sender = message.contact, message.from_user
    return contact is not None and (sender is None or contact.user_id != sender.id)


def to_incoming(message: Message, update_id: int, bot_username: str = "") -> Incoming | None:
    """The neutral message for a Telegram message; None when it is not for the bot."""
    sender = message.from_user
    if sender is None or sender.is_bot:
        return None
    text = message.text if message.text is not None else message.caption
    if text is not None:
        text = own_command(text, bot_username)
        if text is None:
            return None
    contact = message.contact
    return Incoming(
        channel=CHANNEL,
        chat_id=str(message.chat.id),
        user_id=str(sender.id),
        at=message.date,
        message_id=f"tg:{update_id}",
        text=text,
        # Telegram lists a photo's sizes smallest first; the largest is kept.
        photo=message.photo[-1].file_id if message.photo else None,
        contact=contact.phone_number if contact and not foreign_contact(message) else None,
        chat_kind=_chat_kind(message.chat.type),
        user_name=sender.full_name,
        language=sender.language_code,
    )


def callback_incoming(query: CallbackQuery, update_id: int, value: str, at: datetime) -> Incoming:
    """The neutral message for a pressed button whose token resolved to `value`.

    A callback query carries no time of its own, so `at` is when it arrived.
    """
    assert query.message is not None
    return Incoming(
        channel=CHANNEL,
        chat_id=str(query.message.chat.id),
        user_id=str(query.from_user.id),
        at=at,
        message_id=f"tg:{update_id}",
        option=value,
        chat_kind=_chat_kind(query.message.chat.type),
        user_name=query.from_user.full_name,
        language=query.from_user.language_code,
    )


# ---- updates ----------------------------------------------------------------------------


class Updates:
    """Handles each update (message, button, the bot added to a group) through the engine.

    `patient`: in polling mode an update that cannot be stored (the database is down) is
    tried again until it is, holding back the acknowledgement; in webhook mode the error
    goes back to Telegram as a 500, and Telegram sends the update again later.
    """

    def __init__(
        self, app: App, bot: Bot, wake: Callable[[], None], *, patient: bool = True
    ) -> None:
        self.app = app
        self.bot = bot
        self.wake = wake
        self.patient = patient
        # Webhook requests may overlap; one update at a time keeps a chat's order.
        self._lock = asyncio.Lock()
        # While a batch of polled updates is handled, pressed buttons are answered after it
        # commits (`send_answers`): no network call inside the transaction, and the button
        # stops spinning once its work is saved. None: answer at once (webhook mode).
        self.answers: list[tuple[CallbackQuery, str | None]] | None = None
        self.router = Router(name="frontdesk")
        self.router.message.register(self.on_message)
        self.router.callback_query.register(self.on_callback)
        self.router.my_chat_member.register(self.on_member)

    def dispatcher(self) -> Dispatcher:
        # No aiogram FSM: a conversation is a `dialog_state` row, and the FSM's memory
        # storage keeps a record of every chat it ever saw (3.8 MB per 10,000 chats).
        dispatcher = Dispatcher(disable_fsm=True)
        dispatcher.include_router(self.router)
        return dispatcher

    async def on_message(self, message: Message, event_update: Update) -> None:
        await self._safely(event_update, lambda: self._message(message, event_update.update_id))

    async def on_callback(self, query: CallbackQuery, event_update: Update) -> None:
        await self._safely(event_update, lambda: self._callback(query, event_update.update_id))

    async def on_member(self, event: ChatMemberUpdated, event_update: Update) -> None:
        await self._safely(event_update, lambda: self._member(event, event_update.update_id))

    async def _safely(self, update: Update, work: Callable[[], Awaitable[None]]) -> None:
        """Do the work; if it fails, at least keep the update (unhandled) before it is acked."""
        delay = 1.0
        async with self._lock:
            while True:
                try:
                    await work()
                    return
                except Exception:
                    log.exception("telegram update %s could not be handled", update.update_id)
                try:
                    await self._keep(update)
                    return
                except BatchFailed:
                    raise  # the batch is redone update by update, this one included
                except Exception:
                    if not self.patient:
                        raise
                    log.exception("telegram update %s could not be stored", update.update_id)
                # Still unstored: not acknowledged, tried again; a shutdown cancels this
                # sleep, and the update comes back after the restart.
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    async def _keep(self, update: Update) -> None:
        """Store an update the engine failed on, unhandled, for someone to look at."""
        async with self.app.db.transaction() as session:
            await inbound.accept(
                session,
                channel=CHANNEL,
                external_id=f"tg:{update.update_id}",
                chat_id="",
                payload=update.model_dump(mode="json", exclude_none=True),
                now=self.app.clock.now(),
            )

    async def _message(self, message: Message, update_id: int) -> None:
        if message.from_user is None:
            return  # a channel post or an anonymous admin: nobody to answer
        if foreign_contact(message):
            await self._say(message, update_id, Reply("telegram.contact.not_yours"))
            return
        me = await self.bot.me()
        msg = to_incoming(message, update_id, me.username or "")
        if msg is None:
            return
        if msg.text is None and msg.photo is None and msg.contact is None:
            # A sticker, a voice note, a location, a service message …
            if msg.chat_kind == "private":
                await self._say(message, update_id, Reply("telegram.unsupported"))
            return
        await self._handle(msg)

    async def _callback(self, query: CallbackQuery, update_id: int) -> None:
        answer: str | None = None
        try:
            shown = query.message
            value = None
            if shown is not None and query.data:
                async with self.app.db.transaction() as session:
                    value = await telegram_buttons.resolve(session, str(shown.chat.id), query.data)
            if shown is None or value is None:
                answer = await self._stale(query)
                return
            paging = telegram_buttons.parse_page(value)
            if paging is not None:
                if not await self._page(shown.chat.id, shown.message_id, *paging):
                    answer = await self._stale(query)
                return
            await self._handle(callback_incoming(query, update_id, value, self.app.clock.now()))
        finally:
            # Always answered, or the user's button keeps spinning.
            if self.answers is not None:
                self.answers.append((query, answer))
            else:
                await self._answer(query, answer)

    async def _page(self, chat_id: int, message_id: int, outbox_id: int, n: int) -> bool:
        """Show another page of a long keyboard, in place; False when it is no longer shown."""
        async with self.app.db.transaction() as session:
            return await telegram_buttons.show_page(
                self.bot, session, str(chat_id), message_id, outbox_id, n, now=self.app.clock.now()
            )

    async def _stale(self, query: CallbackQuery) -> str:
        locale = await self._locale(str(query.from_user.id), query.from_user.language_code)
        return self.app.catalogs.text(locale, "telegram.stale")

    async def send_answers(self) -> None:
        """Answer the buttons pressed in the batch just committed, all at once."""
        if self.answers:
            pending, self.answers = self.answers, []
            await asyncio.gather(*(self._answer(query, text) for query, text in pending))

    async def _answer(self, query: CallbackQuery, text: str | None) -> None:
        try:
            await self.bot.answer_callback_query(query.id, text=text)
        except TelegramAPIError as exc:  # too old, already answered: nothing left to do
            log.info("callback %s not answered: %s", query.id, exc)

    async def _member(self, event: ChatMemberUpdated, update_id: int) -> None:
        """The bot added to a group that no department owns yet: say how to bind it."""
        if event.chat.type not in GROUP_TYPES:
            return  # a private chat blocked or unblocked the bot
        joined = (
            event.old_chat_member.status not in PRESENT and event.new_chat_member.status in PRESENT
        )
        if not joined:
            return
        async with self.app.db.transaction() as session:
            bound = await accounts.is_department_chat(session, CHANNEL, str(event.chat.id))
        if not bound:
            explain = Reply("telegram.group.unbound", {"company": self.app.settings.company_name})
            await self._say(event, update_id, explain)

    async def _handle(self, msg: Incoming) -> None:
        if await self.app.engine.handle(msg):
            self.wake()

    async def _say(self, event: Message | ChatMemberUpdated, update_id: int, reply: Reply) -> None:
        """Answer an update the engine does not see: stored, and the reply queued, at once."""
        sender = event.from_user
        assert sender is not None
        chat_id = str(event.chat.id)
        now = self.app.clock.now()
        async with self.app.db.transaction() as session:
            accepted = await inbound.accept(
                session,
                channel=CHANNEL,
                external_id=f"tg:{update_id}",
                chat_id=chat_id,
                payload=event.model_dump(mode="json", exclude_none=True),
                now=now,
            )
            if not accepted:
                return  # redelivered: answered the first time
            locale = await _locale_of(session, self.app, str(sender.id), sender.language_code)
            await send(
                session,
                [reply],
                catalogs=self.app.catalogs,
                settings=self.app.settings,
                now=now,
                answering=Recipient(CHANNEL, chat_id, locale),
            )
            await inbound.mark_handled(session, CHANNEL, f"tg:{update_id}", now)
        self.wake()

    async def _locale(self, user_id: str, language_code: str | None) -> str:
        async with self.app.db.transaction() as session:
            return await _locale_of(session, self.app, user_id, language_code)


async def _locale_of(session: Any, app: App, user_id: str, language_code: str | None) -> str:
    """The user's own choice of language, else their Telegram app's (as the engine does)."""
    chosen = await accounts.chosen_locale(session, CHANNEL, user_id)
    return chosen or app.catalogs.pick(language_code)


# ---- commands -----------------------------------------------------------------------------


async def register_commands(bot: Bot, app: App) -> None:
    """setMyCommands per scope (residents, staff groups, each supervisor) and language; the
    lists are derived from the features' declarations (dialogs/menus.py)."""
    catalogs = app.catalogs
    scopes: list[tuple[BotCommandScopeUnion, list[menus.Listed]]] = [
        (BotCommandScopeDefault(), menus.for_residents(catalogs)),
        (BotCommandScopeAllPrivateChats(), menus.for_residents(catalogs)),
        (BotCommandScopeAllGroupChats(), menus.for_groups(catalogs)),
    ]
    managers = menus.for_managers(catalogs)
    scopes += [
        (BotCommandScopeChat(chat_id=chat_id), managers) for chat_id in await _manager_chats(app)
    ]
    for scope, listed in scopes:
        for language in MENU_LANGUAGES:
            locale = catalogs.pick(language)
            menu = [
                BotCommand(command=entry.command, description=catalogs.text(locale, entry.describe))
                for entry in listed
            ]
            await bot.set_my_commands(menu, scope=scope, language_code=language)


async def _manager_chats(app: App) -> list[int]:
    """Private chats of Telegram supervisors and directors (those from settings included)."""
    async with app.db.transaction() as session:
        users = await accounts.manager_accounts(session, CHANNEL)
    chats: list[int] = []
    for user in users:
        try:
            chat_id = int(user)
        except ValueError:
            log.warning("telegram supervisor %r is not a numeric user id", user)
            continue
        if chat_id not in chats:
            chats.append(chat_id)
    return chats


# ---- running ----------------------------------------------------------------------------


class _Running:
    """What `serve` set up for one App: the bot, the update handling and its dispatcher."""

    def __init__(self, app: App, bot: Bot, wake: Callable[[], None], *, patient: bool) -> None:
        self.updates = Updates(app, bot, wake, patient=patient)
        self.dispatcher = self.updates.dispatcher()
        secret = app.settings.telegram_webhook_secret
        self.webhook = SimpleRequestHandler(
            self.dispatcher,
            bot,
            # Answer only after the update is stored and handled: the HTTP answer is the ack.
            handle_in_background=False,
            secret_token=secret.get_secret_value() if secret else None,
        )


# The running channel of each App, so the shared HTTP listener (`routes`) reaches the
# webhook that `serve` set up. Weak: the entry goes when `serve` ends.
_RUNNING: weakref.WeakValueDictionary[int, _Running] = weakref.WeakValueDictionary()


def routes(app: App) -> list[web.AbstractRouteDef]:
    """The webhook route for the process's HTTP listener (none in polling mode)."""
    if not app.settings.telegram_webhook_url:
        return []

    async def webhook(request: web.Request) -> web.StreamResponse:
        running = _RUNNING.get(id(app))
        if running is None:
            # Starting or stopping: Telegram keeps the update and sends it again.
            return web.Response(status=503, text="not ready")
        if app.settings.workers:
            return await _queue_webhook(app, running, request)
        return await running.webhook.handle(request)

    return [web.post(WEBHOOK_PATH, webhook)]


async def serve(app: App, stop: asyncio.Event, *, pacer: Pacer | None = None) -> None:
    """Run the Telegram channel until `stop` is set: updates in, outbox deliveries out.

    In webhook mode the updates arrive on the process's HTTP listener (`routes`).
    `pacer` replaces Telegram's flood limits (tests with an emulator that has none).
    """
    settings = app.settings
    webhook = bool(settings.telegram_webhook_url)
    if webhook and settings.telegram_webhook_secret is None:
        raise ChannelUnavailable(
            "FRONTDESK_TELEGRAM_WEBHOOK_URL needs FRONTDESK_TELEGRAM_WEBHOOK_SECRET, "
            "or anyone could post updates"
        )
    bot = make_bot(settings)
    done = asyncio.Event()  # ends the delivery loop, also when this channel fails alone
    nudge = asyncio.Event()
    running = _Running(app, bot, nudge.set, patient=not webhook)
    delivery = asyncio.create_task(run_delivery(app, bot, done, nudge, pacer=pacer))
    # The desk's pages show a resident's photo, kept by its file id, through this bot.
    app.photo_sources[CHANNEL] = lambda file_id, path: download_photo(bot, file_id, path)
    try:
        await _retrying("setMyCommands", lambda: register_commands(bot, app), stop)
        # Other processes say when they queued replies: worker processes, `frontdesk web`
        # (PostgreSQL; on SQLite there is nothing to hear, and the outbox is read each second).
        async with signals.listening(app.db, signals.OUTBOX, nudge.set):
            if webhook:
                await _serve_webhook(app, bot, running, stop)
            else:
                await _poll(app, bot, running, stop)
    finally:
        app.photo_sources.pop(CHANNEL, None)
        done.set()
        with contextlib.suppress(Exception):
            await delivery
        await bot.session.close()


async def _retrying(what: str, call: Callable[[], Awaitable[Any]], stop: asyncio.Event) -> None:
    """A start-up call, tried again while Telegram is out of reach; a refusal stops the channel."""
    delay = 1.0
    while not stop.is_set():
        try:
            await call()
            return
        except TelegramUnauthorizedError:
            raise ChannelUnavailable(
                "FRONTDESK_TELEGRAM_TOKEN: Telegram refused the token"
            ) from None
        except TelegramBadRequest as exc:
            raise ChannelUnavailable(f"telegram {what} refused: {exc.message}") from None
        except TelegramAPIError as exc:  # network, 5xx, flood control
            log.warning("telegram: %s failed (%s); trying again in %.0f s", what, exc, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, RETRY_MAX)


async def _serve_webhook(app: App, bot: Bot, running: _Running, stop: asyncio.Event) -> None:
    settings = app.settings
    assert settings.telegram_webhook_url and settings.telegram_webhook_secret
    url, secret = settings.telegram_webhook_url, settings.telegram_webhook_secret
    _RUNNING[id(app)] = running
    try:
        await _retrying(
            "setWebhook",
            lambda: bot.set_webhook(
                url,
                secret_token=secret.get_secret_value(),
                allowed_updates=running.dispatcher.resolve_used_update_types(),
                # One update at a time, so one chat's updates are handled in order.
                max_connections=1,
            ),
            stop,
        )
        log.info("telegram: webhook set, updates arrive on %s", WEBHOOK_PATH)
        # The webhook stays set when we stop: Telegram keeps the updates until we are back.
        await stop.wait()
    finally:
        _RUNNING.pop(id(app), None)


async def _poll(app: App, bot: Bot, running: _Running, stop: asyncio.Event) -> None:
    """Long polling with group commits.

    The updates of one getUpdates are handled in order through aiogram's dispatcher, a few
    at a time in one database transaction (`Database.batch`; each update a savepoint of
    it). The offset that acknowledges them goes with the next getUpdates, only after they
    are committed: a crash loses none, and a chat's updates stay in order.
    """
    # getUpdates is refused while a webhook is set (e.g. after switching modes).
    await _retrying("deleteWebhook", lambda: bot.delete_webhook(drop_pending_updates=False), stop)
    dispatcher = running.dispatcher
    request = GetUpdates(
        timeout=POLLING_TIMEOUT, allowed_updates=dispatcher.resolve_used_update_types()
    )
    delay = 1.0
    while not stop.is_set():
        try:
            polled = await _unless_stopped(
                bot(request, request_timeout=POLLING_TIMEOUT + int(bot.session.timeout)), stop
            )
        except TelegramAPIError as exc:  # network, 5xx, flood control: ask again shortly
            log.warning("telegram: getUpdates failed (%s); again in %.0f s", exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, RETRY_MAX)
            continue
        delay = 1.0
        if polled is None:
            return  # stopped
        try:
            if app.settings.workers:
                await store_polled(app, list(polled))
            else:
                await _handle_polled(app, bot, running, list(polled))
        except Exception:  # the database is away: not acknowledged, so asked for again
            log.exception("telegram: polled updates could not be handled; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY_MAX / 12)
            continue
        if polled:
            request.offset = polled[-1].update_id + 1


async def _handle_polled(app: App, bot: Bot, running: _Running, pending: list[Update]) -> None:
    """Feed the updates to the dispatcher in order, committing every few (see `_poll`)."""
    updates = running.updates
    while pending:
        chunk = _next_chunk(pending)
        updates.answers = []
        try:
            async with app.db.batch():
                started = time.monotonic()
                for n, update in enumerate(chunk, 1):
                    await running.dispatcher.feed_update(bot, update)
                    if time.monotonic() - started > BATCH_HOLD and n < len(chunk):
                        pending[:0] = chunk[n:]  # the rest go in the next batch
                        del chunk[n:]
                        break
        except BatchFailed:
            # One of them failed and took the batch with it: each again in its own
            # transaction, so the others are kept and the failing one is stored for a look.
            log.warning("telegram: a batch of %d updates failed; one by one", len(chunk))
            updates.answers = []
            for update in chunk:
                await running.dispatcher.feed_update(bot, update)
        try:
            updates.wake()
            await updates.send_answers()
        finally:
            updates.answers = None


# ---- with worker processes: store, and let the workers handle -----------------------------


def chat_of(update: Update) -> str:
    """The chat an update belongs to, which orders it among that chat's updates."""
    if update.message is not None:
        return str(update.message.chat.id)
    if update.callback_query is not None:
        query = update.callback_query
        shown = query.message
        return str(shown.chat.id) if shown is not None else str(query.from_user.id)
    if update.my_chat_member is not None:
        return str(update.my_chat_member.chat.id)
    return ""


def _queued(update: Update) -> tuple[str, str, dict[str, Any]]:
    payload = update.model_dump(mode="json", exclude_none=True, by_alias=True)
    return f"tg:{update.update_id}", chat_of(update), payload


async def store_polled(app: App, polled: list[Update]) -> None:
    """Keep the updates of one getUpdates in the inbound queue, in one transaction, and wake
    the workers once it commits; only then does the next getUpdates acknowledge them."""
    if not polled:
        return
    async with app.db.transaction() as session:
        await queue.put(session, CHANNEL, [_queued(update) for update in polled], app.clock.now())
        await signals.notify(session, signals.INBOUND)


async def _queue_webhook(app: App, running: _Running, request: web.Request) -> web.Response:
    """A webhook update, kept in the inbound queue before the answer acknowledges it."""
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not running.webhook.verify_secret(given, running.updates.bot):
        return web.Response(status=401, text="Unauthorized")
    try:
        update = Update.model_validate(await request.json(), context={"bot": running.updates.bot})
    except ValueError:
        return web.Response(status=400, text="not an update")
    await store_polled(app, [update])  # an error answers 500: Telegram sends it again
    return web.Response(text="ok")


def _next_chunk(pending: list[Update]) -> list[Update]:
    """Take the next updates to share a commit: the ones polled together, BATCH_MAX at most."""
    chunk = pending[:BATCH_MAX]
    del pending[:BATCH_MAX]
    return chunk


async def _unless_stopped(call: Awaitable[T], stop: asyncio.Event) -> T | None:
    """The call's result, or None when `stop` is set first (the call is then cancelled)."""
    task = asyncio.ensure_future(call)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


# ---- files ----------------------------------------------------------------------------------


async def download_photo(bot: Bot, file_id: str, path: Path) -> Path:
    """Fetch a photo kept by its file id (getFile, then the file itself) into `path`."""
    found = await bot.get_file(file_id)
    if not found.file_path:
        raise FileNotFoundError(f"telegram has no file for {file_id}")
    path.parent.mkdir(parents=True, exist_ok=True)
    await bot.download_file(found.file_path, destination=path)
    return path
