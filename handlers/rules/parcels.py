"""Parcels at the desk (快递代收): when a waiting parcel is reminded, when the desk gets a
task for it, how old it is, the waybill and its courier, the pick-up code, the one line
the desk types to register a parcel, and the ID noted when someone collects for the
resident.

The reminders keep to a fixed timetable from the parcel's arrival: the first after
`remind_hours`, then every `every_hours`. A worker that was down for days sends one
reminder when it comes back, not one for each slot it missed, and the next keeps to the
timetable. Statuses are the values of `storage.models.ParcelStatus`, spelled out here
because rules do not touch storage.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from handlers.rules import units

WAITING, COLLECTED, RETURNED = "waiting", "collected", "returned"
CODE_LENGTH = 6
# The couriers the desk sees most, by what their waybills look like; the first that
# matches is the guess (the desk may change it). Keys name `parcels.courier.<key>`.
COURIERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("sf", re.compile(r"^SF\d{10,15}$")),
    ("jd", re.compile(r"^JD[A-Z0-9]{8,18}$")),
    ("yto", re.compile(r"^YT\d{10,15}$")),
    ("jt", re.compile(r"^JT\d{10,15}$")),
    ("zto", re.compile(r"^(?:ZTO\d{8,15}|7[0-9]\d{10})$")),
    ("sto", re.compile(r"^(?:STO\d{8,15}|77\d{11}|[2-9]68\d{9,10})$")),
    ("yunda", re.compile(r"^(?:YD\d{8,15}|(?:3[1-4]|4[236])\d{11})$")),
    ("deppon", re.compile(r"^DPK\d{6,15}$")),
    ("ems", re.compile(r"^(?:E[A-Z]\d{9}CN|1\d{12})$")),
)
COURIER_KEYS = tuple(key for key, _ in COURIERS)
_WAYBILL = re.compile(r"^[A-Z]{0,5}\d[A-Z0-9]{5,29}$")
_PHONE = re.compile(r"^1[3-9]\d{9}$")
_STRIP = re.compile(r"[\s\-‐‑–—_]+")


@dataclass(frozen=True)
class ParcelPolicy:
    """The seed's numbers: remind after a day, then daily; the desk's task after 5 days."""

    remind_hours: int = 24
    every_hours: int = 24
    task_days: int = 5


def next_reminder(received_at: datetime, reminded_at: datetime | None, p: ParcelPolicy) -> datetime:
    """When the next reminder is due: `remind_hours` after arrival, then the first slot of
    the timetable (every `every_hours`) after the last reminder sent."""
    first = received_at + timedelta(hours=p.remind_hours)
    if reminded_at is None or reminded_at < first:
        return first
    every = timedelta(hours=p.every_hours)
    slots = (reminded_at - first) // every + 1
    return first + slots * every


def reminder_due(
    received_at: datetime, reminded_at: datetime | None, now: datetime, p: ParcelPolicy
) -> bool:
    return now >= next_reminder(received_at, reminded_at, p)


def task_at(received_at: datetime, p: ParcelPolicy) -> datetime:
    """When a parcel still waiting becomes the desk's task (phone, or return it)."""
    return received_at + timedelta(days=p.task_days)


def task_due(received_at: datetime, now: datetime, p: ParcelPolicy) -> bool:
    return now >= task_at(received_at, p)


def next_check(
    received_at: datetime, reminded_at: datetime | None, has_task: bool, p: ParcelPolicy
) -> datetime:
    """When a waiting parcel next needs looking at: its next reminder, or the task first."""
    due = next_reminder(received_at, reminded_at, p)
    return due if has_task else min(due, task_at(received_at, p))


@dataclass(frozen=True)
class Age:
    """How long a parcel has waited, as the lists show it: whole days and hours."""

    days: int
    hours: int

    @property
    def total_hours(self) -> int:
        return self.days * 24 + self.hours


