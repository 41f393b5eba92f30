"""Telegram delivery, end to end over HTTP: the real aiogram Bot sends the outbox to the
local Bot API emulator, and the tests read the chats as a user would see them.

Most tests turn the flood limits off and pace nothing, to stay quick; the pacing tests at
the end run with the emulator enforcing Telegram's limits and count its 429s.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlmodel import select

from bot.app import App
from bot.channels import telegram_buttons
from bot.channels.telegram_send import Pacer, TelegramSender, run_delivery, split_text
from bot.delivery import deliver_pending
from bot.settings import Settings
from handlers.core.clock import ManualClock
from handlers.core.messages import Incoming
from storage import outbox
from storage.db import Database
from storage.models import ButtonToken, Outbox
from tests.telegram_emulator import BotAPIEmulator
from tests.test_telegram import until

RESIDENT = 5001
GROUP = -1001  # the repair group
_ids = itertools.count(1)


# ---- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture
async def emulator() -> AsyncIterator[BotAPIEmulator]:
    """Telegram without flood limits (the pacing tests start their own)."""
    emulator = BotAPIEmulator(enforce_limits=False)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


def make_bot(emulator: BotAPIEmulator) -> Bot:
    return Bot(
        emulator.token,
        session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)),
    )


@pytest.fixture
async def bot(emulator: BotAPIEmulator) -> AsyncIterator[Bot]:
    bot = make_bot(emulator)
    try:
        yield bot
    finally:
        await bot.session.close()


def unpaced() -> Pacer:
    return Pacer(per_chat=0, group_limit=10_000, overall=10_000, margin=0)


@pytest.fixture
def sender(demo_app: App, bot: Bot) -> TelegramSender:
    return TelegramSender(bot, demo_app.db, demo_app.catalogs, demo_app.clock, unpaced())


async def deliver(app: App, sender: TelegramSender) -> int:
    """Send everything due, as the delivery loop would; returns how many were sent."""
    total = 0
    while sent := await deliver_pending(app.db, sender, app.clock):
        total += sent
    return total


async def resident_does(app: App, chat_id: int, language: str | None = None, **fields: Any):
    """A resident in a Telegram private chat types, presses or shares something."""
    await app.engine.handle(
        Incoming(
            channel="telegram",
            chat_id=str(chat_id),
            user_id=str(chat_id),
            at=app.clock.now(),
            message_id=f"tg:test:{next(_ids)}",
            language=language,
            **fields,
        )
    )


async def queue(app: App, chat_id: int, text: str, **payload: Any) -> int:
    """Queue a message to a Telegram chat, as a handler's reply would be; returns its row id."""
    async with app.db.transaction() as session:
        row = await outbox.enqueue(
            session,
            channel="telegram",
            chat_id=str(chat_id),
            payload={"text": text, "locale": "zh_CN", **payload},
            now=app.clock.now(),
        )
        assert row is not None and row.id is not None
        return row.id


async def row(app: App, row_id: int) -> Outbox:
    async with app.db.transaction() as session:
        found = await session.get(Outbox, row_id)
        assert found is not None
        return found


async def pressed(app: App, chat_id: int, data: str) -> str | None:
    """What our database says a pressed button's callback data stands for in that chat."""
    async with app.db.transaction() as session:
        return await telegram_buttons.resolve(session, str(chat_id), data)


def sends(emulator: BotAPIEmulator, method: str = "sendMessage") -> int:
    return sum(1 for name, _ in emulator.calls if name == method)


# ---- rendering ------------------------------------------------------------------------------


