"""The Telegram channel end to end: the real aiogram Bot and Dispatcher against the local
Bot API emulator over HTTP, in polling mode and in webhook mode.

A resident files a repair by pressing inline buttons, the repair group gets the card,
a technician accepts, starts and finishes it, the card is edited in place, the resident
confirms, and the supervisor reads the ticket and the figures in private.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlmodel import col, func, select

from bot import channels
from bot.app import App
from bot.channels import telegram
from bot.channels.telegram_buttons import token_for
from bot.channels.telegram_send import Pacer
from bot.demo import seed_demo
from bot.http import serve_http
from bot.settings import Settings
from dialogs import menus, registry
from handlers.core.i18n import LOCALES, Catalogs
from handlers.people import add_staff
from storage.models import (
    ChatIdentity,
    Community,
    DialogState,
    InboundUpdate,
    Job,
    Outbox,
    Person,
    Photo,
    StaffGroup,
    Ticket,
    TicketEvent,
)
from tests.telegram_emulator import BotAPIEmulator, Message

TOKEN = "123456:TEST-TOKEN"
SECRET = "webhook-secret_42"
RESIDENT = 5001  # 张伟, owner of XFL 3栋2单元1201; a private chat's id is the user's id
WANG, LIU = 5101, 5102  # repair technicians
ZHOU = 9001  # supervisor, named in FRONTDESK_TELEGRAM_SUPERVISORS
STRANGER = 5009  # nobody bound
REPAIR_GROUP, SERVICE_GROUP = -1001, -1002
WAIT = 8.0  # seconds an expected message may take (the sender paces 1 message/s per chat)

T = TypeVar("T")


class TickingClock:
    """Real time passing from a fixed weekday morning (no quiet hours, no calendar luck)."""

    def __init__(self, start: datetime) -> None:
        self._start, self._t0 = start, time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)


async def until(probe: Callable[[], Any], what: str, within: float = WAIT) -> Any:
    """Poll `probe` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        result = probe()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Scene:
    """The running app, the emulator and a way to wait for the bot to finish reacting."""

    app: App
    emulator: BotAPIEmulator

    async def settled(self, update_id: int) -> None:
        """The update is stored and handled, and everything it caused was sent."""

        async def done() -> bool:
            async with self.app.db.transaction() as s:
                row = (
                    await s.exec(
                        select(InboundUpdate).where(
                            InboundUpdate.channel == "telegram",
                            InboundUpdate.external_id == f"tg:{update_id}",
                        )
                    )
                ).first()
                if row is None or row.handled_at is None:
                    return False
                due = await s.exec(
                    select(func.count())
                    .select_from(Outbox)
                    .where(
                        Outbox.channel == "telegram",
                        col(Outbox.sent_at).is_(None),
                        col(Outbox.failed_at).is_(None),
                    )
                )
                return due.one() == 0

        await until(done, f"update {update_id} to be handled and its replies sent")

    def person(self, user_id: int, chat_id: int | None = None, **kw: Any) -> User:
        return User(self, user_id, chat_id if chat_id is not None else user_id, **kw)

    async def rows(self, model: type[T], *where: Any) -> list[T]:
        async with self.app.db.transaction() as s:
            return list((await s.exec(select(model).where(*where))).all())  # type: ignore[call-overload]


@dataclass
class User:
    """Someone in one Telegram chat; each action returns the bot's new messages there."""

    scene: Scene
    user_id: int
    chat_id: int
    kind: str = "private"
    language: str = "zh-hans"
    name: str = "User"

    @property
    def emulator(self) -> BotAPIEmulator:
        return self.scene.emulator

    def shown(self) -> list[Message]:
        return self.emulator.messages(self.chat_id)

    async def _after(self, act: Callable[[], int]) -> list[Message]:
        before = len(self.shown())
        await self.scene.settled(act())
        return self.shown()[before:]

    async def say(self, text: str) -> list[Message]:
        return await self._after(
            lambda: self.emulator.send_text(
                self.chat_id,
                self.user_id,
                text,
                chat_type=self.kind,
                language_code=self.language,
                first_name=self.name,
            )
        )

    async def press(self, label: str) -> list[Message]:
        message_id, data = self.emulator.button(self.chat_id, label)
        return await self.press_data(message_id, data)

    async def press_data(self, message_id: int, data: str) -> list[Message]:
        return await self._after(
            lambda: self.emulator.press(
                self.chat_id, self.user_id, message_id, data, chat_type=self.kind
            )
        )

    async def photo(self, file_id: str) -> list[Message]:
        return await self._after(
            lambda: self.emulator.send_photo(self.chat_id, self.user_id, file_id)
        )

    async def contact(self, phone: str, of: int | None = None) -> list[Message]:
        return await self._after(
            lambda: self.emulator.send_contact(
                self.chat_id, self.user_id, phone, contact_user_id=of
            )
        )


