"""Staff verbs typed as words (`接单 R-…`, `完成 R-… 更换了插座 金额 30`) on every channel.

They are the task feature's own commands, read by the engine (dialogs/tasks.py), so a
technician typing in the console or in a Telegram group gets what the card's buttons
give: the same ticket history, the same audit, the same checks, the same messages to the
resident. (WeCom, where they are the only way, is tested in test_wecom.py.)
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.app import App
from bot.channels.console import ConsoleChat, staff_member
from storage.models import AuditLog, Ticket, TicketEvent
from tests import test_telegram as tg
from tests.conversations import file_repair, finish_repair, repair_group
from tests.harness import Chat, texts
from tests.telegram_emulator import BotAPIEmulator


async def latest(app: App) -> Ticket:
    async with app.db.transaction() as s:
        return (await s.exec(select(Ticket).order_by(col(Ticket.id).desc()))).first()


async def history(app: App, ticket: Ticket) -> tuple[list[str], list[str]]:
    """The ticket's lifecycle actions and the audit log's actions on it, in order."""
    async with app.db.transaction() as s:
        events = (
            await s.exec(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id)
                .order_by(col(TicketEvent.id))
            )
        ).all()
        audits = (
            await s.exec(
                select(AuditLog).where(AuditLog.target == ticket.number).order_by(col(AuditLog.id))
            )
        ).all()
    return [e.action for e in events], [a.action for a in audits]


class Console:
    """A staff member at the real console channel (bot/channels/console.py)."""

    def __init__(self, chat: ConsoleChat, out: io.StringIO) -> None:
        self.chat, self.out = chat, out

    @classmethod
    async def of(cls, app: App, who: str) -> Console:
        out = io.StringIO()
        chat = ConsoleChat(app, await staff_member(app, who), out, run_jobs=False)
        await chat.deliver()
        out.truncate(0)
        out.seek(0)
        return cls(chat, out)

    async def type(self, line: str) -> str:
        """Type a line; what the console printed in answer."""
        start = self.out.tell()
        await self.chat.handle_line(line)
        return self.out.getvalue()[start:]


# ---- the console --------------------------------------------------------------------------


async def test_typed_verbs_in_the_console_do_what_the_card_buttons_do(demo_app):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    by_buttons = await latest(demo_app)
    await finish_repair(demo_app, amount="30", note="更换了插座")
    await resident.inbox()

    await file_repair(resident, text="卧室插座没电")
    typed = await latest(demo_app)
    wang = await Console.of(demo_app, "wang")
    said = await wang.type(f"接单 {typed.number}")
    assert "13800000001" in said  # the full contact, in private, as after the button
    assert "(updated)" in said and "王师傅" in said  # the card, edited in the group
    assert "已由 王师傅 接单" in texts(await resident.inbox())
    said = await wang.type(f"开始 {typed.number}")
    assert "处理中" in said
    said = await wang.type(f"完成 {typed.number} 更换了插座 金额 30")
    assert "已标记完成" in said and "请输入" not in said  # no step of the flow asked
    told = texts(await resident.inbox())
    assert "更换了插座" in told and "¥30.00" in told

    done, pressed = await latest(demo_app), await ticket_by_id(demo_app, by_buttons.id)
    assert (done.status, done.amount) == (pressed.status, pressed.amount) == ("done", 30)
    assert await history(demo_app, done) == await history(demo_app, pressed)


async def ticket_by_id(app: App, ticket_id: int | None) -> Ticket:
    async with app.db.transaction() as s:
        found = await s.get(Ticket, ticket_id)
        assert found is not None
        return found


async def test_finishing_in_one_line_checks_like_the_card_and_says_what_to_type(demo_app):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    number = (await latest(demo_app)).number
    wang = await Console.of(demo_app, "wang")
    said = await wang.type(f"完成 {number} 更换了插座 金额 30")
    assert "不是您负责的工单" in said  # nobody holds it yet: refused as the card's "done" is
    await wang.type(f"> 接单 {number}")  # typed in the repair group, as a button is pressed
    await wang.type(f"> 开始 {number}")
    said = await wang.type(f"完成 {number}")
    assert f"完成 {number} 已更换水龙头" in said  # the note is needed
    said = await wang.type(f"完成 {number} 更换了插座")  # paid work: the amount is needed
    assert f"完成 {number} 更换了插座 金额 80" in said
    assert (await latest(demo_app)).status == "in_progress"
    said = await wang.type(f"完成 {number} 更换了插座 金额 三十")  # unreadable: asked again
    assert "不是有效的金额" in said and "收费金额" in said
    said = await wang.type("30")
    assert "更换了插座" in said and "确认提交" in said  # the note was kept
    said = await wang.type("1")
    assert "已标记完成" in said
    assert (await latest(demo_app)).status == "done"


async def test_typed_verbs_are_refused_like_the_buttons_and_name_colleagues(demo_app):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    number = (await latest(demo_app)).number
    zhao = await Console.of(demo_app, "zhao")  # security, not repair
    assert "没有权限" in await zhao.type(f"接单 {number}")
    assert "没有找到工单 R-261126-0099" in await zhao.type("接单 R-261126-0099")
    wang = await Console.of(demo_app, "wang")
    await wang.type(f"接单 {number}")
    liu = await Console.of(demo_app, "liu")
    assert "已由 王师傅 接单" in await liu.type(f"接单 {number}")  # the first one won
    assert "不是您负责的工单" in await liu.type(f"转交 {number} 王师傅")
    said = await wang.type(f"转交 {number} 刘师傅")
    assert "刘师傅" in said
    assert "13800000001" in await liu.type("我的任务")  # his now, with the full contact
    said = await liu.type("我的任务")
    assert number in said and "1 张" in said
    said = await liu.type(f"转其他部门 {number}")  # a card option, by its label
    assert "转到哪个部门" in said or "环境部" in said
    async with demo_app.db.transaction() as s:
        shown = (await s.exec(select(Ticket).where(Ticket.number == number))).one()
    assert shown.department == "repair" and shown.status == "accepted"


async def test_a_staff_members_chatter_is_not_a_verb_outside_staff_only_channels(demo_app):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    number = (await latest(demo_app)).number
    group = repair_group(demo_app, "wang")
    await group.inbox()
    assert await group.say(f"王师傅你看下 {number} 这家") == []  # talk in a group: ignored
    said = await Chat(demo_app, "wang").say("你好")
    assert "没有看懂" not in texts(said)  # the staff menu, as before


# ---- a Telegram group -------------------------------------------------------------------


@pytest.fixture
async def emulator() -> AsyncIterator[BotAPIEmulator]:
    emu = BotAPIEmulator(tg.TOKEN)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
async def scene(tmp_path: Path, emulator: BotAPIEmulator) -> AsyncIterator[tg.Scene]:
    async for ready in tg.running(tmp_path, emulator, webhook=False, real_pace=False):
        yield ready


async def test_typed_verbs_in_a_telegram_group(scene: tg.Scene) -> None:
    resident = scene.person(tg.RESIDENT, name="张伟")
    ticket = await tg.file_repair(resident)
    wang = scene.person(tg.WANG, tg.REPAIR_GROUP, kind="group", name="王师傅")
    liu = scene.person(tg.LIU, tg.REPAIR_GROUP, kind="group", name="刘师傅")
    private = scene.person(tg.WANG, name="王师傅")

    await wang.say(f"接单 {ticket.number}")
    card = tg.texts(wang.shown())
    assert "王师傅" in card and "已接单" in card  # the card, edited in place
    assert "13800000001" in tg.texts(private.shown())  # the full contact, in private
    assert "已由 王师傅 接单" in tg.texts(resident.shown())
    said = await liu.say(f"接单 {ticket.number}")
    assert "已由 王师傅 接单" in tg.texts(said)
    assert await wang.say(f"王师傅你看下 {ticket.number} 这家") == []  # talk: ignored

    await wang.say(f"开始 {ticket.number}")
    said = await wang.say(f"完成 {ticket.number} 更换了插座 金额 30")
    assert "已标记完成" in tg.texts(said)
    async with scene.app.db.transaction() as s:
        done = await s.get(Ticket, ticket.id)
        assert done is not None and done.status == "done" and done.amount == 30
    assert re.search(r"更换了插座.*¥30\.00|¥30\.00.*更换了插座", tg.texts(resident.shown()), re.S)
