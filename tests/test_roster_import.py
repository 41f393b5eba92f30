"""Roster import from CSV and Excel: every bad cell reported, all or nothing, idempotent."""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import func
from sqlmodel import SQLModel, col, select

from handlers.documents.tables import Limits, TableError, read_table
from handlers.roster import RosterError, Summary, import_rows, parse
from storage.db import Database
from storage.models import Bill, Binding, Building, Person, Unit, UnitEvent
from tests.commandline import frontdesk
from tests.factories import make_community

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

UNITS = [
    ["小区代码", "楼栋", "房号", "面积(m²)", "交房日期", "代收代付"],
    ["XFL", "3栋", "3栋2单元1201", "89.50", "2020-05-01", "15"],
    ["XFL", "3栋", "3栋2单元1202", "89.5", "2020/5/1", ""],
    ["XFL", "5栋", "5栋1单元301", "120", "", "0"],
]
RESIDENTS = [
    ["Community", "Unit label", "Name", "Phone", "Relation", "Company"],
    ["XFL", "3栋2单元1201", "张伟", 13800000001, "业主", "no"],
    ["XFL", "3栋2单元1201", "李娜", "138 0000 0002", "household member", ""],
    ["xfl", "3栋2单元1202", "杭州某某贸易有限公司", 13800000020, "owner", "yes"],
    ["XFL", "3栋2单元1202", "马超", "+8613800000008", "受托人", "否"],
]
BILLS = [
    ["community", "unit", "month", "management", "energy", "collected", "paid receipt"],
    ["XFL", "3栋2单元1201", "2026-09", "223.75", "26.85", "15.00", "SJ20260901"],
    ["XFL", "3栋2单元1201", "2026-10", "223.75", "26.85", "15.00", ""],
    ["XFL", "3栋2单元1202", "2026/10", "223.75", "26.85", "", ""],
]


def write_csv(path: Path, rows: list[list], bom: bool = False) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


async def load(db: Database, kind: str, path: Path) -> Summary:
    async with db.transaction() as session:
        return await import_rows(session, parse(kind, read_table(path)), NOW)


async def counts(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        return {
            table.name: (await session.exec(select(func.count()).select_from(table))).one()
            for table in SQLModel.metadata.sorted_tables
        }


@pytest.fixture
async def xfl(database: Database) -> Database:
    async with database.transaction() as session:
        await make_community(session, "XFL")
    return database


async def test_units_from_csv_with_bom_and_chinese_headers(xfl, tmp_path):
    path = write_csv(tmp_path / "units.csv", UNITS, bom=True)
    summary = await load(xfl, "units", path)
    assert str(summary) == "units: 3 rows — 3 added, 0 updated, 0 unchanged (2 buildings added)"
    async with xfl.transaction() as s:
        units = {u.label: u for u in (await s.exec(select(Unit))).all()}
        assert units["3栋2单元1201"].area_m2 == Decimal("89.50")
        assert units["3栋2单元1201"].handover_date == date(2020, 5, 1)
        assert units["3栋2单元1201"].extra_monthly == Decimal("15.00")
        assert units["3栋2单元1202"].extra_monthly == Decimal("0")
        assert units["5栋1单元301"].handover_date is None
        assert len((await s.exec(select(Building))).all()) == 2


async def test_reimporting_the_same_file_adds_nothing(xfl, tmp_path):
    path = write_csv(tmp_path / "units.csv", UNITS)
    await load(xfl, "units", path)
    before = await counts(xfl)
    again = await load(xfl, "units", path)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    assert await counts(xfl) == before
    changed = [row[:] for row in UNITS]
    changed[2][3] = "90.10"
    summary = await load(xfl, "units", write_csv(tmp_path / "units2.csv", changed))
    assert (summary.added, summary.updated, summary.unchanged) == (0, 1, 2)


async def test_a_handover_date_on_file_is_a_move_in_done_before_the_bot(xfl, tmp_path):
    await load(xfl, "units", write_csv(tmp_path / "units.csv", UNITS))
    later = [row[:] for row in UNITS]
    later[3][4] = "2026-06-01"  # 5栋1单元301 was handed over meanwhile
    await load(xfl, "units", write_csv(tmp_path / "units2.csv", later))
    async with xfl.transaction() as s:
        stages = {u.label: u.stage for u in (await s.exec(select(Unit))).all()}
        events = (await s.exec(select(UnitEvent))).all()
    assert stages == {
        "3栋2单元1201": "handed_over",
        "3栋2单元1202": "handed_over",
        "5栋1单元301": "handed_over",
    }
    assert [(e.actor, e.from_stage, e.to_stage, e.note) for e in events] == [
        ("roster", "not_handed_over", "handed_over", "2026-06-01")
    ]


async def test_residents_from_excel_with_english_headers(xfl, tmp_path):
    await load(xfl, "units", write_csv(tmp_path / "units.csv", UNITS))
    path = write_xlsx(tmp_path / "residents.xlsx", RESIDENTS)
    summary = await load(xfl, "residents", path)
    assert str(summary) == "residents: 4 rows — 4 added, 0 updated, 0 unchanged (4 people added)"
    async with xfl.transaction() as s:
        rows = (
            await s.exec(
                select(Person.name, Person.phone, Person.is_company, Binding.role, Unit.label)
                .join(Binding, col(Binding.person_id) == col(Person.id))
                .join(Unit, col(Unit.id) == col(Binding.unit_id))
                .order_by(col(Binding.id))
            )
        ).all()
        assert [tuple(r) for r in rows] == [
            ("张伟", "13800000001", False, "owner", "3栋2单元1201"),
            ("李娜", "13800000002", False, "member", "3栋2单元1201"),
            ("杭州某某贸易有限公司", "13800000020", True, "owner", "3栋2单元1202"),
            ("马超", "13800000008", False, "delegate", "3栋2单元1202"),
        ]
        assert {b.verified_by for b in (await s.exec(select(Binding))).all()} == {"roster"}
    again = await load(xfl, "residents", path)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 4)
    moved = [row[:] for row in RESIDENTS]
    moved[2][4] = "租户"
    summary = await load(xfl, "residents", write_xlsx(tmp_path / "r2.xlsx", moved))
    assert (summary.added, summary.updated, summary.unchanged) == (0, 1, 3)


