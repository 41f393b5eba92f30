"""`frontdesk seed-demo`: the demo communities, people and bills, and months of history."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import typer
from sqlalchemy import func
from sqlmodel import select

from bot.cli.common import console_app, read_settings, run_work

commands = typer.Typer()


@commands.command("seed-demo")
def seed_demo(
    history: Annotated[
        bool,
        typer.Option(
            "--history/--no-history",
            help="Also months of tickets made by the demo's people talking to the bot "
            "(only in a store with no tickets yet; takes about a minute).",
        ),
    ] = True,
) -> None:
    """Add the demo communities, residents, staff and bills, and months of front-desk
    history for the figures and charts to show (again: changes nothing)."""
    settings = read_settings()

    async def work() -> list[str]:
        from bot.demo import seed_demo as seed
        from bot.demo_history import make_history
        from dialogs.registry import all_startup
        from storage.models import Bill, Community, Person, StaffMember, Unit

        async with console_app(settings) as app:
            now = app.clock.now()  # the console's: a moved clock gets a history up to then
            today = now.astimezone(settings.tz).date()
            async with app.db.transaction() as session:
                added = await seed(session, today, settings.tz)
                # What a start books for each community (the notice board's first reminder),
                # for the communities just added, so the next start finds it all in place.
                for hook in all_startup():
                    await hook(session, now, settings.tz)
            logins = await web_logins(app)
            async with app.db.transaction() as session:
                counts = {}
                for model in (Community, Unit, Person, StaffMember, Bill):
                    stmt = select(func.count()).select_from(model)
                    counts[model.__name__] = (await session.exec(stmt)).one()
        lines = [
            f"demo data ready: {counts['Community']} communities, {counts['Unit']} units, "
            f"{counts['Person']} people, {counts['StaffMember']} staff, "
            f"{counts['Bill']} bills ({sum(added.values())} rows added)"
        ]
        lines += logins
        if history:
            made = await make_history(settings, now)
            if made.start is None:
                lines.append(f"demo history: none added ({made.skipped})")
            else:
                first, last = (moment.astimezone(settings.tz) for moment in (made.start, now))
                lines.append(
                    f"demo history: {made.tickets} tickets from {first:%Y-%m-%d} to "
                    f"{last:%Y-%m-%d}, made by the demo's residents and staff talking to the "
                    "bot; see them with `frontdesk chat --as zhou` and /stats, /report, /overdue"
                )
        return lines

    for line in run_work(work):
        typer.echo(line)


async def web_logins(app: Any) -> list[str]:
    """Passwords for the demo's web logins that have none yet, printed once."""
    from bot.demo import WEB_LOGINS
    from bot.web import PREFIX
    from handlers.web_accounts import set_password
    from storage.models import WebAccount

    made: list[str] = []
    async with app.db.transaction() as session:
        for login, name, role, department in WEB_LOGINS:
            if await session.get(WebAccount, login) is not None:
                continue
            password = secrets.token_urlsafe(9)
            await set_password(session, login, password, app.clock.now())
            what = f"{role.value}, {department.value}" if department else role.value
            made.append(f"  {login} / {password}  ({name}, {what})")
    settings = app.settings
    where = f"http://{settings.http_host}:{settings.http_port}{PREFIX}/"
    if not made:
        return [f"the desk's web workspace: {where} (demo passwords were printed when first set)"]
    return [f"the desk's web workspace: {where} (frontdesk run), sign in as", *made]
