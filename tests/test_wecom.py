"""Staff on WeCom (企业微信): cards arrive as app messages, staff answer by typing.

The tests act as the WeCom server (callbacks signed and encrypted with wechatpy's
enterprise crypto, `tests/wechat_emulator.py`) and the WeCom API runs on the local
emulator, so the callback, engine, database and delivery run end to end.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select
from typer.testing import CliRunner

from bot.app import App
from bot.channels import wechat, wecom
from bot.cli import cli
from bot.delivery import deliver_pending
from bot.demo import seed_demo
from bot.http import make_web_app
from bot.settings import Settings
from handlers import task_verbs
from handlers.core.clock import ManualClock
from handlers.people import add_staff
from storage import outbox
from storage.db import Database
from storage.models import (
    AuditLog,
    ChatIdentity,
    Community,
    InboundUpdate,
    KeyValue,
    Outbox,
    Person,
    StaffGroup,
    Ticket,
    TicketEvent,
)
from tests.harness import Chat, texts
from tests.test_wechat import locked
from tests.wechat_emulator import (
    CallbackRequest,
    WeChatEmulator,
    mp_reply,
    mp_request,
    mp_xml,
    wecom_request,
    wecom_verify,
    wecom_xml,
)

TOKEN = "wecom-callback-token"
AES_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
MP_TOKEN = "mp-callback-token"
OPENID = "oZhangWei000000000000000001"
REPAIR_PARTY, SECURITY_TAG, DESK_CHAT = "2", "5", "deskchat"
# WeCom UserID, name, department
STAFF = (
    ("WangShiFu", "王师傅", "repair"),
    ("LiuShiFu", "刘师傅", "repair"),
    ("ZhaoQiang", "赵强", "security"),
)


@pytest.fixture
async def emulator() -> AsyncIterator[WeChatEmulator]:
    emu = WeChatEmulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


def settings_for(database_url: str, emulator: WeChatEmulator, data_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        wecom_corp_id=emulator.corp_id,
        wecom_secret=emulator.corp_secret,
        wecom_agent_id=emulator.agent_id,
        wecom_token=TOKEN,
        wecom_aes_key=AES_KEY,
        wecom_api_url=emulator.url,
        wechat_appid=emulator.appid,
        wechat_secret=emulator.secret,
        wechat_token=MP_TOKEN,
        wechat_api_url=emulator.url,
    )


async def seed_wecom(app: App) -> None:
    """The demo communities, WeCom staff of XFL and their departments' WeCom targets."""
    async with app.db.transaction() as s:
        await seed_demo(s, app.clock.now().astimezone(app.settings.tz).date(), app.settings.tz)
        xfl = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        for user, name, department in STAFF:
            await add_staff(
                s,
                channel="wecom",
                user_id=user,
                name=name,
                department=department,
                community_id=xfl.id,
            )
        for department, chat in (
            ("repair", f"party:{REPAIR_PARTY}"),
            ("security", f"tag:{SECURITY_TAG}"),
            ("service", f"chat:{DESK_CHAT}"),
        ):
            s.add(
                StaffGroup(
                    community_id=xfl.id, department=department, channel="wecom", chat_id=chat
                )
            )
        # 张伟 bound his WeChat account earlier.
        zhang = (await s.exec(select(Person).where(Person.name == "张伟"))).one()
        s.add(ChatIdentity(channel="wechat", external_user_id=OPENID, person_id=zhang.id))


def message_text(message: dict[str, Any]) -> str:
    """What a staff member reads: a text message, or a text card's title and description."""
    if message["msgtype"] == "text":
        return str(message["text"]["content"])
    card = message["textcard"]
    description = re.sub(r"<br>|<div[^>]*>", "\n", card["description"]).replace("</div>", "")
    return f"{card['title']}\n{description}"


