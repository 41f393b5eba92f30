"""The `frontdesk` command line: run the bot, chat in the terminal, migrate, seed, add staff.

Every command reads the settings first; a bad setting ends it with one line on stderr
and exit status 2. Nothing here prints a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
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
resident_cli = typer.Typer(help="Residents' personal data: export, forget.", no_args_is_help=True)
cli.add_typer(resident_cli, name="resident")

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
    from bot import logs

    logs.setup(settings, level, sys.stderr)  # JSON lines, phones masked, secrets removed
    if level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)  # per-start chatter


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(work())
    except KeyboardInterrupt:
        typer.echo("", err=True)  # end the line the ^C was echoed on
        raise typer.Exit(130) from None


@contextlib.asynccontextmanager
async def _opened(settings: Settings) -> AsyncIterator[Any]:
    """The app for one command, closed when the command is done or fails."""
    from bot.app import App

    app = await App.start(settings)
    try:
        yield app
    finally:
        await app.close()


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
        from bot import ops
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
        workers = asyncio.create_task(run_workers(app, stop))
        try:
            # /health and /metrics always; a busy port is fatal only when a channel needs it.
            routes = channels.http_routes(names, app)
            listener = serve_http(app, [*routes, *ops.routes(app)], stop)
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
    settings = _settings(chatting=True)

    async def work() -> None:
        from bot.channels import console

        try:
            async with _console_app(settings) as app:
                await console.chat(app, user=user, staff=as_, shift=shift)
        except console.ConsoleError as exc:
            raise fail(str(exc)) from None

    _run(work)


@contextlib.asynccontextmanager
async def _console_app(settings: Settings) -> AsyncIterator[Any]:
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
    settings = _settings()

    async def work() -> list[str]:
        from bot.demo import seed_demo as seed
        from bot.demo_history import make_history
        from storage.models import Bill, Community, Person, StaffMember, Unit

        async with _console_app(settings) as app:
            now = app.clock.now()  # the console's: a moved clock gets a history up to then
            today = now.astimezone(settings.tz).date()
            async with app.db.transaction() as session:
                added = await seed(session, today, settings.tz)
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

    for line in _run(work):
        typer.echo(line)


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

        async with _opened(settings) as app:
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

    typer.echo(_run(work))


# ---- roster import and invitation codes ---------------------------------------------


@cli.command("import")
def import_roster(
    kind: Annotated[str, typer.Argument(help="units, residents or bills.")],
    file: Annotated[str, typer.Argument(help="A .csv (UTF-8) or .xlsx file.")],
) -> None:
    """Import units, residents or bills; any bad row and nothing is imported."""
    from pathlib import Path

    from handlers import roster

    if kind not in roster.KINDS:
        raise fail(f"KIND must be one of {', '.join(roster.KINDS)}")
    path = Path(file)
    if not path.is_file():
        raise fail(f"no file {file}")
    settings = _settings()
    try:
        parsed = roster.parse(kind, roster.read_table(path))
    except roster.RosterError as exc:
        raise fail("\n".join(exc.errors), code=1) from None

    async def work() -> str:
        async with _opened(settings) as app:
            async with app.db.transaction() as session:
                return str(await roster.import_rows(session, parsed, app.clock.now()))

    try:
        typer.echo(_run(work))
    except roster.RosterError as exc:
        raise fail("\n".join(exc.errors), code=1) from None


@cli.command("invite")
def invite(
    community: Annotated[str, typer.Option(help="Community code, e.g. XFL.")],
    unit: Annotated[
        list[str], typer.Option(help="Unit label, e.g. 3栋2单元1201; repeat for several units.")
    ],
    role: Annotated[str, typer.Option(help="owner, member, tenant or delegate.")] = "owner",
) -> None:
    """Print one-time invitation codes (valid 30 days) for the move-in pack."""
    from handlers.rules.binding import parse_role

    relation = parse_role(role)
    if relation is None:
        raise fail("--role must be one of owner, member, tenant, delegate")
    settings = _settings()

    async def work() -> list[str]:
        from handlers.binding import issue_code
        from handlers.directory import unit_by_label
        from storage.models import Community

        async with _opened(settings) as app:
            async with app.db.transaction() as session:
                found = (
                    await session.exec(select(Community).where(Community.code == community))
                ).first()
                if found is None:
                    raise fail(f"--community: no community with code {community!r}")
                lines = []
                for label in unit:
                    target = await unit_by_label(session, found.id, label)
                    if target is None:
                        raise fail(f"--unit: no unit {label!r} in {community}")
                    now = app.clock.now()
                    code = await issue_code(session, target, relation, "cli", now)
                    assert code.expires_at is not None
                    until = code.expires_at.astimezone(settings.tz).date().isoformat()
                    lines.append(f"{target.label}\t{relation}\t{code.code}\tvalid until {until}")
                return lines

    for line in _run(work):
        typer.echo(line)


# ---- payments -------------------------------------------------------------------------


@cli.command("paid")
def paid(
    community: Annotated[str, typer.Option(help="Community code, e.g. XFL.")],
    unit: Annotated[str, typer.Option(help="Unit label, e.g. 3栋2单元1201.")],
    amount: Annotated[str, typer.Option(help="Amount received in yuan, e.g. 500 or 531.20.")],
    receipt: Annotated[str, typer.Option(help="Receipt number (收费票据号), e.g. SJ20261127001.")],
) -> None:
    """Record a payment: whole months paid oldest first, the unit's residents told."""
    from handlers.rules.fees import normalise_receipt, parse_amount

    value = parse_amount(amount)
    if value is None:
        raise fail("--amount must be a number above 0 with at most two decimals")
    number = normalise_receipt(receipt)
    if number is None:
        raise fail("--receipt must be 4 to 50 letters, digits or hyphens")
    settings = _settings()

    async def work() -> str:
        from handlers.directory import unit_by_label
        from handlers.fees import record_payment
        from storage import outbox
        from storage.models import Community

        async with _opened(settings) as app:
            async with app.db.transaction() as session:
                found = (
                    await session.exec(select(Community).where(Community.code == community))
                ).first()
                if found is None:
                    raise fail(f"--community: no community with code {community!r}")
                target = await unit_by_label(session, found.id, unit)
                if target is None:
                    raise fail(f"--unit: no unit {unit!r} in {community}")
                now = app.clock.now()
                outcome = await record_payment(
                    session, unit=target, amount=value, receipt=number, actor="cli", now=now
                )
                if outcome.refusal is not None:
                    raise fail(f"receipt {number} is already recorded; nothing changed", code=1)
                for notice in outcome.notices:  # pushes to the residents, in their language
                    assert notice.to is not None
                    locale = notice.to.locale or settings.default_locale
                    await outbox.enqueue(
                        session,
                        channel=notice.to.channel,
                        chat_id=notice.to.chat_id,
                        payload=app.catalogs.render(notice, locale),
                        now=now,
                    )
                return (
                    f"payment recorded: {target.label}, {value} yuan, receipt {number}; "
                    f"months paid: {', '.join(outcome.months) or 'none'}; "
                    f"credit {outcome.credit}; {len(outcome.notices)} resident chats told"
                )

    typer.echo(_run(work))


