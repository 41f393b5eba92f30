"""Units as people type them: every usual spelling finds the unit, a near miss offers the
closest ones (staff commands say which was meant, a resident binding chooses among them).

The demo's 吴敏 owns 2栋1单元802 in 幸福里 (XFL); 李敏 ("li") is XFL's service desk.
"""

from __future__ import annotations

import re
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from handlers.directory import closest_units, unit_by_label
from handlers.documents.tables import read_table
from handlers.roster import RosterError, import_rows
from handlers.roster import parse as parse_roster
from handlers.rules.units import UnitAddress, closest, distance, key, parse
from storage.models import Binding, Community, Payment, Person, Ticket, Unit
from tests.commandline import frontdesk
from tests.harness import Chat, texts

SERVICE = "group:XFL:service"
SPELLINGS = (
    "2栋1单元802",
    "2号楼1单元802",
    "2-1-802",
    "2栋1单元802室",
    "2幢1单元802",
    "2栋1单元 802",
    "２栋１单元８０２",
    "2 栋 1 单元 802",
    "2#1-802",
    "二栋一单元802",
    "2—1—802",
)
NEAR_MISSES = ("2栋1单元8020", "2栋1单元8O2", "2栋单元802", "2-1-8O2")


# ---- the rules, as a table -------------------------------------------------------------------


@pytest.mark.parametrize("typed", SPELLINGS)
def test_every_usual_spelling_reads_as_the_same_unit(typed):
    assert parse(typed) == UnitAddress("2", "1", "802")
    assert key(typed) == "2栋1单元802"


@pytest.mark.parametrize(
    ("typed", "label"),
    [
        ("5栋1202", "5栋1202"),  # a community without entrances
        ("A座1202", "A栋1202"),  # lettered buildings
        ("12-3-1501", "12栋3单元1501"),
        ("02-01-0802", "2栋1单元802"),  # leading zeros say nothing
    ],
)
def test_other_shapes_have_the_office_spelling(typed, label):
    assert key(typed) == label


@pytest.mark.parametrize("typed", NEAR_MISSES)
def test_a_near_miss_is_one_edit_from_the_unit_meant(typed):
    assert key(typed) != "2栋1单元802"
    assert distance(key(typed), "2栋1单元802") == 1


def test_the_closest_labels_are_the_nearest_ones_only():
    labels = ["2栋1单元802", "2栋1单元801", "2栋1单元201", "1栋1单元302", "2栋2单元1101"]
    assert closest("2栋1单元8020", labels) == ["2栋1单元802"]
    assert closest("2栋1单元80", labels) == ["2栋1单元801", "2栋1单元802"]
    assert closest("9栋9单元999", labels) == []
    assert closest("hello", labels) == []
    assert distance("abc", "abcdefgh") == 3  # beyond the limit: limit + 1, early


# ---- looking units up in the store ---------------------------------------------------------


async def test_the_store_finds_the_unit_by_every_spelling_and_offers_the_closest(demo_app):
    async with demo_app.db.transaction() as s:
        xfl = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        for typed in SPELLINGS:
            found = await unit_by_label(s, xfl.id, typed)
            assert found is not None and found.label == "2栋1单元802", typed
        for typed in NEAR_MISSES:
            assert await unit_by_label(s, xfl.id, typed) is None, typed
            near = await closest_units(s, xfl.id, typed)
            assert [u.label for u in near] == ["2栋1单元802"], typed
        assert await closest_units(s, xfl.id, "9栋9单元999") == []


async def test_paid_takes_the_unit_as_typed_and_says_which_was_meant(demo_app):
    desk = Chat(demo_app, "li")
    said = await desk.say("/paid 2号楼1单元802 100 SJ20261126301")
    assert "已登记：2栋1单元802 收款 ¥100.00" in texts(said)
    said = await desk.say("/paid 2-1-802 100 SJ20261126302")
    assert "已登记：2栋1单元802" in texts(said)
    said = await desk.say("/paid XFL 2栋1单元 802 100 SJ20261126303")  # a space inside
    assert "已登记：2栋1单元802" in texts(said)

    said = await desk.say("/paid 2栋1单元8O2 100 SJ20261126304")
    assert "没有找到房号「2栋1单元8O2」" in texts(said)
    assert "您是说 2栋1单元802 吗？" in texts(said)
    said = await desk.say("/paid 9栋9单元999 100 SJ20261126305")
    assert "没有找到房号" in texts(said) and "您是说" not in texts(said)
    async with demo_app.db.transaction() as s:
        receipts = sorted(p.receipt for p in (await s.exec(select(Payment))).all())
    assert receipts == ["SJ20261126301", "SJ20261126302", "SJ20261126303"]

    await desk.say("/lang en")
    said = await desk.say("/paid 2栋单元802 100 SJ20261126306")
    assert "Did you mean 2栋1单元802?" in texts(said)


async def test_invite_takes_the_unit_as_typed_and_says_which_was_meant(demo_app):
    desk = Chat(demo_app, "li")
    said = await desk.say("/invite 2-1-802 tenant")
    assert re.search(r"\b[A-HJ-NP-Z2-9]{8}\b", texts(said)) and "2栋1单元802（租户）" in texts(said)
    said = await desk.say("/invite 2栋1单元8020")
    assert "您是说 2栋1单元802 吗？" in texts(said)


