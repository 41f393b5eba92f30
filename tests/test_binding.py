"""Identity binding, as conversations: invitation codes, a shared phone, a desk-approved request."""

from __future__ import annotations

import json
import re

from sqlmodel import col, select

from handlers.binding import require_binding
from handlers.people import add_staff
from handlers.rules.binding import code_key
from storage.models import (
    AuditLog,
    Binding,
    ChatIdentity,
    Community,
    InviteCode,
    Person,
    StaffMember,
    Ticket,
    TicketEvent,
    Unit,
)
from tests.harness import Chat, texts

CODE = re.compile(r"\b[A-HJ-NP-Z2-9]{8}\b")
SERVICE = "group:XFL:service"


async def invite(app, label: str, role: str = "") -> str:
    """The service desk (李敏) issues a code; returns it."""
    said = await Chat(app, "li").say(f"/invite {label} {role}".strip())
    found = CODE.search(texts(said))
    assert found, texts(said)
    return found.group(0)


async def open_binding(chat: Chat) -> None:
    """Choose "link my home" on the main menu."""
    said = await chat.send(option="flow:bind")
    assert "binding.way.prompt" in [s.payload["key"] for s in said]


async def bindings_of(app, user_id: str) -> list[tuple[str, str, str]]:
    """(unit label, role, verified_by) of everything the chat account is bound to."""
    async with app.db.transaction() as s:
        identity = (
            await s.exec(select(ChatIdentity).where(ChatIdentity.external_user_id == user_id))
        ).one()
        rows = await s.exec(
            select(Unit.label, Binding.role, Binding.verified_by)
            .join(Binding, col(Binding.unit_id) == col(Unit.id))
            .where(Binding.person_id == identity.person_id)
            .order_by(col(Binding.id))
        )
        return [tuple(row) for row in rows.all()]


async def staff_id(app, user_id: str) -> int:
    async with app.db.transaction() as s:
        member = (
            await s.exec(
                select(StaffMember).where(
                    StaffMember.channel == "console", StaffMember.external_user_id == user_id
                )
            )
        ).one()
        assert member.id is not None
        return member.id


# ---- invitation codes ------------------------------------------------------------------


async def test_staff_invite_and_start_with_the_code_binds_a_new_resident(demo_app):
    code = await invite(demo_app, "3栋2单元1202", "tenant")
    newcomer = Chat(demo_app, "newcomer")
    said = await newcomer.send(text=f"/start {code}", user_name="陈晨")
    assert "您好" in said[0].text
    assert "绑定成功" in texts(said) and "3栋2单元1202（租户）" in texts(said)
    assert await bindings_of(demo_app, "newcomer") == [("3栋2单元1202", "tenant", "invite")]
    said = await newcomer.say("/units")
    assert "幸福里 3栋2单元1202（租户）" in texts(said)
    async with demo_app.db.transaction() as s:
        assert await s.get(InviteCode, code) is None  # the store keeps only its hash
        used = await s.get(InviteCode, code_key(code))
        assert used is not None and used.used_at is not None
        person = await s.get(Person, used.used_by)
        assert person is not None and person.name == "陈晨"
        audits = (await s.exec(select(AuditLog))).all()
        assert [a.action for a in audits] == ["invite", "bind_invite"]
        assert all(code not in json.dumps(a.detail) for a in audits)


async def test_a_used_code_is_refused_politely(demo_app):
    code = await invite(demo_app, "3栋2单元1202")
    await Chat(demo_app, "first").say(f"/start {code}")
    said = await Chat(demo_app, "second").say(f"/start {code}")
    assert "已经使用过了" in texts(said)
    async with demo_app.db.transaction() as s:
        second = (
            await s.exec(select(ChatIdentity).where(ChatIdentity.external_user_id == "second"))
        ).one()
        assert second.person_id is None


async def test_an_expired_code_is_refused_in_english(demo_app, clock):
    code = await invite(demo_app, "3栋2单元1202")
    clock.advance(days=31)
    late = Chat(demo_app, "late")
    await late.say("/lang en")
    said = await late.say(f"/start {code}")
    assert "expired on Dec 26, 2026" in texts(said)
    assert "new one" in texts(said)