# ---- announcements ---------------------------------------------------------------------


@cli.command("announce")
def announce(
    community: Annotated[str, typer.Argument(help="Community code, e.g. XFL.")],
    text: Annotated[str, typer.Argument(help="What to tell the residents, e.g. 明天9-15点停水.")],
    building: Annotated[
        str | None, typer.Option(help="Only this building's residents, e.g. 3栋; default: all.")
    ] = None,
) -> None:
    """Queue an announcement to every bound resident of a community (or one building)."""
    from handlers.announce import TEXT_LIMIT

    words = text.strip()
    if not 2 <= len(words) <= TEXT_LIMIT:
        raise fail(f"TEXT must be 2 to {TEXT_LIMIT} characters")
    settings = _settings()

    async def work() -> str:
        from handlers import announce as announcements
        from storage.models import Building, Community

        async with _opened(settings) as app:
            async with app.db.transaction() as session:
                found = (
                    await session.exec(select(Community).where(Community.code == community))
                ).first()
                if found is None or found.id is None:
                    raise fail(f"COMMUNITY: no community with code {community!r}")
                block = None
                if building is not None:
                    block = (
                        await session.exec(
                            select(Building).where(
                                Building.community_id == found.id,
                                Building.name == "".join(building.split()),
                            )
                        )
                    ).first()
                    if block is None:
                        raise fail(f"--building: no building {building!r} in {community}")
                now = app.clock.now()
                done = await announcements.announce(
                    session,
                    catalogs=app.catalogs,
                    settings=settings,
                    community=found,
                    building=block,
                    text=words,
                    ref=announcements.new_ref(),
                    actor="cli",
                    now=now,
                )
                if done.audience.chats == 0:
                    raise fail("no resident there has bound a chat account; nothing sent", 1)
                when = ""
                if done.not_before is not None:  # quiet hours now
                    local = done.not_before.astimezone(settings.tz)
                    when = f"; quiet hours: sent from {local:%Y-%m-%d %H:%M}"
                scope = found.code if block is None else f"{found.code} {block.name}"
                return (
                    f"announcement queued for {done.audience.residents} residents "
                    f"({done.audience.chats} chats) in {scope}{when}"
                )

    typer.echo(_run(work))


