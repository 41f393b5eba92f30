"""Telegram delivery: outbox rows become Bot API calls, paced under Telegram's flood limits.

`TelegramSender` turns one outbox row into a message: text with an inline keyboard of
button tokens (paged when long), a reply keyboard with a share-contact button, a photo
(by file id or uploaded from a local path) or a document; a card already shown in a
chat is edited in place. It sorts failures into retry (429 with its retry_after, network,
5xx) and permanent (bot blocked, chat not found, a request Telegram will never accept).

`run_delivery` drains the outbox with one worker per chat, so a chat that must wait for
its 1-message-a-second slot never holds up the others, and serves replies before
announcements (bulk rows). A `Pacer` keeps the process within the per-chat, per-group
and overall budgets, counting each send from Telegram's answer; one process owns the
bot's sending.

In order: a chat's messages reach it in the order they were queued, whatever Telegram
refuses. The outbox gives out a chat's next message only when none ahead of it is still
on its way (being sent, or waiting out a 429's retry_after or a failure's backoff), so
the sender needs no memory of its own for it.

Never twice: a row is claimed under a lease, the API is called, and the row is marked
sent right after (bot.delivery), tried again while the database is busy. The one
remaining window is a crash, or a lost connection, between Telegram accepting a message
and `mark_sent`: the row comes back when its lease ends and is sent again. The Bot API
has no idempotency key to close it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
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

from bot.channels import telegram_buttons
from bot.delivery import SendResult, deliver_pending
from handlers.core.clock import Clock
from handlers.core.i18n import Catalogs
from storage import outbox
from storage.db import Database

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.app import App
    from storage.models import Outbox

log = logging.getLogger(__name__)

CHANNEL = "telegram"
TEXT_LIMIT = 4096  # characters in one message
CAPTION_LIMIT = 1024  # characters under a photo or document
CONTACT_LABEL = "telegram.keyboard.share_contact"
WORKERS = 50  # chats sent to at the same time
BULK_WORKERS = 10  # of those, for chats with only announcements: enough for 30/s, and
# few, so a notice claimed ahead of a resident's reply in the same chat is sent soon
SCAN = 200  # chats read from the outbox at a time
IDLE = 1.0  # seconds between outbox scans when nothing nudges
# Seconds between outbox scans while chats read by the last one still wait for a place (a
# backlog): nudges then come faster than a scan of every pending row is worth.
RESCAN_BUSY = 0.5

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def is_group(chat_id: str) -> bool:
    """Telegram gives groups, supergroups and channels negative ids, people positive ones."""
    return chat_id.startswith("-")


class Pacer:
    """Send budgets of one process: per chat (1/s), per group (20/min), overall (30/s).

    A send holds its place in every budget from `acquire` until its answer is in
    (`release`), and from then on counts as made at the moment of the answer. Telegram
    received the request at some moment before it answered, so a send the budgets then
    allow can never reach Telegram too early, however long or unevenly requests travel.
    (Counting from the moment of sending needs a margin for that jitter: 50 ms was too
    little on a busy machine, and the margin alone cost 5 % of the overall rate.)

    Senders whose chat's own budget allows a message wait in line for the overall
    budget: replies first, then bulk sends (announcements), first come first served
    within each, so no chat starves behind newcomers and a reply never queues behind a
    broadcast. The check and the booking happen without an await in between, so
    concurrent senders never take the same slot.
    """

    def __init__(
        self,
        per_chat: float = 1.0,
        group_limit: int = 20,
        group_window: float = 60.0,
        overall: int = 30,
        *,
        margin: float = 0.0,  # extra seconds on every budget, should Telegram count later
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
        self._last: dict[str, float] = {}  # chat → when its last send was answered
        self._groups: dict[str, deque[float]] = {}  # group → answers within its window
        self._all: deque[float] = deque()  # answers within the last second
        self._flying: dict[str, int] = {}  # chat → sends not answered yet
        self._in_flight = 0
        # The line for the overall budget: ((bulk, arrival), woken when first in line).
        self._line: list[tuple[tuple[int, int], asyncio.Event]] = []
        self._arrivals = itertools.count()

    def delay(self, chat_id: str) -> float:
        """Seconds until a message to the chat would fit every budget (0: now)."""
        now = self._clock()
        return max(self._chat_wait(chat_id, now), self._overall_wait(now))

    def chat_delay(self, chat_id: str) -> float:
        """Seconds until the chat's own budgets (per chat, per group) allow a message."""
        return self._chat_wait(chat_id, self._clock())

    async def acquire(self, chat_id: str, *, bulk: bool = False) -> None:
        """Wait until a send to the chat fits every budget, then hold its place in them
        until `release`."""
        while (wait := self.chat_delay(chat_id)) > 0:
            await self._sleep(wait)
        ticket = (int(bulk), next(self._arrivals))
        turn = asyncio.Event()
        heapq.heappush(self._line, (ticket, turn))
        try:
            while True:
                if self._line[0][0] != ticket:
                    turn.clear()
                    await turn.wait()  # until those ahead have their slots
                elif (wait := self._overall_wait(self._clock())) > 0:
                    await self._sleep(wait)
                else:
                    break
        finally:
            self._line.remove((ticket, turn))
            heapq.heapify(self._line)
            if self._line:
                self._line[0][1].set()  # the next in line looks for its slot
        self._flying[chat_id] = self._flying.get(chat_id, 0) + 1
        self._in_flight += 1

    def release(self, chat_id: str) -> None:
        """Telegram answered a send to the chat (whatever it said): it counts from now."""
        now = self._clock()
        left = self._flying.get(chat_id, 0) - 1
        if left > 0:
            self._flying[chat_id] = left
        else:
            self._flying.pop(chat_id, None)
        self._in_flight = max(0, self._in_flight - 1)
        # The clock only moves forward, so appending keeps every window in order.
        self._last[chat_id] = now
        self._all.append(now)
        if is_group(chat_id):
            self._groups.setdefault(chat_id, deque()).append(now)
        if len(self._last) > 10_000:  # forget chats whose budget is whole again
            self._forget(now)

    @contextlib.asynccontextmanager
    async def sending(self, chat_id: str, *, bulk: bool = False) -> AsyncIterator[None]:
        """One request to the chat: its slot is taken before and counted from its answer."""
        await self.acquire(chat_id, bulk=bulk)
        try:
            yield
        finally:
            self.release(chat_id)

    def _chat_wait(self, chat_id: str, now: float) -> float:
        flying = self._flying.get(chat_id, 0)
        if flying:  # its answer can only come later than now
            wait = self.per_chat + self.margin
        else:
            last = self._last.get(chat_id)
            wait = 0.0 if last is None else last + self.per_chat + self.margin - now
        if is_group(chat_id):
            window = _trim(self._groups.get(chat_id), now - self.group_window)
            span = self.group_window + self.margin
            wait = max(wait, _window_wait(window, flying, self.group_limit, span, now))
        return max(wait, 0.0)

    def _overall_wait(self, now: float) -> float:
        window = _trim(self._all, now - 1.0)
        return _window_wait(window, self._in_flight, self.overall, 1.0 + self.margin, now)

    def _forget(self, now: float) -> None:
        self._last = {
            c: t for c, t in self._last.items() if t > now - self.per_chat or c in self._flying
        }
        self._groups = {c: w for c, w in self._groups.items() if _trim(w, now - self.group_window)}


