"""The arrears ladder, run once a day by the scheduler (rules in handlers/rules/arrears.py).

Each step is kept on the unit's `ArrearsCase` with its time, so it is done once and can
be shown; a unit that has paid leaves the ladder the next time it is looked at, and at
once when a payment is recorded (`leave_if_paid`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta, tzinfo
from pathlib import Path

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.arrears_cases import close
from handlers.context import Context
from handlers.directory import department_chats, people_with_role
from handlers.fees import month_text, resident_chats, unit_statement
from handlers.messages import Money, Reply
from handlers.rules.arrears import ArrearsPolicy, next_step, pay_by, remind_again
from handlers.rules.fees import Statement
from storage import jobs
from storage.models import ArrearsCase, Bill, Community, Job, Unit

DAILY = "arrears_daily"
RUN_AT = time(10, 0)  # office hours, well clear of the quiet hours


def next_run(now: datetime, tz: tzinfo) -> datetime:
    local = now.astimezone(tz)
    run = local.replace(hour=RUN_AT.hour, minute=RUN_AT.minute, second=0, microsecond=0)
    return run if run > local else run + timedelta(days=1)


async def schedule_daily(session: AsyncSession, now: datetime, tz: tzinfo) -> None:
    """Make sure the next daily run is in the job table (once, whoever asks)."""
    due = next_run(now, tz)
    await jobs.schedule(
        session, kind=DAILY, due_at=due, payload={}, dedupe_key=f"{DAILY}:{due.date().isoformat()}"
    )


async def daily(ctx: Context, job: Job) -> list[Reply]:
    """Climb the ladder for every unit in arrears; close the cases of units that paid."""
    await schedule_daily(ctx.session, ctx.now + timedelta(minutes=1), ctx.settings.tz)
    today = ctx.now.astimezone(ctx.settings.tz).date()
    this_month = today.strftime("%Y-%m")
    owing = set(
        (
            await ctx.session.exec(
                select(Bill.unit_id)
                .where(col(Bill.paid_at).is_(None), col(Bill.month) < this_month)
                .distinct()
            )
        ).all()
    )
    replies: list[Reply] = []
    open_cases = {
        case.unit_id: case
        for case in (
            await ctx.session.exec(select(ArrearsCase).where(col(ArrearsCase.closed_at).is_(None)))
        ).all()
    }
    for unit_id, case in open_cases.items():
        if unit_id not in owing:
            close(case, ctx.now)
    for unit_id in sorted(owing):
        unit = await ctx.session.get(Unit, unit_id)
        if unit is not None:
            replies += await _climb(ctx, unit, open_cases.get(unit_id))
    return replies


async def _climb(ctx: Context, unit: Unit, case: ArrearsCase | None) -> list[Reply]:
    policy = ArrearsPolicy()
    statement = await unit_statement(ctx.session, unit, ctx.now.astimezone(ctx.settings.tz).date())
    if not statement.has_arrears:
        return []
    if case is None:
        case = ArrearsCase(
            unit_id=unit.id or 0, step="reminder", opened_at=ctx.now, step_at=ctx.now, history=[]
        )
        ctx.session.add(case)
        return await _record(ctx, case, unit, statement, "reminder")
    step = next_step(case.step, case.opened_at, case.step_at, ctx.now, policy)
    if step is not None:
        case.step, case.step_at = step, ctx.now
        return await _record(ctx, case, unit, statement, step)
    last = max(datetime.fromisoformat(h["at"]) for h in case.history if h["step"] == "reminder")
    if remind_again(case.step, last, ctx.now, policy):
        return await _record(ctx, case, unit, statement, "reminder")
    return []


async def _record(
    ctx: Context, case: ArrearsCase, unit: Unit, statement: Statement, step: str
) -> list[Reply]:
    """Keep the step on the case, and say it to whoever acts on it."""
    case.history = [
        *case.history,
        {
            "step": step,
            "at": ctx.now.isoformat(),
            "amount": str(statement.total_arrears),
            "months": [d.month for d in statement.arrears],
        },
    ]
    params = {
        "unit": unit.label,
        "amount": Money(statement.total_arrears),
        "months": [month_text(d.month) for d in statement.arrears],
        "count": len(statement.arrears),
        "deadline": pay_by(ctx.now, ArrearsPolicy()).date(),
        "since": case.opened_at.date(),
    }
    if step == "reminder":
        return [
            Reply("arrears.reminder", params, to=chat)
            for chat in await resident_chats(ctx.session, unit)
        ]
    if step == "letter":
        letter = await write_letter(ctx, unit, statement)
        return [
            Reply("arrears.letter_task", params, to=chat, document=str(letter))
            for chat in await department_chats(ctx.session, unit.community_id, "service")
        ]
    if step == "visit":
        return [
            Reply("arrears.visit_task", params, to=chat)
            for chat in await department_chats(ctx.session, unit.community_id, "service")
        ]
    return [
        Reply("arrears.legal_task", params, to=chat)
        for chat in await people_with_role(ctx.session, unit.community_id, "supervisor")
    ]


async def write_letter(ctx: Context, unit: Unit, statement: Statement) -> Path:
    """The formal dunning letter (催缴函), from the catalog's template, as a text document."""
    community = await ctx.session.get(Community, unit.community_id)
    locale = ctx.settings.default_locale
    lines = [
        ctx.catalogs.text(
            locale, "arrears.letter.line", {"month": month_text(d.month), "amount": Money(d.amount)}
        )
        for d in statement.arrears
    ]
    body = ctx.catalogs.text(
        locale,
        "arrears.letter",
        {
            "company": ctx.settings.company_name,
            "community": community.name if community else "",
            "unit": unit.label,
            "lines": "\n".join(lines),
            "amount": Money(statement.total_arrears),
            "deadline": pay_by(ctx.now, ArrearsPolicy()).date(),
            "today": ctx.now.astimezone(ctx.settings.tz).date(),
            "phone": community.phone if community else "",
        },
    )
    stamp = ctx.now.astimezone(ctx.settings.tz).strftime("%Y%m%d")
    path = (
        Path(ctx.settings.data_dir)
        / "letters"
        / f"letter-{unit.community_id}-{unit.id}-{stamp}.txt"
    )
    return await asyncio.to_thread(_save, path, body + "\n")


def _save(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path.resolve()
