"""Scale: `/stats` and `/report` for one month on 1,000,000 tickets across 100 communities.

The store is filled the way two years of use would leave it: tickets arrive in time
order (so one community's month is spread over the whole table, as in production),
with the real kinds, repair categories, departments and statuses, accept and finish
times, deadlines (some missed, some still open past due), revisit scores and
reopened jobs. Rows go in by bulk insert (SQLite) or COPY (PostgreSQL), generated
once and written to both stores chunk by chunk. Then a supervisor of the largest
community, and a company-wide director, type the commands to the real engine
(`Engine.handle`), and the time until the replies are in the outbox is measured.
"""

from __future__ import annotations

import contextlib
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import extract, func, text
from sqlmodel import col, select

from bench.common import Section, pg_database, sqlite_database
from bot.app import App
from bot.settings import Settings
from dialogs.registry import all_jobs
from handlers import report, stats
from handlers.core.clock import ManualClock
from handlers.core.i18n import Catalogs
from handlers.core.messages import Incoming
from handlers.people import add_staff
from handlers.rules import stats as rules
from handlers.rules.warranty import CATEGORIES
from storage.db import Database
from storage.models import Community, Outbox, Ticket

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)
MONTH = "2026-10"  # the last whole month before NOW
YEARS = 2
STATS_TARGET, REPORT_TARGET = 0.200, 2.0
SEED = 8

KINDS = {  # kind: (share of tickets, median minutes from accepted to done)
    "repair": (0.55, 240),
    "complaint": (0.08, 1200),
    "question": (0.17, 90),
    "fee": (0.08, 360),
    "slip": (0.07, 45),
    "binding": (0.04, 180),
    "handoff": (0.01, 30),
}
DEPARTMENT = {"repair": "repair", "slip": "security"}  # the rest: service (complaints vary)
COMPLAINT_DEPARTMENTS = ("service", "security", "cleaning", "greening", "repair")
COMPLAINT_WEIGHTS = (4, 2, 2, 1, 1)
CATEGORY_WEIGHTS = (30, 22, 3, 18, 10, 5, 2, 10)  # water, electrical, gas, doors, …
REPAIR_HOURS = {"water": 24, "electrical": 24, "gas": 4, "doors": 48}
REPAIR_HOURS |= {"public": 72, "lift": 4, "safety": 24, "other": 72}
KIND_HOURS = {"complaint": 72, "question": 24, "fee": 48, "binding": 24, "handoff": 2}
# Residents write from early morning to late evening, most in the morning and after work.
HOUR_WEIGHTS = (1, 1, 0, 0, 0, 1, 3, 6, 9, 10, 9, 7, 5, 6, 8, 8, 7, 6, 7, 9, 9, 7, 4, 2)
SCORES = ((5, 0.52), (4, 0.28), (3, 0.11), (2, 0.05), (1, 0.04))
WORDS = {
    "repair": ("卫生间漏水，楼下天花板有水印", "客厅插座没电，跳闸后合不上", "入户门锁打不开"),
    "complaint": ("晚上十一点还有装修噪音", "楼道垃圾两天没人清理", "地下车库被外来车辆占用"),
    "question": ("物业费可以按年交吗", "快递柜在哪里", "停车月卡怎么办理"),
    "fee": ("查询本月物业费账单", "申请开具发票"),
    "slip": ("搬出一张床和两个柜子",),
    "binding": ("申请绑定房屋",),
    "handoff": ("转人工客服",),
}
PREFIX = {"repair": "R", "complaint": "C", "fee": "F", "question": "Q"}
PREFIX |= {"slip": "S", "binding": "B", "handoff": "H"}
COLUMNS = (
    "community_id", "number", "kind", "status", "department", "category", "channel",
    "chat_id", "contact_name", "contact_phone", "description", "details", "urgent", "paid",
    "assignee_id", "reopen_count", "created_at", "accepted_at", "done_at", "closed_at",
    "due_at",
)  # fmt: skip


@dataclass
class Staffing:
    """A community's id and its staff ids by department (tickets get an assignee)."""

    community_id: int
    weight: float
    staff: dict[str, list[int]]


# ---- the tickets --------------------------------------------------------------------------


def _minutes(rng: random.Random, median: float, spread: float = 1.0) -> timedelta:
    """A log-normal duration: most near the median, a long tail of slow ones."""
    return timedelta(minutes=min(median * rng.lognormvariate(0, spread), 60 * 24 * 30))


