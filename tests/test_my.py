"""`/my`: a resident follows their tickets, adds notes and photos, urges and cancels."""

from __future__ import annotations

from sqlmodel import select

from storage import tickets
from storage.models import Photo, Ticket, TicketEvent
from tests.conversations import file_repair as file_water_repair
from tests.harness import Chat, texts
from tests.test_slip import ask_for_slip, chat_as, is_png, the_slip


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


# ---- release slips read like slips ---------------------------------------------------------


async def test_an_approved_slip_shows_its_code_and_state(demo_app, clock, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the QR image is written under data/
    resident = Chat(demo_app, "resident")
    await ask_for_slip(resident)
    slip = await the_slip(demo_app)
    said = await resident.say("/my")
    line = "S-261126-0001 放行条 · 已批准，可以使用 · 2026年11月27日 · 沙发1张、冰箱1台"
    assert line in texts(said)
    assert "已接单" not in texts(said)

    [view] = await resident.press("S-261126-0001")
    assert f"放行码：{slip.code}" in view.text and "已批准，可以使用" in view.text
    assert "日期：2026年11月27日 上午（8:00–12:00）" in view.text
    assert "物品：沙发 1张、冰箱 1台" in view.text and "车牌：浙A12345" in view.text
    assert "提交申请" in view.text and "已批准" in view.text
    assert [b["label"] for b in view.buttons] == ["出示放行码", "取消放行条"]

    [code] = await resident.press("出示放行码")
    assert f"放行码 {slip.code}" in code.text and "仅限当天使用一次" in code.text
    assert is_png(code.payload["photo"])

    # buttons from before (催单, 补充) do nothing to a slip and tell nobody
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await desk.inbox()
    said = await resident.send(option=f"act:my_urge:{slip.ticket_id}")
    assert "不需要催办" in texts(said)
    said = await resident.send(option=f"flow:note:{slip.ticket_id}")
    assert "不能补充" in texts(said)
    assert await desk.inbox() == []
    async with demo_app.db.transaction() as s:
        actions = (await s.exec(select(TicketEvent.action))).all()
    assert "urged" not in actions and "note" not in actions

    clock.advance(days=2)  # its day went by unused
    said = await resident.send(option=f"act:my_view:{slip.ticket_id}")
    assert "已过期（未使用）" in texts(said) and said[-1].buttons == []
    said = await resident.send(option=f"act:my_code:{slip.ticket_id}")
    assert "没有可以出示的放行码" in texts(said) and "photo" not in said[-1].payload


async def test_a_slip_waiting_for_the_owner_has_no_code_yet(demo_app):
    member = await chat_as(demo_app, "lina", "李娜", locale="en")
    await ask_for_slip(member, items="sofa x1", day="tomorrow", lang="en")
    slip = await the_slip(demo_app)
    said = await member.say("/my")
    assert "S-261126-0001 Release slip · waiting for the owner · Nov 27, 2026" in texts(said)
    [view] = await member.press("S-261126-0001")
    assert "Code: given once approved" in view.text and slip.code not in view.text
    assert "sent to the owner to confirm" in view.text
    assert [b["label"] for b in view.buttons] == ["Cancel the slip"]
    said = await member.send(option=f"act:my_code:{slip.ticket_id}")
    assert "there is no code to show" in texts(said)
    # the owner is not the applicant: the slip is not theirs to open or cancel
    owner = Chat(demo_app, "resident")
    for action in ("my_view", "my_code", "my_cancel"):
        said = await owner.send(option=f"act:{action}:{slip.ticket_id}")
        assert "失效" in texts(said), action
    assert (await the_slip(demo_app)).status == "owner_pending"


async def test_my_shows_the_parcels_waiting_and_the_visitors_to_come(demo_app) -> None:
    resident = Chat(demo_app, "resident")
    assert "没有工单记录" in texts(await resident.say("/my"))
    desk = Chat(demo_app, "li")
    await desk.say("/parcel 3-2-1201 张伟 SF1234567890")
    await resident.say("/visit")
    for answer in ("王建国", "13912340001", "跳过", "探亲", "明天下午3点", "跳过", "无"):
        await resident.say(answer)
    await resident.press("确认提交")
    said = texts(await resident.say("/my"))
    assert "没有工单记录" not in said
    assert "SF1234567890" in said and "取件码" in said
    assert "王建国" in said and "待到访" in said
