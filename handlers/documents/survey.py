"""The owners' survey's analysis as files for the director: a chart (PNG) of the mean score
per area, how the scores spread, the means per building and the headline figures; and a
workbook (XLSX) with the same numbers, the comments grouped by area and every answer.

Drawn in the packaged Chinese font as the `/report` chart is (handlers/documents/chart.py).
Every cell from people's text (comments, unit labels, the survey's title) is written as
text no spreadsheet reads as a formula (`handlers.rules.spreadsheet.as_text`). Both are
blocking: the caller runs them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from handlers.documents.files import atomic
from handlers.documents.month import Label
from handlers.rules.spreadsheet import as_text
from handlers.rules.survey import SCORES, Analysis

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Scores from 很不满意 (red) to 非常满意 (green).
SCORE_COLOURS = ("#c0392b", "#e67e22", "#bdc3c7", "#7fb77e", "#2e8b57")


@dataclass(frozen=True)
class ResponseRow:
    """One unit's answer as the workbook lists it."""

    unit: str
    building: str
    answered_at: datetime
    scores: Mapping[str, int]
    comments: Mapping[str, str] = field(default_factory=dict)
    task: str = ""  # the low score's follow-up (T-…), if any


@dataclass(frozen=True)
class SurveyData:
    """Everything the files show."""

    title: str
    analysis: Analysis
    responses: Sequence[ResponseRow] = ()


@dataclass(frozen=True)
class SurveyFiles:
    chart: Path
    workbook: Path


def _shown(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}"


# ---- the chart ------------------------------------------------------------------------


def draw_chart(data: SurveyData, label: Label, path: Path, font: str | None) -> Figure:
    """The chart written to `path` (PNG), and returned."""
    import matplotlib

    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with matplotlib.rc_context({"font.family": families}):
        figure = chart_figure(data, label)
        atomic(path, lambda target: figure.savefig(target, format="png"))
    return figure


def chart_figure(data: SurveyData, label: Label) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    found = data.analysis
    figure = Figure(figsize=(12, 8.5), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(data.title, fontsize=16)
    if found.answered == 0:
        figure.text(
            0.5, 0.5, label("opinion.chart.nothing"),
            fontsize=24, ha="center", va="center", color="#555555",
        )  # fmt: skip
        return figure
    grid = figure.add_gridspec(2, 2, height_ratios=(1, 1))
    _means(figure.add_subplot(grid[0, 0]), found, label)
    _spread(figure.add_subplot(grid[0, 1]), found, label)
    _buildings(figure.add_subplot(grid[1, 0]), found, label)
    _headline(figure.add_subplot(grid[1, 1]), found, label)
    return figure


def _names(found: Analysis, label: Label) -> list[str]:
    return [label(f"opinion.area.{area}") for area in found.areas]


def _means(axes: Any, found: Analysis, label: Label) -> None:
    names = _names(found, label)
    values = [float(found.means[a] or 0) for a in found.areas]
    bars = axes.bar(names, values, color="#1f5fa8")
    for bar, area in zip(bars, found.areas, strict=True):
        axes.text(
            bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.05,
            _shown(found.means[area]), ha="center", va="bottom", fontsize=10,
        )  # fmt: skip
    axes.set_ylim(0, 5.5)
    axes.set_title(label("opinion.chart.means"))
    axes.tick_params(axis="x", labelsize=9)


def _spread(axes: Any, found: Analysis, label: Label) -> None:
    names = _names(found, label)[::-1]
    areas = list(found.areas)[::-1]
    left = [0] * len(areas)
    for score, colour in zip(SCORES, SCORE_COLOURS, strict=True):
        counts = [found.distribution[a][score] for a in areas]
        axes.barh(names, counts, left=left, color=colour, label=label(f"opinion.score.{score}"))
        left = [x + c for x, c in zip(left, counts, strict=True)]
    axes.set_title(label("opinion.chart.spread"))
    axes.xaxis.get_major_locator().set_params(integer=True)
    # Below the bars, so it never hides one.
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=len(SCORES), fontsize=8)