def texts(messages: list[Message]) -> str:
    return "\n".join(m.text or "" for m in messages)


# ---- the running channel -------------------------------------------------------------


async def seed_telegram(app: App) -> None:
    """The demo data, plus the Telegram side: 张伟's account, two groups, two technicians."""
    async with app.db.transaction() as s:
        await seed_demo(s, app.clock.now().astimezone(app.settings.tz).date(), app.settings.tz)
        xfl = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        zhang = (await s.exec(select(Person).where(Person.name == "张伟"))).one()
        s.add(ChatIdentity(channel="telegram", external_user_id=str(RESIDENT), person_id=zhang.id))
        for department, chat in (("repair", REPAIR_GROUP), ("service", SERVICE_GROUP)):
            s.add(
                StaffGroup(
                    community_id=xfl.id,
                    department=department,
                    channel="telegram",
                    chat_id=str(chat),
                )
            )
        for user_id, name in ((WANG, "王师傅"), (LIU, "刘师傅")):
            await add_staff(
                s,
                channel="telegram",
                user_id=str(user_id),
                name=name,
                department="repair",
                community_id=xfl.id,
            )


@pytest.fixture
async def emulator() -> AsyncIterator[BotAPIEmulator]:
    emu = BotAPIEmulator(TOKEN)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


async def running(
    tmp_path: Path, emulator: BotAPIEmulator, *, webhook: bool, real_pace: bool = True
) -> AsyncIterator[Scene]:
    """The app with the Telegram channel served as `frontdesk run` does, until the test ends.

    With `real_pace` the sender keeps Telegram's flood limits and the emulator enforces
    them; without, long conversations run quickly (the limits are tested on their own).
    """
    port = free_port()
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'tg.db'}",
        telegram_token=TOKEN,
        telegram_api_url=emulator.base_url,
        telegram_supervisors=str(ZHOU),
        http_port=port,
        telegram_webhook_url=f"http://127.0.0.1:{port}/telegram" if webhook else None,
        telegram_webhook_secret=SECRET if webhook else None,
    )
    start = datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    app = await App.start(settings, clock=TickingClock(start))
    await seed_telegram(app)
    stop = asyncio.Event()
    if real_pace:
        serving = channels.serve("telegram", app, stop)
    else:
        emulator.enforce_limits = False
        serving = telegram.serve(app, stop, pacer=Pacer(0.0, 10_000, 60.0, 10_000, margin=0.0))
    tasks = [asyncio.create_task(serving)]
    routes = channels.http_routes(["telegram"], app)
    if routes:
        tasks.append(asyncio.create_task(serve_http(app, routes, stop)))
    try:
        await until(
            lambda: emulator.webhook_url if webhook else "getUpdates" in dict(emulator.calls),
            "the bot to start listening",
        )
        yield Scene(app, emulator)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
        await app.close()


@pytest.fixture(params=["polling", "webhook"])
async def scene(request, tmp_path, emulator) -> AsyncIterator[Scene]:
    """Both modes, at full speed."""
    webhook = request.param == "webhook"
    async for ready in running(tmp_path, emulator, webhook=webhook, real_pace=False):
        yield ready


@pytest.fixture
async def quick(tmp_path, emulator) -> AsyncIterator[Scene]:
    async for ready in running(tmp_path, emulator, webhook=False, real_pace=False):
        yield ready


@pytest.fixture
async def paced(tmp_path, emulator) -> AsyncIterator[Scene]:
    """Polling, as `frontdesk run` starts it, under Telegram's flood limits."""
    async for ready in running(tmp_path, emulator, webhook=False):
        yield ready


# ---- the whole repair ---------------------------------------------------------------------