async def test_a_wrong_code_in_the_flow_is_explained_and_asked_again(demo_app):
    code = await invite(demo_app, "1栋1单元101", "member")
    resident = Chat(demo_app, "newcomer")
    await resident.say("/menu")
    said = await resident.press("绑定房屋")
    assert "验证方式" in texts(said)
    await resident.press("邀请码")
    said = await resident.say("hello")
    assert "不像是邀请码" in texts(said) and "8 位邀请码" in texts(said)
    said = await resident.say("ZZZZ2222")
    assert "没有找到邀请码「ZZZZ2222」" in texts(said)
    said = await resident.say(code.lower())
    assert "姓名" in texts(said)
    said = await resident.say("陈晨")
    assert "1栋1单元101" in texts(said) and "家庭成员" in texts(said)
    said = await resident.press("确认提交")
    assert "陈晨，您已绑定 1栋1单元101（家庭成员）" in texts(said)
    assert await bindings_of(demo_app, "newcomer") == [("1栋1单元101", "member", "invite")]


async def test_a_code_typed_at_the_menu_adds_a_second_unit_in_english(demo_app):
    code = await invite(demo_app, "1栋1单元101", "delegate")
    resident = Chat(demo_app, "resident")  # 张伟, owner of 3栋2单元1201
    await resident.say("/lang en")
    said = await resident.say(code)
    assert "Please check" in texts(said) and "As: delegate" in texts(said)
    said = await resident.press("Submit")
    assert "you are now linked to 1栋1单元101 (delegate)" in texts(said)
    said = await resident.say("/units")
    assert "3栋2单元1201 (owner)" in texts(said) and "1栋1单元101 (delegate)" in texts(said)
    said = await resident.say(code)
    assert "already been used" in texts(said)


async def test_a_wrong_code_at_start_offers_the_other_ways(demo_app):
    said = await Chat(demo_app, "stranger").say("/start ZZZZ2222")
    assert "您好" in said[0].text and "没有找到邀请码" in texts(said)
    assert any(b["value"] == "flow:bind" for b in said[-1].buttons)


async def test_invite_is_for_the_service_desk_of_the_community(demo_app):
    said = await Chat(demo_app, "wang").say("/invite 3栋2单元1202")  # repair staff
    assert "没有权限" in texts(said)
    said = await Chat(demo_app, "resident").say("/invite 3栋2单元1202")
    assert "没有权限" in texts(said)
    said = await Chat(demo_app, "zhou").say("/invite 1栋2单元903")  # a HYY unit
    assert "没有找到房号" in texts(said)
    said = await Chat(demo_app, "zhou").say("/invite 9栋9单元999")
    assert "没有找到房号" in texts(said)
    said = await Chat(demo_app, "chen").say("/invite XFL 3栋2单元1202 受托人")
    assert CODE.search(texts(said)) and "受托人" in texts(said)
    said = await Chat(demo_app, "li").say("/invite")
    assert "用法" in texts(said)
    async with demo_app.db.transaction() as s:
        codes = (await s.exec(select(InviteCode))).all()
        assert [c.role for c in codes] == ["delegate"]


# ---- a shared phone contact ---------------------------------------------------------------


async def test_a_shared_contact_on_the_roster_links_the_chat(demo_app):
    wife = Chat(demo_app, "wife")
    await open_binding(wife)
    said = await wife.press("手机号")
    assert said[-1].payload.get("request_contact") is True
    said = await wife.contact("+86 138 0000 0002")  # 李娜, household member of 3栋2单元1201
    assert "李娜" in texts(said) and "13800000002" in texts(said)
    said = await wife.press("确认提交")
    assert "验证成功" in texts(said) and "3栋2单元1201（家庭成员）" in texts(said)
    assert await bindings_of(demo_app, "wife") == [("3栋2单元1201", "member", "roster")]
    assert await require_binding_for(demo_app, "wife") is None


async def require_binding_for(app, user_id: str):
    """What `require_binding` says for a chat account (through a real context)."""
    from handlers.core.context import Context
    from handlers.core.messages import Incoming

    async with app.db.transaction() as s:
        identity = (
            await s.exec(select(ChatIdentity).where(ChatIdentity.external_user_id == user_id))
        ).first()
        person = (
            await s.get(Person, identity.person_id) if identity and identity.person_id else None
        )
        msg = Incoming(channel="console", chat_id=user_id, user_id=user_id, at=app.clock.now())
        ctx = Context(
            session=s,
            settings=app.settings,
            catalogs=app.catalogs,
            clock=app.clock,
            msg=msg,
            identity=identity or ChatIdentity(channel="console", external_user_id=user_id),
            locale="zh_CN",
            person=person,
        )
        return await require_binding(ctx)


