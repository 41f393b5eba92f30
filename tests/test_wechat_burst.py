"""Many residents writing to the WeChat account at the same moment.

Callbacks that arrive together are handled in one transaction (one commit for the group),
so a burst is answered sooner; each resident must still get their own answer, passively,
and a message refused in a group must cost the others nothing. The tests are WeChat's
server (signed requests from `tests/wechat_emulator.py`) against the real `/wechat`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event
from sqlmodel import select

from bot.channels import wechat
from bot.http import make_web_app
from storage.db import Database
from storage.models import InboundUpdate, Outbox
from tests.test_replay import ATTACKER, stored_for
from tests.test_wechat import (
    TOKEN,
    OpenWeChat,
    Resident,
    WeChat,
    emulator,
    locked,
    open_wechat,
)
from tests.wechat_emulator import CallbackRequest, mp_reply, mp_request

__all__ = ["emulator", "open_wechat"]  # fixtures, used below by name

_ids = iter(range(70_000_000, 79_999_999))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings for the test's store: SQLite, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        return {}
    database: Database = request.getfixturevalue("pg_database")
    return {"database_url": database.url}


def written(resident: Resident, text: str) -> CallbackRequest:
    return mp_request(resident.xml("text", Content=text, MsgId=next(_ids)), TOKEN)


async def at_once(wx: WeChat, requests: list[CallbackRequest]) -> list[tuple[int, str]]:
    """Post the requests at the same moment; (status, passive reply's text or `success`)."""
    answers = await asyncio.gather(*(wx.post(request) for request in requests))
    return [
        (status, mp_reply(body)["Content"] if status == 200 and body != "success" else body)
        for status, body in answers
    ]


async def wechat_rows(wx: WeChat) -> list[Outbox]:
    async with wx.app.db.transaction() as session:
        return list((await session.exec(select(Outbox).where(Outbox.channel == "wechat"))).all())


def commits(wx: WeChat) -> list[int]:
    """A counter of the commits the app's database makes from now on."""
    counted = [0]

    def count(_connection: Any) -> None:
        counted[0] += 1

    event.listen(wx.app.db.engine.sync_engine, "commit", count)
    return counted


async def test_residents_writing_at_once_each_get_their_own_answer_passively(
    open_wechat: OpenWeChat, store: dict[str, str]
):
    wx = await open_wechat(**store)
    zhang = Resident(wx)
    assert (await zhang.say("/lang")).endswith("1. 中文\n2. English")
    greeters = [Resident(wx, openid=f"oBurstHello{n:017d}") for n in range(4)]
    askers = [Resident(wx, openid=f"oBurstFees{n:018d}") for n in range(4)]
    requests = [
        written(zhang, "2"),  # the number of a choice shown before: pressed in the group
        *(written(r, "/start") for r in greeters),
        *(written(r, "物业费怎么交") for r in askers),
    ]
    retry = requests[-1]  # WeChat sends one of them twice while it is being handled
    counted = commits(wx)
    answers = await at_once(wx, [*requests, retry])
    together = counted[0]
    await wx.settle()

    assert all(status == 200 for status, _ in answers)
    assert answers[0][1] == "Done: I will write to you in English from now on."
    hello, fees = answers[1:5], answers[5:8]
    assert all(text.startswith("您好，这里是幸福里物业客服中心") for _, text in hello), hello
    assert all(text.startswith("为保护住户隐私，这项业务需要先验证身份") for _, text in fees), fees
    # The retry is one effect: one response carries the reply, the other says `success`.
    [(_, success), (_, reply)] = sorted(answers[8:], key=lambda answer: answer[1] != "success")
    assert success == "success" and reply.startswith("为保护住户隐私"), answers[8:]
    assert await wx.count(InboundUpdate) == 1 + len(requests)
    assert together < len(requests)  # they shared commits
    # Every reply went back in the response: nothing is left for customer service.
    rows = await wechat_rows(wx)
    assert rows and all(row.external_message_id == "passive" for row in rows)
    assert wx.emulator.custom == []


async def test_a_message_refused_in_a_group_costs_the_others_nothing(
    open_wechat: OpenWeChat, store: dict[str, str], caplog: pytest.LogCaptureFixture
):
    """A forged message (a nonce another worker stored with another message) arrives with
    genuine ones while the store is busy: when it frees they are handled together, the
    forged one is refused and stores nothing, and the others are answered and kept."""
    wx = await open_wechat(**store)
    other = wechat.WeChatCallback(wx.app)  # a second worker on the same store
    client = TestClient(TestServer(make_web_app(other.routes())))
    await client.start_server()
    try:
        genuine = written(Resident(wx), "你好")
        response = await client.post("/wechat", params=genuine.params, data=genuine.body)
        assert response.status == 200
        await other.idle()
    finally:
        await client.close()
    residents = [Resident(wx, openid=f"oBurstMixed{n:017d}") for n in range(5)]
    forged = Resident(wx, openid=ATTACKER).xml("text", Content="/repair", MsgId=next(_ids))
    requests = [
        *(written(r, "/start") for r in residents),
        CallbackRequest(genuine.params, forged.encode()),
    ]
    with caplog.at_level(logging.WARNING, logger="bot.channels.wechat"):
        async with locked(wx.app):  # the store is busy a moment: the six are taken together
            posted = asyncio.ensure_future(at_once(wx, requests))
            await asyncio.sleep(1.5)  # long enough for all six to arrive on a loaded machine
        answers = await posted
    await wx.settle()

    assert answers[-1][0] == 403
    assert await stored_for(wx, ATTACKER) == (0, 0)
    for resident, (status, text) in zip(residents, answers, strict=False):
        assert status == 200 and text.startswith("您好，这里是幸福里物业客服中心"), text
        assert await stored_for(wx, resident.openid) == (1, 2)  # the welcome and the menu
    assert "wechat: a group of" in caplog.text  # it was refused inside a group
    assert wx.emulator.custom == []
