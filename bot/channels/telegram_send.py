"""Telegram delivery: outbox rows become Bot API calls, paced under Telegram's flood limits.

`TelegramSender` turns one outbox row into a message: text with an inline keyboard of
button tokens (paged when long), a reply keyboard with a share-contact button, a photo
(by file id or uploaded from a local path) or a document; a card already shown in a
chat is edited in place. It sorts failures into retry (429 with its retry_after, network,
5xx) and permanent (bot blocked, chat not found, a request Telegram will never accept).

`run_delivery` drains the outbox with one worker per chat, so a chat that must wait for
its 1-message-a-second slot never holds up the others. A `Pacer` keeps the process
within the per-chat, per-group and overall budgets; one process owns the bot's sending.

Never twice: a row is claimed under a lease, the API is called, and the row is marked
sent right after (bot.delivery). The one remaining window is a crash, or a lost
connection, between Telegram accepting a message and `mark_sent`: the row comes back
when its lease ends and is sent again. The Bot API has no idempotency key to close it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramRetryAfter,
)
from aiogram.types import (
    FSInputFile,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from sqlalchemy import Integer, cast, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels import telegram_buttons
from bot.delivery import SendResult, backoff, deliver_pending
from handlers.clock import Clock
from handlers.i18n import Catalogs
from storage import outbox
from storage.db import Database
from storage.models import Outbox

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

CHANNEL = "telegram"
TEXT_LIMIT = 4096  # characters in one message
CAPTION_LIMIT = 1024  # characters under a photo or document
CONTACT_LABEL = "telegram.keyboard.share_contact"
WORKERS = 50  # chats sent to at the same time
IDLE = 1.0  # seconds between outbox scans when nothing nudges

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def is_group(chat_id: str) -> bool:
    """Telegram gives groups, supergroups and channels negative ids, people positive ones."""
    return chat_id.startswith("-")


class Pacer:
    """Send budgets of one process: per chat (1/s), per group (20/min), overall (30/s).

    `acquire` waits (asyncio.sleep) until a send to the chat fits every budget and books
    it; the check and the booking happen without an await in between, so concurrent
    senders never book the same slot.
    """

    def __init__(
        self,
        per_chat: float = 1.0,
        group_limit: int = 20,
        group_window: float = 60.0,
        overall: int = 30,
        *,
        margin: float = 0.05,  # requests reach Telegram with some jitter
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.per_chat = per_chat
        self.group_limit = group_limit
        self.group_window = group_window
        self.overall = overall
        self.margin = margin
        self._clock = clock
        self._sleep = sleep
        self._last: dict[str, float] = {}
        self._groups: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def delay(self, chat_id: str) -> float:
        """Seconds until a message to the chat would fit every budget (0: now)."""
        now = self._clock()
        waits = [0.0]
        last = self._last.get(chat_id)
        if last is not None:
            waits.append(last + self.per_chat + self.margin - now)
        if is_group(chat_id):
            window = _trim(self._groups.get(chat_id), now - self.group_window)
            if len(window) >= self.group_limit:
                waits.append(window[-self.group_limit] + self.group_window + self.margin - now)
        _trim(self._all, now - 1.0)
        if len(self._all) >= self.overall:
            waits.append(self._all[-self.overall] + 1.0 + self.margin - now)
        return max(waits)

    async def acquire(self, chat_id: str) -> None:
        """Wait for the chat's next slot and book it."""
        while (wait := self.delay(chat_id)) > 0:
            await self._sleep(wait)
        now = self._clock()
        self._last[chat_id] = now
        self._all.append(now)
        if is_group(chat_id):
            self._groups.setdefault(chat_id, deque()).append(now)
        if len(self._last) > 10_000:  # forget chats whose budget is whole again
            self._forget(now)

    def _forget(self, now: float) -> None:
        self._last = {c: t for c, t in self._last.items() if t > now - self.per_chat}
        self._groups = {c: w for c, w in self._groups.items() if _trim(w, now - self.group_window)}


