"""What the monthly report shows: the figures gathered before drawing (`MonthData`), and
`Label`, how the chart and the workbook name things in the report's language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from handlers.rules.stats import Figures, Period

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