async def test_a_typed_number_is_not_trusted_and_becomes_a_request(demo_app):
    impostor = Chat(demo_app, "impostor")
    await open_binding(impostor)
    await impostor.press("手机号")
    said = await impostor.say("13800000001")  # 张伟's number, typed
    assert "手动输入的号码无法直接验证" in texts(said) and "姓名" in texts(said)
    async with demo_app.db.transaction() as s:
        identity = (
            await s.exec(select(ChatIdentity).where(ChatIdentity.external_user_id == "impostor"))
        ).one()
        assert identity.person_id is None
    await impostor.say("张伟")
    await impostor.press("幸福里")
    await impostor.say("3栋2单元1202")
    said = await impostor.press("业主")
    assert "电话：13800000001" in texts(said)
    await impostor.press("确认提交")
    desk = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    await desk.inbox()
    await desk.press("核实通过")
    # Even approved, the chat gets the unit asked for, never 张伟's own record and units.
    li = await staff_id(demo_app, "li")
    assert await bindings_of(demo_app, "impostor") == [("3栋2单元1202", "owner", f"staff:{li}")]


async def test_a_shared_contact_not_on_the_roster_becomes_a_request_in_english(demo_app):
    guest = Chat(demo_app, "guest")
    await guest.say("/lang en")
    await open_binding(guest)
    await guest.press("phone")
    said = await guest.contact("13900000000")
    assert "not in our residents' records" in texts(said) and "your name" in texts(said)
    await guest.say("Anna Li")
    said = await guest.press("幸福里")
    assert "What is your flat" in texts(said)
    said = await guest.say("9栋9单元999")
    assert 'no flat "9栋9单元999"' in texts(said) and "What is your flat" in texts(said)
    said = await guest.say("3栋2单元1202")
    assert "How are you related" in texts(said)
    said = await guest.press("tenant")
    assert "Phone: 13900000000" in texts(said) and "Relation: tenant" in texts(said)
    said = await guest.press("Submit")
    assert "B-261126-0001" in texts(said)


# ---- a request the service desk decides ------------------------------------------------------


async def request_binding(chat: Chat, unit: str = "3栋2单元1202", relation: str = "租户") -> str:
    """Fill in the request path in Chinese; returns the ticket number."""
    await open_binding(chat)
    await chat.press("提交资料")
    await chat.say("王五")
    await chat.press("幸福里")
    await chat.say(unit)
    await chat.say("13900000001")
    said = await chat.press(relation)
    assert "王五" in texts(said) and unit in texts(said)
    said = await chat.press("确认提交")
    number = re.search(r"B-\d{6}-\d{4}", texts(said))
    assert number, texts(said)
    return number.group(0)


async def test_a_request_approved_by_the_service_desk(demo_app):
    applicant = Chat(demo_app, "applicant")
    number = await request_binding(applicant)
    desk = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    card = await desk.inbox()
    assert len(card) == 1 and number in card[0].text and "待核实" in card[0].text
    assert "139****0001" in card[0].text and "王芳（业主）、刘洋（租户）" in card[0].text
    assert await Chat(demo_app, "wang", chat_id="group:XFL:repair", kind="group").inbox() == []

    said = await desk.press("核实通过")
    assert "已通过（李敏）" in texts(said) and not said[0].buttons
    said = await applicant.inbox()
    assert "已通过" in texts(said) and "3栋2单元1202（租户）" in texts(said)
    li = await staff_id(demo_app, "li")
    assert await bindings_of(demo_app, "applicant") == [("3栋2单元1202", "tenant", f"staff:{li}")]

    supervisor = Chat(demo_app, "zhou", chat_id=SERVICE, kind="group")
    said = await supervisor.send(option=card[0].button("核实通过"))
    assert "已经处理过了" in texts(said)
    said = await supervisor.send(option=card[0].button("不通过"))
    assert "已经处理过了" in texts(said)
    assert await bindings_of(demo_app, "applicant") == [("3栋2单元1202", "tenant", f"staff:{li}")]
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket).where(Ticket.number == number))).one()
        assert ticket.status == "closed" and ticket.kind == "binding"
        events = (await s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))).all()
        assert [(e.action, e.actor) for e in events] == [
            ("created", "console:applicant"),
            ("approved", f"staff:{li}"),
        ]
        audit = (await s.exec(select(AuditLog).where(AuditLog.target == number))).all()
        assert [a.action for a in audit] == ["bind_approve"]


