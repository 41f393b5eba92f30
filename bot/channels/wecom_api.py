"""An async client of the WeCom (企业微信) server API: access token, app messages, app chats.

The access token is cached in the `key_value` table with the official account's helpers
(`storage.keyvalue.cached_token`), so every worker of the bot, in every process on
the same database, shares one token and a refresh is fetched once: WeCom limits how often
tokens may be fetched.

Calls go through aiohttp, never wechatpy's blocking `requests` client. An answer saying
the token is invalid or expired (40014, 42001) makes the client forget it, fetch a new
one and try the call once more.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp

from handlers.core.clock import Clock
from storage.db import Database
from storage.keyvalue import cached_token, forget_token

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://qyapi.weixin.qq.com"
# 40014 invalid, 42001 expired, 41001 missing access token: fetch a new one and retry once.
TOKEN_ERRORS = frozenset({40014, 42001, 41001})
TIMEOUT = aiohttp.ClientTimeout(total=10)


class WeComError(Exception):
    """WeCom answered with a non-zero `errcode`."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeCom error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeComUnavailable(Exception):
    """WeCom could not be reached or answered something that is not its JSON."""


class WeComAPI:
    """One WeCom app (corp id, app secret, agent id) talking to the API at `base_url`."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        corp_id: str,
        secret: str,
        agent_id: str,
        base_url: str | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.base_url = (base_url or DEFAULT_API_URL).rstrip("/")
        self.token_key = f"wecom:access_token:{corp_id}:{agent_id}"
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._http

    # ---- messages ----------------------------------------------------------------------

    async def send_message(
        self, target: dict[str, str], msgtype: str, content: dict[str, Any]
    ) -> dict[str, Any]:
        """`message/send`: an app message to users, departments or tags (`touser`…)."""
        agent: int | str = int(self.agent_id) if self.agent_id.isdigit() else self.agent_id
        body = {**target, "msgtype": msgtype, "agentid": agent, msgtype: content}
        return await self.call("/cgi-bin/message/send", body)

    async def send_appchat(
        self, chat_id: str, msgtype: str, content: dict[str, Any]
    ) -> dict[str, Any]:
        """`appchat/send`: a message to a group chat the app created."""
        body = {"chatid": chat_id, "msgtype": msgtype, msgtype: content}
        return await self.call("/cgi-bin/appchat/send", body)

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` with the shared token; an expired token is renewed once."""
        token = await self.access_token()
        try:
            return await self._post(path, token, body)
        except WeComError as error:
            if error.errcode not in TOKEN_ERRORS:
                raise
            log.info("wecom: access token refused (%s), fetching a new one", error.errcode)
            await self._forget(token)
            return await self._post(path, await self.access_token(), body)

    async def _post(self, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body, ensure_ascii=False).encode()
        return await self._request(
            "POST",
            path,
            params={"access_token": token},
            data=data,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self._session().request(method, self.base_url + path, **kwargs) as resp:
                if resp.status >= 500:
                    raise WeComUnavailable(f"{path}: HTTP {resp.status}")
                answer = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise WeComUnavailable(f"{path}: {type(exc).__name__}: {exc}") from None
        if not isinstance(answer, dict):
            raise WeComUnavailable(f"{path}: unexpected answer")
        errcode = int(answer.get("errcode") or 0)
        if errcode:
            raise WeComError(errcode, str(answer.get("errmsg", "")))
        return answer

    # ---- the shared access token ---------------------------------------------------------

    async def access_token(self) -> str:
        """A valid token: the cached one, or a new one fetched once for all workers."""
        return await cached_token(self.db, self.token_key, self.clock.now(), self._fetch_token)

    async def _fetch_token(self) -> tuple[str, int]:
        answer = await self._request(
            "GET", "/cgi-bin/gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret}
        )
        token = str(answer.get("access_token") or "")
        if not token:
            raise WeComUnavailable("gettoken: no access_token in the answer")
        log.info("wecom: fetched a new access token")
        return token, int(answer.get("expires_in") or 7200)

    async def _forget(self, token: str) -> None:
        await forget_token(self.db, self.token_key, token)
