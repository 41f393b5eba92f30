"""Numbers read from typed text and button values, which anybody can forge.

`str.isdigit()` is true for `¹` or `①`, which `int()` refuses, and an id of a hundred
digits binds to no database column; these helpers say None instead of raising.
"""

from __future__ import annotations

MAX_ROW_ID = 2**31 - 1  # ids are `integer` columns: a larger one cannot exist
MAX_DIGITS = 9


def number(text: str) -> int | None:
    """Decimal digits of any script (`12`, `１２`, `١٢`) as a number; None otherwise."""
    text = text.strip()
    if text.isdecimal() and len(text) <= MAX_DIGITS:
        return int(text)
    return None


def row_id(text: str) -> int | None:
    """The id of a row as carried in a button value or a command; None when it cannot be one."""
    value = number(text)
    return value if value is not None and 0 < value <= MAX_ROW_ID else None
