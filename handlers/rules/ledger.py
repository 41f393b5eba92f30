"""The desk's cash ledger (钱款录入) as plain rules: what an entry may be, the day it
belongs to, and the sums of a day. Money is `Decimal` throughout."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal

IN, OUT = "in", "out"
# What money comes in for, and what the desk pays out of its takings.
INCOME = ("fee", "repair", "service", "waste", "deposit", "rent", "venue", "other")
EXPENSES = ("supplies", "materials", "utilities", "refund", "sundry")  # none shared with INCOME
METHODS = ("cash", "wechat", "alipay", "card", "transfer")
CASH = "cash"
ZERO = Decimal("0.00")


class Invalid(ValueError):
    """An entry that cannot be taken: `key` is the catalog key of the reason."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class Amount:
    """One entry as the sums see it: a correction carries the sign that undoes its entry."""

    direction: str
    purpose: str
    method: str
    amount: Decimal


def business_day(at: datetime, tz: tzinfo) -> date:
    """The day an entry belongs to: the community's local date when it was taken."""
    return at.astimezone(tz).date()


def check(
    direction: str, purpose: str, method: str, amount: Decimal, correcting: bool = False
) -> None:
    """Refuse what no entry may be (raises `Invalid`). A correction keeps the purpose of
    the entry it undoes, so the sums by purpose net out; its direction is the other one."""
    if direction not in (IN, OUT):
        raise Invalid("ledger.error.direction")
    allowed = (*INCOME, *EXPENSES) if correcting else INCOME if direction == IN else EXPENSES
    if purpose not in allowed:
        raise Invalid("ledger.error.purpose")
    if method not in METHODS:
        raise Invalid("ledger.error.method")
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise Invalid("ledger.error.amount")


def purpose_sums(entries: Iterable[Amount], direction: str) -> dict[str, Decimal]:
    """What came in (`IN`) or went out (`OUT`) by purpose, corrections netted against
    their purpose: a fee taken and then corrected counts nothing under "fee"."""
    purposes = INCOME if direction == IN else EXPENSES
    sums: dict[str, Decimal] = {}
    for entry in entries:
        if entry.purpose in purposes:
            sign = 1 if entry.direction == direction else -1
            sums[entry.purpose] = sums.get(entry.purpose, ZERO) + sign * entry.amount
    return {purpose: total for purpose, total in sums.items() if total != ZERO}


def signed(entry: Amount) -> Decimal:
    """Money in is positive, money out negative."""
    return entry.amount if entry.direction == IN else -entry.amount


def net(entries: Iterable[Amount]) -> Decimal:
    return sum((signed(e) for e in entries), ZERO)


def cash_expected(entries: Iterable[Amount]) -> Decimal:
    """The cash that should be in the drawer: cash in less cash out."""
    return sum((signed(e) for e in entries if e.method == CASH), ZERO)
