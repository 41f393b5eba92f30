"""Demo data (`frontdesk seed-demo`): two communities to try every flow in the console.

幸福里 (XFL) and 和悦园 (HYY), three buildings each, a dozen units each with residents
bound as owners, household members, tenants and delegates (one unit is owned by a
company), console staff groups and staff for XFL, and six months of bills with a few
units in arrears; in 幸福里 two new flats of building 6 wait for their owners' move-in
(not handed over, no residents or bills yet). Seeding is idempotent: rows are found by
their natural keys and only missing ones are added, so a second run changes nothing.

No tickets: tests build on this store and count from ticket 0001. The months of
front-desk history that `frontdesk seed-demo` adds for a newcomer to look at are made
afterwards, by the demo's people talking to the bot (bot/demo_history.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.people import add_staff
from storage.models import (
    Bill,
    Binding,
    Building,
    ChatIdentity,
    Community,
    Department,
    Person,
    Role,
    ServiceItem,
    StaffGroup,
    StaffMember,
    StaffRole,
    Unit,
    UnitStage,
)

# The convenience services each demo community lists (便民服务): name, department, price, per.
SERVICES = (
    ("家政保洁", Department.cleaning, "50", "小时", "日常保洁、开荒保洁"),
    ("家电清洗", Department.repair, "80", "台", "空调、油烟机、洗衣机清洗"),
    ("搬家帮手", Department.cleaning, "200", "次", "两人半天，不含车辆"),
    ("开锁换锁", Department.security, "60", "次", "须核实业主身份"),
    ("疏通管道", Department.repair, "100", "次", "下水道、马桶疏通"),
)
ENERGY_RATE = Decimal("0.30")  # the owner's share of public energy, yuan per m² per month
BILL_MONTHS = 6
CENT = Decimal("0.01")
CONSOLE = "console"


@dataclass(frozen=True)
class Resident:
    name: str
    phone: str
    role: Role = Role.owner
    company: bool = False


@dataclass(frozen=True)
class DemoUnit:
    label: str
    area: str
    # An absolute handover date, or how many days before today (a unit still in warranty);
    # None for a new flat not handed over yet (its owner comes for the move-in).
    handover: date | int | None
    residents: tuple[Resident, ...]
    extra: str = "0"  # collected-on-behalf items per month
    unpaid: int = 0  # the latest months left unpaid


@dataclass(frozen=True)
class DemoCommunity:
    code: str
    name: str
    rate: str
    hours: str
    phone: str
    units: tuple[DemoUnit, ...]


def _r(name: str, number: int, role: Role = Role.owner, company: bool = False) -> Resident:
    return Resident(name, f"1380000{number:04d}", role, company)


COMMUNITIES = (
    DemoCommunity(
        code="XFL",
        name="幸福里",
        rate="2.50",
        hours="08:30-18:00",
        phone="0571-88880000",
        units=(
            DemoUnit("1栋1单元101", "68.40", date(2018, 6, 30), (_r("陈静", 5),)),
            DemoUnit(
                "1栋1单元302",
                "89.00",
                date(2018, 6, 30),
                (_r("赵敏", 7), _r("杨磊", 6, Role.delegate)),
                extra="35.00",
                unpaid=3,
            ),
            DemoUnit(
                "1栋2单元601",
                "132.60",
                date(2019, 9, 1),
                (_r("杭州幸福里贸易有限公司", 20, company=True), _r("马超", 8, Role.delegate)),
            ),
            DemoUnit("1栋2单元1502", "96.30", 300, (_r("黄强", 9),)),
            DemoUnit("2栋1单元201", "75.20", date(2019, 9, 1), (_r("周杰", 10),), extra="20.00"),
            DemoUnit("2栋1单元802", "108.00", 500, (_r("吴敏", 11),)),
            DemoUnit(
                "2栋2单元1101",
                "118.50",
                date(2019, 9, 1),
                (_r("徐丽", 12), _r("徐明", 13, Role.member)),
                unpaid=5,
            ),
            DemoUnit("2栋2单元1804", "139.80", 240, (_r("孙涛", 14),)),
            DemoUnit("3栋1单元501", "62.50", date(2020, 12, 15), (_r("胡军", 15),)),
            DemoUnit("3栋1单元2301", "125.00", 650, (_r("郭芳", 16),), extra="28.00"),
            DemoUnit(
                "3栋2单元1201",
                "89.50",
                date(2020, 5, 1),
                (_r("张伟", 1), _r("李娜", 2, Role.member)),
            ),
            DemoUnit(
                "3栋2单元1202",
                "89.50",
                400,
                (_r("王芳", 3), _r("刘洋", 4, Role.tenant)),
                extra="15.00",
                unpaid=1,
            ),
            # New flats of building 6, waiting for their owners' move-in.
            DemoUnit("6栋1单元101", "98.60", None, ()),
            DemoUnit("6栋1单元102", "98.60", None, ()),
        ),
    ),
    DemoCommunity(
        code="HYY",
        name="和悦园",
        rate="1.80",
        hours="08:30-17:30",
        phone="0571-88660000",
        units=(
            DemoUnit("1栋1单元102", "72.00", date(2017, 10, 1), (_r("朱琳", 21),)),
            DemoUnit("1栋1单元601", "95.50", date(2017, 10, 1), (_r("郭斌", 22),)),
            DemoUnit("1栋2单元903", "120.00", 260, (_r("何洁", 23), _r("何小军", 24, Role.member))),
            DemoUnit("1栋2单元1201", "60.80", date(2018, 3, 20), (_r("高翔", 25),), unpaid=3),
            DemoUnit("2栋1单元301", "88.80", date(2018, 3, 20), (_r("林峰", 26),)),
            DemoUnit("2栋1单元1002", "101.20", 330, (_r("罗敏", 27),), extra="30.00"),
            DemoUnit(
                "2栋2单元502",
                "66.60",
                date(2018, 3, 20),
                (_r("梁宇", 28), _r("冯源", 29, Role.tenant)),
                unpaid=5,
            ),
            DemoUnit("2栋2单元1401", "140.00", 700, (_r("宋佳", 30),)),
            DemoUnit("3栋1单元201", "78.90", date(2019, 4, 8), (_r("郑浩", 31),), unpaid=1),
            DemoUnit("3栋1单元1701", "112.40", 450, (_r("谢婷", 32),)),
            DemoUnit("3栋2单元801", "93.00", date(2019, 4, 8), (_r("韩雪", 33),)),
            DemoUnit("3栋2单元1603", "84.20", date(2019, 4, 8), (_r("唐亮", 34),)),
        ),
    ),
)

# Console accounts of demo residents: `frontdesk chat` and `frontdesk chat --user tenant`.
CHAT_ACCOUNTS = {"resident": ("张伟", "13800000001"), "tenant": ("刘洋", "13800000004")}

STAFF_COMMUNITY = "XFL"
# user id, name, role, department
STAFF = (
    ("wang", "王师傅", StaffRole.staff, Department.repair),
    ("liu", "刘师傅", StaffRole.staff, Department.repair),
    ("li", "李敏", StaffRole.staff, Department.service),
    ("zhao", "赵强", StaffRole.staff, Department.security),
    ("zhou", "周主管", StaffRole.supervisor, None),
    ("chen", "陈主任", StaffRole.director, None),
)

# Logins of the desk's web workspace (`frontdesk seed-demo` sets and prints their passwords):
# the service desk's clerk and the supervisor, on the `web` channel.
WEB_LOGINS = (
    ("desk", "李敏", StaffRole.staff, Department.service),
    ("zhou", "周主管", StaffRole.supervisor, None),
)

Row = TypeVar("Row", bound=SQLModel)


async def _ensure(
    session: AsyncSession, added: Counter[str], model: type[Row], key: dict[str, Any], **values: Any
) -> Row:
    """The row with these key columns; added (with `values`) when missing."""
    found = (await session.exec(select(model).filter_by(**key))).first()
    if found is not None:
        return found
    row = model(**key, **values)
    session.add(row)
    await session.flush()
    added[model.__name__] += 1
    return row


def bill_months(today: date, count: int = BILL_MONTHS) -> list[str]:
    """The `count` whole months before `today`'s month, oldest first: `2026-05` …"""
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        months.append(f"{year:04d}-{month:02d}")
    return months[::-1]


