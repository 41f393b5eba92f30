"""`frontdesk policy`: a community's own deadlines and revisit windows, shown and changed."""

from __future__ import annotations

import json
from datetime import time
from typing import Annotated, Any

import typer

from bot.cli.common import community_by_code, fail, opened, read_settings, run_work

commands = typer.Typer()


def _assignments(pairs: list[str]) -> dict[str, Any]:
    """`revisit_leak_days=2`, `repair_targets_hours.water=12` as overrides; a value is read
    as JSON when it is JSON (numbers, tables) and as text otherwise (`09:30`)."""
    found: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise fail(f"{pair!r}: write NAME=VALUE, e.g. revisit_leak_days=2")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw.strip()
        name, dot, entry = name.strip().partition(".")
        if dot:
            found.setdefault(name, {})[entry] = value
        else:
            found[name] = value
    return found


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_shown(v)}" for k, v in value.items())
    if isinstance(value, time):
        return value.strftime("%H:%M") if not value.second else value.isoformat()
    return f"{value:g}" if isinstance(value, float) else str(value)


@commands.command("policy")
def policy(
    community: Annotated[str, typer.Argument(help="Community code, e.g. XFL.")],
    changes: Annotated[
        list[str] | None,
        typer.Argument(
            help="NAME=VALUE to change, e.g. revisit_leak_days=2 or "
            "repair_targets_hours.water=12; none shows the policy."
        ),
    ] = None,
    reset: Annotated[
        list[str] | None,
        typer.Option("--reset", help="Go back to the company's setting for NAME (repeatable)."),
    ] = None,
) -> None:
    """Show or change a community's own deadlines and revisit windows (the rest are the
    company's settings). Each change is checked as the setting is, and audited."""
    from handlers.policies import COMMUNITY_POLICY, PolicyError, checked, overlaid

    settings = read_settings()
    wanted = _assignments(changes or [])
    for name in reset or []:
        if name not in COMMUNITY_POLICY:
            raise fail(f"--reset: {name!r} is not a community policy")

    async def work() -> str:
        from storage import audit

        async with opened(settings) as app:
            async with app.db.transaction() as session:
                found = await community_by_code(session, community, option="COMMUNITY")
                own = dict(found.policy)
                try:
                    for name, value in checked(settings, wanted).items():
                        merged = (
                            {**own.get(name, {}), **value} if isinstance(value, dict) else value
                        )
                        own[name] = merged
                except PolicyError as refused:
                    raise fail(
                        f"{refused.name}: {refused.problem}; nothing changed "
                        f"(`frontdesk policy {found.code}` lists what a community can set)"
                    ) from None
                for name in reset or []:
                    own.pop(name, None)
                if own != found.policy:
                    await audit.record(
                        session,
                        actor="cli",
                        action="policy.changed",
                        target=found.code,
                        detail={"from": found.policy, "to": own},
                        now=app.clock.now(),
                    )
                    found.policy = own
                    session.add(found)
                shown = overlaid(settings, own)
                lines = [f"{found.code} {found.name}: deadlines and revisit windows"]
                for name in COMMUNITY_POLICY:
                    value = _shown(getattr(shown, name))
                    where = "this community's own" if name in own else "company setting"
                    lines.append(f"  {name} = {value}  ({where})")
                return "\n".join(lines)

    typer.echo(run_work(work))
