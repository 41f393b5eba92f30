"""The notice board (宣传栏), renewed every two weeks: with the clock moved, the desk gets
its renewal task after 14 days, finishes it with a photo, and the next one comes 14 days
after the renewal, not before; a restart books no second reminder; a renewal left undone
climbs the ladder like any ticket.

The demo starts on 2026-11-26 09:00 (the first reminders are booked from then).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from dialogs.registry import all_jobs, all_sweeps
from handlers import notice_board
from handlers.rules import activities as rules
from storage.models import Community, Job, Outbox, Photo, Ticket
from tests.harness import Chat, texts

SERVICE = "group:XFL:service"


def test_the_boards_rules() -> None:
    from datetime import UTC, datetime

    renewed = datetime(2026, 12, 10, 9, 30, tzinfo=UTC)
    assert rules.next_renewal(renewed, 14) == datetime(2026, 12, 24, 9, 30, tzinfo=UTC)
    assert rules.renewal_due(renewed) == renewed + timedelta(days=2)


async def board_tasks(app: Any, code: str = "XFL") -> list[Ticket]:
    """The board's renewal tasks of community `code`, oldest first."""
    async with app.db.transaction() as s:
        community = (await s.exec(select(Community).where(Community.code == code))).one()
        found = await s.exec(
            select(Ticket)
            .where(Ticket.kind == "task", Ticket.community_id == community.id)
            .order_by(col(Ticket.id))
        )
        return [t for t in found.all() if t.details.get("followup") == notice_board.FOLLOWUP]


async def pending(app: Any, code: str) -> list[Job]:
    async with app.db.transaction() as s:
        community = (await s.exec(select(Community).where(Community.code == code))).one()
        found = await s.exec(
            select(Job).where(Job.kind == notice_board.JOB, col(Job.done_at).is_(None))
        )
        return [j for j in found.all() if j.payload.get("community") == community.id]


async def at(app: Any, clock: Any, moment: Any) -> None:
    clock.set(moment)
    await app.engine.run_jobs(all_jobs())


async def test_the_board_is_renewed_every_two_weeks_with_a_photo(demo_app, clock) -> None:
    start = clock.now()
    desk = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    await desk.inbox()
    [booked] = await pending(demo_app, "XFL")
    assert booked.due_at == start + timedelta(days=14)

    # A restart (or a second worker starting) books no second reminder.
    async with demo_app.db.transaction() as s:
        await notice_board.book_all(s, clock.now(), demo_app.settings.tz)
    assert len(await pending(demo_app, "XFL")) == 1

    await at(demo_app, clock, start + timedelta(days=13, hours=23))
    assert "宣传栏" not in texts(await desk.inbox()) and await board_tasks(demo_app) == []

    await at(demo_app, clock, start + timedelta(days=14, minutes=1))
    card = texts(await desk.inbox())
    [task] = await board_tasks(demo_app)
    assert task.number.startswith("T-") and task.number in card and "更换宣传栏" in card
    assert task.due_at == clock.now() + timedelta(days=2)
    # The other community's desk has its own reminder.
    assert len(await board_tasks(demo_app, "HYY")) == 1

    # The desk renews it the next morning and finishes the task with a photo.
    await at(demo_app, clock, start + timedelta(days=15, hours=1))
    assert len(await board_tasks(demo_app)) == 1  # still open: looked at again, no new task
    await desk.press("接单")
    await desk.press("开始处理")
    card_keyboard = desk.keyboard
    # Typed as a staff verb, "done" too asks for the photo first …
    asked = texts(await desk.say(f"完成 {task.number} 已更换"))
    assert "照片" in asked, asked
    await desk.say("/cancel")
    # … as the card's button does.
    desk.keyboard = card_keyboard
    asked = texts(await desk.press("完成"))
    assert "照片" in asked  # the photo of the renewed board comes first
    assert "照片" in texts(await desk.say("已经换好了"))  # words alone will not do
    await desk.photo("board-photo-1")
    await desk.press("完成")
    await desk.say("冬季防火、物业服务公示")
    said = texts(await desk.press("确认提交"))
    assert task.number in said and "下次更换宣传栏" in said, said
    renewed = clock.now()
    async with demo_app.db.transaction() as s:
        done = await s.get(Ticket, task.id)
        photos = (await s.exec(select(Photo).where(Photo.ticket_id == task.id))).all()
        community = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        state = await notice_board.state(s, community.id or 0, 14)
    assert done is not None and done.status == "done" and done.done_at == renewed
    assert [p.file_ref for p in photos] == ["board-photo-1"]
    assert state.renewed_at == renewed and [p.file_ref for p in state.photos] == ["board-photo-1"]
    assert state.next_due == renewed + timedelta(days=14)

    # Not before 14 days from the renewal …
    await at(demo_app, clock, renewed + timedelta(days=13, hours=23))
    assert len(await board_tasks(demo_app)) == 1
    assert "宣传栏" not in texts(await desk.inbox())
    # … and then the next one.
    await at(demo_app, clock, renewed + timedelta(days=14, minutes=1))
    assert len(await board_tasks(demo_app)) == 2
    assert "更换宣传栏" in texts(await desk.inbox())


async def test_a_renewal_left_undone_escalates(demo_app, clock) -> None:
    await at(demo_app, clock, clock.now() + timedelta(days=14, minutes=1))
    [task] = await board_tasks(demo_app)
    clock.set((task.due_at or clock.now()) + timedelta(hours=6))
    for check in all_sweeps():
        await demo_app.engine.sweep(check)
    async with demo_app.db.transaction() as s:
        pushed = (await s.exec(select(Outbox))).all()
    steps = {
        (row.chat_id, row.payload.get("key"))
        for row in pushed
        if task.number in str(row.payload.get("text", ""))
    }
    assert (SERVICE, "escalation.overdue") in steps
    assert ("zhou", "escalation.supervisor") in steps


async def test_the_reminder_on_sqlite_and_postgresql(demo_both, clock) -> None:
    """Booked at start (here after the demo is seeded), once, and the task found again by
    its JSON marker on either store."""
    app = demo_both
    async with app.db.transaction() as s:
        await notice_board.book_all(s, clock.now(), app.settings.tz)
        await notice_board.book_all(s, clock.now(), app.settings.tz)  # a second worker
    assert len(await pending(app, "XFL")) == 1
    await at(app, clock, clock.now() + timedelta(days=14, minutes=1))
    [task] = await board_tasks(app)
    async with app.db.transaction() as s:
        community = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        state = await notice_board.state(s, community.id or 0, 14)
        await notice_board.book_all(s, clock.now(), app.settings.tz)  # a restart meanwhile
    assert state.open_task is not None and state.open_task.id == task.id
    assert [j.due_at for j in await pending(app, "XFL")] == [clock.now() + rules.CHECK_AGAIN]
