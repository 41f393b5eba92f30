"""The daily inspection round (日常巡查) and its nonconformity slips (不合格单), as
conversations on the demo (today 2026-11-26 09:00): 李敏 ("li") of the service desk walks
the round in chat; a failed item becomes a slip in the department's group (钱阿姨, "qian",
cleaning, added here); the department answers; the follow-up check (跟进检查) reopens or
closes it; an unanswered slip climbs the ladder once the clock moves; /stats counts slips.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from dialogs.registry import all_sweeps
from handlers.core.messages import Reply
from handlers.people import add_staff
from handlers.rules import inspections as rules
from storage.models import (
    AuditLog,
    Checklist,
    Community,
    InspectionRound,
    Outbox,
    Photo,
    Ticket,
    TicketEvent,
)
from tests.harness import Chat, texts

CLEANING = "group:XFL:cleaning"
REPAIR = "group:XFL:repair"


async def add_cleaner(app: Any) -> None:
    async with app.db.transaction() as s:
        community = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        await add_staff(
            s,
            channel="console",
            user_id="qian",
            name="钱阿姨",
            department="cleaning",
            community_id=community.id,
        )


async def slips(app: Any) -> list[Ticket]:
    async with app.db.transaction() as s:
        return list(
            (
                await s.exec(
                    select(Ticket).where(Ticket.kind == "nonconformity").order_by(col(Ticket.id))
                )
            ).all()
        )


async def the_round(app: Any) -> InspectionRound:
    async with app.db.transaction() as s:
        found = (
            await s.exec(select(InspectionRound).order_by(col(InspectionRound.id).desc()))
        ).first()
    assert found is not None
    return found


def test_checklist_rules() -> None:
    areas = {"卫生": "hygiene", "设施": "facilities", "公告栏": "notice_board"}
    departments = {"清洁部": "cleaning", "维修部": "repair"}
    typed = "卫生 | 大堂干净\n\n设施｜路灯完好｜维修部\n公告栏 | 公告在有效期内 | 清洁部"
    assert rules.read_checklist(typed, areas, departments) == [
        {"area": "hygiene", "item": "大堂干净", "department": "cleaning"},
        {"area": "facilities", "item": "路灯完好", "department": "repair"},
        {"area": "notice_board", "item": "公告在有效期内", "department": "cleaning"},
    ]
    for text, reason, line in (
        ("卫生 大堂干净", "shape", 1),
        ("卫生 | 大堂\n厨房 | 灶台", "area", 2),
        ("卫生 | 大堂 | 财务部", "department", 1),
        ("卫生 | " + "很" * 101, "long", 1),
        ("  \n", "empty", 0),
    ):
        with pytest.raises(rules.ChecklistError) as error:
            rules.read_checklist(text, areas, departments)
        assert (error.value.reason, error.value.line) == (reason, line), text
    items = [{"area": "hygiene", "item": "大堂"}] * 3
    results = [{"index": 0, "result": "passed"}, {"index": 2, "result": "failed"}]
    assert rules.standing(items, results) == rules.Standing(1, 1, 1, 1)
    shown = rules.checklist_lines(
        [rules.item("facilities", "路灯", "cleaning"), rules.item("hygiene", "大堂")],
        {"facilities": "设施", "hygiene": "卫生"},
        {"cleaning": "清洁部"},
    )
    assert shown == "设施 | 路灯 | 清洁部\n卫生 | 大堂"


async def test_a_failed_item_through_slip_answer_reopen_and_confirmation(
    demo_both: Any, clock: Any
) -> None:
    await add_cleaner(demo_both)
    desk = Chat(demo_both, "li")
    cleaners = Chat(demo_both, "qian", chat_id=CLEANING, kind="group")
    await cleaners.inbox()

    said = texts(await desk.say("/inspect"))
    assert "共 10 项" in said and "第 1/10 项" in said and "大堂" in said, said
    assert "环境部（清洁）" in said  # the department answerable for hygiene
    # The lobby is dirty: a note and a photo, and the round goes on at item 2.
    await desk.press("不合格")
    await desk.say("3栋大堂地面有烟头和纸屑")
    await desk.photo("lobby-photo-1")
    said = texts(await desk.press("完成"))
    [slip] = await slips(demo_both)
    assert slip.number.startswith("N-") and slip.department == "cleaning"
    assert slip.number in said and "第 2/10 项" in said, said
    assert slip.due_at == clock.now() + timedelta(hours=48)
    card = await cleaners.inbox()
    assert len(card) == 1 and card[0].payload.get("photo") == "lobby-photo-1"
    assert "不合格单" in card[0].text and "3栋大堂地面有烟头和纸屑" in card[0].text
    assert "李敏" in card[0].text, card[0].text

    # Paused after item 2, resumed where it stood; the rest pass.
    await desk.press("合格")
    said = texts(await desk.press("暂停"))
    assert "2/10" in said
    said = texts(await desk.say("/inspect"))
    assert "继续" in said and "第 3/10 项" in said, said
    for _ in range(7):
        await desk.press("合格")
    said = texts(await desk.press("合格"))
    assert "合格：9 项" in said and "不合格：1 项" in said and slip.number in said, said
    finished = await the_round(demo_both)
    assert finished.status == "finished" and finished.finished_at == clock.now()
    assert [r["result"] for r in finished.results].count("failed") == 1

    # The cleaners take it, start and answer with a photo.
    await cleaners.press("接单")
    await cleaners.press("开始处理")
    await cleaners.press("完成")
    await cleaners.say("已清扫干净")
    await cleaners.photo("lobby-after-1")
    await cleaners.press("完成")
    said = texts(await cleaners.press("确认提交"))
    assert "跟进检查" in said, said
    check = texts(await desk.inbox())
    assert "跟进检查" in check and "已清扫干净" in check and slip.number in check, check
    supervisor = Chat(demo_both, "zhou")
    assert "跟进检查" in texts(await supervisor.inbox())  # the supervisors too

    # Still not right: back to the department with the reason and a new deadline.
    clock.advance(hours=3)
    await desk.press("仍不合格")
    said = texts(await desk.say("楼梯口仍有垃圾"))
    assert "退回" in said, said
    group = texts(await cleaners.inbox())
    assert "楼梯口仍有垃圾" in group and "退回" in group, group
    async with demo_both.db.transaction() as s:
        back = await s.get(Ticket, slip.id)
    assert back is not None and back.status == "accepted" and back.reopen_count == 1
    assert back.due_at == clock.now() + timedelta(hours=48)

    # Answered again (typed, as staff may), then confirmed by the supervisor: closed.
    await cleaners.press("开始处理")
    await cleaners.say(f"完成 {slip.number}")
    await cleaners.say("楼梯口也已清理")
    await cleaners.press("跳过")
    await cleaners.press("确认提交")
    assert "楼梯口也已清理" in texts(await supervisor.inbox())
    said = texts(await supervisor.press("确认合格"))
    assert "已关闭" in said, said
    async with demo_both.db.transaction() as s:
        closed = await s.get(Ticket, slip.id)
        events = (
            await s.exec(select(TicketEvent.action).where(TicketEvent.ticket_id == slip.id))
        ).all()
        photos = (await s.exec(select(Photo.file_ref).where(Photo.ticket_id == slip.id))).all()
    assert closed is not None and closed.status == "closed"
    assert [c["result"] for c in closed.details["checks"]] == ["not_yet", "passed"]
    assert events.count("done") == 2 and "revisit_bad" in events and "revisit_ok" in events
    assert set(photos) == {"lobby-photo-1", "lobby-after-1"}
    # The desk's own follow-up is now stale: the slip is closed.
    assert "楼梯口也已清理" in texts(await desk.inbox())
    said = texts(await desk.press("确认合格"))
    assert "现在不需要跟进检查" in said, said


async def test_an_unanswered_slip_climbs_the_ladder(demo_both: Any, clock: Any) -> None:
    desk = Chat(demo_both, "li")
    await desk.say("/inspect")
    await desk.press("合格")
    await desk.press("合格")
    await desk.press("合格")
    await desk.press("不合格")  # the lifts: repair's
    await desk.press("跳过")
    await desk.press("跳过")
    [slip] = await slips(demo_both)
    assert slip.department == "repair"
    await desk.press("结束巡查")
    finished = await the_round(demo_both)
    assert finished.status == "finished"
    assert rules.standing(finished.items, finished.results).unchecked == 6

    async def sweep() -> set[tuple[str, Any]]:
        for check in all_sweeps():
            await demo_both.engine.sweep(check)
        async with demo_both.db.transaction() as s:
            rows = (await s.exec(select(Outbox))).all()
        return {
            (row.chat_id, row.payload.get("key"))
            for row in rows
            if slip.number in str(row.payload.get("text", ""))
        }

    clock.advance(hours=40)
    assert ("group:XFL:repair", "escalation.overdue") not in await sweep()
    clock.advance(hours=12)
    steps = await sweep()
    assert ("group:XFL:repair", "escalation.overdue") in steps, steps
    clock.advance(hours=24)
    steps = await sweep()
    assert ("zhou", "escalation.supervisor") in steps, steps


async def test_who_may_inspect(demo_app: Any) -> None:
    for user in ("resident", "wang"):
        refused = await Chat(demo_app, user).say("/inspect")
        assert [s.payload.get("key") for s in refused] == ["dialog.not_allowed"], user
    said = texts(await Chat(demo_app, "zhou").say("/inspect"))
    assert "第 1/10 项" in said
    # One open round per person: the supervisor's second /inspect resumes the first.
    said = texts(await Chat(demo_app, "zhou").say("/inspect"))
    assert "继续" in said
    async with demo_app.db.transaction() as s:
        rounds = (await s.exec(select(InspectionRound))).all()
    assert len(rounds) == 1
    # Someone else's round's buttons do nothing.
    other = Chat(demo_app, "li")
    stale = await other.send(option=f"act:insp_ok:{rounds[0].id}:1")
    assert [s.payload.get("key") for s in stale] == ["dialog.stale"]


async def test_the_managers_checklist_changes_the_next_round(demo_app: Any) -> None:
    from handlers.inspections import save_checklist
    from tests.test_renovation_passes import staff_context

    typed = "卫生 | 地库无积水\n设施 | 道闸正常 | 安护部"
    async with demo_app.db.transaction() as s:
        community = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        refused = await save_checklist(await staff_context(s, demo_app, "li"), community.id, typed)
        saved = await save_checklist(await staff_context(s, demo_app, "zhou"), community.id, typed)
    assert refused == [Reply("inspect.checklist.managers_only")]
    assert [r.key for r in saved] == ["inspect.checklist.saved"]
    async with demo_app.db.transaction() as s:
        [kept] = (await s.exec(select(Checklist))).all()
        audited = (
            await s.exec(select(AuditLog).where(AuditLog.action == "inspection_checklist"))
        ).all()
    assert [i["department"] for i in kept.items] == ["cleaning", "security"]
    assert len(audited) == 1
    desk = Chat(demo_app, "li")
    shown = texts(await desk.say("/checklist"))
    assert "道闸正常" in shown and "安护部" in shown
    said = texts(await desk.say("/inspect"))
    assert "共 2 项" in said and "地库无积水" in said, said
    await desk.press("合格")
    await desk.press("不合格")
    await desk.say("道闸抬杆失灵")
    said = texts(await desk.press("跳过"))
    [slip] = await slips(demo_app)
    assert slip.department == "security" and "合格：1 项" in said


async def test_stats_count_the_slips(demo_app: Any, clock: Any) -> None:
    desk = Chat(demo_app, "li")
    await desk.say("/inspect")
    await desk.press("不合格")
    await desk.press("跳过")
    await desk.press("跳过")
    await desk.press("结束巡查")
    clock.advance(hours=60)
    said = texts(await Chat(demo_app, "zhou").say("/stats"))
    assert "不合格单：新开 1 单，关闭 0 单，目前逾期未处理 1 单" in said, said


async def test_a_round_left_open_yesterday_closes_when_todays_begins(
    demo_app: Any, clock: Any
) -> None:
    desk = Chat(demo_app, "li")
    await desk.say("/inspect")
    await desk.press("合格")
    await desk.press("暂停")
    clock.advance(hours=3)
    assert "继续" in texts(await desk.say("/inspect"))  # the same day: resumed
    clock.advance(days=1)
    said = texts(await desk.say("/inspect"))
    assert "没有结束" in said and "合格：1 项" in said and "未检查：9 项" in said, said
    assert "第 1/10 项" in said
    async with demo_app.db.transaction() as s:
        rounds = (await s.exec(select(InspectionRound).order_by(col(InspectionRound.id)))).all()
    assert [r.status for r in rounds] == ["finished", "open"]


async def test_the_desk_is_reminded_on_a_day_without_a_round(demo_app: Any, clock: Any) -> None:
    from dialogs.registry import all_jobs

    group = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    desk = Chat(demo_app, "li")
    await desk.say("/inspect")  # the community begins doing rounds (today, 09:00)
    await desk.press("暂停")
    await group.inbox()
    clock.advance(hours=7)  # 16:00: today's round was done
    await demo_app.engine.run_jobs(all_jobs())
    assert not [s for s in await group.inbox() if "/inspect" in s.text]
    clock.advance(days=1)  # the next day, 16:00: none yet
    await demo_app.engine.run_jobs(all_jobs())
    said = texts(await group.inbox())
    assert "今天还没有做日常巡查" in said, said
    clock.advance(hours=17)  # the day after, 09:00: a round before the reminder's hour
    await desk.say("/inspect")
    clock.advance(hours=7)
    await demo_app.engine.run_jobs(all_jobs())
    assert "今天还没有做日常巡查" not in texts(await group.inbox())