async def test_bills_with_receipts_are_paid(xfl, tmp_path):
    await load(xfl, "units", write_csv(tmp_path / "units.csv", UNITS))
    path = write_xlsx(tmp_path / "bills.xlsx", BILLS)
    summary = await load(xfl, "bills", path)
    assert (summary.added, summary.updated, summary.unchanged) == (3, 0, 0)
    async with xfl.transaction() as s:
        bills = {
            (u.label, b.month): b
            for b, u in (
                await s.exec(select(Bill, Unit).join(Unit, col(Unit.id) == col(Bill.unit_id)))
            ).all()
        }
        paid = bills[("3栋2单元1201", "2026-09")]
        assert paid.receipt == "SJ20260901" and paid.paid_at == NOW
        assert paid.management == Decimal("223.75") and paid.collected == Decimal("15.00")
        assert bills[("3栋2单元1201", "2026-10")].paid_at is None
        assert bills[("3栋2单元1202", "2026-10")].collected == Decimal("0")
    again = await load(xfl, "bills", path)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)


async def test_every_bad_row_is_reported_and_nothing_is_imported(xfl, tmp_path):
    rows = [
        *UNITS,
        ["XFL", "6栋", "6栋1单元101", "abc", "2020-13-01", "-5"],
        ["HYY", "1栋", "1栋1单元101", "70", "", ""],
        ["XFL", "3栋", "3栋2单元1201", "89.50", "2020-05-01", "15"],
        ["XFL", "", "6栋1单元102", "70.123", "", ""],
    ]
    path = write_csv(tmp_path / "units.csv", rows)
    before = await counts(xfl)
    with pytest.raises(RosterError) as caught:
        await load(xfl, "units", path)
    assert caught.value.errors == [
        "line 5, column 面积(m²): not a number: 'abc'",
        "line 5, column 交房日期: not a date (YYYY-MM-DD): '2020-13-01'",
        "line 5, column 代收代付: must be zero or more: '-5'",
        "line 6, column 小区代码: no community with code 'HYY'",
        "line 7, column 房号: same as line 2",
        "line 8, column 楼栋: empty",
        "line 8, column 面积(m²): at most two decimals: '70.123'",
    ]
    assert await counts(xfl) == before  # the good rows were not imported either


async def test_unknown_units_of_residents_roll_back_the_whole_file(xfl, tmp_path):
    await load(xfl, "units", write_csv(tmp_path / "units.csv", UNITS))
    before = await counts(xfl)
    rows = [
        *RESIDENTS,
        ["XFL", "9栋9单元999", "赵六", "13800000099", "业主", "no"],
        ["XFL", "3栋2单元1201", "钱七", "12345", "朋友", "maybe"],
    ]
    with pytest.raises(RosterError) as caught:
        await load(xfl, "residents", write_xlsx(tmp_path / "residents.xlsx", rows))
    assert caught.value.errors == [
        "line 6, column Unit label: no unit '9栋9单元999' in XFL (import the units first)",
        "line 7, column Phone: not a phone number: '12345'",
        "line 7, column Relation: unknown relation '朋友' "
        "(owner/member/tenant/delegate, 业主/家庭成员/租户/受托人)",
        "line 7, column Company: expected yes or no (是/否): 'maybe'",
    ]
    assert await counts(xfl) == before