async def test_a_request_rejected_tells_the_resident_in_english(demo_app):
    applicant = Chat(demo_app, "applicant")
    await applicant.say("/lang en")
    await open_binding(applicant)
    await applicant.press("details")
    await applicant.say("Wang Wu")
    await applicant.press("幸福里")
    await applicant.say("3栋2单元1202")
    await applicant.say("13900000001")
    await applicant.press("household member")
    said = await applicant.press("Submit")
    assert "B-261126-0001" in texts(said)
    await open_binding(applicant)  # the same request again while waiting
    await applicant.press("details")
    await applicant.say("Wang Wu")
    await applicant.press("幸福里")
    await applicant.say("3栋2单元1202")
    await applicant.say("13900000001")
    await applicant.press("household member")
    said = await applicant.press("Submit")
    assert "already being checked" in texts(said)

    desk = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    await desk.inbox()
    said = await desk.press("不通过")
    assert "未通过（李敏）" in texts(said)
    said = await applicant.inbox()
    assert "could not verify your request B-261126-0001" in texts(said)
    assert "0571-88880000" in texts(said) and "08:30-18:00" in texts(said)
    said = await applicant.say("/units")
    assert "link your home first" in texts(said)
    async with demo_app.db.transaction() as s:
        assert (await s.exec(select(Ticket))).one().status == "closed"


async def test_only_the_service_desk_of_the_community_decides(demo_app):
    async with demo_app.db.transaction() as s:
        hyy = (await s.exec(select(Community).where(Community.code == "HYY"))).one()
        await add_staff(
            s,
            channel="console",
            user_id="hyy_desk",
            name="何敏",
            role="staff",
            department="service",
            community_id=hyy.id,
        )
    applicant = Chat(demo_app, "applicant")
    await request_binding(applicant)
    card = (await Chat(demo_app, "li", chat_id=SERVICE, kind="group").inbox())[0]
    approve = card.button("核实通过")

    said = await applicant.send(option=approve)  # a forged press by the resident
    assert "没有权限" in texts(said)
    said = await Chat(demo_app, "wang").send(option=approve)  # repair, not the desk
    assert "没有权限" in texts(said)
    said = await Chat(demo_app, "hyy_desk").send(option=approve)  # another community
    assert "没有权限" in texts(said)
    async with demo_app.db.transaction() as s:
        assert (await s.exec(select(Ticket))).one().status == "new"
        identity = (
            await s.exec(select(ChatIdentity).where(ChatIdentity.external_user_id == "applicant"))
        ).one()
        assert identity.person_id is None

    said = await Chat(demo_app, "zhou").send(option=approve)  # the supervisor may
    assert "已通过（周主管）" in texts(said)
    zhou = await staff_id(demo_app, "zhou")
    assert await bindings_of(demo_app, "applicant") == [("3栋2单元1202", "tenant", f"staff:{zhou}")]


# ---- binding first ------------------------------------------------------------------------


async def test_an_unbound_chat_is_asked_to_bind_first(demo_app):
    stranger = Chat(demo_app, "stranger")
    said = await stranger.say("/units")
    assert "先验证身份" in texts(said)
    said = await stranger.press("绑定房屋")
    assert "验证方式" in texts(said)
    assert (await require_binding_for(demo_app, "stranger")) is not None
    assert await require_binding_for(demo_app, "resident") is None


async def test_already_bound_unit_is_not_requested_again(demo_app):
    resident = Chat(demo_app, "resident")
    await open_binding(resident)
    await resident.press("提交资料")
    await resident.press("张伟")
    await resident.press("幸福里")
    said = await resident.say("3栋2单元1201")
    assert "已经绑定过 3栋2单元1201" in texts(said)


# ---- guessing codes --------------------------------------------------------------------


async def test_a_chat_that_keeps_guessing_codes_must_wait(demo_both, clock):
    demo_app = demo_both  # on SQLite and PostgreSQL
    code = await invite(demo_app, "3栋2单元1202")
    guesser = Chat(demo_app, "guesser")
    for guess in ("AAAA2222", "BBBB3333", "CCCC4444", "DDDD5555", "EEEE6666"):
        assert "没有找到" in texts(await guesser.say(f"/start {guess}"))
    said = texts(await guesser.say(f"/start {code}"))  # even a right one, for a while
    assert "15 分钟后再试" in said and "绑定成功" not in said
    clock.advance(minutes=16)
    assert "绑定成功" in texts(await guesser.say(f"/start {code}"))


async def test_a_burst_of_guesses_from_many_chats_pauses_codes_and_warns_the_desk(demo_both):
    demo_app = demo_both  # on SQLite and PostgreSQL
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await desk.inbox()
    letters = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    for n in range(30):  # thirty chats, a wrong code each
        await Chat(demo_app, f"bot{n}").say(f"/start GUESS2{letters[n]}2")
    warned = texts(await desk.inbox())
    assert "安全提醒" in warned and "30 次" in warned
    said = texts(await Chat(demo_app, "bot99").say("/start ZZZZ9999"))
    assert "繁忙" in said
    await Chat(demo_app, "bot98").say("/start ZZZZ8888")
    assert "安全提醒" not in texts(await desk.inbox())  # told once per burst
