"""The monthly report (月度汇总): a chart (PNG) and a workbook (XLSX) with the `/stats` numbers.

DOMAIN.md §1 and §9: each month the office counts and analyses repairs by category,
time to finish, rework, satisfaction and revisits. The figures come from the same
queries as `/stats`, so the message, the chart and the workbook always agree. Files
are written atomically under a reports directory (`data/reports/` by default); the
drawing and the saving run in a worker thread so the bot keeps answering meanwhile.

The chart is drawn in Noto Sans SC from the `pylopdf-fonts-zh-cn` package (a dependency),
so it is Chinese on any machine, also one with no Chinese font installed; a month with no
tickets says so in words instead of drawing empty axes.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func
from sqlalchemy import select as select_many
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import stats
from handlers.core.context import Context
from handlers.core.i18n import Catalogs
from handlers.core.messages import Reply
from handlers.rules.spreadsheet import as_text
from handlers.rules.stats import Figures, Group, Period, to_minutes
from storage.models import Community, StaffMember, Ticket

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_DIR = Path("data") / "reports"
# The ticket list sheet: a report asked for in chat lists at most CHAT_LISTED tickets
# (openpyxl writes about 5,000 rows a second, and the chat waits); the command line
# lists up to what one Excel sheet holds.
CHAT_LISTED = 10_000
SHEET_ROWS = 1_048_575
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)

REVISIT_BY = {"resident": "supervisor.by.resident", "phone": "supervisor.by.phone"}
Label = Callable[..., str]  # (key, **params) -> text in the report's language


@dataclass(frozen=True)
class MonthData:
    """Everything the chart and the workbook show, gathered before drawing."""

    title: str
    period: Period
    figures: Figures
    finish_by_category: dict[str, float]
    accept_by_department: dict[str, float]
    finish_by_department: dict[str, float]
    per_day: dict[date, dict[str, int]]  # local day → kind → tickets created
    tickets: list[tuple[Any, ...]]
    more: int  # tickets left out of the list sheet


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


# ---- drawing ------------------------------------------------------------------------------


_registering = threading.Lock()
_packaged: list[str | None] = []  # the packaged font's family name, once registered


def packaged_font() -> str | None:
    """Noto Sans SC from the font package, added to matplotlib's font manager in memory
    only (nothing is written to the user's font or configuration folders); None when the
    package is missing."""
    with _registering:  # charts are drawn in worker threads: register once
        if not _packaged:
            _packaged.append(_register_packaged_font())
        return _packaged[0]


def _register_packaged_font() -> str | None:
    try:
        from pylopdf_fonts_zh_cn import sans_path
    except ImportError:
        return None
    path = sans_path()
    if not path.is_file():
        return None
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(path))
    return str(font_manager.FontProperties(fname=str(path)).get_name())


def cjk_font() -> str | None:
    """A font that can draw Chinese: the packaged one, else one installed on the machine."""
    from matplotlib import font_manager

    packaged = packaged_font()
    if packaged is not None:
        return packaged
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _number(value: Decimal | int | None) -> str:
    return "—" if value is None else f"{value}"


def draw_chart(data: MonthData, label: Label, path: Path, font: str | None) -> Figure:
    """Tickets per day (by kind) and repairs per category, with the headline figures;
    written to `path`, and returned (its texts keep the fonts they were drawn in)."""
    import matplotlib

    # DejaVu Sans (matplotlib's own) draws whatever the Chinese font lacks.
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with matplotlib.rc_context({"font.family": families}):
        figure = chart_figure(data, label)
        _atomic(path, lambda target: figure.savefig(target, format="png"))
    return figure


def chart_figure(data: MonthData, label: Label) -> Figure:
    """The chart as a figure (drawn with the fonts in effect); a month with no tickets
    says so in words rather than showing empty axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 8.5), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    # No bold: the packaged Chinese font has one weight, and matplotlib cannot embolden it.
    figure.suptitle(data.title, fontsize=16)
    if data.figures.total == 0:
        figure.text(
            0.5, 0.55, label("report.chart.nothing", month=data.period.label),
            fontsize=26, ha="center", va="center", color="#555555",
        )  # fmt: skip
        figure.text(
            0.5, 0.45, label("report.chart.nothing.hint"),
            fontsize=13, ha="center", va="center", color="#777777",
        )  # fmt: skip
        return figure
    grid = figure.add_gridspec(2, 2, height_ratios=(1.1, 1))
    _per_day(figure.add_subplot(grid[0, :]), data, label)
    _per_category(figure.add_subplot(grid[1, 0]), data, label)
    _headline(figure.add_subplot(grid[1, 1]), data.figures, label)
    return figure


