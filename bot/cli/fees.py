"""`frontdesk paid`: a payment recorded at the office, the unit's residents told."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import community_by_code, fail, opened, read_settings, run_work

commands = typer.Typer()


@commands.command("paid")
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
    settings = read_settings()

    async def work() -> str:
        from dialogs.sending import send
        from handlers.directory import unit_by_label
        from handlers.fees import record_payment

        async with opened(settings) as app:
            async with app.db.transaction() as session:
                found = await community_by_code(session, community)
                target = await unit_by_label(session, found.id, unit)
                if target is None:
                    raise fail(f"--unit: no unit {unit!r} in {community}")
                now = app.clock.now()
                outcome = await record_payment(
                    session,
                    unit=target,
                    amount=value,
                    receipt=number,
                    actor="cli",
                    now=now,
                    tz=settings.tz,
                )
                if outcome.refusal == "ledger.error.day_closed":
                    raise fail(f"today's ledger in {community} is closed; nothing changed", code=1)
                if outcome.refusal is not None:
                    raise fail(f"receipt {number} is already recorded; nothing changed", code=1)
                # The residents are told in their language, after the quiet hours.
                await send(
                    session, outcome.notices, catalogs=app.catalogs, settings=settings, now=now
                )
                return (
                    f"payment recorded: {target.label}, {value} yuan, receipt {number}; "
                    f"months paid: {', '.join(outcome.months) or 'none'}; "
                    f"credit {outcome.credit}; {len(outcome.notices)} resident chats told"
                )

    typer.echo(run_work(work))
