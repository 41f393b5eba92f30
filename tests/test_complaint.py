"""Complaints (投诉): whole conversations, who is told and when, staff confirming the proposal."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from handlers.core.i18n import Catalogs
from handlers.rules.complaint import classify, deadlines, department_for, hits
from handlers.rules.urgency import EMERGENCIES, IGNORE, NOT_NOW, URGENT, urgency
from storage.models import AuditLog, Outbox, StaffMember, Ticket, TicketEvent
from tests.harness import Chat, texts

SHANGHAI = ZoneInfo("Asia/Shanghai")
THURSDAY = date(2026, 11, 26)  # the demo clock's day, 09:00 local

WORDS = {
    "major": {"着火", "煤气味", "困电梯", "受伤", "gas smell"},
    "important": {"态度", "乱收费", "rude"},
    "valid": {"保安", "收费", "staff"},
    "help_seeking": {"帮忙", "能不能", "please help"},
    "inquiry": {"为什么", "why"},
    "venting": {"气死", "受够", "fed up"},
}


# ---- the rules ------------------------------------------------------------------------


def emergency_words() -> dict[str, set[str]]:
    catalogs = Catalogs.load("zh_CN", SHANGHAI)
    kinds = (*EMERGENCIES, NOT_NOW, URGENT, IGNORE)
    return {kind: catalogs.words(f"emergency.words.{kind}") for kind in kinds}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("楼上装修太吵了", ("valid", "minor", False)),
        ("楼道里有煤气味，好吓人", ("valid", "major", True)),
        ("天花板一直在漏水", ("valid", "important", True)),
        ("保安态度很差", ("valid", "important", False)),
        ("能不能帮忙把楼道灯修一下", ("help_seeking", "minor", False)),
        ("为什么又停水了", ("inquiry", "minor", False)),
        ("气死了，受够了", ("venting", "minor", False)),
        ("The guard was rude to my mother", ("valid", "important", False)),
        ("Why is there a gas smell in the lobby?", ("inquiry", "major", True)),
        ("I'm fed up, please help", ("help_seeking", "minor", False)),
    ],
)
def test_classify_proposes_kind_severity_and_urgency(text, expected):
    # Urgency is decided once, by the urgency rule over the catalogs' words.
    urgent = urgency("", text, emergency_words()).urgent
    assert tuple(classify(text, WORDS, urgent)) == expected


def test_english_words_match_whole_words_with_endings():
    words = {"major": {"sue"}}
    assert classify("there is an issue with the bill", words, False).severity == "minor"
    assert hits("the pipe is leaking", {"leak"}) == 1


def test_department_from_words_else_service_desk():
    words = {"security": {"保安", "guard"}, "cleaning": {"垃圾"}}
    assert department_for("东门的保安", words) == "security"
    assert department_for("the guard at the gate", words) == "security"
    assert department_for("楼上太吵", words) == "service"


def test_deadlines_follow_the_office_rules():
    created = datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)
    major = deadlines("major", created, None, SHANGHAI)
    assert major.escalate_by == datetime(2026, 11, 26, 23, 59, tzinfo=SHANGHAI)
    assert major.answer_by == created + timedelta(days=2)
    assert major.solve_by == created + timedelta(days=10)
    important = deadlines("important", created, None, SHANGHAI)
    assert important.escalate_by == created + timedelta(hours=1)
    assert important.solve_by == created + timedelta(days=3)
    minor = deadlines("minor", created, None, SHANGHAI)
    assert minor.escalate_by is None and minor.solve_by == created + timedelta(days=2)
    own = deadlines("minor", created, date(2026, 12, 5), SHANGHAI)
    assert own.solve_by == datetime(2026, 12, 5, 23, 59, tzinfo=SHANGHAI)
    # The resident's own date is for minor complaints; major ones keep the office's rule.
    assert deadlines("major", created, date(2026, 11, 27), SHANGHAI).solve_by == major.solve_by


# The resident's own date is read by handlers/rules/dates.py: see tests/test_dates.py.


# ---- conversations -------------------------------------------------------------------


async def complaint_ticket(app) -> Ticket:
    async with app.db.transaction() as s:
        return (await s.exec(select(Ticket).where(Ticket.kind == "complaint"))).one()


async def file_noise_complaint(resident: Chat) -> list:
    """A minor complaint in Chinese, typed at the menu, with the resident's own date."""
    said = await resident.say("楼上装修太吵了")
    assert "什么时候发生的" in texts(said)  # "what happened" is already filled in
    await resident.press("之前")
    said = await resident.say("3栋2单元1301")
    assert "哪个部门" in texts(said)
    await resident.press("其他")
    await resident.say("希望晚上十点以后不要再施工")
    said = await resident.press("跳过")
    assert "哪天之前解决" in texts(said)
    said = await resident.say("11/20")
    assert "已经过去了" in texts(said) and "哪天之前解决" in texts(said)
    said = await resident.say("某天")
    assert "没能看懂「某天」" in texts(said)
    await resident.say("下周一")
    await resident.press("张伟")
    said = await resident.press("13800000001")
    summary = texts(said)
    assert "楼上装修太吵了" in summary and "2026年11月30日" in summary
    assert "3栋2单元1301" in summary and "希望晚上十点以后不要再施工" in summary
    return await resident.press("确认提交")


