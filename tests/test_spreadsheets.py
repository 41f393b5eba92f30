"""What people type reaches the workbooks as text: never a live formula, never a crash.

A resident's description `=HYPERLINK("http://x","click")` must not become a link the
supervisor clicks in the monthly report, nor `=cmd|' /C calc'!A0` a command. The report
is the only workbook the project writes (`/report` in chat and `frontdesk report`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.app import App
from bot.settings import Settings
from handlers.documents.workbook import TICKET_COLUMNS
from handlers.rules.spreadsheet import as_text
from tests.commandline import frontdesk, ok
from tests.conversations import ask_report, file_repair
from tests.harness import Chat
from tests.test_supervisor import add_ticket, at, seeded_file

LINK = '=HYPERLINK("http://x","click")'
COMMAND = "=cmd|' /C calc'!A0"
HOSTILE = [
    COMMAND,
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\n=1+1",  # (a leading carriage return is in the table below: XML reads it as \n)
    "  =1+1",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", " ")


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("=1+1", "'=1+1"),
        (LINK, "'" + LINK),
        ("+86 138", "'+86 138"),
        ("-5 度", "'-5 度"),
        ("@张伟", "'@张伟"),
        ("\t=1+1", "'\t=1+1"),
        ("\r\n=1+1", "'\r\n=1+1"),
        ("  =1+1", "'  =1+1"),
        ("\u3000=1+1", "'\u3000=1+1"),
        ("\x00=1+1", "'=1+1"),  # a NUL cannot hide the formula
        ("灯\x1b[2J不亮\x07", "灯[2J不亮"),  # control characters an XLSX file cannot hold
        ("客厅插座没电，a=1", "客厅插座没电，a=1"),
        ("'已引用", "'已引用"),
        ("", ""),
    ],
)
def test_text_that_a_spreadsheet_would_run_is_kept_as_text(typed: str, written: str):
    assert as_text(typed) == written


def described(book: Path, descriptions: list[str]) -> dict[str, Any]:
    """The ticket list's description cells, by what was typed; and no formula anywhere."""
    workbook = load_workbook(book)
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
    tickets = workbook.worksheets[-1]
    column = TICKET_COLUMNS.index("supervisor.col.description") + 1
    cells = [tickets.cell(row, column) for row in range(2, tickets.max_row + 1)]
    found = {}
    for typed in descriptions:
        matches = [c for c in cells if isinstance(c.value, str) and c.value.endswith(typed)]
        assert len(matches) == 1, (typed, [c.value for c in cells])
        found[typed] = matches[0]
    return found


async def test_report_in_chat_keeps_descriptions_as_text(demo_app, clock, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    await file_repair(Chat(demo_app, "resident"), text=LINK)
    for day, text in enumerate(HOSTILE, start=2):
        await add_ticket(demo_app, "XFL", "repair", "repair", at(day, 10), description=text)

    said = await ask_report(demo_app, Chat(demo_app, "zhou"), "/report 2026-11")
    cells = described(Path(said[2].payload["document"]), [LINK, *HOSTILE])
    for typed, cell in cells.items():
        assert cell.data_type == "s"
        assert not cell.value.startswith(FORMULA_START)
        assert cell.value == "'" + typed  # shown as typed, behind Excel's text mark


async def test_a_control_character_does_not_stop_the_report(demo_app, clock, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    await add_ticket(demo_app, "XFL", "repair", "repair", at(3, 10), description="灯\x1b[2J不亮")

    said = await ask_report(demo_app, Chat(demo_app, "zhou"), "/report 2026-11")
    assert len(said) == 3, said  # the figures, the chart and the workbook
    cell = described(Path(said[2].payload["document"]), ["[2J不亮"])["[2J不亮"]
    assert cell.value == "灯[2J不亮"


def test_frontdesk_report_keeps_descriptions_as_text(tmp_path):
    async def hostile_tickets() -> None:
        await seeded_file(tmp_path)
        app = await App.start(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'fd.db'}"))
        try:
            await add_ticket(app, "XFL", "complaint", "service", at(5, 9), description=LINK)
            await add_ticket(app, "XFL", "repair", "repair", at(6, 9), description=COMMAND)
        finally:
            await app.close()

    asyncio.run(hostile_tickets())
    printed = ok(frontdesk(tmp_path, "report", "--month", "2026-11", "--community", "XFL",
                           "--out", str(tmp_path / "out")))  # fmt: skip
    book = Path(printed.strip().splitlines()[2])
    for typed, cell in described(book, [LINK, COMMAND]).items():
        assert cell.data_type == "s" and cell.value == "'" + typed