def _revisit(rng: random.Random, at: datetime) -> dict[str, Any]:
    score = rng.choices([s for s, _ in SCORES], [w for _, w in SCORES])[0]
    by = "resident" if rng.random() < 0.7 else "phone"
    return {"satisfaction": score, "fixed": score >= 3, "comment": "", "by": by, "at": at}


def _details(rng: random.Random, kind: str) -> dict[str, Any]:
    photos = [f"AgACAgUAAxkBAAI{rng.getrandbits(64):016x}" for _ in range(rng.choice((0, 0, 1, 2)))]
    if kind == "repair":
        return {"time": "time:tomorrow_am", "location": "", "photos": photos}
    if kind == "complaint":
        return {
            "when": "when:today",
            "who": "dept:security",
            "want": "want:fix",
            "photos": photos,
            "kind": "valid",
            "severity": rng.choice(("major", "important", "minor", "minor")),
            "urgent": False,
            "confirmed": [],
        }
    return {}


def lifecycle(
    rng: random.Random, kind: str, category: str, created: datetime, now: datetime
) -> dict[str, Any]:
    """How far a ticket created at `created` has come by `now`: status, times, revisits."""
    hours = REPAIR_HOURS[category] if kind == "repair" else KIND_HOURS.get(kind)
    life: dict[str, Any] = {
        "status": "new",
        "due_at": created + timedelta(hours=hours) if hours else None,
        "accepted_at": None,
        "done_at": None,
        "closed_at": None,
        "reopen_count": 0,
        "revisits": {},
    }
    fate = rng.random()
    accepted = created + _minutes(rng, 25, 1.1)
    if accepted > now or fate < 0.003:  # not taken yet, or forgotten by everyone
        return life
    life["accepted_at"] = accepted
    if fate < 0.03:
        life.update(status="cancelled", closed_at=accepted + _minutes(rng, 60))
        return life
    if fate < 0.04:
        life.update(status="cannot_do", closed_at=accepted + _minutes(rng, 600))
        return life
    done = accepted + _minutes(rng, KINDS[kind][1])
    if done > now or fate < 0.045:  # still being worked on, or stuck
        life["status"] = rng.choice(("accepted", "in_progress"))
        return life
    life.update(status="done", done_at=done)
    if kind != "repair" and (kind != "complaint" or rng.random() < 0.5):
        closed = done + _minutes(rng, 30)
        if closed <= now:
            life.update(status="closed", closed_at=closed)
        return life
    _revisit_life(rng, life, done, now)
    return life


def _revisit_life(rng: random.Random, life: dict[str, Any], done: datetime, now: datetime) -> None:
    """Two days after the job the resident is asked; a bad score sends it back once."""
    asked = done + timedelta(days=2)
    if asked > now:
        return
    if rng.random() < 0.22:  # nobody answered: closed when the revisit lapsed
        life.update(status="closed", closed_at=asked + timedelta(hours=24))
        return
    answer = _revisit(rng, asked + _minutes(rng, 120))
    if answer["fixed"] or rng.random() < 0.5:
        life["revisits"] = {"revisit": answer}
        life.update(status="closed", closed_at=answer["at"])
        return
    life["reopen_count"] = 1
    life["revisits"] = {"last_revisit": answer}
    redone = answer["at"] + _minutes(rng, 300)
    if redone > now:
        life.update(status="accepted", done_at=done)
        return
    again = _revisit(rng, redone + timedelta(days=2))
    if again["at"] > now:
        life.update(status="done", done_at=redone)
        return
    again["satisfaction"], again["fixed"] = max(3, again["satisfaction"]), True
    life["revisits"] = {"last_revisit": answer, "revisit": again}
    life.update(status="closed", done_at=redone, closed_at=again["at"])