def _per_day(axes: Any, data: MonthData, label: Label) -> None:
    days = list(data.per_day)
    kinds = sorted({kind for counts in data.per_day.values() for kind in counts})
    bottom = [0] * len(days)
    for kind in kinds:
        heights = [data.per_day[day].get(kind, 0) for day in days]
        axes.bar(
            [d.day for d in days], heights, bottom=bottom, label=label(f"kind.{kind}"), width=0.8
        )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axes.set_title(label("supervisor.chart.per_day"))
    axes.set_xticks([d.day for d in days])
    axes.set_xlim(0.4, len(days) + 0.6)
    axes.tick_params(axis="x", labelsize=8)
    axes.yaxis.get_major_locator().set_params(integer=True)
    if kinds:
        axes.legend(loc="upper left", fontsize=8, ncols=min(len(kinds), 4))


def _per_category(axes: Any, data: MonthData, label: Label) -> None:
    groups = list(data.figures.categories.items())[::-1]  # the largest at the top
    names = [label(f"repair.category.{name}") for name, _ in groups]
    axes.barh(names, [g.count for _, g in groups], label=label("supervisor.col.count"))
    axes.barh(
        names, [g.finished for _, g in groups], height=0.4, label=label("supervisor.col.finished")
    )
    axes.set_title(label("supervisor.chart.per_category"))
    axes.xaxis.get_major_locator().set_params(integer=True)
    if groups:
        axes.legend(loc="lower right", fontsize=8)


def _headline(axes: Any, numbers: Figures, label: Label) -> None:
    axes.axis("off")
    lines = [
        (label("supervisor.col.total"), str(numbers.total)),
        (label("supervisor.col.median_accept"), _number(numbers.median_accept)),
        (label("supervisor.col.median_finish"), _number(numbers.median_finish)),
        (label("supervisor.col.overdue"), str(numbers.overdue_open)),
        (label("supervisor.col.late"), str(numbers.finished_late)),
        (label("supervisor.col.revisit_rate"), _number(numbers.revisit_rate)),
        (label("supervisor.col.satisfaction"), _number(numbers.satisfaction)),
        (label("supervisor.col.reopen_rate"), _number(numbers.reopen_rate)),
    ]
    for row, (name, value) in enumerate(lines):
        y = 0.95 - row * 0.12
        axes.text(0.0, y, name, fontsize=11, transform=axes.transAxes, va="top")
        axes.text(
            1.0,
            y,
            value,
            fontsize=11,
            color="#1f3b73",
            ha="right",
            va="top",
            transform=axes.transAxes,
        )


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write beside the target, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


# ---- the workbook ---------------------------------------------------------------------------


