"""A local Telegram Bot API server for the tests: aiohttp on 127.0.0.1, real HTTP.

The real aiogram `Bot` and `Dispatcher` talk to it exactly as to api.telegram.org
(point `TelegramAPIServer.from_base` / FRONTDESK_TELEGRAM_API_URL at `await start()`).
Tests play the users (`send_text`, `press`, `send_contact` …), then read what the bot
did (`messages(chat_id)`, `calls`, `callback_answers`, `commands`).

It keeps Telegram's semantics where the bot could get them wrong: getUpdates confirms
by offset and long-polls, a webhook gets updates POSTed in order with the secret
header, message ids are counted per chat, an edit with nothing changed is refused,
callback data over 64 bytes is refused, a blocked user answers 403. With
`enforce_limits` it answers 429 with `retry_after` past the flood limits (1 message/s
per chat, 20/min per group, 30/s overall), counting those in `too_many`; injected
faults (`fail_next`, `disconnect_next`, `flaky`) are not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

# Form fields that are plain text; everything else aiogram sends JSON-encoded.
_TEXT_FIELDS = {
    "text",
    "caption",
    "callback_query_id",
    "url",
    "secret_token",
    "photo",
    "document",
    "file_id",
    "data",
    "language_code",
    "parse_mode",
    "inline_message_id",
    "ip_address",
    "description",
    "short_description",
    "name",
    "chat_id",  # decoded below: an int, or "@channel"
}
# Calls that put a message in a chat, and so count against the flood limits.
_COUNTED = {"sendmessage", "sendphoto", "senddocument", "editmessagetext", "editmessagecaption"}
_SENDS = {"sendmessage", "sendphoto", "senddocument"}
_EDITS = {"editmessagetext", "editmessagecaption", "editmessagereplymarkup"}
# What Telegram delivers when the bot never said which update types it wants.
_DEFAULT_UPDATES = {
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "my_chat_member",
    "inline_query",
    "chosen_inline_result",
    "shipping_query",
    "pre_checkout_query",
    "poll",
    "poll_answer",
    "chat_join_request",
}
_GAP_TOLERANCE = 0.1  # timer jitter forgiven between two messages to one chat


class ApiError(Exception):
    """An error answer: {"ok": false, "error_code", "description", "parameters"}."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            out["parameters"] = {"retry_after": self.retry_after}
        return out


@dataclass
class Message:
    """A message the bot sent, in its current state (after edits)."""

    message_id: int
    chat_id: int
    text: str | None = None  # the text, or a photo's/document's caption
    buttons: list[list[dict[str, Any]]] = field(default_factory=list)
    keyboard: str | None = None  # "inline", "reply" or None
    photo: str | None = None  # file id
    document: str | None = None  # file id
    document_name: str | None = None
    edited: int = 0
    date: int = 0

    @property
    def labels(self) -> list[str]:
        return [button["text"] for row in self.buttons for button in row]


@dataclass
class Call:
    """One API request: method, decoded params, when (monotonic seconds), the outcome."""

    method: str
    params: dict[str, Any]
    at: float
    ok: bool = True
    error_code: int | None = None


@dataclass
class _Queued:
    update: dict[str, Any]
    redelivered: bool = False
    served: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])

    @property
    def kind(self) -> str:
        return next(key for key in self.update if key != "update_id")


@dataclass
class _Fault:
    error: ApiError | None  # None: drop the connection
    times: int


