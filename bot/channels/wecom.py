"""The WeCom (企业微信) channel: staff work their tickets by replying to the app.

In: WeCom posts every message a staff member sends to the app to `/wecom`, signed and
encrypted (verified and decrypted with wechatpy's enterprise crypto; a bad signature or
corp id, a timestamp out of the replay window or a nonce already used by another message
is answered 403 and nothing is stored, malformed XML and any DOCTYPE/ENTITY markup 400).
The callback answers an empty 200 within WeCom's 5 seconds once the message is stored
(in the database, or in the spool when the database is too slow); replies go through the
outbox as app messages. A staff member is a `StaffMember` with channel
`wecom` and the WeCom UserID; their chat with the app is a private chat named by it.

Staff type one line per action, in Chinese or English: `接单 R-261126-0007`,
`完成 R-… 已更换水龙头 金额 80`, `我的任务`, a slash command, a step's answer. The adapter
hands each text or image to the engine as a neutral message; the verbs are commands of
the task feature that every channel understands (dialogs/tasks.py, handlers/task_verbs.py),
with the same checks as the buttons. WeCom has no buttons: a number or label typed after
a message with choices ("which colleague?") is that choice, except at a flow's question,
which the engine reads itself.

Out: outbox rows of channel `wecom` are sent as app messages. A chat id names the target:

  party:<department id>   message/send to a WeCom department (toparty)
  tag:<tag id>            message/send to a WeCom tag (totag)
  chat:<chat id>          appchat/send to an app group chat
  user:<UserID> or a bare UserID   message/send to one staff member (touser)

so a department's `StaffGroup` row (channel `wecom`) holds e.g. `party:2`. Cards become
text cards (title: the first line; description: the rest and one "回复：接单 R-…" line per
option, typed as the task feature reads it), or a text message when too long for one.
WeCom cannot edit a sent message, so an updated card arrives as a new message.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xmltodict
from aiohttp import web
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from bot.channels import ChannelUnavailable
from bot.channels.wecom_api import WeComAPI, WeComError, WeComUnavailable
from bot.delivery import SendResult, deliver_pending
from bot.http import Notices, Replayed, ReplayGuard, Stale, Stamp
from dialogs.sending import send
from handlers import accounts, people, task_verbs
from handlers.core.clock import Clock, SystemClock
from handlers.core.ids import number
from handlers.core.messages import Incoming, Recipient, Reply
from storage import inbound, outbox
from storage.inbound import Spool, database_unavailable

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.app import App
    from storage.models import Community, Outbox, StaffGroup

log = logging.getLogger(__name__)

CHANNEL = "wecom"
PATH = "/wecom"
ANSWER_WITHIN = 4.0  # seconds; WeCom gives up (and retries) after 5
SPOOL_RESERVE = 0.5  # seconds of those kept for writing the spool
SPOOL_GRACE = 60.0  # a spooled message still unstored this long is handled by the loop
SPOOL_INTERVAL = 5.0  # seconds between two looks at the spool
PURGE_INTERVAL = 60.0  # seconds between two purges of old nonces
IDLE_SLEEP = 1.0  # seconds the delivery loop waits when nothing is due
# Markup WeChat never sends; with it an XML parser could be made to expand entities.
FORBIDDEN_MARKUP = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
MAX_USER_ID = 64
MAX_MESSAGE_ID = 100  # stored as `wecom:<id>` in a 120-character column
TITLE_BYTES, CARD_BYTES, TEXT_BYTES = 128, 512, 2048  # WeCom's limits
CARD_URL = "https://work.weixin.qq.com"  # a text card must link somewhere
# The value of a flow question's last choice: a number typed at it is the engine's to read.
CANCEL = "ctl:cancel"
# WeCom error codes that will fail the same way however often they are tried.
PERMANENT = frozenset(
    {
        40003,  # invalid UserID
        40035,  # invalid parameter
        44004,  # empty content
        45002,  # content too long
        47001,  # data format error
        81013,  # every user, department and tag invalid
        86003,  # the app chat does not exist
    }
)
RATE_LIMITED = frozenset({45009, 45033, 45047})


# ---- the callback -------------------------------------------------------------------------


class Rejected(Exception):
    """A callback request that is not WeCom's: answered with `status`, nothing stored."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def crypto_for(app: App) -> WeChatCrypto:
    settings = app.settings
    token, aes_key = settings.wecom_token, settings.wecom_aes_key
    if not (settings.wecom_corp_id and token and aes_key):
        raise ChannelUnavailable(
            "FRONTDESK_WECOM_TOKEN and FRONTDESK_WECOM_AES_KEY are needed for the /wecom callback"
        )
    try:
        return WeChatCrypto(
            token.get_secret_value(), aes_key.get_secret_value(), settings.wecom_corp_id
        )
    except (AssertionError, ValueError):
        raise ChannelUnavailable("FRONTDESK_WECOM_AES_KEY must be the 43-character key") from None


