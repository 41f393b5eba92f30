"""What the desk's statements page reads (`/desk/statements`): the statements of the
communities the signed-in member works in, one statement's tables, its chart and its two
workbooks (the office's copy with the entries, the owners' copy with sums only). Who sees
a statement is chat's rule (`statements.statement_for`): the community's staff see it, its
supervisors and directors make and publish it."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from handlers import statements
from handlers.core.context import Context
from handlers.documents.statement import Entry, StatementData, write_statement
from handlers.month_review import staff_names
from handlers.rules import statements as rules
from handlers.rules.ledger import business_day
from storage.models import AccountStatement, Community

TOTALS = ("income", "expenses", "balance", "deposits")


@dataclass(frozen=True)
class Line:
    """A row of a table on the page: what, and how much (¥, two decimals)."""

    name: str
    amount: str
    before: str = ""


@dataclass
class StatementView:
    statement: AccountStatement
    community: Community
    period: str
    version: int
    income: list[Line]
    expenses: list[Line]
    totals: list[Line]
    months: list[dict[str, str]]
    before: str
    may_publish: bool
    waiting: str  # why a draft its maker sees cannot be published yet (a catalog key), or ""
    made_by: str
    published_by: str


def _label(ctx: Context, key: str) -> str:
    return ctx.catalogs.text(ctx.locale, key)


async def view(ctx: Context, statement_id: int) -> StatementView | None:
    found = await statements.statement_for(ctx, statement_id)
    if found is None:
        return None
    statement, community = found
    totals = statement.totals
    previous = totals.get("previous", {})
    names = await _names(ctx, [statement.made_by, statement.published_by])
    maker = statement.status == statements.DRAFT and statements.may_make(ctx, community.id or 0)
    today = business_day(ctx.now, ctx.settings.tz)
    why = rules.not_ready(statement.ends, totals.get("as_of"), today)

    def lines(sums: dict[str, str]) -> list[Line]:
        return [
            Line(_label(ctx, f"statements.purpose.{p}"), rules.yuan(v)) for p, v in sums.items()
        ]

    return StatementView(
        statement=statement,
        community=community,
        period=rules.base_period(statement.period),
        version=statements.version_of(statement),
        income=lines(statement.income),
        expenses=lines(statement.expenses),
        totals=[
            Line(
                _label(ctx, f"statements.total.{name}"),
                rules.yuan(totals[name]),
                rules.yuan(previous[name]) if name in previous else "—",
            )
            for name in TOTALS
        ],
        months=[
            {"month": m["month"], **{n: rules.yuan(m[n]) for n in TOTALS}}
            for m in totals.get("months", [])
        ],
        before=str(previous.get("period", "")),
        may_publish=maker and why is None,
        waiting=why if maker and why is not None else "",
        made_by=names.get(statement.made_by, statement.made_by),
        published_by=names.get(statement.published_by, statement.published_by),
    )


async def _names(ctx: Context, actors: list[str]) -> dict[str, str]:
    return await staff_names(ctx, [a for a in actors if a])


async def latest(ctx: Context, code: str, period: str) -> int | None:
    """The newest version of a community's statement for a period the member may see."""
    try:
        label = rules.period_of(period).label
    except rules.BadPeriod:
        return None
    for community in await statements.communities(ctx, making=False):
        if community.code.lower() == code.lower() and community.id is not None:
            found = await statements.versions(ctx, community.id, label)
            return found[-1].id if found else None
    return None


async def office_entries(ctx: Context, shown: StatementView) -> list[Entry]:
    return await statements.entries_of(ctx, shown.statement)


def _data(ctx: Context, shown: StatementView, entries: list[Entry] | None) -> StatementData:
    return statements.data_of(ctx, shown.statement, shown.community, entries, ctx.locale)


def workbook(ctx: Context, shown: StatementView, entries: list[Entry] | None) -> bytes:
    """A workbook as bytes, kept nowhere: the office's copy with `entries`, the owners'
    with None (blocking: run it in a worker thread)."""
    with tempfile.TemporaryDirectory(prefix="frontdesk-statement-") as folder:
        path = Path(folder) / "statement.xlsx"
        write_statement(_data(ctx, shown, entries), statements.label_for(ctx, ctx.locale), path)
        return path.read_bytes()


def chart(ctx: Context, shown: StatementView) -> bytes:
    """The chart as PNG bytes (blocking: run it in a worker thread)."""
    with tempfile.TemporaryDirectory(prefix="frontdesk-statement-") as folder:
        return statements.write_chart(
            _data(ctx, shown, None),
            statements.label_for(ctx, ctx.locale),
            Path(folder) / "chart.png",
        )