async def test_missing_columns_and_unreadable_files(tmp_path):
    rows = [["community", "unit", "name", "relation"], ["XFL", "3栋2单元1201", "张伟", "业主"]]
    parsed = parse("residents", read_table(write_csv(tmp_path / "r.csv", rows)))
    assert parsed.errors == [
        "line 1, column phone: missing (header one of: phone, mobile, 电话, 手机, 手机号, 联系电话)"
    ]
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("小区,楼栋\nXFL,3栋\n".encode("gbk"))
    with pytest.raises(TableError, match="not UTF-8"):
        read_table(gbk)
    with pytest.raises(TableError, match=r"\.csv or \.xlsx"):
        read_table(write_csv(tmp_path / "units.txt", UNITS))
    with pytest.raises(TableError, match="empty"):
        read_table(write_csv(tmp_path / "empty.csv", [[], ["", ""]]))
    bills = [
        ["community", "unit", "month", "management", "energy"],
        ["XFL", "x", "2026-13", "1", "1"],
    ]
    parsed = parse("bills", read_table(write_csv(tmp_path / "b.csv", bills)))
    assert parsed.errors == ["line 2, column month: not a month (YYYY-MM): '2026-13'"]


# ---- the command line ------------------------------------------------------------------


def test_import_and_invite_on_the_command_line(tmp_path):
    assert frontdesk(tmp_path, "seed-demo", "--no-history").returncode == 0
    units = [
        UNITS[0],
        ["XFL", "5栋", "5栋1单元301", "120", "", ""],
        ["XFL", "5栋", "5栋1单元302", "95", "", ""],
    ]
    path = write_csv(tmp_path / "units.csv", units, bom=True)
    done = frontdesk(tmp_path, "import", "units", str(path))
    assert done.returncode == 0, done.stderr
    assert "units: 2 rows — 2 added, 0 updated, 0 unchanged (1 buildings added)" in done.stdout
    done = frontdesk(tmp_path, "import", "units", str(path))
    assert "0 added, 0 updated, 2 unchanged" in done.stdout

    bad = write_csv(tmp_path / "bad.csv", [*units, ["XFL", "5栋", "5栋1单元303", "x", "", ""]])
    done = frontdesk(tmp_path, "import", "units", str(bad))
    assert done.returncode == 1 and "line 4, column 面积(m²): not a number: 'x'" in done.stderr
    done = frontdesk(tmp_path, "import", "people", str(bad))
    assert done.returncode == 2 and "units, residents, bills" in done.stderr

    done = frontdesk(
        tmp_path, "invite", "--community", "XFL", "--unit", "5栋1单元301", "--unit", "5栋1单元302"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split("\t")[:2] for line in lines] == [
        ["5栋1单元301", "owner"],
        ["5栋1单元302", "owner"],
    ]
    assert all(len(line.split("\t")[2]) == 8 for line in lines)
    done = frontdesk(tmp_path, "invite", "--community", "XFL", "--unit", "9栋")
    assert done.returncode == 2 and "no unit" in done.stderr


# ---- hostile files ------------------------------------------------------------------------