def open_envelope(crypto: WeChatCrypto, query: dict[str, str], body: bytes) -> str:
    """The decrypted message XML of a callback POST; `Rejected` if it is not genuine."""
    if FORBIDDEN_MARKUP.search(body):
        raise Rejected(400, "DOCTYPE and ENTITY are not accepted")
    missing = [name for name in ("msg_signature", "timestamp", "nonce") if not query.get(name)]
    if missing:
        raise Rejected(400, f"missing {', '.join(missing)}")
    try:
        envelope = xmltodict.parse(body, disable_entities=True)
    except Exception:  # expat's errors and xmltodict's own: not XML we can read
        raise Rejected(400, "malformed XML") from None
    fields = envelope.get("xml") if isinstance(envelope, dict) else None
    encrypted = fields.get("Encrypt") if isinstance(fields, dict) else None
    if not isinstance(encrypted, str) or not encrypted:
        raise Rejected(400, "no Encrypt element")
    try:
        plain = crypto.decrypt_message(
            {"Encrypt": encrypted}, query["msg_signature"], query["timestamp"], query["nonce"]
        )
    except (InvalidSignatureException, InvalidCorpIdException):
        raise Rejected(403, "bad signature or corp id") from None
    except Exception:  # bad base64 or padding under a valid signature
        raise Rejected(400, "cannot decrypt") from None
    if FORBIDDEN_MARKUP.search(plain.encode()):
        raise Rejected(400, "DOCTYPE and ENTITY are not accepted")
    return str(plain)


@dataclass(frozen=True)
class Received:
    """One message from a staff member, as much of it as the front desk uses."""

    kind: str  # text, image, event, or another WeCom message type
    user: str  # the WeCom UserID
    message_id: str
    text: str = ""
    media_id: str = ""
    agent: str = ""


def read_message(xml: str) -> Received:
    """The fields of a decrypted WeCom message; `Rejected` when it cannot be read."""
    try:
        message = parse_message(xml)
        # MsgId and CreateTime convert when read: a value that is no number is forged.
        raw_id = getattr(message, "id", None) or f"{message.source}:{message.create_time}"
    except Exception:
        raise Rejected(400, "unreadable message") from None
    if message is None or not getattr(message, "source", None):
        raise Rejected(400, "no sender")
    if len(str(message.source)) > MAX_USER_ID or len(str(raw_id)) > MAX_MESSAGE_ID:
        raise Rejected(400, "sender or message id too long")  # UserIDs have at most 64
    return Received(
        kind=str(message.type),
        user=str(message.source),
        message_id=f"{CHANNEL}:{raw_id}",
        text=str(getattr(message, "content", "") or ""),
        media_id=str(getattr(message, "media_id", "") or ""),
        agent=str(getattr(message, "agent", "") or ""),
    )


@dataclass
class _InFlight:
    """A message being handled, how many requests (WeCom's retries) wait for it, and
    the writing of its spool copy once a request had to answer before it was stored."""

    task: asyncio.Task[None]
    stamp: Stamp
    waiting: int = 0
    spooled: asyncio.Task[None] | None = None


