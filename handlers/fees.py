"""Fees and arrears (物业费查询): a bound unit's statement, requests to the desk, payments.

A resident sees the statement of their own bound units only; it is answered at once,
not a form. What it asks for is net of the unit's credit, and it shows what the desk
agreed (a dispute under review, an instalment plan; see handlers/arrears_cases.py). Its
choices start the follow-ups, flows of their own with the unit chosen: dispute an amount
or ask to pay in instalments (`fee_request`), or book a door-to-door collection
(`fee_visit`); each becomes a fee ticket pushed to the service desk. A dispute pauses the
unit's arrears reminders until the desk finishes its ticket; an instalment request's card
lets the desk record the plan agreed (handlers/fee_agreements.py).

Staff record a payment with its receipt number (`/paid`, or `frontdesk paid`): both go
through `record_payment`, which pays whole months oldest first (see handlers/rules/fees.py
for where the remainder goes) and tells the unit's bound residents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import custody_fees, ledger_entries
from handlers.arrears_cases import (
    DISPUTE,
    OPEN_DISPUTE,
    PLAN,
    agreement,
    agreement_notes,
    leave_if_paid,
    open_agreements,
)
from handlers.binding import require_binding
from handlers.cards import card_choices
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Money, Recipient, Reply, Text
from handlers.directory import (
    bound_units,
    closest_units,
    department_chats,
    person_chats,
    unit_by_label,
)
from handlers.rules import fees as rules
from handlers.rules import ledger as ledger_rules
from handlers.rules.lifecycle import OPEN
from handlers.rules.phone import mask_phone
from handlers.staffauth import acting_member
from storage import audit, tickets
from storage.models import (
    Bill,
    Binding,
    Community,
    Department,
    Payment,
    Person,
    Role,
    StaffMember,
    Ticket,
    TicketKind,
    Unit,
)
from storage.upsert import insert

REQUESTS = (DISPUTE, PLAN)
# Who is reminded of a unit's arrears: the owner, and a delegate acting for the owner with
# a power of attorney; never a tenant or a household member.
PAYERS = (Role.owner.value, Role.delegate.value)
COLLECTION = "collection"
# The company's default time zone (bot/settings.py `timezone`), for a caller giving none.
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
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
    """The unit's statement on `today`, with its credit to net against what is due."""
    bills = await unit_bills(session, unit.id)
    return rules.statement(bills, today, await credit_of(session, unit.id))


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
    agreed = await open_agreements(ctx.session, unit.id)
    notes = await agreement_notes(ctx.session, agreed)
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
        "credit": _credit_text(statement),
        "agreements": Text("fee.agreements", {"notes": notes}) if notes else "",
        "custody": await custody_fees.statement_note(ctx.session, unit, local_today(ctx)),
    }
    # The follow-ups are flows of their own, started with the unit already chosen; the
    # text names only those offered, in words true where choices are numbered lines too.
    choices = [Choice(f"flow:fee_request:dispute:{unit.id}", "fee.type.dispute")]
    followups = "fee.followups.dispute"
    if statement.net_due > 0:
        if not any(a.kind == PLAN for a in agreed):
            choices.append(Choice(f"flow:fee_request:instalment:{unit.id}", "fee.type.instalment"))
        choices.append(Choice(f"flow:fee_visit:{unit.id}", "fee.type.collection"))
        followups = "fee.followups.all" if len(choices) == 3 else "fee.followups.dispute_visit"
    params["followups"] = Text(followups)
    return Reply("fee.statement", params, choices=tuple(choices))


def _credit_text(statement: rules.Statement) -> Any:
    """The prepaid balance, and what is left to pay once it is used."""
    if statement.credit <= 0:
        return ""
    credit = Money(statement.credit)
    if statement.total_due <= 0:
        return Text("fee.credit", {"credit": credit})
    return Text("fee.credit.net", {"credit": credit, "net": Money(statement.net_due)})


async def total_due(ctx: Context, answers: Mapping[str, Any]) -> Decimal:
    unit = await chosen_unit(ctx, answers)
    if unit is None:
        return Decimal("0")
    return (await unit_statement(ctx.session, unit, local_today(ctx))).net_due


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
    person = ctx.person
    return await open_request(
        ctx,
        unit,
        kind,
        f"{answers[kind]}\n{answers['reason']}",
        person.name if person else "",
        (person.phone or "") if person else "",
    )


