"""Supervisors bind groups to departments and manage staff from the chat; nobody else can."""

from __future__ import annotations

from sqlmodel import select

from handlers.people import add_staff
from storage.models import AuditLog, Community, StaffGroup, StaffMember
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
    assert "Usage: /staff [CODE] add" in texts(said)
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


async def test_nobody_grants_or_removes_a_role_above_their_own(demo_both):
    demo_app = demo_both  # on SQLite and PostgreSQL
    zhou = Chat(demo_app, "zhou")  # a supervisor of XFL
    said = texts(await zhou.say("/staff add boss2 service 新主任 director"))
    assert "高于您自己的角色" in said
    assert "高于您自己的角色" in texts(await zhou.say("/staff remove chen"))  # the director
    assert "已添加" in texts(await zhou.say("/staff add sun service 孙主管 supervisor"))
    async with demo_app.db.transaction() as s:
        director = (await s.exec(select(StaffMember).where(StaffMember.name == "陈主任"))).one()
        roles = {m.name: m.role for m in (await s.exec(select(StaffMember))).all()}
    assert director.active and "新主任" not in roles and roles["孙主管"] == "supervisor"
    # The director may.
    assert "已添加" in texts(
        await Chat(demo_app, "chen").say("/staff add boss2 service 新主任 director")
    )


async def test_a_company_wide_supervisor_names_the_community(demo_both):
    demo_app = demo_both  # on SQLite and PostgreSQL
    async with demo_app.db.transaction() as s:
        await add_staff(s, channel="console", user_id="hq", name="总部主管", role="supervisor")
    hq = Chat(demo_app, "hq")
    assert "小区代码" in texts(await hq.say("/staff list"))
    assert "和悦园" in texts(await hq.say("/staff HYY list"))
    assert "已添加" in texts(await hq.say("/staff HYY add gao repair 高师傅"))
    async with demo_app.db.transaction() as s:
        gao = (await s.exec(select(StaffMember).where(StaffMember.name == "高师傅"))).one()
        hyy = (await s.exec(select(Community).where(Community.code == "HYY"))).one()
    assert gao.community_id == hyy.id