class Tickets:
    """Two years of tickets for the given communities, generated month by month."""

    def __init__(self, communities: Sequence[Staffing], total: int, now: datetime) -> None:
        self.rng = random.Random(SEED)
        self.communities = communities
        self.total = total
        self.now = now
        self.start = now - timedelta(days=365 * YEARS)
        self.numbers: Counter[tuple[int, str, str]] = Counter()
        # Cumulative weights, worked out once: rng.choices would redo them for every row.
        self.community_weights = list(accumulate(c.weight for c in communities))
        self.kind_weights = list(accumulate(share for share, _ in KINDS.values()))
        self.category_weights = list(accumulate(CATEGORY_WEIGHTS))
        self.hour_weights = list(accumulate(HOUR_WEIGHTS))
        self.per_community: Counter[int] = Counter()

    def chunks(self) -> Iterator[list[tuple[Any, ...]]]:
        """Rows in COLUMNS order, oldest first, one chunk per 30 days."""
        span = (self.now - self.start).total_seconds()
        edge = self.start
        while edge < self.now:
            following = min(edge + timedelta(days=30), self.now)
            count = round(self.total * (following - edge).total_seconds() / span)
            times = sorted(self._moment(edge, following) for _ in range(count))
            yield [self._row(created) for created in times]
            edge = following

    def _moment(self, start: datetime, end: datetime) -> datetime:
        """A random local time in [start, end), shaped by the hour of day."""
        rng = self.rng
        while True:
            day = start + timedelta(days=rng.randrange(max(1, (end - start).days + 1)))
            local = day.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
            hour = rng.choices(range(24), cum_weights=self.hour_weights)[0]
            moment = local + timedelta(hours=hour, seconds=rng.randrange(3600))
            if start <= moment < end:
                return moment.astimezone(UTC)

    def _row(self, created: datetime) -> tuple[Any, ...]:
        rng = self.rng
        where = rng.choices(self.communities, cum_weights=self.community_weights)[0]
        kind = rng.choices(tuple(KINDS), cum_weights=self.kind_weights)[0]
        category = ""
        if kind == "repair":
            category = rng.choices(CATEGORIES, cum_weights=self.category_weights)[0]
        department = DEPARTMENT.get(kind, "service")
        if kind == "complaint":
            department = rng.choices(COMPLAINT_DEPARTMENTS, COMPLAINT_WEIGHTS)[0]
        life = lifecycle(rng, kind, category, created, self.now)
        assignee = rng.choice(where.staff[department]) if life["accepted_at"] else None
        details = _details(rng, kind) | {
            key: {**answer, "at": answer["at"].isoformat()}
            for key, answer in life["revisits"].items()
        }
        self.per_community[where.community_id] += 1
        return (
            where.community_id,
            self._number(where.community_id, kind, created),
            kind,
            life["status"],
            department,
            category,
            rng.choice(("telegram", "wechat", "wechat")),
            str(rng.randrange(10**9, 10**10)),
            rng.choice(("张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊")),
            f"13{rng.randrange(10**9):09d}",
            rng.choice(WORDS[kind]),
            json.dumps(details, ensure_ascii=False),
            rng.random() < 0.03,
            kind == "repair" and rng.random() < 0.3,
            assignee,
            life["reopen_count"],
            created,
            life["accepted_at"],
            life["done_at"],
            life["closed_at"],
            life["due_at"],
        )

    def _number(self, community_id: int, kind: str, created: datetime) -> str:
        day = created.astimezone(TZ).strftime("%y%m%d")
        key = (community_id, PREFIX[kind], day)
        self.numbers[key] += 1
        return f"{PREFIX[kind]}-{day}-{self.numbers[key]:04d}"


# ---- filling the stores ---------------------------------------------------------------------


async def add_communities(db: Database, count: int) -> list[Staffing]:
    """`count` communities of uneven size, each with staff, a supervisor; and a director."""
    rng = random.Random(SEED)
    found: list[Staffing] = []
    async with db.transaction() as session:
        for n in range(1, count + 1):
            community = Community(
                code=f"C{n:03d}",
                name=f"第{n}小区",
                management_rate=Decimal(rng.choice(("2.00", "2.50", "3.20"))),
            )
            session.add(community)
            await session.flush()
            assert community.id is not None
            staff: dict[str, list[int]] = {}
            for department, people in (("repair", 4), ("service", 3), ("security", 2)):
                staff[department] = [
                    await _staff_id(session, f"s{n}-{department}-{i}", community.id, department)
                    for i in range(people)
                ]
            staff["cleaning"] = staff["greening"] = [
                await _staff_id(session, f"s{n}-cleaning", community.id, "cleaning")
            ]
            await add_staff(
                session,
                channel="console",
                user_id=f"sup-{n}",
                name=f"主管{n}",
                role="supervisor",
                community_id=community.id,
            )
            found.append(Staffing(community.id, 0.4 + 1.2 * rng.random(), staff))
        await add_staff(
            session, channel="console", user_id="director", name="总经理", role="director"
        )
    return found


