"""A month's figures for the desk's web workspace: `/stats`'s numbers, `/report`'s chart and
workbook, of a month and a community, for managers only, as in chat.

Who may ask, and about which communities, is chat's own rule (`roles=MANAGERS` on the
commands, `stats.manager_scope`, `stats.audience`); the numbers are `stats.figures`, the
chart and the workbook `report.gather` drawn by `handlers/documents`, so the page, the
chat message and the files agree. Files are drawn in memory for the page and kept
nowhere: the workbook lists residents' requests.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from handlers import report, stats
from handlers.core.context import Context
from handlers.core.i18n import Catalogs
from handlers.core.messages import Reply, Text
from handlers.core.roles import MANAGERS
from handlers.documents.month import MonthData
from handlers.documents.workbook import write_workbook
from handlers.rules.stats import Figures, Period, PeriodError, is_month, parse_period
from storage.models import Community

ALL = "all"  # every community the manager supervises
LISTED = report.CHAT_LISTED  # the workbook's ticket list, as `/report` in chat lists it


@dataclass(frozen=True)
class Asked:
    """A month and the communities to report on, as chat's `/report 2026-11 XFL` reads it."""

    found: stats.Audience
    period: Period
    code: str  # as chosen: a community's code, or ALL

    @property
    def month(self) -> str:
        return self.period.label


def allowed(ctx: Context) -> bool:
    """`/stats` and `/report` are for managers: supervisors and directors."""
    return ctx.is_role(*MANAGERS)


async def communities(ctx: Context) -> list[Community]:
    """The communities the manager may choose, by code."""
    scope = stats.manager_scope(ctx)
    query = select(Community).order_by(col(Community.code))
    if scope is not None:
        query = query.where(col(Community.id).in_(scope))
    return list((await ctx.session.exec(query)).all())


def this_month(ctx: Context) -> str:
    return ctx.now.astimezone(ctx.settings.tz).strftime("%Y-%m")


async def resolve(ctx: Context, month: str, code: str) -> Asked | dict[str, Reply]:
    """The month and communities chosen, or what is wrong with each field (chat's words)."""
    problems: dict[str, Reply] = {}
    today = ctx.now.astimezone(ctx.settings.tz).date()
    try:
        period: Period | None = parse_period(month.strip(), today, ctx.settings.tz)
    except PeriodError:
        period = None  # not a month: said next to its field below
    if period is None or not is_month(period) or not month.strip():
        problems["month"] = Reply("supervisor.error.month")
    chosen = code.strip().upper()
    wanted = None if chosen in ("", ALL.upper()) else chosen
    found = await stats.audience(
        ctx.session, stats.manager_scope(ctx), wanted, Text("supervisor.all")
    )
    if isinstance(found, Reply):
        problems["community"] = found
    if problems or period is None or isinstance(found, Reply):
        return problems
    return Asked(found, period, wanted or ALL)


async def figures(ctx: Context, asked: Asked) -> tuple[Figures, Reply]:
    """`/stats`'s numbers for the month, and the message chat sends with them."""
    numbers = await stats.figures(ctx.session, asked.found.scope, asked.period, ctx.now)
    if numbers.total == 0:
        period = asked.period
        said = Reply(
            "report.nothing",
            {"scope": asked.found.name, "first": period.first, "last": period.last},
        )
    else:
        said = stats.stats_reply(asked.found, asked.period, numbers)
    return numbers, said


async def month_data(ctx: Context, asked: Asked, listed: int) -> tuple[MonthData, str]:
    """What `/report` draws (its list sheet with up to `listed` tickets), and its English
    title for a chart drawn without a Chinese font."""
    title, english = report.titles(ctx.catalogs, ctx.locale, asked.found, asked.period)
    data = await report.gather(
        ctx.session, asked.found, asked.period, ctx.now, ctx.settings.tz, title, listed
    )
    return data, english


def file_name(asked: Asked, locale: str) -> str:
    """The workbook's name, as `/report` names it: `report-XFL-2026-11-zh_CN.xlsx`."""
    return report.report_paths(Path(), asked.found.code, asked.period, locale).workbook.name


def chart_png(data: MonthData, english: str, catalogs: Catalogs, locale: str) -> bytes:
    """The month's chart as PNG bytes (blocking: run it in a worker thread)."""
    with tempfile.TemporaryDirectory(prefix="frontdesk-chart-") as folder:
        path = Path(folder) / "chart.png"
        report.write_chart(data, english, catalogs, locale, path)
        return path.read_bytes()


def workbook_xlsx(data: MonthData, catalogs: Catalogs, locale: str, tz: ZoneInfo) -> bytes:
    """The month's workbook as XLSX bytes (blocking: run it in a worker thread)."""
    with tempfile.TemporaryDirectory(prefix="frontdesk-workbook-") as folder:
        path = Path(folder) / "report.xlsx"
        write_workbook(data, report.labels(catalogs, locale), tz, path)
        return path.read_bytes()


async def record(ctx: Context, action: str, asked: Asked, **detail: object) -> None:
    """Audited as in chat: `stats` when the figures are shown, `report` for the files."""
    await stats.record_use(ctx, action, asked.month, community=asked.found.code, **detail)
