"""Leaving the arrears ladder: closing a unit's open case once nothing is overdue."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ArrearsCase, Bill


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
