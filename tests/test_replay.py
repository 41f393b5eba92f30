"""Replayed callbacks: an old signature, or a signature used again for another message.

WeChat's plaintext mode signs only the token, the timestamp and the nonce, so whoever saw
one request could send its query again with any body, as any resident. These tests are
that attacker, against the real `/wechat` and `/wecom` callbacks (requests signed with
wechatpy's crypto in `tests/wechat_emulator.py`), and WeChat itself, whose retries of one
message must still be answered, once.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.channels import wechat
from bot.http import make_web_app
from handlers.core.clock import ManualClock
from storage.db import Database
from storage.models import InboundUpdate, KeyValue, Outbox
from tests.test_wechat import (
    AES_KEY,
    TOKEN,
    VECTOR,
    OpenWeChat,
    Resident,
    WeChat,
    emulator,
    open_wechat,
)
from tests.test_wecom import AES_KEY as WECOM_AES_KEY
from tests.test_wecom import TOKEN as WECOM_TOKEN
from tests.test_wecom import WeCom, app, desk
from tests.wechat_emulator import (
    CallbackRequest,
    mp_reply,
    mp_request,
    mp_verify,
    wecom_request,
    wecom_xml,
)

__all__ = ["app", "desk", "emulator", "open_wechat"]  # fixtures, used below by name

ATTACKER = "oAttacker00000000000000000001"
_ids = iter(range(60_000_000, 69_999_999))


def now() -> int:
    return int(time.time())


async def stored_for(wx: WeChat, openid: str) -> tuple[int, int]:
    """Messages stored from `openid`, and outbox rows written to it."""
    async with wx.app.db.transaction() as session:
        inbound = await session.exec(select(InboundUpdate).where(InboundUpdate.chat_id == openid))
        rows = await session.exec(select(Outbox).where(Outbox.chat_id == openid))
        return len(inbound.all()), len(rows.all())


# ---- WeChat ----------------------------------------------------------------------------------


async def test_a_signature_from_2014_is_refused_and_nothing_is_stored(open_wechat: OpenWeChat):
    """WeChat's own conformance vector: genuine, signed in 2014, valid forever until now."""
    vector = json.loads(VECTOR.read_text(encoding="utf-8"))
    wx = await open_wechat(
        aes_key=vector["encoding_aes_key"], appid=vector["appid"], token=vector["token"]
    )
    signature = mp_verify(vector["token"], timestamp=vector["timestamp"], nonce=vector["nonce"])
    params = {
        "signature": signature["signature"],
        "timestamp": vector["timestamp"],
        "nonce": vector["nonce"],
        "encrypt_type": "aes",
        "msg_signature": vector["msg_signature"],
    }
    status, _ = await wx.post(CallbackRequest(params, vector["body"].encode()))
    assert status == 403
    assert await wx.count(InboundUpdate) == 0 and await wx.count(Outbox) == 0


async def test_timestamps_are_accepted_within_five_minutes_of_now_only(open_wechat: OpenWeChat):
    wx = await open_wechat()
    zhang = Resident(wx)
    for offset in (-360, 360, -(10**9)):  # six minutes late, six minutes early, long ago
        xml = zhang.xml("text", Content="/repair", MsgId=next(_ids))
        status, _ = await wx.post(mp_request(xml, TOKEN, timestamp=str(now() + offset)))
        assert status == 403, offset
    assert await wx.count(InboundUpdate) == 0 and await wx.count(Outbox) == 0
    for offset in (-240, 240):  # four minutes either way: a clock that is a little off
        xml = zhang.xml("text", Content="/repair", MsgId=next(_ids))
        status, body = await wx.post(mp_request(xml, TOKEN, timestamp=str(now() + offset)))
        assert status == 200 and "请问需要维修的是哪里？" in mp_reply(body)["Content"]
        await zhang.say("取消")


