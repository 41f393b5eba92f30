"""Duplicates and order: an update delivered twice, or two updates out of order, has one
effect each — Telegram redelivering after a lost acknowledgement, two chats' updates
arriving in the wrong order on the webhook, WeChat retrying a slow callback.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlmodel import col, select

from storage.models import InboundUpdate, Ticket
from tests.telegram_emulator import BotAPIEmulator
from tests.test_telegram import REPAIR_GROUP, RESIDENT, SECRET, TOKEN, running, texts
from tests.test_wechat import OpenWeChat, Resident, emulator, number, open_wechat
from tests.wechat_emulator import mp_request

__all__ = ["emulator", "open_wechat"]  # the WeChat fixtures, used below by name


async def test_a_redelivered_confirmation_files_one_ticket(tmp_path) -> None:
    emu = BotAPIEmulator(TOKEN)
    await emu.start()
    try:
        async for scene in running(tmp_path, emu, webhook=False, real_pace=False):
            resident = scene.person(RESIDENT)
            for text in ("/repair", "3栋2单元1201", "电路", "客厅插座没电", "跳过", "明天上午"):
                await resident.say(text)
            await resident.say("张伟")
            said = await resident.say("13800000001")
            assert "13800000001" in texts(said)
            message_id, data = emu.button(RESIDENT, "确认提交")
            pressed = emu.press(RESIDENT, RESIDENT, message_id, data)
            await scene.settled(pressed)
            emu.redeliver(pressed)
            emu.redeliver(pressed)
            await resident.say("/help")  # handled after the duplicates, in order
            tickets = await scene.rows(Ticket)
            assert len(tickets) == 1
            assert texts(resident.shown()).count("报修已受理") == 1
            cards = [m for m in emu.messages(REPAIR_GROUP) if tickets[0].number in (m.text or "")]
            assert len(cards) == 1
            stored = await scene.rows(InboundUpdate, InboundUpdate.external_id == f"tg:{pressed}")
            assert len(stored) == 1
    finally:
        await emu.stop()


def _update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1790000000,
            "chat": {"id": user_id, "type": "private", "first_name": "Visitor"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Visitor"},
            "text": text,
        },
    }


async def test_two_chats_updates_out_of_order_and_twice_have_one_effect_each(tmp_path) -> None:
    first, second = 5201, 5202
    emu = BotAPIEmulator(TOKEN)
    await emu.start()
    try:
        async for scene in running(tmp_path, emu, webhook=True, real_pace=False):
            url = scene.app.settings.telegram_webhook_url
            assert url is not None
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            # 901 (the second chat) arrives before 900 (the first), then both again.
            order = [(901, second), (900, first), (900, first), (901, second)]
            async with aiohttp.ClientSession() as http:
                for update_id, user_id in order:
                    update = _update(update_id, user_id, "/start")
                    async with http.post(url, json=update, headers=headers) as response:
                        assert response.status == 200
            await scene.settled(900)
            await scene.settled(901)
            for user_id in (first, second):
                greeted = texts(emu.messages(user_id))
                assert greeted.count("您好，这里是幸福里物业客服中心") == 1, greeted
            stored = await scene.rows(InboundUpdate, col(InboundUpdate.channel) == "telegram")
            assert sorted(row.external_id for row in stored) == ["tg:900", "tg:901"]
    finally:
        await emu.stop()


async def test_wechat_retries_of_the_submitting_message_file_one_ticket(
    open_wechat: OpenWeChat,
) -> None:
    wx = await open_wechat()
    zhang = Resident(wx)
    reply = await zhang.say("/repair")
    reply = await zhang.say(number(reply, "3栋2单元1201"))
    reply = await zhang.say(number(reply, "电路"))
    reply = await zhang.say("客厅插座没电")
    reply = await zhang.say("跳过")
    reply = await zhang.say(number(reply, "明天上午"))
    reply = await zhang.say("张伟")
    reply = await zhang.say("13800000001")
    assert "13800000001" in reply
    submit = zhang.xml("text", Content=number(reply, "确认提交"), MsgId=77_000_001)
    request = mp_request(submit, wx.token)
    answers = [await wx.post(request) for _ in range(3)]  # the first, and WeChat's 2 retries
    await wx.settle()
    assert all(status == 200 for status, _ in answers)
    async with wx.app.db.transaction() as s:
        tickets = (await s.exec(select(Ticket))).all()
        stored = (
            await s.exec(select(InboundUpdate).where(col(InboundUpdate.channel) == "wechat"))
        ).all()
    assert len(tickets) == 1
    assert len(stored) == len({row.external_id for row in stored})
    # Answered once, not thrice: one passive reply, one outbox row recording it.
    assert sum(body.count("报修已受理") for _, body in answers) == 1
    assert sum("报修已受理" in str(row.payload) for row in await wx.rows()) == 1