@dataclass
class WeCom:
    """The front desk's WeCom side on a test server, and the WeCom server's side."""

    app: App
    client: TestClient
    callback: wecom.Callback
    emulator: WeChatEmulator
    sender: wecom.WeComSender
    read: int = 0  # app messages already looked at
    unread: list[dict[str, Any]] = field(default_factory=list)

    async def post(self, request: CallbackRequest) -> tuple[int, str]:
        response = await self.client.post("/wecom", params=request.params, data=request.body)
        return response.status, await response.text()

    async def send(self, xml: str) -> None:
        status, body = await self.post(wecom_request(xml, TOKEN, AES_KEY, self.emulator.corp_id))
        assert (status, body) == (200, ""), body
        await self.callback.settle()

    async def deliver(self) -> None:
        await drain(self.app, self.sender)
        self.unread += self.emulator.wecom_messages[self.read :]
        self.read = len(self.emulator.wecom_messages)

    def take(self, **target: str) -> list[dict[str, Any]]:
        """Delivered messages to one target (`touser=…`, `toparty=…`, `chatid=…`), once."""
        (name, value), *_ = target.items()
        mine = [m for m in self.unread if m.get(name) == value]
        self.unread = [m for m in self.unread if m.get(name) != value]
        return mine

    async def party(self, party: str = REPAIR_PARTY) -> list[dict[str, Any]]:
        await self.deliver()
        return self.take(toparty=party)


@dataclass
class Staff:
    """A staff member typing to the front desk's WeCom app."""

    wecom: WeCom
    user: str

    async def say(self, text: str, msg_id: int | None = None) -> str:
        """Type a line; returns everything the app said back to this staff member."""
        await self.wecom.send(wecom_xml("text", self.user, Content=text, msg_id=msg_id))
        await self.wecom.deliver()
        return "\n".join(message_text(m) for m in self.wecom.take(touser=self.user))


@dataclass
class Resident:
    """张伟 on the official account, through the real `/wechat` callback."""

    app: App
    client: TestClient
    emulator: WeChatEmulator
    sender: Any
    sent: int = 1_795_000_000

    async def say(self, text: str) -> str:
        self.sent += 1
        xml = mp_xml("text", OPENID, create_time=self.sent, Content=text, MsgId=self.sent)
        request = mp_request(xml, MP_TOKEN)
        response = await self.client.post("/wechat", params=request.params, data=request.body)
        assert response.status == 200
        return str(mp_reply(await response.text()).get("Content", ""))

    async def pushed(self) -> str:
        """Customer-service messages that reached the resident since the last look."""
        before = len(self.emulator.custom)
        await drain(self.app, self.sender)
        return "\n".join(
            str(m.get("text", {}).get("content", ""))
            for m in self.emulator.custom[before:]
            if m["touser"] == OPENID
        )


@pytest.fixture
async def app(tmp_path: Path, clock: ManualClock, emulator: WeChatEmulator) -> AsyncIterator[App]:
    settings = settings_for(
        f"sqlite+aiosqlite:///{tmp_path / 'wecom.db'}", emulator, tmp_path / "data"
    )
    application = await App.start(settings, clock=clock)
    await seed_wecom(application)
    try:
        yield application
    finally:
        await application.close()


@pytest.fixture
async def desk(app: App, emulator: WeChatEmulator) -> AsyncIterator[WeCom]:
    callback = wecom.Callback(app)
    client = TestClient(TestServer(make_web_app([*callback.routes(), *wechat.routes(app)])))
    await client.start_server()
    api = wecom.api_for(app)
    emulator.appchats[DESK_CHAT] = {"chatid": DESK_CHAT, "userlist": ["LiDesk", "ZhouBoss"]}
    try:
        yield WeCom(app, client, callback, emulator, wecom.WeComSender(app, api))
    finally:
        await api.close()
        await client.close()


@pytest.fixture
def wang(desk: WeCom) -> Staff:
    return Staff(desk, "WangShiFu")


@pytest.fixture
def liu(desk: WeCom) -> Staff:
    return Staff(desk, "LiuShiFu")


@pytest.fixture
def zhao(desk: WeCom) -> Staff:
    return Staff(desk, "ZhaoQiang")


@pytest.fixture
async def resident(app: App, desk: WeCom, emulator: WeChatEmulator) -> AsyncIterator[Resident]:
    async with wechat.api_of(app) as api:
        yield Resident(app, desk.client, emulator, wechat.WeChatSender(app, api))


