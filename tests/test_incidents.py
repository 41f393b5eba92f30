"""Emergencies raised by staff (突发事件), as conversations on the demo (today 2026-11-26
09:00, a Thursday): 赵强 ("zhao") the guard, 王师傅 ("wang") repair, 李敏 ("li") the desk,
周主管 ("zhou") the supervisor, 陈主任 ("chen") the director; 张伟 ("resident") lives in
building 3, 徐丽 (given a chat here) in building 2.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from dialogs.registry import all_sweeps
from handlers.rules import incidents as rules
from storage.models import AuditLog, Incident, Outbox
from tests.conversations import chat_as
from tests.harness import Chat, texts

REPAIR = "group:XFL:repair"
SECURITY = "group:XFL:security"
SERVICE = "group:XFL:service"


async def sweep(app) -> None:
    for work in all_sweeps():
        await app.engine.sweep(work)


async def latest_incident(app) -> Incident:
    async with app.db.transaction() as s:
        found = (await s.exec(select(Incident).order_by(col(Incident.id).desc()))).first()
    assert found is not None
    return found


async def raise_lift(guard: Chat) -> list:
    said = await guard.say("/incident")
    assert "突发事件的类型" in texts(said), texts(said)
    said = await guard.press("电梯困人")
    assert "2栋" in [b["label"] for b in said[-1].buttons], said[-1].buttons
    await guard.press("2栋")
    await guard.say("2单元电梯")
    await guard.say("2单元电梯停在8、9楼之间，轿厢内2人")
    return await guard.press("跳过")


def test_the_rules():
    start = datetime(2026, 11, 27, 3, 0)
    policy = rules.IncidentPolicy()
    assert rules.reminders_due(start, start + timedelta(minutes=29), set(), policy) == []
    assert rules.reminders_due(start, start + timedelta(minutes=30), set(), policy) == [
        "supervisor"
    ]
    late = start + timedelta(minutes=70)
    assert rules.reminders_due(start, late, set(), policy) == ["supervisor", "director"]
    assert rules.reminders_due(start, late, {"supervisor", "director"}, policy) == []
    assert rules.departments_for("lift") == ("repair", "security")
    assert rules.departments_for("injury") == ("security", "service")
    assert rules.residents_urgent("gas") and not rules.residents_urgent("power")
    assert rules.missing_report_parts({"happened": "电梯困人", "losses": "无"}) == [
        "cause",
        "actions",
    ]


async def test_a_lift_entrapment_at_night_from_raising_to_the_report(demo_app, clock):
    app = demo_app
    supervisor = Chat(app, "zhou")
    director = Chat(app, "chen")
    assert "已接班" in texts(await supervisor.say("/duty"))
    building_two = await chat_as(app, "xuli", "徐丽")  # 2栋2单元1101
    building_three = Chat(app, "resident")  # 张伟, 3栋2单元1201
    await building_three.inbox()

    # 03:00, in the quiet hours: the guard on the night round finds people stuck in a lift.
    clock.advance(hours=18)
    guard = Chat(app, "zhao")
    said = await raise_lift(guard)
    number = (await latest_incident(app)).number
    assert number.startswith("E-261127-"), number
    assert number in texts(said) and "已立即通知值班主管" in texts(said), texts(said)

    # The duty supervisor and the director have it now, not at 07:00; so do the repair and
    # security groups; the desk's group does not (a lift is not theirs).
    for chat in (supervisor, director):
        card = [s for s in await chat.inbox() if s.payload.get("key") == "incident.card"]
        assert card and "电梯困人" in card[-1].text and "2栋 2单元电梯" in card[-1].text
        assert "赵强 上报" in card[-1].text, card[-1].text
    async with app.db.transaction() as s:
        rows = (
            await s.exec(select(Outbox).where(Outbox.chat_id.in_(["zhou", "chen"])))  # type: ignore[attr-defined]
        ).all()
        pushed = [r for r in rows if r.payload.get("key") == "incident.card"]
        assert pushed and all(r.urgent and r.not_before <= clock.now() for r in pushed)
    technician = Chat(app, "wang", chat_id=REPAIR, kind="group")
    guards = Chat(app, "zhao", chat_id=SECURITY, kind="group")
    desk_group = Chat(app, "li", chat_id=SERVICE, kind="group")
    assert number in texts(await technician.inbox())
    assert number in texts(await guards.inbox())
    assert number not in texts(await desk_group.inbox())
    said = await guards.press("我来处理")  # the guard in charge on site
    assert "赵强 负责处理" in texts(said), texts(said)

    # The technician arrives, notes progress and marks it under control, in the group.
    clock.advance(minutes=12)
    said = await technician.press("到场")
    assert "王师傅 已到场" in texts(said), texts(said)
    assert "王师傅 已到场" in texts(await supervisor.inbox())  # the card edited everywhere
    again = await technician.press("到场")
    assert "已记录过了" in texts(again)
    clock.advance(minutes=5)
    said = await technician.press("添加进展")
    assert "现场进展" in texts(said), texts(said)
    await technician.say("已手动盘车到9楼平层，打开轿厢门，2人安全出来")
    await technician.photo("photo-lift-1")
    said = await technician.press("完成")
    assert "2人安全出来（照片 1 张）" in texts(said), texts(said)
    said = await technician.press("已控制")
    assert "王师傅 确认已控制" in texts(said) and "状态：已控制" in texts(said), texts(said)

    # A technician may not tell the residents or close it.
    refused = await technician.press("结案")
    assert "主管、经理或客服前台" in texts(refused), texts(refused)

    # The supervisor tells building 2's residents, at once (a lift: urgent by default).
    await supervisor.inbox()
    said = await supervisor.press("通知住户")
    assert "2栋的住户" in [b["label"] for b in said[-1].buttons], said
    await supervisor.press("2栋的住户")
    said = await supervisor.say("2单元电梯故障正在抢修，请暂时走楼梯，注意安全。")
    assert said[-1].buttons[0]["label"].startswith("立即发送"), said[-1].buttons
    said = await supervisor.press("立即发送")
    assert "共 1 位住户" in texts(said), texts(said)
    said = await supervisor.press("确认提交")
    assert "已通知住户：2栋，共 1 位" in texts(said) and "正在立即发送" in texts(said)
    told = texts(await building_two.inbox())
    assert "紧急通知" in told and "请暂时走楼梯" in told, told
    assert "请暂时走楼梯" not in texts(await building_three.inbox())

    # Closing asks the short report, part by part; a part left too short is asked again.
    clock.advance(minutes=30)
    said = await supervisor.press("结案")
    assert "事件经过" in texts(said), texts(said)
    assert "请" in texts(await supervisor.say("无"))  # too short: asked again, politely
    await supervisor.say("2单元电梯停在8、9楼之间，2人被困约20分钟")
    await supervisor.say("电梯控制板故障")
    await supervisor.say("维修工盘车放人，通知维保单位更换控制板")
    summary = await supervisor.say("无人员受伤，无财产损失")
    assert "原因：电梯控制板故障" in texts(summary), texts(summary)
    said = await supervisor.press("确认提交")
    assert f"{number} 已结案" in texts(said), texts(said)

    # The report is no emergency: it waits out the night and reaches the director at seven.
    def report_of(said: list) -> list:
        return [s for s in said if s.payload.get("key") == "incident.closed.director"]

    assert not report_of(await director.inbox())
    clock.advance(hours=5)
    report = report_of(await director.inbox())
    assert report and "电梯控制板故障" in report[0].text and "周主管" in report[0].text

    incident = await latest_incident(app)
    assert incident.status == "closed" and incident.closed_by == "周主管"
    assert incident.residents_told_at is not None and "电梯控制板故障" in incident.report
    steps = [(e["step"], e["by"]) for e in incident.timeline]
    assert steps == [
        ("raised", "赵强"),
        ("taken", "赵强"),
        ("arrived", "王师傅"),
        ("progress", "王师傅"),
        ("controlled", "王师傅"),
        ("residents", "周主管"),
        ("closed", "周主管"),
    ]
    assert incident.timeline[5]["residents"] == 1 and incident.timeline[3]["photos"]
    times = [datetime.fromisoformat(e["at"]) for e in incident.timeline]
    assert times == sorted(times) and times[-1] - times[0] == timedelta(minutes=47)
    async with app.db.transaction() as s:
        audited = (await s.exec(select(AuditLog.action).where(AuditLog.target == number))).all()
    assert list(audited) == [
        "incident_raised",
        "incident_taken",
        "incident_arrived",
        "incident_progress",
        "incident_controlled",
        "incident_residents",
        "incident_closed",
    ]
    # Closed: a late press changes nothing.
    assert "已结案" in texts(await technician.press("到场"))


async def test_only_staff_raise_one_and_list_the_open_ones(demo_app):
    resident = Chat(demo_app, "resident")
    said = await resident.say("/incident")
    assert "仅限物业工作人员" in texts(said), texts(said)
    assert [s.payload["key"] for s in await resident.say("/incidents")] == ["dialog.not_allowed"]
    desk = Chat(demo_app, "li")
    assert "没有处理中的突发事件" in texts(await desk.say("/incidents"))
    async with demo_app.db.transaction() as s:
        assert (await s.exec(select(Incident))).first() is None


async def test_an_incident_nobody_controls_reminds_the_supervisor_then_the_director(
    demo_both, clock
):
    app = demo_both  # the sweep locks what it reminds of on PostgreSQL: run on both
    supervisor = Chat(app, "zhou")
    director = Chat(app, "chen")
    desk = Chat(app, "li")
    await desk.say("/incident")
    await desk.press("火警")
    await desk.say("地下车库B区")
    await desk.say("车库B区有浓烟，已疏散车库内人员")
    said = await desk.press("跳过")
    assert "经理和安护部" in texts(said), texts(said)  # a fire is the guards'
    await supervisor.inbox()
    await director.inbox()

    def reminders(said: list, who: str) -> list:
        return [s for s in said if s.payload.get("key") == f"incident.remind.{who}"]

    clock.advance(minutes=29)
    await sweep(app)
    assert not reminders(await supervisor.inbox(), "supervisor")
    clock.advance(minutes=2)
    await sweep(app)
    said = reminders(await supervisor.inbox(), "supervisor")
    assert len(said) == 1 and "31 分钟" in said[0].text and "地下车库B区" in said[0].text
    assert not reminders(await director.inbox(), "director")
    await sweep(app)  # each step once
    assert not reminders(await supervisor.inbox(), "supervisor")
    clock.advance(minutes=30)
    await sweep(app)
    said = reminders(await director.inbox(), "director")
    assert len(said) == 1 and "61 分钟" in said[0].text
    await sweep(app)
    assert not reminders(await director.inbox(), "director")
    incident = await latest_incident(app)
    assert [e.get("to") for e in incident.timeline if e["step"] == "reminded"] == [
        "supervisor",
        "director",
    ]
    # Whoever joins late finds it open, with its card and buttons.
    said = await Chat(app, "wang").say("/incidents")
    assert "处理中的突发事件 1 起" in texts(said) and incident.number in texts(said)
    assert "已再次提醒经理" in said[-1].text and "到场" in str(said[-1].buttons)


async def test_one_marked_controlled_in_time_reminds_nobody(demo_app, clock):
    app = demo_app
    guard = Chat(app, "zhao")
    await raise_lift(guard)
    await guard.press("已控制")
    supervisor = Chat(app, "zhou")
    await supervisor.inbox()
    clock.advance(hours=2)
    await sweep(app)
    assert not [
        s for s in await supervisor.inbox() if "incident.remind" in str(s.payload.get("key"))
    ]


async def test_a_power_cut_at_night_tells_the_residents_in_the_morning_by_default(demo_app, clock):
    """Residents need not be woken for a power cut: the office's default is after the quiet
    hours (the choice it may change), and the whole community is one step too."""
    app = demo_app
    clock.advance(hours=14)  # 23:00
    guard = Chat(app, "zhao")
    await guard.say("/incident")
    await guard.press("停电")
    await guard.say("小区配电房")
    await guard.say("小区整体停电，供电公司线路故障")
    await guard.press("跳过")
    supervisor = Chat(app, "zhou")
    await supervisor.inbox()
    said = await supervisor.press("通知住户")
    assert [b["label"] for b in said[-1].buttons][:1] == ["幸福里全体住户"], said[-1].buttons
    await supervisor.press("幸福里全体住户")
    said = await supervisor.say("供电公司线路故障，正在抢修，预计明早恢复。")
    assert said[-1].buttons[0]["label"].startswith("避开休息时间"), said[-1].buttons
    await supervisor.press("避开休息时间")
    said = await supervisor.press("确认提交")
    assert "将于 2026-11-27 07:00 发送" in texts(said), texts(said)
    resident, tenant = Chat(app, "resident"), Chat(app, "tenant")
    assert "正在抢修" not in texts(await resident.inbox())
    clock.advance(hours=8)
    assert "正在抢修" in texts(await resident.inbox())
    assert "正在抢修" in texts(await tenant.inbox())
    incident = await latest_incident(app)
    told = [e for e in incident.timeline if e["step"] == "residents"]
    assert told[0]["scope"] == "幸福里" and told[0]["urgent"] is False
    assert told[0]["residents"] == 2  # 张伟 and 刘洋, the demo's two residents in chat