def monthly_charges(rate: Decimal, area: Decimal) -> tuple[Decimal, Decimal]:
    """Management fee and public energy share for one month, rounded to the fen."""
    management = (rate * area).quantize(CENT, rounding=ROUND_HALF_UP)
    energy = (ENERGY_RATE * area).quantize(CENT, rounding=ROUND_HALF_UP)
    return management, energy


async def seed_demo(
    session: AsyncSession, today: date, tz: ZoneInfo = ZoneInfo("Asia/Shanghai")
) -> dict[str, int]:
    """Add whatever demo rows are missing; returns how many rows of each table were added."""
    added: Counter[str] = Counter()
    # Rows the demo adds are dated the start of `today`, so a moved clock holds for them too.
    now = datetime.combine(today, time(0), tzinfo=tz)
    months = bill_months(today)
    receipt_no = 0
    for spec in COMMUNITIES:
        community = await _ensure(
            session,
            added,
            Community,
            {"code": spec.code},
            name=spec.name,
            management_rate=Decimal(spec.rate),
            office_hours=spec.hours,
            phone=spec.phone,
        )
        assert community.id is not None
        for demo_unit in spec.units:
            receipt_no += 1
            building = await _ensure(
                session,
                added,
                Building,
                {"community_id": community.id, "name": demo_unit.label.split("栋")[0] + "栋"},
            )
            handover = (
                demo_unit.handover
                if isinstance(demo_unit.handover, date | None)
                else today - timedelta(days=demo_unit.handover)
            )
            if handover is None:
                stage = UnitStage.not_handed_over
            else:
                stage = UnitStage.occupied if demo_unit.residents else UnitStage.handed_over
            unit = await _ensure(
                session,
                added,
                Unit,
                {"community_id": community.id, "label": demo_unit.label},
                building_id=building.id,
                area_m2=Decimal(demo_unit.area),
                handover_date=handover,
                stage=stage,
                extra_monthly=Decimal(demo_unit.extra),
            )
            for resident in demo_unit.residents:
                person = await _ensure(
                    session,
                    added,
                    Person,
                    {"name": resident.name, "phone": resident.phone},
                    is_company=resident.company,
                    created_at=now,
                )
                await _ensure(
                    session,
                    added,
                    Binding,
                    {"person_id": person.id, "unit_id": unit.id},
                    role=resident.role.value,
                    verified_by="roster",
                    created_at=now,
                )
            if handover is not None:  # a flat not handed over has no bills yet
                await _seed_bills(
                    session, added, community, unit, demo_unit, months, receipt_no, tz
                )
        for sort, (name, department, price, per, about) in enumerate(SERVICES):
            await _ensure(
                session,
                added,
                ServiceItem,
                {"community_id": community.id, "name": name},
                department=department.value,
                price=Decimal(price),
                per=per,
                description=about,
                sort=sort,
            )
    await _seed_chat_accounts(session, added)
    await _seed_staff(session, added)
    return dict(added)