def age(received_at: datetime, now: datetime) -> Age:
    hours = max(0, int((now - received_at).total_seconds() // 3600))
    return Age(hours // 24, hours % 24)


def tone(received_at: datetime, now: datetime, p: ParcelPolicy) -> str:
    """`fresh`, `reminded` (past the first reminder) or `overdue` (the desk's task is due)."""
    if task_due(received_at, now, p):
        return "overdue"
    if now >= received_at + timedelta(hours=p.remind_hours):
        return "reminded"
    return "fresh"


def fold(text: str) -> str:
    """Full-width to ASCII, upper case, no spaces or dashes."""
    return _STRIP.sub("", unicodedata.normalize("NFKC", text).upper())


def read_waybill(text: str) -> str | None:
    """A waybill number as printed (`SF 1234 5678 901`, `ｊｔ0001…`); None when the text
    is no waybill: 6–30 letters and digits, a digit within the first six."""
    found = fold(text)
    if not _WAYBILL.match(found) or _PHONE.match(found):
        return None
    return found


def guess_courier(waybill: str) -> str | None:
    """The courier a waybill's shape suggests (a key of `COURIERS`), or None."""
    found = fold(waybill)
    return next((key for key, shape in COURIERS if shape.match(found)), None)


def pickup_code(draw: Callable[[int], int]) -> str:
    """A 6-digit pick-up code that never starts with 0 (people drop a leading zero);
    `draw(n)` gives a number below n (`secrets.randbelow`)."""
    return str(100000 + draw(900000))


def read_code(text: str) -> str | None:
    """A pick-up code as typed (`123 456`, full-width digits); None when not one."""
    found = fold(text)
    return found if len(found) == CODE_LENGTH and found.isdigit() else None


@dataclass(frozen=True)
class Line:
    """What one typed line registers: `2号楼1单元802 张伟 SF1234567890 易碎 破损`."""

    unit: str
    recipient: str = ""
    waybill: str = ""
    phone: str = ""
    valuable: bool = False
    damaged: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def note(self) -> str:
        return " ".join(self.notes)


def _is_unit(text: str) -> bool:
    return units.parse(text) is not None


def _has_word(token: str, words: Collection[str]) -> bool:
    low = token.lower()
    return any(word and word in low for word in words)


def read_line(text: str, valuable: Collection[str], damaged: Collection[str]) -> Line | None:
    """The unit (first, even when typed as `2栋1单元 802`), then the recipient's name if
    one comes before the waybill, the waybill, a phone, and notes; a word of `valuable` or
    `damaged` (lower case) sets the flag, the word itself is not kept as a note. None
    when the line does not start with something to look up as a unit."""
    tokens = text.split()
    if not tokens:
        return None
    taken = 1
    if len(tokens) > 1 and not _is_unit(tokens[0]) and _is_unit(tokens[0] + tokens[1]):
        taken = 2
    unit = "".join(tokens[:taken])
    recipient, waybill, phone = "", "", ""
    notes: list[str] = []
    flags = {"valuable": False, "damaged": False}
    for token in tokens[taken:]:
        low = token.lower()
        folded = fold(token)
        if low in valuable or low in damaged:
            flags["valuable" if low in valuable else "damaged"] = True
            continue
        if not phone and _PHONE.match(folded):
            phone = folded
            continue
        found = read_waybill(token)
        if not waybill and found is not None:
            waybill = found
            continue
        flags["valuable"] |= _has_word(token, valuable)
        flags["damaged"] |= _has_word(token, damaged)
        if not recipient and not waybill and not notes and _name_like(token, valuable, damaged):
            recipient = token
            continue
        notes.append(token)
    return Line(
        unit, recipient[:100], waybill, phone, flags["valuable"], flags["damaged"], tuple(notes)
    )


def _name_like(token: str, valuable: Collection[str], damaged: Collection[str]) -> bool:
    """A person's name: no digits, not too long, not a flag word."""
    return (
        not any(ch.isdigit() for ch in token)
        and len(token) <= 20
        and not _has_word(token, valuable)
        and not _has_word(token, damaged)
    )


@dataclass(frozen=True)
class Identity:
    """The ID checked when someone collects for the resident, kept masked: the kind as
    typed (`身份证`, `驾驶证`) and the last four characters of the number."""

    kind: str
    tail: str

    @property
    def masked(self) -> str:
        return f"{self.kind} ****{self.tail}".strip()


_KIND_TAIL = re.compile(r"(后四位|后4位|尾号|号码|号)$")


def read_identity(text: str) -> Identity | None:
    """`身份证 1234`, `身份证 330102199001011234`, `驾驶证后四位 5678`: the kind (the
    words before the number, without 后四位/尾号) and the number's last four; None when no
    number of four or more letters and digits, one a digit, was typed."""
    normal = unicodedata.normalize("NFKC", text).upper().strip()
    found = re.match(r"^([^0-9A-Z]*)(.*)$", normal, re.DOTALL)
    kind, rest = (found.group(1), found.group(2)) if found else ("", normal)
    number = re.sub(r"[^0-9A-Z]", "", rest)
    if len(number) < 4 or not any(ch.isdigit() for ch in number):
        return None
    kind = _KIND_TAIL.sub("", re.sub(r"[\s:：,，*＊#]+", "", kind))
    return Identity(kind[:20], number[-4:])
