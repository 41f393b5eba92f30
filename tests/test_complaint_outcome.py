"""A complaint is worked like any ticket: taken, handled, the outcome told, then revisited."""

from __future__ import annotations

from sqlmodel import select

from dialogs.registry import all_jobs
from storage.models import Ticket
from tests.harness import Chat, texts
from tests.test_complaint import file_noise_complaint


async def test_outcome_reaches_the_resident_and_is_revisited(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await file_noise_complaint(resident)
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await desk.inbox()
    said = await desk.press("接单")
    assert any("李敏" in s.text for s in said)  # the complaint card shows who took it
    assert "✓ 程度：轻微" in [b["label"] for b in desk.keyboard.buttons]
    await desk.press("开始处理")
    await desk.press("完成")
    await desk.say("已与1301业主沟通，晚上十点后停止施工")
    await desk.press("跳过")
    await desk.press("确认提交")
    told = texts(await resident.inbox())
    assert "晚上十点后停止施工" in told and "解决了吗" in told
    await resident.press("已解决")
    clock.advance(days=2, minutes=1)
    await demo_app.engine.run_jobs(all_jobs())
    assert "回访" in texts(await resident.inbox())
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
    assert ticket.status == "revisit" and ticket.kind == "complaint"
