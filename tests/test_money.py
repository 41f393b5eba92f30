"""One reader of amounts of money: what people type, what is taken, and what is refused.

Every amount the bot takes goes through `handlers.rules.money.read_amount`, each caller
with its own limits: a payment (`/paid`, `frontdesk paid`, a collection visit, an
instalment) is above 0 and at most 1,000,000 yuan; the charge for paid repair work is 0
to 100,000; a roster's figure is zero or more.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogs.flow import Answer, InputError
from dialogs.tasks import amount as task_amount
from handlers.documents.tables import Table
from handlers.roster import parse
from handlers.rules.fees import parse_amount, parse_amounts
from handlers.rules.money import (
    DECIMALS,
    NOT_A_NUMBER,
    TOO_LARGE,
    TOO_SMALL,
    AmountError,
    read_amount,
)

D = Decimal


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("500", D("500.00")),
        ("¥1,234.50", D("1234.50")),
        ("￥1，234.50", D("1234.50")),  # full-width yuan sign and comma
        ("500元", D("500.00")),
        ("500 元", D("500.00")),
        ("500 yuan", D("500.00")),
        ("¥ 35", D("35.00")),
        ("35.5", D("35.50")),
        ("35.500", D("35.50")),  # trailing zeros say nothing more
        (" 80 ", D("80.00")),
        ("０.５", D("0.50")),
        ("５００", D("500.00")),  # full-width digits, as a Chinese input method types them
        ("３５．５元", D("35.50")),
        (".5", D("0.50")),
        ("5.", D("5.00")),
        ("+5", D("5.00")),
        ("0.01", D("0.01")),
    ],
)
def test_the_forms_taken(typed, value):
    found = read_amount(typed)
    assert found == value and str(found) == str(value)  # always two decimals


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("-1", TOO_SMALL),
        ("0", TOO_SMALL),  # by default an amount is at least a fen
        ("-0.5", TOO_SMALL),
        ("0.001", TOO_SMALL),  # less than a fen
        ("1.234", DECIMALS),
        ("1e3", NOT_A_NUMBER),
        ("1E3", NOT_A_NUMBER),
        ("NaN", NOT_A_NUMBER),
        ("sNaN", NOT_A_NUMBER),
        ("Infinity", NOT_A_NUMBER),
        ("-inf", NOT_A_NUMBER),
        ("1_000", NOT_A_NUMBER),
        ("1 000", NOT_A_NUMBER),
        ("八百", NOT_A_NUMBER),
        ("abc", NOT_A_NUMBER),
        ("", NOT_A_NUMBER),
        ("元", NOT_A_NUMBER),
        (".", NOT_A_NUMBER),
        ("5元0", NOT_A_NUMBER),
        ("1.2.3", NOT_A_NUMBER),
        ("٥٠٠", NOT_A_NUMBER),  # other scripts' digits are not what a resident here types
    ],
)
def test_the_forms_refused(typed, reason):
    with pytest.raises(AmountError) as refused:
        read_amount(typed)
    assert refused.value.reason == reason


def test_the_limits_are_the_callers():
    assert read_amount("0", least=D(0)) == D("0.00")
    assert (
        read_amount("-0", least=D(0)) == D("0.00") and str(read_amount("-0", least=D(0))) == "0.00"
    )
    assert read_amount("100000", least=D(0), most=D(100_000)) == D("100000.00")
    with pytest.raises(AmountError) as refused:
        read_amount("100000.01", most=D(100_000))
    assert refused.value.reason == TOO_LARGE
    assert read_amount("-3", least=None) == D("-3.00")
    assert read_amount("12.345", places=3) == D("12.345")
    with pytest.raises(AmountError) as refused:
        read_amount("0.001", least=D(0))
    assert refused.value.reason == DECIMALS
    with pytest.raises(AmountError) as refused:
        read_amount("12.5", places=0)
    assert refused.value.reason == DECIMALS
    # With no upper bound, more digits than a Decimal holds is too large, not a crash.
    with pytest.raises(AmountError) as refused:
        read_amount("9" * 40, least=None)
    assert refused.value.reason == TOO_LARGE


def test_the_error_keeps_what_was_read():
    with pytest.raises(AmountError) as refused:
        read_amount(" ¥1,2.345元 ")
    assert refused.value.text == "12.345"


@given(st.decimals(min_value=D("0.01"), max_value=D("1000000"), places=2))
def test_what_is_written_is_read_back(value):
    assert read_amount(f"{value:,.2f}元") == value
    assert read_amount(f"¥{value}") == value


# ---- each caller, with its limits ------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("500", D("500.00")),
        ("¥1,234.50", D("1234.50")),
        ("300元", D("300.00")),
        ("1000000", D("1000000.00")),
        ("0", None),
        ("-5", None),
        ("1000000.01", None),
        ("99999999", None),
        ("1.234", None),
        ("1e3", None),
        ("NaN", None),
        ("５００", D("500.00")),
    ],
)
def test_a_payment(typed, value):
    assert parse_amount(typed) == value


def test_instalments_are_payments():
    assert parse_amounts("300、300、252.6") == [D("300.00"), D("300.00"), D("252.60")]
    assert parse_amounts("300 0 252.60") is None


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("80", "80.00"),
        ("35.5元", "35.50"),
        ("¥1,200", "1200.00"),
        ("0", "0.00"),  # work found to be free after all
        ("100000", "100000.00"),
    ],
)
def test_the_charge_for_paid_work(typed, stored):
    assert task_amount(Answer(text=typed), None, {}) == stored  # type: ignore[arg-type]


@pytest.mark.parametrize("typed", ["-1", "100000.01", "0.001", "NaN", "1e3", "八十"])
def test_a_charge_refused(typed):
    with pytest.raises(InputError) as refused:
        task_amount(Answer(text=typed), None, {})  # type: ignore[arg-type]
    assert refused.value.key == "task.error.amount" and refused.value.params["value"] == typed


def test_a_roster_figure():
    headers = ["小区代码", "房号", "月份", "物业费", "公共能耗费", "代收代付"]
    rows = [
        (2, ["XFL", "1栋1单元101", "2026-05", "¥1,234.50", "0", ""]),
        (3, ["XFL", "1栋1单元102", "2026-05", "NaN", "-5", "0.001"]),
        (4, ["XFL", "1栋1单元103", "2026-05", 89.5, "1e3", "9" * 40]),
    ]
    parsed = parse("bills", Table(headers, rows))
    assert [row.values["management"] for row in parsed.rows] == [D("1234.50")]
    assert parsed.rows[0].values["energy"] == D("0.00")
    assert parsed.errors == [
        "line 3, column 物业费: not a number: 'NaN'",
        "line 3, column 公共能耗费: must be zero or more: '-5'",
        "line 3, column 代收代付: at most two decimals: '0.001'",
        "line 4, column 公共能耗费: not a number: '1e3'",
        f"line 4, column 代收代付: too large: '{'9' * 40}'",
    ]
