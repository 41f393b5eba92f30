"""Where a unit stands with its arrears: its case on the ladder, and what the desk agreed.

An `ArrearsCase` is closed once nothing is overdue. A `FeeAgreement` is either a dispute
of the amount (open while its fee ticket is open: the desk finishing, closing or giving up
the ticket resolves it, with the note as the resolution) or an instalment plan (active
until it is paid, or broken by a missed instalment).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.messages import Money, Text
from handlers.rules.arrears import Instalment, PlanProgress
from handlers.rules.lifecycle import OPEN
from storage.models import ArrearsCase, Bill, FeeAgreement, Payment, Ticket, TicketEvent

DISPUTE, PLAN = "dispute", "instalment"
# dispute: open → resolved (reopened if the resident says it is not solved)
OPEN_DISPUTE, RESOLVED = "open", "resolved"
# plan: active → kept (paid) or broken (an instalment missed beyond the grace)
ACTIVE, KEPT, BROKEN = "active", "kept", "broken"
# The ticket actions whose note says how a dispute ended.
_ENDINGS = ("done", "cannot", "cancel", "close")


# ---- the ladder's case -------------------------------------------------------------------


async def leave_if_paid(session: AsyncSession, unit_id: int | None, now: datetime) -> bool:
    """Close the unit's open case if no bill before this month is unpaid; True if closed."""
    case = (
        await session.exec(
            select(ArrearsCase).where(
                ArrearsCase.unit_id == unit_id, col(ArrearsCase.closed_at).is_(None)
            )
        )
    ).first()
    if case is None:
        return False
    this_month = now.strftime("%Y-%m")
    overdue = (
        await session.exec(
            select(Bill.id).where(
                Bill.unit_id == unit_id, col(Bill.paid_at).is_(None), col(Bill.month) < this_month
            )
        )
    ).first()
    if overdue is not None:
        return False
    close(case, now)
    return True


def close(case: ArrearsCase, now: datetime) -> None:
    case.closed_at = now
    case.history = [*case.history, {"step": "paid", "at": now.isoformat()}]


def paused_at(case: ArrearsCase) -> datetime | None:
    """When the case was paused, if it is paused now."""
    marks = [h for h in case.history if h["step"] in ("paused", "resumed")]
    if marks and marks[-1]["step"] == "paused":
        return datetime.fromisoformat(marks[-1]["at"])
    return None


# ---- agreements ----------------------------------------------------------------------------


async def open_agreements(session: AsyncSession, unit_id: int | None) -> list[FeeAgreement]:
    """The unit's agreements in force, oldest first; a dispute whose ticket has left the open
    statuses is resolved on the way (and one whose ticket reopened is open again)."""
    rows = (
        await session.exec(
            select(FeeAgreement)
            .where(FeeAgreement.unit_id == unit_id)
            .order_by(col(FeeAgreement.id))
        )
    ).all()
    current = []
    for agreement in rows:
        if agreement.kind == DISPUTE:
            await _follow_ticket(session, agreement)
        if agreement.closed_at is None:
            current.append(agreement)
    return current


async def _follow_ticket(session: AsyncSession, dispute: FeeAgreement) -> None:
    """A dispute is open exactly while its fee ticket is (new, accepted, in progress)."""
    ticket = await session.get(Ticket, dispute.ticket_id) if dispute.ticket_id else None
    if ticket is None:
        return
    is_open = ticket.status in OPEN
    if is_open and dispute.closed_at is not None:
        dispute.status, dispute.closed_at = OPEN_DISPUTE, None
        dispute.history = [*dispute.history, {"event": "reopened", "status": ticket.status}]
        session.add(dispute)
    elif not is_open and dispute.closed_at is None:
        ending = (
            await session.exec(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id, col(TicketEvent.action).in_(_ENDINGS))
                .order_by(col(TicketEvent.at).desc(), col(TicketEvent.id).desc())
            )
        ).first()
        dispute.status = RESOLVED
        dispute.closed_at = ending.at if ending else ticket.done_at or ticket.closed_at
        dispute.resolution = (ending.note if ending else "")[:2000]
        dispute.history = [*dispute.history, {"event": "resolved", "status": ticket.status}]
        session.add(dispute)


def agreement(
    *,
    unit_id: int,
    kind: str,
    status: str,
    total: Decimal,
    months: list[str],
    recorded_by: str,
    now: datetime,
    ticket_id: int | None = None,
    instalments: tuple[Instalment, ...] = (),
) -> FeeAgreement:
    return FeeAgreement(
        unit_id=unit_id,
        ticket_id=ticket_id,
        kind=kind,
        status=status,
        total=total,
        months=months,
        instalments=[
            {"number": i.number, "due": i.due.isoformat(), "amount": str(i.amount)}
            for i in instalments
        ],
        recorded_by=recorded_by,
        opened_at=now,
        history=[],
    )


def end(agreement: FeeAgreement, status: str, now: datetime, resolution: str = "") -> None:
    agreement.status, agreement.closed_at = status, now
    agreement.resolution = resolution[:2000]
    agreement.history = [*agreement.history, {"event": status, "at": now.isoformat()}]


def note(agreement: FeeAgreement, event: str, now: datetime, **data: Any) -> None:
    """Keep what the ladder did about the agreement (e.g. `before:2`, a reminder sent)."""
    agreement.history = [*agreement.history, {"event": event, "at": now.isoformat(), **data}]


def noted(agreement: FeeAgreement) -> set[str]:
    return {str(h["event"]) for h in agreement.history}


def instalments_of(agreement: FeeAgreement) -> tuple[Instalment, ...]:
    return tuple(
        Instalment(int(i["number"]), date.fromisoformat(i["due"]), Decimal(i["amount"]))
        for i in agreement.instalments
    )


async def paid_since(session: AsyncSession, unit_id: int | None, since: datetime) -> Decimal:
    """Money received for the unit from a moment on (what counts towards a plan)."""
    received = (
        await session.exec(
            select(func.coalesce(func.sum(Payment.amount), 0)).where(
                Payment.unit_id == unit_id, col(Payment.at) >= since
            )
        )
    ).one()
    return Decimal(str(received))


async def progress(session: AsyncSession, plan: FeeAgreement) -> PlanProgress:
    return PlanProgress(
        instalments_of(plan), await paid_since(session, plan.unit_id, plan.opened_at)
    )


# ---- wording -------------------------------------------------------------------------------


def instalment_lines(progress: PlanProgress) -> list[Text]:
    """One line per instalment: its date, amount, and whether it is paid."""
    return [
        Text(
            "fee.plan.line",
            {
                "n": i.number,
                "due": i.due,
                "amount": Money(i.amount),
                "state": Text("fee.plan.paid" if progress.owed(i) == 0 else "fee.plan.open"),
            },
        )
        for i in progress.instalments
    ]


async def agreement_notes(session: AsyncSession, agreements: list[FeeAgreement]) -> list[Text]:
    """What a statement says about the agreements in force."""
    notes: list[Text] = []
    for found in agreements:
        ticket = await session.get(Ticket, found.ticket_id) if found.ticket_id else None
        number = ticket.number if ticket else ""
        if found.kind == DISPUTE:
            notes.append(
                Text("fee.agreement.dispute", {"number": number, "since": found.opened_at})
            )
        else:
            done = await progress(session, found)
            notes.append(
                Text(
                    "fee.agreement.plan",
                    {
                        "number": number,
                        "count": len(found.instalments),
                        "paid": Money(min(done.paid, done.total)),
                        "total": Money(done.total),
                        "lines": instalment_lines(done),
                    },
                )
            )
    return notes
