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
from tests.harness import Chat, texts

UNIT = "3栋2单元1202"  # one month unpaid; the demo tenant 刘洋 chats as "tenant"


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
    tenant = Chat(demo_app, "tenant")
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await run_days(demo_app, clock, 1)
    said = await tenant.inbox()
    assert "1 个月的物业费尚未缴纳" in texts(said) and UNIT in texts(said)

    await run_days(demo_app, clock, 29)
    assert "尚未缴纳" not in texts(await tenant.inbox())  # reminders are monthly, not daily
    await run_days(demo_app, clock, 2)
    assert "尚未缴纳" in texts(await tenant.inbox())

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
    await tenant.inbox()
    await run_days(demo_app, clock, 40)
    assert "尚未缴纳" not in texts(await tenant.inbox())
