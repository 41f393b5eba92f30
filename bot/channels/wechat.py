"""The WeChat official-account channel (公众号): residents write to the account.

In: WeChat posts each message to `/wechat` (plaintext or safe mode), signed with the
token. A timestamp out of the replay window, or a timestamp and nonce already used by
another message, is refused (403). Text, images (downloaded and kept: media ids expire
after three days), voice (WeChat's recognition text), locations, the subscribe event and
menu clicks become an `Incoming`. The answer must come within 5 seconds, whatever the
database does: when the engine is done in time the replies go back passively in the HTTP
response; otherwise the message is stored (in the database, or else in the spool, a
synced file) and the response is `success`, and the replies go out as customer-service
messages. WeChat's retries of one message are one effect (the in-flight task is awaited
again; the engine dedupes what it has seen).

Callbacks that arrive together share one transaction and one commit (`Database.batch`):
each message with its nonce, the engine's work and the taking of its passive reply, and
each request is answered as soon as its group commits. If one message fails, the group is
rolled back and its messages are handled again one by one, so the others are not lost.

Out: choices are numbered lines (WeChat has no buttons); the resident answers with the
number or the words. Customer-service messages are allowed only within 48 hours of the
resident's last message and within a quota; outside, a template message goes out when
one is configured for the message's catalog key, else the service desk is asked to phone.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import json
import logging
import re
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from hashlib import sha1
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xmltodict
from aiohttp import web
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply

from bot.channels import ChannelUnavailable
from bot.channels.wechat_api import WeChatAPI, WeChatAPIError
from bot.delivery import SendResult, deliver_pending
from bot.http import MAX_BODY, Notices, Replayed, ReplayGuard, Stale, Stamp
from dialogs.sending import send
from handlers import accounts, desk
from handlers.core.clock import Clock, SystemClock
from handlers.core.ids import number
from handlers.core.messages import Incoming, Recipient, Reply
from storage import inbound, keyvalue, outbox
from storage.inbound import Spool, database_unavailable

if TYPE_CHECKING:
    from bot.app import App
    from bot.settings import Settings
    from handlers.core.i18n import Catalogs
    from storage.models import ChatIdentity, Outbox, Person

log = logging.getLogger(__name__)

CHANNEL = "wechat"
PATH = "/wechat"
PASSIVE_BUDGET = 4.0  # seconds for a passive reply; WeChat gives up at 5
PASSIVE_MAX_BYTES = 2048  # a passive text reply's limit
WINDOW = timedelta(hours=48)  # customer-service messages after the resident's last message
TEMPLATE_FIELD_MAX = 20  # characters per template field
POLL_INTERVAL = 1.0  # seconds between outbox rounds when nothing was due
# The rest of a passive reply waits this long, so that it arrives after the passive part.
LEFTOVER_DELAY = 0.5
SUCCESS = "success"  # "received, no reply now": WeChat neither retries nor complains
# The end of the budget is kept for the passive reply, or for writing the spool.
PASSIVE_RESERVE = 0.5
MIN_SPOOL_WAIT = 0.05  # seconds the spool write gets at least
SPOOL_GRACE = 60.0  # a spooled message still unstored this long is handled by the loop
SPOOL_INTERVAL = 5.0  # seconds between two looks at the spool
PURGE_INTERVAL = 60.0  # seconds between two purges of old nonces
# Messages that arrive together are handled in one transaction, one commit: at most this
# many, taken for at most this long, so the first of a burst is not kept waiting for the
# last and a group does not hold SQLite's write lock long.
GROUP_MAX = 50
GROUP_HOLD = 0.1  # seconds

# Customer-service send refused for this resident until they write again.
OUT_OF_WINDOW = frozenset({45015, 45047})  # outside the 48 hours; quota used up
UNREACHABLE = frozenset({40003, 43004})  # no such user here; unsubscribed
TEMPLATE_REFUSED = frozenset({40003, 40037, 43004, 43101})  # user, template id, refusals
RATE_LIMITED = 45009
# Button values the engine does not resolve from a typed number (not a step's choices).
NON_STEP = ("act:", "flow:", "ctl:")
# Markup that lets an XML document expand or fetch entities; WeChat never sends it.
FORBIDDEN_MARKUP = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
MAX_SENDER = 64
MAX_NUMBER = 20  # digits of a MsgId (64 bits) or a CreateTime

# The custom menu (at most 3 buttons, 5 under each): click key -> what the resident "said".
MENU_KEYS = {
    "flow:repair": "/repair",
    "flow:complaint": "/complaint",
    "flow:fees": "/fees",
    "flow:slip": "/slip",
    "cmd:my": "/my",
}


# ---- the callback: verify, unwrap, parse -------------------------------------------------------


class Rejected(Exception):
    """A callback request refused with an HTTP status and nothing stored."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


@dataclass(frozen=True)
class Secrets:
    """What the callback checks requests with."""

    token: str
    appid: str
    aes_key: str | None = None

    @classmethod
    def of(cls, app: App) -> Secrets:
        settings = app.settings
        token = settings.wechat_token.get_secret_value() if settings.wechat_token else ""
        aes = settings.wechat_aes_key.get_secret_value() if settings.wechat_aes_key else None
        return cls(token=token, appid=settings.wechat_appid or "", aes_key=aes or None)

    def crypto(self) -> WeChatCrypto:
        assert self.aes_key is not None
        return WeChatCrypto(self.token, self.aes_key, self.appid)