@cli.command("intent")
def intent(
    text: Annotated[str, typer.Argument(help="A resident's message, e.g. 厨房水管漏水了.")],
) -> None:
    """Show where a message typed at the menu goes: the intent, its score and the runner-up."""
    from dialogs.intent import INTENT_FLOWS, classify, initial_text
    from handlers.core.i18n import Catalogs
    from handlers.rules.intent import THRESHOLD

    settings = _settings()
    catalogs = Catalogs.load(settings.default_locale, settings.tz)
    decision = classify(catalogs, text)
    if decision.intent is None:
        why = "tie" if decision.score >= THRESHOLD else f"below threshold {THRESHOLD}"
        typer.echo(f"intent: none ({why}) -> menu")
    else:
        typer.echo(f"intent: {decision.intent} -> flow {INTENT_FLOWS[decision.intent]}")
    typer.echo(f"best: {decision.best or '-'} ({decision.score:g})")
    typer.echo(f"runner-up: {decision.runner_up or '-'} ({decision.runner_up_score:g})")
    if decision.intent is not None:
        typer.echo(f"initial text: {initial_text(catalogs, text) or '(none)'}")


# ---- monthly report -------------------------------------------------------------------


@cli.command("report")
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

    settings = _settings()

    async def work() -> list[str]:
        from handlers import report as monthly
        from handlers import stats
        from handlers.core.messages import Text
        from storage import audit

        async with _opened(settings) as app:
            now = app.clock.now()
            try:
                period = parse_period(month, now.astimezone(settings.tz).date(), settings.tz)
            except PeriodError:
                raise fail(f"--month: not a month: {month!r} (e.g. 2026-11)") from None
            if not is_month(period):
                raise fail(f"--month: not a month: {month!r} (e.g. 2026-11)")
            async with app.db.transaction() as session:
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

    for line in _run(work):
        typer.echo(line)


# ---- WeChat official account ----------------------------------------------------------


@cli.command("wechat-menu")
def wechat_menu(
    show: Annotated[
        bool, typer.Option("--show", help="Print the menu's JSON instead of publishing it.")
    ] = False,
) -> None:
    """Publish the official account's menu: 报修 | 服务 (投诉, 缴费, 放行) | 我的."""
    import json

    import aiohttp

    from bot.channels import wechat
    from bot.channels.wechat_api import WeChatAPIError
    from handlers.core.i18n import Catalogs

    settings = _settings()
    if show:
        catalogs = Catalogs.load(settings.default_locale, settings.tz)
        menu = wechat.menu_definition(catalogs, settings.default_locale)
        typer.echo(json.dumps(menu, ensure_ascii=False, indent=2))
        return
    if not settings.wechat_appid or settings.wechat_secret is None:
        raise fail("FRONTDESK_WECHAT_APPID and FRONTDESK_WECHAT_SECRET are needed to publish")

    async def work() -> dict[str, Any]:
        try:
            async with _opened(settings) as app:
                return await wechat.publish_menu(app)
        except WeChatAPIError as exc:
            raise fail(f"WeChat refused the menu: {exc}", code=1) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise fail(f"could not reach WeChat: {type(exc).__name__}: {exc}", code=1) from None

    typer.echo(f"menu published: {wechat.describe_menu(_run(work))}")


