"""Fees and arrears (物业费查询): a bound unit's statement, requests to the desk, payments.

A resident sees the statement of their own bound units only; it is answered at once,
not a form. Its buttons start the follow-ups, flows of their own with the unit chosen:
dispute an amount or ask to pay in instalments (`fee_request`), or book a door-to-door
collection (`fee_visit`); each becomes a fee ticket pushed to the service desk.

Staff record a payment with its receipt number (`/paid`, or `frontdesk paid`): both go
through `record_payment`, which pays whole months oldest first (see handlers/rules/fees.py
for where the remainder goes) and tells the unit's bound residents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.arrears_cases import leave_if_paid
from handlers.binding import require_binding
from handlers.cards import card_choices
from handlers.context import Context
from handlers.directory import bound_units, department_chats, person_chats, unit_by_label
from handlers.ids import row_id
from handlers.messages import Choice, Money, Reply, Text
from handlers.rules import fees as rules
from handlers.rules.phone import mask_phone
from handlers.staffauth import acting_member
from storage import audit, tickets
from storage.models import (
    Bill,
    Binding,
    Community,
    Department,
    Payment,
    Ticket,
    TicketKind,
    Unit,
)
from storage.upsert import insert

REQUESTS = ("dispute", "instalment")
COLLECTION = "collection"
TIME_WINDOWS = ("weekday_am", "weekday_pm", "weekend")


# ---- shared wording helpers ------------------------------------------------------------


def month_text(month: str) -> Text:
    year, _, number = month.partition("-")
    return Text("fee.month", {"year": year, "month": number})


def joined(parts: Sequence[Any], key: str, empty: Any = "") -> Any:
    """Several parameters shown as one: nested `key` texts ("{first}、{rest}")."""
    if not parts:
        return empty
    result = parts[-1]
    for part in reversed(parts[:-1]):
        result = Text(key, {"first": part, "rest": result})
    return result


def local_today(ctx: Context) -> date:
    return ctx.now.astimezone(ctx.settings.tz).date()


# ---- the unit and its statement ----------------------------------------------------------


async def units_for(ctx: Context) -> list[Unit]:
    return [
        unit for unit, _ in await bound_units(ctx.session, ctx.person.id if ctx.person else None)
    ]


async def own_unit(ctx: Context, unit_id: str) -> Unit | None:
    """The unit with this id if the sender is bound to it; a forged id finds nothing."""
    ref = row_id(unit_id)
    if ref is None:
        return None
    return next((unit for unit in await units_for(ctx) if unit.id == ref), None)


async def chosen_unit(ctx: Context, answers: Mapping[str, Any]) -> Unit | None:
    value = str(answers.get("unit", ""))
    return await own_unit(ctx, value[5:]) if value.startswith("unit:") else None


async def show(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """The statement, answered at once: a query is not a form to fill in and confirm.

    With several bound units the resident first picks one (`flow:fees:<unit id>`).
    """
    refusal = await require_binding(ctx)
    if refusal is not None:
        return refusal
    units = await units_for(ctx)
    if initial and initial.isdigit():  # a unit button; free text routed here is ignored
        unit = await own_unit(ctx, initial)
        return [await statement_reply(ctx, unit)] if unit else [Reply("fee.not_your_unit")]
    if len(units) == 1:
        return [await statement_reply(ctx, units[0])]
    choices = tuple(
        Choice(f"flow:fees:{unit.id}", "fee.unit.option", {"unit": unit.label}) for unit in units
    )
    return [Reply("fee.unit.prompt", choices=choices)]


async def unit_bills(session: AsyncSession, unit_id: int | None) -> list[Bill]:
    rows = await session.exec(select(Bill).where(Bill.unit_id == unit_id).order_by(col(Bill.month)))
    return list(rows.all())


async def unit_statement(session: AsyncSession, unit: Unit, today: date) -> rules.Statement:
    return rules.statement(await unit_bills(session, unit.id), today)


async def credit_of(session: AsyncSession, unit_id: int | None) -> Decimal:
    """Payments received for the unit less the bills they paid: the credit left over."""
    received = (
        await session.exec(
            select(func.coalesce(func.sum(Payment.amount), 0)).where(Payment.unit_id == unit_id)
        )
    ).one()
    receipts = select(Payment.receipt).where(Payment.unit_id == unit_id)
    paid = [
        rules.bill_total(bill)
        for bill in (
            await session.exec(
                select(Bill).where(Bill.unit_id == unit_id, col(Bill.receipt).in_(receipts))
            )
        ).all()
    ]
    return rules.fen(Decimal(str(received)) - sum(paid, Decimal("0")))


def due_lines(statement: rules.Statement) -> Any:
    lines = [
        Text("fee.due.line", {"month": month_text(d.month), "amount": Money(d.amount)})
        for d in statement.due
    ]
    return joined(lines, "fee.lines", Text("fee.due.none"))


async def statement_reply(ctx: Context, unit: Unit) -> Reply:
    """Unit, area, the monthly charge and its parts, paid-through month, months due, total."""
    community = await ctx.session.get(Community, unit.community_id)
    rate = community.management_rate if community else Decimal("0")
    energy_rate = ctx.settings.public_energy_rate
    statement = await unit_statement(ctx.session, unit, local_today(ctx))
    credit = await credit_of(ctx.session, unit.id)
    params = {
        "unit": unit.label,
        "area": unit.area_m2,
        "rate": rate,
        "energy_rate": energy_rate,
        "management": Money(rules.management_fee(rate, unit.area_m2)),
        "energy": Money(rules.energy_fee(energy_rate, unit.area_m2)),
        "extra": Money(rules.fen(unit.extra_monthly)),
        "monthly": Money(rules.monthly_charge(rate, unit.area_m2, energy_rate, unit.extra_monthly)),
        "paid_through": month_text(statement.paid_through)
        if statement.paid_through
        else Text("fee.paid_through.none"),
        "due": due_lines(statement),
        "total": Money(statement.total_due),
        "credit": Text("fee.credit", {"credit": Money(credit)}) if credit > 0 else "",
    }
    # The follow-ups are flows of their own, started with the unit already chosen.
    choices = [Choice(f"flow:fee_request:dispute:{unit.id}", "fee.type.dispute")]
    if statement.total_due > 0:
        choices += [
            Choice(f"flow:fee_request:instalment:{unit.id}", "fee.type.instalment"),
            Choice(f"flow:fee_visit:{unit.id}", "fee.type.collection"),
        ]
    return Reply("fee.statement", params, choices=tuple(choices))


async def total_due(ctx: Context, answers: Mapping[str, Any]) -> Decimal:
    unit = await chosen_unit(ctx, answers)
    if unit is None:
        return Decimal("0")
    return (await unit_statement(ctx.session, unit, local_today(ctx))).total_due


# ---- requests to the service desk ------------------------------------------------------


async def begin_with_unit(
    ctx: Context, unit_id: str | None, answers: dict[str, Any]
) -> dict[str, Any] | list[Reply]:
    """Bound residents only; a unit given (by a button) must be theirs, a sole one is taken."""
    refusal = await require_binding(ctx)
    if refusal is not None:
        return refusal
    units = await units_for(ctx)
    if unit_id is not None:
        unit = await own_unit(ctx, unit_id)
        if unit is None:
            return [Reply("fee.not_your_unit")]
        answers["unit"] = f"unit:{unit.id}"
    elif len(units) == 1:
        answers["unit"] = f"unit:{units[0].id}"
    return answers


async def begin_request(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """`dispute:<unit id>` or `instalment:<unit id>` from the statement's buttons."""
    kind, _, unit_id = (initial or "").partition(":")
    answers: dict[str, Any] = {"kind": kind} if kind in REQUESTS else {}
    return await begin_with_unit(ctx, unit_id or None, answers)