def _window_wait(times: deque[float], flying: int, limit: int, window: float, now: float) -> float:
    """Seconds until one more send fits `limit` per `window`, given the answered sends in
    the window (`times`, oldest first) and `flying` sends whose answers, not in yet, can
    only come later than now."""
    if len(times) + flying < limit:
        return 0.0
    if flying >= limit:
        return window
    return times[len(times) + flying - limit] + window - now


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

    async def send(self, row: Outbox) -> SendResult:
        if not row.chat_id.lstrip("-").isdigit():
            return SendResult.permanent(f"not a telegram chat id: {row.chat_id!r}")
        try:
            message_id = await self._deliver(row)
        except TelegramRetryAfter as exc:
            # The chat's later messages wait for this one in the outbox (storage.outbox).
            return SendResult.wait(exc.message, after=exc.retry_after)
        except TelegramMigrateToChat as exc:
            return SendResult.permanent(f"the group is now chat {exc.migrate_to_chat_id}")
        except (TelegramForbiddenError, TelegramBadRequest, TelegramEntityTooLarge) as exc:
            # Blocked, kicked, chat not found, a request Telegram refuses: never works.
            return SendResult.permanent(exc.message)
        except TelegramAPIError as exc:
            # Network, 5xx, a restarting server, a revoked token being fixed: try again.
            return SendResult.retry(f"{type(exc).__name__}: {exc.message}")
        return SendResult.sent(str(message_id))

    async def _deliver(self, row: Outbox) -> int:
        """Send (or edit) the row's message; returns the id of the message showing it."""
        payload = row.payload
        markup, editable = await self.prepare(row)
        if editable is not None:
            edited = await self._edit(row, editable, markup)
            if edited is not None:
                return edited
        text = str(payload.get("text") or "")
        for name in ("photo", "document"):
            if payload.get(name):
                return await self._send_file(row, name, str(payload[name]), text, markup)
        return await self._send_text(row, text, markup)

    async def prepare(self, row: Outbox) -> tuple[Markup | None, int | None]:
        """What the row's message needs from the store: its keyboard, and the message
        already showing its card (to edit in place), if any."""
        async with self.db.transaction() as session:
            markup = await self._markup(session, row)
            return markup, await self._editable(session, row, markup)

    async def _markup(self, session: AsyncSession, row: Outbox) -> Markup | None:
        payload = row.payload
        if payload.get("request_contact") and not is_group(row.chat_id):
            return self._contact_keyboard(payload)
        keyboard = await telegram_buttons.page(session, row, 0, now=self.clock.now())
        # An announcement leaves a share-contact keyboard alone: it belongs to the
        # conversation the resident may be in the middle of.
        if keyboard is None and not row.bulk:
            if await self._reply_keyboard_shown(session, row.chat_id):
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
        last = await outbox.last_sent_to_chat(session, CHANNEL, chat_id)
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
        text = str(row.payload.get("text") or "")
        try:
            async with self.pacer.sending(row.chat_id, bulk=row.bulk):
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
            async with self.pacer.sending(row.chat_id, bulk=row.bulk):
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
        try:
            async with self.pacer.sending(row.chat_id, bulk=row.bulk):
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


