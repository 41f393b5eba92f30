"""A group chat is no place for a resident's business, and a ticket is its filer's alone;
a department's own group answers staff only."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import func, select

from storage.models import DialogState, Ticket
from tests.conversations import file_repair
from tests.harness import Chat, texts

PARTY = "group:neighbours"  # an ordinary group the bot was added to


@pytest.fixture
def app(demo_both: Any) -> Any:
    """The demo on SQLite and on PostgreSQL."""
    return demo_both


async def count(app: Any, model: Any) -> int:
    async with app.db.transaction() as s:
        return int((await s.exec(select(func.count()).select_from(model))).one())


async def test_a_residents_flow_and_my_list_in_a_group_point_to_a_private_chat(app):
    zhang = Chat(app, "resident", chat_id=PARTY, kind="group")
    said = await zhang.say("/repair")
    assert "私聊" in texts(said)
    async with app.db.transaction() as s:
        state = await s.get(DialogState, ("console", PARTY, "resident"))
    assert state is None or state.mode == "menu"  # nothing started where all can read
    stranger = Chat(app, "mallory", chat_id=PARTY, kind="group")
    assert "私聊" in texts(await stranger.say("/my"))
    assert "私聊" in texts(await stranger.say("菜单"))
    assert await stranger.say("今天天气不错") == []  # chatter is not for the bot


async def test_a_ticket_is_its_filers_alone_whatever_chat_is_used(app):
    await file_repair(Chat(app, "resident"))  # 张伟, in private
    async with app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
    for chat in (
        Chat(app, "mallory", chat_id=PARTY, kind="group"),
        Chat(app, "mallory"),
        Chat(app, "resident", chat_id=PARTY, kind="group"),  # his own, but in the group: no
    ):
        for action in ("my_view", "my_cancel", "my_urge"):
            said = texts(await chat.send(option=f"act:{action}:{ticket.id}"))
            assert ticket.description not in said and "3栋2单元1201" not in said
    async with app.db.transaction() as s:
        assert (await s.get(Ticket, ticket.id)).status == "new"
    mine = texts(await Chat(app, "resident").send(option=f"act:my_view:{ticket.id}"))
    assert ticket.description in mine


async def test_an_unbound_residents_ticket_follows_their_private_chat_only(app):
    newcomer = Chat(app, "newcomer")
    await newcomer.say("/repair")
    await newcomer.press("小区公共区域")
    await newcomer.say("3栋大堂")
    await newcomer.press("公共设施")
    await newcomer.say("大堂的灯坏了一半")
    await newcomer.press("跳过")
    await newcomer.press("随时")
    await newcomer.say("王五")
    await newcomer.say("13912345678")
    await newcomer.press("确认提交")
    assert "大堂的灯" in texts(await newcomer.say("/my"))
    in_group = Chat(app, "newcomer", chat_id=PARTY, kind="group")
    assert "大堂的灯" not in texts(await in_group.say("/my"))


async def test_a_departments_group_answers_staff_only(app):
    repair_group = Chat(app, "wang", chat_id="group:XFL:repair", kind="group")
    before = await count(app, Ticket)
    assert await repair_group.say("人工") == []  # no handoff ticket from a technician
    assert await repair_group.say("菜单") == []  # no resident menu posted to the group
    assert await count(app, Ticket) == before
    said = texts(await repair_group.say("帮助"))
    assert "/mytasks" in said and "报修" not in said.split("/mytasks")[0]
    visitor = Chat(app, "mallory", chat_id="group:XFL:repair", kind="group")
    assert await visitor.say("帮助") == [] and await visitor.say("/repair") == []
