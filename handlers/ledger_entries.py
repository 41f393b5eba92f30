"""Entries of the desk's cash ledger (钱款录入): every amount the desk takes or pays out.

`record` is the one way an entry is written, whoever takes the money: the desk typing it,
a fee payment (`/paid`), a paid repair or service, a renovation's waste-removal fee, rent,
a venue's fee. An entry is never edited; `correct` writes a new entry, with its own receipt
number, that undoes the first. Receipt numbers are unique in a community; a day that a
supervisor has locked takes no more entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.context import Context
from handlers.rules import ledger as rules
from storage import audit
from storage.models import LedgerDay, LedgerEntry
from storage.upsert import insert


@dataclass(frozen=True)
class Refused:
    """Why an entry was not written: `key` is the catalog key of the reason."""

    key: str


async def day_locked(ctx: Context, community_id: int, day: date) -> bool:
    return await _day_closed(ctx.session, community_id, day)


async def _day_closed(session: AsyncSession, community_id: int, day: date) -> bool:
    found = await session.exec(
        select(LedgerDay.status).where(LedgerDay.community_id == community_id, LedgerDay.day == day)
    )
    return found.first() in ("closed", "locked")


async def receipt_taken(session: AsyncSession, community_id: int, receipt: str) -> bool:
    """Whether the community's ledger has an entry with this receipt number (a form asks
    before it changes anything; `record` itself refuses a used one either way)."""
    found = await session.exec(
        select(LedgerEntry.id).where(
            LedgerEntry.community_id == community_id, LedgerEntry.receipt == receipt.strip()
        )
    )
    return found.first() is not None


async def record(
    ctx: Context,
    *,
    community_id: int,
    receipt: str,
    purpose: str,
    method: str,
    amount: Decimal,
    payer: str = "",
    unit_id: int | None = None,
    source: str = "",
    direction: str = rules.IN,
    note: str = "",
    corrects: LedgerEntry | None = None,
) -> LedgerEntry | Refused:
    """Write one entry on today's page of the community's ledger, by the sender (the
    clerk); refused when it cannot be taken (`Refused.key`): a bad purpose, method or
    amount, a receipt number already used in the community, a day already closed."""
    return await record_in(
        ctx.session,
        tz=ctx.settings.tz,
        now=ctx.now,
        clerk=ctx.actor,
        community_id=community_id,
        receipt=receipt,
        purpose=purpose,
        method=method,
        amount=amount,
        payer=payer,
        unit_id=unit_id,
        source=source,
        direction=direction,
        note=note,
        corrects=corrects,
    )


async def record_in(
    session: AsyncSession,
    *,
    tz: tzinfo,
    now: datetime,
    clerk: str,
    community_id: int,
    receipt: str,
    purpose: str,
    method: str,
    amount: Decimal,
    payer: str = "",
    unit_id: int | None = None,
    source: str = "",
    direction: str = rules.IN,
    note: str = "",
    corrects: LedgerEntry | None = None,
    audited: bool = True,
) -> LedgerEntry | Refused:
    """`record` for callers that hold a session rather than a `Context` (a fee payment
    recorded from the command line): the same checks, the clerk and the time given.
    `audited=False` for a caller whose own audit row names the entry (one action, one row)."""
    receipt = receipt.strip()
    if not receipt:
        return Refused("ledger.error.receipt")
    try:
        rules.check(direction, purpose, method, amount, correcting=corrects is not None)
    except rules.Invalid as error:
        return Refused(error.key)
    day = rules.business_day(now, tz)
    if await _day_closed(session, community_id, day):
        return Refused("ledger.error.day_closed")
    # ON CONFLICT DO NOTHING: two desks typing the same receipt at once; one wins.
    inserted = (
        await session.exec(
            insert(session, LedgerEntry)
            .values(
                community_id=community_id,
                day=day,
                receipt=receipt[:50],
                direction=direction,
                purpose=purpose,
                method=method,
                amount=amount,
                payer=payer[:100],
                unit_id=unit_id,
                clerk=clerk,
                at=now,
                source=source[:40],
                corrects_id=corrects.id if corrects else None,
                note=note[:500],
            )
            .on_conflict_do_nothing(index_elements=["community_id", "receipt"])
            .returning(col(LedgerEntry.id))
        )
    ).scalar_one_or_none()
    if inserted is None:
        return Refused("ledger.error.receipt_used")
    entry = await session.get(LedgerEntry, inserted)
    assert entry is not None
    if not audited:
        return entry
    await audit.record(
        session,
        actor=clerk,
        action="ledger_entry",
        target=f"ledger:{community_id}:{receipt}",
        detail={
            "entry": inserted,
            "direction": direction,
            "purpose": purpose,
            "method": method,
            "amount": str(amount),
            "source": source,
            "corrects": entry.corrects_id,
        },
        now=now,
    )
    return entry


async def correct(
    ctx: Context, entry: LedgerEntry, receipt: str, note: str
) -> LedgerEntry | Refused:
    """A new entry that undoes `entry` (its amount the other way), with its own receipt
    number and the reason; the first entry stays as it was."""
    if entry.corrects_id is not None:
        return Refused("ledger.error.correct_a_correction")
    already = await ctx.session.exec(
        select(LedgerEntry.id).where(LedgerEntry.corrects_id == entry.id)
    )
    if already.first() is not None:
        return Refused("ledger.error.already_corrected")
    other = rules.OUT if entry.direction == rules.IN else rules.IN
    return await record(
        ctx,
        community_id=entry.community_id,
        receipt=receipt,
        purpose=entry.purpose,
        method=entry.method,
        amount=entry.amount,
        payer=entry.payer,
        unit_id=entry.unit_id,
        source=f"ledger:{entry.id}",
        direction=other,
        note=note,
        corrects=entry,
    )