# ---- binding: a resident types their unit ---------------------------------------------------


async def start_request(chat: Chat) -> None:
    await chat.send(option="flow:bind")
    await chat.press("提交资料")
    await chat.say("王五")
    await chat.press("幸福里")


async def test_binding_takes_the_unit_as_typed(demo_app):
    applicant = Chat(demo_app, "applicant")
    await start_request(applicant)
    said = await applicant.say("2号楼1单元802室")
    assert "电话" in texts(said)  # on to the next question: the unit was found


async def test_binding_offers_the_closest_units_for_a_near_miss_and_keeps_the_answers(demo_app):
    applicant = Chat(demo_app, "applicant")
    await start_request(applicant)
    said = await applicant.say("2栋1单元8O2")
    assert "没有找到房号「2栋1单元8O2」" in texts(said)
    assert [b["label"] for b in said[-1].buttons][:1] == ["2栋1单元802"]
    assert "返回上一步" in [b["label"] for b in said[-1].buttons]

    said = await applicant.say("不知道")  # neither a choice nor a unit
    assert "请从下面选择您的房屋" in texts(said)
    said = await applicant.press("2栋1单元802")
    assert "电话" in texts(said)
    await applicant.say("13900000001")
    said = await applicant.press("租户")
    summary = texts(said)
    assert "王五" in summary and "2栋1单元802" in summary and "13900000001" in summary
    said = await applicant.press("确认提交")
    assert "B-261126-0001" in texts(said) and "2栋1单元802" in texts(said)
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
        unit = await s.get(Unit, ticket.unit_id)
    assert unit is not None and unit.label == "2栋1单元802" and ticket.contact_name == "王五"


async def test_binding_near_miss_back_to_type_it_again_in_english(demo_app):
    applicant = Chat(demo_app, "applicant")
    await applicant.say("/lang en")
    await applicant.send(option="flow:bind")
    await applicant.press("details")
    await applicant.say("Anna Li")
    await applicant.press("幸福里")
    said = await applicant.say("2栋单元802")
    assert 'could not find flat "2栋单元802"' in texts(said)
    said = await applicant.press("Back")
    assert "What is your flat" in texts(said)
    said = await applicant.say("2-1-802")
    assert "phone" in texts(said).lower()


# ---- the command line ---------------------------------------------------------------------------


def test_the_paid_command_line_takes_the_unit_as_typed(tmp_path: Path):
    assert frontdesk(tmp_path, "seed-demo", "--no-history").returncode == 0
    result = frontdesk(
        tmp_path,
        *("paid", "--community", "XFL", "--unit", "2号楼1单元802"),
        *("--amount", "100", "--receipt", "SJ20261127301"),
    )
    assert result.returncode == 0, result.stderr
    assert "payment recorded: 2栋1单元802" in result.stdout
    with sqlite3.connect(tmp_path / "fd.db") as db:
        found = "SELECT count(*) FROM payment WHERE receipt = 'SJ20261127301'"
        assert db.execute(found).fetchone() == (1,)


# ---- roster files ------------------------------------------------------------------------------


async def test_roster_files_name_units_as_people_type_them(demo_app, tmp_path: Path):
    residents = tmp_path / "residents.csv"
    residents.write_text(
        "小区代码,房号,姓名,电话,关系\nXFL,2号楼1单元802,吴小敏,13900000099,家庭成员\n",
        encoding="utf-8",
    )
    units = tmp_path / "units.csv"
    units.write_text(
        "小区代码,楼栋,房号,面积,交房日期\nXFL,2栋,2-1-802,110.00,\n", encoding="utf-8"
    )
    twice = tmp_path / "twice.csv"
    twice.write_text(
        "小区代码,楼栋,房号,面积,交房日期\nXFL,2栋,2栋1单元802,108,\nXFL,2栋,2-1-802,110,\n",
        encoding="utf-8",
    )
    now = demo_app.clock.now()
    async with demo_app.db.transaction() as s:
        added = await import_rows(s, parse_roster("residents", read_table(residents)), now)
        updated = await import_rows(s, parse_roster("units", read_table(units)), now)
    assert (added.added, updated.updated, updated.added) == (1, 1, 0)
    async with demo_app.db.transaction() as s:
        unit = (await s.exec(select(Unit).where(Unit.label == "2栋1单元802"))).one()
        person = (await s.exec(select(Person).where(Person.name == "吴小敏"))).one()
        link = (await s.exec(select(Binding).where(Binding.person_id == person.id))).one()
        assert link.unit_id == unit.id and unit.area_m2 == Decimal("110.00")
        assert (await s.exec(select(Unit).where(Unit.label == "2-1-802"))).first() is None
    with pytest.raises(RosterError) as refused:
        async with demo_app.db.transaction() as s:
            await import_rows(s, parse_roster("units", read_table(twice)), now)
    assert "line 3, column 房号: same as line 2" in refused.value.errors
