"""The monthly report's workbook (XLSX): the `/stats` numbers, by category, by department,
by day, and every ticket.

Rows are streamed to disk (openpyxl's write-only mode), so a busy month fits in memory.
Text people typed (descriptions, names) reaches the cells as text that no spreadsheet
reads as a formula (`handlers.rules.spreadsheet.as_text`). Writing is blocking: the
caller runs it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from handlers.documents.files import atomic
from handlers.documents.month import Label, MonthData
from handlers.rules.spreadsheet import as_text
from handlers.rules.stats import Figures, Group, to_minutes

REVISIT_BY = {"resident": "supervisor.by.resident", "phone": "supervisor.by.phone"}
TICKET_COLUMNS = (
    "supervisor.col.community",
    "supervisor.col.number",
    "supervisor.col.kind",
    "supervisor.col.category",
    "supervisor.col.department",
    "supervisor.col.status",
    "supervisor.col.created",
    "supervisor.col.accepted",
    "supervisor.col.done",
    "supervisor.col.closed",
    "supervisor.col.due",
    "supervisor.col.assignee",
    "supervisor.col.reopen_count",
    "supervisor.col.satisfaction",
    "supervisor.col.revisit_by",
    "supervisor.col.description",
)


def _value(value: Any) -> Any:
    """A cell value: Decimals as numbers, and text (descriptions, names, anything people
    typed) as text that no spreadsheet reads as a formula."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return as_text(value)
    return value


def _row(values: Sequence[Any]) -> list[Any]:
    """A row for `append`: every value through `_value` (cells pass unchanged)."""
    return [_value(value) for value in values]


def summary_rows(numbers: Figures, label: Label) -> list[tuple[str, Any]]:
    """The summary sheet: the very numbers `/stats` shows, one per row."""
    rows: list[tuple[str, Any]] = [
        (label("supervisor.col.total"), numbers.total),
        (label("supervisor.col.median_accept"), numbers.median_accept),
        (label("supervisor.col.median_finish"), numbers.median_finish),
        (label("supervisor.col.overdue"), numbers.overdue_open),
        (label("supervisor.col.late"), numbers.finished_late),
        (label("supervisor.col.finished"), numbers.finished),
        (label("supervisor.col.repairs_finished"), numbers.repairs_finished),
        (label("supervisor.col.revisited"), numbers.revisited),
        (label("supervisor.col.revisit_rate"), numbers.revisit_rate),
        (label("supervisor.col.satisfaction"), numbers.satisfaction),
        (label("supervisor.col.reopened"), numbers.reopened),
        (label("supervisor.col.reopen_rate"), numbers.reopen_rate),
    ]
    rows.append(("", None))
    rows.append((label("supervisor.col.by_kind"), None))
    rows += [(label(f"kind.{kind}"), count) for kind, count in numbers.by_kind.items()]
    rows.append(("", None))
    rows.append((label("supervisor.col.by_status"), None))
    rows += [(label(f"status.{status}"), count) for status, count in numbers.by_status.items()]
    return rows


def _group_row(group: Group) -> list[Any]:
    return [
        group.count,
        group.open,
        group.finished,
        group.overdue_open,
        group.finished_late,
        group.reopened,
        group.reopen_rate,
    ]


class _Book:
    """A write-only workbook (rows streamed to disk, so a busy month fits in memory)."""

    def __init__(self, label: Label) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Font

        self.label = label
        self.book = Workbook(write_only=True)
        self.bold, self.big = Font(bold=True), Font(bold=True, size=14)

    def cell(self, ws: Any, value: Any, font: Any = None, number_format: str = "") -> Any:
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(ws, value=_value(value))
        if font is not None:
            cell.font = font
        if number_format:
            cell.number_format = number_format
        return cell

    def sheet(self, key: str, header: Sequence[str], widths: Sequence[int]) -> Any:
        """A sheet with a bold header row that stays in view."""
        from openpyxl.utils import get_column_letter

        ws = self.book.create_sheet(self.label(key)[:31])
        for index, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
        ws.freeze_panes = "A2"
        ws.append([self.cell(ws, name, self.bold) for name in header])
        return ws


def write_workbook(data: MonthData, label: Label, tz: ZoneInfo, path: Path) -> None:
    """Summary (the `/stats` numbers), by category, by department, by day, and every ticket."""
    book = _Book(label)
    _summary_sheet(book, data)
    _category_sheet(book, data)
    _department_sheet(book, data)
    _day_sheet(book, data)
    _ticket_sheet(book, data, tz)
    atomic(path, lambda target: book.book.save(target))