class Callback:
    """The `/wecom` endpoint of one application.

    It answers within WeCom's 5 seconds whatever the database does: a message not yet
    stored by then is written to the spool (a synced file) first, and handled as soon as
    the database takes it (by the delivery loop after a restart); only a message stored
    nowhere is answered 503, so that WeCom sends it again.
    """

    def __init__(self, app: App, clock: Clock | None = None) -> None:
        self.app = app
        self.crypto = crypto_for(app)
        window = timedelta(seconds=app.settings.callback_replay_window_seconds)
        self.guard = ReplayGuard(CHANNEL, window, clock or SystemClock())
        self.spool = Spool(Path(app.settings.data_dir) / "spool" / CHANNEL)
        self.notices = Notices(log)
        # Messages being handled now: WeCom's retry of one waits for the same work.
        self._inflight: dict[str, _InFlight] = {}
        self._background: set[asyncio.Task[None]] = set()

    def routes(self) -> list[web.RouteDef]:
        return [web.get(PATH, self.verify), web.post(PATH, self.receive)]

    async def verify(self, request: web.Request) -> web.Response:
        """URL verification: echo the decrypted `echostr` when the signature is right."""
        query = request.query
        if not all(query.get(n) for n in ("msg_signature", "timestamp", "nonce", "echostr")):
            return web.Response(status=400, text="missing parameters")
        try:
            echo = self.crypto.check_signature(
                query["msg_signature"], query["timestamp"], query["nonce"], query["echostr"]
            )
        except (InvalidSignatureException, InvalidCorpIdException):
            return web.Response(status=403, text="bad signature")
        except Exception:
            return web.Response(status=400, text="cannot decrypt")
        return web.Response(text=str(echo))

    async def receive(self, request: web.Request) -> web.Response:
        deadline = asyncio.get_running_loop().time() + ANSWER_WITHIN
        query = dict(request.query)
        try:
            xml = open_envelope(self.crypto, query, await request.read())
            stamp = self.guard.stamp(query["timestamp"], query["nonce"])
            received = read_message(xml)
            stamp = stamp.of(received.user, received.message_id)
            self.guard.check_here(stamp)
        except Rejected as rejected:
            return self._refuse(rejected.status, rejected.reason)
        except (Stale, Replayed) as refused:
            return self._refuse(403, str(refused))
        agent = self.app.settings.wecom_agent_id
        if received.agent and agent and received.agent != agent:
            return web.Response(text="")  # another app of the company: not ours to answer
        key = received.message_id
        entry = self._inflight.get(key)
        if entry is None:
            entry = _InFlight(asyncio.create_task(self._handle(received, stamp)), stamp)
            self._inflight[key] = entry
            entry.task.add_done_callback(lambda task: self._finished(key, entry, task))
        elif stamp.key != entry.stamp.key:  # a retry under a new nonce: every worker knows it
            self._spawn(self._remember(stamp))
        entry.waiting += 1
        try:
            # Answer in time either way; a slow message finishes in the background.
            left = deadline - SPOOL_RESERVE - asyncio.get_running_loop().time()
            await asyncio.wait({entry.task}, timeout=max(left, 0.0))
        finally:
            entry.waiting -= 1
        record = {"id": key, "xml": xml, "stamp": stamp.record()}
        if not entry.task.done():
            return await self._keep(entry, key, record, deadline)
        if entry.task.cancelled():  # shutting down: WeCom sends it again
            return web.Response(status=503, text="")
        error = entry.task.exception()
        if error is None:
            return web.Response(text="")
        if isinstance(error, Replayed):
            return self._refuse(403, str(error))
        if database_unavailable(error):  # down, not slow: the spool keeps it
            return await self._keep(entry, key, record, deadline)
        log.error("wecom: handling %s failed", key, exc_info=error)
        return web.Response(status=500, text="")  # nothing was stored: WeCom retries

    def _refuse(self, status: int, why: str) -> web.Response:
        self.notices.note(f"refused {status}", "wecom: callbacks refused (%s): %s", status, why)
        return web.Response(status=status, text=why)

    async def _keep(
        self, entry: _InFlight, key: str, record: dict[str, Any], deadline: float
    ) -> web.Response:
        """Answer for a message not stored in time, once the spool holds it."""
        if entry.spooled is None or _failed(entry.spooled):
            entry.spooled = asyncio.create_task(self.spool.put(key, record))
        left = max(deadline - asyncio.get_running_loop().time(), 0.05)
        try:
            await asyncio.wait_for(asyncio.shield(entry.spooled), left)
        except Exception:
            log.exception("wecom: %s could not be kept in the spool either", key)
            return web.Response(status=503, text="")  # stored nowhere: WeCom retries
        log.info("wecom: %s not stored in time; kept in the spool, handled later", key)
        return web.Response(text="")

    async def _handle(self, received: Received, stamp: Stamp | None) -> None:
        """Handle one message; `Replayed` (nothing stored) when its nonce is another's."""
        if stamp is not None:
            async with self.app.db.transaction() as session:
                await self.guard.check_stored(session, stamp)
        await handle(self.app, received)

    def _finished(self, key: str, entry: _InFlight, task: asyncio.Task[None]) -> None:
        self._inflight.pop(key, None)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not isinstance(error, Replayed):
            if entry.waiting == 0:
                where = "the spool keeps it" if entry.spooled is not None else "not kept"
                log.error("wecom: handling %s failed after the answer; %s", key, where)
            return
        if entry.spooled is not None:
            self._spawn(self._unspool(entry.spooled, key))

    async def _remember(self, stamp: Stamp) -> None:
        with contextlib.suppress(Exception):  # a nonce already known, or the database away
            async with self.app.db.transaction() as session:
                await self.guard.check_stored(session, stamp)

    async def _unspool(self, written: asyncio.Task[None], key: str) -> None:
        with contextlib.suppress(Exception):
            await written
        await self.spool.drop(key)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, older_than: float = SPOOL_GRACE) -> int:
        """Handle the messages the spool kept for `older_than` seconds; how many (see
        `WeChatCallback.drain`)."""
        handled = 0
        for record in await self.spool.waiting(older_than):
            key = str(record.get("id", ""))
            if key in self._inflight:
                continue
            try:
                stamp = Stamp.from_record(record["stamp"]) if record.get("stamp") else None
                await self._handle(read_message(str(record["xml"])), stamp)
            except Replayed:
                log.warning("wecom: spooled %s was a replay; dropped", key)
            except Exception as exc:
                if database_unavailable(exc):
                    log.warning("wecom: the database is still away; %s stays in the spool", key)
                    break
                log.exception("wecom: spooled %s cannot be handled; set aside", key)
                await self.spool.set_aside(key)
                continue
            else:
                handled += 1
            await self.spool.drop(key)
        return handled

    async def settle(self) -> None:
        """Wait for messages still being handled after their answer (tests, shutdown)."""
        while self._inflight or self._background:
            pending = [e.task for e in self._inflight.values()] + list(self._background)
            await asyncio.wait(pending)

    def abandon(self) -> None:
        """Stop the work still running, at once, as a process that dies would (tests; a
        shutdown that cannot wait): what was answered but not stored stays in the spool
        for the next start's delivery loop. A task waiting for a locked database gives
        up its connection only when the lock goes, so this does not wait for them."""
        for task in [e.task for e in self._inflight.values()] + list(self._background):
            task.cancel()