def _value(value: Any) -> Any:
    """A cell value: Decimals as numbers, and text (descriptions, names, anything people
    typed) as text that no spreadsheet reads as a formula."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return as_text(value)
    return value


def _row(values: Sequence[Any]) -> list[Any]:
    """A row for `append`: every value through `_value` (cells pass unchanged)."""
    return [_value(value) for value in values]


def summary_rows(numbers: Figures, label: Label) -> list[tuple[str, Any]]:
    """The summary sheet: the very numbers `/stats` shows, one per row."""
    rows: list[tuple[str, Any]] = [
        (label("supervisor.col.total"), numbers.total),
        (label("supervisor.col.median_accept"), numbers.median_accept),
        (label("supervisor.col.median_finish"), numbers.median_finish),
        (label("supervisor.col.overdue"), numbers.overdue_open),
        (label("supervisor.col.late"), numbers.finished_late),
        (label("supervisor.col.finished"), numbers.finished),
        (label("supervisor.col.repairs_finished"), numbers.repairs_finished),
        (label("supervisor.col.revisited"), numbers.revisited),
        (label("supervisor.col.revisit_rate"), numbers.revisit_rate),
        (label("supervisor.col.satisfaction"), numbers.satisfaction),
        (label("supervisor.col.reopened"), numbers.reopened),
        (label("supervisor.col.reopen_rate"), numbers.reopen_rate),
    ]
    rows.append(("", None))
    rows.append((label("supervisor.col.by_kind"), None))
    rows += [(label(f"kind.{kind}"), count) for kind, count in numbers.by_kind.items()]
    rows.append(("", None))
    rows.append((label("supervisor.col.by_status"), None))
    rows += [(label(f"status.{status}"), count) for status, count in numbers.by_status.items()]
    return rows


def _group_row(group: Group) -> list[Any]:
    return [
        group.count,
        group.open,
        group.finished,
        group.overdue_open,
        group.finished_late,
        group.reopened,
        group.reopen_rate,
    ]


class _Book:
    """A write-only workbook (rows streamed to disk, so a busy month fits in memory)."""

    def __init__(self, label: Label) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Font

        self.label = label
        self.book = Workbook(write_only=True)
        self.bold, self.big = Font(bold=True), Font(bold=True, size=14)

    def cell(self, ws: Any, value: Any, font: Any = None, number_format: str = "") -> Any:
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(ws, value=_value(value))
        if font is not None:
            cell.font = font
        if number_format:
            cell.number_format = number_format
        return cell

    def sheet(self, key: str, header: Sequence[str], widths: Sequence[int]) -> Any:
        """A sheet with a bold header row that stays in view."""
        from openpyxl.utils import get_column_letter

        ws = self.book.create_sheet(self.label(key)[:31])
        for index, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
        ws.freeze_panes = "A2"
        ws.append([self.cell(ws, name, self.bold) for name in header])
        return ws


def write_workbook(data: MonthData, label: Label, tz: ZoneInfo, path: Path) -> None:
    """Summary (the `/stats` numbers), by category, by department, by day, and every ticket."""
    book = _Book(label)
    _summary_sheet(book, data)
    _category_sheet(book, data)
    _department_sheet(book, data)
    _day_sheet(book, data)
    _ticket_sheet(book, data, tz)
    _atomic(path, lambda target: book.book.save(target))


def _summary_sheet(book: _Book, data: MonthData) -> None:
    label = book.label
    ws = book.book.create_sheet(label("supervisor.sheet.summary")[:31])
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 14
    ws.append([book.cell(ws, data.title, book.big)])
    ws.append(_row([f"{data.period.first.isoformat()} – {data.period.last.isoformat()}"]))
    ws.append([])
    header = (label("supervisor.col.item"), label("supervisor.col.value"))
    ws.append([book.cell(ws, name, book.bold) for name in header])
    for name, value in summary_rows(data.figures, label):
        ws.append(_row([name, value]))


def _common(label: Label) -> list[str]:
    return [
        label("supervisor.col.count"),
        label("supervisor.col.open"),
        label("supervisor.col.finished"),
        label("supervisor.col.overdue"),
        label("supervisor.col.late"),
        label("supervisor.col.reopened"),
        label("supervisor.col.reopen_rate"),
    ]


def _category_sheet(book: _Book, data: MonthData) -> None:
    label = book.label
    header = [
        label("supervisor.col.category"),
        *_common(label),
        label("supervisor.col.median_finish"),
        label("supervisor.col.revisited"),
        label("supervisor.col.revisit_rate"),
        label("supervisor.col.satisfaction"),
    ]
    ws = book.sheet("supervisor.sheet.category", header, [18, *[10] * 11])
    for name, group in data.figures.categories.items():
        ws.append(
            _row(
                [
                    label(f"repair.category.{name}") if name else "—",
                    *_group_row(group),
                    to_minutes(data.finish_by_category.get(name)),
                    group.revisited,
                    group.revisit_rate,
                    group.satisfaction,
                ]
            )
        )


def _department_sheet(book: _Book, data: MonthData) -> None:
    label = book.label
    header = [
        label("supervisor.col.department"),
        *_common(label),
        label("supervisor.col.median_accept"),
        label("supervisor.col.median_finish"),
    ]
    ws = book.sheet("supervisor.sheet.department", header, [16, *[10] * 9])
    for name, group in data.figures.departments.items():
        ws.append(
            _row(
                [
                    label(f"department.{name}"),
                    *_group_row(group),
                    to_minutes(data.accept_by_department.get(name)),
                    to_minutes(data.finish_by_department.get(name)),
                ]
            )
        )


def _day_sheet(book: _Book, data: MonthData) -> None:
    label = book.label
    kinds = sorted({kind for counts in data.per_day.values() for kind in counts})
    header = [
        label("supervisor.col.day"),
        label("supervisor.col.total"),
        *(label(f"kind.{k}") for k in kinds),
    ]
    ws = book.sheet("supervisor.sheet.day", header, [12, *[10] * (len(kinds) + 1)])
    for day, counts in data.per_day.items():
        ws.append(
            _row(
                [
                    book.cell(ws, day, number_format="yyyy-mm-dd"),
                    sum(counts.values()),
                    *(counts.get(k, 0) for k in kinds),
                ]
            )
        )


TICKET_COLUMNS = (
    "supervisor.col.community",
    "supervisor.col.number",
    "supervisor.col.kind",
    "supervisor.col.category",
    "supervisor.col.department",
    "supervisor.col.status",
    "supervisor.col.created",
    "supervisor.col.accepted",
    "supervisor.col.done",
    "supervisor.col.closed",
    "supervisor.col.due",
    "supervisor.col.assignee",
    "supervisor.col.reopen_count",
    "supervisor.col.satisfaction",
    "supervisor.col.revisit_by",
    "supervisor.col.description",
)


def _ticket_sheet(book: _Book, data: MonthData, tz: ZoneInfo) -> None:
    label = book.label
    widths = [8, 16, 10, 14, 12, 10, 17, 17, 17, 17, 17, 10, 8, 8, 10, 40]
    ws = book.sheet("supervisor.sheet.tickets", [label(c) for c in TICKET_COLUMNS], widths)
    for row in data.tickets:
        (code, number, kind, category, department, status, *times) = row[:11]
        assignee, reopened, score, by, description = row[11:]
        ws.append(
            _row(
                [
                    code,
                    number,
                    label(f"kind.{kind}"),
                    label(f"repair.category.{category}") if category else "",
                    label(f"department.{department}"),
                    label(f"status.{status}"),
                    *(
                        book.cell(ws, _local(t, tz), number_format="yyyy-mm-dd hh:mm")
                        for t in times
                    ),
                    assignee or "",
                    reopened,
                    score,
                    label(REVISIT_BY[by]) if by in REVISIT_BY else (by or ""),
                    description[:200],
                ]
            )
        )
    if data.more:
        ws.append(_row([label("supervisor.sheet.more", count=data.more)]))


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    # Excel has no time zones: show the office's wall-clock time.
    return moment.astimezone(tz).replace(tzinfo=None) if moment else None


# ---- the use-case ------------------------------------------------------------------------------


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
    title = catalogs.text(
        locale, "supervisor.report.title", {"scope": found.name, "month": period.label}
    )
    data = await gather(session, found, period, now, tz, title, listed)
    english = catalogs.text(
        "en", "supervisor.report.title", {"scope": found.code, "month": period.label}
    )
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
    """Draw the chart and save the workbook (blocking: runs in a worker thread)."""
    files = ReportFiles(files.chart.absolute(), files.workbook.absolute())
    font = cjk_font()
    if font is None:
        # Without a Chinese font, Chinese would show as empty boxes: draw it in English,
        # naming the community by its code.
        draw_chart(replace(data, title=english_title), _labels(catalogs, "en"), files.chart, None)
    else:
        draw_chart(data, _labels(catalogs, locale), files.chart, font)
    write_workbook(data, _labels(catalogs, locale), tz, files.workbook)
    return files


def _labels(catalogs: Catalogs, locale: str) -> Label:
    return lambda key, **params: catalogs.text(locale, key, params)


async def report_command(ctx: Context, argument: str) -> list[Reply]:
    """`/report [month] [community]`: the month's figures, a chart and a workbook."""
    resolved = await stats.resolve(ctx, argument, month_only=True)
    if isinstance(resolved, Reply):
        return [resolved]
    found, period = resolved
    data, files = await build_report(
        ctx.session,
        catalogs=ctx.catalogs,
        locale=ctx.locale,
        found=found,
        period=period,
        now=ctx.now,
        tz=ctx.settings.tz,
        out_dir=Path(ctx.settings.data_dir) / "reports",
    )
    await stats.record_use(
        ctx,
        "report",
        period.label,
        community=found.code,
        files=[files.chart.name, files.workbook.name],
    )
    params = {"scope": found.name, "month": period.label}
    figures = (
        stats.stats_reply(found, period, data.figures)
        if data.figures.total
        else Reply(
            "report.nothing", {"scope": found.name, "first": period.first, "last": period.last}
        )
    )
    return [
        figures,
        Reply("supervisor.report.chart", params, photo=str(files.chart)),
        Reply("supervisor.report.workbook", params, document=str(files.workbook)),
    ]
