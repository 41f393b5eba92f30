"""The legal step's prepared file (法律途径材料) for the director, as XLSX: the unit, the
owner and the amount, the bills owed by month, the ladder's steps with their dates, and
every contact with its outcome and any promise broken.

Everything people typed reaches the cells as text no spreadsheet reads as a formula
(`handlers.rules.spreadsheet.as_text`); amounts are numbers. Writing is blocking: the
caller runs it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from handlers.documents.files import atomic
from handlers.rules.spreadsheet import as_text


@dataclass(frozen=True)
class Section:
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]


@dataclass(frozen=True)
class LegalFile:
    title: str
    facts: Sequence[tuple[str, Any]]  # label, value
    sections: Sequence[Section] = field(default_factory=tuple)


def _value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return as_text(value)
    return value


def write_legal(data: LegalFile, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    ws = book.active
    ws.title = "legal"
    bold, big = Font(bold=True), Font(bold=True, size=14)
    for letter, width in zip("ABCDEFG", (22, 14, 14, 14, 16, 40, 24), strict=True):
        ws.column_dimensions[letter].width = width
    ws.append([_value(data.title)])
    ws.cell(row=ws.max_row, column=1).font = big
    for label, value in data.facts:
        ws.append([_value(label), _value(value)])
        ws.cell(row=ws.max_row, column=1).font = bold
    for section in data.sections:
        ws.append([])
        ws.append([_value(section.title)])
        ws.cell(row=ws.max_row, column=1).font = big
        ws.append([_value(h) for h in section.header])
        for column in range(1, len(section.header) + 1):
            ws.cell(row=ws.max_row, column=column).font = bold
        for row in section.rows:
            ws.append([_value(v) for v in row])
    atomic(path, lambda target: book.save(target))
