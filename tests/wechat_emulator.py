"""A local emulator of the WeChat official-account API and the WeCom API, for the tests.

One aiohttp server on 127.0.0.1 answers both APIs under the real paths, so its base URL
serves as FRONTDESK_WECHAT_API_URL and FRONTDESK_WECOM_API_URL. It records what the bot
sent (customer-service and template messages, menus, WeCom app messages) and can be
told to fail: `fail_custom` (out of the 48-hour window, quota), `expire_tokens`.

The platform's side of the callbacks is here too: `mp_request` builds what WeChat posts
to `/wechat` (plaintext or safe mode, signed with wechatpy's own crypto), `mp_verify` the
URL-verification query, `mp_reply` reads a passive reply back.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

APPID = "wx2c2769f8efd9abc2"
TOKEN_LIFETIME = 7200

ERR_OK = {"errcode": 0, "errmsg": "ok"}
ERR_INVALID_TOKEN = {"errcode": 40014, "errmsg": "invalid access_token"}
ERR_EXPIRED_TOKEN = {"errcode": 42001, "errmsg": "access_token expired"}
ERR_BAD_SECRET = {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
ERR_BAD_APPID = {"errcode": 40013, "errmsg": "invalid appid"}
ERR_BAD_MEDIA = {"errcode": 40007, "errmsg": "invalid media_id"}
ERR_BAD_JSON = {"errcode": 47001, "errmsg": "data format error"}
CUSTOM_ERRORS = {
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
}


class WeChatEmulator:
    """The official-account API and the WeCom API on one loopback port."""

    def __init__(
        self,
        appid: str = APPID,
        secret: str = "SECRET",
        corp_id: str = "ww0000000000000001",
        corp_secret: str = "CORPSECRET",
        agent_id: str = "1000002",
    ) -> None:
        self.appid, self.secret = appid, secret
        self.corp_id, self.corp_secret, self.agent_id = corp_id, corp_secret, agent_id
        # official account
        self.token_requests = 0
        self.custom: list[dict[str, Any]] = []
        self.templates: list[dict[str, Any]] = []
        self.menus: list[dict[str, Any]] = []
        self.media: dict[str, bytes] = {}
        self.media_types: dict[str, str] = {}
        self.media_downloads: list[str] = []
        # WeCom
        self.wecom_token_requests = 0
        self.wecom_messages: list[dict[str, Any]] = []
        self.appchats: dict[str, dict[str, Any]] = {}
        # every API call, as (path, query without the token), for a failing test's message
        self.calls: list[tuple[str, dict[str, str]]] = []
        self._tokens: dict[str, str] = {}  # live token -> "mp" or "wecom"
        self._expired: set[str] = set()
        self._custom_failures: list[int] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.add_routes(
            [
                web.get("/cgi-bin/token", self._mp_token),
                web.post("/cgi-bin/message/custom/send", self._custom_send),
                web.post("/cgi-bin/message/template/send", self._template_send),
                web.post("/cgi-bin/media/upload", self._media_upload),
                web.get("/cgi-bin/media/get", self._media_get),
                web.post("/cgi-bin/menu/create", self._menu_create),
                web.get("/cgi-bin/gettoken", self._wecom_token),
                web.post("/cgi-bin/message/send", self._wecom_send),
                web.post("/cgi-bin/appchat/create", self._appchat_create),
                web.post("/cgi-bin/appchat/send", self._appchat_send),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- test controls -----------------------------------------------------------------

    def add_media(self, data: bytes, media_id: str | None = None) -> str:
        """Store a file as if a user had sent it; returns its media id."""
        media_id = media_id or f"MEDIA_{uuid.uuid4().hex}"
        self.media[media_id] = data
        self.media_types[media_id] = "image"
        return media_id

    def fail_custom(self, errcode: int = 45015, times: int = 1) -> None:
        """The next `times` customer-service sends answer `errcode` (45015 window, 45047 quota)."""
        self._custom_failures.extend([errcode] * times)

    def expire_tokens(self) -> None:
        """Every token issued so far is expired: the next call with one answers 42001."""
        self._expired.update(self._tokens)
        self._tokens.clear()

    # ---- helpers -----------------------------------------------------------------------

    def _issue(self, kind: str) -> str:
        token = f"{kind.upper()}_TOKEN_{next(self._ids)}_{uuid.uuid4().hex[:8]}"
        self._tokens[token] = kind
        return token

    def _auth(self, request: web.Request, kind: str) -> dict[str, Any] | None:
        """None when the request carries a live token of `kind`; else the error to answer."""
        query = {k: v for k, v in request.query.items() if k != "access_token"}
        self.calls.append((request.path, query))
        token = request.query.get("access_token", "")
        if token in self._expired:
            return ERR_EXPIRED_TOKEN
        if self._tokens.get(token) != kind:
            return ERR_INVALID_TOKEN
        return None

    async def _json(self, request: web.Request) -> dict[str, Any] | None:
        try:
            data = json.loads(await request.read())
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    # ---- official account ---------------------------------------------------------------

    async def _mp_token(self, request: web.Request) -> web.Response:
        self.calls.append((request.path, {"appid": request.query.get("appid", "")}))
        self.token_requests += 1
        if request.query.get("grant_type") != "client_credential":
            return web.json_response({"errcode": 40002, "errmsg": "invalid grant_type"})
        if request.query.get("appid") != self.appid:
            return web.json_response(ERR_BAD_APPID)
        if request.query.get("secret") != self.secret:
            return web.json_response(ERR_BAD_SECRET)
        return web.json_response({"access_token": self._issue("mp"), "expires_in": TOKEN_LIFETIME})

    async def _custom_send(self, request: web.Request) -> web.Response:
        if (error := self._auth(request, "mp")) is not None:
            return web.json_response(error)
        data = await self._json(request)
        if data is None or not data.get("touser") or not data.get("msgtype"):
            return web.json_response(ERR_BAD_JSON)
        if self._custom_failures:
            code = self._custom_failures.pop(0)
            return web.json_response({"errcode": code, "errmsg": CUSTOM_ERRORS.get(code, "")})
        self.custom.append(data)
        return web.json_response(ERR_OK)

    async def _template_send(self, request: web.Request) -> web.Response:
        if (error := self._auth(request, "mp")) is not None:
            return web.json_response(error)
        data = await self._json(request)
        if data is None or not data.get("touser") or not data.get("template_id"):
            return web.json_response(ERR_BAD_JSON)
        self.templates.append(data)
        return web.json_response({**ERR_OK, "msgid": next(self._ids)})

    async def _media_upload(self, request: web.Request) -> web.Response:
        # the same path serves both APIs; either kind of token may upload
        error = self._auth(request, "mp")
        if error == ERR_INVALID_TOKEN:
            error = self._auth(request, "wecom")
        if error is not None:
            return web.json_response(error)
        media_type = request.query.get("type", "")
        if media_type not in ("image", "voice", "video", "thumb", "file"):
            return web.json_response({"errcode": 40004, "errmsg": "invalid media type"})
        form = await request.post()
        field = form.get("media")
        if not isinstance(field, web.FileField):
            return web.json_response({"errcode": 41005, "errmsg": "media data missing"})
        media_id = f"UP_{uuid.uuid4().hex}"
        self.media[media_id] = field.file.read()
        self.media_types[media_id] = media_type
        return web.json_response(
            {"type": media_type, "media_id": media_id, "created_at": int(time.time())}
        )

    async def _media_get(self, request: web.Request) -> web.Response:
        if (error := self._auth(request, "mp")) is not None:
            return web.json_response(error)
        media_id = request.query.get("media_id", "")
        if media_id not in self.media:
            return web.json_response(ERR_BAD_MEDIA)
        self.media_downloads.append(media_id)
        return web.Response(
            body=self.media[media_id],
            content_type="image/jpeg",
            headers={"Content-Disposition": f'attachment; filename="{media_id}.jpg"'},
        )

    async def _menu_create(self, request: web.Request) -> web.Response:
        if (error := self._auth(request, "mp")) is not None:
            return web.json_response(error)
        data = await self._json(request)
        if data is None or not isinstance(data.get("button"), list) or not data["button"]:
            return web.json_response(ERR_BAD_JSON)
        if len(data["button"]) > 3:
            return web.json_response({"errcode": 40016, "errmsg": "invalid button size"})
        self.menus.append(data)
        return web.json_response(ERR_OK)

    # ---- WeCom -------------------------------------------------------------------------

    async def _wecom_token(self, request: web.Request) -> web.Response:
        self.calls.append((request.path, {"corpid": request.query.get("corpid", "")}))
        self.wecom_token_requests += 1
        if request.query.get("corpid") != self.corp_id:
            return web.json_response({"errcode": 40013, "errmsg": "invalid corpid"})
        if request.query.get("corpsecret") != self.corp_secret:
            return web.json_response(ERR_BAD_SECRET)
        return web.json_response(
            {**ERR_OK, "access_token": self._issue("wecom"), "expires_in": TOKEN_LIFETIME}
        )

    async def _wecom_send(self, request: web.Request) -> web.Response:
        if (error := self._auth(request, "wecom")) is not None:
            return web.json_response(error)
        data = await self._json(request)
        if data is None or not data.get("msgtype"):
            return web.json_response(ERR_BAD_JSON)
        if str(data.get("agentid", "")) != self.agent_id:
            return web.json_response({"errcode": 40056, "errmsg": "invalid agentid"})
        if not any(data.get(k) for k in ("touser", "toparty", "totag")):
            return web.json_response({"errcode": 40035, "errmsg": "invalid parameter"})
        self.wecom_messages.append(data)
        return web.json_response(
            {**ERR_OK, "invaliduser": "", "invalidparty": "", "msgid": f"wc{next(self._ids)}"}
        )

    async def _appchat_create(self, request: web.Request) -> web.Response:
        if (error := self._auth(request, "wecom")) is not None:
            return web.json_response(error)
        data = await self._json(request)
        if data is None or len(data.get("userlist") or []) < 2:
            return web.json_response(ERR_BAD_JSON)
        chat_id = str(data.get("chatid") or f"chat{next(self._ids)}")
        self.appchats[chat_id] = data
        return web.json_response({**ERR_OK, "chatid": chat_id})

    async def _appchat_send(self, request: web.Request) -> web.Response:
        if (error := self._auth(request, "wecom")) is not None:
            return web.json_response(error)
        data = await self._json(request)
        if data is None or not data.get("chatid") or not data.get("msgtype"):
            return web.json_response(ERR_BAD_JSON)
        if data["chatid"] not in self.appchats:
            return web.json_response({"errcode": 86003, "errmsg": "chat not found"})
        self.wecom_messages.append(data)
        return web.json_response(ERR_OK)


# ---- the platform's side of the official-account callback ------------------------------------


@dataclass(frozen=True)
class CallbackRequest:
    """What WeChat sends to `/wechat`: the query string and the XML body."""

    params: dict[str, str]
    body: bytes


def mp_xml(
    msg_type: str,
    from_user: str,
    *,
    to_user: str = "gh_frontdesk",
    create_time: int | None = None,
    **fields: str | int | float,
) -> str:
    """A message or event as WeChat writes it (`MsgId=…`, `Content=…`, `Event=…`)."""
    values: dict[str, Any] = {
        "ToUserName": to_user,
        "FromUserName": from_user,
        "CreateTime": create_time if create_time is not None else int(time.time()),
        "MsgType": msg_type,
        **fields,
    }
    parts = []
    for name, value in values.items():
        text = str(value) if isinstance(value, int | float) else f"<![CDATA[{value}]]>"
        parts.append(f"<{name}>{text}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def _sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def mp_verify(
    token: str, echostr: str = "echo-1234567890", *, timestamp: str = "", nonce: str = ""
) -> dict[str, str]:
    """The query of WeChat's URL-verification GET."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or uuid.uuid4().hex[:10]
    return {
        "signature": _sign(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": echostr,
    }


def mp_request(
    xml: str,
    token: str,
    aes_key: str | None = None,
    appid: str = APPID,
    *,
    openid: str = "",
    timestamp: str = "",
    nonce: str = "",
    sign_token: str | None = None,
) -> CallbackRequest:
    """A signed callback POST: plaintext, or safe mode (`encrypt_type=aes`) with `aes_key`.

    `sign_token` signs with another token (a forged request); `appid` encrypts for
    another account in safe mode.
    """
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or uuid.uuid4().hex[:10]
    signer = token if sign_token is None else sign_token
    params = {"signature": _sign(signer, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    if openid:
        params["openid"] = openid
    if aes_key is None:
        return CallbackRequest(params, xml.encode())
    envelope = WeChatCrypto(signer, aes_key, appid).encrypt_message(xml, nonce, timestamp)
    fields = xmltodict.parse(envelope)["xml"]
    params.update(encrypt_type="aes", msg_signature=fields["MsgSignature"])
    body = (
        "<xml><ToUserName><![CDATA[gh_frontdesk]]></ToUserName>"
        f"<Encrypt><![CDATA[{fields['Encrypt']}]]></Encrypt></xml>"
    )
    return CallbackRequest(params, body.encode())


def mp_reply(
    body: str, token: str | None = None, aes_key: str | None = None, appid: str = APPID
) -> dict[str, Any]:
    """A passive reply's fields (decrypted in safe mode); {} for `success` or an empty body."""
    if body.strip() in ("", "success"):
        return {}
    fields: dict[str, Any] = xmltodict.parse(body)["xml"]
    if aes_key is None:
        return fields
    assert token is not None, "a safe-mode reply needs the token to check its signature"
    plain = WeChatCrypto(token, aes_key, appid).decrypt_message(
        body, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]
    )
    return dict(xmltodict.parse(plain)["xml"])


# ---- the platform's side of the WeCom callback (`/wecom`) -----------------------------------
# WeCom always encrypts its callbacks; the envelope carries the Encrypt element and the
# query the signature over (token, timestamp, nonce, Encrypt).

WECOM_CORP_ID = "ww0000000000000001"
WECOM_AGENT_ID = "1000002"
_wecom_ids = itertools.count(7_000_000_000_000_000_001)


def wecom_xml(
    msg_type: str,
    from_user: str,
    *,
    corp_id: str = WECOM_CORP_ID,
    agent_id: str = WECOM_AGENT_ID,
    msg_id: int | None = None,
    create_time: int | None = None,
    **fields: str | int,
) -> str:
    """A message a staff member sent to the app (`Content=…`, `MediaId=…`, `Event=…`).

    Messages get a fresh `MsgId` unless one is given (a retry repeats it); events have none.
    """
    values: dict[str, Any] = {
        "ToUserName": corp_id,
        "FromUserName": from_user,
        "CreateTime": create_time if create_time is not None else int(time.time()),
        "MsgType": msg_type,
        **fields,
    }
    if msg_type != "event":
        values["MsgId"] = msg_id if msg_id is not None else next(_wecom_ids)
    values["AgentID"] = int(agent_id)
    parts = []
    for name, value in values.items():
        text = str(value) if isinstance(value, int) else f"<![CDATA[{value}]]>"
        parts.append(f"<{name}>{text}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def wecom_verify(
    token: str, aes_key: str, corp_id: str = WECOM_CORP_ID, echostr: str = "wecom-echo-42"
) -> dict[str, str]:
    """The query of WeCom's URL verification: `echostr` encrypted and signed."""
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    envelope = WeComCrypto(token, aes_key, corp_id).encrypt_message(echostr, nonce, timestamp)
    fields = xmltodict.parse(envelope)["xml"]
    return {
        "msg_signature": fields["MsgSignature"],
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": fields["Encrypt"],
    }


def wecom_request(
    xml: str,
    token: str,
    aes_key: str,
    corp_id: str = WECOM_CORP_ID,
    *,
    agent_id: str = WECOM_AGENT_ID,
    timestamp: str = "",
    nonce: str = "",
    sign_token: str | None = None,
) -> CallbackRequest:
    """The signed, encrypted POST WeCom makes to `/wecom`.

    `sign_token` signs with another token (a forged request); `corp_id` encrypts for
    another company.
    """
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or uuid.uuid4().hex[:10]
    envelope = WeComCrypto(token, aes_key, corp_id).encrypt_message(xml, nonce, timestamp)
    fields = xmltodict.parse(envelope)["xml"]
    signature = fields["MsgSignature"]
    if sign_token is not None:
        signature = _sign(sign_token, timestamp, nonce, fields["Encrypt"])
    params = {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}
    body = (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName>"
        f"<Encrypt><![CDATA[{fields['Encrypt']}]]></Encrypt>"
        f"<AgentID><![CDATA[{agent_id}]]></AgentID></xml>"
    )
    return CallbackRequest(params, body.encode())
