"""Amounts of money as people type them: `500`, `¥1,234.50`, `500元`, `３５.５`.

The one reader of every amount the bot takes — a payment at the desk (`/paid`,
`frontdesk paid`), a figure for a collection visit, an instalment plan, the charge for
paid repair work, the figures of a roster file — each caller passing its own limits.
Money is `Decimal`, never a float. An amount is plain digits with at most one decimal
point: grouping commas, the yuan sign and a trailing 元 are dropped, full-width digits
are read, but an exponent (`1e3`), `NaN`, `Infinity` or a digit separator (`1_000`) is
not an amount anybody means.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")

# Why a text is refused (`AmountError.reason`).
NOT_A_NUMBER = "not_a_number"
TOO_SMALL = "too_small"
TOO_LARGE = "too_large"
DECIMALS = "decimals"

# Full-width digits and signs, as a Chinese input method types them.
_WIDE = str.maketrans("０１２３４５６７８９．，－＋￥", "0123456789.,-+¥")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_UNIT = re.compile(r"\s*(?:元|yuan)$", re.IGNORECASE)


class AmountError(ValueError):
    """A text that is not an acceptable amount: `reason` is `NOT_A_NUMBER`, `TOO_SMALL`,
    `TOO_LARGE` or `DECIMALS`; `text` is what was read (without the yuan sign, commas or
    a trailing 元), for the caller's own message."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(f"{reason}: {text!r}")
        self.reason = reason
        self.text = text


def read_amount(
    text: str,
    *,
    least: Decimal | None = CENT,
    most: Decimal | None = None,
    places: int = 2,
) -> Decimal:
    """`text` as an amount from `least` to `most` (both included; None: no bound) with at
    most `places` decimals, given with exactly that many (`35.5` → `35.50`).

    Raises `AmountError` otherwise. By default an amount is above zero (at least a fen)
    with no upper bound.
    """
    cleaned = _clean(text)
    if _NUMBER.fullmatch(cleaned) is None:
        raise AmountError(NOT_A_NUMBER, cleaned)
    value = Decimal(cleaned)  # exact: the pattern admits nothing Decimal cannot read
    if value.is_zero():
        value = Decimal(0)  # `-0` is zero, not a negative amount
    if least is not None and value < least:
        raise AmountError(TOO_SMALL, cleaned)
    if most is not None and value > most:
        raise AmountError(TOO_LARGE, cleaned)
    try:
        rounded = value.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:  # more digits than a Decimal holds: only with no upper bound
        raise AmountError(TOO_LARGE, cleaned) from None
    if rounded != value:
        raise AmountError(DECIMALS, cleaned)
    return rounded


def _clean(text: str) -> str:
    """Without grouping commas, the yuan sign, a trailing 元 and surrounding spaces."""
    cleaned = text.translate(_WIDE).replace(",", "").replace("¥", "").strip()
    return _UNIT.sub("", cleaned).strip()