async def test_the_deadline_examples_are_computed_from_today(demo_app, clock):
    """The examples are a week ahead of the office's today, never a date fixed in the text."""
    clock.set(datetime(2026, 12, 30, 17, 0, tzinfo=ZoneInfo("UTC")))  # 31 Dec in Shanghai
    resident = Chat(demo_app, "resident")
    await resident.say("楼上装修太吵了")
    await resident.press("之前")
    await resident.say("3栋2单元1301")
    await resident.press("其他")
    await resident.say("希望晚上十点以后不要再施工")
    said = await resident.press("跳过")
    assert "例如「2027-01-07」「1/7」「明天」" in texts(said)
    said = await resident.say("过几天")
    assert "没能看懂「过几天」是哪一天" in texts(said) and "「2027-01-07」「1/7」" in texts(said)
    await resident.say("下个月5号之前")
    await resident.press("张伟")
    said = await resident.press("13800000001")
    assert "2027年1月5日" in texts(said)

    await resident.say("/lang en")
    await resident.say("back")  # the phone
    await resident.say("back")  # the name
    said = await resident.say("back")
    assert 'For example "2027-01-07", "1/7", "tomorrow"' in texts(said)
    said = await resident.say("by the weekend")  # Friday 1 January
    assert "May I have your name" in texts(said)


async def test_minor_complaint_uses_the_residents_own_date(demo_app):
    resident = Chat(demo_app, "resident")
    said = await file_noise_complaint(resident)
    reply = texts(said)
    assert "感谢您的反馈" in reply and "歉意" in reply and "C-261126-0001" in reply
    assert "客服中心的同事会在 2026-11-30 23:59 前与您联系" in reply
    ticket = await complaint_ticket(demo_app)
    assert ticket.department == "service" and ticket.urgent is False
    assert ticket.details["severity"] == "minor" and ticket.details["kind"] == "valid"
    assert ticket.details["own_deadline"] == "2026-11-30"
    assert ticket.due_at == datetime(2026, 11, 30, 23, 59, tzinfo=SHANGHAI)

    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    card = texts(await desk.inbox())
    assert "【投诉】C-261126-0001" in card and "系统建议，待确认" in card
    assert "138****0001" in card and "13800000001" not in card
    assert "✓ 程度：轻微" in [b["label"] for b in desk.keyboard.buttons]
    # A minor complaint stays with the desk: no supervisor, no director.
    assert await Chat(demo_app, "zhou").inbox() == []
    assert await Chat(demo_app, "chen").inbox() == []


