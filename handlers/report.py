"""The monthly report (月度汇总): a chart (PNG) and a workbook (XLSX) with the `/stats` numbers.

DOMAIN.md §1 and §9: each month the office counts and analyses repairs by category,
time to finish, rework, satisfaction and revisits. The figures come from the same
queries as `/stats`, so the message, the chart and the workbook always agree. This is
the use-case: gather the month's figures (`MonthData`), then have the files drawn and
saved under a reports directory (`data/reports/` by default) in a worker thread, so the
bot keeps answering meanwhile. The chart is drawn by `handlers/documents/chart.py`, the
workbook written by `handlers/documents/workbook.py`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func
from sqlalchemy import select as select_many
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import stats
from handlers.core.context import Context
from handlers.core.i18n import Catalogs
from handlers.core.messages import Reply, Text
from handlers.documents.chart import cjk_font, draw_chart
from handlers.documents.month import Label, MonthData
from handlers.documents.workbook import write_workbook
from handlers.rules.stats import Period, month_period
from storage import jobs
from storage.models import Community, Job, StaffMember, Ticket

DEFAULT_DIR = Path("data") / "reports"
# The ticket list sheet: a report asked for in chat lists at most CHAT_LISTED tickets
# (openpyxl writes about 5,000 rows a second, and the chat waits); the command line
# lists up to what one Excel sheet holds.
CHAT_LISTED = 10_000
SHEET_ROWS = 1_048_575


@dataclass(frozen=True)
class ReportFiles:
    chart: Path
    workbook: Path


# ---- gathering -------------------------------------------------------------------------


async def per_day(
    session: AsyncSession, scope: stats.Scope, period: Period, tz: ZoneInfo
) -> dict[date, dict[str, int]]:
    """Tickets created each local day, by kind."""
    where = stats.in_period(scope, period)
    created = col(Ticket.created_at)
    if session.get_bind().dialect.name == "postgresql":
        bucket: Any = cast(func.timezone(tz.key, created), Date)
    else:
        # SQLite has no time zones: count per UTC hour, then place each hour in its local day.
        bucket = func.strftime("%Y-%m-%d %H:00:00", created)
    rows = (
        await session.exec(
            select(bucket, col(Ticket.kind), func.count())
            .where(*where)
            .group_by(bucket, col(Ticket.kind))
        )
    ).all()
    days: dict[date, dict[str, int]] = {day: defaultdict(int) for day in period.days()}
    for when, kind, count in rows:
        if isinstance(when, str):
            when = datetime.fromisoformat(when + "+00:00").astimezone(tz).date()
        days.setdefault(when, defaultdict(int))[kind] += int(count)
    return {day: dict(kinds) for day, kinds in sorted(days.items())}


async def ticket_rows(
    session: AsyncSession, scope: stats.Scope, period: Period, limit: int
) -> tuple[list[tuple[Any, ...]], int]:
    """The period's tickets for the list sheet (no contact details), oldest first."""
    details = col(Ticket.details)
    revisited_by = func.coalesce(
        details[("revisit", "by")].as_string(), details[("last_revisit", "by")].as_string()
    )
    where = stats.in_period(scope, period)
    stmt = (
        select_many(
            col(Community.code),
            col(Ticket.number),
            col(Ticket.kind),
            col(Ticket.category),
            col(Ticket.department),
            col(Ticket.status),
            col(Ticket.created_at),
            col(Ticket.accepted_at),
            col(Ticket.done_at),
            col(Ticket.closed_at),
            col(Ticket.due_at),
            col(StaffMember.name),
            col(Ticket.reopen_count),
            stats.satisfaction(),
            revisited_by,
            col(Ticket.description),
        )
        .join(Community, col(Community.id) == col(Ticket.community_id))
        .outerjoin(StaffMember, col(StaffMember.id) == col(Ticket.assignee_id))
        .where(*where)
        .order_by(col(Ticket.created_at), col(Ticket.id))
        .limit(limit)
    )
    connection = await session.connection()  # typed Core rows: more columns than select() takes
    rows = [tuple(row) for row in (await connection.execute(stmt)).all()]
    total = len(rows)
    if total == limit:
        total = (await session.exec(select(func.count()).select_from(Ticket).where(*where))).one()
    return rows, total - len(rows)


def _one(medians: stats.Medians, index: int) -> dict[str, float]:
    """One end's medians by group, leaving out the groups where it was never set."""
    found = {name: values[index] for name, values in medians.items()}
    return {name: value for name, value in found.items() if value is not None}


async def gather(
    session: AsyncSession,
    found: stats.Audience,
    period: Period,
    now: datetime,
    tz: ZoneInfo,
    title: str,
    listed: int = CHAT_LISTED,
) -> MonthData:
    where = stats.in_period(found.scope, period)
    created, accepted, done = col(Ticket.created_at), col(Ticket.accepted_at), col(Ticket.done_at)
    repairs = [*where, col(Ticket.kind) == "repair"]
    rows, more = await ticket_rows(session, found.scope, period, listed)
    by_category = await stats.medians(session, repairs, created, [done], col(Ticket.category))
    by_department = await stats.medians(
        session, where, created, [accepted, done], col(Ticket.department)
    )
    return MonthData(
        title=title,
        period=period,
        figures=await stats.figures(session, found.scope, period, now),
        finish_by_category=_one(by_category, 0),
        accept_by_department=_one(by_department, 0),
        finish_by_department=_one(by_department, 1),
        per_day=await per_day(session, found.scope, period, tz),
        tickets=rows,
        more=more,
    )


# ---- the use-case ------------------------------------------------------------------------------