@dataclass(frozen=True)
class DueChat:
    """A chat with messages due: how many, and whether all are bulk (announcements)."""

    chat_id: str
    rows: int
    bulk: bool


async def due_chats(db: Database, now: datetime, limit: int = SCAN) -> list[DueChat]:
    """Telegram chats with messages due and unclaimed, in the order to serve them: urgent
    first, then those with a reply waiting (not only announcements), then longest waiting."""
    async with db.transaction() as session:
        rows = await outbox.due_chats(session, CHANNEL, now, limit)
    return [DueChat(chat_id, count, bulk) for chat_id, count, bulk in rows]


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
    a message waits for its turn. The outbox is read a few hundred chats at a time: again
    when nudged, every `idle` seconds, and when those read are all started; a worker's
    place goes to the next chat as soon as it is done. Chats with only announcements take
    at most `BULK_WORKERS` places, so a reply always finds one free; a chat read while its
    worker was busy (a reply queued behind a notice) gets a worker again when that ends.
    """
    sender = TelegramSender(bot, app.db, app.catalogs, app.clock, pacer)
    loop = asyncio.get_running_loop()
    running: dict[str, asyncio.Task[None]] = {}
    waiting: list[DueChat] = []  # read from the outbox, not started yet, in order
    bulk_chats: set[str] = set()  # running chats that have only announcements
    freed = asyncio.Event()
    scanned, full, nudged = -math.inf, False, True
    while not stop.is_set():
        running = {chat: task for chat, task in running.items() if not task.done()}
        bulk_chats = {chat for chat in bulk_chats if chat in running}
        since = loop.time() - scanned
        # A nudge reads the outbox at once, unless chats read before still wait for a
        # place: then a read (every pending row, grouped) is no use more often than this.
        held_back = nudged and bool(waiting) and since < RESCAN_BUSY
        if (nudged and not held_back) or since >= idle or (full and not waiting):
            held_back = False
            scanned = loop.time()
            try:
                waiting = await due_chats(app.db, app.clock.now())
            except Exception:  # the database is away: keep the loop, try again shortly
                log.exception("telegram: reading the outbox failed")
                waiting = []
            full = len(waiting) >= SCAN
        for due in [due for due in waiting if due.chat_id not in running]:
            if len(running) >= workers or (due.bulk and len(bulk_chats) >= BULK_WORKERS):
                break  # no room: the rest wait (replies come first in `waiting`)
            waiting.remove(due)
            task = asyncio.create_task(_drain(app, sender, due, stop))
            task.add_done_callback(lambda _: freed.set())
            running[due.chat_id] = task
            if due.bulk:
                bulk_chats.add(due.chat_id)
        until = scanned + (RESCAN_BUSY if held_back else idle)
        nudged = await _wait(stop, nudge, freed, until - loop.time()) or held_back
    # Let each worker finish the message it is sending; none starts another.
    await asyncio.gather(*running.values(), return_exceptions=True)


async def _drain(app: App, sender: TelegramSender, due: DueChat, stop: asyncio.Event) -> None:
    """Send the chat's due messages, each once the chat's own budget allows one; stop on the
    first failure. Messages queued since the outbox was read wait for the next read.

    Only the chat's budget is waited for before claiming: it may be a minute (a group);
    the overall budget, a second at most, is waited for in `Pacer.acquire`, where a
    reply goes before the announcements."""
    chat_id = due.chat_id
    try:
        for _ in range(due.rows):
            while not stop.is_set() and (wait := sender.pacer.chat_delay(chat_id)) > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
            if stop.is_set():
                return
            # The chat's next message in order: none is given out past one to be retried.
            if not await deliver_pending(app.db, sender, app.clock, chat_ids=[chat_id], limit=1):
                return  # nothing due, or it failed and was rescheduled
    except Exception:
        log.exception("telegram: delivering to chat %s failed", chat_id)


async def _wait(
    stop: asyncio.Event, nudge: asyncio.Event | None, freed: asyncio.Event, seconds: float
) -> bool:
    """Until stop, a nudge, a freed place or `seconds`; returns whether nudged. Clears both."""
    events = [stop, freed] if nudge is None else [stop, freed, nudge]
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=max(seconds, 0.0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    freed.clear()
    if nudge is None or not nudge.is_set():
        return False
    nudge.clear()
    return True
