"""`frontdesk report`: the monthly report's chart and workbook, written to a directory."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import fail, opened, read_settings, run_work

commands = typer.Typer()


@commands.command("report")
def report(
    month: Annotated[
        str, typer.Option(help="The month, e.g. 2026-11; default: this month.")
    ] = "month",
    out: Annotated[
        str | None,
        typer.Option(help="Directory for the chart and workbook; default: DATA_DIR/reports."),
    ] = None,
    community: Annotated[
        str | None, typer.Option(help="Community code, e.g. XFL; default: all communities.")
    ] = None,
) -> None:
    """Write the monthly report: a chart (PNG) and a workbook (XLSX) with the /stats figures."""
    from pathlib import Path

    from handlers.rules.stats import PeriodError, is_month, parse_period

    settings = read_settings()

    async def work() -> list[str]:
        from handlers import report as monthly
        from handlers import stats
        from handlers.core.messages import Text
        from storage import audit

        async with opened(settings) as app:
            now = app.clock.now()
            try:
                period = parse_period(month, now.astimezone(settings.tz).date(), settings.tz)
            except PeriodError:
                raise fail(f"--month: not a month: {month!r} (e.g. 2026-11)") from None
            if not is_month(period):
                raise fail(f"--month: not a month: {month!r} (e.g. 2026-11)")
            # Read on a snapshot: the bot running beside this command never waits for it.
            async with app.db.reading() as session:
                found = await stats.audience(session, None, community, Text("supervisor.all"))
                if not isinstance(found, stats.Audience):
                    raise fail(f"--community: no community with code {community!r}")
                data, files = await monthly.build_report(
                    session,
                    catalogs=app.catalogs,
                    locale=settings.default_locale,
                    found=found,
                    period=period,
                    now=now,
                    tz=settings.tz,
                    out_dir=Path(out) if out else Path(settings.data_dir) / "reports",
                    listed=monthly.SHEET_ROWS,  # offline: the full ticket list
                )
            async with app.db.transaction() as session:
                await audit.record(
                    session,
                    actor="cli",
                    action="report",
                    target=period.label,
                    detail={"community": found.code},
                    now=now,
                )
            return [
                f"{period.label} {found.code}: {data.figures.total} tickets",
                str(files.chart),
                str(files.workbook),
            ]

    for line in run_work(work):
        typer.echo(line)
