"""The monthly report's chart (PNG): tickets per day by kind, repairs per category, and the
headline figures of `/stats`.

It is drawn in Noto Sans SC from the `pylopdf-fonts-zh-cn` package (a dependency), so it
is Chinese on any machine, also one with no Chinese font installed; a month with no
tickets says so in words instead of drawing empty axes. Drawing is blocking: the caller
runs it in a worker thread.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handlers.documents.files import atomic
from handlers.documents.month import Label, MonthData
from handlers.rules.stats import Figures

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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
        atomic(path, lambda target: figure.savefig(target, format="png"))
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