async def test_a_plaintext_signature_used_again_for_another_body_is_refused(
    open_wechat: OpenWeChat,
):
    wx = await open_wechat()
    zhang = Resident(wx)
    genuine = mp_request(zhang.xml("text", Content="你好", MsgId=next(_ids)), TOKEN)
    status, body = await wx.post(genuine)
    assert status == 200 and mp_reply(body)["Content"]

    # Someone who saw that query posts it with their own message, as another resident.
    forged_xml = Resident(wx, openid=ATTACKER).xml("text", Content="/repair", MsgId=next(_ids))
    forged = CallbackRequest(genuine.params, forged_xml.encode())
    assert (await wx.post(forged))[0] == 403
    # … or as 张伟 himself, with another message.
    again = CallbackRequest(genuine.params, zhang.xml("text", Content="/my", MsgId=1).encode())
    assert (await wx.post(again))[0] == 403
    assert await stored_for(wx, ATTACKER) == (0, 0)
    assert await wx.count(InboundUpdate) == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> dict[str, str]:
    """The settings for the test's store: SQLite, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        return {}
    database: Database = request.getfixturevalue("pg_database")
    return {"database_url": database.url}


async def test_a_replay_reaching_another_worker_is_refused(
    open_wechat: OpenWeChat, store: dict[str, str]
):
    """Two workers share the store; the second has never seen the nonce itself."""
    wx = await open_wechat(**store)
    other = wechat.WeChatCallback(wx.app)
    client = TestClient(TestServer(make_web_app(other.routes())))
    await client.start_server()
    try:
        genuine = mp_request(Resident(wx).xml("text", Content="你好", MsgId=next(_ids)), TOKEN)
        assert (await wx.post(genuine))[0] == 200
        forged_xml = Resident(wx, openid=ATTACKER).xml("text", Content="/start", MsgId=7)
        response = await client.post("/wechat", params=genuine.params, data=forged_xml.encode())
        assert response.status == 403
        await other.idle()
    finally:
        await client.close()
    assert await stored_for(wx, ATTACKER) == (0, 0)


async def test_wechat_retries_are_answered_once_whatever_their_timestamp_and_nonce(
    open_wechat: OpenWeChat,
):
    wx = await open_wechat(aes_key=AES_KEY)
    zhang = Resident(wx)
    xml = zhang.xml("text", Content="/repair", MsgId=next(_ids))
    first = mp_request(xml, TOKEN, AES_KEY)
    status, body = await wx.post(first)
    reply = mp_reply(body, TOKEN, AES_KEY)
    assert status == 200 and "请问需要维修的是哪里？" in reply["Content"]
    # The same request again, and the same message under a new timestamp and nonce.
    for retry in (first, mp_request(xml, TOKEN, AES_KEY)):
        assert await wx.post(retry) == (200, "success")
    await wx.settle()
    assert await wx.count(InboundUpdate) == 1
    assert len(await wx.rows()) == 1 and wx.emulator.custom == []


async def test_nonces_are_forgotten_only_once_their_timestamps_are_refused(
    open_wechat: OpenWeChat, store: dict[str, str]
):
    stamps = ManualClock(datetime.now(UTC))
    wx = await open_wechat(stamps=stamps, **store)
    sent = str(int(stamps.now().timestamp()))
    genuine = mp_request(
        Resident(wx).xml("text", Content="你好", MsgId=next(_ids)), TOKEN, timestamp=sent
    )
    assert (await wx.post(genuine))[0] == 200

    async def kept() -> list[str]:
        async with wx.app.db.transaction() as session:
            rows = await session.exec(
                select(KeyValue).where(col(KeyValue.key).startswith("replay:"))
            )
            return [row.key for row in rows.all()]

    assert len(await kept()) == 1
    stamps.advance(minutes=4)
    await wx.callback.guard.purge(wx.app)
    assert len(await kept()) == 1  # still replayable: still remembered
    stamps.advance(minutes=2)
    await wx.callback.guard.purge(wx.app)
    assert await kept() == []
    forged_xml = Resident(wx, openid=ATTACKER).xml("text", Content="/start", MsgId=8)
    assert (await wx.post(CallbackRequest(genuine.params, forged_xml.encode())))[0] == 403


# ---- WeCom -----------------------------------------------------------------------------------


async def test_wecom_refuses_old_timestamps_and_a_nonce_used_for_another_message(
    desk: WeCom, emulator
):
    corp = emulator.corp_id
    text = wecom_xml("text", "WangShiFu", Content="我的任务")
    stale = wecom_request(text, WECOM_TOKEN, WECOM_AES_KEY, corp, timestamp=str(now() - 3600))
    assert (await desk.post(stale))[0] == 403

    timestamp, nonce = str(now()), "n0nce12345"
    first = wecom_request(text, WECOM_TOKEN, WECOM_AES_KEY, corp, timestamp=timestamp, nonce=nonce)
    assert await desk.post(first) == (200, "")
    assert await desk.post(first) == (200, "")  # WeCom's retry: the same request
    await desk.callback.settle()
    # Another message under the same timestamp and nonce (whoever could sign it).
    other = wecom_xml("text", "WangShiFu", Content="帮助")
    replayed = wecom_request(
        other, WECOM_TOKEN, WECOM_AES_KEY, corp, timestamp=timestamp, nonce=nonce
    )
    assert (await desk.post(replayed))[0] == 403
    await desk.callback.settle()
    async with desk.app.db.transaction() as s:
        stored = (await s.exec(select(InboundUpdate).where(InboundUpdate.channel == "wecom"))).all()
    assert len(stored) == 1
