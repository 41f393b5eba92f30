"""`frontdesk intent TEXT`: where a message typed at the menu goes, and why."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import read_settings

commands = typer.Typer()


@commands.command("intent")
def intent(
    text: Annotated[str, typer.Argument(help="A resident's message, e.g. 厨房水管漏水了.")],
) -> None:
    """Show where a message typed at the menu goes: the intent, its score and the runner-up."""
    from dialogs.intent import INTENT_FLOWS, classify, initial_text
    from handlers.core.i18n import Catalogs
    from handlers.rules.intent import THRESHOLD

    settings = read_settings()
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