def check_settings(settings: Settings) -> None:
    """One line naming what is missing, before anything is served."""
    missing = [
        f"FRONTDESK_WECHAT_{name.upper()}"
        for name in ("secret", "token")
        if getattr(settings, f"wechat_{name}") is None
    ]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ChannelUnavailable(
            f"FRONTDESK_WECHAT_APPID is set but {' and '.join(missing)} {verb} missing"
        )
    if settings.wechat_aes_key is not None:
        try:
            WeChatCrypto("t", settings.wechat_aes_key.get_secret_value(), "a")
        except Exception:
            raise ChannelUnavailable(
                "FRONTDESK_WECHAT_AES_KEY must be the account's 43-character EncodingAESKey"
            ) from None


def signed(token: str, query: Mapping[str, str]) -> bool:
    """Whether the query's `signature` is WeChat's: sha1 of token, timestamp, nonce, sorted."""
    parts = [token, query.get("timestamp", ""), query.get("nonce", "")]
    expected = sha1("".join(sorted(parts)).encode()).hexdigest()
    return bool(token) and hmac.compare_digest(expected, query.get("signature", ""))


def unwrap(secrets: Secrets, query: Mapping[str, str], body: bytes) -> BaseMessage:
    """The message in a callback body (decrypted in safe mode); `Rejected` when not WeChat's."""
    return _parse(unwrap_text(secrets, query, body))