async def test_choices_arrive_as_buttons_carrying_only_tokens(demo_app, emulator, sender):
    await resident_does(demo_app, RESIDENT, option="flow:bind")
    assert await deliver(demo_app, sender) == 2  # why we ask, then how to verify

    shown = emulator.last(RESIDENT)
    assert "请选择验证方式" in (shown.text or "")
    assert {"我有邀请码", "用手机号验证"} <= set(shown.labels)
    datas = [b["callback_data"] for line in shown.buttons for b in line]
    assert all(len(data) <= 16 for data in datas)
    assert not {"code", "contact", "request"} & set(datas)  # no raw values on the wire

    message_id, data = emulator.button(RESIDENT, "用手机号验证")
    assert message_id == shown.message_id
    assert await pressed(demo_app, RESIDENT, data) == "contact"
    assert await pressed(demo_app, 9999, data) is None  # the same button from another chat
    assert await pressed(demo_app, RESIDENT, "forged-token") is None

    # The same choice shown again in the chat reuses its token.
    await resident_does(demo_app, RESIDENT, option="flow:bind")
    await deliver(demo_app, sender)
    assert emulator.button(RESIDENT, "用手机号验证")[1] == data
    async with demo_app.db.transaction() as session:
        values = (await session.exec(select(ButtonToken.value))).all()
        assert values.count("contact") == 1


async def test_binding_by_phone_offers_a_share_contact_keyboard(demo_app, emulator, sender):
    await resident_does(demo_app, RESIDENT, option="flow:bind")
    await deliver(demo_app, sender)
    value = await pressed(demo_app, RESIDENT, emulator.button(RESIDENT, "用手机号验证")[1])
    await resident_does(demo_app, RESIDENT, option=value)
    await deliver(demo_app, sender)

    shown = emulator.last(RESIDENT)
    assert "分享我的手机号" in (shown.text or "")
    assert shown.keyboard == "reply"
    assert shown.buttons[0] == [{"text": "📱 分享我的手机号", "request_contact": True}]

    # In English the button speaks English.
    english = RESIDENT + 1
    await resident_does(demo_app, english, language="en", option="flow:bind")
    await deliver(demo_app, sender)
    value = await pressed(demo_app, english, emulator.button(english, "phone")[1])
    await resident_does(demo_app, english, language="en", option=value)
    await deliver(demo_app, sender)
    assert emulator.last(english).buttons[0][0]["text"] == "📱 Share my phone number"


async def test_the_next_plain_message_takes_the_contact_keyboard_away(demo_app, emulator, sender):
    await queue(demo_app, RESIDENT, "请点击下方按钮分享我的手机号。", request_contact=True)
    await queue(demo_app, RESIDENT, "好的，已为您记录。")
    await deliver(demo_app, sender)
    sent = [params for name, params in emulator.calls if name == "sendMessage"]
    assert "keyboard" in sent[0]["reply_markup"]
    assert sent[1]["reply_markup"] == {"remove_keyboard": True}


async def test_a_card_sent_again_is_edited_in_place(demo_app, emulator, sender, bot):
    card = {"card": "ticket:42"}
    accept = [{"label": "接单", "value": "act:accept:42"}]
    first = await queue(demo_app, GROUP, "【报修】R-0042 待接单", buttons=accept, **card)
    await deliver(demo_app, sender)
    finish = [{"label": "完工", "value": "act:finish:42"}]
    second = await queue(demo_app, GROUP, "【报修】R-0042 王师傅处理中", buttons=finish, **card)
    await deliver(demo_app, sender)

    [shown] = emulator.messages(GROUP)
    assert shown.text == "【报修】R-0042 王师傅处理中" and shown.edited == 1
    assert shown.labels == ["完工"]
    assert (await row(demo_app, first)).external_message_id == str(shown.message_id)
    assert (await row(demo_app, second)).external_message_id == str(shown.message_id)

    # The very same card again: Telegram says "not modified", which is delivered too.
    third = await queue(demo_app, GROUP, "【报修】R-0042 王师傅处理中", buttons=finish, **card)
    assert await deliver(demo_app, sender) == 1
    assert (await row(demo_app, third)).error is None
    assert len(emulator.messages(GROUP)) == 1 and emulator.last(GROUP).edited == 1

    # Someone deleted the card's message: the next version is a new message.
    await bot.delete_message(GROUP, shown.message_id)
    await queue(demo_app, GROUP, "【报修】R-0042 已完工", **card)
    assert await deliver(demo_app, sender) == 1
    [again] = emulator.messages(GROUP)
    assert again.text == "【报修】R-0042 已完工" and again.edited == 0


