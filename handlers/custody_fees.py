"""The custody rate on a unit's bills: a custody month's management charge is the full one
at the custody rate (70 %), the months after custody ends are charged in full again.

Bills are made by the roster import (and the demo); this module prices them: when custody
opens or ends (the unpaid bills of the months concerned) and when a bill is imported for
a month in custody. A paid bill is history and never changed. The rate a custody was
agreed at is kept in its opening entry of `Custody.history`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.messages import Text
from handlers.rules import custody as rules
from handlers.rules.fees import management_fee
from storage.models import Bill, Community, Custody, Unit


def agreed_rate(custody: Custody) -> Decimal:
    """The share of the full fee this custody was agreed at."""
    for entry in custody.history:
        if entry.get("event") == "opened" and entry.get("rate"):
            return Decimal(str(entry["rate"]))
    return Decimal("0.70")


async def unit_custodies(session: AsyncSession, unit_id: int | None) -> list[Custody]:
    rows = await session.exec(
        select(Custody).where(Custody.unit_id == unit_id).order_by(col(Custody.id))
    )
    return list(rows.all())


def covering(custodies: list[Custody], month: str) -> Custody | None:
    """The custody whose months include `month`, if any (the latest)."""
    found = [c for c in custodies if rules.in_custody(month, c.starts, c.ends)]
    return found[-1] if found else None


async def full_management(session: AsyncSession, unit: Unit) -> Decimal:
    community = await session.get(Community, unit.community_id)
    rate = community.management_rate if community else Decimal("0")
    return management_fee(rate, unit.area_m2)


async def imported_management(
    session: AsyncSession, unit: Unit, month: str, management: Decimal
) -> Decimal:
    """What an imported bill's management charge becomes: the file's (full) figure, at the
    custody rate for a custody month."""
    found = covering(await unit_custodies(session, unit.id), month)
    return management if found is None else rules.custody_management(management, agreed_rate(found))


async def reprice(session: AsyncSession, unit: Unit, since: str) -> list[str]:
    """Price the unit's unpaid bills from month `since` on by its custodies: the custody
    rate in custody months, the full fee in the others. Returns the months changed."""
    full = await full_management(session, unit)
    custodies = await unit_custodies(session, unit.id)
    bills = await session.exec(
        select(Bill).where(
            Bill.unit_id == unit.id, col(Bill.paid_at).is_(None), col(Bill.month) >= since
        )
    )
    changed = []
    for bill in bills.all():
        found = covering(custodies, bill.month)
        wanted = full if found is None else rules.custody_management(full, agreed_rate(found))
        if bill.management != wanted:
            bill.management = wanted
            session.add(bill)
            changed.append(bill.month)
    return sorted(changed)


async def statement_note(session: AsyncSession, unit: Unit, today: date) -> Any:
    """The statement's line on custody: from when, to when, at what share of the full fee,
    and the month's charge then; "" unless this month or a month still unpaid is one."""
    custodies = await unit_custodies(session, unit.id)
    unpaid = await session.exec(
        select(Bill.month).where(Bill.unit_id == unit.id, col(Bill.paid_at).is_(None))
    )
    months = {rules.month_of(today), *unpaid.all()}
    concerned = [c for c in custodies if any(covering([c], m) for m in months)]
    if not concerned:
        return ""
    latest = concerned[-1]
    rate = agreed_rate(latest)
    full = await full_management(session, unit)
    return Text(
        "custody.fee.statement",
        {
            "starts": latest.starts,
            "ends": latest.ends if latest.ends else Text("custody.open_ended"),
            "percent": int(rate * 100),
            "amount": rules.custody_management(full, rate),
        },
    )
