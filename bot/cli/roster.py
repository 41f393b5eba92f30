"""`frontdesk import units|residents|bills FILE`: the roster from CSV or Excel, all or nothing."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import fail, opened, read_settings, run_work

commands = typer.Typer()


@commands.command("import")
def import_roster(
    kind: Annotated[str, typer.Argument(help="units, residents or bills.")],
    file: Annotated[str, typer.Argument(help="A .csv (UTF-8) or .xlsx file.")],
) -> None:
    """Import units, residents or bills; any bad row and nothing is imported."""
    from pathlib import Path

    from handlers import roster
    from handlers.documents.tables import TableError, read_table

    if kind not in roster.KINDS:
        raise fail(f"KIND must be one of {', '.join(roster.KINDS)}")
    path = Path(file)
    if not path.is_file():
        raise fail(f"no file {file}")
    settings = read_settings()
    try:
        parsed = roster.parse(kind, read_table(path))
    except TableError as exc:
        raise fail("\n".join(exc.errors), code=1) from None

    async def work() -> str:
        async with opened(settings) as app:
            async with app.db.transaction() as session:
                return str(await roster.import_rows(session, parsed, app.clock.now()))

    try:
        typer.echo(run_work(work))
    except roster.RosterError as exc:
        raise fail("\n".join(exc.errors), code=1) from None
