"""A service request worked through (便民服务 / 委托服务): agreed, confirmed, paid.

The service desk agrees the details with the resident (item, area or quantity, time, fee,
expected result) from the request's card; the resident confirms or disagrees with
buttons. Confirmed, the request moves to the item's department, whose group gets the card
with the task buttons (accept, start, done) and the resident hears who comes and when.
Once done the resident accepts the work (the task's own "solved / not yet" buttons, in
the service's words: a problem sends it back to the department). The desk then records
the agreed fee with its receipt number and method as a ledger entry
(handlers/ledger_entries.py, purpose "service"); the revisit follows (handlers/revisits.py)
and closes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from sqlmodel import select

from handlers import ledger_entries
from handlers.cardsync import refreshed_cards
from handlers.core.actions import OnTicket
from handlers.core.context import Context
from handlers.core.messages import Money, Reply, Text
from handlers.directory import department_chats, ticket_resident
from handlers.my import own_ticket
from handlers.revisits import schedule_revisit
from handlers.rules import services as rules
from handlers.rules.ledger import METHODS
from handlers.rules.lifecycle import Forbidden, next_status
from handlers.services import agreed_text, keeper, service_of, stage_of
from handlers.tasks import tell_resident
from storage import audit, tickets
from storage.models import Department, Ticket, TicketKind, TicketStatus


@dataclass(frozen=True)
class Confirm(OnTicket):
    """The resident agrees to the details and the fee."""

    name: ClassVar[str] = "sv_yes"
    private: ClassVar[bool] = True


@dataclass(frozen=True)
class Disagree(OnTicket):
    """The resident does not agree: the desk talks to them again."""

    name: ClassVar[str] = "sv_no"
    private: ClassVar[bool] = True


async def desk_ticket(ctx: Context, ref: int | None, *stages: str) -> Ticket | list[Reply]:
    """The service request the sender (its community's service desk or a manager) may work
    at one of these stages: the one check of the agree and pay forms and commands."""
    ticket = await ctx.session.get(Ticket, ref, with_for_update=True) if ref else None
    if ticket is None or ticket.kind != TicketKind.service:
        return [Reply("dialog.stale")]
    if keeper(ctx, ticket.community_id) is None:
        return [Reply("dialog.not_allowed")]
    if stage_of(ticket) not in stages:
        return [
            Reply(
                "services.not_now",
                {"number": ticket.number, "stage": Text(f"services.stage.{stage_of(ticket)}")},
            )
        ]
    return ticket


async def _changed(
    ctx: Context, ticket: Ticket, action: str, data: dict[str, Any], to_status: str | None = None
) -> None:
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=ctx.actor,
        action=action,
        now=ctx.now,
        to_status=to_status,
        data=data,
    )
    await audit.record(
        ctx.session, actor=ctx.actor, action=action, target=ticket.number, detail=data, now=ctx.now
    )


# ---- agreeing the details -----------------------------------------------------------------


async def agree(ctx: Context, ticket_id: int, agreed: dict[str, Any]) -> list[Reply]:
    """The details as agreed on the phone or at the counter, sent to the resident to confirm."""
    found = await desk_ticket(ctx, ticket_id, rules.AGREE, rules.AWAITING)
    if isinstance(found, list):
        return found
    ticket = found
    agreed = {**agreed, "by": ctx.actor, "at": ctx.now.isoformat()}
    service = service_of(ticket)
    service.pop("confirmed_at", None)
    ticket.details = {**ticket.details, "service": {**service, "agreed": agreed}}
    ticket.amount = rules.fee(agreed["fee"])
    await _changed(ctx, ticket, "service_agreed", agreed)
    params = {"number": ticket.number, "agreed": _agreed_line(agreed)}
    buttons = (
        Confirm(ticket.id or 0).choice("services.btn.confirm"),
        Disagree(ticket.id or 0).choice("services.btn.disagree"),
    )
    asks = [
        Reply("services.confirm.ask", params, to=chat, choices=buttons)
        for chat in await ticket_resident(ctx.session, ticket)
    ]
    sent = "services.agree.sent" if asks else "services.agree.sent.phone"
    return [Reply(sent, params), *asks, *await refreshed_cards(ctx, ticket)]


def _agreed_line(agreed: dict[str, Any]) -> Any:
    return agreed_text({"agreed": agreed})


async def confirm(ctx: Context, action: Confirm) -> list[Reply]:
    """The resident agrees: the department's group gets the task card."""
    ticket = await own_ticket(ctx, action.ticket)
    if ticket is None or ticket.kind != TicketKind.service:
        return [Reply("dialog.stale")]
    if stage_of(ticket) != rules.AWAITING:
        return [Reply("services.confirm.late", {"number": ticket.number})]
    service = service_of(ticket)
    agreed = service["agreed"]
    department = agreed["department"]
    try:
        to_status = next_status(ticket.status, "transfer")
    except Forbidden:
        return [Reply("services.confirm.late", {"number": ticket.number})]
    ticket.details = {
        **ticket.details,
        "time": agreed["time"],
        "service": {**service, "confirmed_at": ctx.now.isoformat()},
    }
    # To the department as a fresh job, whoever looked at it at the desk before.
    await _changed(
        ctx,
        ticket,
        "service_confirmed",
        {"from": ticket.department, "to": department},
        to_status=to_status,
    )
    old = ticket.department
    ticket.department, ticket.assignee_id = department, None
    params = {
        "number": ticket.number,
        "department": Text(f"department.{department}"),
        "time": agreed["time"],
        "fee": Money(rules.fee(agreed["fee"])),
    }
    desk = [
        Reply("services.confirmed.desk", params, to=chat)
        for chat in await department_chats(ctx.session, ticket.community_id, Department.service)
        if old != Department.service or department != Department.service
    ]
    return [
        Reply("services.confirmed", params),
        *desk,
        *await refreshed_cards(ctx, ticket),
    ]


async def disagree(ctx: Context, action: Disagree) -> list[Reply]:
    """The resident does not agree: the desk is told and agrees the details again."""
    ticket = await own_ticket(ctx, action.ticket)
    if ticket is None or ticket.kind != TicketKind.service:
        return [Reply("dialog.stale")]
    if stage_of(ticket) != rules.AWAITING:
        return [Reply("services.confirm.late", {"number": ticket.number})]
    service = service_of(ticket)
    refused = service.pop("agreed")
    service["refused"] = [*service.get("refused", []), refused]
    ticket.details = {**ticket.details, "service": service}
    ticket.amount = None
    await _changed(ctx, ticket, "service_disagreed", {"fee": refused["fee"]})
    params = {"number": ticket.number, "name": ticket.contact_name, "agreed": _agreed_line(refused)}
    desk = [
        Reply("services.disagreed.desk", params, to=chat)
        for chat in await department_chats(ctx.session, ticket.community_id, Department.service)
    ]
    return [Reply("services.disagreed"), *desk, *await refreshed_cards(ctx, ticket)]


# ---- the fee collected ----------------------------------------------------------------------


def method_names(ctx: Context) -> dict[str, str]:
    """Every spelling of each method of payment (`现金`, `cash`, …) to its name."""
    names = {method: method for method in METHODS}
    for method in METHODS:
        for word in ctx.catalogs.words(f"services.words.method.{method}"):
            names[word] = method
    return names


async def paid(ctx: Context, ticket_id: int | None, receipt: str, method: str) -> list[Reply]:
    """The agreed fee taken, with its receipt: a ledger entry, the resident thanked, and
    the revisit planned. Refused politely when the receipt number was used already. A
    resident who pays at the counter (or tells the desk by phone) while their acceptance
    in chat is still awaited has accepted the work: it is recorded as accepted through
    the desk."""
    found = await desk_ticket(ctx, ticket_id, rules.COLLECT, rules.ACCEPTANCE)
    if isinstance(found, list):
        return found
    ticket = found
    if ticket.status == TicketStatus.done:
        # Checked first, so a refused receipt leaves the acceptance as it was.
        owed = rules.fee(service_of(ticket)["agreed"]["fee"])
        taken = await ledger_entries.receipt_taken(ctx.session, ticket.community_id, receipt)
        if owed != Decimal(0) and taken:
            return [Reply("ledger.error.receipt_used", {"receipt": receipt, "fee": Money(owed)})]
        await tickets.record_change(
            ctx.session,
            ticket,
            actor=ctx.actor,
            action="fixed",
            now=ctx.now,
            to_status=next_status(ticket.status, "fixed"),
            note=ctx.catalogs.text(ctx.catalogs.default_locale, "services.accepted.by_desk"),
        )
    service = service_of(ticket)
    amount = rules.fee(service["agreed"]["fee"])
    params: dict[str, Any] = {"number": ticket.number, "receipt": receipt, "fee": Money(amount)}
    if amount == Decimal(0):
        entry_id = None  # a free service: nothing passes the desk
    else:
        entry = await ledger_entries.record(
            ctx,
            community_id=ticket.community_id,
            receipt=receipt,
            purpose="service",
            method=method,
            amount=amount,
            payer=ticket.contact_name,
            unit_id=ticket.unit_id,
            source=f"ticket:{ticket.id}",
            note=str(service.get("name", "")),
        )
        if isinstance(entry, ledger_entries.Refused):
            return [Reply(entry.key, params)]
        entry_id = entry.id
    service |= {
        "receipt": receipt,
        "method": method,
        "entry": entry_id,
        "paid_at": ctx.now.isoformat(),
        "paid_by": ctx.actor,
    }
    ticket.details = {**ticket.details, "service": service}
    await _changed(ctx, ticket, "service_paid", {"receipt": receipt, "method": method})
    due = await schedule_revisit(ctx, ticket)
    return [
        Reply(
            "services.paid.done",
            {**params, "method": Text(f"services.method.{method}"), "due": due},
        ),
        *await tell_resident(
            ctx, ticket, "services.paid.resident", receipt=receipt, fee=Money(amount)
        ),
        *await refreshed_cards(ctx, ticket),
    ]


async def paid_command(ctx: Context, argument: str) -> list[Reply]:
    """`/servicepaid W-261126-0001 收据号 方式`."""
    try:
        payment = rules.parse_paid(argument, method_names(ctx))
    except rules.Invalid as error:
        return [Reply(error.key, error.params)]
    ticket = (await ctx.session.exec(select(Ticket).where(Ticket.number == payment.number))).first()
    if ticket is None or keeper(ctx, ticket.community_id) is None:
        return [Reply("services.error.no_ticket", {"number": payment.number})]
    return await paid(ctx, ticket.id, payment.receipt, payment.method)
