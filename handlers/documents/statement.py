"""A statement of income and expenses (收支情况) as files: a workbook (XLSX) and a chart (PNG).

The workbook has a summary sheet (the totals, deposits held apart, the period before),
the sums by purpose, each month's totals inside a quarter or a year and, only in the
office's own copy, the list of entries. The copy published to owners carries sums only:
no payer, no unit, no receipt (privacy). Every cell from people's text goes through the
report's workbook (handlers/documents/workbook.py), stored as text no spreadsheet reads as
a formula. The chart shows income and expenses by purpose, in the Chinese font the
`/report` chart uses. Both are blocking: the caller runs them in a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from handlers.documents.chart import cjk_font
from handlers.documents.files import atomic
from handlers.documents.month import Label
from handlers.documents.workbook import _Book, _row
from handlers.rules.statements import yuan

ENTRY_COLUMNS = (
    "statements.col.day",
    "statements.col.receipt",
    "statements.col.direction",
    "statements.col.purpose",
    "statements.col.method",
    "statements.col.amount",
    "statements.col.payer",
    "statements.col.unit",
    "statements.col.note",
)
MONEY = "#,##0.00"


@dataclass(frozen=True)
class Entry:
    """One ledger entry on the office's copy."""

    day: date
    receipt: str
    direction: str
    purpose: str
    method: str
    amount: Decimal
    payer: str
    unit: str
    note: str


@dataclass(frozen=True)
class StatementData:
    """What the files show: the stored statement, its title, and (the office's copy only)
    its entries; `entries is None` is the owners' copy."""

    title: str
    period: str
    starts: date
    ends: date
    income: dict[str, Any]
    expenses: dict[str, Any]
    totals: dict[str, Any]
    entries: Sequence[Entry] | None = field(default=None)


def _money(book: _Book, ws: Any, value: Decimal | str) -> Any:
    return book.cell(ws, Decimal(value), number_format=MONEY)


def write_statement(data: StatementData, label: Label, path: Path) -> None:
    """Summary, by purpose, by month (a quarter or a year), entries (the office's copy)."""
    book = _Book(label)
    _summary(book, data)
    _purposes(book, data)
    if data.totals.get("months"):
        _months(book, data)
    if data.entries is not None:
        _entries(book, data.entries)
    atomic(path, lambda target: book.book.save(target))


def _summary(book: _Book, data: StatementData) -> None:
    label, totals = book.label, data.totals
    previous = totals.get("previous", {})
    ws = book.book.create_sheet(label("statements.sheet.summary")[:31])
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 16
    ws.column_dimensions["C"].width = 16
    ws.append([book.cell(ws, data.title, book.big)])
    ws.append(_row([f"{data.starts.isoformat()} – {data.ends.isoformat()}"]))
    ws.append([])
    header = (
        label("statements.col.item"),
        label("statements.col.this", period=data.period),
        label("statements.col.before", period=previous.get("period", "")),
    )
    ws.append([book.cell(ws, name, book.bold) for name in header])
    for name in ("income", "expenses", "balance", "deposits"):
        ws.append(
            [
                book.cell(ws, label(f"statements.total.{name}")),
                _money(book, ws, totals[name]),
                _money(book, ws, previous.get(name, "0")),
            ]
        )
    ws.append([])
    ws.append(_row([label("statements.file.deposits_note")]))


def _purposes(book: _Book, data: StatementData) -> None:
    label = book.label
    header = [
        label("statements.col.kind"),
        label("statements.col.purpose"),
        label("statements.col.amount"),
    ]
    ws = book.sheet("statements.sheet.purposes", header, [12, 20, 16])
    for kind, sums in (("income", data.income), ("expenses", data.expenses)):
        for purpose, amount in sums.items():
            ws.append(
                [
                    book.cell(ws, label(f"statements.total.{kind}")),
                    book.cell(ws, label(f"statements.purpose.{purpose}")),
                    _money(book, ws, amount),
                ]
            )
        ws.append(
            [
                book.cell(ws, label(f"statements.total.{kind}"), book.bold),
                book.cell(ws, label("statements.col.total"), book.bold),
                _money(book, ws, data.totals[kind]),
            ]
        )
    ws.append(
        [
            book.cell(ws, label("statements.total.deposits")),
            book.cell(ws, label("statements.purpose.deposit")),
            _money(book, ws, data.totals["deposits"]),
        ]
    )


def _months(book: _Book, data: StatementData) -> None:
    label = book.label
    names = ("income", "expenses", "balance", "deposits")
    header = [label("statements.col.month"), *(label(f"statements.total.{n}") for n in names)]
    ws = book.sheet("statements.sheet.months", header, [12, 16, 16, 16, 16])
    for month in data.totals["months"]:
        ws.append([book.cell(ws, month["month"]), *(_money(book, ws, month[n]) for n in names)])


def _entries(book: _Book, entries: Sequence[Entry]) -> None:
    label = book.label
    header = [label(c) for c in ENTRY_COLUMNS]
    ws = book.sheet("statements.sheet.entries", header, [12, 16, 8, 14, 10, 14, 14, 18, 30])
    for e in entries:
        ws.append(
            [
                book.cell(ws, e.day, number_format="yyyy-mm-dd"),
                *_row(
                    [
                        e.receipt,
                        label(f"statements.direction.{e.direction}"),
                        label(f"statements.purpose.{e.purpose}"),
                        label(f"statements.method.{e.method}"),
                    ]
                ),
                _money(book, ws, e.amount),
                *_row([e.payer, e.unit, e.note]),
            ]
        )


def draw_statement_chart(data: StatementData, label: Label, path: Path) -> None:
    """Income and expenses by purpose side by side, with the totals in the title."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    font = cjk_font()
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with matplotlib.rc_context({"font.family": families}):
        figure = Figure(figsize=(12, 6), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        totals = data.totals
        figure.suptitle(
            label(
                "statements.chart.title",
                title=data.title,
                income=yuan(totals["income"]),
                expenses=yuan(totals["expenses"]),
                balance=yuan(totals["balance"]),
            ),
            fontsize=14,
        )
        left, right = figure.subplots(1, 2, sharey=True)  # one scale: compared by eye
        for axes, kind, colour in (
            (left, "income", "#4c78a8"),
            (right, "expenses", "#e45756"),
        ):
            sums = data.income if kind == "income" else data.expenses
            axes.set_title(label(f"statements.total.{kind}"))
            if not sums:
                axes.axis("off")
                axes.text(
                    0.5, 0.5, label("statements.chart.none"),
                    fontsize=14, ha="center", va="center", color="#555555",
                )  # fmt: skip
                continue
            names = [label(f"statements.purpose.{p}") for p in sums]
            values = [float(Decimal(v)) for v in sums.values()]
            bars = axes.bar(names, values, color=colour)
            axes.bar_label(bars, labels=[yuan(v) for v in sums.values()], fontsize=9)
            if kind == "income" and Decimal(totals["deposits"]):
                # Held, not earned: beside the income, grey and hatched.
                held = axes.bar(
                    [label("statements.total.deposits")],
                    [float(Decimal(totals["deposits"]))],
                    color="#dddddd",
                    edgecolor="#888888",
                    hatch="//",
                )
                axes.bar_label(held, labels=[yuan(totals["deposits"])], fontsize=9)
            axes.tick_params(axis="x", labelrotation=20, labelsize=10)
            axes.margins(y=0.15)
        atomic(path, lambda target: figure.savefig(target, format="png"))
