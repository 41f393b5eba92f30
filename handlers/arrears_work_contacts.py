"""A contact with a unit in arrears recorded (催缴记录), as chat's flow and the desk's page
both record it: how (call, visit, letter, message), whether the payer was reached, the
reason they gave (the case keeps the latest), what was said, and a promised pay date and
amount, which handlers/arrears_work_promises.py follows up.

A dispute about the amount or the service is not argued here: it becomes (or points to) the
unit's fee dispute (handlers/fees.py `open_request`, a fee ticket with its `FeeAgreement`),
which pauses the arrears ladder until the desk finishes the ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import col, select

from handlers.arrears_cases import DISPUTE, OPEN_DISPUTE
from handlers.arrears_work import owners_of, workable_case, worker
from handlers.core.context import Context
from handlers.core.messages import Incoming, Money, Reply, Text
from handlers.fees import local_today, open_request
from handlers.rules import arrears_work as rules
from storage import audit
from storage.models import ArrearsCase, ArrearsContact, ChatIdentity, FeeAgreement, Ticket, Unit

# How a dispute raised in a contact came in, as the desk's intake names it.
VIA = {"call": "phone", "message": "phone", "visit": "counter", "letter": "letter"}


@dataclass(frozen=True)
class Contact:
    method: str
    reached: bool
    reason: str = ""
    outcome: str = ""
    promised_on: date | None = None
    promised_amount: Decimal | None = None


def problem(contact: Contact, today: date) -> Reply | None:
    """Why the contact cannot be recorded as given (a forged or half-filled form)."""
    if contact.method not in rules.METHODS:
        return Reply("arrears_work.error.method")
    if contact.reason and contact.reason not in rules.REASONS:
        return Reply("arrears_work.error.reason")
    if contact.promised_on is not None and not rules.promise_day_allowed(
        contact.promised_on, today
    ):
        return Reply("arrears_work.error.day", {"within": rules.PROMISE_WITHIN_DAYS})
    if contact.promised_amount is not None and contact.promised_amount <= 0:
        return Reply("arrears_work.error.amount")
    return None


async def record_contact(ctx: Context, case_id: int, contact: Contact) -> list[Reply]:
    found = await workable_case(ctx, case_id)
    if isinstance(found, Reply):
        return [found]
    case, unit = found
    refused = problem(contact, local_today(ctx))
    if refused is not None:
        return [refused]
    member = worker(ctx, unit.community_id)
    reached = contact.reached
    row = ArrearsContact(
        case_id=case.id or 0,
        at=ctx.now,
        by=(member.name if member else ctx.actor)[:100],
        method=contact.method,
        reached=reached,
        reason=contact.reason if reached else "",
        outcome=contact.outcome.strip()[:1000],
        promised_on=contact.promised_on if reached else None,
        promised_amount=contact.promised_amount
        if reached and contact.promised_on is not None
        else None,
    )
    ctx.session.add(row)
    if row.reason:
        case.reason = row.reason
        ctx.session.add(case)
    await ctx.session.flush()
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="arrears_contact",
        target=unit.label,
        detail={
            "case": case.id,
            "contact": row.id,
            "method": row.method,
            "reached": reached,
            "reason": row.reason,
            "promised_on": row.promised_on.isoformat() if row.promised_on else None,
            "promised_amount": str(row.promised_amount) if row.promised_amount else None,
        },
        now=ctx.now,
    )
    replies = [Reply("arrears_work.recorded", _said(unit, row))]
    if row.reason == rules.DISPUTE:
        replies += await _dispute(ctx, case, unit, row)
    return replies


def _said(unit: Unit, row: ArrearsContact) -> dict[str, object]:
    return {
        "unit": unit.label,
        "method": Text(f"arrears_work.method.{row.method}"),
        "reached": Text("arrears_work.reached.yes" if row.reached else "arrears_work.reached.no"),
        "reason": Text(f"arrears_work.reason.{row.reason}") if row.reason else "—",
        "promise": Text(
            "arrears_work.recorded.promise",
            {
                "day": row.promised_on,
                "amount": Money(row.promised_amount)
                if row.promised_amount is not None
                else Text("arrears_work.promise.any"),
            },
        )
        if row.promised_on
        else "",
    }


async def _dispute(ctx: Context, case: ArrearsCase, unit: Unit, row: ArrearsContact) -> list[Reply]:
    """The unit's open dispute, or a new one filed as from the payer (the ladder waits)."""
    open_one = (
        await ctx.session.exec(
            select(FeeAgreement).where(
                FeeAgreement.unit_id == unit.id,
                FeeAgreement.kind == DISPUTE,
                FeeAgreement.status == OPEN_DISPUTE,
                col(FeeAgreement.closed_at).is_(None),
            )
        )
    ).first()
    if open_one is not None:
        ticket = await ctx.session.get(Ticket, open_one.ticket_id) if open_one.ticket_id else None
        return [Reply("arrears_work.dispute.exists", {"number": ticket.number if ticket else "-"})]
    owners = await owners_of(ctx, unit.id)
    payer = owners[0] if owners else None
    caller = _as_payer(ctx, VIA.get(row.method, "phone"), payer.name if payer else "")
    caller.person = payer
    filed = await open_request(
        caller,
        unit,
        DISPUTE,
        row.outcome or ctx.catalogs.text(ctx.settings.default_locale, "arrears_work.dispute.what"),
        payer.name if payer else "",
        (payer.phone or "") if payer else "",
    )
    number = next((r.params.get("number") for r in filed if r.to is None), "")
    return [
        Reply("arrears_work.dispute.opened", {"number": number, "unit": unit.label}),
        *(r for r in filed if r.to is not None),
    ]


def _as_payer(ctx: Context, via: str, name: str) -> Context:
    """The desk's context, filing as the payer it spoke with (as the desk files for a caller:
    handlers/intake.py): the channel is how it came in, nothing is sent there."""
    msg = Incoming(channel=via, chat_id="", user_id=ctx.msg.user_id, at=ctx.now, user_name=name)
    return Context(
        session=ctx.session,
        settings=ctx.settings,
        catalogs=ctx.catalogs,
        clock=ctx.clock,
        msg=msg,
        identity=ChatIdentity(channel=via, external_user_id=ctx.msg.user_id),
        locale=ctx.locale,
        staff=ctx.staff,
    )
