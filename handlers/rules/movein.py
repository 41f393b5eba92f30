"""The move-in checklist (入住手续): what must be done before a unit is handed over.

Papers seen (the owner's ID or, for a company, its certificate 单位证明; the purchase
contract or the move-in notice; a delegate adds the power of attorney 委托书 and their own
ID), forms signed, fees collected, items handed over, the inspection with its readings
confirmed by the owner, every defect reworked and re-inspected, and the owner's sign-off.
A checklist is a mapping of item → what was recorded; `missing` says what is left.
"""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal
from typing import Any, NamedTuple

from handlers.rules.dates import read_day

# Papers: each tuple is one requirement, met by any of its kinds.
OWNER_PAPER = ("owner_id",)
COMPANY_PAPER = ("company_cert",)
PROOF = ("contract", "notice")  # the purchase contract or the move-in notice
DELEGATE_PAPERS = (("attorney",), ("delegate_id",))
PAPER_KINDS = ("owner_id", "company_cert", "contract", "notice", "attorney", "delegate_id")

FORMS = ("household", "service", "renovation", "rules")
ITEMS = ("keys", "handbook", "renovation_notes", "diagrams")
# The inspection's checklist: rooms × what is looked at in each.
ROOMS = ("living", "bedroom", "kitchen", "bathroom", "balcony")
CHECKS = ("walls", "floor", "doors_windows", "water", "power", "gas")
# What a defect found at a check is, as a repair's category (handlers/rules/warranty.py).
CATEGORY_OF = {
    "walls": "other",
    "floor": "other",
    "doors_windows": "doors",
    "water": "water",
    "power": "electrical",
    "gas": "gas",
}
FIXED = frozenset({"done", "revisit", "closed"})  # a rework ticket that is finished


def paper_needs(company: bool, delegate: bool) -> list[tuple[str, ...]]:
    """The papers to see for this owner: each entry is met by any one of its kinds."""
    needs = [COMPANY_PAPER if company else OWNER_PAPER, PROOF]
    return needs + list(DELEGATE_PAPERS) if delegate else needs


def papers_missing(seen: set[str], company: bool, delegate: bool) -> list[str]:
    """The first kind of each requirement not met yet."""
    return [need[0] for need in paper_needs(company, delegate) if not seen & set(need)]


class Progress(NamedTuple):
    """What a move-in still needs, by stage (each a list of item names)."""

    papers: list[str]
    forms: list[str]
    fees: bool  # the fees are still to collect
    items: list[str]
    inspection: list[str]  # inspected, readings, readings_confirmed, rework, reinspected
    signed_off: bool

    @property
    def left(self) -> list[str]:
        return (
            [f"paper.{p}" for p in self.papers]
            + [f"form.{f}" for f in self.forms]
            + (["fees"] if self.fees else [])
            + [f"item.{i}" for i in self.items]
            + self.inspection
            + ([] if self.signed_off else ["signoff"])
        )

    @property
    def complete(self) -> bool:
        return not self.left


def progress(
    checklist: dict[str, Any],
    *,
    papers_seen: set[str],
    company: bool,
    delegate: bool,
    defects: int,
    defects_open: int,
    signed_off: bool,
) -> Progress:
    """What is left of a move-in, from its checklist and its papers and defects."""
    inspection = [
        step
        for step, done in (
            ("inspected", "inspected" in checklist),
            ("readings", "readings" in checklist),
            ("readings_confirmed", "readings_confirmed" in checklist),
            ("rework", defects_open == 0),
            ("reinspected", defects == 0 or "reinspected" in checklist),
        )
        if not done
    ]
    return Progress(
        papers=papers_missing(papers_seen, company, delegate),
        forms=[f for f in FORMS if f"form.{f}" not in checklist],
        fees="fees" not in checklist,
        items=[i for i in ITEMS if f"item.{i}" not in checklist],
        inspection=inspection,
        signed_off=signed_off,
    )


def may_sign_off(left: list[str]) -> bool:
    """The owner signs off once everything else is done (the sign-off is last)."""
    return left == ["signoff"]


# ---- a re-inspection's time, as people type it --------------------------------------------

_CLOCK = re.compile(r"(\d{1,2})\s*(?:[:：]\s*(\d{2})|点\s*(半|\d{1,2}\s*分?)?)")
_PM = re.compile(r"下午|晚上|pm", re.IGNORECASE)


class Appointment(NamedTuple):
    day: date
    at: time


def parse_appointment(text: str, today: date) -> Appointment | None:
    """A day and a time of day (`12月3日 10:00`, `明天下午3点`, `2026-12-03 14:30`);
    None without both, or when the day is already past."""
    words = text.strip()
    clock = _CLOCK.search(words)
    if clock is None:
        return None
    hour = int(clock.group(1))
    if clock.group(2):
        minute = int(clock.group(2))
    elif clock.group(3) == "半":
        minute = 30
    elif clock.group(3):
        minute = int(re.sub(r"\D", "", clock.group(3)) or 0)
    else:
        minute = 0
    if _PM.search(words) and hour < 12:
        hour += 12
    if hour > 23 or minute > 59:
        return None
    rest = (words[: clock.start()] + " " + words[clock.end() :]).strip()
    rest = _PM.sub("", rest).replace("上午", "").strip()
    day = read_day(rest, today) if rest else today
    if day is None or day < today:
        return None
    return Appointment(day, time(hour, minute))


def figure(value: Decimal) -> str:
    """A reading as people write it: `12.50` is `12.5`, `320.00` is `320`."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