async def test_a_card_with_a_photo_is_edited_through_its_caption(demo_app, emulator, sender):
    emulator.send_photo(RESIDENT, RESIDENT, "AgACphoto-leak-2")
    card = {"card": "ticket:43", "photo": "AgACphoto-leak-2"}
    accept = [{"label": "接单", "value": "act:accept:43"}]
    await queue(demo_app, GROUP, "【报修】R-0043 待接单", buttons=accept, **card)
    await deliver(demo_app, sender)
    start = [{"label": "开始处理", "value": "act:start:43"}]
    await queue(demo_app, GROUP, "【报修】R-0043 已接单", buttons=start, **card)
    await deliver(demo_app, sender)
    [shown] = emulator.messages(GROUP)
    assert shown.photo == "AgACphoto-leak-2" and shown.text == "【报修】R-0043 已接单"
    assert shown.edited == 1 and shown.labels == ["开始处理"]


async def test_a_photo_by_file_id_and_a_document_uploaded(demo_app, emulator, sender, tmp_path):
    emulator.send_photo(RESIDENT, RESIDENT, "AgACphoto-leak-1")  # Telegram now knows the file
    await queue(demo_app, GROUP, "【报修】3栋2单元1201 厨房漏水", photo="AgACphoto-leak-1")
    report = tmp_path / "report-2026-11.csv"
    report.write_bytes("单号,状态\nR-0042,已完工\n".encode())
    await queue(demo_app, RESIDENT, "11月报表", document=str(report))
    assert await deliver(demo_app, sender) == 2

    photo = emulator.last(GROUP)
    assert photo.photo == "AgACphoto-leak-1" and photo.text == "【报修】3栋2单元1201 厨房漏水"
    document = emulator.last(RESIDENT)
    assert document.document is not None and document.document_name == "report-2026-11.csv"
    assert emulator.files[document.document] == report.read_bytes()
    assert document.text == "11月报表"


async def test_a_photo_telegram_does_not_know_still_delivers_the_words(demo_app, emulator, sender):
    await queue(demo_app, GROUP, "【报修】楼道灯不亮", photo="console-photo-7")
    assert await deliver(demo_app, sender) == 1
    shown = emulator.last(GROUP)
    assert shown.text == "【报修】楼道灯不亮" and shown.photo is None


async def test_a_long_text_is_split_at_line_ends(demo_app, emulator, sender):
    lines = [f"R-{n:04d} 3栋2单元1201 厨房水龙头漏水，已派王师傅处理" for n in range(300)]
    await queue(demo_app, RESIDENT, "\n".join(lines), buttons=[{"label": "返回", "value": "m"}])
    assert await deliver(demo_app, sender) == 1
    parts = emulator.messages(RESIDENT)
    assert len(parts) > 1 and all(len(p.text or "") <= 4096 for p in parts)
    assert "\n".join(p.text or "" for p in parts) == "\n".join(lines)
    assert [bool(p.buttons) for p in parts] == [False] * (len(parts) - 1) + [True]
    assert split_text("短消息") == ["短消息"]


