"""Release slips (放行条): items, plates, dates, codes, who decides, and what the gate sees.

Two checks stand between a request and a slip, in this order: a tenant's, household
member's or delegate's request needs the owner's consent (DOMAIN §4), and a unit with
arrears needs the service desk's decision. With no owner reachable in chat the desk
decides both. An approved slip is valid once, on its own date. The applicant may cancel a
slip until it is used; its code is void from then on.

Statuses are the values of `storage.models.SlipStatus`, spelled out here because rules
do not touch storage.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from handlers.rules.dates import When, chinese_number, examples, read_when

OWNER_PENDING, DESK_PENDING = "owner_pending", "desk_pending"
APPROVED, DENIED, USED, CANCELLED = "approved", "denied", "used", "cancelled"
PENDING = (OWNER_PENDING, DESK_PENDING)
# What the applicant sees in /my: a status, or `expired` for an approved slip whose day
# has gone by unused.
EXPIRED = "expired"
STATES = (*PENDING, APPROVED, EXPIRED, USED, DENIED, CANCELLED)
# Ticket events of a slip, as its history shows them.
EVENTS = (
    "created",
    "sent_to_owner",
    "sent_to_desk",
    "auto_approved",
    "owner_approved",
    "owner_denied",
    "desk_approved",
    "desk_denied",
    "used",
    "cancelled",
)

# Unambiguous on a phone screen and read aloud at the gate: no 0/O, 1/I/L.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
QR_PREFIX = "FDSLIP:"
MAX_ITEMS = 30
MAX_QUANTITY = 999
MAX_DAYS_AHEAD = 30

MEASURES = "张台个件只把套箱辆袋包床组扇块条架盆桶幅"
_CN = "一二两三四五六七八九十"
_QTY = rf"(?:\d+|[{_CN}]+)"
_TRAILING = re.compile(
    rf"^(?P<name>.+?)\s*(?:[x×X*]\s*)?(?P<qty>{_QTY})\s*(?P<measure>[{MEASURES}]?)$"
)
_LEADING = re.compile(rf"^(?P<qty>{_QTY})\s*(?P<measure>[{MEASURES}]?)\s*(?P<name>\D.*)$")
_SEPARATORS = re.compile(r"[，,、;；\n]+|\s+and\s+", re.IGNORECASE)

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_L = "A-HJ-NP-Z"  # plate letters: I and O are never used
_PLATE = re.compile(rf"^[{PROVINCES}][{_L}][{_L}0-9]{{4}}[{_L}0-9挂学警港澳]$")
_NEW_ENERGY = re.compile(rf"^[{PROVINCES}][{_L}](?:[DF][{_L}0-9]\d{{4}}|\d{{5}}[DF])$")


class Invalid(ValueError):
    """An answer the rules refuse; `key` is the catalog key of the polite explanation."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def parse_item(text: str) -> dict[str, Any]:
    """`沙发1张`, `一张沙发`, `2 chairs`, `fridge x1`, `纸箱` → name, quantity, measure word."""
    text = " ".join(text.split())
    for pattern in (_TRAILING, _LEADING):
        found = pattern.match(text)
        if found is None:
            continue
        qty_text, measure = found["qty"], found["measure"]
        if not qty_text.isdigit() and not measure:
            continue  # 十字绣, 三人沙发: a numeral that is part of the name
        qty = chinese_number(qty_text)
        if qty is None:
            continue
        return _item(found["name"], qty, measure)
    return _item(text, 1, "")


def _item(name: str, qty: int, measure: str) -> dict[str, Any]:
    name = name.strip(" ：:-")
    if not name:
        raise Invalid("slip.error.item_name")
    if len(name) > 30:
        raise Invalid("slip.error.item_long", name=name[:30])
    if not 1 <= qty <= MAX_QUANTITY:
        raise Invalid("slip.error.quantity", name=name, limit=MAX_QUANTITY)
    return {"name": name, "qty": qty, "measure": measure}


def parse_items(text: str, already: int = 0) -> list[dict[str, Any]]:
    """A list such as `沙发1张，冰箱1台`; `already` items were listed before."""
    parts = [p.strip() for p in _SEPARATORS.split(text) if p.strip()]
    if not parts:
        raise Invalid("slip.error.items_empty")
    if already + len(parts) > MAX_ITEMS:
        raise Invalid("slip.error.too_many", limit=MAX_ITEMS)
    return [parse_item(part) for part in parts]


def parse_plate(text: str) -> str | None:
    """A Chinese plate (`浙A12345`, new-energy `浙AD12345`), normalised; None if not one."""
    plate = re.sub(r"[\s·•.\-]", "", text).upper()
    if _PLATE.match(plate) or _NEW_ENERGY.match(plate):
        return plate
    return None


def slip_day(text: str, today: date) -> When:
    """The day a slip is for, as typed (`明天上午`, `周六`, `11/28`): today or later, within
    `MAX_DAYS_AHEAD` days; the part of the day is kept when one was named."""
    found = read_when(text, today)
    if found is None:
        raise Invalid("slip.error.date", value=text.strip()[:20], **examples(example_day(today)))
    if found.day < today:
        raise Invalid("slip.error.past_date", day=found.day)
    if found.day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise Invalid("slip.error.too_far", days=MAX_DAYS_AHEAD)
    return found


def example_day(today: date) -> date:
    """The day the prompts show as an example: tomorrow, the usual day to move out."""
    return today + timedelta(days=1)


def new_code(randbelow: Callable[[int], int], length: int = CODE_LENGTH) -> str:
    return "".join(ALPHABET[randbelow(len(ALPHABET))] for _ in range(length))


def normalise_code(text: str) -> str:
    code = text.strip().upper()
    return code.removeprefix(QR_PREFIX).strip()


def needs_owner(role: str) -> bool:
    return role != "owner"


def may_see_arrears(role: str) -> bool:
    """Only an owner is told of the unit's arrears; others learn the desk will confirm."""
    return not needs_owner(role)


def first_status(role: str, owner_reachable: bool, arrears: bool) -> str:
    """Where a new request goes: the owner, the service desk, or straight to approval."""
    if needs_owner(role):
        return OWNER_PENDING if owner_reachable else DESK_PENDING
    return DESK_PENDING if arrears else APPROVED


def after_owner_consent(arrears: bool) -> str:
    return DESK_PENDING if arrears else APPROVED


def verdict(status: str, day: date, today: date) -> str:
    """What the gate is told: `valid`, or why not (used, cancelled, not_yet, expired,
    pending, denied)."""
    if status in (USED, DENIED, CANCELLED):
        return status
    if status != APPROVED:
        return "pending"
    if day > today:
        return "not_yet"
    if day < today:
        return "expired"
    return "valid"


def state(status: str, day: date, today: date) -> str:
    """What the applicant is shown: the status, or `expired` for an unused approved slip."""
    return EXPIRED if status == APPROVED and day < today else status


def cancellable(status: str, day: date, today: date) -> bool:
    """The applicant may withdraw a request or give back an approved slip not yet used."""
    return state(status, day, today) in (*PENDING, APPROVED)
