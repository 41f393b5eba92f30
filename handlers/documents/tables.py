"""A table from a file: a UTF-8 CSV (with or without a BOM) or an Excel workbook's first sheet,
read into its header cells and its non-empty rows, each with its line number.

A table comes from outside (another system's export, a spreadsheet passed around), so
reading is bounded: the file's size, what an .xlsx unpacks to, its rows and columns, and
each cell's length have limits (`Limits`, `CELL_CHARS`); reading stops at the first
line past the row limit, so a million-row sheet costs the same as one just past it.
`cell_text` reads one cell as text, refusing a control or invisible character (a NUL,
an escape, a zero-width space) rather than letting it be stored as a name. What the
columns mean is the caller's business (`handlers/roster.py`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import unicodedata
import zipfile
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The longest cell read (a name may have 100 characters, a unit label 50): Python's CSV
# reader alone would take 128 KB and then fail with a traceback.
CELL_CHARS = 1_000
ERRORS_SHOWN = 50  # a file wrong on every line is told in a screenful, not a million lines
_REFUSED = {"Cc", "Cf", "Zl", "Zp", "Cs"}  # control, invisible and line-separator characters


@dataclass(frozen=True)
class Limits:
    """How much of a file is read: a hostile or mistaken file costs seconds, not gigabytes."""

    size: int = 20_000_000  # bytes on disk
    unpacked: int = 100_000_000  # bytes an .xlsx (a zip) unpacks to
    rows: int = 50_000  # lines after the header line
    columns: int = 50  # headers; cells further right are not read


LIMITS = Limits()


class TableError(Exception):
    """The file cannot be used; `errors` lists the reasons, one line each (the first
    `ERRORS_SHOWN`, then `… and N more`); `count` is how many there were."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.count = len(errors)
        self.errors = list(errors[:ERRORS_SHOWN])
        if self.count > ERRORS_SHOWN:
            self.errors.append(f"… and {self.count - ERRORS_SHOWN:,} more")
        super().__init__("\n".join(self.errors))


class CellError(ValueError):
    """One cell's value is unusable; the message says why."""


@dataclass(frozen=True)
class Table:
    """A file's header cells and its non-empty rows, each with its line number."""

    headers: list[str]
    rows: list[tuple[int, list[Any]]]


def read_table(path: Path, limits: Limits = LIMITS) -> Table:
    """Read a .csv (UTF-8, BOM or not) or .xlsx file; `TableError` when unreadable or
    past a limit."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise TableError([f"{path.name}: expected a .csv or .xlsx file"])
    size = path.stat().st_size
    if size > limits.size:
        raise TableError([f"{path.name}: {size:,} bytes, more than {limits.size:,} (split it)"])
    lines = _csv_rows(path, limits) if suffix == ".csv" else _xlsx_rows(path, limits)
    header: list[str] | None = None
    rows: list[tuple[int, list[Any]]] = []
    with contextlib.closing(lines):
        for line, cells in lines:
            if line > limits.rows + 1:
                raise TableError(
                    [
                        f"line {line}: more than {limits.rows:,} rows after the header "
                        "(split the file, or delete the empty rows below the data)"
                    ]
                )
            if all(blank(c) for c in cells):
                continue
            if header is None:
                header = _header(line, cells, limits)
            else:
                rows.append((line, list(cells[: limits.columns])))
    if header is None:
        raise TableError([f"{path.name}: the file is empty"])
    return Table(header, rows)


def _header(line: int, cells: Sequence[Any], limits: Limits) -> list[str]:
    """The header line's cells, printable (they are quoted in every error message)."""
    if any(not blank(c) for c in cells[limits.columns :]):
        raise TableError(
            [
                f"line {line}, column {limits.columns + 1}: more than {limits.columns} "
                "columns (delete the ones not imported)"
            ]
        )
    texts = [str(h or "").strip()[:100] for h in cells[: limits.columns]]
    return ["".join(c if c.isprintable() else "?" for c in text) for text in texts]


def _csv_rows(path: Path, limits: Limits) -> Generator[tuple[int, Sequence[Any]]]:
    with path.open("rb") as handle:
        data = handle.read(limits.size + 1)  # the file may have grown since it was measured
    if len(data) > limits.size:
        raise TableError([f"{path.name}: more than {limits.size:,} bytes (split it)"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TableError([f"{path.name}: not UTF-8 text (in Excel: Save as → CSV UTF-8)"]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as exc:
        # The one error of the default dialect: a cell longer than the CSV reader's limit.
        why = f"too long (at most {CELL_CHARS:,} characters)" if "larger" in str(exc) else exc
        raise TableError([f"line {reader.line_num}: {why}"]) from None


def _xlsx_rows(path: Path, limits: Limits) -> Generator[tuple[int, Sequence[Any]]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(path) as archive:
            # A part never unpacks to more than it declares (the zip reader stops there);
            # checked before openpyxl loads the shared strings whole.
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > limits.unpacked:
            raise TableError(
                [f"{path.name}: unpacks to {unpacked:,} bytes, more than {limits.unpacked:,}"]
            )
        book = load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except TableError:
        raise
    except Exception as exc:  # zipfile and openpyxl raise many kinds for a damaged file
        raise TableError([f"{path.name}: not a readable Excel file ({exc})"]) from None
    try:
        sheet = book.worksheets[0]
        # The stored size of the sheet may be wrong (or hostile): read what is there, one
        # column past the limit so that a header too wide is seen.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(max_col=limits.columns + 1, values_only=True)
        yield from enumerate(rows, start=1)
    except Exception as exc:  # a damaged sheet fails only when it is read
        raise TableError([f"{path.name}: not a readable Excel file ({exc})"]) from None
    finally:
        book.close()


# ---- cells -------------------------------------------------------------------------------


def blank(value: Any) -> bool:
    """An empty cell: nothing, or only spaces."""
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value: Any) -> str:
    """A cell as text, stripped (`""` when empty); `CellError` when too long or holding a
    control or invisible character."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel keeps phone numbers and codes typed as numbers as floats
    text = "" if value is None else str(value).strip()
    if len(text) > CELL_CHARS:
        raise CellError(f"too long ({len(text):,} characters, at most {CELL_CHARS:,})")
    if not text.isprintable():  # (spaces other than ' ' are not printable, and are fine)
        for char in text:
            if unicodedata.category(char) in _REFUSED:
                raise CellError(f"control or invisible character U+{ord(char):04X}")
    return text
