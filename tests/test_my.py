"""`/my`: a resident follows their tickets, adds notes and photos, urges and cancels."""

from __future__ import annotations

from sqlmodel import select

from storage import tickets
from storage.models import Photo, Ticket, TicketEvent
from tests.conversations import file_repair as file_water_repair
from tests.harness import Chat, texts


async def file_repair(resident: Chat, text: str = "厨房水槽下水管漏水") -> None:
    await file_water_repair(resident, "水管", text)
    assert "R-261126-" in texts(resident.last)


async def ticket_of(app) -> Ticket:
    async with app.db.transaction() as s:
        return (await s.exec(select(Ticket))).one()


async def test_list_view_and_note(demo_app):
    resident = Chat(demo_app, "resident")
    said = await resident.say("/my")
    assert "没有工单" in texts(said)
    await file_repair(resident)
    said = await resident.say("/my")
    assert "R-261126-0001 报修 · 待接单 · 厨房水槽下水管漏水" in texts(said)
    said = await resident.press("R-261126-0001")
    assert "3栋2单元1201" in texts(said) and "进度" in texts(said)

    group = Chat(demo_app, "wang", chat_id="group:XFL:repair", kind="group")
    await group.inbox()
    said = await resident.press("补充")
    assert "文字或照片" in texts(said)
    await resident.photo("leak-2.jpg")
    said = await resident.press("确认提交")
    assert "已补充到 R-261126-0001" in texts(said)
    pushed = await group.inbox()
    assert "R-261126-0001" in texts(pushed) and pushed[0].payload.get("photo") == "leak-2.jpg"
    async with demo_app.db.transaction() as s:
        assert [p.file_ref for p in (await s.exec(select(Photo))).all()] == ["leak-2.jpg"]


async def test_urge_at_most_once_per_interval(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    group = Chat(demo_app, "wang", chat_id="group:XFL:repair", kind="group")
    await group.inbox()
    await resident.say("/my")
    await resident.press("R-261126-0001")
    said = await resident.press("催单")
    assert "已为您催办" in texts(said)
    assert "催办 R-261126-0001" in texts(await group.inbox())
    said = await resident.press("催单")
    assert "已经催办过" in texts(said)
    assert await group.inbox() == []
    clock.advance(minutes=121)
    said = await resident.press("催单")
    assert "已为您催办" in texts(said)
    async with demo_app.db.transaction() as s:
        urged = (await s.exec(select(TicketEvent).where(TicketEvent.action == "urged"))).all()
        assert len(urged) == 2


async def test_cancel_before_work_starts_only(demo_app):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    await file_repair(resident, "卫生间灯不亮了")
    await resident.say("/my")
    await resident.press("R-261126-0001")
    said = await resident.press("取消工单")
    assert "已为您取消" in texts(said)
    group = Chat(demo_app, "wang", chat_id="group:XFL:repair", kind="group")
    cards = await group.inbox()
    assert "已取消" in cards[-1].text and cards[-1].payload["card"].startswith("ticket:")

    async with demo_app.db.transaction() as s:
        second = (await s.exec(select(Ticket).where(Ticket.number == "R-261126-0002"))).one()
        await tickets.record_change(
            s,
            second,
            actor="staff:1",
            action="started",
            now=demo_app.clock.now(),
            to_status="in_progress",
        )
    await resident.say("/my")
    said = await resident.press("R-261126-0002")
    assert all("取消工单" not in b["label"] for b in said[0].buttons)
    said = await resident.send(option=f"act:my_cancel:{second.id}")
    assert "不能在这里取消" in texts(said)


async def test_nobody_else_reaches_a_ticket(demo_app):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    ticket = await ticket_of(demo_app)
    tenant = Chat(demo_app, "tenant")
    for action in ("my_view", "my_urge", "my_cancel"):
        said = await tenant.send(option=f"act:{action}:{ticket.id}")
        assert "失效" in texts(said)
    said = await tenant.send(option=f"flow:note:{ticket.id}")
    assert "失效" in texts(said)
    said = await tenant.say("/my")
    assert "R-261126-0001" not in texts(said)
    assert (await ticket_of(demo_app)).status == "new"


async def test_in_english(demo_app):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    await resident.say("/lang en")
    said = await resident.say("menu")
    said = await resident.press("My tickets")
    assert "R-261126-0001 Repair · new" in texts(said)
    await resident.press("Open R-261126-0001")
    said = await resident.press("Hurry")
    assert "We have chased R-261126-0001" in texts(said)
    said = await resident.press("Add a note")
    await resident.say("The water is now dripping onto the floor")
    said = await resident.press("Submit")
    assert "Added to R-261126-0001" in texts(said)