async def _staff_id(session: Any, user_id: str, community_id: int, department: str) -> int:
    member = await add_staff(
        session,
        channel="console",
        user_id=user_id,
        name=f"师傅{user_id}",
        department=department,
        community_id=community_id,
    )
    assert member.id is not None
    return member.id


TIMES = range(COLUMNS.index("created_at"), len(COLUMNS))


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Times as the text SQLAlchemy itself stores on SQLite: naive UTC with microseconds."""
    values = list(row)
    for index in TIMES:
        if values[index] is not None:
            values[index] = values[index].astimezone(UTC).isoformat(" ", "microseconds")[:26]
    return tuple(values)


async def insert_sqlite(db: Database, rows: list[tuple[Any, ...]]) -> None:
    names = ", ".join(COLUMNS)
    marks = ", ".join("?" for _ in COLUMNS)
    async with db.engine.begin() as connection:
        await connection.exec_driver_sql(
            f"INSERT INTO ticket ({names}) VALUES ({marks})",
            [_sqlite_row(row) for row in rows],
        )


async def copy_postgres(db: Database, rows: list[tuple[Any, ...]]) -> None:
    # COPY on asyncpg's own connection: outside SQLAlchemy's transaction, it commits at once.
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table("ticket", records=rows, columns=list(COLUMNS))


@dataclass
class Stores:
    sqlite: Database
    postgres: Database
    tickets: Tickets
    seconds: dict[str, float]


@contextlib.asynccontextmanager
async def stores(communities: int, total: int) -> AsyncIterator[Stores]:
    """Both stores filled with the same tickets; times each backend's load."""
    async with sqlite_database("scale") as lite, pg_database() as pg:
        staffing = await add_communities(lite, communities)
        assert staffing == await add_communities(pg, communities)
        tickets = Tickets(staffing, total, NOW.astimezone(UTC))
        seconds = {"sqlite": 0.0, "postgresql": 0.0}
        for rows in tickets.chunks():
            started = time.perf_counter()
            await insert_sqlite(lite, rows)
            seconds["sqlite"] += time.perf_counter() - started
            started = time.perf_counter()
            await copy_postgres(pg, rows)
            seconds["postgresql"] += time.perf_counter() - started
        # What autovacuum would do after a big load; SQLite's planner runs without statistics.
        async with pg.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE ticket"))
        yield Stores(lite, pg, tickets, seconds)


# ---- timing the commands ----------------------------------------------------------------------


@dataclass
class Timing:
    """A command's first run (cold: imports, caches) and the runs after it."""

    first: float
    rest: list[float]
    text: str  # the /stats message, to compare the backends

    @property
    def median(self) -> float:
        return statistics.median(self.rest)

    @property
    def worst(self) -> float:
        return max(self.rest)


async def timed(app: App, user: str, command: str, runs: int) -> Timing:
    """Seconds from the message to its replies in the outbox, `runs` times after a first."""
    seconds = []
    rows: list[Any] = []
    for n in range(runs + 1):
        msg = Incoming(
            channel="console",
            chat_id=user,
            user_id=user,
            at=app.clock.now(),
            message_id=f"{user}-{n}-{command}",
            text=command,
        )
        started = time.perf_counter()
        rows = await app.engine.handle(msg)
        if command.startswith("/report"):
            # Answered at once; the files follow from the job, read outside the write path.
            assert await app.engine.run_jobs(all_jobs()) == 1
            rows = await latest_rows(app, user, 3)
        seconds.append(time.perf_counter() - started)
        # The figures (and for /report a chart and a workbook), not a refusal.
        expected = 3 if command.startswith("/report") else 1
        assert len(rows) == expected and "2026" in rows[0].payload["text"], rows
    return Timing(seconds[0], seconds[1:], rows[0].payload["text"])


async def latest_rows(app: App, chat_id: str, count: int) -> list[Outbox]:
    """The last `count` messages queued for a chat, oldest first."""
    async with app.db.transaction() as session:
        stmt = select(Outbox).where(Outbox.chat_id == chat_id).order_by(col(Outbox.id).desc())
        return list(reversed((await session.exec(stmt.limit(count))).all()))


