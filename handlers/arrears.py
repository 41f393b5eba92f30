"""The arrears ladder, run once a day by the scheduler (rules in handlers/rules/arrears.py).

Each step is kept on the unit's `ArrearsCase` with its time, so it is done once and can
be shown; a unit that has paid leaves the ladder the next time it is looked at, and at
once when a payment is recorded (`leave_if_paid`). Amounts are net of the unit's credit.

Reminders go to the unit's owners and their delegates (`payer_chats`), never to tenants
or household members; with no such chat the service desk is asked to phone instead.

What the desk agreed reshapes the ladder (handlers/arrears_cases.py): an open dispute
pauses it (its clock stops); under an instalment plan each instalment is reminded instead,
months outside the plan are still reminded, and a missed instalment breaks the plan, the
desk is told and the ladder resumes. A resumed ladder tells the resident at once.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.arrears_cases import (
    BROKEN,
    DISPUTE,
    KEPT,
    PLAN,
    RESOLVED,
    close,
    end,
    note,
    noted,
    open_agreements,
    paused_at,
    progress,
)
from handlers.arrears_work import CONTACT_FLOW
from handlers.arrears_work_legal import prepare_legal
from handlers.core.context import Context
from handlers.core.messages import Choice, Money, Reply, Text
from handlers.directory import department_chats, people_with_role
from handlers.fees import month_text, payer_chats, unit_statement
from handlers.rules.arrears import (
    ArrearsPolicy,
    grace_end,
    instalment_notice,
    next_step,
    pay_by,
    plan_broken,
    remind_again,
    resumed_step_at,
)
from handlers.rules.fees import Statement
from storage import jobs
from storage.models import ArrearsCase, Bill, Community, FeeAgreement, Job, Ticket, Unit

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
    """Climb the ladder for every unit in arrears or under an agreement; close the cases of
    units that paid."""
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
    agreed = set(
        (
            await ctx.session.exec(
                select(FeeAgreement.unit_id).where(col(FeeAgreement.closed_at).is_(None)).distinct()
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
    for unit_id, case in list(open_cases.items()):
        if unit_id not in owing:
            close(case, ctx.now)
            del open_cases[unit_id]
    for unit_id in sorted(owing | agreed):
        unit = await ctx.session.get(Unit, unit_id)
        if unit is not None:
            replies += await _climb(ctx, unit, open_cases.get(unit_id))
    return replies


async def _climb(ctx: Context, unit: Unit, case: ArrearsCase | None) -> list[Reply]:
    policy = ArrearsPolicy()
    today = ctx.now.astimezone(ctx.settings.tz).date()
    statement = await unit_statement(ctx.session, unit, today)
    agreed = await open_agreements(ctx.session, unit.id)
    dispute = next((a for a in agreed if a.kind == DISPUTE), None)
    if dispute is not None:
        if case is not None:
            _pause(case, ctx.now, dispute)
        return []
    replies: list[Reply] = []
    forced = False
    plan = next((a for a in agreed if a.kind == PLAN), None)
    if plan is not None:
        done = await progress(ctx.session, plan)
        unpaid = {d.month for d in statement.due}
        if done.complete or not unpaid & set(plan.months):
            end(plan, KEPT, ctx.now)
        elif plan_broken(done, today, policy):
            replies += await _broken(ctx, unit, plan, statement)
            forced = True  # the resident was just told the whole amount
        else:
            replies += await _instalment_reminder(ctx, unit, plan)
            # Months outside the plan are still reminded; the ladder does not climb.
            outside = statement.without(plan.months)
            case, said = await _ladder(ctx, unit, case, outside, climb=False)
            if case is not None:
                _pause(case, ctx.now, plan)
            return [*replies, *said]
    if case is not None and paused_at(case) is not None:
        forced = _resume(case, ctx.now) == DISPUTE or forced
    _, said = await _ladder(ctx, unit, case, statement, forced=forced, quiet=bool(replies))
    return [*replies, *said]


def _pause(case: ArrearsCase, now: datetime, agreement: FeeAgreement) -> None:
    if paused_at(case) is None:
        case.history = [
            *case.history,
            {"step": "paused", "at": now.isoformat(), "why": agreement.kind, "id": agreement.id},
        ]


def _resume(case: ArrearsCase, now: datetime) -> str:
    """Resume where the ladder stood; returns why it was paused."""
    since = paused_at(case)
    assert since is not None
    why = next(h.get("why", "") for h in reversed(case.history) if h["step"] == "paused")
    case.step_at = resumed_step_at(case.step_at, since, now)
    case.history = [*case.history, {"step": "resumed", "at": now.isoformat()}]
    return str(why)


async def _ladder(
    ctx: Context,
    unit: Unit,
    case: ArrearsCase | None,
    statement: Statement,
    *,
    climb: bool = True,
    forced: bool = False,
    quiet: bool = False,
) -> tuple[ArrearsCase | None, list[Reply]]:
    """The ordinary ladder for what is overdue: open the case with a reminder, climb a step
    (unless `climb` is off), or remind again. `forced` reminds now; `quiet` records a
    reminder another message has just said."""
    if not statement.has_arrears or statement.net_arrears <= 0:
        return case, []
    policy = ArrearsPolicy()
    if case is None:
        case = ArrearsCase(
            unit_id=unit.id or 0, step="reminder", opened_at=ctx.now, step_at=ctx.now, history=[]
        )
        ctx.session.add(case)
        return case, await _record(ctx, case, unit, statement, "reminder", quiet=quiet)
    step = next_step(case.step, case.opened_at, case.step_at, ctx.now, policy) if climb else None
    if step is not None:
        case.step, case.step_at = step, ctx.now
        return case, await _record(ctx, case, unit, statement, step)
    reminders = [datetime.fromisoformat(h["at"]) for h in case.history if h["step"] == "reminder"]
    last = max(reminders, default=case.opened_at)
    # Not climbing (under a plan), the months outside it are reminded whatever the step.
    step = case.step if climb else "reminder"
    if forced or remind_again(step, last, ctx.now, policy):
        return case, await _record(ctx, case, unit, statement, "reminder", quiet=quiet)
    return case, []


async def _record(
    ctx: Context,
    case: ArrearsCase,
    unit: Unit,
    statement: Statement,
    step: str,
    quiet: bool = False,
) -> list[Reply]:
    """Keep the step on the case, and say it to whoever acts on it."""
    earlier = [datetime.fromisoformat(h["at"]) for h in case.history if h["step"] == "reminder"]
    case.history = [
        *case.history,
        {
            "step": step,
            "at": ctx.now.isoformat(),
            "amount": str(statement.net_arrears),
            "months": [d.month for d in statement.arrears],
        },
    ]
    params = _amounts(statement) | {
        "unit": unit.label,
        "deadline": pay_by(ctx.now, ArrearsPolicy()).date(),
        "since": case.opened_at.date(),
    }
    if step == "reminder":
        if quiet:
            return []
        # A dispute settled since the last reminder (or lately, before the first) is told.
        since = max(earlier, default=ctx.now - timedelta(days=ArrearsPolicy().remind_every_days))
        params["note"] = await _dispute_outcome(ctx.session, unit, since)
        return await _to_payers(ctx, unit, Reply("arrears.reminder", params))
    if step == "letter":
        letter = await write_letter(ctx, unit, statement)
        return [
            Reply("arrears.letter_task", params, to=chat, document=str(letter))
            for chat in await department_chats(ctx.session, unit.community_id, "service")
        ]
    if step == "visit":
        # The visit is casework: its button records the contact (handlers/arrears_work*.py).
        record = Choice(f"flow:{CONTACT_FLOW}:{case.id}", "arrears_work.btn.contact")
        return [
            Reply("arrears.visit_task", params, to=chat, choices=(record,))
            for chat in await department_chats(ctx.session, unit.community_id, "service")
        ]
    told = [
        Reply("arrears.legal_task", params, to=chat)
        for chat in await people_with_role(ctx.session, unit.community_id, "supervisor")
    ]
    # The legal step is casework: its file prepared for the director to decide.
    return [*told, *await prepare_legal(ctx, case)]


def _amounts(statement: Statement) -> dict[str, Any]:
    """What is overdue: the months, and the amount net of the credit."""
    return {
        "amount": Money(statement.net_arrears),
        "months": [month_text(d.month) for d in statement.arrears],
        "count": len(statement.arrears),
        "credit": Text(
            "arrears.credit", {"credit": Money(min(statement.credit, statement.total_arrears))}
        )
        if statement.credit > 0
        else "",
    }


async def _to_payers(ctx: Context, unit: Unit, reply: Reply) -> list[Reply]:
    """A reminder to the unit's owners and delegates; with no chat of theirs, the service
    desk is asked to pass it on by phone (the office's rules allow phone and SMS)."""
    chats = await payer_chats(ctx.session, unit)
    if chats:
        return [Reply(reply.key, reply.params, to=chat) for chat in chats]
    told = {"unit": unit.label, "message": Text(reply.key, reply.params)}
    return [
        Reply("arrears.by_phone", told, to=chat)
        for chat in await department_chats(ctx.session, unit.community_id, "service")
    ]


async def _dispute_outcome(session: AsyncSession, unit: Unit, since: datetime) -> Text | str:
    """How the unit's latest dispute ended, when that was after `since`."""
    query = select(FeeAgreement).where(
        FeeAgreement.unit_id == unit.id,
        FeeAgreement.kind == DISPUTE,
        FeeAgreement.status == RESOLVED,
        col(FeeAgreement.closed_at) > since,
    )
    found = (await session.exec(query.order_by(col(FeeAgreement.closed_at).desc()))).first()
    if found is None:
        return ""
    ticket = await session.get(Ticket, found.ticket_id) if found.ticket_id else None
    return Text(
        "arrears.after_dispute",
        {
            "number": ticket.number if ticket else "",
            "date": found.closed_at,
            "resolution": found.resolution or "-",
        },
    )


# ---- instalment plans ------------------------------------------------------------------------


async def _instalment_reminder(ctx: Context, unit: Unit, plan: FeeAgreement) -> list[Reply]:
    """Before an instalment's date, and the day after it if still unpaid (once each)."""
    policy = ArrearsPolicy()
    today = ctx.now.astimezone(ctx.settings.tz).date()
    done = await progress(ctx.session, plan)
    notice = instalment_notice(done, today, policy, noted(plan))
    if notice is None:
        return []
    kind, instalment = notice
    note(plan, f"{kind}:{instalment.number}", ctx.now)
    params = {
        "unit": unit.label,
        "n": instalment.number,
        "count": len(plan.instalments),
        "amount": Money(done.owed(instalment)),
        "due": instalment.due,
        "grace_end": grace_end(instalment, policy),
    }
    return await _to_payers(ctx, unit, Reply(f"arrears.instalment.{kind}", params))


async def _broken(
    ctx: Context, unit: Unit, plan: FeeAgreement, statement: Statement
) -> list[Reply]:
    """A missed instalment: the plan ends, the desk is told, the resident asked for all."""
    policy = ArrearsPolicy()
    done = await progress(ctx.session, plan)
    missed = done.current
    assert missed is not None
    ticket = await ctx.session.get(Ticket, plan.ticket_id) if plan.ticket_id else None
    params = _amounts(statement) | {
        "unit": unit.label,
        "number": ticket.number if ticket else "",
        "n": missed.number,
        "missed": Money(done.owed(missed)),
        "due": missed.due,
        "grace": policy.instalment_grace_days,
        "deadline": pay_by(ctx.now, policy).date(),
    }
    end(plan, BROKEN, ctx.now, f"instalment {missed.number} unpaid after {missed.due.isoformat()}")
    desk = [
        Reply("arrears.plan_broken", params, to=chat)
        for chat in await department_chats(ctx.session, unit.community_id, "service")
    ]
    return [*desk, *await _to_payers(ctx, unit, Reply("arrears.plan_broken.resident", params))]


# ---- the dunning letter ------------------------------------------------------------------------


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
            "amount": Money(statement.net_arrears),
            "credit": _amounts(statement)["credit"],
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