def _buildings(axes: Any, found: Analysis, label: Label) -> None:
    axes.axis("off")
    axes.set_title(label("opinion.chart.buildings"))
    header = [label("opinion.col.building"), label("opinion.col.answered")] + [
        label(f"opinion.area.{area}") for area in found.areas
    ]
    rows = [
        [building, str(found.buildings[building])]
        + [_shown(found.by_building[building][area]) for area in found.areas]
        for building in found.by_building
    ]
    table = axes.table(cellText=rows, colLabels=header, loc="upper center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.4)


def _headline(axes: Any, found: Analysis, label: Label) -> None:
    axes.axis("off")
    lines = [
        (label("opinion.col.invited"), str(found.invited)),
        (label("opinion.col.answered"), str(found.answered)),
        (label("opinion.col.rate"), _shown(found.rate)),
        (label("opinion.col.overall"), _shown(found.overall)),
        (label("opinion.col.low"), str(found.low)),
    ]
    for row, (name, value) in enumerate(lines):
        y = 0.92 - row * 0.15
        axes.text(0.0, y, name, fontsize=13, transform=axes.transAxes, va="top")
        axes.text(
            1.0, y, value, fontsize=13, color="#1f3b73",
            ha="right", va="top", transform=axes.transAxes,
        )  # fmt: skip


# ---- the workbook ---------------------------------------------------------------------


def _cell(value: Any) -> Any:
    """Numbers as numbers, text (anything people typed) as text, never a formula."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return as_text(value)
    return value


def write_workbook(data: SurveyData, label: Label, tz: ZoneInfo, path: Path) -> None:
    """Summary, per building, the spread, the comments by area, every answer."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    found = data.analysis
    book = Workbook()
    bold = Font(bold=True)
    areas = [label(f"opinion.area.{a}") for a in found.areas]

    def sheet(key: str, header: Sequence[str], first: bool = False) -> Any:
        ws = book.active if first else book.create_sheet()
        ws.title = label(key)[:31]
        ws.append([_cell(h) for h in header])
        for cell in ws[1]:
            cell.font = bold
        ws.freeze_panes = "A2"
        return ws

    summary = sheet(
        "opinion.sheet.summary", [label("opinion.col.item"), label("opinion.col.value")], True
    )
    summary.append([_cell(label("opinion.col.title")), _cell(data.title)])
    summary.append([_cell(label("opinion.col.invited")), found.invited])
    summary.append([_cell(label("opinion.col.answered")), found.answered])
    summary.append([_cell(label("opinion.col.rate")), _cell(found.rate)])
    summary.append([_cell(label("opinion.col.overall")), _cell(found.overall)])
    summary.append([_cell(label("opinion.col.low")), found.low])
    for area, name in zip(found.areas, areas, strict=True):
        summary.append([_cell(label("opinion.col.mean_of", area=name)), _cell(found.means[area])])
    summary.column_dimensions["A"].width = 28
    summary.column_dimensions["B"].width = 36

    by = sheet(
        "opinion.sheet.buildings",
        [label("opinion.col.building"), label("opinion.col.answered"), *areas],
    )
    for building, means in found.by_building.items():
        by.append(
            [_cell(building), found.buildings[building], *(_cell(means[a]) for a in found.areas)]
        )

    spread = sheet(
        "opinion.sheet.spread",
        [label("opinion.col.area"), *(label(f"opinion.score.{s}") for s in SCORES)],
    )
    for area, name in zip(found.areas, areas, strict=True):
        spread.append([_cell(name), *(found.distribution[area][s] for s in SCORES)])

    notes = sheet(
        "opinion.sheet.comments",
        [label("opinion.col.area"), label("opinion.col.unit"), label("opinion.col.comment")],
    )
    notes.column_dimensions["C"].width = 60
    for area, name in zip(found.areas, areas, strict=True):
        for unit, comment in found.comments[area]:
            notes.append([_cell(name), _cell(unit), _cell(comment)])

    answers = sheet(
        "opinion.sheet.answers",
        [
            label("opinion.col.unit"),
            label("opinion.col.building"),
            label("opinion.col.answered_at"),
            *areas,
            *(label("opinion.col.comment_of", area=name) for name in areas),
            label("opinion.col.task"),
        ],
    )
    for row in data.responses:
        answers.append(
            [
                _cell(row.unit),
                _cell(row.building),
                row.answered_at.astimezone(tz).replace(tzinfo=None),
                *(row.scores.get(a) for a in found.areas),
                *(_cell(row.comments.get(a, "")) for a in found.areas),
                _cell(row.task),
            ]
        )
    atomic(path, lambda target: book.save(target))