async def test_a_long_list_is_shown_a_page_at_a_time(demo_app, emulator, sender, bot):
    units = [{"label": f"{n}栋", "value": f"unit:{n}"} for n in range(1, 21)]
    row_id = await queue(demo_app, RESIDENT, "请选择楼栋：", buttons=units, card="pick:1")
    await deliver(demo_app, sender)
    shown = emulator.last(RESIDENT)
    assert shown.labels == [f"{n}栋" for n in range(1, 9)] + ["2/3 ›"]
    assert [len(line) for line in shown.buttons] == [2, 2, 2, 2, 1]  # short labels pair up

    async def turn(label: str) -> bool:
        message_id, data = emulator.button(RESIDENT, label)
        value = await pressed(demo_app, RESIDENT, data)
        assert value is not None
        page = telegram_buttons.parse_page(value)
        assert page is not None and page[0] == row_id
        async with demo_app.db.transaction() as session:
            return await telegram_buttons.show_page(
                bot, session, str(RESIDENT), message_id, page[0], page[1], now=demo_app.clock.now()
            )

    assert await turn("2/3 ›")
    assert emulator.last(RESIDENT).labels == [f"{n}栋" for n in range(9, 17)] + ["‹ 1/3", "3/3 ›"]
    assert await turn("3/3 ›")
    assert emulator.last(RESIDENT).labels == [f"{n}栋" for n in range(17, 21)] + ["‹ 2/3"]
    assert await pressed(demo_app, RESIDENT, emulator.button(RESIDENT, "20栋")[1]) == "unit:20"
    assert len(emulator.messages(RESIDENT)) == 1 and emulator.last(RESIDENT).edited == 2

    # The list is replaced in place; a ‹ of the old version must not bring it back.
    stale = emulator.button(RESIDENT, "‹ 2/3")
    await queue(demo_app, RESIDENT, "已选择 20栋。", card="pick:1")
    await deliver(demo_app, sender)
    value = await pressed(demo_app, RESIDENT, stale[1])
    assert value is not None
    page = telegram_buttons.parse_page(value)
    assert page is not None
    async with demo_app.db.transaction() as session:
        shown_again = await telegram_buttons.show_page(
            bot, session, str(RESIDENT), stale[0], page[0], page[1], now=demo_app.clock.now()
        )
    assert not shown_again
    assert emulator.last(RESIDENT).text == "已选择 20栋。" and emulator.last(RESIDENT).buttons == []


# ---- failures -------------------------------------------------------------------------------


async def test_a_429_is_honoured_and_the_message_then_delivered_once(
    demo_app, emulator, sender, clock
):
    emulator.fail_next("sendMessage", retry_after=7, description="Too Many Requests: retry after 7")
    first = await queue(demo_app, RESIDENT, "您的报修已受理。")
    await queue(demo_app, RESIDENT, "维修师傅将在今天下午上门。")
    assert await deliver(demo_app, sender) == 0
    failed = await row(demo_app, first)
    # Waiting when asked to is not a failed attempt: a 429 never uses up the retries.
    assert failed.sent_at is None and failed.failed_at is None and failed.attempts == 0
    assert "retry after 7" in (failed.error or "")
    assert failed.not_before >= clock.now() + timedelta(seconds=7)
    assert emulator.messages(RESIDENT) == []  # the second waited behind the first

    clock.advance(seconds=6)
    assert await deliver(demo_app, sender) == 0 and sends(emulator) == 1
    clock.advance(seconds=1)
    assert await deliver(demo_app, sender) == 2  # the first when Telegram said, then the second
    assert [m.text for m in emulator.messages(RESIDENT)] == [
        "您的报修已受理。",
        "维修师傅将在今天下午上门。",
    ]
    assert sends(emulator) == 3 and emulator.too_many == 0


async def test_many_429s_in_a_row_never_give_a_message_up(demo_app, emulator, sender, clock):
    emulator.fail_next("sendMessage", retry_after=2, times=12)
    first = await queue(demo_app, RESIDENT, "您的报修已受理。")
    for _ in range(12):
        assert await deliver(demo_app, sender) == 0
        clock.advance(seconds=2)
    assert await deliver(demo_app, sender) == 1
    delivered = await row(demo_app, first)
    assert delivered.failed_at is None and delivered.sent_at is not None
    assert [m.text for m in emulator.messages(RESIDENT)] == ["您的报修已受理。"]


async def test_a_blocked_chat_is_given_up_and_recorded(demo_app, emulator, sender, clock):
    emulator.block(RESIDENT)
    row_id = await queue(demo_app, RESIDENT, "您的报修已完工，请确认。")
    assert await deliver(demo_app, sender) == 0
    given_up = await row(demo_app, row_id)
    assert given_up.failed_at == clock.now() and given_up.sent_at is None
    assert "blocked" in (given_up.error or "")
    clock.advance(hours=1)
    assert await deliver(demo_app, sender) == 0 and sends(emulator) == 1  # never tried again


async def test_a_chat_telegram_does_not_know_is_given_up(demo_app, emulator, sender):
    emulator.strict_chats = True
    row_id = await queue(demo_app, 777, "您好")
    await deliver(demo_app, sender)
    assert "chat not found" in ((await row(demo_app, row_id)).error or "")
    assert (await row(demo_app, row_id)).failed_at is not None