async def begin_visit(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    unit_id = initial if initial and row_id(initial) else None
    return await begin_with_unit(ctx, unit_id, {})


def _type_text(kind: str) -> Text:
    return Text(f"fee.type.{kind}")


def time_text(value: str) -> Any:
    return Text(f"fee.time.{value[5:]}") if value.startswith("time:") else value


async def summarize_request(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    unit = await chosen_unit(ctx, answers)
    kind = str(answers.get("kind", ""))
    return {
        "unit": unit.label if unit else "",
        "type": _type_text(kind),
        "what": answers.get(kind, ""),
        "reason": answers.get("reason", ""),
    }


async def summarize_visit(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    unit = await chosen_unit(ctx, answers)
    return {
        "unit": unit.label if unit else "",
        "name": answers.get("name", ""),
        "phone": answers.get("phone", ""),
        "time": time_text(str(answers.get("time", ""))),
        "amount": Money(Decimal(str(answers.get("amount", "0")))),
    }


async def submit_request(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    """A dispute or instalment request: a fee ticket the desk answers by a promised time."""
    unit = await chosen_unit(ctx, answers)
    kind = str(answers.get("kind", ""))
    if unit is None or kind not in REQUESTS:
        return [Reply("fee.not_your_unit")]
    statement = await unit_statement(ctx.session, unit, local_today(ctx))
    person = ctx.person
    ticket = await tickets.create_ticket(
        ctx.session,
        **_ticket_fields(ctx, unit),
        contact_name=person.name if person else "",
        contact_phone=(person.phone or "") if person else "",
        description=f"{answers[kind]}\n{answers['reason']}"[:2000],
        details=_details(kind, statement),
        due_at=rules.reply_due(ctx.now),
    )
    push = {
        **_push_params(ticket, unit, statement),
        "what": answers[kind],
        "reason": answers["reason"],
        "due": ticket.due_at,
    }
    return [
        Reply(
            "fee.request.created",
            {"number": ticket.number, "type": _type_text(kind), "due": ticket.due_at},
        ),
        *await _to_desk(ctx, unit, "fee.staff.request", push, ticket),
    ]


async def submit_visit(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    """A door-to-door collection appointment (上门收费) for the service desk."""
    unit = await chosen_unit(ctx, answers)
    if unit is None:
        return [Reply("fee.not_your_unit")]
    statement = await unit_statement(ctx.session, unit, local_today(ctx))
    amount = Decimal(str(answers["amount"]))
    details = {**_details(COLLECTION, statement), "time": answers["time"]}
    ticket = await tickets.create_ticket(
        ctx.session,
        **_ticket_fields(ctx, unit),
        contact_name=answers["name"],
        contact_phone=answers["phone"],
        amount=amount,
        details=details,
    )
    time = time_text(str(answers["time"]))
    push = {**_push_params(ticket, unit, statement), "time": time, "amount": Money(amount)}
    return [
        Reply(
            "fee.collection.created",
            {"number": ticket.number, "time": time, "amount": Money(amount)},
        ),
        *await _to_desk(ctx, unit, "fee.staff.collection", push, ticket),
    ]


def _details(kind: str, statement: rules.Statement) -> dict[str, Any]:
    return {
        "type": kind,
        "months": [d.month for d in statement.due],
        "total_due": str(statement.total_due),
    }


def _push_params(ticket: Ticket, unit: Unit, statement: rules.Statement) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "type": _type_text(str(ticket.details.get("type", ""))),
        "unit": unit.label,
        "name": ticket.contact_name,
        "phone": mask_phone(ticket.contact_phone),
        "months": joined([month_text(d.month) for d in statement.due], "fee.join", "-"),
        "total": Money(statement.total_due),
    }


async def _to_desk(
    ctx: Context, unit: Unit, key: str, params: dict[str, Any], ticket: Ticket
) -> list[Reply]:
    """The request as a task card for the service desk, with the usual task buttons."""
    chats = await department_chats(ctx.session, unit.community_id, Department.service)
    return [
        Reply(key, params, to=chat, card=f"ticket:{ticket.id}", choices=card_choices(ticket))
        for chat in chats
    ]


def _ticket_fields(ctx: Context, unit: Unit) -> dict[str, Any]:
    return {
        "community_id": unit.community_id,
        "kind": TicketKind.fee,
        "department": Department.service,
        "actor": ctx.actor,
        "now": ctx.now,
        "tz": ctx.settings.tz,
        "unit_id": unit.id,
        "person_id": ctx.person.id if ctx.person else None,
        "channel": ctx.msg.channel,
        "chat_id": ctx.msg.chat_id,
    }


# ---- payments ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentOutcome:
    """A recorded payment, or why it was refused (`refusal` is a catalog key)."""

    refusal: str | None = None
    payment: Payment | None = None
    months: tuple[str, ...] = ()
    credit: Decimal = Decimal("0")
    notices: list[Reply] = field(default_factory=list)


async def receipt_used(session: AsyncSession, receipt: str) -> bool:
    for column in (Payment.receipt, Bill.receipt):
        if (await session.exec(select(column).where(column == receipt).limit(1))).first():
            return True
    return False


async def record_payment(
    session: AsyncSession, *, unit: Unit, amount: Decimal, receipt: str, actor: str, now: datetime
) -> PaymentOutcome:
    """Record money received for a unit: pay whole months oldest first, tell the residents.

    A receipt number is used once: a second payment with it is refused and nothing changes.
    """
    if await receipt_used(session, receipt):
        return PaymentOutcome(refusal="fee.paid.duplicate")
    unpaid = [b for b in await unit_bills(session, unit.id) if b.paid_at is None]
    allocation = rules.allocate(
        [rules.DueMonth(b.month, rules.bill_total(b)) for b in unpaid],
        amount,
        await credit_of(session, unit.id),
    )
    # ON CONFLICT DO NOTHING: two desks typing the same receipt at once; one wins.
    inserted = (
        await session.exec(
            insert(session, Payment)
            .values(
                unit_id=unit.id,
                amount=amount,
                receipt=receipt,
                months=list(allocation.months),
                recorded_by=actor,
                at=now,
            )
            .on_conflict_do_nothing(index_elements=["receipt"])
            .returning(col(Payment.id))
        )
    ).scalar_one_or_none()
    if inserted is None:
        return PaymentOutcome(refusal="fee.paid.duplicate")
    for bill in unpaid:
        if bill.month in allocation.months:
            bill.paid_at, bill.receipt = now, receipt
            session.add(bill)
    await session.flush()
    await leave_if_paid(session, unit.id, now)  # paying leaves the arrears ladder at once
    await audit.record(
        session,
        actor=actor,
        action="fee_paid",
        target=unit.label,
        detail={
            "unit_id": unit.id,
            "amount": str(amount),
            "receipt": receipt,
            "months": list(allocation.months),
            "credit": str(allocation.credit),
        },
        now=now,
    )
    payment = await session.get(Payment, inserted)
    notice = {
        "unit": unit.label,
        "amount": Money(amount),
        "receipt": receipt,
        "months": joined(
            [month_text(m) for m in allocation.months], "fee.join", Text("fee.months.none")
        ),
        "credit": Text("fee.receipt.credit", {"credit": Money(allocation.credit)})
        if allocation.credit > 0
        else "",
    }
    notices = [
        Reply("fee.receipt", notice, to=chat) for chat in await resident_chats(session, unit)
    ]
    return PaymentOutcome(
        payment=payment, months=allocation.months, credit=allocation.credit, notices=notices
    )


async def resident_chats(session: AsyncSession, unit: Unit) -> list[Any]:
    people = await session.exec(select(Binding.person_id).where(Binding.unit_id == unit.id))
    chats = []
    for person_id in people.all():
        chats.extend(await person_chats(session, person_id))
    return chats


def _parse_paid(argument: str) -> tuple[list[str], str, str] | None:
    """`[community] <unit label> <amount> <receipt>`; the label may contain spaces."""
    tokens = argument.split()
    if len(tokens) < 3:
        return None
    *where, amount, receipt = tokens
    return where, amount, receipt


async def _find_unit(ctx: Context, where: list[str]) -> list[Unit]:
    """The units the words name in the sender's communities; a leading code picks one."""
    communities = list((await ctx.session.exec(select(Community))).all())
    named = [c for c in communities if len(where) >= 2 and c.code.upper() == where[0].upper()]
    label = "".join(where[1:] if named else where)
    mine = {m.community_id for m in ctx.staff}
    found = []
    for community in named or communities:
        if None not in mine and community.id not in mine:
            continue
        unit = await unit_by_label(ctx.session, community.id, label)
        if unit is not None:
            found.append(unit)
    return found


async def paid_command(ctx: Context, argument: str) -> list[Reply]:
    """`/paid 3栋2单元1201 500 SJ20261127001`: the service desk records a payment."""
    parsed = _parse_paid(argument)
    if parsed is None:
        return [Reply("fee.paid.usage")]
    where, raw_amount, raw_receipt = parsed
    amount = rules.parse_amount(raw_amount)
    if amount is None:
        return [Reply("fee.paid.bad_amount", {"value": raw_amount[:20]})]
    receipt = rules.normalise_receipt(raw_receipt)
    if receipt is None:
        return [Reply("fee.paid.bad_receipt", {"value": raw_receipt[:50]})]
    units = await _find_unit(ctx, where)
    if not units:
        return [Reply("fee.paid.no_unit", {"unit": " ".join(where)[:50]})]
    if len(units) > 1:
        return [Reply("fee.paid.ambiguous", {"unit": " ".join(where)[:50]})]
    unit = units[0]
    if acting_member(ctx, unit.community_id, Department.service) is None:
        return [Reply("dialog.not_allowed")]
    outcome = await record_payment(
        ctx.session, unit=unit, amount=amount, receipt=receipt, actor=ctx.actor, now=ctx.now
    )
    if outcome.refusal is not None:
        return [Reply(outcome.refusal, {"receipt": receipt})]
    return [paid_reply(unit, amount, receipt, outcome), *outcome.notices]


def paid_reply(unit: Unit, amount: Decimal, receipt: str, outcome: PaymentOutcome) -> Reply:
    return Reply(
        "fee.paid.done",
        {
            "unit": unit.label,
            "amount": Money(amount),
            "receipt": receipt,
            "months": joined(
                [month_text(m) for m in outcome.months], "fee.join", Text("fee.months.none")
            ),
            "credit": Money(outcome.credit),
            "notified": len(outcome.notices),
        },
    )