@contextlib.asynccontextmanager
async def app_on(db: Database) -> AsyncIterator[App]:
    """The whole application on an already filled store, its clock at NOW."""
    with tempfile.TemporaryDirectory(prefix="frontdesk-scale-") as tmp:
        settings = Settings(database_url=db.url, data_dir=Path(tmp))
        app = await App.start(settings, clock=ManualClock(NOW), migrate_schema=False)
        try:
            yield app
        finally:
            await app.close()


Audiences = dict[str, tuple[str, stats.Scope]]  # who → (user id, community ids or None)


async def commands(db: Database, audiences: Audiences, runs: int) -> dict[tuple[str, str], Timing]:
    """`/stats` and `/report` for the month, typed by each audience's user."""
    timings = {}
    async with app_on(db) as app:
        for who, (user, _) in audiences.items():
            for command in ("stats", "report"):
                timings[who, command] = await timed(app, user, f"/{command} {MONTH}", runs)
    return timings


async def phases(db: Database, scope: stats.Scope, runs: int) -> dict[str, float]:
    """Median seconds of /report's parts: the queries, the chart and the workbook."""
    catalogs = Catalogs.load("zh_CN", TZ)
    period = rules.parse_period(MONTH, NOW.date(), TZ)
    found = stats.Audience(scope, "bench", "bench")
    font = report.cjk_font()
    label = report._labels(catalogs, "zh_CN" if font else "en")  # as write_files does
    seconds: dict[str, list[float]] = {"queries": [], "chart": [], "workbook": []}
    with tempfile.TemporaryDirectory(prefix="frontdesk-scale-") as tmp:
        for _ in range(runs):
            started = time.perf_counter()
            async with db.transaction() as session:
                data = await report.gather(session, found, period, NOW, TZ, "bench")
            seconds["queries"].append(time.perf_counter() - started)
            started = time.perf_counter()
            report.draw_chart(data, label, Path(tmp) / "chart.png", font)
            seconds["chart"].append(time.perf_counter() - started)
            started = time.perf_counter()
            report.write_workbook(data, label, TZ, Path(tmp) / "book.xlsx")
            seconds["workbook"].append(time.perf_counter() - started)
    result = {part: statistics.median(values) for part, values in seconds.items()}
    return result | {"tickets": data.figures.total, "listed": len(data.tickets)}


# ---- before and after -----------------------------------------------------------------------
# How the medians were taken before this benchmark (commit cfdf322), kept to time them side
# by side with today's on the same store: one query per median, and on SQLite a count plus
# a sorted OFFSET query per category or department.


