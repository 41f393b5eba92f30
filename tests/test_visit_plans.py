"""The supervisor's visit plan (走访计划) as conversations: 周主管 plans three visits for 李敏,
each becomes a `V-…` ticket with its card in the service desk's group; 李敏 records the
results from the cards (one needs a follow-up, which opens a `T-…` task for the repair
group); the plan's progress, the unit's page, a late visit escalating, and who may plan.

The demo (today 2026-11-26 09:00, a Thursday): 周主管 ("zhou") supervisor, 李敏 ("li") the
service desk, 张伟 ("resident") owns 3栋2单元1201.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from dialogs.registry import all_sweeps
from handlers.rules import visit_plans as rules
from storage.models import StaffMember, Ticket, Unit, VisitPlan
from tests.harness import Chat, Said, texts
from tests.webdesk import serving, sign_in

SERVICE = "group:XFL:service"
REPAIR = "group:XFL:repair"
TZ = ZoneInfo("Asia/Shanghai")


def test_reading_units_and_days():
    found = rules.read_targets("2-1-802，3栋2单元1201 1-1-101、3栋")
    assert [t.text for t in found] == ["2-1-802", "3栋2单元1201", "1-1-101", "3栋"]
    assert [t.whole_building for t in found] == [False, False, False, True]
    assert rules.read_targets("2栋1单元 802") == [rules.Target("2栋1单元 802")]
    assert rules.building_of("３号楼") == "3" and rules.building_of("3栋2单元") is None
    today = date(2026, 11, 26)
    assert rules.read_window("12月1日至12月3日", today) == (date(2026, 12, 1), date(2026, 12, 3))
    assert rules.read_window("明天", today) == (date(2026, 11, 27), date(2026, 11, 27))
    for typed, reason in (
        ("11月1日", "past"),
        ("12月3日至12月1日", "backwards"),
        ("随便", "unclear"),
        ("12月1日至2027年3月1日", "too_long"),
    ):
        try:
            rules.read_window(typed, today)
        except rules.WindowError as error:
            assert error.reason == reason, typed
        else:
            raise AssertionError(typed)
    due = rules.visit_due(date(2026, 12, 3), TZ)
    now = datetime(2026, 12, 4, 9, 0, tzinfo=TZ)
    shown = rules.progress(
        [("done", due, now), ("new", due, None), ("done", due, due), ("cancelled", due, None)],
        now,
    )
    assert (shown.done, shown.done_late, shown.late, shown.due, shown.closed) == (2, 1, 1, 0, 1)
    assert not shown.finished


async def make_plan(supervisor: Chat, units: str, days: str = "12月1日至12月3日") -> list[Said]:
    said = await supervisor.say("/visitplan")
    assert "标题" in texts(said), texts(said)
    await supervisor.say("冬季供暖走访")
    await supervisor.say("了解供暖和门窗保温情况")
    said = await supervisor.say(units)
    assert "日期" in texts(said), texts(said)
    await supervisor.say(days)
    await supervisor.press("上门走访")
    summary = await supervisor.press("李敏")
    assert "共 3 户" in texts(summary) or "（共" in texts(summary), texts(summary)
    return await supervisor.press("确认提交")


def cards_by_number(said: list[Said]) -> dict[str, Said]:
    found: dict[str, Said] = {}
    for message in said:
        if message.payload.get("key") == "visitplan.card":
            found[message.text.split(" ·")[0].split("】")[1]] = message
    return found


async def record(desk: Chat, card: Said, *answers: tuple[str, str]) -> list[Said]:
    await desk.send(option=card.button("记录结果"))
    said: list[Said] = []
    for how, what in answers:
        said = await (desk.press(what) if how == "press" else desk.say(what))
    return said


async def test_a_plan_of_three_visits_recorded_with_a_follow_up(demo_app, clock):
    app = demo_app
    supervisor = Chat(app, "zhou")
    desk = Chat(app, "li", chat_id=SERVICE, kind="group")
    li = Chat(app, "li")
    repair = Chat(app, "wang", chat_id=REPAIR, kind="group")
    await desk.inbox()
    await repair.inbox()

    # A unit the community does not have is refused with the nearest ones.
    await supervisor.say("/visitplan")
    await supervisor.say("冬季供暖走访")
    await supervisor.press("跳过")
    said = await supervisor.say("2-1-809")
    assert "没有找到「2-1-809」" in texts(said) and "2栋1单元802" in texts(said), texts(said)
    await supervisor.say("/cancel")

    made = await make_plan(supervisor, "2-1-802，3栋2单元1201 1-1-101")
    assert "共 3 户" in texts(made) and "李敏" in texts(made), texts(made)
    async with app.db.transaction() as s:
        visits = (
            await s.exec(select(Ticket).where(Ticket.kind == "visit").order_by(col(Ticket.id)))
        ).all()
        li_record = (
            await s.exec(
                select(StaffMember).where(
                    StaffMember.external_user_id == "li", StaffMember.channel == "console"
                )
            )
        ).one()
        [plan] = (await s.exec(select(VisitPlan))).all()
    assert [v.number[:2] for v in visits] == ["V-"] * 3
    assert {v.assignee_id for v in visits} == {li_record.id}
    assert all(v.due_at == datetime(2026, 12, 3, 23, 59, tzinfo=TZ) for v in visits)
    assert visits[1].contact_name == "张伟" and visits[0].details["how"] == "visit"
    assert plan.title == "冬季供暖走访" and plan.status == "open"

    told = texts(await li.inbox())
    assert "2栋1单元802" in told and "张伟 13800000001" in told, told
    cards = cards_by_number(await desk.inbox())
    assert set(cards) == {v.number for v in visits}
    assert "138****0001" in cards[visits[1].number].text  # the group sees a masked phone

    # Repair staff cannot record a visit; the desk can.
    wang = Chat(app, "wang")
    refused = await wang.send(option=cards[visits[0].number].button("记录结果"))
    assert "权限" in texts(refused), texts(refused)

    first = await record(
        desk,
        cards[visits[0].number],
        ("say", "希望小区多种些树"),
        ("say", "已转告绿化部门"),
        ("press", "满意"),
        ("press", "确认提交"),
    )
    assert "已记录" in texts(first), texts(first)
    await record(
        desk,
        cards[visits[1].number],
        ("press", "无意见"),
        ("press", "跳过"),
        ("press", "不满意"),
        ("press", "确认提交"),
    )
    summary = await record(
        desk,
        cards[visits[2].number],
        ("say", "卫生间墙面渗水"),
        ("say", "已答复会安排师傅查看"),
        ("press", "需要跟进"),
        ("press", "维修部"),
    )
    assert "跟进部门：维修部" in texts(summary), texts(summary)
    last = await desk.press("确认提交")
    assert "跟进单 T-" in texts(last) or "已生成跟进单 T-" in texts(last), texts(last)

    async with app.db.transaction() as s:
        visits = (
            await s.exec(select(Ticket).where(Ticket.kind == "visit").order_by(col(Ticket.id)))
        ).all()
        [task] = (await s.exec(select(Ticket).where(Ticket.kind == "task"))).all()
        plan = (await s.exec(select(VisitPlan))).one()
    assert [v.status for v in visits] == ["done"] * 3
    assert [v.details["result"]["outcome"] for v in visits] == [
        "satisfied",
        "unsatisfied",
        "follow_up",
    ]
    assert visits[0].details["result"]["opinions"] == "希望小区多种些树"
    assert task.department == "repair" and task.unit_id == visits[2].unit_id
    assert task.details == {"visit": visits[2].id} and "卫生间墙面渗水" in task.description
    assert visits[2].details["result"]["followup"] == task.number
    assert task.number in texts(await repair.inbox())
    assert plan.status == "done"
    assert "已全部走访完毕" in texts(await supervisor.inbox())

    # A visit recorded twice is refused (a stale card).
    again = await desk.send(option=cards[visits[0].number].button("记录结果"))
    assert "已经记录过结果" in texts(again), texts(again)

    progress = await supervisor.say("/visitplans")
    assert "已完成 3/3" in texts(progress), texts(progress)

    # The unit's page lists the visit with its result.
    async with serving(app) as client:
        await sign_in(client, "desk")
        page = await (await client.get(f"/desk/units/{visits[0].unit_id}")).text()
    assert visits[0].number in page and "希望小区多种些树" in page and "满意" in page, page


async def test_a_whole_building_late_visits_escalate_and_who_may_plan(demo_app, clock):
    app = demo_app
    supervisor = Chat(app, "zhou")
    said = await Chat(app, "li").say("/visitplan")
    assert "权限" in texts(said), texts(said)
    said = await Chat(app, "resident").say("/visitplan")
    assert "权限" in texts(said) and "标题" not in texts(said), texts(said)
    said = await Chat(app, "resident").say("/visitplans")
    assert "权限" in texts(said), texts(said)

    await supervisor.say("/visitplan")
    await supervisor.say("电梯使用情况电话回访")
    await supervisor.press("跳过")
    await supervisor.say("3栋")
    await supervisor.press("明天")
    await supervisor.press("电话访问")
    summary = await supervisor.press("我本人")
    assert "共 4 户" in texts(summary) and "3栋1单元501" in texts(summary), texts(summary)
    made = await supervisor.press("确认提交")
    assert "您的走访清单" in texts(made) and "3栋2单元1202" in texts(made), texts(made)
    async with app.db.transaction() as s:
        visits = (await s.exec(select(Ticket).where(Ticket.kind == "visit"))).all()
        units = (
            await s.exec(
                select(Unit).where(
                    col(Unit.label).startswith("3栋"),
                    Unit.community_id == visits[0].community_id,
                )
            )
        ).all()
    assert {v.unit_id for v in visits} == {u.id for u in units}
    assert all(v.due_at == datetime(2026, 11, 27, 23, 59, tzinfo=TZ) for v in visits)

    # Past their day with no result, the visits climb the ladder as any late ticket does.
    director = Chat(app, "chen")
    await director.inbox()
    clock.advance(days=2)
    for check in all_sweeps():
        await app.engine.sweep(check)
    overdue = texts(await Chat(app, "li", chat_id=SERVICE, kind="group").inbox())
    assert any(v.number in overdue for v in visits), overdue
    progress = await supervisor.say("/visitplans")
    assert "逾期 4" in texts(progress), texts(progress)
