"""Convenience and commissioned services (便民服务 / 委托服务) through the real engine.

The demo (today 2026-11-26 09:00): 李敏 ("li") is 幸福里's service desk, 王师傅 ("wang") a
repair technician, 张伟 ("resident") owns 3栋2单元1201.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import select

from dialogs.registry import all_jobs
from handlers.rules import services as rules
from storage.models import AuditLog, LedgerEntry, ServiceItem, Ticket, TicketEvent
from tests.harness import Chat, texts

SERVICE, REPAIR = "group:XFL:service", "group:XFL:repair"


async def _listed(app) -> Chat:
    desk = Chat(app, "li")
    said = texts(await desk.say("/services add 家电清洗 维修 80 台 空调、油烟机清洗"))
    assert "已加入服务项目：家电清洗：¥80.00/台（维修部" in said, said
    said = texts(await desk.say("/services add 家政保洁 保洁 50 小时"))
    assert "家政保洁：¥50.00/小时" in said, said
    return desk


async def _asked(app) -> tuple[Chat, Chat, Chat, Ticket]:
    """The list published, and the resident asks for an appliance cleaning."""
    desk = await _listed(app)
    desk_group = Chat(app, "li", chat_id=SERVICE, kind="group")
    resident = Chat(app, "resident")
    said = await resident.say("/service")
    assert "便民服务项目和收费标准" in texts(said), texts(said)
    assert any("家电清洗：¥80.00/台" in b["label"] for b in said[-1].buttons), said[-1].buttons
    await resident.press("家电清洗")
    await resident.say("周六上午")
    summary = texts(await resident.say("挂机空调两台"))
    assert "服务：家电清洗" in summary and "周六上午" in summary, summary
    filed = texts(await resident.press("确认"))
    assert "已收到您的服务预约 W-" in filed and "商定具体内容" in filed, filed
    async with app.db.transaction() as session:
        ticket = (await session.exec(select(Ticket).where(Ticket.kind == "service"))).one()
    card = await desk_group.inbox()
    assert "【便民服务】" in texts(card) and "待商定" in texts(card), texts(card)
    assert [b["label"] for b in card[-1].buttons] == ["商定服务细节"]
    return desk, desk_group, resident, ticket


async def _agree(desk_group: Chat, fee: str) -> str:
    await desk_group.press("商定服务细节")
    said = await desk_group.press("按住户所选")
    assert "面积或数量" in texts(said), texts(said)
    await desk_group.say("2台")
    said = await desk_group.say("11月28日上午9点")
    assert "标准价 ¥80.00" in texts(said), texts(said)
    await desk_group.say(fee)
    summary = texts(await desk_group.say("清洗后出风干净无异味"))
    assert "发给住户确认吗" in summary, summary
    return texts(await desk_group.press("确认"))


async def test_a_service_agreed_confirmed_done_accepted_paid_and_revisited(demo_app, clock):
    app = demo_app
    desk, desk_group, resident, ticket = await _asked(app)
    said = await _agree(desk_group, "160")
    assert "已把 " + ticket.number + " 的约定发给住户确认" in said, said
    asked = await resident.inbox()
    assert "费用：¥160.00" in texts(asked) and "2台" in texts(asked), texts(asked)
    # Not the repair group's job until the resident confirms; and no task buttons yet.
    assert await Chat(app, "wang", chat_id=REPAIR, kind="group").inbox() == []
    wang = Chat(app, "wang", chat_id=REPAIR, kind="group")
    assert "没有权限" in texts(await wang.say(f"接单 {ticket.number}"))
    refused = texts(await desk_group.say(f"开始 {ticket.number}"))  # the desk agrees, not works
    assert "不需要接单" in refused, refused

    said = texts(await resident.press("确认"))
    assert "已交给维修部" in said and "11月28日上午9点" in said and "¥160.00" in said, said
    assert "住户已确认" in texts(await desk_group.inbox())
    card = await wang.inbox()
    assert "已安排" in texts(card) and "2台" in texts(card), texts(card)
    assert "接单" in [b["label"] for b in card[-1].buttons], card[-1].buttons

    await wang.press("接单")
    assert "王师傅" in texts(await resident.inbox())
    await wang.press("开始")
    await wang.press("完成")
    await wang.say("两台空调已清洗完毕")
    await wang.say("跳过")
    said = texts(await wang.press("确认"))
    assert "已标记完成" in said and "收费后按规定回访" in said, said
    done = await resident.inbox()
    assert "请您验收" in texts(done) and "¥160.00" in texts(done), texts(done)

    said = texts(await resident.press("已解决"))  # accepted
    assert "感谢确认" in said, said
    card = await desk_group.inbox()
    assert "已验收，待收费" in texts(card), texts(card)
    assert [b["label"] for b in card[-1].buttons] == ["登记收费"]

    # The desk collects the agreed fee with a receipt; a used number is refused politely.
    said = texts(await desk.say(f"/servicepaid {ticket.number} SJ0001 现金"))
    assert "已登记" in said and "¥160.00" in said and "收据号 SJ0001" in said, said
    assert "回访期限：2026-11-2" in said, said
    assert "SJ0001" in texts(await resident.inbox())
    async with app.db.transaction() as session:
        entries = (await session.exec(select(LedgerEntry))).all()
        assert [(e.purpose, e.receipt, e.amount, e.method, e.source) for e in entries] == [
            ("service", "SJ0001", Decimal("160.00"), "cash", f"ticket:{ticket.id}")
        ]
        stored = await session.get(Ticket, ticket.id)
        assert stored is not None and stored.status == "revisit"
        audited = (await session.exec(select(AuditLog.action))).all()
        assert {"service_item", "service_agreed", "service_paid", "ledger_entry"} <= set(audited)
        assert stored.details["service"]["receipt"] == "SJ0001"

    # The clock moves: the revisit is asked, answered, and the request closes.
    clock.advance(days=1, hours=2)
    await app.engine.run_jobs(all_jobs())
    prompt = await resident.inbox()
    assert "回访" in texts(prompt) and ticket.number in texts(prompt), texts(prompt)
    await resident.press(prompt[-1].buttons[0]["label"])
    await resident.press("5")
    await resident.press("解决了")
    await resident.say("跳过")
    said = texts(await resident.press("确认"))
    async with app.db.transaction() as session:
        stored = await session.get(Ticket, ticket.id)
        assert stored is not None and stored.status == "closed", (stored, said)
        assert stored.details["revisit"]["satisfaction"] == 5


async def test_the_resident_disagrees_with_the_fee_and_a_used_receipt_is_refused(demo_app):
    app = demo_app
    desk, desk_group, resident, ticket = await _asked(app)
    await _agree(desk_group, "300")
    await resident.inbox()
    said = texts(await resident.press("不同意"))
    assert "会再与您联系" in said, said
    told = await desk_group.inbox()
    assert "张伟 不同意" in texts(told) and "¥300.00" in texts(told), texts(told)
    assert told[-1].buttons[0]["label"] == "商定服务细节"
    # Nothing for the department; nothing to collect.
    assert await Chat(app, "wang", chat_id=REPAIR, kind="group").inbox() == []
    said = texts(await desk.say(f"/servicepaid {ticket.number} SJ0009 现金"))
    assert "待商定" in said and "不能这样办理" in said, said

    # Agreed again at the list price; the receipt number used elsewhere is refused.
    await _agree(desk_group, "160")
    await resident.inbox()
    await resident.press("确认")
    async with app.db.transaction() as session:
        session.add(
            LedgerEntry(
                community_id=ticket.community_id,
                day=app.clock.now().date(),
                receipt="SJ0002",
                purpose="fee",
                method="cash",
                amount=Decimal("10.00"),
                clerk="staff:1",
                at=app.clock.now(),
            )
        )
        stored = await session.get(Ticket, ticket.id)
        assert stored is not None
        stored.status = "revisit"  # done and accepted
        stored.done_at = app.clock.now()
        session.add(stored)
    said = texts(await desk.say(f"/servicepaid {ticket.number} SJ0002 微信"))
    assert "已在本小区登记过" in said, said
    said = texts(await desk.say(f"/servicepaid {ticket.number} SJ0003 微信"))
    assert "¥160.00" in said and "微信" in said, said
    async with app.db.transaction() as session:
        rows = (await session.exec(select(LedgerEntry.receipt, LedgerEntry.purpose))).all()
    assert sorted(rows) == [("SJ0002", "fee"), ("SJ0003", "service")]


async def test_a_resident_cannot_edit_the_list(demo_app):
    app = demo_app
    await _listed(app)
    resident = Chat(app, "resident")
    said = texts(await resident.say("/services add 开锁换锁 安保 1 次"))
    assert "没有权限" in said, said
    said = texts(await resident.say("/services del 家电清洗"))
    assert "没有权限" in said, said
    said = texts(await Chat(app, "li").say("/services del 家政保洁"))
    assert "已将“家政保洁”从服务项目中撤下" in said, said
    async with app.db.transaction() as session:
        items = (await session.exec(select(ServiceItem.name, ServiceItem.active))).all()
        locks = (
            await session.exec(select(ServiceItem).where(ServiceItem.name == "开锁换锁"))
        ).all()
    assert [i.price for i in locks] == [
        Decimal("60.00"),
        Decimal("60.00"),
    ]  # the demo's, in both communities
    assert ("家政保洁", False) in items and ("家电清洗", True) in items


@pytest.mark.parametrize(
    ("status", "service", "stage"),
    [
        ("new", {}, rules.AGREE),
        ("new", {"agreed": {"fee": "1"}}, rules.AWAITING),
        ("accepted", {"agreed": {}, "confirmed_at": "x"}, rules.AGREE),
        ("accepted", {"agreed": {"fee": "1"}, "confirmed_at": "x"}, rules.SCHEDULED),
        ("done", {"agreed": {"fee": "1"}, "confirmed_at": "x"}, rules.ACCEPTANCE),
        ("revisit", {"agreed": {"fee": "1"}, "confirmed_at": "x"}, rules.COLLECT),
        ("revisit", {"agreed": {"fee": "1"}, "confirmed_at": "x", "receipt": "A"}, rules.REVISIT),
        ("closed", {"agreed": {"fee": "1"}}, rules.CLOSED),
    ],
)
def test_stages(status, service, stage):
    assert rules.stage(status, service) == stage


def test_a_listed_item_is_read_from_the_line():
    names = {"维修": "repair", "repair": "repair"}
    item = rules.parse_item("家电清洗 维修 80 台 空调清洗", names)
    assert (item.name, item.department, item.price, item.per) == (
        "家电清洗",
        "repair",
        Decimal("80.00"),
        "台",
    )
    with pytest.raises(rules.Invalid):
        rules.parse_item("家电清洗 厨房 80", names)
    with pytest.raises(rules.Invalid):
        rules.parse_item("家电清洗 维修 八十", names)


async def test_a_problem_at_acceptance_sends_the_work_back_to_the_department(demo_app):
    app = demo_app
    _, desk_group, resident, ticket = await _asked(app)
    await _agree(desk_group, "160")
    await resident.inbox()
    await resident.press("确认")
    wang = Chat(app, "wang", chat_id=REPAIR, kind="group")
    await wang.inbox()
    for label in ("接单", "开始", "完成"):
        await wang.press(label)
    await wang.say("已清洗完毕")
    await wang.say("跳过")
    await wang.press("确认")
    await resident.inbox()
    said = texts(await resident.press("还没解决"))
    assert "已退回维修部返工" in said, said
    card = await wang.inbox()
    assert "已安排" in texts(card) and "开始处理" in [b["label"] for b in card[-1].buttons]
    # Nothing to collect until the work is accepted.
    said = texts(await Chat(app, "li").say(f"/servicepaid {ticket.number} SJ0005 现金"))
    assert "已安排" in said and "不能这样办理" in said, said


async def test_a_resident_who_pays_at_the_counter_has_accepted_the_work(demo_app):
    """The resident never presses 已解决 in chat but comes to the desk and pays: the fee
    is taken, the acceptance recorded as through the desk, and the revisit planned; a
    used receipt number changes nothing."""
    app = demo_app
    desk, desk_group, resident, ticket = await _asked(app)
    await _agree(desk_group, "160")
    await resident.inbox()
    await resident.press("确认")
    wang = Chat(app, "wang", chat_id=REPAIR, kind="group")
    await wang.inbox()
    for label in ("接单", "开始", "完成"):
        await wang.press(label)
    await wang.say("已清洗完毕")
    await wang.say("跳过")
    await wang.press("确认")
    await desk.say("/cash 收 10 其他 现金 收据号 SJ0007")
    said = texts(await desk.say(f"/servicepaid {ticket.number} SJ0007 现金"))
    assert "该收据号已在本小区登记过" in said and "已登记：" not in said, said
    async with app.db.transaction() as session:
        still = await session.get(Ticket, ticket.id)
    assert still is not None and still.status == "done"  # nothing changed
    said = texts(await desk.say(f"/servicepaid {ticket.number} SJ0008 微信"))
    assert "已登记" in said and "¥160.00" in said, said
    async with app.db.transaction() as session:
        stored = await session.get(Ticket, ticket.id)
        events = (
            await session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))
        ).all()
    assert stored is not None and stored.status == "revisit"
    assert any(e.action == "fixed" and "前台" in e.note for e in events)
