"""The published accounts (收支情况公示) as plain rules: which days a period covers, the one
before it, and a statement's sums from the ledger's entries. Money is `Decimal`; the
stored statement keeps amounts as text ("1234.50") so JSON never rounds them.

Deposits (押金) are money held for someone, not income: they are summed apart and left out
of the income and the balance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from handlers.rules.ledger import EXPENSES, IN, INCOME, OUT, ZERO, Amount, purpose_sums

DEPOSIT = "deposit"
# Income as the statement lists it: everything taken in but deposits.
EARNED = tuple(p for p in INCOME if p != DEPOSIT)
_PERIOD = re.compile(r"^(\d{4})(?:-(?:(0[1-9]|1[0-2])|[Qq]([1-4])))?$")


class BadPeriod(ValueError):
    """A period no statement can be made for."""


@dataclass(frozen=True)
class Period:
    """A month (2026-11), a quarter (2026-Q4) or a year (2026); `ends` is its last day."""

    label: str
    starts: date
    ends: date

    def months(self) -> list[str]:
        """The months inside the period, as 2026-10."""
        found, day = [], self.starts
        while day <= self.ends:
            found.append(f"{day.year}-{day.month:02d}")
            day = _next_month(day)
        return found

    def previous(self) -> Period:
        """The period of the same length just before (2026-10, 2026-Q3, 2025)."""
        return period_of(_previous_label(self.label))


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _month(year: int, month: int) -> Period:
    starts = date(year, month, 1)
    return Period(f"{year}-{month:02d}", starts, _next_month(starts) - timedelta(days=1))


def period_of(text: str) -> Period:
    """`2026-11`, `2026-Q4` (or q4), `2026`; raises `BadPeriod`."""
    found = _PERIOD.match(text.strip())
    if found is None:
        raise BadPeriod(text)
    year = int(found.group(1))
    if not 2000 <= year <= 2100:
        raise BadPeriod(text)
    if found.group(2):
        return _month(year, int(found.group(2)))
    if found.group(3):
        quarter = int(found.group(3))
        first, last = _month(year, quarter * 3 - 2), _month(year, quarter * 3)
        return Period(f"{year}-Q{quarter}", first.starts, last.ends)
    return Period(str(year), date(year, 1, 1), date(year, 12, 31))


def _previous_label(label: str) -> str:
    if "-Q" in label:
        year, quarter = int(label[:4]), int(label[-1])
        return f"{year - 1}-Q4" if quarter == 1 else f"{year}-Q{quarter - 1}"
    if "-" in label:
        year, month = int(label[:4]), int(label[5:])
        return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"
    return str(int(label) - 1)


# ---- versions ---------------------------------------------------------------------------


def stored_period(label: str, version: int) -> str:
    """The row's period: the first version is the period itself, a corrected one `2026-11.2`."""
    return label if version == 1 else f"{label}.{version}"


def base_period(stored: str) -> str:
    return stored.split(".", 1)[0]


# ---- the sums ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Dated:
    """A ledger entry as a statement sees it: the day it belongs to and its amount."""

    day: date
    amount: Amount


@dataclass(frozen=True)
class Sums:
    """One period's money: income by purpose (deposits apart), expenses by purpose."""

    income: dict[str, Decimal]
    expenses: dict[str, Decimal]
    deposits: Decimal

    @property
    def income_total(self) -> Decimal:
        return sum(self.income.values(), ZERO)

    @property
    def expense_total(self) -> Decimal:
        return sum(self.expenses.values(), ZERO)

    @property
    def balance(self) -> Decimal:
        """Income less expenses; deposits held are neither."""
        return self.income_total - self.expense_total


def sums(entries: Iterable[Amount]) -> Sums:
    """A period's sums, corrections netted against their purpose (`purpose_sums`)."""
    listed = list(entries)
    taken = purpose_sums(listed, IN)
    spent = purpose_sums(listed, OUT)
    return Sums(
        income={p: taken[p] for p in EARNED if p in taken},
        expenses={p: spent[p] for p in EXPENSES if p in spent},
        deposits=taken.get(DEPOSIT, ZERO),
    )


def _text(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))


def sums_json(found: Sums) -> dict[str, str]:
    return {
        "income": _text(found.income_total),
        "expenses": _text(found.expense_total),
        "balance": _text(found.balance),
        "deposits": _text(found.deposits),
    }


def statement(
    period: Period, entries: Iterable[Dated], before: Iterable[Amount], today: date
) -> dict[str, Any]:
    """What a statement stores: income and expenses by purpose, the totals, the period
    before for comparison, each month's totals inside a quarter or a year, and the day it
    was counted (`as_of`: a draft counted before its period ended is not the period's)."""
    listed = [e for e in entries if period.starts <= e.day <= period.ends]
    found = sums(e.amount for e in listed)
    months = []
    if len(period.months()) > 1:
        for month in period.months():
            inside = [e.amount for e in listed if f"{e.day.year}-{e.day.month:02d}" == month]
            months.append({"month": month, **sums_json(sums(inside))})
    return {
        "income": {p: _text(v) for p, v in found.income.items()},
        "expenses": {p: _text(v) for p, v in found.expenses.items()},
        "totals": {
            **sums_json(found),
            "entries": len(listed),
            "as_of": today.isoformat(),
            "previous": {"period": period.previous().label, **sums_json(sums(before))},
            "months": months,
        },
    }


def unfinished(ends: date, as_of: str | None) -> bool:
    """Counted before the period was over: the sums so far, not the period's."""
    return as_of is not None and date.fromisoformat(as_of) <= ends


def not_ready(ends: date, as_of: str | None, today: date) -> str | None:
    """Why a draft cannot be published yet (a catalog key), or None: the period is not
    over, or the draft was counted before it was (make it again first)."""
    if today <= ends:
        return "statements.error.not_ended"
    if unfinished(ends, as_of):
        return "statements.error.stale"
    return None


def money(value: Decimal | str) -> Decimal:
    """A stored amount read back."""
    return Decimal(value)


def change(now: Mapping[str, Any], before: Mapping[str, Any], name: str) -> Decimal:
    """How much a total moved since the period before."""
    return money(now[name]) - money(before[name])


def yuan(amount: Decimal | str) -> str:
    """¥1,234.50: how an amount is shown."""
    value = money(amount).quantize(Decimal("0.01"))
    sign = "-" if value < 0 else ""
    return f"{sign}¥{abs(value):,.2f}"
