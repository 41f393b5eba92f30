"""The desk's cash ledger (钱款录入) as plain rules: what an entry may be, the day it
belongs to, and the sums of a day. Money is `Decimal` throughout."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal

IN, OUT = "in", "out"
# What money comes in for, and what the desk pays out of its takings.
INCOME = ("fee", "repair", "service", "waste", "deposit", "rent", "venue", "other")
EXPENSES = ("supplies", "materials", "utilities", "refund", "sundry")  # none shared with INCOME
# Money taken in for a purpose and paid back out under it: a deposit returned to its payer
# is not an expense, and nets against the deposits held.
PAID_BACK = ("deposit",)
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
    if correcting:
        allowed: tuple[str, ...] = (*INCOME, *EXPENSES)
    else:
        allowed = INCOME if direction == IN else (*EXPENSES, *PAID_BACK)
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


def as_amount(direction: str, purpose: str, method: str, amount: Decimal) -> Amount:
    return Amount(direction, purpose, method, amount)


def method_sums(entries: Iterable[Amount]) -> dict[str, Decimal]:
    """What each method brought in, less what was paid out by it (corrections netted)."""
    sums: dict[str, Decimal] = {}
    for entry in entries:
        sums[entry.method] = sums.get(entry.method, ZERO) + signed(entry)
    return {method: sums[method] for method in METHODS if sums.get(method, ZERO) != ZERO}


@dataclass(frozen=True)
class Summary:
    """A day's page in figures: by method, by purpose in and out, the net and the cash
    that should be in the drawer."""

    by_method: dict[str, Decimal]
    income: dict[str, Decimal]
    expenses: dict[str, Decimal]
    net: Decimal
    cash_expected: Decimal

    def as_json(self) -> dict[str, dict[str, str] | str]:
        def texts(sums: dict[str, Decimal]) -> dict[str, str]:
            return {name: str(value) for name, value in sums.items()}

        return {
            "by_method": texts(self.by_method),
            "income": texts(self.income),
            "expenses": texts(self.expenses),
            "net": str(self.net),
            "cash_expected": str(self.cash_expected),
        }


def summarize(entries: Iterable[Amount]) -> Summary:
    kept = list(entries)
    return Summary(
        by_method=method_sums(kept),
        income=purpose_sums(kept, IN),
        expenses=purpose_sums(kept, OUT),
        net=net(kept),
        cash_expected=cash_expected(kept),
    )


@dataclass(frozen=True)
class Differences:
    """A day's close: the cash counted against the cash expected, and the bank deposit
    against the cash counted; either not zero is flagged to the supervisor."""

    counted: Decimal  # counted - expected: a shortfall is negative
    deposited: Decimal  # deposited - counted

    @property
    def flagged(self) -> bool:
        return self.counted != ZERO or self.deposited != ZERO


def differences(expected: Decimal, counted: Decimal, deposited: Decimal) -> Differences:
    return Differences(counted=counted - expected, deposited=deposited - counted)


# ---- one line typed at the desk ---------------------------------------------------------

# The words the desk types for each value (Chinese first; the English names are accepted).
DIRECTION_WORDS = {"收": IN, "收入": IN, "in": IN, "支": OUT, "支出": OUT, "out": OUT}
PURPOSE_WORDS = {
    "物业费": "fee",
    "管理费": "fee",
    "维修": "repair",
    "维修费": "repair",
    "服务": "service",
    "服务费": "service",
    "垃圾清运": "waste",
    "垃圾清运费": "waste",
    "装修垃圾": "waste",
    "押金": "deposit",
    "保证金": "deposit",
    "租金": "rent",
    "场地": "venue",
    "场地费": "venue",
    "其他": "other",
    "办公用品": "supplies",
    "材料": "materials",
    "水电": "utilities",
    "水电费": "utilities",
    "退款": "refund",
    "退押金": "refund",
    "杂项": "sundry",
    "杂费": "sundry",
}
METHOD_WORDS = {
    "现金": "cash",
    "微信": "wechat",
    "支付宝": "alipay",
    "刷卡": "card",
    "银行卡": "card",
    "转账": "transfer",
    "银行转账": "transfer",
}
RECEIPT_WORDS = ("收据号", "收据", "票据号", "receipt")
PAYER_WORDS = ("付款人", "交款人", "收款人", "payer")
UNIT_WORDS = ("房号", "单元", "unit")
NOTE_WORDS = ("备注", "note")


@dataclass(frozen=True)
class Line:
    """An entry as the desk typed it: `收 300 押金 现金 收据号 SJ001 付款人 张伟 3-2-1201`.
    `unit` is the unit's label as typed (found in the community by the caller)."""

    direction: str
    purpose: str
    method: str
    amount: Decimal
    receipt: str
    payer: str = ""
    unit: str = ""
    note: str = ""


def _word(token: str, table: dict[str, str], names: Iterable[str]) -> str | None:
    lowered = token.lower()
    if lowered in names:
        return lowered
    return table.get(token)


def read_line(text: str, read_money: Callable[[str], Decimal | None]) -> Line:
    """The desk's one line, words in any order after 收/支; raises `Invalid` with the key
    of what is missing or wrong. `read_money` reads an amount (handlers/rules/money.py)."""
    tokens = text.split()
    if not tokens or tokens[0].lower() not in DIRECTION_WORDS:
        raise Invalid("ledger.error.direction")
    direction = DIRECTION_WORDS[tokens[0].lower()]
    fields: dict[str, str] = {}
    loose: list[str] = []
    rest = tokens[1:]
    index = 0
    while index < len(rest):
        token = rest[index]
        lowered = token.lower()
        if lowered in NOTE_WORDS:
            fields["note"] = " ".join(rest[index + 1 :])
            break
        tagged = next(
            (
                name
                for name, words in (
                    ("receipt", RECEIPT_WORDS),
                    ("payer", PAYER_WORDS),
                    ("unit", UNIT_WORDS),
                )
                if lowered in words
            ),
            None,
        )
        if tagged is not None and index + 1 < len(rest):
            fields[tagged] = rest[index + 1]
            index += 2
            continue
        if "amount" not in fields and (read_money(token)) is not None:
            fields["amount"] = token
        elif "purpose" not in fields and _word(token, PURPOSE_WORDS, (*INCOME, *EXPENSES)):
            fields["purpose"] = _word(token, PURPOSE_WORDS, (*INCOME, *EXPENSES)) or ""
        elif "method" not in fields and _word(token, METHOD_WORDS, METHODS):
            fields["method"] = _word(token, METHOD_WORDS, METHODS) or ""
        else:
            loose.append(token)
        index += 1
    amount = read_money(fields.get("amount", ""))
    if amount is None:
        raise Invalid("ledger.error.amount")
    if "purpose" not in fields:
        raise Invalid("ledger.error.purpose")
    if "receipt" not in fields:
        raise Invalid("ledger.error.receipt")
    unit = fields.get("unit") or " ".join(loose)
    return Line(
        direction=direction,
        purpose=fields["purpose"],
        method=fields.get("method", CASH),
        amount=amount,
        receipt=fields["receipt"],
        payer=fields.get("payer", ""),
        unit=unit,
        note=fields.get("note", ""),
    )