def _trim(times: deque[float] | None, before: float) -> deque[float]:
    """Drop the booked times older than `before`; returns what is left."""
    if times is None:
        return deque()
    while times and times[0] <= before:
        times.popleft()
    return times


class TelegramSender:
    """Delivers telegram outbox rows through an aiogram `Bot` (a `bot.delivery.Sender`)."""

    channel = CHANNEL

    def __init__(
        self,
        bot: Bot,
        db: Database,
        catalogs: Catalogs,
        clock: Clock,
        pacer: Pacer | None = None,
    ) -> None:
        self.bot = bot
        self.db = db
        self.catalogs = catalogs
        self.clock = clock
        self.pacer = pacer or Pacer()
        # chat → until when its later messages wait, because an earlier one is to be
        # retried then; sending them first would change the order the user reads.
        self._held: dict[str, datetime] = {}

    def held(self, chat_id: str) -> timedelta:
        """How much longer the chat's messages wait behind one that is to be retried."""
        until = self._held.get(chat_id)
        left = until - self.clock.now() if until is not None else timedelta(0)
        if left <= timedelta(0):
            self._held.pop(chat_id, None)
            return timedelta(0)
        return left

    async def send(self, row: Outbox) -> SendResult:
        if not row.chat_id.lstrip("-").isdigit():
            return SendResult.permanent(f"not a telegram chat id: {row.chat_id!r}")
        if (left := self.held(row.chat_id)) > timedelta(0):
            # Not a failure of this message: it keeps its place behind the earlier one.
            return SendResult.wait("waiting behind an earlier message", left.total_seconds())
        try:
            message_id = await self._deliver(row)
        except TelegramRetryAfter as exc:
            self._held[row.chat_id] = self.clock.now() + timedelta(seconds=exc.retry_after)
            return SendResult.wait(exc.message, after=exc.retry_after)
        except TelegramMigrateToChat as exc:
            return SendResult.permanent(f"the group is now chat {exc.migrate_to_chat_id}")
        except (TelegramForbiddenError, TelegramBadRequest, TelegramEntityTooLarge) as exc:
            # Blocked, kicked, chat not found, a request Telegram refuses: never works.
            return SendResult.permanent(exc.message)
        except TelegramAPIError as exc:
            # Network, 5xx, a restarting server, a revoked token being fixed: try again.
            self._hold(row, 0)
            return SendResult.retry(f"{type(exc).__name__}: {exc.message}")
        return SendResult.sent(str(message_id))

    def _hold(self, row: Outbox, after: float) -> None:
        # The same delay bot.delivery gives the failed row, so it goes out first again.
        delay = max(timedelta(seconds=after), backoff(row.attempts))
        self._held[row.chat_id] = self.clock.now() + delay

    async def _deliver(self, row: Outbox) -> int:
        """Send (or edit) the row's message; returns the id of the message showing it."""
        payload = row.payload
        async with self.db.transaction() as session:
            markup = await self._markup(session, row)
            editable = await self._editable(session, row, markup)
        if editable is not None:
            edited = await self._edit(row, editable, markup)
            if edited is not None:
                return edited
        text = str(payload.get("text") or "")
        for name in ("photo", "document"):
            if payload.get(name):
                return await self._send_file(row, name, str(payload[name]), text, markup)
        return await self._send_text(row, text, markup)

    async def _markup(self, session: AsyncSession, row: Outbox) -> Markup | None:
        payload = row.payload
        if payload.get("request_contact") and not is_group(row.chat_id):
            return self._contact_keyboard(payload)
        keyboard = await telegram_buttons.page(session, row, 0)
        if keyboard is None and await self._reply_keyboard_shown(session, row.chat_id):
            return ReplyKeyboardRemove()
        return keyboard

    def _contact_keyboard(self, payload: dict[str, Any]) -> ReplyKeyboardMarkup:
        """A share-contact button, then the choices as buttons that type their label
        (the engine matches a typed label to its choice)."""
        locale = str(payload.get("locale") or self.catalogs.default_locale)
        rows = [
            [KeyboardButton(text=self.catalogs.text(locale, CONTACT_LABEL), request_contact=True)]
        ]
        rows += [[KeyboardButton(text=str(b["label"]))] for b in payload.get("buttons") or []]
        return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, one_time_keyboard=True)

    async def _reply_keyboard_shown(self, session: AsyncSession, chat_id: str) -> bool:
        """Did the chat's last message open a share-contact keyboard? Then it goes now."""
        last = (
            await session.exec(
                select(Outbox)
                .where(
                    Outbox.channel == CHANNEL,
                    Outbox.chat_id == chat_id,
                    col(Outbox.sent_at).is_not(None),
                )
                .order_by(col(Outbox.sent_at).desc(), col(Outbox.id).desc())
                .limit(1)
            )
        ).first()
        return bool(last and last.payload.get("request_contact") and not is_group(chat_id))

    async def _editable(
        self, session: AsyncSession, row: Outbox, markup: Markup | None
    ) -> int | None:
        """The message showing this card already, when it can be edited into the new text."""
        payload = row.payload
        card = payload.get("card")
        # A photo card is edited through its caption, which has a shorter limit.
        limit = CAPTION_LIMIT if payload.get("photo") else TEXT_LIMIT
        if (
            not card
            or payload.get("document")
            or len(str(payload.get("text") or "")) > limit
            or not (markup is None or isinstance(markup, InlineKeyboardMarkup))
        ):
            return None
        previous = await outbox.last_sent_for_card(session, CHANNEL, row.chat_id, str(card))
        if previous is None or not previous.external_message_id:
            return None
        return int(previous.external_message_id)

    async def _edit(self, row: Outbox, message_id: int, markup: Markup | None) -> int | None:
        """Edit the card's message; None when it is gone and a new one must be sent."""
        assert markup is None or isinstance(markup, InlineKeyboardMarkup)
        await self.pacer.acquire(row.chat_id)
        text = str(row.payload.get("text") or "")
        try:
            if row.payload.get("photo"):
                await self.bot.edit_message_caption(
                    caption=text,
                    chat_id=int(row.chat_id),
                    message_id=message_id,
                    reply_markup=markup,
                )
            else:
                await self.bot.edit_message_text(
                    text=text,
                    chat_id=int(row.chat_id),
                    message_id=message_id,
                    reply_markup=markup,
                )
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:  # the card already says exactly this
                return message_id
            if any(gone in exc.message for gone in ("not found", "can't be edited", "no text")):
                log.info("telegram: card message %s not editable, sent anew", message_id)
                return None
            raise
        return message_id

    async def _send_text(self, row: Outbox, text: str, markup: Markup | None) -> int:
        """The text, split at line ends past Telegram's length limit; buttons on the last part."""
        parts = split_text(text, TEXT_LIMIT)
        sent: Message | None = None
        for n, part in enumerate(parts):
            await self.pacer.acquire(row.chat_id)
            sent = await self.bot.send_message(
                chat_id=int(row.chat_id),
                text=part,
                reply_markup=markup if n == len(parts) - 1 else None,
            )
        assert sent is not None
        return sent.message_id

    async def _send_file(
        self, row: Outbox, name: str, ref: str, text: str, markup: Markup | None
    ) -> int:
        """A photo or document: a Telegram file id, a URL, or a local file uploaded."""
        path = Path(ref)
        local = await asyncio.to_thread(path.is_file)
        source: FSInputFile | str = FSInputFile(path) if local else ref
        caption = text if len(text) <= CAPTION_LIMIT else None
        await self.pacer.acquire(row.chat_id)
        try:
            if name == "photo":
                sent = await self.bot.send_photo(
                    chat_id=int(row.chat_id),
                    photo=source,
                    caption=caption or None,
                    reply_markup=markup if caption is not None else None,
                )
            else:
                sent = await self.bot.send_document(
                    chat_id=int(row.chat_id),
                    document=source,
                    caption=caption or None,
                    reply_markup=markup if caption is not None else None,
                )
        except TelegramBadRequest as exc:
            if "file" not in exc.message.lower() or not text:
                raise
            # A file Telegram does not know (another channel's id, a file since deleted):
            # the words still matter more than the picture.
            log.warning("telegram: %s %r refused (%s); sending the text alone", name, ref, exc)
            return await self._send_text(row, text, markup)
        if caption is None and text:
            return await self._send_text(row, text, markup)
        return sent.message_id


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """`text` in parts of at most `limit` characters, cut at a line end where there is one."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return parts


async def due_chats(db: Database, now: datetime, limit: int = WORKERS) -> list[str]:
    """Telegram chats with messages due and unclaimed: urgent first, then longest waiting."""
    async with db.transaction() as session:
        stmt = (
            select(col(Outbox.chat_id))
            .where(
                Outbox.channel == CHANNEL,
                col(Outbox.sent_at).is_(None),
                col(Outbox.failed_at).is_(None),
                Outbox.not_before <= now,
                or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) < now),
            )
            .group_by(col(Outbox.chat_id))
            .order_by(
                func.max(cast(col(Outbox.urgent), Integer)).desc(),
                func.min(Outbox.created_at),
            )
            .limit(limit)
        )
        return list((await session.exec(stmt)).all())


async def run_delivery(
    app: App,
    bot: Bot,
    stop: asyncio.Event,
    nudge: asyncio.Event | None = None,
    *,
    pacer: Pacer | None = None,
    idle: float = IDLE,
    workers: int = WORKERS,
) -> None:
    """Deliver the telegram outbox until `stop` is set; `nudge` says new rows were queued.

    Each chat with messages due gets a worker that sends them one by one, in order,
    waiting for the chat's slot *before* claiming a row, so a lease never runs out while
    a message waits for its turn.
    """
    sender = TelegramSender(bot, app.db, app.catalogs, app.clock, pacer)
    running: dict[str, asyncio.Task[None]] = {}
    while not stop.is_set():
        running = {chat: task for chat, task in running.items() if not task.done()}
        try:
            chats = await due_chats(app.db, app.clock.now(), limit=workers)
        except Exception:  # the database is away: keep the loop, try again shortly
            log.exception("telegram: reading the outbox failed")
            chats = []
        for chat_id in chats:
            if chat_id not in running and len(running) < workers:
                running[chat_id] = asyncio.create_task(_drain(app, sender, chat_id, stop))
        await _wait(stop, nudge, idle)
    # Let each worker finish the message it is sending; none starts another.
    await asyncio.gather(*running.values(), return_exceptions=True)


async def _drain(app: App, sender: TelegramSender, chat_id: str, stop: asyncio.Event) -> None:
    """Send one chat's due messages, each after its slot opened; stop on the first failure."""
    try:
        while not stop.is_set() and sender.held(chat_id) <= timedelta(0):
            wait = sender.pacer.delay(chat_id)
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                continue
            if not await deliver_pending(app.db, sender, app.clock, chat_ids=[chat_id], limit=1):
                return  # nothing due, or it failed and was rescheduled
    except Exception:
        log.exception("telegram: delivering to chat %s failed", chat_id)


async def _wait(stop: asyncio.Event, nudge: asyncio.Event | None, seconds: float) -> None:
    """Until stop, a nudge or `seconds`, whichever comes first; clears the nudge."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if nudge is not None:
        waiters.append(asyncio.ensure_future(nudge.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    if nudge is not None:
        nudge.clear()