async def test_network_errors_and_server_errors_are_retried(demo_app, emulator, sender, clock):
    emulator.disconnect_next("sendMessage")
    emulator.fail_next("sendMessage", 502, "Bad Gateway")
    row_id = await queue(demo_app, RESIDENT, "您的报修已受理。")

    assert await deliver(demo_app, sender) == 0
    assert "TelegramNetworkError" in ((await row(demo_app, row_id)).error or "")
    clock.advance(seconds=5)
    assert await deliver(demo_app, sender) == 0
    assert "Bad Gateway" in ((await row(demo_app, row_id)).error or "")
    clock.advance(seconds=10)
    assert await deliver(demo_app, sender) == 1

    delivered = await row(demo_app, row_id)
    assert delivered.attempts == 2 and delivered.sent_at is not None
    assert [m.text for m in emulator.messages(RESIDENT)] == ["您的报修已受理。"]


# ---- never twice: two delivery loops over one outbox --------------------------------------


async def wait_until_sent(app: App, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with app.db.transaction() as session:
            if not await outbox.pending_count(session, "telegram"):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox was not drained in time")


async def two_loops_send_each_message_once(db: Database, clock: ManualClock) -> None:
    emulator = BotAPIEmulator(enforce_limits=False)
    await emulator.start()
    settings = Settings(database_url=db.url)
    apps = [await App.start(settings, clock=clock) for _ in range(2)]
    bots = [make_bot(emulator) for _ in apps]
    chats = [RESIDENT, RESIDENT + 1, RESIDENT + 2, GROUP]
    for n in range(40):
        await queue(apps[0], chats[n % 4], f"消息 {n}")
    stop = asyncio.Event()
    loops = [
        asyncio.create_task(run_delivery(app, bot, stop, pacer=unpaced(), idle=0.05))
        for app, bot in zip(apps, bots, strict=True)
    ]
    try:
        await wait_until_sent(apps[0])
    finally:
        stop.set()
        await asyncio.gather(*loops)
        for app, bot in zip(apps, bots, strict=True):
            await bot.session.close()
            await app.close()
        await emulator.stop()
    texts = sorted(m.text or "" for chat in chats for m in emulator.messages(chat))
    assert texts == sorted(f"消息 {n}" for n in range(40))
    assert sends(emulator) == 40


async def test_two_delivery_loops_never_send_twice_on_postgresql(pg_database, clock):
    await two_loops_send_each_message_once(pg_database, clock)


async def test_two_delivery_loops_never_send_twice_on_sqlite(sqlite_database, clock):
    await two_loops_send_each_message_once(sqlite_database, clock)


# ---- pacing under Telegram's limits ------------------------------------------------------


def send_times(emulator: BotAPIEmulator) -> dict[int, list[float]]:
    """When each chat's messages were accepted."""
    times: dict[int, list[float]] = {}
    for call in emulator.history:
        if call.ok and call.method == "sendMessage":
            times.setdefault(int(call.params["chat_id"]), []).append(call.at)
    return times


async def deliver_with_limits(app: App, emulator: BotAPIEmulator, pacer: Pacer) -> float:
    """Run the delivery loop against a limit-enforcing emulator until the outbox is empty."""
    bot = make_bot(emulator)
    stop = asyncio.Event()
    started = time.monotonic()
    loop = asyncio.create_task(run_delivery(app, bot, stop, pacer=pacer, idle=0.05))
    try:
        await wait_until_sent(app, within=45)
    finally:
        stop.set()
        await loop
        await bot.session.close()
    return time.monotonic() - started


async def test_without_pacing_the_emulator_does_refuse(demo_app, bot, emulator):
    """The control for the tests below: the same emulator answers 429 to a bot in a hurry."""
    emulator.enforce_limits = True
    sender = TelegramSender(bot, demo_app.db, demo_app.catalogs, demo_app.clock, unpaced())
    for n in range(3):
        await queue(demo_app, RESIDENT, f"第{n}条")
    assert await deliver(demo_app, sender) == 1
    assert emulator.too_many == 1  # the second was refused; the third waited behind it


async def test_120_messages_to_five_chats_stay_within_the_limits(demo_app):
    """4 private chats × 25 messages and 20 to a group, queued in one burst: no 429 at all,
    each chat gets one message per its interval, in order, and the chats go out side by
    side (25 intervals in all, not 120).

    SCALED: Telegram's per-chat second and group minute are a fifth here (0.2 s between
    messages to a chat, 20 per 12 s to a group), in the emulator and the pacer alike, so
    the 25 s of sending take 5. The overall 30 a second is Telegram's: five chats at
    5 a second stay under it, as five at 1 a second do."""
    scale = 0.2
    emulator = BotAPIEmulator(enforce_limits=True, per_chat_gap=scale, group_window=60 * scale)
    await emulator.start()
    chats = [RESIDENT, RESIDENT + 1, RESIDENT + 2, RESIDENT + 3]
    try:
        for chat in chats:
            for n in range(25):
                await queue(demo_app, chat, f"第{n}条")
        for n in range(20):
            await queue(demo_app, GROUP, f"第{n}条")
        pacer = Pacer(per_chat=scale, group_window=60 * scale)
        elapsed = await deliver_with_limits(demo_app, emulator, pacer) / scale
    finally:
        await emulator.stop()

    assert emulator.too_many == 0
    for chat in [*chats, GROUP]:
        expected = 25 if chat > 0 else 20
        assert [m.text for m in emulator.messages(chat)] == [f"第{n}条" for n in range(expected)]
    times = send_times(emulator)
    gaps = [b - a for chat_times in times.values() for a, b in itertools.pairwise(chat_times)]
    assert min(gaps) / scale >= 0.95
    group = times[GROUP]
    assert len(group) == 20 and (group[-1] - group[0]) / scale < 60  # all in the group's minute
    # Side by side: one after another would take at least 119 intervals. The margin above
    # the ideal 25 is the delivery loop's own time per message, which at a fifth of the
    # real intervals is a large share and grows on a busy two-core machine (36 measured
    # once in CI); how fast delivery is lives in bench/, not here.
    assert 24 <= elapsed < 60


async def test_the_21st_group_message_waits_for_the_group_window(demo_app):
    """SCALED: the group budget is 20 per *3 seconds* here (and 0.05 s between messages),
    in the emulator and the pacer alike, so the 20-a-minute rule is shown in seconds:
    20 go out at once, the 21st only when the first leaves the window."""
    emulator = BotAPIEmulator(enforce_limits=True, per_chat_gap=0.05, group_window=3.0)
    await emulator.start()
    try:
        for n in range(21):
            await queue(demo_app, GROUP, f"群消息 {n}")
        await deliver_with_limits(
            demo_app, emulator, Pacer(per_chat=0.05, group_limit=20, group_window=3.0)
        )
    finally:
        await emulator.stop()
    assert emulator.too_many == 0
    times = send_times(emulator)[GROUP]
    assert len(times) == 21
    assert times[19] - times[0] < 3.0  # the first 20 fit in the window
    assert times[20] - times[0] >= 3.0  # the 21st waited for the window to move


async def test_a_reply_overtakes_an_announcement_going_out(demo_app):
    """150 announcement rows, paced at Telegram's 30 a second (5 s of sending), and a
    resident who writes once 30 of them are out, to whom the notice has not gone yet: the
    reply reaches them within two seconds, before their own notice, while most of the
    announcement is still to go; no limit is broken."""
    emulator = BotAPIEmulator(enforce_limits=True)
    await emulator.start()
    bot = make_bot(emulator)
    now = demo_app.clock.now()
    notice = {"text": "【幸福里通知】明天9-15点停水", "locale": "zh_CN"}
    chats = [100_000 + n for n in range(150)]
    async with demo_app.db.transaction() as session:
        rows = [outbox.Message("telegram", str(chat), notice) for chat in chats]
        assert await outbox.enqueue_many(session, rows, now=now, bulk=True) == 150
    resident = chats[-1]  # the last in the announcement's queue
    stop, nudge = asyncio.Event(), asyncio.Event()
    loop = asyncio.create_task(run_delivery(demo_app, bot, stop, nudge, pacer=Pacer()))
    try:
        # A second of the announcement is out.
        await until(lambda: sends(emulator) >= 30, "30 announcement sends", within=30)
        queued_at = time.monotonic()
        await queue(demo_app, resident, "您的报修已受理。")
        nudge.set()  # as the channel does after handling an update
        await wait_until_sent(demo_app, within=30)
    finally:
        stop.set()
        await loop
        await bot.session.close()
        await emulator.stop()

    assert emulator.too_many == 0
    assert [m.text for m in emulator.messages(resident)] == ["您的报修已受理。", notice["text"]]
    assert all(len(emulator.messages(chat)) == 1 for chat in chats[:-1])
    sent = sorted(send_times(emulator).items(), key=lambda item: item[1][0])
    waited = send_times(emulator)[resident][0] - queued_at
    print(f"\nthe reply waited {waited:.2f} s behind a 150-row announcement")
    assert waited < 2.0
    behind = [chat for chat, times in sent if times[0] > queued_at + waited]
    assert len(behind) > 50  # it did not wait for the announcement to finish


async def test_the_pacer_books_every_budget() -> None:
    """The real limits on a pretend clock: 1 s per chat, 20 a minute per group, 30 a second."""
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])

    async with pacer.sending("42"):
        assert pacer.delay("42") == 1.0  # not answered yet: a second after the answer at least
    assert pacer.delay("42") == 1.0 and pacer.delay("43") == 0
    for n in range(20):
        now[0] = 100.0 + n
        await pacer.acquire("-1001")
        pacer.release("-1001")  # answered at once
    now[0] = 120.0
    assert pacer.delay("-1001") == pytest.approx(40.0)  # the first of the 20 leaves at 160 s
    for n in range(30):
        await pacer.acquire(str(1000 + n))
        pacer.release(str(1000 + n))
    assert pacer.delay("2000") == pytest.approx(1.0)  # the 31st this second waits a second
    now[0] = 121.0
    assert pacer.delay("2000") == 0


