"""Running the bot: `frontdesk run` (every configured channel and the workers) and
`frontdesk chat` (a conversation in the terminal)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Annotated

import typer

from bot.cli.common import console_app, fail, read_settings, run_work, set_up_logging
from bot.settings import SettingsError, load_settings

commands = typer.Typer()
log = logging.getLogger("bot.cli")


@commands.command()
def run() -> None:
    """Start every configured channel and the workers; with none configured, the console."""
    from bot import channels

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise fail(str(exc)) from None
    names = channels.configured(settings)
    set_up_logging(settings, chatting=not names)  # the console takes the terminal: quieter logs

    async def work() -> None:
        from bot import ops, web
        from bot.app import App
        from bot.channels import console
        from bot.channels.console import chat
        from bot.http import serve_http
        from bot.workers import run_workers
        from handlers.core.clock import OffsetClock

        # The console alone: its clock is where a demo's `/clock` left it (see `chat`).
        app = await App.start(settings, clock=None if names else OffsetClock())
        if not names:
            await console.use_stored_clock(app)
        stop = asyncio.Event()
        if names:  # SIGTERM or ^C: finish what is in hand, stop the workers, then exit
            loop = asyncio.get_running_loop()
            for number in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(number, stop.set)
        background = [run_workers(app, stop)]
        if settings.workers and names:  # updates are queued for worker processes
            from bot.processes import supervise

            background.append(supervise(settings.workers, stop))
        workers = asyncio.gather(*background)
        try:
            # /health and /metrics always; a busy port is fatal only when a channel needs it.
            routes = channels.http_routes(names, app)
            mounted = {web.PREFIX: await web.desk_app(app)}  # the desk's web workspace
            listener = serve_http(app, [*routes, *ops.routes(app)], stop, mounted)
            listen = listener if routes else ops.optional_listener(listener, settings)
            if names:
                log.info("starting channels: %s", ", ".join(names))
                await asyncio.gather(listen, *(channels.serve(name, app, stop) for name in names))
            else:
                http = asyncio.create_task(listen)
                await chat(app, run_jobs=False)
                stop.set()
                await http
        except channels.ChannelUnavailable as exc:
            raise fail(str(exc)) from None
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await workers
            await app.close()

    run_work(work)


@commands.command("web")
def web_pages() -> None:
    """Serve the desk's web workspace alone (at /desk on the HTTP listener), without the
    channels; what is done there reaches chat through the `frontdesk run` process."""
    settings = read_settings()

    async def work() -> None:
        from bot import ops, web
        from bot.app import App
        from bot.http import serve_http

        app = await App.start(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stop.set)
        try:
            mounted = {web.PREFIX: await web.desk_app(app)}
            log.info(
                "the desk's web workspace: http://%s:%s%s/",
                settings.http_host,
                settings.http_port,
                web.PREFIX,
            )
            await serve_http(app, ops.routes(app), stop, mounted)
        except OSError as exc:
            raise fail(f"the HTTP listener could not start: {exc}") from None
        finally:
            await app.close()

    run_work(work)


@commands.command()
def worker() -> None:
    """Handle the updates `frontdesk run` queues (FRONTDESK_WORKERS, PostgreSQL), with the
    scheduled work; `frontdesk run` starts these itself, more may run on other hosts."""
    from bot import channels

    settings = read_settings()
    if not settings.workers:
        raise fail(
            "FRONTDESK_WORKERS is 0: `frontdesk run` handles the updates itself and queues "
            "none; set it (PostgreSQL) to share them among worker processes"
        )

    async def work() -> None:
        from bot.app import App
        from bot.channels import telegram_worker
        from bot.workers import run_workers

        # `frontdesk run` migrated the schema before starting the workers.
        app = await App.start(settings, migrate_schema=False)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):  # finish the lot in hand, then stop
            loop.add_signal_handler(number, stop.set)
        tasks = [run_workers(app, stop)]
        if "telegram" in channels.configured(settings):
            tasks.append(telegram_worker.work(app, stop))
        try:
            await asyncio.gather(*tasks)
        finally:
            stop.set()
            await app.close()

    run_work(work)


@commands.command()
def chat(
    as_: Annotated[
        str | None,
        typer.Option("--as", help="Talk as this console staff member (user id or name)."),
    ] = None,
    user: Annotated[str, typer.Option(help="Talk as this resident (console user id).")] = (
        "resident"
    ),
    clock: Annotated[
        str | None,
        typer.Option(
            "--clock",
            help="Move the console's clock forward first, e.g. +2d or +3h (a demo or a trial; "
            "later console sessions keep it).",
        ),
    ] = None,
) -> None:
    """A conversation in the terminal, as a resident or as a staff member."""
    from handlers.core.clock import parse_shift

    shift = parse_shift(clock) if clock is not None else None
    if clock is not None and shift is None:
        raise fail(f"--clock: not a forward shift: {clock!r} (e.g. +2d, +3h, +1d12h)")
    settings = read_settings(chatting=True)

    async def work() -> None:
        from bot.channels import console

        try:
            async with console_app(settings) as app:
                await console.chat(app, user=user, staff=as_, shift=shift)
        except console.ConsoleError as exc:
            raise fail(str(exc)) from None

    run_work(work)
