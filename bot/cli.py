"""The `frontdesk` command line: run the bot, chat in the terminal, migrate, seed, add staff.

Every command reads the settings first; a bad setting ends it with one line on stderr
and exit status 2. Nothing here prints a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy import func
from sqlmodel import select

from bot.settings import Settings, SettingsError, load_settings

cli = typer.Typer(
    name="frontdesk",
    help="Front Desk (物业前台): a chat-bot front desk for residential property management.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_cli = typer.Typer(help="The database.", no_args_is_help=True)
staff_cli = typer.Typer(help="Staff members, supervisors and directors.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(staff_cli, name="staff")

T = TypeVar("T")
log = logging.getLogger("bot.cli")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line to stderr; raise the returned exit."""
    typer.echo(message, err=True)
    return typer.Exit(code)


def _settings(chatting: bool = False) -> Settings:
    """The settings, with logging set up from them; a bad setting ends the command."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise fail(str(exc)) from None
    _logging(settings, chatting)
    return settings


def _logging(settings: Settings, chatting: bool) -> None:
    level = logging.getLevelName(settings.log_level.strip().upper())
    if not isinstance(level, int):
        raise fail(f"bad setting: FRONTDESK_LOG_LEVEL: unknown level {settings.log_level!r}")
    if chatting and level > logging.DEBUG:
        level = logging.WARNING  # the conversation is on stdout; keep the terminal readable
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    if level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)  # per-start chatter


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(work())
    except KeyboardInterrupt:
        typer.echo("", err=True)  # end the line the ^C was echoed on
        raise typer.Exit(130) from None


async def _start(settings: Settings) -> Any:
    from bot.app import App

    return await App.start(settings)


# ---- run and chat ------------------------------------------------------------------


@cli.command()
def run() -> None:
    """Start every configured channel and the workers; with none configured, the console."""
    from bot import channels

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise fail(str(exc)) from None
    names = channels.configured(settings)
    _logging(settings, chatting=not names)  # the console takes the terminal: quieter logs

    async def work() -> None:
        from bot.channels.console import chat
        from bot.workers import run_workers

        app = await _start(settings)
        stop = asyncio.Event()
        workers = asyncio.create_task(run_workers(app, stop))
        try:
            if names:
                log.info("starting channels: %s", ", ".join(names))
                await asyncio.gather(*(channels.serve(name, app, stop) for name in names))
            else:
                await chat(app, run_jobs=False)
        except channels.ChannelUnavailable as exc:
            raise fail(str(exc)) from None
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await workers
            await app.close()

    _run(work)


@cli.command()
def chat(
    as_: Annotated[
        str | None,
        typer.Option("--as", help="Talk as this console staff member (user id or name)."),
    ] = None,
    user: Annotated[str, typer.Option(help="Talk as this resident (console user id).")] = (
        "resident"
    ),
) -> None:
    """A conversation in the terminal, as a resident or as a staff member."""
    settings = _settings(chatting=True)

    async def work() -> None:
        from bot.channels import console

        app = await _start(settings)
        try:
            await console.chat(app, user=user, staff=as_)
        except console.ConsoleError as exc:
            raise fail(str(exc)) from None
        finally:
            await app.close()

    _run(work)


# ---- database and demo -------------------------------------------------------------


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations; prints the revision reached."""
    settings = _settings()

    async def work() -> str | None:
        from storage import migrate
        from storage.db import Database

        db = Database(settings.database_url)
        try:
            await migrate.upgrade(db.engine)
            return await migrate.current_revision(db.engine)
        finally:
            await db.dispose()

    typer.echo(f"database at revision {_run(work)}")


@cli.command("seed-demo")
def seed_demo() -> None:
    """Add the demo communities, residents, staff and bills (again: changes nothing)."""
    settings = _settings()

    async def work() -> str:
        from bot.demo import seed_demo as seed
        from storage.models import Bill, Community, Person, StaffMember, Unit

        app = await _start(settings)
        try:
            today = app.clock.now().astimezone(settings.tz).date()
            async with app.db.transaction() as session:
                added = await seed(session, today, settings.tz)
            async with app.db.transaction() as session:
                counts = {}
                for model in (Community, Unit, Person, StaffMember, Bill):
                    stmt = select(func.count()).select_from(model)
                    counts[model.__name__] = (await session.exec(stmt)).one()
        finally:
            await app.close()
        return (
            f"demo data ready: {counts['Community']} communities, {counts['Unit']} units, "
            f"{counts['Person']} people, {counts['StaffMember']} staff, "
            f"{counts['Bill']} bills ({sum(added.values())} rows added)"
        )

    typer.echo(_run(work))


# ---- staff ---------------------------------------------------------------------------


@staff_cli.command("add")
def staff_add(
    user: Annotated[str, typer.Option(help="The chat user id.")],
    name: Annotated[str, typer.Option(help="Name shown to residents and colleagues.")],
    channel: Annotated[str, typer.Option(help="console, telegram, wechat or wecom.")] = "console",
    role: Annotated[str, typer.Option(help="staff, supervisor or director.")] = "staff",
    department: Annotated[
        str | None, typer.Option(help="repair, security, cleaning, greening or service.")
    ] = None,
    community: Annotated[
        str | None, typer.Option(help="Community code, e.g. XFL; none: company-wide.")
    ] = None,
) -> None:
    """Add a staff member (or update the one with the same account and community)."""
    from handlers.people import CHANNELS
    from storage.models import Department, StaffRole

    settings = _settings()
    if channel not in CHANNELS:
        raise fail(f"--channel must be one of {', '.join(CHANNELS)}")
    if role not in {r.value for r in StaffRole}:
        raise fail(f"--role must be one of {', '.join(r.value for r in StaffRole)}")
    if department is not None and department not in {d.value for d in Department}:
        raise fail(f"--department must be one of {', '.join(d.value for d in Department)}")

    async def work() -> str:
        from handlers.people import add_staff
        from storage.models import Community

        app = await _start(settings)
        try:
            async with app.db.transaction() as session:
                community_id = None
                if community is not None:
                    found = (
                        await session.exec(select(Community).where(Community.code == community))
                    ).first()
                    if found is None:
                        raise fail(f"--community: no community with code {community!r}")
                    community_id = found.id
                member = await add_staff(
                    session,
                    channel=channel,
                    user_id=user,
                    name=name,
                    role=role,
                    department=department,
                    community_id=community_id,
                )
                return (
                    f"staff {member.id}: {member.name} ({channel}:{user}, {role}, "
                    f"{department or '-'}, {community or 'all communities'})"
                )
        finally:
            await app.close()

    typer.echo(_run(work))


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
