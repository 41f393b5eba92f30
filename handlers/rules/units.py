"""Unit labels as people type them (房号): reading, one spelling per unit, closeness.

The office labels a unit `2栋1单元802`: building, entrance (单元), room. Residents and staff
write the same unit as `2号楼1单元802`, `2-1-802`, `2幢1单元802室`, `2栋1单元 802` or in
full-width digits; all of these have one *key*, the office's spelling. Text that does not
read as building-entrance-room keeps a loosely tidied spelling as its key, so a near miss
(`2栋1单元8O2`, `2栋单元802`) is still a short edit away from the unit meant.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# How far (in edits) a typed label may be from a unit's to be offered as "did you mean".
NEAR = 2
# Building markers people use for 栋; entrance markers for 单元; room suffixes dropped.
_BUILDING = r"(?:号楼|栋|幢|座|楼|#)"
_ENTRANCE = r"(?:单元|门)"
_ROOM_SUFFIX = r"(?:室|房|号)"
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―_/\\.·,，、]+")
_CHINESE_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CHINESE_NUMBER = re.compile(rf"([零〇一二两三四五六七八九十]+)(?={_BUILDING}|{_ENTRANCE})")
_ADDRESS = re.compile(
    rf"^(?P<building>[0-9]{{1,3}}|[A-Z]{{1,2}}[0-9]{{0,2}})(?:{_BUILDING}|-)+"
    rf"(?:(?P<entrance>[0-9]{{1,2}})(?:{_ENTRANCE}|-)+)?"
    rf"(?P<room>[0-9]{{1,5}}[A-Z]?){_ROOM_SUFFIX}?$"
)


@dataclass(frozen=True)
class UnitAddress:
    """A unit read from text: building, entrance (None when the community has none), room."""

    building: str
    entrance: str | None
    room: str

    @property
    def label(self) -> str:
        """The office's spelling: `2栋1单元802`, or `5栋1202` without an entrance."""
        entrance = f"{self.entrance}单元" if self.entrance else ""
        return f"{self.building}栋{entrance}{self.room}"

    def spellings(self) -> list[str]:
        """Common ways the same unit is labelled, to look it up by any of them at once."""
        entrance = f"{self.entrance}单元" if self.entrance else ""
        found = [
            f"{self.building}{marker}{entrance}{self.room}{suffix}"
            for marker in ("栋", "号楼", "幢", "座")
            for suffix in ("", "室")
        ]
        parts = [self.building, self.entrance, self.room]
        found.append("-".join(p for p in parts if p))
        return found


def _chinese_number(text: str) -> str:
    """`二` → `2`, `十二` → `12`, `二十` → `20` (buildings and entrances only)."""
    if "十" not in text:
        return "".join(str(_CHINESE_DIGITS[ch]) for ch in text)
    tens, _, ones = text.partition("十")
    value = (_CHINESE_DIGITS.get(tens, 1) if tens else 1) * 10
    return str(value + (_CHINESE_DIGITS.get(ones, 0) if ones else 0))


def fold(text: str) -> str:
    """Full-width to ASCII, upper case, Chinese numerals of buildings/entrances as digits,
    separators as one `-`, no spaces around markers."""
    text = unicodedata.normalize("NFKC", text).upper().strip()
    text = _CHINESE_NUMBER.sub(lambda m: _chinese_number(m.group(1)), text)
    text = _SEPARATORS.sub("-", text).strip("-")
    # A separator beside a marker adds nothing: `2栋-1单元-802` reads as `2栋1单元802`.
    return re.sub(rf"-?({_BUILDING}|{_ENTRANCE})-?", r"\1", text)


def _number(part: str) -> str:
    return str(int(part)) if part.isdigit() else part


def parse(text: str) -> UnitAddress | None:
    """The building, entrance and room a text names; None when it does not read as one."""
    found = _ADDRESS.match(fold(text))
    if found is None:
        return None
    entrance = found.group("entrance")
    return UnitAddress(
        building=_number(found.group("building")),
        entrance=_number(entrance) if entrance else None,
        room=_number(found.group("room")),
    )


def key(text: str) -> str:
    """What two spellings of one unit share: the office's label when the text reads as an
    address, else the text with markers and separators tidied the same way."""
    address = parse(text)
    if address is not None:
        return address.label
    loose = re.sub(_BUILDING, "栋", fold(text))
    loose = re.sub(_ENTRANCE, "单元", loose)
    loose = re.sub(rf"{_ROOM_SUFFIX}$", "", loose)
    parts = loose.split("-")
    if len(parts) == 3:
        return f"{parts[0]}栋{parts[1]}单元{parts[2]}"
    if len(parts) == 2:
        return f"{parts[0]}栋{parts[1]}"
    return loose


def distance(a: str, b: str, limit: int = NEAR) -> int:
    """Edits (insert, delete, replace) from `a` to `b`; anything above `limit` is `limit + 1`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, left in enumerate(a, start=1):
        current = [i]
        for j, right in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (left != right))
            )
        if min(current) > limit:
            return limit + 1
        previous = current
    return min(previous[-1], limit + 1)


def closest(typed: str, labels: Iterable[str], limit: int = 5) -> list[str]:
    """The labels nearest to what was typed (fewest edits between keys, at most `NEAR`);
    only the nearest ones, in label order, at most `limit`."""
    wanted = key(typed)
    scored = [(distance(wanted, key(label)), label) for label in labels]
    near = [(d, label) for d, label in scored if d <= NEAR]
    if not near:
        return []
    best = min(d for d, _ in near)
    return sorted(label for d, label in near if d == best)[:limit]