async def file_repair(resident: User, photo: str | None = None) -> Ticket:
    """张伟 reports a repair by pressing buttons, sharing his number with the contact button."""
    await resident.say("/repair")
    said = await resident.press("3栋2单元1201")
    assert "哪一类问题" in texts(said)
    await resident.press("电路")
    await resident.say("客厅插座没电")
    if photo is None:
        await resident.press("跳过")
    else:
        await resident.photo(photo)
        await resident.press("完成")
    await resident.press("明天上午")
    await resident.press("张伟")
    said = await resident.contact("13800000001")
    assert "13800000001" in texts(said)  # the summary
    said = await resident.press("确认提交")
    assert "报修已受理" in texts(said)
    ticket = (await resident.scene.rows(Ticket))[-1]
    assert ticket.number in texts(said)
    return ticket


async def test_a_repair_from_the_first_message_to_the_figures(scene: Scene) -> None:
    resident = scene.person(RESIDENT, name="张伟")
    said = await resident.say("/start")
    assert "您好，这里是幸福里物业客服中心" in texts(said)
    assert any("报修" in label for label in said[-1].labels)

    ticket = await file_repair(resident)

    wang = scene.person(WANG, REPAIR_GROUP, kind="group", name="王师傅")
    liu = scene.person(LIU, REPAIR_GROUP, kind="group", name="刘师傅")
    card = await until(lambda: wang.shown(), "the card in the repair group")
    card = card[-1]
    assert "待接单" in (card.text or "") and "138****0001" in (card.text or "")
    assert "13800000001" not in (card.text or "")
    accept = scene.emulator.button(REPAIR_GROUP, "接单")

    said = await wang.press("接单")
    edited = next(m for m in wang.shown() if m.message_id == card.message_id)
    assert edited.edited > 0 and "已接单" in (edited.text or "") and "王师傅" in (edited.text or "")
    assert "13800000001" in texts(scene.emulator.messages(WANG))  # the full number, privately
    said = await liu.press_data(*accept)  # the same button, a moment too late
    assert "已由 王师傅 接单" in texts(said)
    accepts = await scene.rows(TicketEvent, TicketEvent.action == "accept")
    assert len(accepts) == 1

    await wang.press("开始处理")
    said = await wang.press("完成")
    assert "处理情况" in texts(said)
    await wang.say("更换了插座面板")
    await wang.press("跳过")
    await wang.say("60")
    said = await wang.press("确认提交")
    assert "已标记完成" in texts(said)
    edited = next(m for m in wang.shown() if m.message_id == card.message_id)
    assert "已完成" in (edited.text or "") and edited.edited >= 3
    told = texts(resident.shown())
    assert "更换了插座面板" in told and "¥60.00" in told

    said = await resident.press("已解决")
    assert "感谢确认" in texts(said)
    done = (await scene.rows(Ticket, Ticket.id == ticket.id))[0]
    revisit = (await scene.rows(Job, Job.kind == "revisit_ask"))[0]
    assert done.done_at is not None
    # An electrical repair: asked the next morning at ten, done within 2 days.
    assert revisit.due_at.astimezone(ZoneInfo("Asia/Shanghai")).hour == 10
    assert timedelta(hours=12) <= revisit.due_at - done.done_at <= timedelta(days=1, hours=1)
    assert done.details["revisit_deadline"] == (done.done_at + timedelta(days=2)).isoformat()
    zhou = scene.person(ZHOU)
    said = texts(await zhou.say(f"/ticket {ticket.number}"))
    assert f"工单 {ticket.number}（幸福里）" in said and "状态：待回访" in said
    said = texts(await zhou.say("/stats"))
    assert "新建工单：1 单" in said and "报修：1" in said


async def test_replies_to_one_chat_keep_telegrams_pace(paced: Scene) -> None:
    said = await paced.person(RESIDENT).say("/start")  # a greeting, then the menu
    assert len(said) == 2
    sent = [c for c in paced.emulator.history if c.method == "sendMessage"]
    assert sent[1].at - sent[0].at >= 0.9  # about 1 message a second per chat
    assert paced.emulator.too_many == 0  # the limit was kept, not hit


# ---- one update, one effect ---------------------------------------------------------------


async def test_a_redelivered_update_has_one_effect(quick: Scene) -> None:
    resident = quick.person(RESIDENT)
    await resident.say("/repair")
    update_id = quick.emulator.send_text(RESIDENT, RESIDENT, "/start")
    await quick.settled(update_id)
    greeted = len(resident.shown())
    quick.emulator.redeliver(update_id)
    # Updates are handled in order: once a later one is done, the duplicate was seen.
    await resident.say("/help")
    assert texts(resident.shown()).count("很高兴为您服务") == 1
    assert len(resident.shown()) > greeted  # /help answered
    stored = await quick.rows(InboundUpdate, InboundUpdate.external_id == f"tg:{update_id}")
    assert len(stored) == 1