async def test_a_send_counts_from_its_answer() -> None:
    """Telegram counts a request when it arrives, some time before it answers: the pacer
    counts it from the answer, so however slow or uneven the trip, none arrives too early."""
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])
    for n in range(30):
        await pacer.acquire(str(n))
    assert pacer.delay("99") == pytest.approx(1.0)  # 30 unanswered: their answers come later
    now[0] = 0.3
    for n in range(30):
        pacer.release(str(n))
    now[0] = 1.0
    assert pacer.delay("99") == pytest.approx(0.3)  # a second after the answers, not the sends
    assert pacer.delay("0") == pytest.approx(0.3)


class PretendTime:
    """A clock for a `Pacer` that moves only when the test says; sleepers wake then."""

    def __init__(self) -> None:
        self.now = 0.0
        self._moved = asyncio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        while self.now < until:
            await self._moved.wait()

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        self._moved.set()
        self._moved = asyncio.Event()
        await settle()


async def settle() -> None:
    """Let every task that can run, run, until each waits for something."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_bulk_sends_give_way_to_a_reply() -> None:
    """An announcement's sends wait for their turn; a reply that comes later goes first."""
    time = PretendTime()
    pacer = Pacer(overall=1, clock=time.clock, sleep=time.sleep)  # one send a second
    await pacer.acquire("1")
    pacer.release("1")  # one send, answered at once
    order: list[str] = []

    async def send(chat_id: str, bulk: bool) -> None:
        async with pacer.sending(chat_id, bulk=bulk):
            order.append(chat_id)

    bulk = [asyncio.create_task(send(str(100 + n), bulk=True)) for n in range(3)]
    await settle()
    assert order == []  # in line for the second's one send
    reply = asyncio.create_task(send("5001", bulk=False))
    await settle()
    await time.advance(1.0)
    assert reply.done() and order == ["5001"]
    await time.advance(1.0)
    assert order == ["5001", "100"]  # then the announcement, in its own order
    for task in bulk:
        task.cancel()
    await asyncio.gather(*bulk, return_exceptions=True)
