"""Deadlines climb the ladder as the clock moves: warning, group, supervisor, director."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from dialogs.registry import all_sweeps
from handlers.rules.escalation import Ladder, steps_due
from storage.models import Ticket, TicketEvent
from tests.conversations import file_repair
from tests.harness import Chat, texts


def test_ladder_steps_come_in_order_each_once():
    created = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    due = created + timedelta(hours=24)
    ladder = Ladder(warning=2, supervisor=4, director=20)
    assert steps_due(ladder, created, due, due - timedelta(hours=3), []) == []
    assert steps_due(ladder, created, due, due - timedelta(hours=2), []) == ["warning"]
    assert steps_due(ladder, created, due, due, ["warning"]) == ["group"]
    late = due + timedelta(hours=30)
    assert steps_due(ladder, created, due, late, ["warning"]) == ["group", "supervisor", "director"]
    # a short window never warns before a quarter of it is left
    short = created + timedelta(hours=4)
    assert steps_due(ladder, created, short, created + timedelta(hours=2), []) == []
    assert steps_due(ladder, created, short, created + timedelta(hours=3), []) == ["warning"]


async def sweep(app) -> None:
    for check in all_sweeps():
        await app.engine.sweep(check)


async def test_a_late_repair_climbs_step_by_step(demo_app, clock):
    await file_repair(Chat(demo_app, "resident"))  # electrical: 24 hours to finish
    group = Chat(demo_app, "wang", chat_id="group:XFL:repair", kind="group")
    await group.inbox()
    await group.press("接单")
    wang, zhou, chen = Chat(demo_app, "wang"), Chat(demo_app, "zhou"), Chat(demo_app, "chen")
    await wang.inbox()

    clock.advance(hours=21)  # 3 hours before the deadline
    await sweep(demo_app)
    assert await wang.inbox() == []
    clock.advance(hours=1, minutes=1)
    await sweep(demo_app)
    assert "即将超时" in texts(await wang.inbox())
    await sweep(demo_app)
    assert await wang.inbox() == []  # once only
    clock.advance(hours=2)
    await sweep(demo_app)
    assert "已超时" in texts(await group.inbox())
    assert await zhou.inbox() == []
    clock.advance(hours=4)
    await sweep(demo_app)
    assert "请主管跟进" in texts(await zhou.inbox())
    clock.advance(hours=20)
    await sweep(demo_app)
    assert "请主任关注" in texts(await chen.inbox())
    async with demo_app.db.transaction() as s:
        steps = (await s.exec(select(TicketEvent).where(TicketEvent.action == "escalated"))).all()
    assert [e.data["step"] for e in steps] == ["warning", "group", "supervisor", "director"]


async def test_finished_tickets_stop_climbing(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    await resident.say("/my")
    await resident.press("R-261126-0001")
    await resident.press("取消工单")
    clock.advance(days=3)
    await sweep(demo_app)
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
        assert "escalated" not in ticket.details


async def file_complaint(app, severity: str) -> Ticket:
    """The demo resident's noise complaint (minor, own date 2026-11-30), then the desk sets
    the severity with the card's button, as a supervisor would confirm it."""
    from tests.test_complaint import file_noise_complaint

    await file_noise_complaint(Chat(app, "resident"))
    async with app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
    if severity != "minor":
        desk = Chat(app, "li", chat_id="group:XFL:service", kind="group")
        await desk.send(option=f"act:cmp_sev:{ticket.id}:{severity}")
    async with app.db.transaction() as s:
        return (await s.exec(select(Ticket))).one()


async def climb(app, clock, until, who: Chat, marker: str) -> None:
    """Move the clock to `until`, sweep, and check `who` was told (once)."""
    clock.set(until)
    await sweep(app)
    assert marker in texts(await who.inbox())


async def test_minor_complaint_climbs_from_the_residents_own_date(demo_app, clock):
    ticket = await file_complaint(demo_app, "minor")
    due = ticket.due_at
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    zhou, chen = Chat(demo_app, "zhou"), Chat(demo_app, "chen")
    await desk.inbox(), await zhou.inbox(), await chen.inbox()
    await climb(demo_app, clock, due - timedelta(hours=2), desk, "即将超时")
    # Due at 23:59, inside the quiet hours: not urgent, so the group hears at 07:00.
    clock.set(due)
    await sweep(demo_app)
    assert await desk.inbox() == []
    clock.set(due + timedelta(hours=3))
    await sweep(demo_app)
    assert await desk.inbox() == [] and await zhou.inbox() == []
    await climb(demo_app, clock, due + timedelta(hours=7, minutes=2), desk, "已超时")
    assert "请主管跟进" in texts(await zhou.inbox())  # 4 hours after the deadline, then held
    await climb(demo_app, clock, due + timedelta(hours=31, minutes=2), chen, "请主任关注")


async def test_important_complaint_reaches_the_supervisor_at_once_and_solved_in_3_days(
    demo_app, clock
):
    zhou = Chat(demo_app, "zhou")
    ticket = await file_complaint(demo_app, "important")
    assert "C-261126-0001" in texts(await zhou.inbox())  # within the hour: at once
    assert ticket.due_at == ticket.created_at + timedelta(days=3)
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await desk.inbox()
    await climb(demo_app, clock, ticket.due_at, desk, "已超时")
    await climb(demo_app, clock, ticket.due_at + timedelta(hours=4), zhou, "请主管跟进")


async def test_major_complaint_director_same_day_answer_in_2_days_solved_in_10(demo_app, clock):
    chen, zhou = Chat(demo_app, "chen"), Chat(demo_app, "zhou")
    ticket = await file_complaint(demo_app, "major")
    assert "C-261126-0001" in texts(await chen.inbox())  # the director, the same day
    assert ticket.due_at == ticket.created_at + timedelta(days=10)
    await zhou.inbox()
    clock.set(ticket.created_at + timedelta(days=2) - timedelta(minutes=1))
    await sweep(demo_app)
    assert await chen.inbox() == []
    await climb(demo_app, clock, ticket.created_at + timedelta(days=2), chen, "未答复")
    assert "未答复" in texts(await zhou.inbox())
    await sweep(demo_app)
    assert await chen.inbox() == []  # once
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await desk.inbox()
    await climb(demo_app, clock, ticket.due_at, desk, "已超时")