def titles(
    catalogs: Catalogs, locale: str, found: stats.Audience, period: Period
) -> tuple[str, str]:
    """The report's title in `locale`, and in English naming the community by its code (for
    a chart drawn without a Chinese font)."""
    title = catalogs.text(
        locale, "supervisor.report.title", {"scope": found.name, "month": period.label}
    )
    english = catalogs.text(
        "en", "supervisor.report.title", {"scope": found.code, "month": period.label}
    )
    return title, english


def report_paths(out_dir: Path, code: str, period: Period, locale: str) -> ReportFiles:
    stem = f"report-{code}-{period.label}-{locale}"
    return ReportFiles(out_dir / f"{stem}.png", out_dir / f"{stem}.xlsx")


async def build_report(
    session: AsyncSession,
    *,
    catalogs: Catalogs,
    locale: str,
    found: stats.Audience,
    period: Period,
    now: datetime,
    tz: ZoneInfo,
    out_dir: Path = DEFAULT_DIR,
    listed: int = CHAT_LISTED,
) -> tuple[MonthData, ReportFiles]:
    """Gather the month's figures and write the chart and the workbook; returns both."""
    title, english = titles(catalogs, locale, found, period)
    data = await gather(session, found, period, now, tz, title, listed)
    files = await asyncio.to_thread(
        write_files,
        data,
        english,
        catalogs,
        locale,
        tz,
        report_paths(out_dir, found.code, period, locale),
    )
    return data, files


def write_files(
    data: MonthData,
    english_title: str,
    catalogs: Catalogs,
    locale: str,
    tz: ZoneInfo,
    files: ReportFiles,
) -> ReportFiles:
    """Draw the chart and save the workbook (blocking: runs in a worker thread). Both are
    written atomically (handlers/documents/files.py), so two runs of the same report
    never leave a half-written file to send."""
    files = ReportFiles(files.chart.absolute(), files.workbook.absolute())
    write_chart(data, english_title, catalogs, locale, files.chart)
    write_workbook(data, labels(catalogs, locale), tz, files.workbook)
    return files


def write_chart(
    data: MonthData, english_title: str, catalogs: Catalogs, locale: str, path: Path
) -> None:
    """Draw the month's chart to `path` (blocking)."""
    font = cjk_font()
    if font is None:
        # Without a Chinese font, Chinese would show as empty boxes: draw it in English,
        # naming the community by its code.
        draw_chart(replace(data, title=english_title), labels(catalogs, "en"), path, None)
    else:
        draw_chart(data, labels(catalogs, locale), path, font)


def labels(catalogs: Catalogs, locale: str) -> Label:
    """How the chart and the workbook name things in `locale`."""
    return lambda key, **params: catalogs.text(locale, key, params)


_labels = labels  # its earlier name, which bench/scale.py still uses


JOB = "report_send"


async def report_command(ctx: Context, argument: str) -> list[Reply]:
    """`/report [month] [community]`: the month's figures, a chart and a workbook.

    Gathering a month and drawing its files takes seconds; done inside the message's
    transaction it would hold the write lock meanwhile, and every resident would wait
    behind it. So the request is kept as a job (`JOB`), answered at once, and the job
    reads and draws outside the write path (`read_report`) before sending the files
    (`send_report`), usually a second or two later.
    """
    resolved = await stats.resolve(ctx, argument, month_only=True)
    if isinstance(resolved, Reply):
        return [resolved]
    found, period = resolved
    await stats.record_use(ctx, "report", period.label, community=found.code)
    await jobs.schedule(
        ctx.session,
        kind=JOB,
        due_at=ctx.now,
        payload={
            "scope": list(found.scope) if found.scope is not None else None,
            "name": found.name if isinstance(found.name, str) else None,  # None: everyone
            "code": found.code,
            "month": period.label,
            "answer": {
                "channel": ctx.msg.channel,
                "chat_id": ctx.msg.chat_id,
                "locale": ctx.locale,
            },
        },
    )
    return [Reply("supervisor.report.coming", {"scope": found.name, "month": period.label})]


async def read_report(ctx: Context, job: Job) -> tuple[MonthData, ReportFiles]:
    """The month's figures and files, on a read-only snapshot (`ctx.session`)."""
    asked = job.payload
    scope = tuple(asked["scope"]) if asked["scope"] is not None else None
    name = asked["name"] if asked["name"] is not None else Text("supervisor.all")
    year, month = (int(part) for part in asked["month"].split("-"))
    return await build_report(
        ctx.session,
        catalogs=ctx.catalogs,
        locale=asked["answer"]["locale"],
        found=stats.Audience(scope, name, asked["code"]),
        period=month_period(year, month, ctx.settings.tz),
        now=ctx.now,
        tz=ctx.settings.tz,
        out_dir=Path(ctx.settings.data_dir) / "reports",
    )


async def send_report(ctx: Context, job: Job, found: tuple[MonthData, ReportFiles]) -> list[Reply]:
    """The figures, the chart and the workbook, to whoever asked."""
    data, files = found
    asked = job.payload
    scope = asked["name"] if asked["name"] is not None else Text("supervisor.all")
    params = {"scope": scope, "month": asked["month"]}
    period = data.period
    figures = (
        stats.stats_reply(stats.Audience(None, scope, asked["code"]), period, data.figures)
        if data.figures.total
        else Reply("report.nothing", {"scope": scope, "first": period.first, "last": period.last})
    )
    return [
        figures,
        Reply("supervisor.report.chart", params, photo=str(files.chart)),
        Reply("supervisor.report.workbook", params, document=str(files.workbook)),
    ]