def unwrap_text(secrets: Secrets, query: Mapping[str, str], body: bytes) -> str:
    """The message XML of a callback body (decrypted in safe mode), not yet parsed."""
    if FORBIDDEN_MARKUP.search(body):
        raise Rejected(400, "DOCTYPE or ENTITY in the body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "not UTF-8") from None
    encrypted = query.get("encrypt_type") == "aes"
    if secrets.aes_key is not None:
        if not encrypted:
            raise Rejected(403, "plaintext message while safe mode is on")
        text = _decrypt(secrets, query, text)
        if FORBIDDEN_MARKUP.search(text.encode()):
            raise Rejected(400, "DOCTYPE or ENTITY in the message")
    elif encrypted:
        raise Rejected(400, "encrypted message but no FRONTDESK_WECHAT_AES_KEY")
    return text


def _decrypt(secrets: Secrets, query: Mapping[str, str], text: str) -> str:
    try:
        return str(
            secrets.crypto().decrypt_message(
                text,
                query.get("msg_signature", ""),
                query.get("timestamp", ""),
                query.get("nonce", ""),
            )
        )
    except InvalidSignatureException:
        raise Rejected(403, "bad msg_signature") from None
    except InvalidAppIdException:
        raise Rejected(403, "message for another app id") from None
    except Exception as exc:  # base64, padding, XML envelope: whatever it is, it is not ours
        raise Rejected(400, f"cannot decrypt: {type(exc).__name__}") from None


def _parse(text: str) -> BaseMessage:
    try:
        fields = xmltodict.parse(text).get("xml")
    except Exception as exc:  # expat errors and the like
        raise Rejected(400, f"malformed XML: {type(exc).__name__}") from None
    if not isinstance(fields, dict) or not fields.get("MsgType") or not fields.get("FromUserName"):
        raise Rejected(400, "not a WeChat message")
    if not isinstance(fields["FromUserName"], str) or len(fields["FromUserName"]) > MAX_SENDER:
        # An openid is 28 characters; a longer one is forged and fits no chat id column.
        raise Rejected(400, "not a WeChat sender")
    try:
        message: BaseMessage = parse_message(text)
        # Read now what is read later: a MsgId or CreateTime that is no number is forged.
        numbers = (message.id, message.time)
    except Exception as exc:
        raise Rejected(400, f"unreadable message: {type(exc).__name__}") from None
    if any(len(str(n)) > MAX_NUMBER for n in numbers):
        raise Rejected(400, "not a WeChat message id")
    return message


# ---- rendering ---------------------------------------------------------------------------------


def render_text(payload: Mapping[str, Any], catalogs: Catalogs) -> str:
    """An outbox payload as one text: the message, numbered choices, hints WeChat needs."""
    locale = str(payload.get("locale") or catalogs.default_locale)
    lines = [str(payload.get("text", ""))]
    for name in ("photo", "document"):
        ref = str(payload.get(name) or "")
        if ref.startswith(("http://", "https://")):
            lines.append(catalogs.text(locale, f"wechat.link.{name}", {"url": ref}))
        elif ref and name == "document":
            lines.append(catalogs.text(locale, "wechat.document", {"name": Path(ref).name}))
    if payload.get("request_contact"):
        lines.append(catalogs.text(locale, "wechat.type_phone"))
    buttons = payload.get("buttons") or []
    if buttons:
        numbered = [f"{n}. {b.get('label', '')}" for n, b in enumerate(buttons, start=1)]
        lines.append(catalogs.text(locale, "wechat.choices") + "\n" + "\n".join(numbered))
    return "\n\n".join(line for line in lines if line)


def template_fields(text: str, count: int = 4, width: int = TEMPLATE_FIELD_MAX) -> list[str]:
    """The text in at most `count` pieces of at most `width` characters, cut at clauses.

    Template fields are short; whole clauses read better than a sentence cut anywhere.
    """
    clauses = [c for c in re.split(r"(?<=[，。；：！？,.;:!?\n])", text) if c.strip()]
    pieces: list[str] = []
    current = ""
    for clause in (c.strip() for c in clauses):
        while len(clause) > width:  # a clause too long for a field is split
            if current:
                pieces.append(current)
                current = ""
            pieces.append(clause[:width])
            clause = clause[width:]
        if len(current) + len(clause) > width:
            pieces.append(current)
            current = ""
        current += clause
    if current:
        pieces.append(current)
    if len(pieces) > count:
        pieces = [*pieces[: count - 1], pieces[count - 1][: width - 1] + "…"]
    return pieces


def template_for(templates: Mapping[str, str], key: str) -> str | None:
    """The template configured for a catalog key: the longest matching key prefix."""
    matches = [prefix for prefix in templates if key.startswith(prefix)]
    return templates[max(matches, key=len)] if matches else None


def template_data(payload: Mapping[str, Any], catalogs: Catalogs) -> dict[str, str]:
    """A template message's fields: `first`, `keyword1`…`keyword3`, `remark`, each short."""
    locale = str(payload.get("locale") or catalogs.default_locale)
    pieces = template_fields(str(payload.get("text", "")))
    names = ("first", "keyword1", "keyword2", "keyword3")
    data = dict(zip(names, pieces, strict=False))
    data["remark"] = catalogs.text(locale, "wechat.template.remark")[:TEMPLATE_FIELD_MAX]
    return data


# ---- small shared state in the key-value table -------------------------------------------------


async def _get(app: App, key: str) -> str | None:
    async with app.db.transaction() as session:
        return await keyvalue.read(session, key)


async def _put(app: App, key: str, value: str) -> None:
    async with app.db.transaction() as session:
        await keyvalue.write(session, key, value)


def _choices_key(openid: str) -> str:
    return f"wechat:choices:{openid}"


async def remember_choices(app: App, openid: str, payload: Mapping[str, Any]) -> None:
    """Keep the buttons just shown, so a typed number or label presses one of them."""
    buttons = [
        {"v": str(b.get("value", "")), "l": str(b.get("label", ""))}
        for b in payload.get("buttons") or []
    ]
    value = json.dumps(buttons, ensure_ascii=False)
    if len(value) > 4000:  # the column's width: keep the values, drop the labels
        value = json.dumps([{"v": b["v"]} for b in buttons][:60], ensure_ascii=False)
    await _put(app, _choices_key(openid), value)


async def pressed(app: App, openid: str, text: str) -> str | None:
    """The button value a typed number or label stands for, when the engine would not know.

    A flow step's choices are resolved by the engine; the buttons of a card, a statement or
    the language question (`act:`, `flow:`, `ctl:` values) only by the last message shown.
    """
    raw = await _get(app, _choices_key(openid))
    if not raw or not text:
        return None
    buttons = json.loads(raw)
    chosen: dict[str, str] | None = None
    typed = number(text)
    if typed is not None and 1 <= typed <= len(buttons):
        chosen = buttons[typed - 1]
    else:
        low = text.lower()
        chosen = next((b for b in buttons if b.get("l", "").strip().lower() == low), None)
    if chosen is None or not chosen["v"].startswith(NON_STEP):
        return None
    return chosen["v"]


# ---- sending ------------------------------------------------------------------------------------


async def who(app: App, openid: str) -> tuple[ChatIdentity | None, Person | None]:
    """A WeChat user's chat identity and, once bound, the person."""
    async with app.db.transaction() as session:
        return await accounts.account(session, CHANNEL, openid)


def templates_of(app: App) -> dict[str, str]:
    """Template ids by catalog-key prefix (setting `wechat_templates`)."""
    return dict(app.settings.wechat_templates)


def api_of(app: App) -> WeChatAPI:
    settings = app.settings
    return WeChatAPI(
        app.db,
        app.clock,
        appid=settings.wechat_appid or "",
        secret=settings.wechat_secret.get_secret_value() if settings.wechat_secret else "",
        base_url=settings.wechat_api_url,
    )


class WeChatSender:
    """Delivers outbox rows to residents: customer service, else a template, else the desk."""

    channel = CHANNEL

    def __init__(self, app: App, api: WeChatAPI, templates: Mapping[str, str] | None = None):
        self.app = app
        self.api = api
        self.templates = dict(templates if templates is not None else templates_of(app))

    async def send(self, row: Outbox) -> SendResult:
        openid, payload = row.chat_id, row.payload
        identity, person = await who(self.app, openid)
        if await self._may_write(openid, identity):
            try:
                await self._send_custom(openid, payload)
            except WeChatAPIError as exc:
                if exc.errcode == RATE_LIMITED:
                    return SendResult.retry(str(exc), after=60)
                if exc.errcode in OUT_OF_WINDOW:
                    await self._block(openid, identity)
                elif exc.errcode not in UNREACHABLE:
                    return SendResult.retry(str(exc))
                log.info("wechat: customer service to %s refused: %s", openid, exc)
            else:
                await remember_choices(self.app, openid, payload)
                return SendResult.sent(f"custom:{row.id}")
        template_id = template_for(self.templates, str(payload.get("key", "")))
        if template_id is not None:
            try:
                data = template_data(payload, self.app.catalogs)
                msgid = await self.api.send_template(openid, template_id, data)
            except WeChatAPIError as exc:
                if exc.errcode not in TEMPLATE_REFUSED:
                    return SendResult.retry(str(exc))
                log.warning("wechat: template %s to %s refused: %s", template_id, openid, exc)
            else:
                return SendResult.sent(f"template:{msgid}")
        if row.bulk:
            # An announcement reaches whom it can: phoning everyone the window missed would
            # bury the desk under thousands of tasks for one notice.
            return SendResult.permanent("announcement: not reachable on WeChat now")
        await self._tell_desk(row, identity, person)
        return SendResult.permanent("not reachable on WeChat; the service desk was asked to phone")

    async def _may_write(self, openid: str, identity: ChatIdentity | None) -> bool:
        """Inside the 48 hours after the resident's last message, quota not used up."""
        if identity is None or identity.last_seen_at is None:
            return False
        if self.app.clock.now() - identity.last_seen_at >= WINDOW:
            return False
        blocked = await _get(self.app, f"wechat:blocked:{openid}")
        return blocked != identity.last_seen_at.isoformat()

    async def _block(self, openid: str, identity: ChatIdentity | None) -> None:
        """No more customer-service messages until the resident writes again."""
        if identity is not None and identity.last_seen_at is not None:
            await _put(self.app, f"wechat:blocked:{openid}", identity.last_seen_at.isoformat())

    async def _send_custom(self, openid: str, payload: Mapping[str, Any]) -> None:
        text = render_text(payload, self.app.catalogs)
        if text:  # a photo alone has no text to send first
            await self.api.send_text(openid, text)
        photo = str(payload.get("photo") or "")
        if photo and not photo.startswith(("http://", "https://")):
            path = Path(photo)
            if not await asyncio.to_thread(path.is_file):
                log.warning("wechat: photo %s is not a file here; not sent", photo)
                return
            content = await asyncio.to_thread(path.read_bytes)
            media_id = await self.api.upload_media("image", path.name, content)
            await self.api.send_image(openid, media_id)

    async def _tell_desk(
        self, row: Outbox, identity: ChatIdentity | None, person: Person | None
    ) -> None:
        """Ask the resident's community's service desk to phone (handlers/desk.py)."""
        app, now = self.app, self.app.clock.now()
        async with app.db.transaction() as session:
            replies = await desk.phone_the_unreachable(
                session, row, identity, person, channel=CHANNEL, now=now
            )
            await send(session, replies, catalogs=app.catalogs, settings=app.settings, now=now)


# ---- the callback -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handled:
    """What handling one message gave: the engine's outbox rows and the passive reply
    taken from them (marked sent in the same transaction), or a text of our own."""

    rows: list[Outbox] = field(default_factory=list)
    text: str | None = None
    passive: Passive | None = None


@dataclass
class _InFlight:
    """A message being handled, how many requests (WeChat's retries) wait for it, and
    the writing of its spool copy once a request had to answer before it was stored."""

    task: asyncio.Task[Handled]
    stamp: Stamp
    waiting: int = 0
    spooled: asyncio.Task[None] | None = None
    # The passive reply went out with a response, or was given back to the outbox.
    settled: bool = False


@dataclass
class _Queued:
    """A message waiting for the next group: `typed` text may press a button shown last;
    `passive`: a response waits to carry the reply."""

    msg: Incoming
    stamp: Stamp | None
    typed: bool
    passive: bool
    done: asyncio.Future[Handled]


@dataclass(frozen=True)
class Passive:
    """A passive reply: its text, the outbox rows it carries (marked sent), and whether
    rows are left for customer-service messages."""

    text: str | None
    ids: frozenset[int]
    leftover: bool


@dataclass(frozen=True)
class _Pick:
    """The rows of one message that fit a passive reply, before they are marked sent."""

    openid: str
    chosen: list[Outbox]
    parts: list[str]
    mine: int  # the message's rows for this resident

    def passive(self, taken: set[int]) -> Passive:
        """The reply made of the rows marked: only an unbroken run from the start keeps
        the order; the rest goes the other way."""
        run = 0
        while run < len(self.chosen) and self.chosen[run].id in taken:
            run += 1
        ids = frozenset(r.id for r in self.chosen[:run] if r.id is not None)
        if run == 0:
            return Passive(None, ids, bool(self.mine))
        return Passive("\n\n".join(self.parts[:run]), ids, self.mine > run)


def _pick(rows: Sequence[Outbox], openid: str, now: datetime, catalogs: Catalogs) -> _Pick:
    """The rows that fit one passive reply, text of at most 2048 bytes: leading text rows
    joined up to the first that shows choices (their numbers must stay unambiguous). Rows
    with a photo or document, and whatever does not fit, go as customer-service messages."""
    mine = [r for r in rows if r.channel == CHANNEL and r.chat_id == openid]
    chosen: list[Outbox] = []
    parts: list[str] = []
    size = 0
    for row in mine:
        payload = row.payload
        if payload.get("photo") or payload.get("document") or row.not_before > now:
            break
        text = render_text(payload, catalogs)
        extra = len(text.encode()) + (2 if parts else 0)
        if size + extra > PASSIVE_MAX_BYTES:
            break
        chosen.append(row)
        parts.append(text)
        size += extra
        if payload.get("buttons"):
            break
    return _Pick(openid, chosen, parts, len(mine))


def message_key(message: BaseMessage) -> str:
    """The id a message is recognised by: MsgId, or sender + CreateTime for events."""
    if message.type == "event" or not message.id:
        return f"wx:{message.source}:{message.time}"
    return f"wx:{message.id}"


class WeChatCallback:
    """Serves `/wechat`: URL verification, messages in, passive replies out.

    The answer leaves within the budget whatever the database does. A message handled
    in time is answered passively. One that is not yet stored when the budget is nearly
    spent is written to the spool (a synced file) and answered `success`: WeChat shows
    the resident nothing and does not retry, the handling goes on, and the replies go
    out as customer-service messages. If the process dies first, the delivery loop of
    the next start handles what the spool kept. Only when the message can be stored
    neither way is the answer 503, and WeChat sends it again.
    """

    def __init__(
        self, app: App, budget: float = PASSIVE_BUDGET, clock: Clock | None = None
    ) -> None:
        self.app = app
        self.budget = budget
        self.secrets = Secrets.of(app)
        self.api = api_of(app)
        self.sender = WeChatSender(app, self.api)
        window = timedelta(seconds=app.settings.callback_replay_window_seconds)
        self.guard = ReplayGuard(CHANNEL, window, clock or SystemClock())
        self.spool = Spool(Path(app.settings.data_dir) / "spool" / CHANNEL)
        self.notices = Notices(log)
        self._inflight: dict[str, _InFlight] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._queue: collections.deque[_Queued] = collections.deque()
        self._worker: asyncio.Task[None] | None = None

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get(PATH, self.handle), web.post(PATH, self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        # WeChat's 5 seconds run from when it sent the request, downloads included.
        deadline = asyncio.get_running_loop().time() + self.budget
        try:
            if not signed(self.secrets.token, request.query):
                raise Rejected(403, "bad signature")
            if request.method == "GET":
                return web.Response(text=request.query.get("echostr", ""))
            query = request.query
            stamp = self.guard.stamp(query.get("timestamp", ""), query.get("nonce", ""))
            text = unwrap_text(self.secrets, query, await self._body(request))
            message = _parse(text)
            stamp = stamp.of(str(message.source), message_key(message))
            self.guard.check_here(stamp)
        except Rejected as exc:
            return self._refuse(exc.status, str(exc))
        except (Stale, Replayed) as exc:
            return self._refuse(403, str(exc))
        return await self._answer(request, message, text, stamp, deadline)

    def _refuse(self, status: int, why: str) -> web.Response:
        self.notices.note(f"refused {status}", "wechat: callbacks refused (%s): %s", status, why)
        return web.Response(status=status, text=why)

    async def _body(self, request: web.Request) -> bytes:
        if (request.content_length or 0) > MAX_BODY:
            raise Rejected(413, "body too large")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise Rejected(413, "body too large") from None
        if len(body) > MAX_BODY:
            raise Rejected(413, "body too large")
        return body

    # ---- one message ---------------------------------------------------------------------

    async def _answer(
        self, request: web.Request, message: BaseMessage, text: str, stamp: Stamp, deadline: float
    ) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        openid, key = str(message.source), message_key(message)
        entry = self._inflight.get(key)
        if entry is None:
            entry = _InFlight(asyncio.create_task(self._accept(message, stamp)), stamp)
            self._inflight[key] = entry
            entry.task.add_done_callback(lambda task: self._finished(key, openid, entry, task))
        elif stamp.key != entry.stamp.key:  # a retry under a new nonce: every worker knows it
            self._spawn(self._remember(stamp))
        entry.waiting += 1
        # The end of the budget is kept for the passive reply, or for the spool.
        reserve = min(PASSIVE_RESERVE, self.budget / 4)
        try:
            handled = await asyncio.wait_for(
                asyncio.shield(entry.task), max(deadline - reserve - loop.time(), 0.0)
            )
            # One response carries the passive reply (a retry waiting too answers `success`).
            passive = None if entry.settled else handled.passive
            entry.settled = True
        except TimeoutError:
            record = {"id": key, "xml": text, "stamp": stamp.record()}
            return await self._keep(entry, key, record, deadline)
        except Replayed as exc:
            return self._refuse(403, str(exc))
        except Exception as exc:
            if database_unavailable(exc):  # down, not slow: the spool keeps it
                record = {"id": key, "xml": text, "stamp": stamp.record()}
                return await self._keep(entry, key, record, deadline)
            # Nothing was stored (the transaction rolled back): let WeChat retry.
            log.exception("wechat: handling %s failed", key)
            return web.Response(status=500, text="error")
        finally:
            entry.waiting -= 1
            self._unanswered(entry, openid)
        if handled.text is not None:
            return self._reply(request, message, handled.text)
        if passive is None or passive.text is None:
            if handled.rows:
                self._spawn(self._deliver(openid))
            return web.Response(text=SUCCESS)
        if passive.leftover:
            self._spawn(self._deliver(openid, after=LEFTOVER_DELAY))
        return self._reply(request, message, passive.text)

    async def _keep(
        self, entry: _InFlight, key: str, record: dict[str, Any], deadline: float
    ) -> web.Response:
        """Answer `success` for a message not stored in time, once the spool holds it."""
        task = entry.task
        if task.done() and not task.cancelled() and task.exception() is None:
            return web.Response(text=SUCCESS)  # stored after all, just now
        if entry.spooled is None or _failed(entry.spooled):
            entry.spooled = asyncio.create_task(self.spool.put(key, record))
        left = max(deadline - asyncio.get_running_loop().time(), MIN_SPOOL_WAIT)
        try:
            await asyncio.wait_for(asyncio.shield(entry.spooled), left)
        except Exception:
            # Stored nowhere: no `success`, so WeChat sends the message again.
            log.exception("wechat: %s could not be kept in the spool either", key)
            return web.Response(status=503, text="busy")
        log.info("wechat: %s not stored in %.1f s; kept in the spool", key, self.budget)
        return web.Response(text=SUCCESS)

    def _finished(
        self, key: str, openid: str, entry: _InFlight, task: asyncio.Task[Handled]
    ) -> None:
        self._inflight.pop(key, None)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not isinstance(error, Replayed):
            if entry.waiting == 0:  # answered already: WeChat will not send it again
                where = "the spool keeps it" if entry.spooled is not None else "not kept"
                log.error("wechat: handling %s failed after the answer; %s", key, where)
            return  # a spooled copy stays for the delivery loop
        if entry.spooled is not None:
            self._spawn(self._unspool(entry.spooled, key))
        self._unanswered(entry, openid)

    def _unanswered(self, entry: _InFlight, openid: str) -> None:
        """Once no request waits for a handled message, the passive reply nobody sent goes
        back to the outbox and out as customer-service messages."""
        task = entry.task
        if entry.waiting or entry.settled or not task.done() or _failed(task):
            return
        entry.settled = True
        passive = task.result().passive
        self._spawn(self._give_back(passive.ids if passive else frozenset(), openid))

    async def _remember(self, stamp: Stamp) -> None:
        with contextlib.suppress(Exception):  # a nonce already known, or the database away
            async with self.app.db.transaction() as session:
                await self.guard.check_stored(session, stamp)

    async def _unspool(self, written: asyncio.Task[None], key: str) -> None:
        """The database holds the message now: its spool copy goes."""
        with contextlib.suppress(Exception):
            await written
        await self.spool.drop(key)

    async def _accept(
        self, message: BaseMessage, stamp: Stamp | None, passive: bool = True
    ) -> Handled:
        """Handle one message (the task WeChat's retries wait for); `Replayed` when its
        nonce came with another message, and then nothing is stored. `passive`: take the
        passive reply from its rows (a response waits for it)."""
        got = await self._incoming(message)
        if got is None:
            return Handled()
        if isinstance(got, str):  # something we answer at once, without the engine
            locale = await self._locale(str(message.source))
            return Handled(text=self.app.catalogs.text(locale, got))
        msg = got
        if message.type == "image":
            path = await self._download(str(message.media_id))
            if path is None:
                rows = await self._notice(msg.chat_id, "wechat.image.failed")
                taken = await self._take_passive(rows, msg.chat_id) if passive else None
                return Handled(rows=rows, passive=taken)
            msg = replace(msg, photo=path)
        done = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(msg, stamp, message.type == "text", passive, done))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())
            self._background.add(self._worker)
            self._worker.add_done_callback(self._background.discard)
        return await done

    # ---- messages that arrive together share a commit ----------------------------------

    async def _work(self) -> None:
        """Handle the queued messages, a group to a transaction, until none is left."""
        group: list[_Queued] = []
        try:
            while self._queue:
                group = []
                await self._group(group)
        finally:
            self._worker = None
            for item in [*group, *self._queue]:  # cancelled (a shutdown): nobody handles them
                item.done.cancel()
            self._queue.clear()

    def _next(self) -> _Queued | None:
        """The next message waiting whose request is still there."""
        while self._queue:
            item = self._queue.popleft()
            if not item.done.done():  # else cancelled: nobody waits for it
                return item
        return None

    async def _group(self, group: list[_Queued]) -> None:
        """The messages waiting now, and those arriving for `GROUP_HOLD`, in one batch;
        each answered as soon as it commits. On failure each is done again on its own."""
        first = self._next()
        if first is None:
            return
        group.append(first)
        loop = asyncio.get_running_loop()
        try:
            async with self.app.db.batch():
                rows = [await self._handle(first)]
                started = loop.time()  # after the first: waiting for the lock is no work
                while len(group) < GROUP_MAX and loop.time() - started < GROUP_HOLD:
                    # Let the loop breathe between two messages: requests are read (and join
                    # this group), answers and spool writes go out, timeouts fire.
                    await asyncio.sleep(0)
                    item = self._next()
                    if item is None:
                        break
                    if any(item.msg.chat_id == other.msg.chat_id for other in group):
                        # The resident's next message sees what this one showed and stored.
                        self._queue.appendleft(item)
                        break
                    group.append(item)
                    rows.append(await self._handle(item))
                results = await self._finish(group, rows)
        except Exception as exc:
            if len(group) > 1 and not database_unavailable(exc):
                # One of them failed and took the group with it: each again in its own
                # transaction, so the others are kept and only the failing one is refused.
                log.warning("wechat: a group of %d messages failed; one by one", len(group))
                for item in group:
                    await self._alone(item)
                return
            for item in group:  # the database is away: the same for every one of them
                if not item.done.done():
                    item.done.set_exception(exc)
            return
        for item, handled in zip(group, results, strict=True):
            if not item.done.done():
                item.done.set_result(handled)

    async def _alone(self, item: _Queued) -> None:
        try:
            async with self.app.db.batch():
                [handled] = await self._finish([item], [await self._handle(item)])
        except Exception as exc:
            if not item.done.done():
                item.done.set_exception(exc)
        else:
            if not item.done.done():
                item.done.set_result(handled)

    async def _handle(self, item: _Queued) -> list[Outbox]:
        """One message in the group's transaction: the button a typed number stands for,
        then the engine."""
        msg = item.msg
        if item.typed:
            option = await pressed(self.app, msg.chat_id, msg.words)
            if option:
                msg = replace(msg, text=None, option=option)
        return await self.app.engine.handle(msg)

    async def _finish(self, group: list[_Queued], rows: list[list[Outbox]]) -> list[Handled]:
        """In the group's transaction still: the nonces stored with their messages (both
        or neither; `Replayed` when one came with another message), and the passive
        replies taken, a statement for all of each."""
        stamps = [item.stamp for item in group if item.stamp is not None]
        if stamps:
            async with self.app.db.transaction() as session:
                fresh = await inbound.first_uses(
                    session, [(s.key, s.fingerprint, s.expires_at) for s in stamps]
                )
            if not fresh:
                raise Replayed("nonce used before by another message")
        wanted = [n for n, item in enumerate(group) if item.passive and rows[n]]
        passives = await self._take_passives([(rows[n], group[n].msg.chat_id) for n in wanted])
        taken = dict(zip(wanted, passives, strict=True))
        return [Handled(rows=rows[n], passive=taken.get(n)) for n in range(len(group))]

    async def drain(self, older_than: float = SPOOL_GRACE) -> int:
        """Handle the messages the spool kept for `older_than` seconds; how many.

        Stops at the first that the database still cannot take; one that cannot be
        handled at all is set aside (`.failed`) and logged, not tried forever.
        """
        handled = 0
        for record in await self.spool.waiting(older_than):
            key = str(record.get("id", ""))
            if key in self._inflight:
                continue
            try:
                message = _parse(str(record["xml"]))
                stamp = Stamp.from_record(record["stamp"]) if record.get("stamp") else None
                await self._accept(message, stamp, passive=False)
            except Replayed:
                log.warning("wechat: spooled %s was a replay; dropped", key)
            except Exception as exc:
                if database_unavailable(exc):
                    log.warning("wechat: the database is still away; %s stays in the spool", key)
                    break
                log.exception("wechat: spooled %s cannot be handled; set aside", key)
                await self.spool.set_aside(key)
                continue
            else:
                handled += 1
            await self.spool.drop(key)
        return handled

    async def _incoming(self, message: BaseMessage) -> Incoming | str | None:
        """The neutral message; a catalog key to answer at once; None to ignore."""
        openid = str(message.source)
        fields: dict[str, Any] = {}
        kind = message.type
        if kind == "text":  # a typed number or label is looked up in the group (`_handle`)
            fields = {"text": str(message.content or "").strip()}
        elif kind == "image":
            pass  # the photo is downloaded in `_accept`, within the time budget
        elif kind == "voice":
            if not message.recognition:
                return "wechat.voice.unrecognised"
            fields = {"text": str(message.recognition).strip()}
        elif kind == "location":
            place = f"({message.location_x}, {message.location_y})"
            fields = {"text": f"{message.label} {place}" if message.label else place}
        elif kind == "event":
            said = _event_text(message)
            if said is None:
                return None
            fields = {"text": said}
        else:
            return "wechat.unsupported"
        return Incoming(
            channel=CHANNEL,
            chat_id=openid,
            user_id=openid,
            at=self.app.clock.now(),
            message_id=message_key(message),
            **fields,
        )

    async def _notice(self, openid: str, key: str) -> list[Outbox]:
        """A message of the channel's own, queued like any reply."""
        locale = await self._locale(openid)
        async with self.app.db.transaction() as session:
            return await send(
                session,
                [Reply(key)],
                catalogs=self.app.catalogs,
                settings=self.app.settings,
                now=self.app.clock.now(),
                answering=Recipient(CHANNEL, openid, locale),
            )

    async def _download(self, media_id: str) -> str | None:
        """Keep a resident's image: WeChat's media ids expire, our copy does not."""
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", media_id)[:100]
        path = Path(self.app.settings.data_dir) / "wechat" / f"{safe}.jpg"
        try:
            content = await self.api.download_media(media_id)
        except Exception as exc:  # expired id, network: the resident is asked to resend
            log.warning("wechat: cannot download image %s: %s", media_id, exc)
            return None

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)

        await asyncio.to_thread(write)
        return str(path)

    async def _locale(self, openid: str) -> str:
        identity, _ = await who(self.app, openid)
        return (identity.locale if identity else None) or self.app.settings.default_locale

    # ---- replies -------------------------------------------------------------------------

    async def _give_back(self, ids: frozenset[int], openid: str) -> None:
        """A passive reply that no response carried: its rows are sent the other way."""
        try:
            await self._release(set(ids))
        except Exception:
            log.exception("wechat: rows %s stay marked sent; not given back", sorted(ids))
        await self._deliver(openid)

    async def _take_passive(self, rows: Sequence[Outbox], openid: str) -> Passive:
        """The passive reply of one message handled outside a group (a notice of ours)."""
        [passive] = await self._take_passives([(rows, openid)])
        return passive

    async def _take_passives(
        self, replies: Sequence[tuple[Sequence[Outbox], str]]
    ) -> list[Passive]:
        """The passive reply of each message's (rows, openid): its rows marked sent, all
        in one statement, and the choices it shows remembered."""
        now = self.app.clock.now()
        picks = [_pick(rows, openid, now, self.app.catalogs) for rows, openid in replies]
        taken = await self._mark_passive([r.id for p in picks for r in p.chosen], now)
        passives = [pick.passive(taken) for pick in picks]
        # Rows marked that cannot keep the order go back, to go the other way.
        await self._release(taken - {i for passive in passives for i in passive.ids})
        for pick, passive in zip(picks, passives, strict=True):
            if passive.text is not None:
                shown = pick.chosen[len(passive.ids) - 1].payload
                await remember_choices(self.app, pick.openid, shown)
        return passives

    async def _mark_passive(self, ids: list[int | None], now: datetime) -> set[int]:
        """Mark rows sent as a passive reply, unless a delivery loop holds them already."""
        known = [i for i in ids if i is not None]
        if not known:
            return set()
        async with self.app.db.transaction() as session:
            return await outbox.mark_sent_unless_claimed(session, known, now, "passive")

    async def _release(self, ids: set[int]) -> None:
        """Give back rows marked for a passive reply that cannot keep the order."""
        if not ids:
            return
        async with self.app.db.transaction() as session:
            await outbox.unmark_sent(session, ids)

    def _reply(self, request: web.Request, message: BaseMessage, text: str) -> web.Response:
        xml = TextReply(message=message, content=text).render()
        if self.secrets.aes_key is not None:
            timestamp = str(int(self.app.clock.now().timestamp()))
            xml = self.secrets.crypto().encrypt_message(
                xml, request.query.get("nonce", ""), timestamp
            )
        return web.Response(text=xml, content_type="application/xml")

    # ---- after the response ----------------------------------------------------------------

    async def _deliver(self, openid: str, after: float = 0.0) -> None:
        """Send what is due for one resident now, rather than at the loop's next round."""
        await asyncio.sleep(after)
        try:
            await deliver_pending(self.app.db, self.sender, self.app.clock, chat_ids=[openid])
        except Exception:
            log.exception("wechat: delivering to %s failed; the delivery loop will retry", openid)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def idle(self) -> None:
        """Wait for work still running after its response (tests; shutdown)."""
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


