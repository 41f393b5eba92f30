"""Phone numbers: what counts as one, and how it is masked in group chats and logs."""

from __future__ import annotations

import re

_MOBILE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_FOREIGN = re.compile(r"^\+\d{8,15}$")


def normalise_phone(raw: str) -> str | None:
    """A clean phone number (`13812345678`, `021-12345678`, `+4479…`), or None."""
    text = re.sub(r"[\s()\u3000]", "", raw or "").replace("－", "-")
    if _MOBILE.match(text.replace("-", "")):
        digits = text.replace("-", "").removeprefix("+")
        return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits
    if _LANDLINE.match(text) or _FOREIGN.match(text):
        return text
    return None


def mask_phone(phone: str | None) -> str:
    """`138****5678`: enough for a colleague to recognise, not to call."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    keep = 3 if len(digits) >= 11 else 2
    return digits[:keep] + "*" * (len(digits) - keep - 4) + digits[-4:]
