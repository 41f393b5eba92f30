"""Roster import (`frontdesk import units|residents|bills FILE`) from CSV or Excel.

Three stages: `handlers.documents.tables.read_table` reads the file, within limits,
into header cells and rows; `parse` checks every cell as plain data and notes every bad
one as `line N, column X: why`; `import_rows` resolves communities and units and
upserts by natural key inside the caller's transaction. Any error of the file raises
one `RosterError` listing them (the first 50, then how many more) before a row is
written, so the transaction rolls back and nothing is half-imported; importing the same
file again adds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.custody_fees import imported_management
from handlers.directory import normalise_label, unit_by_label
from handlers.documents.tables import CellError, Table, TableError, blank, cell_text
from handlers.rules.binding import parse_role
from handlers.rules.money import (
    DECIMALS,
    NOT_A_NUMBER,
    TOO_LARGE,
    TOO_SMALL,
    AmountError,
    read_amount,
)
from handlers.rules.phone import normalise_phone
from handlers.rules.units import key as unit_key
from storage.models import Bill, Binding, Building, Community, Person, Unit, UnitEvent, UnitStage

KINDS = ("units", "residents", "bills")


class RosterError(TableError):
    """The file cannot be imported: bad cells, unknown communities or units, repeated
    rows (reading it fails with the `TableError` this is)."""


# ---- columns and cells --------------------------------------------------------------------


def _required(value: Any) -> str:
    text = cell_text(value)
    if not text:
        raise CellError("empty")
    return text


def _name(value: Any) -> str:
    text = _required(value)
    if len(text) > 100:
        raise CellError(f"too long ({len(text)} characters, at most 100)")
    return text


def _label(value: Any) -> str:
    label = normalise_label(_required(value))
    if len(label) > 50:
        raise CellError(f"too long ({len(label)} characters, at most 50)")
    return label


_AMOUNT_WHY = {
    NOT_A_NUMBER: "not a number",
    TOO_SMALL: "must be zero or more",
    TOO_LARGE: "too large",
    DECIMALS: "at most two decimals",
}


def _amount(value: Any) -> Decimal:
    """A non-negative amount with at most two decimals: `89.5`, `1,234.50`, `¥35`."""
    try:
        return read_amount(_required(value), least=Decimal(0))
    except AmountError as why:
        raise CellError(f"{_AMOUNT_WHY[why.reason]}: {why.text!r}") from None


def _optional_amount(value: Any) -> Decimal:
    return Decimal("0.00") if blank(value) else _amount(value)


def _area(value: Any) -> Decimal:
    area = _amount(value)
    if area <= 0:
        raise CellError("must be more than zero")
    return area


_DAY = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_MONTH = re.compile(r"^(\d{4})[-/.年](\d{1,2})月?$")


def _day(value: Any) -> date | None:
    """A date cell (Excel) or `2020-05-01`, `2020/5/1`, `2020年5月1日`; empty is None."""
    if blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    found = _DAY.match(text)
    try:
        if found is None:
            raise ValueError
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise CellError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _month(value: Any) -> str:
    """`2026-05` (or `2026/5`, `2026年5月`, an Excel date) as `YYYY-MM`."""
    if isinstance(value, date | datetime):
        return f"{value.year:04d}-{value.month:02d}"
    text = _required(value)
    found = _MONTH.match(text)
    if found is None or not 1 <= int(found[2]) <= 12:
        raise CellError(f"not a month (YYYY-MM): {text!r}")
    return f"{int(found[1]):04d}-{int(found[2]):02d}"


def _phone(value: Any) -> str:
    text = _required(value)
    number = normalise_phone(text)
    if number is None:
        raise CellError(f"not a phone number: {text!r}")
    return number


def _relation(value: Any) -> str:
    text = _required(value)
    role = parse_role(text)
    if role is None:
        raise CellError(
            f"unknown relation {text!r} (owner/member/tenant/delegate, 业主/家庭成员/租户/受托人)"
        )
    return role


_YES = {"yes", "y", "true", "1", "是", "公司", "单位"}
_NO = {"no", "n", "false", "0", "否", "个人", ""}


def _yes_no(value: Any) -> bool:
    text = cell_text(value).lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise CellError(f"expected yes or no (是/否): {text!r}")


def _optional_text(value: Any) -> str | None:
    text = cell_text(value)
    if len(text) > 50:
        raise CellError(f"too long ({len(text)} characters, at most 50)")
    return text or None


@dataclass(frozen=True)
class Column:
    """A column: its field, the headers accepted for it, and how a cell is read."""

    name: str
    headers: tuple[str, ...]
    read: Callable[[Any], Any]
    required: bool = True


_COMMUNITY = Column(
    "community", ("community", "community code", "小区", "小区代码", "小区编号"), _required
)
_UNIT = Column("unit", ("unit", "unit label", "房号", "房屋", "房间", "单元房号"), _label)

COLUMNS: dict[str, tuple[Column, ...]] = {
    "units": (
        _COMMUNITY,
        Column("building", ("building", "楼栋", "楼号", "楼宇"), _name),
        _UNIT,
        Column("area", ("area", "area m²", "area m2", "面积", "建筑面积"), _area),
        Column("handover", ("handover", "handover date", "交房日期", "交付日期"), _day),
        Column(
            "collected",
            ("collected", "collected monthly", "代收代付", "代收费", "每月代收"),
            _optional_amount,
            required=False,
        ),
    ),
    "residents": (
        _COMMUNITY,
        _UNIT,
        Column("name", ("name", "姓名", "名称"), _name),
        Column("phone", ("phone", "mobile", "电话", "手机", "手机号", "联系电话"), _phone),
        Column("relation", ("relation", "role", "关系", "身份", "与房屋关系"), _relation),
        Column("company", ("company", "单位购买", "是否单位", "公司"), _yes_no, required=False),
    ),
    "bills": (
        _COMMUNITY,
        _UNIT,
        Column("month", ("month", "月份", "账期"), _month),
        Column("management", ("management", "management fee", "物业费", "物业管理费"), _amount),
        Column("energy", ("energy", "public energy", "公共能耗费", "能耗费"), _amount),
        Column("collected", ("collected", "代收代付", "代收费"), _optional_amount, required=False),
        Column(
            "receipt",
            ("receipt", "paid receipt", "收据", "收据号", "收费票据", "票据号"),
            _optional_text,
            required=False,
        ),
    ),
}


def _header_key(text: str) -> str:
    """Headers compare without case, spaces, underscores or a unit in brackets."""
    text = re.sub(r"[(（\[].*?[)）\]]", "", text.lower())
    return re.sub(r"[\s_\-]", "", text)


@dataclass(frozen=True)
class Row:
    """One checked row: its line number, the values by field, and its headers as written."""

    line: int
    values: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def where(self, name: str) -> str:
        return f"line {self.line}, column {self.headers.get(name, name)}"


@dataclass(frozen=True)
class Parsed:
    """The rows whose every cell is usable, and what is wrong with the others."""

    kind: str
    rows: list[Row]
    errors: list[str]


def parse(kind: str, table: Table) -> Parsed:
    """Check every cell of every row; a row with a bad cell is reported, not kept."""
    columns = COLUMNS[kind]
    positions, errors = _positions(columns, table.headers)
    headers = {name: table.headers[i] for name, i in positions.items()}
    rows: list[Row] = []
    for line, cells in table.rows:
        values: dict[str, Any] = {}
        bad = False
        for column in columns:
            index = positions.get(column.name)
            if index is None and column.required:
                bad = True  # the missing header is reported once, not on every line
                continue
            cell = cells[index] if index is not None and index < len(cells) else None
            try:
                values[column.name] = column.read(cell)
            except CellError as why:
                bad = True
                errors.append(f"line {line}, column {headers.get(column.name, column.name)}: {why}")
        if not bad:
            rows.append(Row(line, values, headers))
    return Parsed(kind, rows, errors)


def _positions(columns: Iterable[Column], headers: list[str]) -> tuple[dict[str, int], list[str]]:
    """Which file column holds each field; errors for missing or repeated ones."""
    keys = [_header_key(h) for h in headers]
    positions: dict[str, int] = {}
    errors: list[str] = []
    for column in columns:
        accepted = {_header_key(h) for h in column.headers}
        found = [i for i, key in enumerate(keys) if key in accepted]
        if len(found) > 1:
            twice = ", ".join(headers[i] for i in found)
            errors.append(
                f"line 1, column {headers[found[1]]}: {column.name} given twice ({twice})"
            )
        if found:
            positions[column.name] = found[0]
        elif column.required:
            errors.append(
                f"line 1, column {column.headers[0]}: missing "
                f"(header one of: {', '.join(column.headers)})"
            )
    return positions, errors


# ---- importing -----------------------------------------------------------------------------


@dataclass
class Summary:
    """What an import did, row by row, plus the rows it created on the way."""

    kind: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    also: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def __str__(self) -> str:
        total = self.added + self.updated + self.unchanged
        text = (
            f"{self.kind}: {total} rows — {self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged"
        )
        extra = ", ".join(f"{n} {what} added" for what, n in self.also.items() if n)
        return f"{text} ({extra})" if extra else text


async def import_rows(session: AsyncSession, parsed: Parsed, now: datetime) -> Summary:
    """Upsert the rows inside the caller's transaction.

    Every error of the file (bad cells, unknown communities or units, repeated rows)
    raises one `RosterError` before anything is written.
    """
    kind, rows = parsed.kind, parsed.rows
    communities = {c.code.upper(): c for c in (await session.exec(select(Community))).all() if c.id}
    errors = [*parsed.errors, *_duplicates(kind, rows)]
    errors += [
        f"{row.where('community')}: no community with code {row.values['community']!r}"
        for row in rows
        if row.values["community"].upper() not in communities
    ]
    units: dict[tuple[int, str], Unit] = {}
    if kind != "units":
        units = await _units(session, communities, rows, errors)
    if errors:
        raise RosterError(sorted(errors, key=_line_of))
    summary = Summary(kind)
    for row in rows:
        community = communities[row.values["community"].upper()]
        assert community.id is not None
        if kind == "units":
            summary.count(await _upsert_unit(session, community.id, row.values, summary, now))
        elif kind == "residents":
            unit = units[(community.id, row.values["unit"])]
            summary.count(await _upsert_resident(session, unit, row.values, summary, now))
        else:
            unit = units[(community.id, row.values["unit"])]
            summary.count(await _upsert_bill(session, unit, row.values, now))
    await session.flush()
    return summary


def _line_of(error: str) -> int:
    """Errors are listed in file order (a header error is line 1)."""
    return int(error.split(",")[0].removeprefix("line "))


_KEYS = {"units": ("unit",), "residents": ("unit", "name", "phone"), "bills": ("unit", "month")}


def _duplicates(kind: str, rows: Sequence[Row]) -> list[str]:
    """A natural key twice in one file: which line wins would be a guess, so refuse."""
    seen: dict[tuple[Any, ...], int] = {}
    errors = []
    for row in rows:
        key = (
            row.values["community"].upper(),
            *(unit_key(row.values[k]) if k == "unit" else row.values[k] for k in _KEYS[kind]),
        )
        if key in seen:
            errors.append(f"{row.where(_KEYS[kind][-1])}: same as line {seen[key]}")
        else:
            seen[key] = row.line
    return errors


async def _units(
    session: AsyncSession,
    communities: dict[str, Community],
    rows: Sequence[Row],
    errors: list[str],
) -> dict[tuple[int, str], Unit]:
    """The units rows name; an error for each unit the community does not have."""
    found: dict[tuple[int, str], Unit] = {}
    for row in rows:
        community = communities.get(row.values["community"].upper())
        if community is None or community.id is None:
            continue
        key = (community.id, row.values["unit"])
        if key not in found:
            # As people type it: `2-1-802` in a residents file names the unit 2栋1单元802.
            unit = await unit_by_label(session, community.id, key[1])
            if unit is None:
                errors.append(
                    f"{row.where('unit')}: no unit {key[1]!r} in {community.code} "
                    "(import the units first)"
                )
                continue
            found[key] = unit
    return found


async def _upsert_unit(
    session: AsyncSession,
    community_id: int,
    values: dict[str, Any],
    summary: Summary,
    now: datetime,
) -> str:
    building = (
        await session.exec(
            select(Building).where(
                Building.community_id == community_id, Building.name == values["building"]
            )
        )
    ).first()
    if building is None:
        building = Building(community_id=community_id, name=values["building"])
        session.add(building)
        await session.flush()
        summary.also["buildings"] = summary.also.get("buildings", 0) + 1
    assert building.id is not None
    # Another spelling of a unit already there (`2-1-802` for 2栋1单元802) updates it.
    unit = await unit_by_label(session, community_id, values["unit"])
    wanted = {
        "building_id": building.id,
        "area_m2": values["area"],
        "handover_date": values["handover"],
        "extra_monthly": values["collected"],
    }
    # The office's own records of units handed over before the bot: the file's handover
    # date stands for the move-in done then (a unit handed over later goes through /movein).
    handed = values["handover"] is not None
    if unit is None:
        stage = UnitStage.handed_over if handed else UnitStage.not_handed_over
        session.add(Unit(community_id=community_id, label=values["unit"], stage=stage, **wanted))
        return "added"
    if handed and unit.stage == UnitStage.not_handed_over:
        assert unit.id is not None
        unit.stage = UnitStage.handed_over
        session.add(
            UnitEvent(
                unit_id=unit.id,
                at=now,
                actor="roster",
                from_stage=UnitStage.not_handed_over,
                to_stage=UnitStage.handed_over,
                note=str(values["handover"]),
            )
        )
    return _apply(session, unit, wanted)


def _apply(session: AsyncSession, row: Any, wanted: dict[str, Any]) -> str:
    """Set the fields that differ; `updated` or `unchanged`."""
    changed = {k: v for k, v in wanted.items() if getattr(row, k) != v}
    for name, value in changed.items():
        setattr(row, name, value)
    if changed:
        session.add(row)
    return "updated" if changed else "unchanged"


async def _upsert_resident(
    session: AsyncSession, unit: Unit, values: dict[str, Any], summary: Summary, now: datetime
) -> str:
    person = (
        await session.exec(
            select(Person).where(Person.name == values["name"], Person.phone == values["phone"])
        )
    ).first()
    if person is None:
        person = Person(
            name=values["name"], phone=values["phone"], is_company=values["company"], created_at=now
        )
        session.add(person)
        await session.flush()
        summary.also["people"] = summary.also.get("people", 0) + 1
    assert person.id is not None and unit.id is not None
    company_changed = _apply(session, person, {"is_company": values["company"]}) == "updated"
    link = (
        await session.exec(
            select(Binding).where(Binding.person_id == person.id, Binding.unit_id == unit.id)
        )
    ).first()
    if link is None:
        session.add(
            Binding(
                person_id=person.id,
                unit_id=unit.id,
                role=values["relation"],
                verified_by="roster",
                created_at=now,
            )
        )
        return "added"
    outcome = _apply(session, link, {"role": values["relation"]})
    return "updated" if company_changed else outcome


async def _upsert_bill(
    session: AsyncSession, unit: Unit, values: dict[str, Any], now: datetime
) -> str:
    assert unit.id is not None
    bill = (
        await session.exec(
            select(Bill).where(Bill.unit_id == unit.id, Bill.month == values["month"])
        )
    ).first()
    wanted: dict[str, Any] = {
        # A month of custody is charged at the custody rate (handlers/custody_fees.py).
        "management": await imported_management(
            session, unit, values["month"], values["management"]
        ),
        "energy": values["energy"],
        "collected": values["collected"],
    }
    receipt = values["receipt"]
    if receipt is not None:
        # The file says it was paid, not when: the import is when the office learnt it.
        wanted["receipt"] = receipt
        wanted["paid_at"] = bill.paid_at if bill is not None and bill.paid_at else now
    if bill is None:
        session.add(Bill(unit_id=unit.id, month=values["month"], **wanted))
        return "added"
    return _apply(session, bill, wanted)