async def test_urgent_leak_is_pushed_at_once_to_the_group_and_the_supervisor(demo_app, clock):
    clock.set(datetime(2026, 11, 26, 23, 30, tzinfo=SHANGHAI))  # quiet hours
    resident = Chat(demo_app, "resident")
    await resident.say("/complaint")
    await resident.say("楼上漏水，水一直往我家天花板滴，找了好几次没人管")
    await resident.press("刚刚")
    await resident.press("3栋2单元1201")
    await resident.press("维修部")
    await resident.press("尽快")
    await resident.photo("ceiling.jpg")
    await resident.press("完成")
    await resident.press("跳过")
    await resident.press("张伟")
    await resident.press("13800000001")
    said = await resident.press("确认提交")
    reply = texts(said)
    assert "情况紧急" in reply and "维修部" in reply and "C-261126-0001" in reply

    ticket = await complaint_ticket(demo_app)
    assert ticket.urgent and ticket.department == "repair"
    assert ticket.details["severity"] == "important" and ticket.details["photos"] == ["ceiling.jpg"]
    async with demo_app.db.transaction() as s:
        pushes = (
            await s.exec(
                select(Outbox).where(col(Outbox.payload)["key"].as_string() == "complaint.card")
            )
        ).all()
    assert {p.chat_id for p in pushes} == {"group:XFL:repair", "group:XFL:service", "zhou"}
    assert all(p.urgent and p.not_before == clock.now() for p in pushes)  # not held till morning

    repair_group = await Chat(demo_app, "wang", chat_id="group:XFL:repair", kind="group").inbox()
    assert "⚠紧急" in texts(repair_group) and repair_group[0].payload["photo"] == "ceiling.jpg"
    assert repair_group[0].buttons == []  # the desk classifies, the repair group acts
    supervisor = await Chat(demo_app, "zhou").inbox()
    assert "C-261126-0001" in texts(supervisor) and supervisor[0].buttons
    assert await Chat(demo_app, "chen").inbox() == []  # not major: the director is not woken


async def test_major_complaint_reaches_the_director_in_english(demo_app):
    resident = Chat(demo_app, "resident")
    await resident.say("/lang en")
    said = await resident.say("/complaint")
    assert "What happened?" in texts(said)
    await resident.say("There is a strong gas smell in the stairwell and nobody came")
    await resident.press("Just now")
    said = await resident.say("stairwell of building 3, entrance 2")
    assert "Which department" in texts(said)
    await resident.say("the guard I told at the gate")
    said = await resident.say("Send someone now and tell me what it was")
    assert "photos" in texts(said)
    await resident.press("Skip")
    await resident.press("Skip")
    await resident.press("张伟")
    said = await resident.say("139 1234 5678")
    assert "Solved by: no particular date" in texts(said)
    said = await resident.press("Submit")
    reply = texts(said)
    assert "This is urgent" in reply and "Security (guards)" in reply
    assert "The office director has been told" in reply
    # Damage now: a call back within 30 minutes; solved within the 10 days of a major one.
    assert "within 30 minutes (by 2026-11-26 09:30)" in reply and "2026-12-06 09:00" in reply

    ticket = await complaint_ticket(demo_app)
    assert ticket.details["severity"] == "major" and ticket.department == "security"
    assert ticket.contact_phone == "13912345678"
    assert ticket.due_at == datetime(2026, 12, 6, 9, 0, tzinfo=SHANGHAI)
    director = texts(await Chat(demo_app, "chen").inbox())
    assert (
        "C-261126-0001" in director
        and "重大" in director
        and "上报期限：2026-11-26 23:59" in director
    )
    assert "C-261126-0001" in texts(await Chat(demo_app, "zhou").inbox())


