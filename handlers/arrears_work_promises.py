"""Promised pay dates followed up (约定缴费日期的跟进), a sweep of every worker round.

A promise is kept once the unit has paid at least the promised amount since it was made
(the payers are thanked); still unpaid the day after the promised day plus the community's
`arrears_promise_grace_days`, it is broken and the service desk gets a follow-up task
(`T-…`, handlers/followups.py) to call again. Each once: the verdict is recorded on the
contact (`followed_at`, `kept`) in the sweep's own transaction.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_
from sqlmodel import col, select

from handlers import policies
from handlers.arrears_cases import paid_since
from handlers.core.context import Context
from handlers.core.messages import Money, Reply
from handlers.fees import payer_chats
from handlers.followups import open_task
from handlers.rules import arrears_work as rules
from storage import audit
from storage.models import ArrearsCase, ArrearsContact, Department, Payment, Unit

BATCH = 200
TASK_HOURS = 24


async def promise_sweep(ctx: Context) -> list[Reply]:
    today = ctx.now.astimezone(ctx.settings.tz).date()
    # Only what may have an answer: money came in since the promise, or its day is past
    # (the community's grace is the rule's to weigh); the rest waits at no cost.
    money_in = (
        select(Payment.id)
        .where(
            col(Payment.unit_id) == col(ArrearsCase.unit_id),
            col(Payment.at) >= col(ArrearsContact.at),
        )
        .exists()
    )
    due = (
        await ctx.session.exec(
            select(ArrearsContact)
            .join(ArrearsCase, col(ArrearsCase.id) == col(ArrearsContact.case_id))
            .where(
                col(ArrearsContact.promised_on).is_not(None),
                col(ArrearsContact.followed_at).is_(None),
                or_(col(ArrearsContact.promised_on) < today, money_in),
            )
            .order_by(col(ArrearsContact.promised_on), col(ArrearsContact.id))
            .limit(BATCH)
            .with_for_update(of=ArrearsContact, skip_locked=True)
        )
    ).all()
    replies: list[Reply] = []
    for contact in due:
        case = await ctx.session.get(ArrearsCase, contact.case_id)
        unit = await ctx.session.get(Unit, case.unit_id) if case else None
        if case is None or unit is None or contact.promised_on is None:
            continue
        policy = await policies.for_community(ctx.session, ctx.settings, unit.community_id)
        paid = await paid_since(ctx.session, unit.id, contact.at)
        verdict = rules.promise_verdict(
            contact.promised_on,
            contact.promised_amount,
            paid,
            today,
            rules.PromisePolicy(grace_days=policy.arrears_promise_grace_days),
        )
        if verdict is None:
            continue
        contact.followed_at, contact.kept = ctx.now, verdict == rules.KEPT
        ctx.session.add(contact)
        params = {
            "unit": unit.label,
            "day": contact.promised_on,
            "amount": Money(contact.promised_amount if contact.promised_amount else paid),
            "paid": Money(paid),
        }
        if verdict == rules.KEPT:
            replies += [
                Reply("arrears_work.thanks", params, to=chat)
                for chat in await payer_chats(ctx.session, unit)
            ]
        else:
            replies += await _broken(ctx, case, unit, contact, params)
        await audit.record(
            ctx.session,
            actor="system",
            action=f"arrears_promise_{verdict}",
            target=unit.label,
            detail={"case": case.id, "contact": contact.id, "paid": str(paid)},
            now=ctx.now,
        )
    return replies


async def _broken(
    ctx: Context,
    case: ArrearsCase,
    unit: Unit,
    contact: ArrearsContact,
    params: dict[str, object],
) -> list[Reply]:
    """A follow-up task for the desk: call again, find out why, agree anew."""
    description = ctx.catalogs.text(
        ctx.settings.default_locale, "arrears_work.task.description", params
    )
    ticket, cards = await open_task(
        ctx,
        community_id=unit.community_id,
        department=Department.service,
        description=description,
        due_at=ctx.now + timedelta(hours=TASK_HOURS),
        unit_id=unit.id,
        details={"arrears_case": case.id, "arrears_contact": contact.id},
    )
    case.history = [
        *case.history,
        {"step": "promise_broken", "at": ctx.now.isoformat(), "task": ticket.number},
    ]
    ctx.session.add(case)
    return cards
