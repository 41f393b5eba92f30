"""A small async client of the WeChat official-account API (aiohttp, never `requests`).

Access tokens are cached in the `key_value` table, so every worker of every process uses
the same one: WeChat issues a limited number a day and a new token retires the old one.
A refresh happens under a row lock (PostgreSQL) or the write lock (SQLite), so two workers
finding the token expired fetch it once (`storage.keyvalue.cached_token`, shared with the
WeCom client).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp

from handlers.core.clock import Clock
from storage.db import Database
from storage.keyvalue import cached_token, forget_token

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.weixin.qq.com"
TIMEOUT = aiohttp.ClientTimeout(total=15)
# The token is bad: fetch a new one and try once more.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})


class WeChatAPIError(Exception):
    """WeChat answered with a non-zero errcode (or not at all, errcode -1)."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"{errcode} {errmsg}".strip())
        self.errcode = errcode
        self.errmsg = errmsg


def _json_of(body: bytes) -> dict[str, Any] | None:
    """A JSON object answer; None for a file. (WeChat labels some JSON errors text/plain.)"""
    if not body.lstrip().startswith(b"{"):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def check(data: dict[str, Any]) -> dict[str, Any]:
    """The answer, or `WeChatAPIError` when it carries a non-zero errcode."""
    code = int(data.get("errcode") or 0)
    if code:
        raise WeChatAPIError(code, str(data.get("errmsg", "")))
    return data


class WeChatAPI:
    """The calls the front desk makes to the official account's API.

    Used as `async with WeChatAPI(...) as api:` it keeps one HTTP session open (the
    delivery loop); otherwise each call opens its own (the callback's rare calls).
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        appid: str,
        secret: str,
        base_url: str | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.appid = appid
        self._secret = secret
        self.base_url = (base_url or DEFAULT_API_URL).rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    @property
    def token_key(self) -> str:
        return f"wechat:token:{self.appid}"

    async def __aenter__(self) -> WeChatAPI:
        self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- plumbing --------------------------------------------------------------------

    async def _request(self, method: str, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        """One HTTP request; the response is read before it is returned."""
        url = self.base_url + path
        if self._session is not None:
            response = await self._session.request(method, url, **kwargs)
            await response.read()
            return response
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            response = await session.request(method, url, **kwargs)
            await response.read()
            return response

    async def _fetch_token(self) -> tuple[str, int]:
        response = await self._request(
            "GET",
            "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self._secret},
        )
        data = check(_json_of(await response.read()) or {"errcode": -1, "errmsg": "no JSON"})
        log.info("wechat: new access token for %s", self.appid)
        return str(data["access_token"]), int(data.get("expires_in", 7200))

    async def token(self) -> str:
        return await cached_token(self.db, self.token_key, self.clock.now(), self._fetch_token)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
    ) -> aiohttp.ClientResponse:
        """An authorised call; a refused token is replaced once and the call repeated.

        A file upload is given as `form`, a function: a form is consumed when sent.
        """
        for attempt in (1, 2):
            token = await self.token()
            response = await self._request(
                method,
                path,
                params={**(params or {}), "access_token": token},
                json=body,
                data=form() if form is not None else None,
            )
            data = _json_of(await response.read())
            if data is None:
                if response.status == 200:
                    return response  # a file
                raise WeChatAPIError(-1, f"HTTP {response.status}")
            code = int(data.get("errcode") or 0)
            if code in TOKEN_ERRORS and attempt == 1:
                await forget_token(self.db, self.token_key, token)
                continue
            check(data)
            return response
        raise AssertionError("unreachable")

    async def _post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._call("POST", path, body=body)
        return _json_of(await response.read()) or {}

    # ---- the calls -------------------------------------------------------------------

    async def send_text(self, openid: str, content: str) -> None:
        """A customer-service text message (inside the 48-hour window)."""
        await self._post_json(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "text", "text": {"content": content}},
        )

    async def send_image(self, openid: str, media_id: str) -> None:
        """A customer-service image message; `media_id` from `upload_media`."""
        await self._post_json(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "image", "image": {"media_id": media_id}},
        )

    async def send_template(
        self, openid: str, template_id: str, data: dict[str, str], url: str | None = None
    ) -> str:
        """A template message (allowed outside the window); returns WeChat's msgid."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {name: {"value": value} for name, value in data.items()},
        }
        if url:
            body["url"] = url
        answer = await self._post_json("/cgi-bin/message/template/send", body)
        return str(answer.get("msgid", ""))

    async def upload_media(self, kind: str, filename: str, content: bytes) -> str:
        """Upload a temporary file (`image`, `voice`, `video`, `thumb`); returns its media id."""

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            data.add_field("media", content, filename=filename)
            return data

        response = await self._call(
            "POST", "/cgi-bin/media/upload", params={"type": kind}, form=form
        )
        data = _json_of(await response.read()) or {}
        return str(data["media_id"])

    async def download_media(self, media_id: str) -> bytes:
        """A user's file by media id (WeChat keeps them for three days)."""
        response = await self._call("GET", "/cgi-bin/media/get", params={"media_id": media_id})
        return await response.read()

    async def create_menu(self, menu: dict[str, Any]) -> None:
        """Publish the custom menu (replaces the one shown to everybody)."""
        await self._post_json("/cgi-bin/menu/create", menu)
