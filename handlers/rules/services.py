"""Convenience and commissioned services (便民服务 / 委托服务) as plain rules: where a
service ticket stands, and the lines the desk types (`/services add …`, `/servicepaid …`).

A request goes: the desk agrees the details with the resident (item, area or quantity,
time, fee, expected result), the resident confirms, the department does the work, the
resident accepts it, the desk collects the agreed fee with a receipt, then the revisit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from handlers.rules.money import AmountError, read_amount

# Where an open service request stands, in order (the desk's page shows them so).
AGREE, AWAITING, SCHEDULED, ACCEPTANCE, COLLECT, REVISIT = (
    "agree",
    "awaiting",
    "scheduled",
    "acceptance",
    "collect",
    "revisit",
)
STAGES = (AGREE, AWAITING, SCHEDULED, ACCEPTANCE, COLLECT, REVISIT)
CLOSED = "closed"
FINISHED = frozenset({"closed", "cancelled", "cannot_do"})
MOST = Decimal(100_000)  # no service the desk lists or agrees costs more


class Invalid(ValueError):
    """A line that cannot be taken: `key` is the catalog key of the reason."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def stage(status: str, service: Mapping[str, Any]) -> str:
    """Where a service ticket stands, from its status and its `details["service"]`."""
    if status in FINISHED:
        return CLOSED
    if not service.get("agreed"):
        return AGREE
    if not service.get("confirmed_at"):
        return AWAITING
    if status in ("new", "accepted", "in_progress"):
        return SCHEDULED
    if status == "done":
        return ACCEPTANCE
    if not service.get("receipt"):
        return COLLECT
    return REVISIT


def fee(text: str) -> Decimal:
    """An agreed fee or a listed price: 0 to 100,000 yuan, to the fen (0: free)."""
    try:
        return read_amount(text, least=Decimal(0), most=MOST)
    except AmountError as why:
        raise Invalid("services.error.amount", value=why.text) from None


@dataclass(frozen=True)
class NewItem:
    name: str
    department: str
    price: Decimal
    per: str
    description: str


def parse_item(text: str, departments: Mapping[str, str]) -> NewItem:
    """`家电清洗 维修 80 台 空调、油烟机清洗`: name, department (by any of its names in
    `departments`), price, what the price is for, and a description (the last two may be
    left out)."""
    parts = text.split(maxsplit=4)
    if len(parts) < 3:
        raise Invalid("services.add.usage")
    name, department, price = parts[0], parts[1].lower(), parts[2]
    if department not in departments:
        raise Invalid("services.error.department", value=parts[1])
    if len(name) > 100:
        raise Invalid("services.error.name")
    return NewItem(
        name=name,
        department=departments[department],
        price=fee(price),
        per=parts[3][:20] if len(parts) > 3 else "",
        description=parts[4][:500] if len(parts) > 4 else "",
    )


@dataclass(frozen=True)
class Payment:
    number: str
    receipt: str
    method: str


def parse_paid(text: str, methods: Mapping[str, str]) -> Payment:
    """`W-261126-0001 SJ0012 现金`: the ticket, the receipt number and how it was paid
    (by any of the method's names in `methods`)."""
    parts = text.split()
    if len(parts) != 3:
        raise Invalid("services.paid.usage")
    number, receipt, method = parts
    if method.lower() not in methods:
        raise Invalid("services.error.method", value=method)
    if len(receipt) > 50:
        raise Invalid("services.error.receipt")
    return Payment(number.upper(), receipt, methods[method.lower()])