async def open_request(
    ctx: Context, unit: Unit, kind: str, description: str, name: str, phone: str
) -> list[Reply]:
    """A fee ticket of `kind` (dispute, instalment) for `unit`, asked in chat by one of its
    residents or registered by the desk for a caller (handlers/intake.py)."""
    statement = await unit_statement(ctx.session, unit, local_today(ctx))
    ticket = await tickets.create_ticket(
        ctx.session,
        **_ticket_fields(ctx, unit),
        contact_name=name,
        contact_phone=phone,
        description=description[:2000],
        details=_details(kind, statement),
        due_at=rules.reply_due(ctx.now, ctx.settings.tz),
    )
    if kind == DISPUTE:
        # Recorded with its dates: the arrears reminders wait while the ticket is open.
        ctx.session.add(
            agreement(
                unit_id=unit.id or 0,
                ticket_id=ticket.id,
                kind=DISPUTE,
                status=OPEN_DISPUTE,
                total=statement.net_due,
                months=[d.month for d in statement.due],
                recorded_by=ctx.actor,
                now=ctx.now,
            )
        )
    return [
        Reply(
            "fee.request.created",
            {"number": ticket.number, "type": _type_text(kind), "due": ticket.due_at},
        ),
        *await card_pushes(ctx, ticket),
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
    return [
        Reply(
            "fee.collection.created",
            {"number": ticket.number, "time": time, "amount": Money(amount)},
        ),
        *await card_pushes(ctx, ticket),
    ]


def _details(kind: str, statement: rules.Statement) -> dict[str, Any]:
    return {
        "type": kind,
        "months": [d.month for d in statement.due],
        "total_due": str(statement.total_due),
    }


async def card_pushes(ctx: Context, ticket: Ticket) -> list[Reply]:
    """The fee ticket's card for the service desk (drawn again after each change): what was
    asked, the months due then, its status and who took it, with the task buttons; an
    instalment request still open also offers to record the plan agreed."""
    unit = await ctx.session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    assignee = (
        await ctx.session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    )
    kind = str(ticket.details.get("type", ""))
    months = [month_text(m) for m in ticket.details.get("months", [])]
    what, _, reason = ticket.description.partition("\n")
    params = {
        "number": ticket.number,
        "type": _type_text(kind),
        "status": Text(f"status.{ticket.status}"),
        "assignee": assignee.name if assignee else Text("card.nobody"),
        "unit": unit.label if unit else "",
        "name": ticket.contact_name,
        "phone": mask_phone(ticket.contact_phone),
        "months": joined(months, "fee.join", "-"),
        "total": Money(Decimal(str(ticket.details.get("total_due", "0")))),
        "what": what,
        "reason": reason,
        "due": ticket.due_at,
        "time": time_text(str(ticket.details.get("time", ""))),
        "amount": Money(ticket.amount or Decimal("0")),
    }
    choices = card_choices(ticket)
    if kind == PLAN and ticket.status in OPEN and not ticket.details.get("agreement"):
        choices += (Choice(f"flow:fee_plan:{ticket.id}", "fee.plan.button"),)
    key = "fee.staff.collection" if kind == COLLECTION else "fee.staff.request"
    chats = await department_chats(ctx.session, ticket.community_id, Department.service)
    return [
        Reply(key, params, to=chat, card=f"ticket:{ticket.id}", choices=choices) for chat in chats
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
    session: AsyncSession,
    *,
    unit: Unit,
    amount: Decimal,
    receipt: str,
    actor: str,
    now: datetime,
    method: str = ledger_rules.CASH,
    tz: tzinfo | None = None,
) -> PaymentOutcome:
    """Record money received for a unit: pay whole months oldest first, tell the residents.
    The money is an entry of the desk's cash ledger (purpose fee, by `method`, on the day
    in `tz`, the community's time zone).

    A receipt number is used once: a second payment with it is refused and nothing changes.
    """
    if await receipt_used(session, receipt):
        return PaymentOutcome(refusal="fee.paid.duplicate")
    entry = await ledger_entries.record_in(
        session,
        tz=tz or DEFAULT_TZ,
        now=now,
        clerk=actor,
        community_id=unit.community_id,
        receipt=receipt,
        purpose="fee",
        method=method,
        amount=amount,
        payer=await _payer_name(session, unit),
        unit_id=unit.id,
        source="payment",
        audited=False,  # the payment's own audit row names the entry
    )
    if isinstance(entry, ledger_entries.Refused):
        return PaymentOutcome(refusal=entry.key)
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
        await session.delete(entry)  # the other desk's payment has the ledger's entry
        return PaymentOutcome(refusal="fee.paid.duplicate")
    entry.source = f"payment:{inserted}"
    session.add(entry)
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
            "ledger_entry": entry.id,
            "method": method,
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


async def _payer_name(session: AsyncSession, unit: Unit) -> str:
    """Who pays for the unit, as the ledger names them: its first owner or delegate."""
    found = await session.exec(
        select(Person.name)
        .join(Binding, col(Binding.person_id) == col(Person.id))
        .where(Binding.unit_id == unit.id, col(Binding.role).in_(PAYERS))
        .order_by(col(Binding.id))
        .limit(1)
    )
    return found.first() or ""


async def resident_chats(session: AsyncSession, unit: Unit) -> list[Any]:
    people = await session.exec(select(Binding.person_id).where(Binding.unit_id == unit.id))
    chats = []
    for person_id in people.all():
        chats.extend(await person_chats(session, person_id))
    return chats


async def payer_chats(session: AsyncSession, unit: Unit) -> list[Recipient]:
    """The chats of the unit's owners and their delegates: who is asked to pay."""
    people = await session.exec(
        select(Binding.person_id)
        .where(Binding.unit_id == unit.id, col(Binding.role).in_(PAYERS))
        .order_by(col(Binding.id))
    )
    chats: list[Recipient] = []
    for person_id in people.all():
        chats.extend(await person_chats(session, person_id))
    return chats


def _parse_paid(argument: str) -> tuple[list[str], str, str, str] | None:
    """`[community] <unit label> <amount> <receipt> [method]`; the label may contain
    spaces; the method (现金, 微信, 支付宝, 刷卡, 转账) is cash when not given."""
    tokens = argument.split()
    method = ledger_rules.CASH
    if tokens:
        named = ledger_rules.METHOD_WORDS.get(tokens[-1])
        named = named or (
            tokens[-1].lower() if tokens[-1].lower() in ledger_rules.METHODS else None
        )
        if named is not None:
            method = named
            tokens = tokens[:-1]
    if len(tokens) < 3:
        return None
    *where, amount, receipt = tokens
    return where, amount, receipt, method


async def _find_unit(ctx: Context, where: list[str]) -> tuple[list[Unit], list[Unit]]:
    """The units the words name in the sender's communities (a leading code picks one),
    and when none, the closest units there ("did you mean")."""
    communities = list((await ctx.session.exec(select(Community))).all())
    named = [c for c in communities if len(where) >= 2 and c.code.upper() == where[0].upper()]
    label = " ".join(where[1:] if named else where)
    mine = {m.community_id for m in ctx.staff}
    scope = [c for c in named or communities if None in mine or c.id in mine]
    found = []
    for community in scope:
        unit = await unit_by_label(ctx.session, community.id, label)
        if unit is not None:
            found.append(unit)
    if found:
        return found, []
    near = [u for c in scope for u in await closest_units(ctx.session, c.id, label)]
    return [], near


async def paid_command(ctx: Context, argument: str) -> list[Reply]:
    """`/paid 3栋2单元1201 500 SJ20261127001`: the service desk records a payment."""
    parsed = _parse_paid(argument)
    if parsed is None:
        return [Reply("fee.paid.usage")]
    where, raw_amount, raw_receipt, method = parsed
    amount = rules.parse_amount(raw_amount)
    if amount is None:
        return [Reply("fee.paid.bad_amount", {"value": raw_amount[:20]})]
    receipt = rules.normalise_receipt(raw_receipt)
    if receipt is None:
        return [Reply("fee.paid.bad_receipt", {"value": raw_receipt[:50]})]
    units, near = await _find_unit(ctx, where)
    if near:
        labels = " / ".join(unit.label for unit in near)
        return [Reply("fee.paid.near", {"unit": " ".join(where)[:50], "near": labels})]
    if not units:
        return [Reply("fee.paid.no_unit", {"unit": " ".join(where)[:50]})]
    if len(units) > 1:
        return [Reply("fee.paid.ambiguous", {"unit": " ".join(where)[:50]})]
    unit = units[0]
    if acting_member(ctx, unit.community_id, Department.service) is None:
        return [Reply("dialog.not_allowed")]
    outcome = await record_payment(
        ctx.session,
        unit=unit,
        amount=amount,
        receipt=receipt,
        actor=ctx.actor,
        now=ctx.now,
        method=method,
        tz=ctx.settings.tz,
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