def test_a_cell_too_long_for_the_csv_reader_is_one_line_not_a_traceback(tmp_path):
    rows = [
        RESIDENTS[0],
        RESIDENTS[1],
        ["XFL", "3栋2单元1201", "张" * 200_000, "13800000002", "业主"],
    ]
    path = write_csv(tmp_path / "residents.csv", rows)
    with pytest.raises(TableError) as caught:
        read_table(path)
    assert caught.value.errors == ["line 3: too long (at most 1,000 characters)"]

    done = frontdesk(tmp_path, "import", "residents", str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "line 3: too long (at most 1,000 characters)"


async def test_control_characters_and_long_cells_are_refused(xfl, tmp_path):
    await load(xfl, "units", write_csv(tmp_path / "units.csv", UNITS))
    before = await counts(xfl)
    rows = [
        RESIDENTS[0],
        ["XFL", "3栋2单元1201", "张\x00伟", "13800000011", "业主", "no"],
        ["XFL", "3栋2单元1201", "\x1b[2J李娜", "13800000012", "业主", "no"],
        ["XFL", "3栋2单元1201", "王\u200b芳", "13800000013", "业主", "no"],
        ["XFL", "3栋2单元1202", "赵\u2028六", "13800000014", "业主", "no"],
        ["XFL", "3栋2单元1202", "孙七", "138" * 334, "业主", "no"],
        ["XFL", "3栋2单元1202", "周　八", "13800000016", "业主", "no"],  # a full-width space
    ]
    path = write_csv(tmp_path / "residents.csv", rows)
    with pytest.raises(RosterError) as caught:
        await load(xfl, "residents", path)
    assert caught.value.errors == [
        "line 2, column Name: control or invisible character U+0000",
        "line 3, column Name: control or invisible character U+001B",
        "line 4, column Name: control or invisible character U+200B",
        "line 5, column Name: control or invisible character U+2028",
        "line 6, column Phone: too long (1,002 characters, at most 1,000)",
    ]
    assert await counts(xfl) == before
    async with xfl.transaction() as s:
        assert not [name for name in (await s.exec(select(Person.name))).all() if "\x00" in name]


def hostile_sheet(path: Path, rows: int, far: int | None = None) -> Path:
    """A residents sheet of `rows` rows, and a cell on line `far` if given."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(RESIDENTS[0])
    for n in range(rows):
        sheet.append(["XFL", "3栋2单元1201", f"住户{n}", f"138{n:08d}", "业主", "no"])
    if far is not None:
        sheet.cell(far, 1, "XFL")
    book.save(path)
    return path


def test_reading_stops_at_the_first_line_past_the_row_limit(tmp_path):
    path = hostile_sheet(tmp_path / "residents.xlsx", rows=30)
    with pytest.raises(TableError) as caught:
        read_table(path, Limits(rows=20))
    assert caught.value.errors == [
        "line 22: more than 20 rows after the header "
        "(split the file, or delete the empty rows below the data)"
    ]
    assert len(read_table(path, Limits(rows=30)).rows) == 30

    # A few kilobytes that claim a cell on Excel's last row: refused at line 50,002.
    far = hostile_sheet(tmp_path / "far.xlsx", rows=2, far=1_048_576)
    assert far.stat().st_size < 20_000
    with pytest.raises(TableError, match=r"^line 50002: more than 50,000 rows"):
        read_table(far)

    csv_rows = write_csv(tmp_path / "r.csv", [RESIDENTS[0]] + [RESIDENTS[1]] * 25)
    with pytest.raises(TableError, match=r"^line 22: more than 20 rows"):
        read_table(csv_rows, Limits(rows=20))


def test_size_and_width_limits(tmp_path):
    units = write_csv(tmp_path / "units.csv", UNITS)
    size = units.stat().st_size
    with pytest.raises(TableError) as caught:
        read_table(units, Limits(size=size - 1))
    assert caught.value.errors == [f"units.csv: {size:,} bytes, more than {size - 1:,} (split it)"]
    assert len(read_table(units, Limits(size=size)).rows) == 3

    # A zip bomb in miniature: 300,000 letters pack into a few kilobytes.
    bomb = write_xlsx(tmp_path / "bomb.xlsx", [UNITS[0], *[["XFL", "a" * 30_000]] * 10])
    assert bomb.stat().st_size < 10_000
    with pytest.raises(TableError, match=r"^bomb\.xlsx: unpacks to [\d,]+ bytes, more than"):
        read_table(bomb, Limits(unpacked=100_000))

    wide = write_csv(tmp_path / "wide.csv", [[*UNITS[0], *(f"x{n}" for n in range(45))]])
    with pytest.raises(TableError) as caught:
        read_table(wide)
    assert caught.value.errors == [
        "line 1, column 51: more than 50 columns (delete the ones not imported)"
    ]


def test_at_most_fifty_errors_are_listed(tmp_path):
    rows = [UNITS[0], *(["XFL", "6栋", f"6栋1单元{n}", "x", "", ""] for n in range(120))]
    path = write_csv(tmp_path / "units.csv", rows)
    parsed = parse("units", read_table(path))
    error = RosterError(parsed.errors)
    assert error.count == 120 and len(error.errors) == 51
    assert error.errors[0] == "line 2, column 面积(m²): not a number: 'x'"
    assert error.errors[-1] == "… and 70 more"

    done = frontdesk(tmp_path, "import", "units", str(path))
    assert done.returncode == 1
    printed = done.stderr.strip().splitlines()
    assert len(printed) == 51 and printed[-1] == "… and 70 more"