def _event_text(message: BaseMessage) -> str | None:
    """What a resident "said" with an event; None for events that ask nothing."""
    event = getattr(message, "event", "")
    if event == "subscribe":
        return "/start"
    if event in ("subscribe_scan", "scan"):  # an invitation QR code: `/start CODE`
        scene = str(getattr(message, "scene_id", "") or "").strip()
        return f"/start {scene}" if scene else "/start"
    if event == "click":
        return MENU_KEYS.get(str(getattr(message, "key", "")))
    return None  # unsubscribe, view, location reports, template receipts …


# ---- the custom menu ---------------------------------------------------------------------------


def menu_definition(catalogs: Catalogs, locale: str) -> dict[str, Any]:
    """报修 | 服务 (投诉, 缴费, 放行) | 我的: WeChat shows at most three buttons in a row."""

    def click(key: str, label: str) -> dict[str, str]:
        return {"type": "click", "name": catalogs.text(locale, label), "key": key}

    return {
        "button": [
            click("flow:repair", "wechat.menu.repair"),
            {
                "name": catalogs.text(locale, "wechat.menu.services"),
                "sub_button": [
                    click("flow:complaint", "wechat.menu.complaint"),
                    click("flow:fees", "wechat.menu.fees"),
                    click("flow:slip", "wechat.menu.slip"),
                ],
            },
            click("cmd:my", "wechat.menu.my"),
        ]
    }