async def test_a_wrong_webhook_secret_is_refused_and_nothing_is_stored(tmp_path, emulator) -> None:
    async for scene in running(tmp_path, emulator, webhook=True):
        url = scene.app.settings.telegram_webhook_url
        assert url is not None
        update = {
            "update_id": 777,
            "message": {
                "message_id": 1,
                "date": 1790000000,
                "chat": {"id": RESIDENT, "type": "private"},
                "from": {"id": RESIDENT, "is_bot": False, "first_name": "Mallory"},
                "text": "/start",
            },
        }
        async with aiohttp.ClientSession() as http:
            for secret in ("wrong", None):
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                async with http.post(url, json=update, headers=headers) as response:
                    assert response.status == 401
        assert await scene.rows(InboundUpdate) == []
        assert scene.emulator.webhook_secret == SECRET


# ---- buttons, contacts, photos, languages ------------------------------------------------


async def test_a_forged_or_foreign_button_is_no_longer_valid_and_changes_nothing(
    quick: Scene,
) -> None:
    resident = quick.person(RESIDENT)
    said = await resident.say("/start")
    outbox_before = len(await quick.rows(Outbox))
    answers = quick.emulator.callback_answers

    quick.emulator.press(RESIDENT, RESIDENT, said[-1].message_id, "forged-token")
    await until(lambda: answers, "the answer to the forged button")
    assert "按钮已经失效" in answers[-1]["text"]

    # A real token, but minted for the repair group: pressed in the resident's chat.
    async with quick.app.db.transaction() as s:
        group_token = await token_for(
            s, str(REPAIR_GROUP), "flow:repair", now=quick.app.clock.now()
        )
    quick.emulator.press(RESIDENT, RESIDENT, said[-1].message_id, group_token)
    await until(lambda: len(answers) == 2, "the answer to the foreign button")
    assert "按钮已经失效" in answers[-1]["text"]
    assert len(await quick.rows(Outbox)) == outbox_before
    assert texts(resident.shown()) == texts(said)
    state = (await quick.rows(DialogState, DialogState.user_id == str(RESIDENT)))[0]
    assert state.mode == "menu"  # the flow:repair behind the foreign token did not start


async def test_someone_elses_contact_is_refused_and_binds_nothing(quick: Scene) -> None:
    stranger = quick.person(STRANGER)
    await stranger.say("/bind")
    said = await stranger.press("手机号")
    # 张伟's number, forwarded from the stranger's address book.
    said = await stranger.contact("13800000001", of=RESIDENT)
    assert "只能使用您本人的手机号" in texts(said)
    identity = (await quick.rows(ChatIdentity, ChatIdentity.external_user_id == str(STRANGER)))[0]
    assert identity.person_id is None

    said = await stranger.contact("13800000009")  # their own: 黄强 on the owners' roster
    assert "只能使用您本人的手机号" not in texts(said) and "黄强" in texts(said)


async def test_a_photo_is_kept_by_file_id_and_downloadable_for_reports(
    quick: Scene, tmp_path
) -> None:
    resident = quick.person(RESIDENT)
    ticket = await file_repair(resident, photo="AgADBAAD-socket-photo")
    photos = await quick.rows(Photo, Photo.ticket_id == ticket.id)
    assert [(p.channel, p.file_ref) for p in photos] == [("telegram", "AgADBAAD-socket-photo")]
    card = await until(lambda: quick.emulator.messages(REPAIR_GROUP), "the card")
    assert card[-1].photo == "AgADBAAD-socket-photo" and ticket.number in (card[-1].text or "")

    bot = telegram.make_bot(quick.app.settings)
    try:
        path = await telegram.download_photo(bot, photos[0].file_ref, tmp_path / "r" / "1.jpg")
    finally:
        await bot.session.close()
    assert path.read_bytes() == quick.emulator.files["AgADBAAD-socket-photo"]