async def file_repair(resident: Resident, text: str = "厨房水龙头一直滴水") -> str:
    """张伟 reports a leaking tap in 3栋2单元1201 (out of warranty: paid work); its number."""
    await resident.say("/repair")
    await resident.say("3栋2单元1201")
    await resident.say("水管/漏水")
    await resident.say(text)
    await resident.say("跳过")
    await resident.say("明天上午")
    await resident.say("1")  # the name on record
    await resident.say("1")  # the phone on record
    said = await resident.say("确认提交")
    found = re.search(r"R-\d{6}-\d{4}", said)
    assert found, said
    return found.group(0)


async def ticket(app: App, number: str) -> Ticket:
    async with app.db.transaction() as s:
        return (await s.exec(select(Ticket).where(Ticket.number == number))).one()


# ---- the callback ------------------------------------------------------------------------


async def test_url_verification_echoes_the_decrypted_echostr(desk: WeCom, emulator):
    response = await desk.client.get(
        "/wecom", params=wecom_verify(TOKEN, AES_KEY, emulator.corp_id)
    )
    assert response.status == 200 and await response.text() == "wecom-echo-42"
    forged = wecom_verify("another-token", AES_KEY, emulator.corp_id)
    response = await desk.client.get("/wecom", params=forged)
    assert response.status == 403


async def test_forged_malformed_and_entity_requests_are_refused_and_nothing_is_stored(
    app: App, desk: WeCom, emulator
):
    xml = wecom_xml("text", "WangShiFu", Content="我的任务")
    forged = wecom_request(xml, TOKEN, AES_KEY, emulator.corp_id, sign_token="guessed")
    assert (await desk.post(forged))[0] == 403
    other_company = wecom_request(xml, TOKEN, AES_KEY, "ww9999999999999999")
    assert (await desk.post(other_company))[0] == 403
    genuine = wecom_request(xml, TOKEN, AES_KEY, emulator.corp_id)
    assert (await desk.post(CallbackRequest(genuine.params, b"<xml><Encrypt>")))[0] == 400
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Encrypt>&b;</Encrypt></xml>'
    )
    assert (await desk.post(CallbackRequest(genuine.params, bomb)))[0] == 400
    # An entity inside the encrypted message is refused too.
    inner = "<!DOCTYPE xml [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>" + xml
    assert (await desk.post(wecom_request(inner, TOKEN, AES_KEY, emulator.corp_id)))[0] == 400
    async with app.db.transaction() as s:
        assert (await s.exec(select(InboundUpdate))).all() == []
        assert (await s.exec(select(Outbox).where(Outbox.channel == "wecom"))).all() == []


async def test_a_retried_message_is_handled_once(app: App, desk: WeCom, wang: Staff, resident):
    number = await file_repair(resident)
    await wang.say(f"接单 {number}")
    await wang.say(f"开始 {number}")
    said = await wang.say(f"完成 {number} 已更换水龙头 金额 80", msg_id=424242)
    assert "已标记完成" in said
    assert await wang.say(f"完成 {number} 已更换水龙头 金额 80", msg_id=424242) == ""
    async with app.db.transaction() as s:
        done = (await s.exec(select(TicketEvent).where(TicketEvent.action == "done"))).all()
    assert len(done) == 1


async def test_a_message_answered_while_the_database_was_locked_survives_a_restart(
    app: App, desk: WeCom, wang: Staff, emulator, clock: ManualClock
):
    """WeCom retries (and the staff member waits) when there is no answer in 5 s; an
    answer given before the message was stored must not lose it if the process dies."""
    xml = wecom_xml("text", wang.user, Content="帮助")
    request = wecom_request(xml, TOKEN, AES_KEY, emulator.corp_id)
    loop = asyncio.get_running_loop()
    async with locked(app):
        started = loop.time()
        answer = asyncio.ensure_future(desk.post(request))
        await asyncio.wait({answer}, timeout=8)  # the lock goes after 8 s at the latest
        assert (await answer, loop.time() - started < 5.0) == ((200, ""), True)
        desk.callback.abandon()  # the process dies before the database takes the message
    # The next start's delivery loop handles what the spool kept, and answers.
    restarted = await App.start(app.settings, clock=clock)
    stop = asyncio.Event()
    running = asyncio.create_task(wecom.serve(restarted, stop))
    try:
        for _ in range(200):
            if emulator.wecom_messages:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
        await restarted.close()
    [reply] = emulator.wecom_messages
    assert reply["touser"] == wang.user and "王师傅" in message_text(reply)  # the help
    async with app.db.transaction() as s:
        assert len((await s.exec(select(InboundUpdate))).all()) == 1


