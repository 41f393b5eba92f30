"""Staff and residents' access: `frontdesk staff add` and `frontdesk invite` (one-time
invitation codes for the move-in pack)."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import community_by_code, fail, opened, read_settings, run_work

commands = typer.Typer()
staff_cli = typer.Typer(help="Staff members, supervisors and directors.", no_args_is_help=True)


@staff_cli.command("add")
def staff_add(
    user: Annotated[str, typer.Option(help="The chat user id.")],
    name: Annotated[str, typer.Option(help="Name shown to residents and colleagues.")],
    channel: Annotated[
        str, typer.Option(help="console, telegram, wechat, wecom or web (the web workspace).")
    ] = "console",
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

    settings = read_settings()
    if channel not in CHANNELS:
        raise fail(f"--channel must be one of {', '.join(CHANNELS)}")
    if role not in {r.value for r in StaffRole}:
        raise fail(f"--role must be one of {', '.join(r.value for r in StaffRole)}")
    if department is not None and department not in {d.value for d in Department}:
        raise fail(f"--department must be one of {', '.join(d.value for d in Department)}")

    async def work() -> str:
        from handlers.people import add_staff

        async with opened(settings) as app:
            async with app.db.transaction() as session:
                community_id = None
                if community is not None:
                    community_id = (await community_by_code(session, community)).id
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

    typer.echo(run_work(work))


@staff_cli.command("passwd")
def staff_passwd(
    login: Annotated[str, typer.Argument(help="The staff member's web login (their --user).")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Set a staff member's password for the desk's web workspace (asked twice, hidden)."""
    settings = read_settings()
    if password_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)

    async def work() -> None:
        from handlers.web_accounts import PasswordRefused, set_password

        async with opened(settings) as app:
            try:
                async with app.db.transaction() as session:
                    await set_password(session, login, password, app.clock.now())
            except PasswordRefused as exc:
                raise fail(f"password not set: {exc}") from None

    run_work(work)
    typer.echo(f"password set for {login}; sign in at /desk/ on the HTTP listener")


@commands.command("invite")
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
    settings = read_settings()

    async def work() -> list[str]:
        from handlers.binding import issue_code
        from handlers.directory import unit_by_label

        async with opened(settings) as app:
            async with app.db.transaction() as session:
                found = await community_by_code(session, community)
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

    for line in run_work(work):
        typer.echo(line)