async def test_staff_confirm_kind_and_change_severity(demo_app):
    resident = Chat(demo_app, "resident")
    await file_noise_complaint(resident)
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await desk.inbox()
    said = await desk.press("类型：有效投诉")
    assert "李敏 已将投诉 C-261126-0001 定为「有效投诉」" in texts(said)
    assert "有效投诉（已确认）" in texts(said)
    said = await desk.press("程度：重大")
    assert "定为「重大」" in texts(said) and "重大（已确认）" in texts(said)

    ticket = await complaint_ticket(demo_app)
    assert ticket.details["severity"] == "major"
    assert ticket.details["confirmed"] == ["kind", "severity"]
    created = ticket.created_at
    assert ticket.due_at == created + timedelta(days=10)  # the major rule replaces her date
    async with demo_app.db.transaction() as s:
        events = (await s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))).all()
        audits = (await s.exec(select(AuditLog))).all()
    changes = [(e.action, e.data) for e in events if e.action.startswith("complaint_")]
    assert changes == [
        ("complaint_kind", {"from": "valid", "to": "valid"}),
        ("complaint_severity", {"from": "minor", "to": "major"}),
    ]
    assert [(a.action, a.target) for a in audits][-2:] == [
        ("complaint_kind", "C-261126-0001"),
        ("complaint_severity", "C-261126-0001"),
    ]
    # Raised to major: now the supervisor and the director have the card too.
    assert "重大" in texts(await Chat(demo_app, "chen").inbox())
    assert "C-261126-0001" in texts(await Chat(demo_app, "zhou").inbox())


async def test_residents_and_other_departments_cannot_classify(demo_app):
    resident = Chat(demo_app, "resident")
    await file_noise_complaint(resident)
    ticket = await complaint_ticket(demo_app)
    said = await resident.send(option=f"act:cmp_sev:{ticket.id}:major")
    assert "没有权限" in texts(said)
    said = await resident.send(option=f"act:cmp_kind:{ticket.id}:venting")
    assert "没有权限" in texts(said)
    technician = Chat(demo_app, "wang", chat_id="group:XFL:repair", kind="group")
    said = await technician.send(option=f"act:cmp_sev:{ticket.id}:minor")
    assert "没有权限" in texts(said)
    said = await technician.send(option=f"act:cmp_sev:{ticket.id}:enormous")
    assert "失效" in texts(said)
    supervisor = Chat(demo_app, "zhou")
    said = await supervisor.send(option=f"act:cmp_kind:{ticket.id}:help_seeking")
    assert "求助型" in texts(said)

    after = await complaint_ticket(demo_app)
    assert after.details["severity"] == "minor" and after.details["kind"] == "help_seeking"
    async with demo_app.db.transaction() as s:
        audits = (
            await s.exec(select(AuditLog).where(col(AuditLog.action).startswith("complaint_")))
        ).all()
        zhou = (
            await s.exec(
                select(StaffMember).where(
                    StaffMember.channel == "console", StaffMember.external_user_id == "zhou"
                )
            )
        ).one()
    assert [a.actor for a in audits] == [f"staff:{zhou.id}"]


async def test_back_and_bad_input_keep_earlier_answers(demo_app):
    resident = Chat(demo_app, "resident")
    await resident.say("/complaint")
    said = await resident.say("x")
    assert "请再说一下" in texts(said)
    await resident.say("东门保安不让外卖进来还骂人")
    await resident.press("今天")
    await resident.say("东门")
    said = await resident.say("返回")
    assert "在哪里发生的" in texts(said)
    await resident.say("小区东门")
    await resident.press("其他")
    await resident.press("道歉")
    await resident.press("跳过")
    said = await resident.say("2030-01-01")
    assert "太远" in texts(said)
    await resident.say("3天内")
    await resident.press("张伟")
    said = await resident.press("13800000001")
    assert "小区东门" in texts(said) and "2026年11月29日" in texts(said)
    said = await resident.press("确认提交")
    assert "安护部（保安）的同事会在" in texts(said)  # "保安" named the department
    ticket = await complaint_ticket(demo_app)
    assert ticket.department == "security" and ticket.details["severity"] == "important"
