"""Revisits inside the seed's window: asked early, the desk phones with time left, a late
phone revisit climbs like late work, a forgotten leak test is chased, late ones counted."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from dialogs.registry import all_jobs, all_sweeps
from handlers.rules.quiet import in_quiet_hours
from handlers.rules.revisit import RevisitPolicy, plan
from storage.models import Ticket
from tests.conversations import file_repair, finish_repair, repair_group
from tests.harness import Chat, texts

TZ = ZoneInfo("Asia/Shanghai")
POLICY = RevisitPolicy()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ)  # 23 Nov 2026 is a Monday


@pytest.mark.parametrize(
    ("category", "done", "leak_test", "ask", "phone", "deadline"),
    [
        # Done Monday afternoon: asked Tuesday at ten, phoned Tuesday 16:00, by Wednesday 15:00.
        ("electrical", at(23, 15), None, at(24, 10), at(24, 16), at(25, 15)),
        ("safety", at(23, 8), None, at(24, 10), at(24, 16), at(25, 8)),
        # A leak repair's window starts at its leak test and runs 3 days.
        ("water", at(23, 9), at(23, 16), at(24, 10), at(24, 16), at(26, 16)),
        # An emergency fixed at night: asked the morning after, not the one after that.
        ("lift", at(23, 23, 30), None, at(24, 10), at(24, 16), at(25, 23, 30)),
    ],
)
def test_the_plan_asks_early_and_leaves_the_desk_time_to_call(
    category, done, leak_test, ask, phone, deadline
):
    found = plan(category, done, leak_test, POLICY, TZ)
    assert found is not None
    assert (found.ask_at, found.phone_at, found.deadline) == (ask, phone, deadline)


def test_a_leak_repair_without_its_leak_test_has_no_plan_yet():
    assert plan("water", at(23, 9), None, POLICY, TZ) is None


@pytest.mark.parametrize("days", [0.75, 1, 2, 3])
@pytest.mark.parametrize("hour", [0, 6, 9, 15, 21, 23])
def test_every_plan_fits_its_window_and_never_asks_at_night(days, hour):
    policy = RevisitPolicy(other_days=days)
    found = plan("other", at(23, hour), None, policy, TZ)
    assert found is not None
    assert at(23, hour) <= found.ask_at <= found.phone_at <= found.deadline
    assert not in_quiet_hours(found.ask_at.astimezone(TZ).time(), time(22), time(7))
    if days >= 1:  # a window of a day or more leaves the desk its call hours
        assert found.deadline - found.phone_at >= timedelta(hours=policy.call_hours)


async def run(app) -> None:
    await app.engine.run_jobs(all_jobs())
    for check in all_sweeps():
        await app.engine.sweep(check)


async def about_revisits(chat: Chat) -> str:
    """What reached a chat about revisits and deadlines (the daily arrears round aside)."""
    found = await chat.inbox()
    return texts([s for s in found if s.payload["key"].startswith(("revisit", "escalation"))])


async def the_ticket(app) -> Ticket:
    async with app.db.transaction() as s:
        return (await s.exec(select(Ticket))).one()


async def test_an_unanswered_revisit_is_phoned_in_time_and_a_late_one_climbs(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)  # Thursday 26 Nov 09:00, 客厅插座没电
    await finish_repair(demo_app)  # done at once: the window ends Saturday 09:00
    await resident.inbox()
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    zhou = Chat(demo_app, "zhou")
    await desk.inbox(), await zhou.inbox()

    clock.set(at(27, 10, 1))  # Friday at ten: the resident is asked
    await run(demo_app)
    assert "回访" in texts(await resident.inbox())
    assert await about_revisits(desk) == ""
    clock.set(at(27, 16, 1))  # no answer by 16:00: the desk phones, with the window's end
    await run(demo_app)
    said = await about_revisits(desk)
    assert "电话回访" in said and "2026-11-28 09:00" in said

    clock.set(at(28, 7, 1))  # two hours before the end, nobody took it: a reminder
    await run(demo_app)
    assert "回访即将超时" in await about_revisits(desk)
    clock.set(at(28, 9, 1))  # the window is over
    await run(demo_app)
    assert "回访超时" in await about_revisits(desk)
    clock.set(at(28, 13, 1))  # four hours on: the supervisor
    await run(demo_app)
    assert "回访超时升级" in texts(await zhou.inbox())

    # Done at last, by phone: kept, and counted as late, not within the window.
    ticket = await the_ticket(demo_app)
    await desk.send(option=f"act:rv_take:{ticket.id}")
    li = Chat(demo_app, "li")
    await li.inbox()
    await li.press("记录回访结果")
    await li.press("4 分")
    await li.press("解决了")
    await li.press("跳过")
    await li.press("确认提交")
    ticket = await the_ticket(demo_app)
    assert ticket.status == "closed" and ticket.details["revisit"]["late"] == 1
    said = texts(await zhou.say("/stats"))
    assert "回访率（期限内完成）：0%（0/1）" in said
    assert "逾期回访：1 单（超期才回访 1，超期未回访 0）" in said


async def test_a_revisit_window_that_ends_with_none_done_counts_as_late(demo_app, clock):
    await file_repair(Chat(demo_app, "resident"))
    await finish_repair(demo_app)
    clock.set(at(28, 9, 1))
    said = texts(await Chat(demo_app, "zhou").say("/stats"))
    assert "逾期回访：1 单（超期才回访 0，超期未回访 1）" in said


async def test_a_forgotten_leak_test_is_chased_and_the_revisit_follows_it(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await file_repair(resident, "水管/漏水", "卫生间下水管接口漏水")  # urgent, not an emergency
    await finish_repair(demo_app)  # Thursday 09:00; the leak test is due Friday 09:00
    wang, group, zhou = (
        Chat(demo_app, "wang"),
        repair_group(demo_app, "wang"),
        Chat(demo_app, "zhou"),
    )
    await wang.inbox(), await group.inbox(), await zhou.inbox()

    clock.set(at(27, 7, 1))
    await run(demo_app)
    assert "试漏提醒" in texts(await wang.inbox())  # the technician who did it, in private
    clock.set(at(27, 9, 1))
    await run(demo_app)
    assert "试漏超时" in texts(await group.inbox())
    clock.set(at(27, 13, 1))
    await run(demo_app)
    assert "试漏超时升级" in texts(await zhou.inbox())

    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
    said = await group.send(option=f"act:t_leak:{ticket.id}")
    assert "2026-11-30 13:01" in texts(said)  # three days after the leak test
    clock.set(at(28, 10, 1))
    await run(demo_app)
    assert "回访" in texts(await resident.inbox())


async def test_a_reworked_repair_is_asked_again_after_it_is_finished_again(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    await finish_repair(demo_app)
    clock.set(at(27, 10, 1))
    await run(demo_app)
    prompt = [s for s in await resident.inbox() if s.buttons][-1]
    await resident.send(option=prompt.button("开始回访"))
    await resident.press("1 分")
    await resident.press("没有解决")
    await resident.press("跳过")
    await resident.press("确认提交")  # rework: back to the technician
    group = repair_group(demo_app, "wang")
    await group.inbox()
    ticket = await the_ticket(demo_app)
    await group.send(option=f"act:t_start:{ticket.id}")
    await finish_repair_again(demo_app, ticket.id)
    clock.set(at(28, 10, 1))  # the next morning: asked once more, as a new revisit
    await run(demo_app)
    assert "回访" in texts(await resident.inbox())


async def finish_repair_again(app, ticket_id: int) -> None:
    group = repair_group(app, "wang")
    await group.send(option=f"flow:task_done:{ticket_id}")
    await group.say("重新更换了插座")
    await group.press("跳过")
    await group.say("0")
    await group.press("确认提交")