def _summary_sheet(book: _Book, data: MonthData) -> None:
    label = book.label
    ws = book.book.create_sheet(label("supervisor.sheet.summary")[:31])
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 14
    ws.append([book.cell(ws, data.title, book.big)])
    ws.append(_row([f"{data.period.first.isoformat()} – {data.period.last.isoformat()}"]))
    ws.append([])
    header = (label("supervisor.col.item"), label("supervisor.col.value"))
    ws.append([book.cell(ws, name, book.bold) for name in header])
    for name, value in summary_rows(data.figures, label):
        ws.append(_row([name, value]))


def _common(label: Label) -> list[str]:
    return [
        label("supervisor.col.count"),
        label("supervisor.col.open"),
        label("supervisor.col.finished"),
        label("supervisor.col.overdue"),
        label("supervisor.col.late"),
        label("supervisor.col.reopened"),
        label("supervisor.col.reopen_rate"),
    ]


def _category_sheet(book: _Book, data: MonthData) -> None:
    label = book.label
    header = [
        label("supervisor.col.category"),
        *_common(label),
        label("supervisor.col.median_finish"),
        label("supervisor.col.revisited"),
        label("supervisor.col.revisit_rate"),
        label("supervisor.col.satisfaction"),
    ]
    ws = book.sheet("supervisor.sheet.category", header, [18, *[10] * 11])
    for name, group in data.figures.categories.items():
        ws.append(
            _row(
                [
                    label(f"repair.category.{name}") if name else "—",
                    *_group_row(group),
                    to_minutes(data.finish_by_category.get(name)),
                    group.revisited,
                    group.revisit_rate,
                    group.satisfaction,
                ]
            )
        )


def _department_sheet(book: _Book, data: MonthData) -> None:
    label = book.label
    header = [
        label("supervisor.col.department"),
        *_common(label),
        label("supervisor.col.median_accept"),
        label("supervisor.col.median_finish"),
    ]
    ws = book.sheet("supervisor.sheet.department", header, [16, *[10] * 9])
    for name, group in data.figures.departments.items():
        ws.append(
            _row(
                [
                    label(f"department.{name}"),
                    *_group_row(group),
                    to_minutes(data.accept_by_department.get(name)),
                    to_minutes(data.finish_by_department.get(name)),
                ]
            )
        )


def _day_sheet(book: _Book, data: MonthData) -> None:
    label = book.label
    kinds = sorted({kind for counts in data.per_day.values() for kind in counts})
    header = [
        label("supervisor.col.day"),
        label("supervisor.col.total"),
        *(label(f"kind.{k}") for k in kinds),
    ]
    ws = book.sheet("supervisor.sheet.day", header, [12, *[10] * (len(kinds) + 1)])
    for day, counts in data.per_day.items():
        ws.append(
            _row(
                [
                    book.cell(ws, day, number_format="yyyy-mm-dd"),
                    sum(counts.values()),
                    *(counts.get(k, 0) for k in kinds),
                ]
            )
        )


def _ticket_sheet(book: _Book, data: MonthData, tz: ZoneInfo) -> None:
    label = book.label
    widths = [8, 16, 10, 14, 12, 10, 17, 17, 17, 17, 17, 10, 8, 8, 10, 40]
    ws = book.sheet("supervisor.sheet.tickets", [label(c) for c in TICKET_COLUMNS], widths)
    for row in data.tickets:
        (code, number, kind, category, department, status, *times) = row[:11]
        assignee, reopened, score, by, description = row[11:]
        ws.append(
            _row(
                [
                    code,
                    number,
                    label(f"kind.{kind}"),
                    label(f"repair.category.{category}") if category else "",
                    label(f"department.{department}"),
                    label(f"status.{status}"),
                    *(
                        book.cell(ws, _local(t, tz), number_format="yyyy-mm-dd hh:mm")
                        for t in times
                    ),
                    assignee or "",
                    reopened,
                    score,
                    label(REVISIT_BY[by]) if by in REVISIT_BY else (by or ""),
                    description[:200],
                ]
            )
        )
    if data.more:
        ws.append(_row([label("supervisor.sheet.more", count=data.more)]))


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    # Excel has no time zones: show the office's wall-clock time.
    return moment.astimezone(tz).replace(tzinfo=None) if moment else None