@cli.command("wecom-group")
def wecom_group(
    community: Annotated[str, typer.Option(help="Community code, e.g. XFL.")],
    department: Annotated[
        str, typer.Option(help="repair, security, cleaning, greening or service.")
    ],
    to: Annotated[
        str,
        typer.Option(help="party:<department id>, tag:<tag id>, chat:<app chat id> or user:<id>."),
    ],
) -> None:
    """Send a department's task cards to a WeCom department, tag or app group chat."""
    from storage.models import Department

    if department not in {d.value for d in Department}:
        raise fail(f"--department must be one of {', '.join(d.value for d in Department)}")
    settings = _settings()

    async def work() -> str:
        from bot.channels.wecom import address, bind_department
        from storage.models import Community

        if address(to) is None:
            raise fail("--to must be party:<id>, tag:<id>, chat:<id> or user:<id>")
        async with _opened(settings) as app:
            async with app.db.transaction() as session:
                found = (
                    await session.exec(select(Community).where(Community.code == community))
                ).first()
                if found is None:
                    raise fail(f"--community: no community with code {community!r}")
                await bind_department(
                    session, found, department, to, actor="cli", now=app.clock.now()
                )
                return f"{community} {department}: task cards go to WeCom {to}"

    typer.echo(_run(work))


# ---- personal data, backup and restore ----------------------------------------------------


PhoneOption = Annotated[str | None, typer.Option("--phone", help="The person's phone number.")]
PersonOption = Annotated[int | None, typer.Option("--person-id", help="The person's id.")]


def _person_wanted(phone: str | None, person_id: int | None) -> None:
    if (phone is None) == (person_id is None):
        raise fail("name the person with exactly one of --phone or --person-id")


@resident_cli.command("export")
def resident_export(
    phone: PhoneOption = None,
    person_id: PersonOption = None,
    out: Annotated[str | None, typer.Option(help="Write the JSON here, not to stdout.")] = None,
) -> None:
    """Everything held about one person, as JSON (PIPL access request)."""
    import json
    from pathlib import Path

    _person_wanted(phone, person_id)
    settings = _settings()

    async def work() -> dict[str, Any]:
        from handlers import privacy
        from storage import audit

        async with _opened(settings) as app:
            async with app.db.transaction() as session:
                try:
                    person = await privacy.find_person(session, phone=phone, person_id=person_id)
                except privacy.PersonNotFound as exc:
                    raise fail(str(exc), code=1) from None
                data = await privacy.export_person(session, person)
                await audit.record(
                    session,
                    actor="cli",
                    action="person_export",
                    target=f"person:{person.id}",
                    now=app.clock.now(),
                )
                return data

    text = json.dumps(_run(work), ensure_ascii=False, indent=2)
    if out is None:
        typer.echo(text)
    else:
        Path(out).write_text(text + "\n", encoding="utf-8")
        typer.echo(f"written to {out}")


@resident_cli.command("forget")
def resident_forget(phone: PhoneOption = None, person_id: PersonOption = None) -> None:
    """Erase a person's personal data; their tickets stay, anonymised, in the figures."""
    from pathlib import Path

    _person_wanted(phone, person_id)
    settings = _settings()

    async def work() -> Any:
        from handlers import privacy

        async with _opened(settings) as app:
            async with app.db.transaction() as session:
                try:
                    person = await privacy.find_person(session, phone=phone, person_id=person_id)
                except privacy.PersonNotFound as exc:
                    raise fail(str(exc), code=1) from None
                return await privacy.forget_person(
                    session, person, actor="cli", now=app.clock.now()
                )

    done = _run(work)
    for stored in done.files:  # photos kept on disk, only after the commit
        Path(stored).unlink(missing_ok=True)
    typer.echo(
        f"person {done.person_id} forgotten: {done.tickets} tickets anonymised, "
        f"{done.identities} chat accounts unlinked, {len(done.files)} stored photos deleted"
    )


@cli.command("backup")
def backup(out: Annotated[str, typer.Option(help="The backup file to write.")]) -> None:
    """A consistent copy of the SQLite store, also while the bot runs."""
    from pathlib import Path

    from bot import ops

    settings = _settings()
    try:
        written = _run(lambda: ops.backup(settings.database_url, Path(out)))
    except ops.OpsError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"backup written to {written}")


@cli.command("restore")
def restore(
    file: Annotated[str, typer.Argument(help="A file made by `frontdesk backup`.")],
) -> None:
    """Replace the SQLite store with a backup; stop the bot first."""
    from pathlib import Path

    from bot import ops

    settings = _settings()
    try:
        target = _run(lambda: ops.restore(settings.database_url, Path(file)))
    except ops.OpsError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"restored {file} into {target}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