async def test_telegram_language_until_the_resident_chooses(quick: Scene) -> None:
    visitor = quick.person(STRANGER, language="en")
    said = texts(await visitor.say("/start"))
    assert "Hello, this is the 幸福里物业 service desk" in said
    said = texts(await visitor.say("/lang zh_CN"))
    said = texts(await visitor.say("/start"))
    assert "您好，这里是幸福里物业客服中心" in said
    # Telegram still says English; the resident's own choice wins.
    quick.emulator.press(STRANGER, STRANGER, visitor.shown()[-1].message_id, "forged")
    answers = quick.emulator.callback_answers
    await until(lambda: answers, "the answer")
    assert "按钮已经失效" in answers[-1]["text"]


async def test_a_group_that_adds_the_bot_unbound_is_told_how_to_bind_it(paced: Scene) -> None:
    unbound = -1009
    update_id = paced.emulator.add_bot_to_group(unbound, by_user_id=ZHOU, title="新群")
    await paced.settled(update_id)
    said = texts(paced.emulator.messages(unbound))
    assert "/bind repair|security|cleaning|greening|service" in said and "主管" in said

    update_id = paced.emulator.add_bot_to_group(REPAIR_GROUP, by_user_id=ZHOU)
    later = paced.emulator.send_text(REPAIR_GROUP, WANG, "/mytasks", chat_type="group")
    await paced.settled(later)
    assert not any("/bind" in (m.text or "") for m in paced.emulator.messages(REPAIR_GROUP))


async def test_in_a_group_a_command_for_another_bot_is_left_alone(quick: Scene) -> None:
    wang = quick.person(WANG, REPAIR_GROUP, kind="group")
    quick.emulator.send_text(REPAIR_GROUP, WANG, "/mytasks@weather_bot", chat_type="group")
    said = await wang.say("/mytasks@FrontDesk_Test_Bot")  # ours, in any case
    assert len(said) == 1 and len(wang.shown()) == 1
    stored = await quick.rows(InboundUpdate)
    assert [row.payload["text"] for row in stored] == ["/mytasks"]


async def test_commands_are_registered_per_language_and_scope(paced: Scene) -> None:
    commands = paced.emulator.commands

    def menu(scope: str, language: str) -> dict[str, str]:
        return {c["command"]: c["description"] for c in commands[(scope, language)]}

    assert menu("all_private_chats", "zh")["repair"] == "报修"
    assert menu("all_private_chats", "en")["repair"] == "Report a repair"
    assert menu("all_private_chats", "")["repair"] == "报修"  # the default locale for the rest
    assert "stats" not in menu("all_private_chats", "zh")
    assert set(menu("all_group_chats", "en")) >= {"mytasks", "bind"}
    assert menu(f"chat:{ZHOU}", "zh")["stats"] == "工单统计"
    assert menu(f"chat:{ZHOU}", "en")["ticket"].startswith("A ticket's history")


def test_the_command_lists_are_derived_from_the_features_declarations() -> None:
    """The menus are not kept by hand: every flow of the residents' menu is there, staff
    commands where they answer, each described in both languages (dialogs/menus.py)."""
    catalogs = Catalogs.load("zh_CN", ZoneInfo("Asia/Shanghai"))
    residents = [entry.command for entry in menus.for_residents(catalogs)]
    assert residents[0] == "start" and residents[-3:] == ["lang", "help", "human"]
    assert {f.name for f in registry.all_flows() if f.in_menu} <= set(residents)
    assert "my" in residents and "stats" not in residents and "whoami" not in residents
    groups = {entry.command: entry.describe for entry in menus.for_groups(catalogs)}
    assert groups["bind"] == "command.bind.group" and "mytasks" in groups
    assert not {"stats", "ticket", "staff"} & set(groups)  # private only: not in groups
    managers = [entry.command for entry in menus.for_managers(catalogs)]
    assert {"stats", "overdue", "report", "ticket", "staff"} <= set(managers)
    assert "bind" not in managers  # in a private chat it is a resident's flow
    for locale in LOCALES:
        assert all(catalogs.has(locale, e.describe) for e in menus.all_listed(catalogs))


async def test_a_refused_token_stops_the_channel_with_one_line_and_no_secret(
    tmp_path, emulator
) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'tg.db'}",
        telegram_token="123456:SOMEONE-ELSES",
        telegram_api_url=emulator.base_url,
    )
    app = await App.start(settings)
    try:
        with pytest.raises(channels.ChannelUnavailable) as refused:
            await asyncio.wait_for(channels.serve("telegram", app, asyncio.Event()), 5)
    finally:
        await app.close()
    assert "FRONTDESK_TELEGRAM_TOKEN" in str(refused.value)
    assert "SOMEONE-ELSES" not in str(refused.value)
