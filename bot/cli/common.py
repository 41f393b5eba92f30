"""What every command shares: the settings (a bad one ends the command with one line on
stderr and exit status 2), logging, running the command's work, the app opened for one
command, and a community named by its code."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from storage.models import Community

T = TypeVar("T")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line to stderr; raise the returned exit."""
    typer.echo(message, err=True)
    return typer.Exit(code)


def read_settings(chatting: bool = False) -> Settings:
    """The settings, with logging set up from them; a bad setting ends the command."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise fail(str(exc)) from None
    set_up_logging(settings, chatting)
    return settings


def set_up_logging(settings: Settings, chatting: bool) -> None:
    level = logging.getLevelName(settings.log_level.strip().upper())
    if not isinstance(level, int):
        raise fail(f"bad setting: FRONTDESK_LOG_LEVEL: unknown level {settings.log_level!r}")
    if chatting and level > logging.DEBUG:
        level = logging.WARNING  # the conversation is on stdout; keep the terminal readable
    from bot import logs

    logs.setup(settings, level, sys.stderr)  # JSON lines, phones masked, secrets removed
    if level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)  # per-start chatter


def run_work(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the command's work; ^C ends it with status 130 and no traceback."""
    try:
        return asyncio.run(work())
    except KeyboardInterrupt:
        typer.echo("", err=True)  # end the line the ^C was echoed on
        raise typer.Exit(130) from None


@contextlib.asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Any]:
    """The app for one command, closed when the command is done or fails."""
    from bot.app import App

    app = await App.start(settings)
    try:
        yield app
    finally:
        await app.close()


@contextlib.asynccontextmanager
async def console_app(settings: Settings) -> AsyncIterator[Any]:
    """The app for a console session: its clock runs as far ahead as earlier sessions
    moved it (`/clock`, `--clock`), so everyone at the console sees the same moment."""
    from bot.app import App
    from bot.channels import console
    from handlers.core.clock import OffsetClock

    app = await App.start(settings, clock=OffsetClock())
    try:
        await console.use_stored_clock(app)
        yield app
    finally:
        await app.close()


async def community_by_code(
    session: AsyncSession, code: str, option: str = "--community"
) -> Community:
    """The community with this code; none ends the command, naming the option given."""
    from storage.models import Community

    found = (await session.exec(select(Community).where(Community.code == code))).first()
    if found is None or found.id is None:
        raise fail(f"{option}: no community with code {code!r}")
    return found