def previous_duration(session: Any, start: Any, end: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return extract("epoch", end) - extract("epoch", start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


async def previous_median(
    session: Any, where: Sequence[Any], start: Any, end: Any, group: Any = None
) -> dict[str, float]:
    seconds = previous_duration(session, start, end)
    conditions = [*where, end.is_not(None)]
    postgres = session.get_bind().dialect.name == "postgresql"
    measure = func.percentile_cont(0.5).within_group(seconds) if postgres else func.count()
    if group is None:
        rows: list[tuple[Any, Any]] = [
            ("", (await session.exec(select(measure).where(*conditions))).one())
        ]
    else:
        stmt = select(group, measure).where(*conditions).group_by(group)
        rows = [(name, value) for name, value in (await session.exec(stmt)).all()]
    if postgres:
        return {name or "": float(value) for name, value in rows if value is not None}
    medians: dict[str, float] = {}
    for name, count in rows:
        if not count:
            continue
        offset, take = rules.middle_offset(int(count))
        only = [*conditions, group == name] if group is not None else conditions
        ordered = select(seconds).where(*only).order_by(seconds).offset(offset).limit(take)
        middle = (await session.exec(ordered)).all()
        medians[name or ""] = sum(float(v) for v in middle) / len(middle)
    return medians


async def previous_medians(session: Any, where: Sequence[Any]) -> list[Any]:
    """/stats' two medians and /report's three sets, the way they were taken before."""
    created, accepted, done = col(Ticket.created_at), col(Ticket.accepted_at), col(Ticket.done_at)
    repairs = [*where, col(Ticket.kind) == "repair"]
    return [
        (await previous_median(session, where, created, accepted)).get(""),
        (await previous_median(session, where, created, done)).get(""),
        await previous_median(session, repairs, created, done, col(Ticket.category)),
        await previous_median(session, where, created, accepted, col(Ticket.department)),
        await previous_median(session, where, created, done, col(Ticket.department)),
    ]


async def current_medians(session: Any, where: Sequence[Any]) -> list[Any]:
    """The same five, as `stats.figures` and `report.gather` take them now."""
    created, accepted, done = col(Ticket.created_at), col(Ticket.accepted_at), col(Ticket.done_at)
    repairs = [*where, col(Ticket.kind) == "repair"]
    overall = await stats.medians(session, where, created, [accepted, done])
    by_category = await stats.medians(session, repairs, created, [done], col(Ticket.category))
    by_department = await stats.medians(
        session, where, created, [accepted, done], col(Ticket.department)
    )
    return [
        *overall[""],
        report._one(by_category, 0),
        report._one(by_department, 0),
        report._one(by_department, 1),
    ]


async def before_after(db: Database, scope: stats.Scope, runs: int) -> tuple[float, float]:
    """Median seconds of all five medians' queries, before and after; the answers agree."""
    period = rules.parse_period(MONTH, NOW.date(), TZ)
    where = stats.in_period(scope, period)
    seconds: dict[str, list[float]] = {"before": [], "after": []}
    answers = {}
    for _ in range(runs):
        for name, medians in (("before", previous_medians), ("after", current_medians)):
            async with db.transaction() as session:
                started = time.perf_counter()
                answers[name] = await medians(session, where)
                seconds[name].append(time.perf_counter() - started)
    assert _rounded(answers["before"]) == _rounded(answers["after"]), answers
    return statistics.median(seconds["before"]), statistics.median(seconds["after"])


def _rounded(values: list[Any]) -> list[Any]:
    """Medians to the millisecond: SQLite's julianday arithmetic differs in the last digits."""
    return [
        {k: round(v, 3) for k, v in value.items()}
        if isinstance(value, dict)
        else (value and round(value, 3))
        for value in values
    ]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


@dataclass
class Measured:
    """What one audience's commands cost on one backend."""

    stats: Timing
    report: Timing
    parts: dict[str, float]  # /report's phases, seconds; and the month's ticket counts
    medians: tuple[float, float]  # the medians' queries, seconds: before, after


async def run(quick: bool) -> list[Section]:
    communities, total = (10, 20_000) if quick else (100, 1_000_000)
    runs = 3 if quick else 7
    section = Section("Scale: /stats and /report on a large store")
    results: dict[tuple[str, str], Measured] = {}
    async with stores(communities, total) as filled:
        counts = filled.tickets.per_community
        busiest = max(counts, key=lambda c: counts[c])
        section.add(
            f"{total:,} tickets over {YEARS} years in {communities} communities of uneven "
            f"size (the largest, C{busiest:03d}, has {counts[busiest]:,}), arriving in time "
            "order with the real kinds, categories, departments and statuses, accept and "
            "finish times, deadlines (some missed, some still open), revisit scores and "
            f"reopened jobs. Loaded in {filled.seconds['sqlite']:.0f} s (SQLite, bulk insert) "
            f"and {filled.seconds['postgresql']:.0f} s (PostgreSQL, COPY, then ANALYZE)."
        )
        section.add()
        audiences: Audiences = {
            f"supervisor of C{busiest:03d}": (f"sup-{busiest}", (busiest,)),
            "director, all communities": ("director", None),
        }
        backends = {"SQLite": filled.sqlite, "PostgreSQL": filled.postgres}
        for backend, db in backends.items():
            timings = await commands(db, audiences, runs)
            for who, (_, scope) in audiences.items():
                results[backend, who] = Measured(
                    stats=timings[who, "stats"],
                    report=timings[who, "report"],
                    parts=await phases(db, scope, max(2, runs // 2)),
                    medians=await before_after(db, scope, runs),
                )
    describe(section, results, runs)
    return [section]


def describe(section: Section, results: dict[tuple[str, str], Measured], runs: int) -> None:
    section.add(
        f"Each command typed {runs + 1} times to the real engine (`Engine.handle`: from the "
        "message to the replies in the outbox, chart and workbook written). *First* is the "
        "first run on a freshly started app (cold caches; on SQLite, measured first, it also "
        f"pays the imports); median and worst are of the {runs} runs after it. Month: {MONTH}."
    )
    section.add()
    section.table(
        ("backend", "who", "tickets in month", "`/stats` median / worst (first)",
         "`/report` median / worst (first)"),
        [
            (backend, who, f"{m.parts['tickets']:,.0f}",
             f"{_ms(m.stats.median)} / {_ms(m.stats.worst)} ({_ms(m.stats.first)})",
             f"{_ms(m.report.median)} / {_ms(m.report.worst)} ({_ms(m.report.first)})")
            for (backend, who), m in results.items()
        ],
    )  # fmt: skip
    section.add(
        "Where `/report`'s time goes (medians of its parts run alone), and the medians' "
        "queries timed side by side in this run, the way they were taken before this "
        "change and now (both give the same medians, checked):"
    )
    section.add()
    section.table(
        ("backend", "who", "queries", "chart", "workbook (rows)", "medians before → after"),
        [
            (backend, who, _ms(m.parts["queries"]), _ms(m.parts["chart"]),
             f"{_ms(m.parts['workbook'])} ({m.parts['listed']:,.0f})",
             f"{_ms(m.medians[0])} → {_ms(m.medians[1])} ({m.medians[0] / m.medians[1]:.1f}×)")
            for (backend, who), m in results.items()
        ],
    )  # fmt: skip
    for line in CHANGES:
        section.add(line)
    section.add()
    director = [m for (_, who), m in results.items() if who.startswith("director")]
    rate = statistics.mean(m.parts["listed"] / m.parts["workbook"] for m in director)
    first = next(iter(results.values())).report  # the process's first /report
    cold = first.first - first.median
    section.add(
        "Still slow, with no target of its own: the company-wide `/report`, whose workbook "
        f"lists up to {report.CHAT_LISTED:,} tickets (`CHAT_LISTED`) that openpyxl writes at "
        f"about {rate:,.0f} rows/s here (openpyxl without lxml), and whose chart and queries "
        "cover the whole company. The first `/report` in a process is about "
        f"{_ms(cold)} slower than the next ones: it imports matplotlib and openpyxl and loads "
        "the font list."
    )
    section.add()
    for backend in ("SQLite", "PostgreSQL"):
        measured = next(m for (b, who), m in results.items() if b == backend)
        for command, timing, limit in (
            ("stats", measured.stats, STATS_TARGET),
            ("report", measured.report, REPORT_TARGET),
        ):
            met = timing.worst <= limit
            gap = "" if met else f", {timing.worst / limit:.1f}× the target"
            section.target(
                f"{backend}: `/{command}` for one community's month ≤ {_ms(limit)} "
                f"(worst {_ms(timing.worst)}, median {_ms(timing.median)}{gap})",
                met,
            )
    texts = {b: [m.stats.text for (b2, _), m in results.items() if b2 == b] for b, _ in results}
    section.add(
        "The `/stats` messages agree word for word on SQLite and PostgreSQL."
        if texts["SQLite"] == texts["PostgreSQL"]
        else "**The `/stats` messages differ between SQLite and PostgreSQL.**"
    )


CHANGES = (
    "Profiled with cProfile, `EXPLAIN QUERY PLAN` and `EXPLAIN ANALYZE`. One community's "
    "month is found through `ix_ticket_community_created` and every query of it takes "
    "1–5 ms, so no index was added; `/report` is mostly matplotlib (the chart, with "
    "constrained layout) and openpyxl (the workbook). The slowest queries were the medians: "
    "SQLite has no percentile function, so every median was a count plus a sorted OFFSET "
    "query, and `/report` ran one per repair category and per department (about twenty "
    "scans of the month); PostgreSQL scanned once per median.",
    "",
    "What changed (handlers/stats.py `medians`, used by handlers/report.py): `/stats`' two "
    "medians share one scan on PostgreSQL and one count on SQLite; `/report`'s medians by "
    "category and department are one read of the month's durations on SQLite (the middles "
    "picked in Python; a month is bounded) and one grouped `percentile_cont` query for both "
    "department medians on PostgreSQL; PostgreSQL durations are `float8` instead of "
    "`numeric`. `/stats` over a long period still reads only the middle rows on SQLite.",
)
