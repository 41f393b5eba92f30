"""Property fees (物业费): the monthly charge, a unit's statement, and how a payment is applied.

Money is `Decimal` rounded to the fen (0.01 yuan), each component on its own, as the
bills are issued. A payment pays the oldest unpaid months first and only whole months:
the office does not split a month's bill between two receipts. What is left over is the
unit's credit (预存余额). It is not stored in a column of its own: it is always the sum of
the unit's payments less the bills those payments paid, so it can never drift from the
receipts. The next payment adds it to its own amount before paying months, and what a
statement or a reminder asks for is net of it (`net_due`, `net_arrears`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from handlers.rules.money import AmountError, read_amount
from handlers.rules.question import REPLY_AT, next_working_day

CENT = Decimal("0.01")
# The largest single payment a staff member may type (a typo guard, not a policy).
MAX_PAYMENT = Decimal("1000000")


class BillLike(Protocol):
    """One month's bill, as stored (`storage.models.Bill` fits)."""

    @property
    def month(self) -> str: ...  # "2026-09"
    @property
    def management(self) -> Decimal: ...
    @property
    def energy(self) -> Decimal: ...
    @property
    def collected(self) -> Decimal: ...
    @property
    def paid_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class DueMonth:
    month: str
    amount: Decimal


@dataclass(frozen=True)
class Statement:
    """What a unit owes on a day: months due (oldest first) and the total."""

    paid_through: str | None  # the last month of an unbroken run of paid months
    due: tuple[DueMonth, ...]
    arrears: tuple[DueMonth, ...]  # the due months before the current one (欠费)
    credit: Decimal = Decimal("0")  # the unit's prepaid balance (预存余额)

    @property
    def total_due(self) -> Decimal:
        return sum((d.amount for d in self.due), Decimal("0"))

    @property
    def total_arrears(self) -> Decimal:
        return sum((d.amount for d in self.arrears), Decimal("0"))

    @property
    def net_due(self) -> Decimal:
        """What is left to pay once the credit is used."""
        return max(self.total_due - self.credit, Decimal("0"))

    @property
    def net_arrears(self) -> Decimal:
        """The overdue months less the credit: what a reminder asks for."""
        return max(self.total_arrears - self.credit, Decimal("0"))

    def without(self, months: Iterable[str]) -> Statement:
        """The same statement with some months left out (those an instalment plan covers);
        the credit went into the plan, so none is left to net here."""
        skip = set(months)
        return Statement(
            paid_through=self.paid_through,
            due=tuple(d for d in self.due if d.month not in skip),
            arrears=tuple(d for d in self.arrears if d.month not in skip),
        )

    @property
    def has_arrears(self) -> bool:
        return bool(self.arrears)


@dataclass(frozen=True)
class Allocation:
    """A payment applied to bills: the months it paid and the credit left over."""

    months: tuple[str, ...]
    applied: Decimal
    credit: Decimal


def fen(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def management_fee(rate: Decimal, area: Decimal) -> Decimal:
    return fen(rate * area)


def energy_fee(energy_rate: Decimal, area: Decimal) -> Decimal:
    return fen(energy_rate * area)


def monthly_charge(rate: Decimal, area: Decimal, energy_rate: Decimal, extra: Decimal) -> Decimal:
    """Management rate × m² + public energy rate × m² + collected-on-behalf items."""
    return management_fee(rate, area) + energy_fee(energy_rate, area) + fen(extra)


def bill_total(bill: BillLike) -> Decimal:
    return fen(bill.management + bill.energy + bill.collected)


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def statement(bills: Iterable[BillLike], today: date, credit: Decimal = Decimal("0")) -> Statement:
    """A unit's statement on `today`: bills of later months are not due yet."""
    current = month_of(today)
    ordered = sorted(bills, key=lambda b: b.month)
    paid_through: str | None = None
    for bill in ordered:
        if bill.paid_at is None:
            break
        paid_through = bill.month
    due = tuple(
        DueMonth(b.month, bill_total(b))
        for b in ordered
        if b.paid_at is None and b.month <= current
    )
    return Statement(
        paid_through=paid_through,
        due=due,
        arrears=tuple(d for d in due if d.month < current),
        credit=credit,
    )


def allocate(unpaid: Sequence[DueMonth], amount: Decimal, credit: Decimal) -> Allocation:
    """Pay whole months, oldest first, from the amount plus earlier credit."""
    available = fen(amount + credit)
    months: list[str] = []
    applied = Decimal("0")
    for bill in sorted(unpaid, key=lambda d: d.month):
        if bill.amount > available - applied:
            break
        months.append(bill.month)
        applied += bill.amount
    return Allocation(months=tuple(months), applied=applied, credit=available - applied)


def parse_amount(text: str) -> Decimal | None:
    """A payment in yuan (`500`, `¥1,234.50`, `500元`): above 0, at most `MAX_PAYMENT`,
    to the fen; None if it is not one (see `handlers.rules.money`)."""
    try:
        return read_amount(text, least=CENT, most=MAX_PAYMENT)
    except AmountError:
        return None


def reply_due(now: datetime, tz: tzinfo) -> datetime:
    """When the service desk has promised to answer a fee request: by the office's close
    (18:00) on the second working day, never at an hour the office is shut."""
    day = next_working_day(next_working_day(now.astimezone(tz).date()))
    return datetime.combine(day, REPLY_AT, tzinfo=tz)


_RECEIPT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{3,49}$")


def normalise_receipt(text: str) -> str | None:
    """A receipt number (收费票据号) such as `SJ20261127001`, upper-cased; None if malformed."""
    cleaned = text.strip().upper()
    return cleaned if _RECEIPT.match(cleaned) else None


_AMOUNT_SEPARATORS = re.compile(r"[\s,，、/;；+]+")


def parse_amounts(text: str) -> list[Decimal] | None:
    """Several amounts in one message: `300 300 252.60`, `300、300、252.6`, `300/300/252.60`."""
    parts = [p for p in _AMOUNT_SEPARATORS.split(text.replace("元", " ")) if p]
    amounts = [parse_amount(p) for p in parts]
    if not amounts or any(a is None for a in amounts):
        return None
    return [a for a in amounts if a is not None]


_FULL_DAY = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?$")
_MONTH_DAY = re.compile(r"^(\d{1,2})[-/.月](\d{1,2})[日号]?$")


def parse_day(text: str, today: date) -> date | None:
    """A date as typed: `2026-12-05`, `2026/12/5`, `2026年12月5日`, or without the year
    (`12月5日`, `12-5`, `12/5`), then the next such day from `today` on."""
    cleaned = "".join(text.split()).translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    full = _FULL_DAY.match(cleaned)
    short = _MONTH_DAY.match(cleaned)
    try:
        if full is not None:
            return date(int(full[1]), int(full[2]), int(full[3]))
        if short is not None:
            month, day = int(short[1]), int(short[2])
            found = date(today.year, month, day)
            return found if found >= today else date(today.year + 1, month, day)
    except ValueError:
        return None
    return None