# ---- the whole repair, WeChat resident to WeCom group and back -----------------------------


async def test_repair_from_wechat_to_the_wecom_repair_group_and_back(
    app: App, desk: WeCom, wang: Staff, liu: Staff, resident: Resident
):
    number = await file_repair(resident)
    cards = await desk.party()
    assert len(cards) == 1 and cards[0]["msgtype"] == "textcard"
    card = cards[0]["textcard"]
    assert number in card["title"] and "厨房水龙头一直滴水" in card["description"]
    assert "138****0001" in card["description"] and "13800000001" not in card["description"]
    assert f"回复：接单 {number}" in card["description"]
    assert cards[0]["agentid"] == int(desk.emulator.agent_id)

    said = await wang.say(f"接单 {number}")
    assert "13800000001" in said  # the full contact, only to the one who took it
    updated = message_text((await desk.party())[0])
    assert "王师傅" in updated and f"开始 {number}" in updated and f"接单 {number}" not in updated
    assert "已由 王师傅 接单" in await resident.pushed()

    said = await liu.say(f"接单 {number}")  # too late: the first one won
    assert "已由 王师傅 接单" in said

    await wang.say(f"开始 {number}")
    assert "王师傅 已开始处理" in await resident.pushed()
    assert f"完成 {number} 处理情况 金额 80" in message_text((await desk.party())[0])

    said = await wang.say(f"完成 {number} 已更换水龙头")  # paid work: the amount is asked for
    assert "有偿服务" in said and f"完成 {number} 已更换水龙头 金额 80" in said
    assert (await ticket(app, number)).status == "in_progress"

    said = await wang.say(f"完成 {number} 已更换水龙头 金额 80")
    assert "已标记完成" in said and "请输入" not in said  # no prompt answered by the line
    done = await ticket(app, number)
    assert done.status == "done" and str(done.amount) == "80.00"
    told = await resident.pushed()
    assert "已更换水龙头" in told and "¥80.00" in told and "已解决" in told

    await resident.say("已解决")
    assert (await ticket(app, number)).status == "revisit"


async def test_the_flow_carries_on_by_hand_after_a_bad_amount(
    app: App, wang: Staff, resident: Resident
):
    number = await file_repair(resident)
    await wang.say(f"接单 {number}")
    await wang.say(f"开始 {number}")
    said = await wang.say(f"完成 {number} 已更换阀芯 金额 八十")
    assert "不是有效的金额" in said and "收费金额" in said
    said = await wang.say("80")
    assert "已更换阀芯" in said and "1. 确认提交" in said
    said = await wang.say("1")
    assert "已标记完成" in said
    assert (await ticket(app, number)).status == "done"


async def test_handover_by_name_and_cannot_do_with_a_reason(
    app: App, desk: WeCom, wang: Staff, liu: Staff, resident: Resident
):
    number = await file_repair(resident)
    await wang.say(f"接单 {number}")
    said = await liu.say(f"转交 {number} 王师傅")  # not his ticket
    assert "不是您负责的工单" in said
    said = await wang.say(f"转交 {number} 不存在的人")  # no such colleague: choose one
    assert "转交给哪位同事" in said and "刘师傅" in said and "请回复序号" in said
    await wang.say(f"转交 {number} 刘师傅")
    assert "负责人：刘师傅" in message_text((await desk.party())[-1])
    await desk.deliver()
    assert "13800000001" in message_text(desk.take(touser="LiuShiFu")[0])
    said = await liu.say(f"无法处理 {number}")
    assert f"无法处理 {number} 需要更换整根水管" in said  # the reason is required
    said = await liu.say(f"无法处理 {number} 需要更换整根水管，要物业统一安排")
    assert "已记录" in said and "无法处理" in said
    assert (await ticket(app, number)).status == "cannot_do"
    assert "需要更换整根水管" in await resident.pushed()
    supervisor = await Chat(app, "zhou").inbox()  # the demo supervisor, on the console
    assert "刘师傅" in texts(supervisor) and "需要更换整根水管" in texts(supervisor)