async def _seed_bills(
    session: AsyncSession,
    added: Counter[str],
    community: Community,
    unit: Unit,
    demo_unit: DemoUnit,
    months: list[str],
    receipt_no: int,
    tz: ZoneInfo,
) -> None:
    management, energy = monthly_charges(community.management_rate, unit.area_m2)
    for index, month in enumerate(months):
        paid = index < len(months) - demo_unit.unpaid
        year, month_no = (int(part) for part in month.split("-"))
        # Paid some day in the month itself, at the front desk during office hours.
        paid_at = datetime.combine(
            date(year, month_no, 5 + receipt_no % 20), time(10, 30), tzinfo=tz
        )
        await _ensure(
            session,
            added,
            Bill,
            {"unit_id": unit.id, "month": month},
            management=management,
            energy=energy,
            collected=unit.extra_monthly,
            paid_at=paid_at if paid else None,
            receipt=f"SJ{year:04d}{month_no:02d}{receipt_no:02d}" if paid else None,
        )


async def _seed_chat_accounts(session: AsyncSession, added: Counter[str]) -> None:
    for user_id, (name, phone) in CHAT_ACCOUNTS.items():
        person = (
            await session.exec(select(Person).where(Person.name == name, Person.phone == phone))
        ).first()
        assert person is not None and person.id is not None
        identity = await _ensure(
            session,
            added,
            ChatIdentity,
            {"channel": CONSOLE, "external_user_id": user_id},
            person_id=person.id,
            display_name=name,
        )
        if identity.person_id is None:  # chatted before the demo existed: bind it now
            identity.person_id = person.id
            session.add(identity)


async def _seed_staff(session: AsyncSession, added: Counter[str]) -> None:
    community = (
        await session.exec(select(Community).where(Community.code == STAFF_COMMUNITY))
    ).one()
    assert community.id is not None
    for department in Department:
        await _ensure(
            session,
            added,
            StaffGroup,
            {"community_id": community.id, "department": department.value, "channel": CONSOLE},
            chat_id=f"group:{STAFF_COMMUNITY}:{department.value}",
        )
    staff = [(CONSOLE, *member) for member in STAFF]
    staff += [("web", *member) for member in WEB_LOGINS]
    for channel, user_id, name, role, staff_department in staff:
        existing = (
            await session.exec(
                select(StaffMember).where(
                    StaffMember.channel == channel,
                    StaffMember.external_user_id == user_id,
                    StaffMember.community_id == community.id,
                )
            )
        ).first()
        if existing is not None:
            continue  # leave later changes (a new role, a deactivation) alone
        await add_staff(
            session,
            channel=channel,
            user_id=user_id,
            name=name,
            role=role.value,
            department=staff_department.value if staff_department else None,
            community_id=community.id,
        )
        added["StaffMember"] += 1
