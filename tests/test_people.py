"""Supervisors bind groups to departments and manage staff from the chat; nobody else can."""

from __future__ import annotations

from sqlmodel import select

from storage.models import AuditLog, StaffGroup, StaffMember
from tests.harness import Chat, texts


async def test_supervisor_binds_a_group(demo_app):
    new_group = Chat(demo_app, "zhou", chat_id="group:new-security", kind="group")
    said = await new_group.say("/bind security")
    assert "安护部" in texts(said) and "幸福里" in texts(said)
    async with demo_app.db.transaction() as s:
        group = (await s.exec(select(StaffGroup).where(StaffGroup.department == "security"))).one()
        assert group.chat_id == "group:new-security"
        audit = (await s.exec(select(AuditLog).where(AuditLog.action == "bind_group"))).one()
        assert audit.detail == {"community": "XFL", "department": "security"}


async def test_only_supervisors_bind_and_only_in_groups(demo_app):
    said = await Chat(demo_app, "resident", chat_id="group:x", kind="group").say("/bind repair")
    assert "没有权限" in texts(said)
    said = await Chat(demo_app, "wang", chat_id="group:x", kind="group").say("/bind repair")
    assert "没有权限" in texts(said)
    said = await Chat(demo_app, "zhou").say("/bind repair")
    assert "工作群里" in texts(said)
    # in a resident's private chat, /bind is the resident's own binding flow
    said = await Chat(demo_app, "newcomer").say("/bind")
    assert "验证方式" in texts(said)
    said = await Chat(demo_app, "zhou", chat_id="group:x", kind="group").say("/bind plumbing")
    assert "用法" in texts(said)


async def test_supervisor_adds_and_removes_staff(demo_app):
    zhou = Chat(demo_app, "zhou")
    said = await zhou.say("/staff add u77 repair 张 师傅")
    assert "已添加 张 师傅" in texts(said)
    said = await zhou.say("/staff list")
    assert "u77" in texts(said)
    said = await zhou.say("/staff remove u77")
    assert "已停用" in texts(said)
    async with demo_app.db.transaction() as s:
        member = (
            await s.exec(select(StaffMember).where(StaffMember.external_user_id == "u77"))
        ).one()
        assert member.department == "repair" and member.active is False
        actions = [a.action for a in (await s.exec(select(AuditLog))).all()]
        assert actions.count("staff_add") == 1 and actions.count("staff_remove") == 1
    said = await Chat(demo_app, "wang").say("/staff add u78 repair 某人")
    assert "没有权限" in texts(said)


async def test_in_english(demo_app):
    zhou = Chat(demo_app, "zhou")
    await zhou.say("/lang en")
    said = await zhou.say("/staff")
    assert "Usage: /staff add" in texts(said)
    group = Chat(demo_app, "zhou", chat_id="group:g2", kind="group")
    said = await group.say("/bind greening")
    assert "Greening" in texts(said)


async def test_the_service_desk_answers_a_chat_handed_to_a_person(demo_app):
    resident = Chat(demo_app, "resident")
    said = await resident.say("人工")
    assert "H-261126-0001" in texts(said)
    said = await Chat(demo_app, "wang").say("/reply H-261126-0001 我是维修部的")
    assert "找不到单号" in texts(said)  # the repair team does not answer for the desk
    said = await Chat(demo_app, "li").say("/reply H-261126-0001 您好，请问有什么可以帮您？")
    assert "已发送给住户" in texts(said)
    assert "请问有什么可以帮您" in texts(await resident.inbox())