async def test_other_departments_other_communities_and_strangers_are_refused(
    app: App, desk: WeCom, zhao: Staff, resident: Resident
):
    number = await file_repair(resident)
    said = await zhao.say(f"接单 {number}")  # security, not repair
    assert "没有权限" in said
    assert (await ticket(app, number)).status == "new"
    async with app.db.transaction() as s:
        hyy = (await s.exec(select(Community).where(Community.code == "HYY"))).one()
        s.add(
            Ticket(
                community_id=hyy.id,
                number="R-261126-0050",
                kind="repair",
                department="repair",
                created_at=app.clock.now(),
            )
        )
    said = await zhao.say("接单 R-261126-0050")
    assert "没有找到工单 R-261126-0050" in said
    said = await Staff(desk, "SomeoneElse").say(f"接单 {number}")
    assert "还没有登记为物业员工" in said
    said = await zhao.say("你好")
    assert "没有看懂" in said and "接单 R-261126-0007" in said


async def test_my_tasks_slash_commands_and_english(
    app: App, desk: WeCom, wang: Staff, resident: Resident
):
    number = await file_repair(resident)
    await wang.say(f"接单 {number}")
    said = await wang.say("我的任务")
    assert number in said and "1 张" in said
    said = await wang.say("/mytasks")
    assert number in said
    assert "English" in await wang.say("/lang en")
    assert await wang.say(f"start {number}") == ""  # the updated card goes to the party
    assert "处理中" in message_text((await desk.party())[-1])  # the group reads Chinese
    said = await wang.say(f"done {number} replaced the tap")
    assert "paid work" in said and f"done {number} replaced the tap amount 80" in said
    said = await wang.say(f"done {number} replaced the tap amount 80")
    assert "is marked done" in said
    assert (await ticket(app, number)).status == "done"
    said = await wang.say("help")
    assert said.startswith("Hello, 王师傅.") and "accept R-261126-0007" in said


# ---- sending -------------------------------------------------------------------------------


async def push(app: App, chat_id: str, text: str) -> None:
    async with app.db.transaction() as s:
        await outbox.enqueue(
            s, channel="wecom", chat_id=chat_id, payload={"text": text}, now=app.clock.now()
        )


async def test_pushes_reach_a_tag_an_app_chat_and_one_person(app: App, desk: WeCom):
    for chat_id in (f"tag:{SECURITY_TAG}", f"chat:{DESK_CHAT}", "user:ZhouBoss", "LiDesk"):
        await push(app, chat_id, f"通知 {chat_id}")
    await push(app, "chat:gone", "无人")
    await push(app, "user:@all", "全员")
    await desk.deliver()
    assert [m["text"]["content"] for m in desk.take(totag=SECURITY_TAG)] == ["通知 tag:5"]
    assert [m["text"]["content"] for m in desk.take(chatid=DESK_CHAT)] == ["通知 chat:deskchat"]
    assert len(desk.take(touser="ZhouBoss")) == 1 and len(desk.take(touser="LiDesk")) == 1
    async with app.db.transaction() as s:
        failed = (await s.exec(select(Outbox).where(col(Outbox.failed_at).is_not(None)))).all()
    assert sorted(row.chat_id for row in failed) == ["chat:gone", "user:@all"]


async def test_an_expired_token_is_renewed_once(app: App, desk: WeCom, emulator):
    await push(app, "LiDesk", "第一条")
    await desk.deliver()
    assert emulator.wecom_token_requests == 1
    emulator.expire_tokens()
    await push(app, "LiDesk", "第二条")
    await desk.deliver()
    assert [m["text"]["content"] for m in desk.take(touser="LiDesk")] == ["第一条", "第二条"]
    assert emulator.wecom_token_requests == 2


async def test_the_delivery_loop_sends_until_stopped(app: App, emulator: WeChatEmulator):
    stop = asyncio.Event()
    loop = asyncio.create_task(wecom.serve(app, stop))
    await push(app, "LiDesk", "维修师傅已出发")
    for _ in range(100):
        if emulator.wecom_messages:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(loop, 5)
    assert emulator.wecom_messages[0]["text"]["content"] == "维修师傅已出发"


