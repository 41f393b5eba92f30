"""The `frontdesk` command line: run the bot, chat in the terminal, migrate, seed, add staff.

One module per feature, each with its commands (`commands`, merged into `cli` below)
and, for a group such as `frontdesk staff …`, its own Typer; `common.py` holds what they
share. The order below is the order `frontdesk --help` lists them. Every command reads
the settings first; a bad setting ends it with one line on stderr and exit status 2.
Nothing here prints a secret.
"""

from __future__ import annotations

import typer

from bot.cli import (
    announce,
    demo,
    fees,
    intent,
    ops,
    people,
    policy,
    privacy,
    reports,
    roster,
    run,
    wechat,
)

cli = typer.Typer(
    name="frontdesk",
    help="Front Desk (物业前台): a chat-bot front desk for residential property management.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for feature in (run, demo, roster, people, policy, fees, announce, intent, reports, wechat, ops):
    cli.add_typer(feature.commands)  # no name: its commands are `frontdesk`'s own
cli.add_typer(ops.db_cli, name="db")
cli.add_typer(people.staff_cli, name="staff")
cli.add_typer(privacy.resident_cli, name="resident")


def main() -> None:
    cli()