class BotAPIEmulator:
    """One bot's view of Telegram, served over HTTP on a free local port."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        enforce_limits: bool = True,
        *,
        strict_chats: bool = False,
        per_chat_gap: float = 1.0,
        group_limit: int = 20,
        group_window: float = 60.0,
        overall_limit: int = 30,
    ) -> None:
        self.token = token
        self.enforce_limits = enforce_limits
        # Telegram's limits; a test may scale the group minute down to seconds.
        self.per_chat_gap = per_chat_gap
        self.group_limit = group_limit
        self.group_window = group_window
        self.overall_limit = overall_limit
        # With strict_chats, sending to a chat that never talked to the bot is
        # "chat not found", as on Telegram; off by default so tests may push first.
        self.strict_chats = strict_chats
        self.bot_user = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Front Desk",
            "username": "frontdesk_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.history: list[Call] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.files: dict[str, bytes] = {}
        self.file_names: dict[str, str] = {}
        self.too_many = 0
        self.broken: list[str] = []  # which limit each counted 429 was for
        self.injected_429 = 0  # answered by `flaky`, on top of the limits
        self._flaky: dict[str, float] = {}
        self._random = random.Random(7)
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.blocked: set[int] = set()
        self._messages: dict[int, dict[int, Message]] = {}
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._update_ids = itertools.count(1)
        self._updates: dict[int, dict[str, Any]] = {}
        self._queue: list[_Queued] = []
        self._arrived = asyncio.Event()  # wakes a long-polling getUpdates
        self._to_push = asyncio.Event()  # wakes the webhook pusher
        self._allowed: set[str] = set(_DEFAULT_UPDATES)
        self._callback_ids = itertools.count(1)
        self._open_queries: set[str] = set()
        self._file_ids = itertools.count(1)
        self._faults: dict[str, deque[_Fault]] = {}
        self._last_sent: dict[int, float] = {}
        self._group_sent: dict[int, deque[float]] = {}
        self._all_sent: deque[float] = deque()
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self._pusher: asyncio.Task[None] | None = None
        self.base_url = ""

    # ---- lifecycle ---------------------------------------------------------------

    async def start(self) -> str:
        """Serve on 127.0.0.1:<free port>; returns the base url ("http://127.0.0.1:PORT")."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # Open keep-alive connections are the bot's own; no need to wait for them on stop.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        self._client = ClientSession(timeout=ClientTimeout(total=10))
        self._pusher = asyncio.create_task(self._push_webhook())
        return self.base_url

    async def stop(self) -> None:
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- users act -----------------------------------------------------------------

    def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str = "private",
        language_code: str | None = "zh-hans",
        first_name: str = "User",
    ) -> int:
        """A user types `text` in a chat; returns the update id."""
        self._user(user_id, first_name, language_code)
        message = self._user_message(chat_id, user_id, chat_type, text=text)
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._enqueue("message", message)

    def send_photo(
        self,
        chat_id: int,
        user_id: int,
        file_id: str,
        *,
        caption: str | None = None,
        chat_type: str = "private",
    ) -> int:
        """A user sends a photo; its file id becomes downloadable through getFile."""
        self._user(user_id)
        self.files.setdefault(file_id, b"\xff\xd8\xff\xe0 photo " + file_id.encode())
        self.file_names.setdefault(file_id, f"{file_id}.jpg")
        photo = [
            {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": w, "height": w}
            for w in (90, 1280)
        ]
        fields: dict[str, Any] = {"photo": photo}
        if caption is not None:
            fields["caption"] = caption
        return self._enqueue("message", self._user_message(chat_id, user_id, chat_type, **fields))

    def send_contact(
        self, chat_id: int, user_id: int, phone: str, *, contact_user_id: int | None = None
    ) -> int:
        """A user shares a phone number (their own unless `contact_user_id` says otherwise)."""
        user = self._user(user_id)
        contact = {
            "phone_number": phone,
            "first_name": user["first_name"],
            "user_id": user_id if contact_user_id is None else contact_user_id,
        }
        return self._enqueue(
            "message", self._user_message(chat_id, user_id, "private", contact=contact)
        )

    def press(
        self, chat_id: int, user_id: int, message_id: int, data: str, *, chat_type: str = "private"
    ) -> int:
        """A user presses an inline button (any data: tests may forge) on a bot message."""
        user = self._user(user_id)
        self._chat(chat_id, chat_type)
        shown = self._messages.get(chat_id, {}).get(message_id)
        if shown is None:
            raise LookupError(f"no bot message {message_id} in chat {chat_id}")
        query_id = str(next(self._callback_ids))
        self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": user,
            "chat_instance": str(chat_id),
            "message": self._message_json(shown),
            "data": data,
        }
        return self._enqueue("callback_query", query)

    def add_bot_to_group(self, chat_id: int, by_user_id: int, title: str = "Group") -> int:
        """Someone adds the bot to a group: a my_chat_member update (left → member)."""
        chat = self._chat(chat_id, "group", title=title)
        update = {
            "chat": chat,
            "from": self._user(by_user_id),
            "date": int(time.time()),
            "old_chat_member": {"status": "left", "user": self.bot_user},
            "new_chat_member": {"status": "member", "user": self.bot_user},
        }
        return self._enqueue("my_chat_member", update)

    def redeliver(self, update_id: int) -> None:
        """Deliver an update again, as Telegram does when it was not acknowledged."""
        self._queue.insert(0, _Queued(self._updates[update_id], redelivered=True))
        self._wake()

    # ---- what the bot did ----------------------------------------------------------

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """Every API call (method, params), in order, including refused ones."""
        return [(call.method, call.params) for call in self.history]

    def messages(self, chat_id: int) -> list[Message]:
        """The bot's messages in a chat, oldest first, as they look now."""
        return list(self._messages.get(chat_id, {}).values())

    def last(self, chat_id: int) -> Message:
        shown = self.messages(chat_id)
        if not shown:
            raise LookupError(f"the bot said nothing in chat {chat_id}")
        return shown[-1]

    def button(self, chat_id: int, label_part: str) -> tuple[int, str]:
        """(message_id, callback_data) of the latest inline button whose text has `label_part`."""
        for shown in reversed(self.messages(chat_id)):
            for row in shown.buttons:
                for button in row:
                    if label_part in button["text"] and "callback_data" in button:
                        return shown.message_id, button["callback_data"]
        labels = [m.labels for m in self.messages(chat_id)]
        raise LookupError(f"no button {label_part!r} in chat {chat_id}: {labels}")

    # ---- faults --------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        description: str = "Too Many Requests: retry after 1",
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` get this error instead of working."""
        error = ApiError(error_code, description, retry_after if error_code == 429 else None)
        self._faults.setdefault(method.lower(), deque()).append(_Fault(error, times))

    def disconnect_next(self, method: str, times: int = 1) -> None:
        """The next `times` calls of `method` lose their connection (a network error)."""
        self._faults.setdefault(method.lower(), deque()).append(_Fault(None, times))

    def flaky(self, methods: set[str], share: float, seed: int = 7) -> None:
        """From now on a `share` of the calls to `methods` answer 429 (retry after 1 s),
        chosen at random (seeded), whatever the limits say: Telegram under load."""
        self._flaky = {method.lower(): share for method in methods}
        self._random = random.Random(seed)

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: later messages to the chat get 403."""
        self.blocked.add(chat_id)

    # ---- HTTP ------------------------------------------------------------------------

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params, uploads = await self._read_params(request)
        call = Call(method, params, asyncio.get_running_loop().time())
        self.history.append(call)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            self._take_flaky(method.lower())
            if self._take_fault(method.lower(), call):
                # Drop the connection without an answer: the client sees a network error.
                call.ok, call.error_code = False, 0
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=500)
            result = await self._dispatch(method.lower(), params, uploads)
        except ApiError as error:
            call.ok, call.error_code = False, error.code
            return web.json_response(error.body(), status=error.code)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        if request.match_info["token"] != self.token or file_id not in self.files:
            raise web.HTTPNotFound()
        return web.Response(body=self.files[file_id])

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
        """Decode query, form or JSON params; uploaded files come back separately."""
        raw: dict[str, Any] = dict(request.query)
        uploads: dict[str, Any] = {}
        if request.content_type == "application/json":
            raw.update(await request.json())
            return raw, uploads
        if request.body_exists:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = (value.filename, value.file.read())
                else:
                    raw[key] = value
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if key in _TEXT_FIELDS or not isinstance(value, str):
                params[key] = value
                continue
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        return params, uploads

    def _take_fault(self, method: str, call: Call) -> bool:
        """Raise an injected error, or return True when the connection is to be dropped."""
        faults = self._faults.get(method)
        if not faults:
            return False
        fault = faults[0]
        fault.times -= 1
        if fault.times <= 0:
            faults.popleft()
        if fault.error is not None:
            raise fault.error
        return True

    def _take_flaky(self, method: str) -> None:
        share = self._flaky.get(method)
        if share and self._random.random() < share:
            self.injected_429 += 1
            raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)

    async def _dispatch(self, method: str, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        if method in _COUNTED or method in _EDITS:
            chat_id = self._chat_id(params)
            if chat_id in self.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if self.strict_chats and chat_id not in self._chats:
                raise ApiError(400, "Bad Request: chat not found")
        if method in _COUNTED and self.enforce_limits:
            self._check_limits(self._chat_id(params))
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            raise ApiError(404, "Not Found")
        result = handler(params, uploads)
        if asyncio.iscoroutine(result):
            result = await result
        if method in _COUNTED:
            self._count(self._chat_id(params))
        return result

    # ---- flood limits ------------------------------------------------------------------

    def _check_limits(self, chat_id: int) -> None:
        now = asyncio.get_running_loop().time()
        waits: list[float] = []
        broken: list[str] = []
        last = self._last_sent.get(chat_id)
        if last is not None and now - last < self.per_chat_gap - _GAP_TOLERANCE:
            waits.append(last + self.per_chat_gap - now)
            broken.append(f"chat {chat_id}: {now - last:.3f} s after the last")
        window = self._group_sent.get(chat_id, deque())
        while window and window[0] <= now - self.group_window:
            window.popleft()
        if chat_id < 0 and len(window) >= self.group_limit:
            waits.append(window[0] + self.group_window - now)
            broken.append(f"group {chat_id}: {len(window)} in the window")
        while self._all_sent and self._all_sent[0] <= now - 1:
            self._all_sent.popleft()
        if len(self._all_sent) >= self.overall_limit:
            waits.append(self._all_sent[0] + 1 - now)
            broken.append(f"overall: {len(self._all_sent)} in the last second")
        if waits:
            self.too_many += 1
            self.broken.extend(broken)
            after = max(1, math.ceil(max(waits)))
            raise ApiError(429, f"Too Many Requests: retry after {after}", retry_after=after)

    def _count(self, chat_id: int) -> None:
        now = asyncio.get_running_loop().time()
        self._last_sent[chat_id] = now
        self._all_sent.append(now)
        if chat_id < 0:
            self._group_sent.setdefault(chat_id, deque()).append(now)

    # ---- API methods -------------------------------------------------------------------

    def _api_getme(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        return self.bot_user

    async def _api_getupdates(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._set_allowed(params.get("allowed_updates"))
        offset = params.get("offset")
        if isinstance(offset, int) and offset > 0:
            # An update is confirmed once getUpdates is called with a higher offset; a
            # redelivered one only after it was served again.
            self._queue = [
                q
                for q in self._queue
                if not (q.update_id < offset and (q.served or not q.redelivered))
            ]
        batch = self._ready(int(params.get("limit") or 100))
        if not batch:
            self._arrived.clear()
            timeout = min(float(params.get("timeout") or 0), 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout)
            batch = self._ready(int(params.get("limit") or 100))
        for queued in batch:
            queued.served = True
        return [q.update for q in batch]

    def _ready(self, limit: int) -> list[_Queued]:
        """The next updates to hand out: a redelivered one alone (so offsets stay sane)."""
        self._queue = [q for q in self._queue if q.kind in self._allowed]
        if self._queue and self._queue[0].redelivered:
            return self._queue[:1]
        batch: list[_Queued] = []
        for queued in self._queue:
            if queued.redelivered or len(batch) >= limit:
                break
            batch.append(queued)
        return batch

    def _set_allowed(self, allowed: Any) -> None:
        if allowed is not None:
            self._allowed = set(allowed) or set(_DEFAULT_UPDATES)

    def _api_setwebhook(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        url = params.get("url") or None
        self.webhook_url = url
        self.webhook_secret = params.get("secret_token") or None
        self._set_allowed(params.get("allowed_updates"))
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self._to_push.set()
        return True

    def _api_deletewebhook(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        self.webhook_url = None
        self.webhook_secret = None
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return True

    def _api_getwebhookinfo(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        return {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }

    def _api_sendmessage(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        shown = self._new_message(params, text=text)
        return self._message_json(shown)

    def _api_sendphoto(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        file_id = self._file(params, uploads, "photo")
        shown = self._new_message(params, text=params.get("caption"), photo=file_id)
        return self._message_json(shown)

    def _api_senddocument(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        file_id = self._file(params, uploads, "document")
        shown = self._new_message(params, text=params.get("caption"), document=file_id)
        shown.document_name = self.file_names.get(file_id)
        return self._message_json(shown)

    def _api_editmessagetext(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        shown = self._editable(params)
        if shown.photo or shown.document:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        return self._edit(shown, str(params.get("text") or ""), params.get("reply_markup"))

    def _api_editmessagecaption(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        shown = self._editable(params)
        return self._edit(shown, params.get("caption"), params.get("reply_markup"))

    def _api_editmessagereplymarkup(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        shown = self._editable(params)
        return self._edit(shown, shown.text, params.get("reply_markup"))

    def _api_deletemessage(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        shown = self._editable(params)
        del self._messages[shown.chat_id][shown.message_id]
        return True

    def _api_answercallbackquery(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id"))
        if query_id not in self._open_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._open_queries.discard(query_id)
        self.callback_answers.append(
            {
                "callback_query_id": query_id,
                "text": params.get("text"),
                "show_alert": bool(params.get("show_alert")),
            }
        )
        return True

    def _api_getfile(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id"))
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(self.files[file_id]),
            "file_path": f"files/{file_id}",
        }

    def _api_setmycommands(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        commands = [
            {"command": c["command"], "description": c["description"]}
            for c in params.get("commands") or []
        ]
        self.commands[self._scope_key(params)] = commands
        return True

    def _api_deletemycommands(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        self.commands.pop(self._scope_key(params), None)
        return True

    def _api_getmycommands(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        return self.commands.get(self._scope_key(params), [])

    def _api_sendchataction(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        return True

    def _api_getchat(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params)
        if chat_id not in self._chats:
            raise ApiError(400, "Bad Request: chat not found")
        return self._chats[chat_id]

    def _api_leavechat(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        return True

    def _api_close(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        return True

    def _api_logout(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        return True

    # ---- helpers -----------------------------------------------------------------------

    @staticmethod
    def _scope_key(params: dict[str, Any]) -> tuple[str, str]:
        """("default" | "all_private_chats" | "chat:<id>" | "chat_member:<id>:<user>", lang)."""
        scope = params.get("scope") or {"type": "default"}
        parts = [str(scope["type"])]
        if "chat_id" in scope:
            parts.append(str(scope["chat_id"]))
        if "user_id" in scope:
            parts.append(str(scope["user_id"]))
        return ":".join(parts), str(params.get("language_code") or "")

    @staticmethod
    def _chat_id(params: dict[str, Any]) -> int:
        try:
            return int(params["chat_id"])
        except (KeyError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None

    def _user(
        self, user_id: int, first_name: str | None = None, language_code: str | None = None
    ) -> dict[str, Any]:
        user = self._users.setdefault(
            user_id, {"id": user_id, "is_bot": False, "first_name": first_name or "User"}
        )
        if first_name is not None:
            user["first_name"] = first_name
        if language_code is not None:
            user["language_code"] = language_code
        return dict(user)

    def _chat(self, chat_id: int, chat_type: str, title: str = "Group") -> dict[str, Any]:
        if chat_id not in self._chats:
            if chat_type == "private":
                name = self._users.get(chat_id, {}).get("first_name", "User")
                self._chats[chat_id] = {"id": chat_id, "type": "private", "first_name": name}
            else:
                self._chats[chat_id] = {"id": chat_id, "type": chat_type, "title": title}
        return dict(self._chats[chat_id])

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _user_message(
        self, chat_id: int, user_id: int, chat_type: str, **fields: Any
    ) -> dict[str, Any]:
        return {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": self._chat(chat_id, chat_type),
            "from": self._user(user_id),
            **fields,
        }

    def _enqueue(self, kind: str, body: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        update = {"update_id": update_id, kind: body}
        self._updates[update_id] = update
        self._queue.append(_Queued(update))
        self._wake()
        return update_id

    def _wake(self) -> None:
        self._arrived.set()
        self._to_push.set()

    def _new_message(
        self,
        params: dict[str, Any],
        *,
        text: str | None,
        photo: str | None = None,
        document: str | None = None,
    ) -> Message:
        chat_id = self._chat_id(params)
        self._chat(chat_id, "private" if chat_id > 0 else "group")
        shown = Message(
            message_id=self._next_message_id(chat_id),
            chat_id=chat_id,
            text=text,
            photo=photo,
            document=document,
            date=int(time.time()),
        )
        self._apply_markup(shown, params.get("reply_markup"))
        self._messages.setdefault(chat_id, {})[shown.message_id] = shown
        return shown

    def _apply_markup(self, shown: Message, markup: dict[str, Any] | None) -> None:
        if not markup:
            shown.buttons, shown.keyboard = [], None
        elif "inline_keyboard" in markup:
            for row in markup["inline_keyboard"]:
                for button in row:
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(data.encode()) <= 64:
                        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            shown.buttons, shown.keyboard = markup["inline_keyboard"], "inline"
        elif "keyboard" in markup:
            shown.buttons, shown.keyboard = markup["keyboard"], "reply"
        else:  # remove_keyboard / force_reply: nothing shown on the message
            shown.buttons, shown.keyboard = [], None

    def _editable(self, params: dict[str, Any]) -> Message:
        chat_id = self._chat_id(params)
        shown = self._messages.get(chat_id, {}).get(int(params.get("message_id") or 0))
        if shown is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return shown

    def _edit(self, shown: Message, text: str | None, markup: dict[str, Any] | None) -> Any:
        if markup is not None and "inline_keyboard" not in markup:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        buttons = (markup or {}).get("inline_keyboard", [])
        if text == shown.text and buttons == shown.buttons:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        shown.text = text
        # As on Telegram, an edit without reply_markup takes the inline keyboard away.
        self._apply_markup(shown, markup)
        shown.edited += 1
        return self._message_json(shown)

    def _file(self, params: dict[str, Any], uploads: dict[str, Any], name: str) -> str:
        """The file id a send refers to; an upload (attach://key or a file part) gets a new one."""
        value = params.get(name)
        key = (
            value[len("attach://") :]
            if isinstance(value, str) and value.startswith("attach://")
            else name
        )
        if key in uploads:
            filename, content = uploads[key]
            file_id = f"BQAC-{name}-{next(self._file_ids)}"
            self.files[file_id] = content
            self.file_names[file_id] = filename or name
            return file_id
        if not isinstance(value, str) or value not in self.files:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return value

    def _message_json(self, shown: Message) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message_id": shown.message_id,
            "date": shown.date,
            "chat": self._chat(shown.chat_id, "private" if shown.chat_id > 0 else "group"),
            "from": self.bot_user,
        }
        if shown.photo:
            out["photo"] = [
                {
                    "file_id": shown.photo,
                    "file_unique_id": f"u{shown.photo}",
                    "width": 90,
                    "height": 90,
                }
            ]
        if shown.document:
            out["document"] = {
                "file_id": shown.document,
                "file_unique_id": f"u{shown.document}",
                "file_name": shown.document_name,
            }
        if shown.text is not None:
            out["caption" if shown.photo or shown.document else "text"] = shown.text
        if shown.edited:
            out["edit_date"] = int(time.time())
        if shown.keyboard == "inline":
            out["reply_markup"] = {"inline_keyboard": shown.buttons}
        return out

    # ---- webhook -----------------------------------------------------------------------

    async def _push_webhook(self) -> None:
        """POST queued updates to the webhook one by one, in order, retrying until 2xx."""
        while True:
            await self._to_push.wait()
            self._to_push.clear()
            while self.webhook_url and self._queue:
                self._queue = [q for q in self._queue if q.kind in self._allowed]
                if not self._queue:
                    break
                queued = self._queue[0]
                if await self._post_update(self.webhook_url, queued.update):
                    if self._queue and self._queue[0] is queued:
                        self._queue.pop(0)
                else:
                    await asyncio.sleep(0.2)

    async def _post_update(self, url: str, update: dict[str, Any]) -> bool:
        assert self._client is not None
        headers = {}
        if self.webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
        try:
            async with self._client.post(url, json=update, headers=headers) as response:
                if not 200 <= response.status < 300:
                    return False
                body = await response.read()
        except (ClientError, TimeoutError, OSError):
            return False
        await self._answer_in_response(body)
        return True

    async def _answer_in_response(self, body: bytes) -> None:
        """A webhook may answer with one API call in its response body; run it."""
        try:
            reply = json.loads(body) if body else None
        except ValueError:
            return
        if isinstance(reply, dict) and isinstance(reply.get("method"), str):
            params = {k: v for k, v in reply.items() if k != "method"}
            method = reply["method"]
            call = Call(method, params, asyncio.get_running_loop().time())
            self.history.append(call)
            try:
                await self._dispatch(method.lower(), params, {})
            except ApiError as error:
                call.ok, call.error_code = False, error.code