async def test_two_workers_share_one_access_token(
    database: Database, emulator: WeChatEmulator, clock: ManualClock, tmp_path: Path
):
    settings = settings_for(database.url, emulator, tmp_path / "data")
    workers = [await App.start(settings, clock=clock, migrate_schema=False) for _ in range(2)]
    apis = [wecom.api_for(worker) for worker in workers]
    try:
        tokens = await asyncio.gather(*(api.access_token() for api in apis))
        assert tokens[0] == tokens[1] and emulator.wecom_token_requests == 1
        for n, api in enumerate(apis):
            await api.send_message({"touser": "LiDesk"}, "text", {"content": f"worker {n}"})
        assert len(emulator.wecom_messages) == 2 and emulator.wecom_token_requests == 1
        async with database.transaction() as s:
            cached = (await s.exec(select(KeyValue))).all()
        assert [row.value for row in cached] == [tokens[0]]
    finally:
        for api in apis:
            await api.close()
        for worker in workers:
            await worker.close()


def test_long_cards_fall_back_to_text_and_buttons_become_typed_lines():
    short = {"text": "【报修】R-1 · 待接单\n位置：3栋", "card": "ticket:1"}
    assert wecom.compose(short, ["回复：接单 R-1"])[0] == "textcard"
    long = {"text": "【报修】R-1\n" + "很长的描述" * 60, "card": "ticket:1"}
    msgtype, content = wecom.compose(long, ["回复：接单 R-1"])
    assert msgtype == "text" and content["content"].endswith("回复：接单 R-1")
    assert wecom.address("party:2") == ("message", {"toparty": "2"})
    assert wecom.address("wang") == ("message", {"touser": "wang"})
    assert wecom.address("user:@all") is None


def test_typed_commands():
    words = {
        "task.words.done": {"完成", "done"},
        "task.words.accept": {"接单", "accept"},
    }.get
    command = task_verbs.parse(
        "完成R-261126-0007 已更换水龙头 金额 80", lambda k: words(k) or set()
    )
    assert command == task_verbs.TypedLine("done", "R-261126-0007", "已更换水龙头 金额 80")
    assert task_verbs.split_amount("已更换水龙头 金额 80", ["金额"]) == ("已更换水龙头", "80")
    assert task_verbs.split_amount("已更换水龙头金额80元", ["金额"]) == ("已更换水龙头", "80元")
    assert task_verbs.split_amount("已更换水龙头", ["金额"]) == ("已更换水龙头", None)
    pressed = task_verbs.parse("已试漏 r-261126-0007", lambda k: set())
    assert pressed == task_verbs.TypedLine("press", "R-261126-0007", label="已试漏")
    assert task_verbs.parse("R-261126-0007", lambda k: set()) is None


def test_the_command_line_sends_a_department_to_a_wecom_party(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no frontdesk.toml of the developer's
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {"FRONTDESK_DATABASE_URL": url, "FRONTDESK_DATA_DIR": str(tmp_path / "data")}
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        runner = CliRunner()
        assert runner.invoke(cli, ["seed-demo", "--no-history"], env=env).exit_code == 0
        args = ["wecom-group", "--community", "XFL", "--department", "repair", "--to"]
        done = runner.invoke(cli, [*args, "party:7"], env=env)
        assert done.exit_code == 0 and "party:7" in done.output
        assert runner.invoke(cli, [*args, "party:8"], env=env).exit_code == 0  # moved
        refused = runner.invoke(cli, [*args, "user:@all"], env=env)
        assert refused.exit_code == 2
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)

    async def stored() -> tuple[list[str], int]:
        db = Database(url)
        try:
            async with db.transaction() as s:
                groups = (
                    await s.exec(select(StaffGroup).where(StaffGroup.channel == "wecom"))
                ).all()
                # The demo's own history is audited too: count the group bindings only.
                audits = (
                    await s.exec(select(AuditLog).where(AuditLog.action == "bind_group"))
                ).all()
            return [g.chat_id for g in groups], len(audits)
        finally:
            await db.dispose()

    assert asyncio.run(stored()) == (["party:8"], 2)


async def drain(app: Any, sender: Any) -> None:
    """Deliver rounds until the outbox has nothing due for this sender."""
    sent = await deliver_pending(app.db, sender, app.clock)
    while sent:
        sent = await deliver_pending(app.db, sender, app.clock)
