"""The demo data: two communities to play in, seeded twice without changing anything, and
the months of history `frontdesk seed-demo` makes by having its people talk to the bot."""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func
from sqlmodel import SQLModel, col, select

from bot.demo import bill_months, seed_demo
from storage.db import Database
from storage.models import (
    Bill,
    Binding,
    ChatIdentity,
    Community,
    Person,
    StaffGroup,
    StaffMember,
    Unit,
)
from tests.commandline import frontdesk, frontdesk_process, ok, table_counts
from tests.test_console import REPAIR

TODAY = date(2026, 11, 26)
SHANGHAI = ZoneInfo("Asia/Shanghai")


async def counts(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        return {
            table.name: (await session.exec(select(func.count()).select_from(table))).one()
            for table in SQLModel.metadata.sorted_tables
        }


async def test_seeding_twice_changes_nothing(database: Database):
    async with database.transaction() as session:
        first = await seed_demo(session, TODAY)
    before = await counts(database)
    async with database.transaction() as session:
        second = await seed_demo(session, TODAY)
    assert second == {}
    assert await counts(database) == before
    assert first["Community"] == 2 and first["Unit"] == 26 and first["Bill"] == 24 * 6
    # Six on the console, and the web workspace's desk and supervisor logins.
    assert before["staffmember"] == 8 and before["staff_group"] == 5


async def test_communities_units_and_residents(database: Database):
    async with database.transaction() as session:
        await seed_demo(session, TODAY)
    async with database.transaction() as session:
        communities = {c.code: c for c in (await session.exec(select(Community))).all()}
        assert communities["XFL"].name == "幸福里"
        assert communities["XFL"].management_rate == Decimal("2.50")
        assert communities["XFL"].phone == "0571-88880000"
        assert communities["XFL"].office_hours == "08:30-18:00"
        assert communities["HYY"].name == "和悦园"
        assert communities["HYY"].management_rate == Decimal("1.80")

        units = (await session.exec(select(Unit))).all()
        assert all(Decimal(60) <= u.area_m2 <= Decimal(140) for u in units)
        recent = [u for u in units if u.handover_date and u.handover_date > TODAY - timedelta(730)]
        assert recent and len(recent) < len(units)  # some in warranty, some not
        assert any(u.extra_monthly > 0 for u in units)

        roles = Counter((await session.exec(select(Binding.role))).all())
        assert set(roles) == {"owner", "member", "tenant", "delegate"}
        assert (await session.exec(select(Person).where(col(Person.is_company)))).all()

        for user_id, name, role in (("resident", "张伟", "owner"), ("tenant", "刘洋", "tenant")):
            identity = (
                await session.exec(
                    select(ChatIdentity).where(
                        ChatIdentity.channel == "console",
                        ChatIdentity.external_user_id == user_id,
                    )
                )
            ).one()
            person = await session.get(Person, identity.person_id)
            assert person is not None and person.name == name
            binding = (
                await session.exec(select(Binding).where(Binding.person_id == person.id))
            ).one()
            assert binding.role == role
        zhang_unit = (
            await session.exec(
                select(Unit)
                .join(Binding, col(Binding.unit_id) == col(Unit.id))
                .join(Person, col(Person.id) == col(Binding.person_id))
                .where(Person.name == "张伟")
            )
        ).one()
        assert zhang_unit.label == "3栋2单元1201"
        assert zhang_unit.community_id == communities["XFL"].id


async def test_staff_groups_and_staff_on_the_console(database: Database):
    async with database.transaction() as session:
        await seed_demo(session, TODAY)
    async with database.transaction() as session:
        groups = (await session.exec(select(StaffGroup.chat_id))).all()
        assert sorted(groups) == sorted(
            f"group:XFL:{d}" for d in ("repair", "security", "cleaning", "greening", "service")
        )
        staff = {
            m.external_user_id: (m.name, m.role, m.department)
            for m in (await session.exec(select(StaffMember))).all()
        }
        assert staff["wang"] == ("王师傅", "staff", "repair")
        assert staff["liu"] == ("刘师傅", "staff", "repair")
        assert staff["li"] == ("李敏", "staff", "service")
        assert staff["zhao"] == ("赵强", "staff", "security")
        assert staff["zhou"][1] == "supervisor" and staff["chen"][1] == "director"


async def test_six_months_of_bills_with_arrears(database: Database):
    async with database.transaction() as session:
        await seed_demo(session, TODAY)
    async with database.transaction() as session:
        bills = (await session.exec(select(Bill))).all()
        assert sorted({b.month for b in bills}) == [
            "2026-05",
            "2026-06",
            "2026-07",
            "2026-08",
            "2026-09",
            "2026-10",
        ]
        unpaid = Counter(b.unit_id for b in bills if b.paid_at is None)
        assert {1, 3, 5} <= set(unpaid.values())
        assert len(unpaid) < 24 / 2  # most units are paid up
        for bill in bills:
            unit = await session.get(Unit, bill.unit_id)
            assert unit is not None
            community = await session.get(Community, unit.community_id)
            assert community is not None
            assert bill.management == (community.management_rate * unit.area_m2).quantize(
                Decimal("0.01")
            )
            assert bill.energy == (Decimal("0.30") * unit.area_m2).quantize(Decimal("0.01"))
            assert bill.collected == unit.extra_monthly
            if bill.paid_at is None:
                assert bill.receipt is None
            else:
                assert bill.receipt and bill.receipt.startswith(f"SJ{bill.month[:4]}")
                assert bill.paid_at.strftime("%Y-%m") == bill.month
        # The months in arrears are always the latest ones.
        for unit_id, months in unpaid.items():
            owed = sorted(b.month for b in bills if b.unit_id == unit_id and b.paid_at is None)
            assert owed == bill_months(TODAY)[-months:]


def test_bill_months_cross_the_new_year():
    assert bill_months(date(2026, 2, 3), 3) == ["2025-11", "2025-12", "2026-01"]


# ---- the history `frontdesk seed-demo` makes by talking to the bot ----------------------


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store seeded by `frontdesk seed-demo` as a newcomer runs it (about a minute), made
    once and read by the tests below (those that change it work on a copy).

    It runs as a process, `python -m bot.cli seed-demo`: of the command-line tests, the
    one that starts the module as a program (the installed `frontdesk` script is run in
    test_install.py; everything else runs the same commands in the test's process)."""
    workdir = tmp_path_factory.mktemp("history")
    out = ok(frontdesk_process(workdir, "seed-demo"))
    assert "demo data ready: 2 communities, 26 units" in out
    assert "demo history: " in out and " tickets from " in out
    return workdir / "fd.db"


@pytest.fixture
def copied(history: Path, tmp_path: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{history}{suffix}").exists():
            shutil.copy(f"{history}{suffix}", tmp_path / f"fd.db{suffix}")
    return tmp_path


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def months_back(n: int) -> str:
    today = datetime.now(SHANGHAI).date().replace(day=1)
    return bill_months(today, n)[0]


def test_the_history_has_every_kind_and_state_of_work(history: Path):
    kinds = dict(rows(history, "SELECT kind, count(*) FROM ticket GROUP BY kind"))
    assert {"repair", "complaint", "fee", "question", "slip"} <= set(kinds)
    assert kinds["repair"] >= 30 and kinds["complaint"] >= 5
    states = {s for (s,) in rows(history, "SELECT DISTINCT status FROM ticket")}
    assert {"closed", "new", "accepted", "in_progress", "cancelled", "cannot_do"} <= states
    # every one of the three whole months before this one has work in it
    created = {m for (m,) in rows(history, "SELECT DISTINCT substr(created_at, 1, 7) FROM ticket")}
    assert {months_back(3), months_back(2), months_back(1)} <= created

    revisits = rows(
        history,
        "SELECT json_extract(details, '$.revisit.by'),"
        " json_extract(details, '$.revisit.satisfaction')"
        " FROM ticket WHERE json_extract(details, '$.revisit') IS NOT NULL",
    )
    assert {by for by, _ in revisits} == {"resident", "phone"}
    assert {score for _, score in revisits} >= {3, 4, 5}
    assert rows(history, "SELECT count(*) FROM ticket WHERE reopen_count > 0")[0][0] >= 2
    late = "SELECT count(*) FROM ticket WHERE done_at IS NOT NULL AND done_at > due_at"
    assert rows(history, late)[0][0] >= 2
    tiers = rows(
        history,
        "SELECT DISTINCT json_extract(details, '$.severity') FROM ticket WHERE kind = 'complaint'",
    )
    assert {tier for (tier,) in tiers} == {"major", "important", "minor"}
    assert {s for (s,) in rows(history, "SELECT status FROM release_slip")} >= {"used"}
    steps = set(rows(history, "SELECT step, closed_at IS NOT NULL FROM arrears_case"))
    assert {("reminder", 0), ("letter", 0)} <= steps and any(closed for _, closed in steps)
    assert rows(history, "SELECT count(*) FROM payment")[0][0] >= 1
    # escalations happened on their own as the clock ran
    assert rows(history, "SELECT count(*) FROM ticket_event WHERE action = 'escalated'")[0][0] > 0
    # the residents bound their chats by sharing their phone numbers, as residents do
    assert rows(history, "SELECT count(*) FROM audit_log WHERE action = 'bind_phone'")[0][0] >= 5
    # everything said then was delivered then: nobody's console is flooded
    assert rows(history, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == [(0,)]


def test_seeding_again_adds_no_history(copied: Path):
    before = table_counts(copied / "fd.db")
    out = ok(frontdesk(copied, "seed-demo"))
    assert "(0 rows added)" in out and "demo history: none added (already made)" in out
    assert table_counts(copied / "fd.db") == before


def test_a_store_with_tickets_of_its_own_gets_no_history(tmp_path: Path):
    ok(frontdesk(tmp_path, "seed-demo", "--no-history"))
    ok(frontdesk(tmp_path, "chat", script=REPAIR))  # 张伟 reports a leak
    assert rows(tmp_path / "fd.db", "SELECT count(*) FROM ticket") == [(1,)]
    out = ok(frontdesk(tmp_path, "seed-demo"))
    assert "demo history: none added (the store already has tickets)" in out
    assert rows(tmp_path / "fd.db", "SELECT count(*) FROM ticket") == [(1,)]


def test_a_newcomer_sees_figures_of_every_kind(history: Path, copied: Path):
    month = months_back(1)
    out = ok(frontdesk(copied, "report", "--month", month, "--out", str(copied / "out")))
    total = int(out.splitlines()[0].split(": ")[1].split()[0])
    assert total >= 15
    book = load_workbook(out.splitlines()[2])
    summary = {r[0]: r[1] for r in book.worksheets[0].iter_rows(min_row=5, values_only=True)}
    assert summary["新建工单"] == total and summary["报修"] >= 5
    assert summary["已回访"] > 0 and summary["满意度"] > 0

    said = ok(frontdesk(copied, "chat", "--as", "zhou", script="/stats 上月\n/overdue\n"))
    assert f"新建工单：{total} 单" in said
    kinds = ("报修：", "投诉：", "咨询：", "放行条：", "物业费：")
    assert sum(kind in said for kind in kinds) >= 4
    assert "平均满意度：—" not in said and "接单时长（中位数）：—" not in said
    assert "逾期未完成的工单共" in said  # the lift nobody started, at least


def test_a_newcomer_moves_the_clock_and_zhang_is_asked_about_his_repair(copied: Path):
    # 张伟's socket was fixed just before the history ends; its revisit is asked next.
    out = ok(frontdesk(copied, "chat", "--clock", "+2d"))
    assert "比实际时间快 2天0小时" in out
    assert "客厅插座没电" in out and "回访" in out
