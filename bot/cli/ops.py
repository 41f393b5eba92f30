"""Operations: `frontdesk db upgrade` (the migrations), `frontdesk backup` and
`frontdesk restore` (the SQLite store)."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import fail, read_settings, run_work

commands = typer.Typer()
db_cli = typer.Typer(help="The database.", no_args_is_help=True)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations; prints the revision reached."""
    settings = read_settings()

    async def work() -> str | None:
        from storage import migrate
        from storage.db import Database

        db = Database(settings.database_url)
        try:
            await migrate.upgrade(db.engine)
            return await migrate.current_revision(db.engine)
        finally:
            await db.dispose()

    typer.echo(f"database at revision {run_work(work)}")


@commands.command("backup")
def backup(out: Annotated[str, typer.Option(help="The backup file to write.")]) -> None:
    """A consistent copy of the SQLite store, also while the bot runs."""
    from pathlib import Path

    from bot import ops

    settings = read_settings()
    try:
        written = run_work(lambda: ops.backup(settings.database_url, Path(out)))
    except ops.OpsError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"backup written to {written}")


@commands.command("restore")
def restore(
    file: Annotated[str, typer.Argument(help="A file made by `frontdesk backup`.")],
) -> None:
    """Replace the SQLite store with a backup; stop the bot first."""
    from pathlib import Path

    from bot import ops

    settings = read_settings()
    try:
        target = run_work(lambda: ops.restore(settings.database_url, Path(file)))
    except ops.OpsError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"restored {file} into {target}")
