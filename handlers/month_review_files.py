"""The month-end analysis as files: a workbook (XLSX) with the revisit summary, the
supervisor's comment and the recurring problems with their requests, and a chart (PNG) of
the month's revisits and recurring problems.

The workbook is written with the monthly report's write-only book
(handlers/documents/workbook.py), so every cell from people's text (the comment, a unit's
label) is stored as text that no spreadsheet reads as a formula; the chart is drawn in the
Chinese font the `/report` chart uses (handlers/documents/chart.py). Both are blocking:
the caller runs them in a thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from handlers.documents.chart import cjk_font
from handlers.documents.files import atomic
from handlers.documents.month import Label
from handlers.documents.workbook import _Book, _row
from storage.models import MonthReview

SUMMARY_ROWS = (
    "revisits",
    "on_time",
    "satisfied",
    "by_phone",
    "by_resident",
    "unanswered",
    "visits",
    "visits_done",
    "visits_late",
    "visits_satisfied",
    "visits_follow_up",
)


CHART_ROWS = ("revisits", "on_time", "satisfied", "by_phone", "unanswered", "visits_done")


def review_path(folder: Path, code: str, month: str) -> Path:
    return folder / f"month-review-{code}-{month}.xlsx"


def chart_path(folder: Path, code: str, month: str) -> Path:
    return folder / f"month-review-{code}-{month}.png"


def problem_label(finding: dict[str, Any], label: Label) -> str:
    """A recurring problem's bar: where and what, in a few words."""
    where, what, *_ = problem_cells(finding, label)[1:]
    if finding["kind"] == "reopened":
        return f"{label('month_review.kind.reopened')} {finding['tickets'][0]}"
    return " ".join(str(part) for part in (where, what) if part)


def draw_review_chart(findings: dict[str, Any], title: str, label: Label, path: Path) -> None:
    """The month's revisits and planned visits, and the recurring problems by how often
    they came, saved at `path`."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    font = cjk_font()
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with matplotlib.rc_context({"font.family": families}):
        figure = Figure(figsize=(12, 6), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        figure.suptitle(title, fontsize=15)
        left, right = figure.subplots(1, 2, width_ratios=(1, 1.4))
        summary = findings.get("summary", {})
        names = [label(f"month_review.figure.{name}") for name in CHART_ROWS]
        left.bar(names, [summary.get(name, 0) for name in CHART_ROWS], color="#4c78a8")
        left.set_title(label("month_review.sheet.summary"))
        left.tick_params(axis="x", labelrotation=30, labelsize=9)
        left.yaxis.get_major_locator().set_params(integer=True)
        problems = findings.get("problems", [])[:12][::-1]  # the most repeated at the top
        right.set_title(label("month_review.sheet.problems"))
        if problems:
            right.barh(
                [problem_label(p, label) for p in problems],
                [p["count"] for p in problems],
                color="#e45756",
            )
            right.xaxis.get_major_locator().set_params(integer=True)
        else:
            right.axis("off")
            right.text(
                0.5, 0.5, label("month_review.problems.none"),
                fontsize=14, ha="center", va="center", color="#555555",
            )  # fmt: skip
        atomic(path, lambda target: figure.savefig(target, format="png"))


def problem_cells(finding: dict[str, Any], label: Label) -> list[Any]:
    """A recurring problem's row: its kind, where, what, how often, and the requests."""
    kind, what = finding["kind"], finding["what"]
    if kind in ("unit", "building"):
        what = label(f"repair.category.{what}")
    elif kind == "complaint_kind":
        what = label(f"complaint.kind.{what}")
    elif kind == "theme":
        what = label(f"month_review.theme.{what}")
    return [
        label(f"month_review.kind.{kind}"),
        finding["where"],
        what,
        finding["count"],
        "、".join(finding["tickets"]),
    ]


def write_review(
    review: MonthReview,
    community: str,
    reviewer: str,
    label: Label,
    tz: ZoneInfo,
    path: Path,
) -> None:
    """Summary (with the comment) and the recurring problems, saved atomically at `path`."""
    book = _Book(label)
    found = review.findings
    ws = book.book.create_sheet(label("month_review.sheet.summary")[:31])
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 60
    title = label("month_review.file.title", community=community, month=review.month)
    ws.append([book.cell(ws, title, book.big)])
    ws.append([])
    header = (label("month_review.col.item"), label("month_review.col.value"))
    ws.append([book.cell(ws, name, book.bold) for name in header])
    summary = found.get("summary", {})
    for name in SUMMARY_ROWS:
        ws.append(_row([label(f"month_review.figure.{name}"), summary.get(name, 0)]))
    ws.append(_row([label("month_review.figure.repairs"), found.get("repairs", 0)]))
    ws.append(_row([label("month_review.figure.complaints"), found.get("complaints", 0)]))
    ws.append([])
    ws.append(_row([label("month_review.col.comment"), review.comment or "—"]))
    ws.append(_row([label("month_review.col.reviewer"), reviewer or "—"]))
    reviewed = (
        review.reviewed_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if review.reviewed_at else "—"
    )
    ws.append(_row([label("month_review.col.reviewed_at"), reviewed]))
    columns = [
        label("month_review.col.kind"),
        label("month_review.col.where"),
        label("month_review.col.what"),
        label("month_review.col.count"),
        label("month_review.col.tickets"),
    ]
    problems = book.sheet("month_review.sheet.problems", columns, [16, 18, 18, 8, 60])
    for finding in found.get("problems", []):
        problems.append(_row(problem_cells(finding, label)))
    atomic(path, lambda target: book.book.save(target))
