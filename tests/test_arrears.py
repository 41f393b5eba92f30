"""The arrears ladder over four months: reminders, the dunning letter, the visit; paying
leaves it at once."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from sqlmodel import select

from dialogs.registry import all_jobs
from handlers.rules.arrears import ArrearsPolicy, next_step
from storage.models import ArrearsCase, Unit
from tests.conversations import chat_as
from tests.harness import Chat, texts

UNIT = "3栋2单元1202"  # one month unpaid; owned by 王芳, rented by 刘洋 ("tenant")


def test_the_ladder_rule():
    policy = ArrearsPolicy()
    opened = datetime(2026, 11, 26, 2, 0).astimezone()
    assert next_step(None, opened, opened, opened, policy) == "reminder"
    assert next_step("reminder", opened, opened, opened.replace(month=12), policy) is None
    three_months = opened.replace(year=2027, month=2)
    assert next_step("reminder", opened, opened, three_months, policy) == "letter"
    assert next_step("letter", opened, three_months, three_months, policy) is None
    assert (
        next_step("letter", opened, three_months, three_months.replace(month=3), policy) == "visit"
    )


async def run_days(app, clock, days: int) -> None:
    for _ in range(days):
        clock.advance(days=1)
        await app.engine.run_jobs(all_jobs())


async def case_of(app) -> ArrearsCase:
    async with app.db.transaction() as s:
        unit = (await s.exec(select(Unit).where(Unit.label == UNIT))).one()
        return (await s.exec(select(ArrearsCase).where(ArrearsCase.unit_id == unit.id))).one()


async def test_four_months_on_the_ladder_then_payment(demo_app, clock, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    owner = await chat_as(demo_app, "wangfang", "王芳")
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await run_days(demo_app, clock, 1)
    said = await owner.inbox()
    assert "1 个月的物业费尚未缴纳" in texts(said) and UNIT in texts(said)

    await run_days(demo_app, clock, 29)
    assert "尚未缴纳" not in texts(await owner.inbox())  # reminders are monthly, not daily
    await run_days(demo_app, clock, 2)
    assert "尚未缴纳" in texts(await owner.inbox())

    await run_days(demo_app, clock, 62)  # three months after the first reminder
    letters = [s for s in await desk.inbox() if "催缴函" in s.text and UNIT in s.text]
    assert len(letters) == 1
    letter = Path(letters[0].payload["document"])
    body = await asyncio.to_thread(letter.read_text, encoding="utf-8")
    assert "催 缴 函" in body and UNIT in body and "¥" in body

    await run_days(demo_app, clock, 31)
    assert any("上门催缴" in s.text and UNIT in s.text for s in await desk.inbox())
    case = await case_of(demo_app)
    assert [h["step"] for h in case.history][:1] == ["reminder"]
    assert {"letter", "visit"} <= {h["step"] for h in case.history}

    said = await Chat(demo_app, "li").say(f"/paid {UNIT} 500 SJ20270401001")
    assert "SJ20270401001" in texts(said)
    assert (await case_of(demo_app)).closed_at is not None  # left the ladder at once
    await owner.inbox()
    await run_days(demo_app, clock, 40)
    assert "尚未缴纳" not in texts(await owner.inbox())


async def test_reminders_go_to_owners_and_delegates_never_to_tenants_or_members(demo_app, clock):
    tenant = Chat(demo_app, "tenant")  # 刘洋 rents 3栋2单元1202
    owner = await chat_as(demo_app, "wangfang", "王芳")
    delegate = await chat_as(demo_app, "yanglei", "杨磊")  # for 赵敏, 1栋1单元302
    member = await chat_as(demo_app, "xuming", "徐明")  # household member of 2栋2单元1101
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await run_days(demo_app, clock, 1)
    assert texts(await tenant.inbox()) == ""
    assert texts(await member.inbox()) == ""
    assert "3栋2单元1202 目前有 1 个月" in texts(await owner.inbox())
    assert "1栋1单元302 目前有 3 个月的物业费尚未缴纳，共 ¥852.60" in texts(await delegate.inbox())
    # 徐丽 owns 2栋2单元1101 and has no chat: the desk is asked to phone her instead.
    phone = [s.text for s in await desk.inbox() if "【电话提醒】" in s.text]
    assert len(phone) == 1 and "2栋2单元1101" in phone[0] and "5 个月的物业费" in phone[0]


async def test_reminders_ask_for_what_is_due_net_of_the_credit(demo_app, clock):
    owner = await chat_as(demo_app, "zhaomin", "赵敏")
    said = await Chat(demo_app, "li").say("/paid 1栋1单元302 300 SJ20261126501")
    assert "预存余额：¥15.80" in texts(said)  # August paid, 15.80 over
    await owner.inbox()
    await run_days(demo_app, clock, 1)
    heard = texts(await owner.inbox())
    assert "2 个月的物业费尚未缴纳，共 ¥552.60（已扣除预存余额 ¥15.80）" in heard
