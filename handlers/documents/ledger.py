"""The cash ledger as a workbook (XLSX): the entries of a day or a range of days, their
sums by day, method and purpose, and each day's close (日结) with its deposit.

Every cell from people's text (payers, notes, receipt and slip numbers) is stored as text
that no spreadsheet reads as a formula (`handlers.rules.spreadsheet.as_text`). Writing is
blocking: the caller runs it in a worker thread.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from handlers.rules.spreadsheet import as_text

Label = Callable[[str], str]

ENTRY_COLUMNS = (
    "ledger.col.day",
    "ledger.col.time",
    "ledger.col.receipt",
    "ledger.col.direction",
    "ledger.col.purpose",
    "ledger.col.method",
    "ledger.col.amount",
    "ledger.col.payer",
    "ledger.col.unit",
    "ledger.col.clerk",
    "ledger.col.source",
    "ledger.col.corrects",
    "ledger.col.note",
)
TOTAL_COLUMNS = ("ledger.col.day", "ledger.col.kind", "ledger.col.name", "ledger.col.amount")
CLOSE_COLUMNS = (
    "ledger.col.day",
    "ledger.col.status",
    "ledger.col.expected",
    "ledger.col.counted",
    "ledger.col.difference",
    "ledger.col.deposited",
    "ledger.col.deposit_ref",
    "ledger.col.deposit_difference",
    "ledger.col.closed_by",
    "ledger.col.closed_at",
    "ledger.col.locked_by",
    "ledger.col.locked_at",
    "ledger.col.note",
)


@dataclass(frozen=True)
class Sheets:
    """The rows, already in words (labels translated, times local, names found)."""

    entries: Sequence[Sequence[Any]]
    totals: Sequence[Sequence[Any]]
    closes: Sequence[Sequence[Any]]


def cell(value: Any) -> Any:
    """Amounts as numbers, dates and times as they are, every text as text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)) or value is None:
        return value
    if isinstance(value, (int, float)):
        return value
    return as_text(str(value))


def write_ledger(sheets: Sheets, label: Label) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    bold = Font(bold=True)
    first = book.active
    assert first is not None
    book.remove(first)
    for key, header, rows in (
        ("ledger.sheet.entries", ENTRY_COLUMNS, sheets.entries),
        ("ledger.sheet.totals", TOTAL_COLUMNS, sheets.totals),
        ("ledger.sheet.closes", CLOSE_COLUMNS, sheets.closes),
    ):
        ws = book.create_sheet(label(key)[:31])
        ws.append([label(name) for name in header])
        for heading in ws[1]:
            heading.font = bold
        ws.freeze_panes = "A2"
        for row in rows:
            ws.append([cell(value) for value in row])
            for written in ws[ws.max_row]:
                if isinstance(written.value, float):
                    written.number_format = "0.00"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