def describe_menu(menu: Mapping[str, Any]) -> str:
    """`报修 | 服务 (投诉, 缴费, 放行) | 我的`"""
    parts = []
    for button in menu["button"]:
        subs = button.get("sub_button")
        subs_text = f" ({', '.join(s['name'] for s in subs)})" if subs else ""
        parts.append(button["name"] + subs_text)
    return " | ".join(parts)


async def publish_menu(app: App) -> dict[str, Any]:
    """Publish the custom menu in the default language; returns what was published."""
    menu = menu_definition(app.catalogs, app.settings.default_locale)
    async with api_of(app) as api:
        await api.create_menu(menu)
    return menu


# ---- the channel's entry points ----------------------------------------------------------------


def routes(app: App, budget: float = PASSIVE_BUDGET) -> list[web.AbstractRouteDef]:
    """`/wechat` on the process's HTTP listener."""
    check_settings(app.settings)
    return WeChatCallback(app, budget).routes()


async def serve(app: App, stop: asyncio.Event) -> None:
    """The delivery loop: outbox rows for WeChat residents, until `stop` is set.

    It also handles what the spool kept while the database was away (at once at start,
    for what a previous run answered but did not store), and forgets old nonces.
    """
    check_settings(app.settings)
    callback = WeChatCallback(app)
    loop = asyncio.get_running_loop()
    next_spool = next_purge = loop.time()
    grace = 0.0  # at start nothing is in flight: whatever the spool holds is left over
    async with api_of(app) as api:
        sender = WeChatSender(app, api)
        while not stop.is_set():
            if loop.time() >= next_spool:
                with contextlib.suppress(Exception):  # logged inside; the next round retries
                    await callback.drain(older_than=grace)
                grace, next_spool = SPOOL_GRACE, loop.time() + SPOOL_INTERVAL
            if loop.time() >= next_purge:
                try:
                    await callback.guard.purge(app)
                except Exception:
                    log.warning("wechat: old nonces not purged (the database is away)")
                next_purge = loop.time() + PURGE_INTERVAL
            try:
                sent = await deliver_pending(app.db, sender, app.clock)
            except Exception:  # the database is away: try again next round
                log.exception("wechat: delivery round failed")
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):  # nothing to send: wait a moment
                    await asyncio.wait_for(stop.wait(), POLL_INTERVAL)
