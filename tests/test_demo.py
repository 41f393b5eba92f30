"""The demo data: two communities to play in, seeded twice without changing anything."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

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

TODAY = date(2026, 11, 26)


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
    assert first["Community"] == 2 and first["Unit"] == 24 and first["Bill"] == 24 * 6
    assert before["staffmember"] == 6 and before["staff_group"] == 5


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