def _failed(task: asyncio.Task[Any]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


def routes(app: App) -> list[web.RouteDef]:
    """`/wecom` on the process's HTTP listener."""
    return Callback(app).routes()


# ---- from a staff member's message to the engine ----------------------------------------


async def handle(app: App, received: Received) -> None:
    """Hand one staff message to the engine as a neutral message.

    What staff type (`接单 R-…`, `完成 R-… 已更换水龙头 金额 80`, `我的任务`, a slash command, a
    step's answer) is read by the engine and the task feature, as on every channel. A
    message WeCom sends that carries nothing to read (a voice note, a file) is answered
    with a notice of this channel's own.
    """
    if received.kind == "event":
        return  # entering the app, menu clicks: nothing to answer
    if received.kind not in ("text", "image"):
        await say(app, received, Reply("wecom.unsupported"))
        return
    await app.engine.handle(await to_incoming(app, received))


async def to_incoming(app: App, received: Received) -> Incoming:
    """The neutral message for a text or an image; a typed number or label that picks an
    option of the last message shown is that option (WeCom has no buttons)."""
    fields: dict[str, Any] = {}
    if received.kind == "image":
        fields["photo"] = f"wecom:{received.media_id}"
    else:
        text = received.text.strip()
        option = await pressed(app, received.user, text)
        fields = {"option": option} if option is not None else {"text": text}
    return Incoming(
        channel=CHANNEL,
        chat_id=received.user,
        user_id=received.user,
        at=app.clock.now(),
        message_id=received.message_id,
        chat_kind="private",
        **fields,
    )


async def pressed(app: App, user: str, text: str) -> str | None:
    """The option a typed number or label picks on the last message to this chat.

    Not on a card (its options are typed with their verbs and the ticket's number), nor
    on a flow's question (it ends with "cancel"): the engine reads the answer to its own
    question, knowing the step (at an amount, "1" is one yuan, not the first choice).
    """
    async with app.db.transaction() as session:
        last = await outbox.last_queued_to_chat(session, CHANNEL, user)
    if last is None or last.payload.get("card"):
        return None
    buttons = last.payload.get("buttons") or []
    if not buttons or str(buttons[-1].get("value")) == CANCEL:
        return None
    typed = number(text)
    if typed is not None and 1 <= typed <= len(buttons):
        return str(buttons[typed - 1]["value"])
    for button in buttons:
        if str(button.get("label", "")).strip().lower() == text.lower():
            return str(button["value"])
    return None


async def say(app: App, received: Received, reply: Reply) -> None:
    """Answer a message the engine cannot read, once (WeCom retries), in the user's language."""
    now = app.clock.now()
    async with app.db.transaction() as session:
        first = await inbound.accept(
            session,
            channel=CHANNEL,
            external_id=received.message_id,
            chat_id=received.user,
            payload={"kind": received.kind},
            now=now,
        )
        if not first:
            return
        locale = await accounts.chosen_locale(session, CHANNEL, received.user)
        await send(
            session,
            [reply],
            catalogs=app.catalogs,
            settings=app.settings,
            now=now,
            answering=Recipient(CHANNEL, received.user, locale or app.settings.default_locale),
        )
        await inbound.mark_handled(session, CHANNEL, received.message_id, now)


# ---- from the outbox to WeCom -----------------------------------------------------------


def address(chat_id: str) -> tuple[str, dict[str, str]] | None:
    """(API, target) for a chat id: `party:2`, `tag:5`, `chat:ops`, `user:wang` or `wang`."""
    kind, sep, value = chat_id.partition(":")
    if not sep:
        kind, value = "user", chat_id
    if not value or value == "@all":
        return None  # never the whole company by accident
    if kind == "chat":
        return "appchat", {"chatid": value}
    field = {"party": "toparty", "tag": "totag", "user": "touser"}.get(kind)
    return ("message", {field: value}) if field else None


def _fit(text: str, limit: int) -> str:
    """`text` cut to `limit` UTF-8 bytes, marked with an ellipsis when cut."""
    if len(text.encode()) <= limit:
        return text
    cut = text.encode()[: max(limit - 3, 0)].decode(errors="ignore")
    return cut + "…"


def compose(payload: dict[str, Any], lines: list[str]) -> tuple[str, dict[str, str]]:
    """(msgtype, content): a text card for a card that fits one, else a text message."""
    text = str(payload.get("text", "")).strip()
    if payload.get("card"):
        title, _, body = text.partition("\n")
        parts = [html.escape(line) for line in body.split("\n") if line.strip()]
        description = "<br>".join(parts)
        if lines:
            actions = "<br>".join(html.escape(line) for line in lines)
            description += f'<div class="highlight">{actions}</div>'
        if len(description.encode()) <= CARD_BYTES:
            return "textcard", {
                "title": _fit(title, TITLE_BYTES),
                "description": description,
                "url": CARD_URL,
            }
    tail = "\n\n" + "\n".join(lines) if lines else ""
    room = TEXT_BYTES - len(tail.encode())
    return "text", {"content": _fit(text, room) + tail}


class WeComSender:
    """Sends `wecom` outbox rows as app messages (see the module docstring for chat ids)."""

    channel = CHANNEL

    def __init__(self, app: App, api: WeComAPI) -> None:
        self.app = app
        self.api = api

    async def send(self, row: Outbox) -> SendResult:
        target = address(row.chat_id)
        if target is None:
            return SendResult.permanent(f"no WeCom target in chat id {row.chat_id!r}")
        msgtype, content = compose(row.payload, await self.lines(row.payload))
        try:
            if target[0] == "appchat":
                answer = await self.api.send_appchat(target[1]["chatid"], msgtype, content)
            else:
                answer = await self.api.send_message(target[1], msgtype, content)
        except WeComError as error:
            if error.errcode in PERMANENT:
                return SendResult.permanent(str(error))
            return SendResult.retry(str(error), 60.0 if error.errcode in RATE_LIMITED else 0.0)
        except WeComUnavailable as error:
            return SendResult.retry(str(error))
        unreached = {k: v for k, v in answer.items() if k.startswith("invalid") and v}
        if unreached:
            log.warning("wecom: outbox row %s did not reach %s", row.id, unreached)
        return SendResult.sent(str(answer.get("msgid") or "") or None)

    async def lines(self, payload: dict[str, Any]) -> list[str]:
        """What to reply: a ticket card's options as typed (`回复：接单 R-…`), other
        choices numbered."""
        buttons = payload.get("buttons") or []
        if not buttons:
            return []
        catalogs = self.app.catalogs
        locale = str(payload.get("locale") or self.app.settings.default_locale)
        async with self.app.db.transaction() as session:
            typed = await task_verbs.typed_options(session, catalogs, payload)
        if typed is None:
            numbered = [f"{n}. {b.get('label', '')}" for n, b in enumerate(buttons, start=1)]
            return [*numbered, catalogs.text(locale, "wecom.choose")]
        return [catalogs.text(locale, "wecom.card.reply", {"command": line}) for line in typed]


async def bind_department(
    session: AsyncSession,
    community: Community,
    department: str,
    chat_id: str,
    *,
    actor: str,
    now: datetime,
) -> StaffGroup:
    """Send a department's cards to a WeCom target (`frontdesk wecom-group`); audited.

    WeCom's app messages do not come from a group, so `/bind` cannot be typed there; the
    binding itself is the one of `/bind` (handlers/people.py).
    """
    if address(chat_id) is None:
        raise ValueError(f"not a WeCom target: {chat_id!r}")
    return await people.bind_department(
        session, community, department, CHANNEL, chat_id, actor=actor, now=now
    )


def api_for(app: App) -> WeComAPI:
    settings = app.settings
    if not (settings.wecom_corp_id and settings.wecom_secret and settings.wecom_agent_id):
        raise ChannelUnavailable(
            "FRONTDESK_WECOM_SECRET and FRONTDESK_WECOM_AGENT_ID are needed to send WeCom messages"
        )
    return WeComAPI(
        app.db,
        app.clock,
        corp_id=settings.wecom_corp_id,
        secret=settings.wecom_secret.get_secret_value(),
        agent_id=settings.wecom_agent_id,
        base_url=settings.wecom_api_url,
    )


async def serve(app: App, stop: asyncio.Event) -> None:
    """The delivery loop of the `wecom` outbox until `stop` is set; it also handles what
    the spool kept while the database was away, and forgets old nonces."""
    callback = Callback(app)  # a misconfigured callback stops start-up, not the first message
    api = api_for(app)
    sender = WeComSender(app, api)
    loop = asyncio.get_running_loop()
    next_spool = next_purge = loop.time()
    grace = 0.0  # at start nothing is in flight: whatever the spool holds is left over
    try:
        while not stop.is_set():
            if loop.time() >= next_spool:
                with contextlib.suppress(Exception):  # logged inside; the next round retries
                    await callback.drain(older_than=grace)
                grace, next_spool = SPOOL_GRACE, loop.time() + SPOOL_INTERVAL
            if loop.time() >= next_purge:
                try:
                    await callback.guard.purge(app)
                except Exception:
                    log.warning("wecom: old nonces not purged (the database is away)")
                next_purge = loop.time() + PURGE_INTERVAL
            try:
                sent = await deliver_pending(app.db, sender, app.clock)
            except Exception:  # the database is away: try again shortly
                log.exception("wecom: delivery round failed")
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), IDLE_SLEEP)
    finally:
        await api.close()
